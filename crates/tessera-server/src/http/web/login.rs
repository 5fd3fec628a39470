//! `/login` and `/logout` for the web pages: the authorization endpoint's sign-in (the same
//! password check, throttle, login-CSRF cookie and session cookie) without an authorization
//! request, then back to the page the visitor asked for (`return_to`, a path of this server).

use super::gate::{Form, SignedIn};
use super::render::{Chrome, page, redirect};
use crate::http::authorize::{self, cookies};
use crate::http::client_address::ClientAddress;
use crate::http::{ApiError, AppState};
use crate::service::authorization::SignIn;
use crate::service::describe_wait;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::time::Duration;
use tessera_core::Password;

#[derive(Template)]
#[template(path = "web/login.html")]
struct LoginPage<'a> {
    chrome: Chrome,
    error: Option<&'a str>,
    return_to: &'a str,
    login_csrf: &'a str,
    username: &'a str,
}

/// Where to go after signing in: a path of this server, never another site (`//host`,
/// `/\host` and absolute URLs would be open redirects). Anything else goes to `/account`.
fn local_path(return_to: Option<&str>) -> &str {
    match return_to {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.starts_with("/\\")
                && !path.chars().any(char::is_control) =>
        {
            path
        }
        _ => "/account",
    }
}

/// `GET /login?return_to=…`: the sign-in form, or straight back for a signed-in browser.
pub async fn login_get(State(service): State<AppState>, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    let params: HashMap<String, String> =
        serde_urlencoded::from_str(query.as_deref().unwrap_or_default()).unwrap_or_default();
    let return_to = local_path(params.get("return_to").map(String::as_str));
    match authorize::signed_in(&service, &headers).await {
        Ok(Some(_)) => redirect(return_to),
        Ok(None) => login_page(&service, &headers, return_to, "", None, StatusCode::OK),
        Err(error) => error.into_response(service.issuer()),
    }
}

/// `POST /login`: sign in and go back, or the form again with the reason.
pub async fn login_post(
    State(service): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form: HashMap<String, String> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    let return_to = local_path(form.get("return_to").map(String::as_str));
    let transport = authorize::transport(&service);
    let username = field("username");
    if !authorize::login_csrf_matches(&service, &headers, Some(field("csrf"))) {
        let error = Some("This sign-in form has expired or was not sent from this page; try again.");
        return login_page(&service, &headers, return_to, username, error, StatusCode::FORBIDDEN);
    }
    let password = Password::new(form.get("password").cloned().unwrap_or_default());
    let signed_in = match service.sign_in(username, password, address).await {
        Ok(signed_in) => signed_in,
        Err(error) => return ApiError::from(error).into_response(),
    };
    match signed_in {
        SignIn::SignedIn { session, .. } => {
            let mut response = redirect(return_to);
            cookies::set(&mut response, &cookies::session(&session, transport));
            response
        }
        SignIn::Refused(reason) => {
            login_page(&service, &headers, return_to, username, Some(reason), StatusCode::UNAUTHORIZED)
        }
        SignIn::Throttled { retry_after } => {
            let reason = format!("Too many failed sign-ins; try again in {}.", describe_wait(retry_after));
            let page =
                login_page(&service, &headers, return_to, username, Some(&reason), StatusCode::TOO_MANY_REQUESTS);
            crate::http::error::with_retry_after(page, retry_after)
        }
        SignIn::Busy => {
            let reason = Some("The server is busy; try again in a moment.");
            let page = login_page(&service, &headers, return_to, username, reason, StatusCode::SERVICE_UNAVAILABLE);
            crate::http::error::with_retry_after(page, Duration::from_secs(1))
        }
    }
}

/// `POST /logout`: ends the browser session (a form with the session's anti-CSRF token, so no
/// other site can sign the visitor out).
pub async fn logout_post(State(service): State<AppState>, SignedIn(visitor): SignedIn, _form: Form) -> Response {
    if let Err(error) = service.end_session(&visitor.session).await {
        return ApiError::from(error).into_response();
    }
    let mut response = redirect("/login");
    cookies::set(&mut response, &cookies::session_cleared(authorize::transport(&service)));
    response
}

fn login_page(
    service: &AppState,
    headers: &HeaderMap,
    return_to: &str,
    username: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let login = match authorize::LoginForm::for_browser(service, headers) {
        Ok(login) => login,
        Err(error) => return ApiError::from(error).into_response(),
    };
    let chrome = Chrome::anonymous("Sign in");
    login.with_cookie(page(status, &LoginPage { chrome, error, return_to, login_csrf: &login.csrf, username }))
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        for (asked, went) in [
            (Some("/console/clients?q=a"), "/console/clients?q=a"),
            (Some("/account"), "/account"),
            (Some("//evil.example/x"), "/account"),
            (Some("/\\evil.example"), "/account"),
            (Some("https://evil.example/"), "/account"),
            (Some("/console\r\nSet-Cookie: x"), "/account"),
            (Some(""), "/account"),
            (None, "/account"),
        ] {
            assert_eq!(local_path(asked), went, "{asked:?}");
        }
    }
}
