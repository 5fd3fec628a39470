//! `GET, POST /oauth/authorize` (RFC 6749 §4.1): the login page, the consent page ("the user
//! accepts the application"), and the redirect back to the client with a code.
//!
//! The pages are plain server-rendered HTML forms. The authorization request travels in
//! hidden fields, so the endpoint keeps no per-request state; the signed-in user is a
//! database-backed session cookie, so any instance can serve any step.
// Helpers here return `Err(response)` for "answer this instead"; the response is built once
// per request, so its size does not matter.
#![allow(clippy::result_large_err)]

use super::AppState;
use crate::service::ServiceError;
use crate::service::authorization::{SESSION_TTL, SignIn};
use crate::store::{ClientRow, UserRow};
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use std::collections::HashMap;
use tessera_core::Password;
use tessera_core::authorize::{AuthorizationRequest, AuthorizeError, ClientView};
use tessera_core::request::collect_parameters;

const SESSION_COOKIE: &str = "tessera_session";
/// A random value bound to the browser before sign-in; the login form must carry its HMAC.
/// Without it, a page elsewhere could post the login form with the attacker's credentials and
/// plant the attacker's session in the victim's browser (login CSRF). `SameSite=Lax` keeps the
/// cookie off cross-site POSTs, and the form field cannot be forged without reading the cookie.
const LOGIN_COOKIE: &str = "tessera_login";
/// The parameters of an authorization request that the forms carry along.
const REQUEST_FIELDS: &[&str] =
    &["response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge", "code_challenge_method"];

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A page with the headers every authorization page carries: never cached, never framed
/// (clickjacking on a consent button), no scripts at all.
fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title}</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:26rem;margin:4rem auto;padding:0 1rem;color:#222}}\
         label{{display:block;margin:.8rem 0 .2rem}}input{{width:100%;padding:.5rem;box-sizing:border-box}}\
         button{{margin:1rem .5rem 0 0;padding:.5rem 1.2rem}}#error{{color:#b00020}}ul{{padding-left:1.2rem}}</style>\
         </head><body><h1>{title}</h1>{body}</body></html>",
        title = escape(title)
    );
    let mut response = (status, Html(html)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

fn error_page(message: &str) -> Response {
    page(StatusCode::BAD_REQUEST, "Cannot continue", &format!("<p id=\"error\">{}</p>", escape(message)))
}

fn hidden_fields(params: &HashMap<String, String>) -> String {
    REQUEST_FIELDS
        .iter()
        .filter_map(|name| params.get(*name).map(|value| (name, value)))
        .map(|(name, value)| format!("<input type=\"hidden\" name=\"{name}\" value=\"{}\">", escape(value)))
        .collect()
}

/// The login page. Its form carries a CSRF token bound to the browser's login cookie, which is
/// set here if the browser has none yet.
fn login_page(
    service: &AppState,
    headers: &HeaderMap,
    client: &ClientRow,
    params: &HashMap<String, String>,
    error: Option<&str>,
) -> Response {
    let (login_nonce, new_cookie) = match cookie(headers, LOGIN_COOKIE) {
        Some(existing) => (existing, false),
        None => match crate::random::random_bytes::<32>() {
            Ok(bytes) => {
                use base64::Engine;
                (base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes), true)
            }
            Err(error) => return internal(ServiceError::from(error)),
        },
    };
    let csrf = service.csrf_token(&format!("login:{login_nonce}"));
    let mut response = login_form(client, params, error, &csrf);
    if new_cookie {
        let cookie =
            format!("{LOGIN_COOKIE}={login_nonce}; Path=/oauth/authorize; HttpOnly; SameSite=Lax{}", secure(service));
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

fn secure(service: &AppState) -> &'static str {
    if service.issuer().starts_with("https://") { "; Secure" } else { "" }
}

/// Whether a login POST carries the CSRF token of this browser's login cookie.
fn login_csrf_ok(service: &AppState, headers: &HeaderMap, form: &HashMap<String, String>) -> bool {
    match (cookie(headers, LOGIN_COOKIE), form.get("csrf")) {
        (Some(nonce), Some(presented)) => service.csrf_token_matches(&format!("login:{nonce}"), presented),
        _ => false,
    }
}

fn login_form(client: &ClientRow, params: &HashMap<String, String>, error: Option<&str>, csrf: &str) -> Response {
    let error = error.map(|message| format!("<p id=\"error\">{}</p>", escape(message))).unwrap_or_default();
    let body = format!(
        "<p><strong>{client}</strong> wants to use your account. Sign in to continue.</p>{error}\
         <form method=\"post\" action=\"authorize\">{hidden}<input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <label for=\"username\">Username</label><input id=\"username\" name=\"username\" autocomplete=\"username\" required autofocus>\
         <label for=\"password\">Password</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
         <button id=\"login\" type=\"submit\" name=\"action\" value=\"login\">Sign in</button></form>",
        client = escape(&client.name),
        hidden = hidden_fields(params),
        csrf = escape(csrf),
    );
    page(if error.is_empty() { StatusCode::OK } else { StatusCode::UNAUTHORIZED }, "Sign in", &body)
}

fn consent_page(
    client: &ClientRow,
    request: &AuthorizationRequest,
    params: &HashMap<String, String>,
    user: &UserRow,
    csrf: &str,
) -> Response {
    let scopes: String = if request.scope.is_empty() {
        "<li>your basic profile</li>".into()
    } else {
        request.scope.iter().map(|scope| format!("<li>{}</li>", escape(scope))).collect()
    };
    let body = format!(
        "<p>Signed in as <strong id=\"username\">{user}</strong>.</p>\
         <p><strong id=\"client\">{client}</strong> asks for access to:</p><ul id=\"scopes\">{scopes}</ul>\
         <form method=\"post\" action=\"authorize\">{hidden}<input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <button id=\"approve\" type=\"submit\" name=\"action\" value=\"approve\">Allow</button>\
         <button id=\"deny\" type=\"submit\" name=\"action\" value=\"deny\">Deny</button></form>",
        user = escape(&user.username),
        client = escape(&client.name),
        hidden = hidden_fields(params),
        csrf = escape(csrf),
    );
    page(StatusCode::OK, "Allow access?", &body)
}

/// `303 See Other` to the client's redirect URI with `extra` appended to its query.
fn redirect_to_client(redirect_uri: &str, extra: &[(&str, &str)]) -> Response {
    let query = serde_urlencoded::to_string(extra).unwrap_or_default();
    let separator = if redirect_uri.contains('?') { '&' } else { '?' };
    let location = format!("{redirect_uri}{separator}{query}");
    match HeaderValue::from_str(&location) {
        Ok(value) => {
            let mut response = StatusCode::SEE_OTHER.into_response();
            response.headers_mut().insert(header::LOCATION, value);
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(_) => error_page("The redirect URI cannot be used."),
    }
}

fn with_state<'a>(mut extra: Vec<(&'a str, &'a str)>, state: Option<&'a str>) -> Vec<(&'a str, &'a str)> {
    if let Some(state) = state {
        extra.push(("state", state));
    }
    extra
}

fn internal(error: ServiceError) -> Response {
    super::ApiError::from(error).into_response()
}

/// Checks the request against its client; `Err` is the response to send instead.
async fn check_request(
    service: &AppState,
    params: &HashMap<String, String>,
) -> Result<(ClientRow, AuthorizationRequest), Response> {
    let client = match params.get("client_id") {
        Some(client_id) => service.find_client(&client_id.as_str().into()).await.map_err(internal)?,
        None => None,
    };
    let view = client.as_ref().map(|client| ClientView {
        client_id: &client.client_id,
        redirect_uris: &client.redirect_uris,
        allows_authorization_code: client.allows_grant(tessera_core::GrantType::AuthorizationCode),
        is_public: client.is_public(),
        scope: &client.scope,
    });
    match AuthorizationRequest::parse(params, view.as_ref()) {
        Ok(request) => match client {
            Some(client) => Ok((client, request)),
            None => Err(error_page("The application is not registered.")),
        },
        Err(AuthorizeError::Fatal(message)) => Err(error_page(&message)),
        Err(AuthorizeError::Redirect { redirect_uri, state, code, description }) => Err(redirect_to_client(
            &redirect_uri,
            &with_state(vec![("error", code.as_str()), ("error_description", &description)], state.as_deref()),
        )),
    }
}

fn cookie(headers: &HeaderMap, wanted: &str) -> Option<String> {
    headers.get_all(header::COOKIE).iter().filter_map(|value| value.to_str().ok()).find_map(|value| {
        value.split(';').find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == wanted && !value.is_empty()).then(|| value.to_owned())
        })
    })
}

async fn signed_in(service: &AppState, headers: &HeaderMap) -> Result<Option<(String, UserRow)>, Response> {
    let Some(session) = cookie(headers, SESSION_COOKIE) else { return Ok(None) };
    let user = service.session_user(&session).await.map_err(internal)?;
    Ok(user.map(|user| (session, user)))
}

fn parse_pairs(
    pairs: Result<Vec<(String, String)>, serde_urlencoded::de::Error>,
) -> Result<HashMap<String, String>, Response> {
    let pairs = pairs.map_err(|_| error_page("The request is malformed."))?;
    collect_parameters(pairs).map_err(|error| error_page(&error.description))
}

/// `GET /oauth/authorize`: the login page, or the consent page for a signed-in browser.
pub async fn authorize_get(State(service): State<AppState>, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    let params = match parse_pairs(serde_urlencoded::from_str(query.as_deref().unwrap_or_default())) {
        Ok(params) => params,
        Err(response) => return response,
    };
    let (client, request) = match check_request(&service, &params).await {
        Ok(checked) => checked,
        Err(response) => return response,
    };
    match signed_in(&service, &headers).await {
        Ok(Some((session, user))) => consent_page(&client, &request, &params, &user, &service.csrf_token(&session)),
        Ok(None) => login_page(&service, &headers, &client, &params, None),
        Err(response) => response,
    }
}

/// `POST /oauth/authorize`: sign in, or approve / deny.
pub async fn authorize_post(State(service): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let form = match parse_pairs(serde_urlencoded::from_bytes(&body)) {
        Ok(form) => form,
        Err(response) => return response,
    };
    let params: HashMap<String, String> = form
        .iter()
        .filter(|(name, _)| REQUEST_FIELDS.contains(&name.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let (client, request) = match check_request(&service, &params).await {
        Ok(checked) => checked,
        Err(response) => return response,
    };
    match form.get("action").map(String::as_str) {
        Some("login") => {
            if !login_csrf_ok(&service, &headers, &form) {
                return error_page("This sign-in form has expired or was not sent from this page; start again.");
            }
            let username = form.get("username").map(String::as_str).unwrap_or_default();
            let password = Password::new(form.get("password").cloned().unwrap_or_default());
            match service.sign_in(username, password).await {
                Ok(SignIn::SignedIn { session, user }) => {
                    let mut response = consent_page(&client, &request, &params, &user, &service.csrf_token(&session));
                    let cookie = format!(
                        "{SESSION_COOKIE}={session}; Path=/oauth/authorize; HttpOnly; SameSite=Lax; Max-Age={}{}",
                        SESSION_TTL.as_secs(),
                        secure(&service)
                    );
                    if let Ok(value) = HeaderValue::from_str(&cookie) {
                        response.headers_mut().insert(header::SET_COOKIE, value);
                    }
                    response
                }
                Ok(SignIn::Refused(message)) => login_page(&service, &headers, &client, &params, Some(message)),
                Err(error) => internal(error),
            }
        }
        Some(action @ ("approve" | "deny")) => {
            let (session, user) = match signed_in(&service, &headers).await {
                Ok(Some(signed_in)) => signed_in,
                Ok(None) => {
                    return login_page(
                        &service,
                        &headers,
                        &client,
                        &params,
                        Some("Your session has ended; sign in again."),
                    );
                }
                Err(response) => return response,
            };
            let csrf = form.get("csrf").map(String::as_str).unwrap_or_default();
            if !service.csrf_token_matches(&session, csrf) {
                return error_page("This form has expired or was not sent from this page; start again.");
            }
            if action == "deny" {
                let extra = vec![("error", "access_denied"), ("error_description", "the user denied the request")];
                return redirect_to_client(&request.redirect_uri, &with_state(extra, request.state.as_deref()));
            }
            match service.issue_authorization_code(&request, &user).await {
                Ok(code) => redirect_to_client(
                    &request.redirect_uri,
                    &with_state(vec![("code", &code)], request.state.as_deref()),
                ),
                Err(error) => internal(error),
            }
        }
        _ => error_page("Unknown action."),
    }
}
