//! What a console page shows when the server itself fails (the database, say).

use crate::http::web::{Chrome, message};
use crate::service::ServiceError;
use axum::http::StatusCode;
use axum::response::Response;

/// Logs `error` and answers 500 with a page that says nothing of it.
pub fn internal_error(chrome: Chrome, error: &ServiceError) -> Response {
    tracing::error!(%error, "a console page failed");
    message(StatusCode::INTERNAL_SERVER_ERROR, chrome, "Something went wrong on the server; it has been logged.")
}
