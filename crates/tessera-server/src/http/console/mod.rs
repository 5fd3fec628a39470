//! The admin console, `/console`: server-rendered pages for the people who run Tessera.
//! Every handler takes [`Admin`](super::web::Admin) (signed in, admin flag; checked again on
//! every request) and every POST a [`Form`](super::web::Form) (the session's anti-CSRF token).
//! Each section lives in its own module and adds its routes here.

mod audit;
mod chart;
mod clients;
mod fields;
mod keys;
mod overview;
mod sessions;
mod users;

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
        .route("/console/clients", get(clients::list).post(clients::create))
        .route("/console/clients/new", get(clients::new))
        .route("/console/clients/{id}", get(clients::show).post(clients::update))
        .route("/console/clients/{id}/rotate", post(clients::rotate))
        .route("/console/clients/{id}/delete", get(clients::confirm_delete).post(clients::delete))
        .route("/console/users", get(users::list).post(users::create))
        .route("/console/users/new", get(users::new))
        .route("/console/users/{id}", get(users::show))
        .route("/console/users/{id}/password", post(users::set_password))
        .route("/console/users/{id}/admin", post(users::set_admin))
        .route("/console/users/{id}/disabled", post(users::set_disabled))
        .route("/console/users/{id}/throttle", post(users::clear_throttle))
        .route("/console/sessions", get(sessions::list))
        .route("/console/sessions/families/{id}/revoke", post(sessions::revoke_family))
        .route("/console/sessions/browser/{id}/end", post(sessions::end_session))
}
