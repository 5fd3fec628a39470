//! The web pages for people, beside the OAuth endpoints: a sign-in page of their own
//! (`/login`, the authorization endpoint's login, throttle and session), the admin console
//! (`/console`, admins only) and the account page (`/account`, any signed-in user).
//!
//! Server-rendered HTML forms that work without JavaScript. Every page carries a strict CSP
//! (`render`): scripts and styles only from `/static/` on this server, nothing inline, never
//! framed. Every form carries the session's anti-CSRF token and every POST checks it and the
//! visitor's rights again (`gate`). Nothing here keeps per-request state.

pub mod gate;
mod login;
pub mod render;
pub mod timefmt;

pub use gate::{Admin, Form, Gate, SignedIn, Visitor};
pub use render::{Chrome, Section, message, page, redirect};

use super::AppState;
use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// The stylesheet and the one script (the console's copy buttons), served from the binary.
const STYLESHEET: &str = include_str!("../../../static/tessera.css");
const SCRIPT: &str = include_str!("../../../static/tessera.js");

/// The routes of this module; the console's and the account page's are merged in by theirs.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/login", get(login::login_get).post(login::login_post))
        .route("/logout", axum::routing::post(login::logout_post))
        .route("/static/tessera.css", get(|| async { asset("text/css; charset=utf-8", STYLESHEET) }))
        .route("/static/tessera.js", get(|| async { asset("text/javascript; charset=utf-8", SCRIPT) }))
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}
