//! `GET /console`: the console's first page.

use crate::http::web::{Admin, Chrome, Section, page};
use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;

#[derive(Template)]
#[template(path = "console/overview.html")]
struct OverviewPage {
    chrome: Chrome,
}

pub async fn show(Admin(visitor): Admin) -> Response {
    page(StatusCode::OK, &OverviewPage { chrome: visitor.chrome("Overview", Section::Overview) })
}
