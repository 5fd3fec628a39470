//! `GET, POST /oauth/logout`, the end-session endpoint (OpenID Connect RP-Initiated Logout
//! 1.0): with a valid `id_token_hint` for the signed-in user it ends the browser session at
//! once; otherwise it asks the user on a confirmation page. Afterwards it redirects only to a
//! `post_logout_redirect_uri` registered for the client, with `state`. Which request gets
//! which answer is core's `oidc::logout::decide_logout`.

use super::super::AppState;
use super::super::authorize::cookies::{self, Transport};
use super::super::authorize::pages;
use super::super::authorize::{Browser, PageError, signed_in, transport};
use askama::Template;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use tessera_core::oidc::logout::{Hint, LogoutDecision, LogoutRequest, decide_logout, named_client};
use tessera_core::request::collect_parameters;
use tessera_proto::{ClientId, UserId};

/// The parameters the confirmation form carries along.
const LOGOUT_FIELDS: &[&str] = &["id_token_hint", "client_id", "post_logout_redirect_uri", "state"];

#[derive(Template)]
#[template(path = "oidc/logout.html")]
struct ConfirmPage<'a> {
    title: &'static str,
    username: &'a str,
    fields: Vec<(&'static str, &'a str)>,
    csrf: &'a str,
}

#[derive(Template)]
#[template(path = "oidc/logged_out.html")]
struct LoggedOutPage {
    title: &'static str,
}

pub async fn logout_get(State(service): State<AppState>, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    let pairs = serde_urlencoded::from_str(query.as_deref().unwrap_or_default());
    let result = end_session(&service, &headers, pairs, false).await;
    result.unwrap_or_else(|error| error.into_response(service.issuer()))
}

pub async fn logout_post(State(service): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let pairs = serde_urlencoded::from_bytes(&body);
    let result = end_session(&service, &headers, pairs, true).await;
    result.unwrap_or_else(|error| error.into_response(service.issuer()))
}

async fn end_session(
    service: &AppState,
    headers: &HeaderMap,
    pairs: Result<Vec<(String, String)>, serde_urlencoded::de::Error>,
    posted: bool,
) -> Result<Response, PageError> {
    let pairs = pairs.map_err(|_| PageError::Refused("The request is malformed.".into()))?;
    let params = collect_parameters(pairs).map_err(|error| PageError::Refused(error.description))?;
    let hint = match params.get("id_token_hint") {
        None => Hint::Absent,
        Some(token) => match service.keys().read_id_token_hint(token) {
            Some(claims) => Hint::Valid { client_id: ClientId::new(claims.aud), subject: UserId::new(claims.sub) },
            None => Hint::Invalid,
        },
    };
    let client_id = params.get("client_id").map(String::as_str);
    let registered = match named_client(&hint, client_id) {
        Ok(Some(named)) => service.post_logout_redirect_uris(&ClientId::new(named)).await?,
        _ => None,
    };
    let request = LogoutRequest {
        client_id,
        post_logout_redirect_uri: params.get("post_logout_redirect_uri").map(String::as_str),
        registered: registered.as_deref(),
    };
    let browser = signed_in(service, headers).await?;
    let state = params.get("state").map(String::as_str);
    match decide_logout(&hint, &request, browser.as_ref().map(|browser| &browser.user.user_id)) {
        LogoutDecision::Refuse(message) => Err(PageError::Refused(message.into())),
        LogoutDecision::LogOut { redirect } => log_out(service, browser.as_ref(), redirect.as_deref(), state).await,
        LogoutDecision::Confirm { redirect } => match &browser {
            Some(browser) if posted && confirmed(service, browser, &params) => {
                log_out(service, Some(browser), redirect.as_deref(), state).await
            }
            Some(browser) => Ok(confirm_page(service, browser, &params)),
            None => log_out(service, None, redirect.as_deref(), state).await,
        },
    }
}

/// Whether the confirmation form was sent from our page for this session: `action=logout`
/// and the form's CSRF token, HMAC of the session under its own label.
fn confirmed(service: &AppState, browser: &Browser, params: &HashMap<String, String>) -> bool {
    let presented = params.get("csrf").map(String::as_str).unwrap_or_default();
    params.get("action").is_some_and(|action| action == "logout")
        && service.csrf_token_matches(&format!("logout:{}", browser.session), presented)
}

fn confirm_page(service: &AppState, browser: &Browser, params: &HashMap<String, String>) -> Response {
    let csrf = service.csrf_token(&format!("logout:{}", browser.session));
    let fields =
        LOGOUT_FIELDS.iter().filter_map(|name| params.get(*name).map(|value| (*name, value.as_str()))).collect();
    let page = ConfirmPage { title: "Sign out?", username: &browser.user.username, fields, csrf: &csrf };
    pages::page(StatusCode::OK, &page)
}

/// Ends the session (if any), drops the cookie, and goes to `redirect` with `state`, or shows
/// that the user is signed out.
async fn log_out(
    service: &AppState,
    browser: Option<&Browser>,
    redirect: Option<&str>,
    state: Option<&str>,
) -> Result<Response, PageError> {
    if let Some(browser) = browser {
        service.end_session(&browser.session).await?;
    }
    let mut response = match redirect {
        Some(uri) => {
            let location = match state {
                Some(state) => {
                    let query = serde_urlencoded::to_string([("state", state)]).unwrap_or_default();
                    let separator = if uri.contains('?') { '&' } else { '?' };
                    format!("{uri}{separator}{query}")
                }
                None => uri.to_owned(),
            };
            let Ok(location) = HeaderValue::from_str(&location) else {
                return Err(PageError::Refused("The post-logout redirect URI cannot be used.".into()));
            };
            let mut response = StatusCode::SEE_OTHER.into_response();
            response.headers_mut().insert(header::LOCATION, location);
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        None => pages::page(StatusCode::OK, &LoggedOutPage { title: "Signed out" }),
    };
    let transport: Transport = transport(service);
    cookies::set(&mut response, &cookies::session_cleared(transport));
    Ok(response)
}
