//! The admin console, `/console`: server-rendered pages for the people who run Tessera.
//! Every handler takes [`Admin`](super::web::Admin) (signed in, admin flag; checked again on
//! every request) and every POST a [`Form`](super::web::Form) (the session's anti-CSRF token).
//! Each section lives in its own module and adds its routes here.

mod audit;
mod chart;
mod failure;
mod keys;
mod overview;
mod timefmt;

use super::AppState;
use axum::Router;
use axum::routing::{get, post};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console", get(overview::show))
        .route("/console/keys", get(keys::show))
        .route("/console/keys/rotate", post(keys::rotate))
        .route("/console/keys/revoke", post(keys::revoke))
        .route("/console/audit", get(audit::show))
}
