//! The authorization endpoint's HTML pages: login, consent and error, rendered from the askama
//! templates under `templates/authorize/` (which escape every value they print), each with the
//! headers that keep it uncached, unframed and free of scripts.

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;
use std::collections::HashMap;
use tessera_core::Scope;

/// The parameters of an authorization request that the forms carry along.
pub const REQUEST_FIELDS: &[&str] = &[
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    // RFC 9449 §10.
    "dpop_jkt",
    // OpenID Connect Core §3.1.2.1.
    "nonce",
    "prompt",
    "max_age",
    "login_hint",
];

/// The request's parameters as hidden fields, in [`REQUEST_FIELDS`] order.
fn request_fields(params: &HashMap<String, String>) -> Vec<(&'static str, &str)> {
    REQUEST_FIELDS.iter().filter_map(|name| params.get(*name).map(|value| (*name, value.as_str()))).collect()
}

#[derive(Template)]
#[template(path = "authorize/login.html")]
struct LoginPage<'a> {
    title: &'static str,
    client_name: &'a str,
    error: Option<&'a str>,
    fields: Vec<(&'static str, &'a str)>,
    csrf: &'a str,
    /// OpenID Connect `login_hint`: pre-fills the username.
    username: &'a str,
}

#[derive(Template)]
#[template(path = "authorize/consent.html")]
struct ConsentPage<'a> {
    title: &'static str,
    username: &'a str,
    client_name: &'a str,
    /// Empty: the page says "your basic profile".
    scopes: Vec<&'a str>,
    fields: Vec<(&'static str, &'a str)>,
    csrf: &'a str,
}

#[derive(Template)]
#[template(path = "authorize/error.html")]
struct ErrorPage<'a> {
    title: &'static str,
    message: &'a str,
}

/// The login page: 200, or 401 when it comes back with an error.
pub fn login(
    client_name: &str,
    params: &HashMap<String, String>,
    csrf: &str,
    error: Option<&str>,
    login_hint: Option<&str>,
) -> Response {
    let status = if error.is_some() { StatusCode::UNAUTHORIZED } else { StatusCode::OK };
    let username = login_hint.unwrap_or_default();
    render(status, &LoginPage { title: "Sign in", client_name, error, fields: request_fields(params), csrf, username })
}

/// The consent page ("the user accepts the application").
pub fn consent(
    client_name: &str,
    username: &str,
    scope: &Scope,
    params: &HashMap<String, String>,
    csrf: &str,
) -> Response {
    let page = ConsentPage {
        title: "Allow access?",
        username,
        client_name,
        scopes: scope.iter().collect(),
        fields: request_fields(params),
        csrf,
    };
    render(StatusCode::OK, &page)
}

/// A 400 page that tells the user why the request cannot go on.
pub fn error(message: &str) -> Response {
    render(StatusCode::BAD_REQUEST, &ErrorPage { title: "Cannot continue", message })
}

/// A page of the end-session endpoint (`http/oidc`), with the same headers as these.
pub fn page(status: StatusCode, page: &impl Template) -> Response {
    render(status, page)
}

/// A page with the headers every authorization page carries: never cached, never framed
/// (clickjacking on a consent button), no scripts at all.
fn render(status: StatusCode, page: &impl Template) -> Response {
    crate::http::web::render::html_page(
        status,
        page,
        "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
    )
}
