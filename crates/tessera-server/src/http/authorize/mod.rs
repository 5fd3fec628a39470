//! `GET, POST /oauth/authorize` (RFC 6749 §4.1, OpenID Connect Core §3.1.2): the login page,
//! the consent page ("the user accepts the application"), and the redirect back to the client
//! with a code. Which comes next (`prompt`, `max_age`, remembered consent) is core's
//! `oidc::next_step`.
//!
//! The pages are plain server-rendered HTML forms. The authorization request travels in
//! hidden fields, so the endpoint keeps no per-request state; the signed-in user is a
//! database-backed session cookie, so any instance can serve any step.

pub(super) mod cookies;
pub(super) mod pages;

use super::client_address::ClientAddress;
use super::{ApiError, AppState};
use crate::service::authorization::SignIn;
use crate::service::pages::CheckedRequest;
use crate::service::{ServiceError, describe_wait};
use crate::store::{ClientRow, UserRow};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cookies::{Jar, Transport};
use std::collections::HashMap;
use std::time::Duration;
use tessera_core::authorize::{AuthorizationRequest, AuthorizeError};
use tessera_core::oidc::{NextStep, Session, next_step};
use tessera_core::request::collect_parameters;
use tessera_core::{Password, Timestamp};
use tessera_proto::ErrorCode;

/// A request that ends without the page it asked for.
#[derive(Debug)]
pub enum PageError {
    /// Told to the user on an error page (400); nothing is sent to the client, because the
    /// request could not be trusted or the form was not genuine.
    Refused(String),
    /// Sent back to the client's verified redirect URI as `error=…&state=…`
    /// (RFC 6749 §4.1.2.1), which includes the user's "Deny".
    Redirect { redirect_uri: String, state: Option<String>, code: ErrorCode, description: String },
    /// Not the user's fault: logged once and answered with an opaque 500, as on the API.
    Service(ServiceError),
}

impl From<ServiceError> for PageError {
    fn from(error: ServiceError) -> Self {
        PageError::Service(error)
    }
}

impl From<AuthorizeError> for PageError {
    fn from(error: AuthorizeError) -> Self {
        match error {
            AuthorizeError::Fatal(message) => PageError::Refused(message),
            AuthorizeError::Redirect { redirect_uri, state, code, description } => {
                PageError::Redirect { redirect_uri, state, code, description }
            }
        }
    }
}

impl PageError {
    /// The answer; a redirect names `issuer` (RFC 9207 §2), as successful responses do.
    pub(super) fn into_response(self, issuer: &str) -> Response {
        match self {
            PageError::Refused(message) => pages::error(&message),
            PageError::Redirect { redirect_uri, state, code, description } => redirect_to_client(
                &redirect_uri,
                issuer,
                vec![("error", code.as_str()), ("error_description", &description)],
                state.as_deref(),
            ),
            PageError::Service(error) => ApiError::from(error).into_response(),
        }
    }
}

/// A handler's result as the response.
fn respond(service: &AppState, result: Result<Response, PageError>) -> Response {
    result.unwrap_or_else(|error| error.into_response(service.issuer()))
}

/// An authorization request that passed its checks, with the parameters the forms carry along.
struct Checked {
    client: ClientRow,
    request: AuthorizationRequest,
    params: HashMap<String, String>,
}

/// A signed-in browser: its session cookie's value, its user, and when they signed in.
pub(super) struct Browser {
    pub session: String,
    pub user: UserRow,
    pub auth_time: Timestamp,
}

/// What the user decided on the consent page.
enum Decision {
    Approve,
    Deny,
}

/// `GET /oauth/authorize`: the login page, or the consent page for a signed-in browser.
pub async fn authorize_get(State(service): State<AppState>, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    let result = show(&service, &headers, query).await;
    respond(&service, result)
}

async fn show(service: &AppState, headers: &HeaderMap, query: Option<String>) -> Result<Response, PageError> {
    let params = parse_pairs(serde_urlencoded::from_str(query.as_deref().unwrap_or_default()))?;
    let checked = check_request(service, params).await?;
    let browser = signed_in(service, headers).await?;
    let session = match &browser {
        Some(browser) => Session::Existing { auth_time: browser.auth_time },
        None => Session::None,
    };
    proceed(service, headers, &checked, browser.as_ref(), session).await
}

/// The next step for this browser: the login page, the consent page, a code at once (consent
/// remembered), or under `prompt=none` the error that says which page it would have needed.
async fn proceed(
    service: &AppState,
    headers: &HeaderMap,
    checked: &Checked,
    browser: Option<&Browser>,
    session: Session,
) -> Result<Response, PageError> {
    let remembered = match browser {
        Some(browser) => service.remembered_consent(&browser.user.user_id, &checked.client.client_id).await?,
        None => None,
    };
    let request = &checked.request;
    let step = next_step(&request.openid, session, service.now(), remembered.as_ref(), &request.scope);
    match (step, browser) {
        (NextStep::Refuse(code), _) => Err(PageError::Redirect {
            redirect_uri: request.redirect_uri.clone(),
            state: request.state.clone(),
            code,
            description: match code {
                ErrorCode::LoginRequired => "the user must sign in".into(),
                _ => "the user must approve the request".into(),
            },
        }),
        (NextStep::Consent, Some(browser)) => Ok(consent_page(service, checked, &browser.user, &browser.session)),
        (NextStep::Issue, Some(browser)) => issue_code(service, request, browser).await,
        (NextStep::SignIn, _) | (NextStep::Consent | NextStep::Issue, None) => {
            login_page(service, headers, checked, None)
        }
    }
}

/// A code for the request, sent to the client's redirect URI.
async fn issue_code(
    service: &AppState,
    request: &AuthorizationRequest,
    browser: &Browser,
) -> Result<Response, PageError> {
    let code = service.issue_authorization_code(request, &browser.user, &browser.session, browser.auth_time).await?;
    let extra = vec![("code", code.as_str())];
    Ok(redirect_to_client(&request.redirect_uri, service.issuer(), extra, request.state.as_deref()))
}

/// `POST /oauth/authorize`: sign in, or approve / deny.
pub async fn authorize_post(
    State(service): State<AppState>,
    address: ClientAddress,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    // Too large, say: the same `413` and RFC body as the other OAuth endpoints.
    let body = match body {
        Ok(body) => body,
        Err(rejection) => return ApiError::Body(rejection).into_response(),
    };
    let result = submit(&service, &headers, &body, address).await;
    respond(&service, result)
}

async fn submit(
    service: &AppState,
    headers: &HeaderMap,
    body: &[u8],
    address: ClientAddress,
) -> Result<Response, PageError> {
    let form = parse_pairs(serde_urlencoded::from_bytes(body))?;
    let params: HashMap<String, String> = form
        .iter()
        .filter(|(name, _)| pages::REQUEST_FIELDS.contains(&name.as_str()))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    let checked = check_request(service, params).await?;
    match form.get("action").map(String::as_str) {
        Some("login") => sign_in(service, headers, &form, &checked, address).await,
        Some("approve") => decide(service, headers, &form, &checked, Decision::Approve).await,
        Some("deny") => decide(service, headers, &form, &checked, Decision::Deny).await,
        _ => Err(PageError::Refused("Unknown action.".into())),
    }
}

/// The login form: on success the consent page (or the code, if consent is remembered), with
/// the new session cookie.
async fn sign_in(
    service: &AppState,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
    checked: &Checked,
    ClientAddress(address): ClientAddress,
) -> Result<Response, PageError> {
    if !login_csrf_ok(service, headers, form) {
        return Err(PageError::Refused(
            "This sign-in form has expired or was not sent from this page; start again.".into(),
        ));
    }
    let username = form.get("username").map(String::as_str).unwrap_or_default();
    let password = Password::new(form.get("password").cloned().unwrap_or_default());
    match service.sign_in(username, password, address).await? {
        SignIn::SignedIn { session, user, auth_time } => {
            let browser = Browser { session, user, auth_time };
            let mut response = proceed(service, headers, checked, Some(&browser), Session::JustSignedIn).await?;
            cookies::set(&mut response, &cookies::session(&browser.session, transport(service)));
            Ok(response)
        }
        SignIn::Refused(message) => login_page(service, headers, checked, Some(message)),
        // The page says when to try again; the status and `Retry-After` say it to machines.
        SignIn::Throttled { retry_after } => {
            let message = format!("Too many failed sign-ins; try again in {}.", describe_wait(retry_after));
            let page = login_page(service, headers, checked, Some(&message))?;
            Ok(with_status(page, StatusCode::TOO_MANY_REQUESTS, retry_after))
        }
        SignIn::Busy => {
            let page = login_page(service, headers, checked, Some("The server is busy; try again in a moment."))?;
            Ok(with_status(page, StatusCode::SERVICE_UNAVAILABLE, Duration::from_secs(1)))
        }
    }
}

fn with_status(mut page: Response, status: StatusCode, retry_after: Duration) -> Response {
    *page.status_mut() = status;
    super::error::with_retry_after(page, retry_after)
}

/// The consent form: a code for the client, or `access_denied`.
async fn decide(
    service: &AppState,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
    checked: &Checked,
    decision: Decision,
) -> Result<Response, PageError> {
    let Some(browser) = signed_in(service, headers).await? else {
        return login_page(service, headers, checked, Some("Your session has ended; sign in again."));
    };
    let csrf = form.get("csrf").map(String::as_str).unwrap_or_default();
    if !service.csrf_token_matches(&browser.session, csrf) {
        return Err(PageError::Refused("This form has expired or was not sent from this page; start again.".into()));
    }
    let request = &checked.request;
    match decision {
        Decision::Deny => Err(PageError::Redirect {
            redirect_uri: request.redirect_uri.clone(),
            state: request.state.clone(),
            code: ErrorCode::AccessDenied,
            description: "the user denied the request".into(),
        }),
        Decision::Approve => {
            service.remember_consent(&browser.user.user_id, &request.client_id, &request.scope).await?;
            issue_code(service, request, &browser).await
        }
    }
}

/// The login page. Its form carries a CSRF token bound to the browser's login cookie, which is
/// set here if the browser has none yet.
fn login_page(
    service: &AppState,
    headers: &HeaderMap,
    checked: &Checked,
    error: Option<&str>,
) -> Result<Response, PageError> {
    let login = LoginForm::for_browser(service, headers)?;
    let hint = checked.request.openid.login_hint.as_deref();
    Ok(login.with_cookie(pages::login(&checked.client.name, &checked.params, &login.csrf, error, hint)))
}

/// The anti-CSRF token of a login form (the authorization endpoint's, the device page's, the
/// web pages'), and the login cookie it is bound to, which is set only if the browser has none.
pub(super) struct LoginForm {
    pub csrf: String,
    new_cookie: Option<cookie::Cookie<'static>>,
}

impl LoginForm {
    pub(super) fn for_browser(service: &AppState, headers: &HeaderMap) -> Result<LoginForm, ServiceError> {
        let transport = transport(service);
        let (nonce, new_cookie) = match cookies::read(headers, Jar::Login, transport) {
            Some(nonce) => (nonce, None),
            None => {
                let nonce = service.new_login_nonce()?;
                let cookie = cookies::login(&nonce, transport);
                (nonce, Some(cookie))
            }
        };
        Ok(LoginForm { csrf: service.login_csrf_token(&nonce), new_cookie })
    }

    /// `page` with the login cookie, if the browser needs one.
    pub(super) fn with_cookie(&self, mut page: Response) -> Response {
        if let Some(cookie) = &self.new_cookie {
            cookies::set(&mut page, cookie);
        }
        page
    }
}

/// Whether a login POST carries the CSRF token of this browser's login cookie.
fn login_csrf_ok(service: &AppState, headers: &HeaderMap, form: &HashMap<String, String>) -> bool {
    login_csrf_matches(service, headers, form.get("csrf").map(String::as_str))
}

/// Whether `presented` is the login form's CSRF token of this browser's login cookie.
pub(super) fn login_csrf_matches(service: &AppState, headers: &HeaderMap, presented: Option<&str>) -> bool {
    match (cookies::read(headers, Jar::Login, transport(service)), presented) {
        (Some(nonce), Some(presented)) => service.login_csrf_token_matches(&nonce, presented),
        _ => false,
    }
}

fn consent_page(service: &AppState, checked: &Checked, user: &UserRow, session: &str) -> Response {
    let csrf = service.csrf_token(session);
    pages::consent(&checked.client.name, &user.username, &checked.request.scope, &checked.params, &csrf)
}

/// `303 See Other` to the client's redirect URI with `extra`, the `state` and the issuer
/// (RFC 9207 §2, against mix-up attacks) appended to its query.
fn redirect_to_client(redirect_uri: &str, issuer: &str, extra: Vec<(&str, &str)>, state: Option<&str>) -> Response {
    let mut extra = with_state(extra, state);
    extra.push(("iss", issuer));
    let query = serde_urlencoded::to_string(&extra).unwrap_or_default();
    let separator = if redirect_uri.contains('?') { '&' } else { '?' };
    let location = format!("{redirect_uri}{separator}{query}");
    match HeaderValue::from_str(&location) {
        Ok(value) => {
            let mut response = StatusCode::SEE_OTHER.into_response();
            response.headers_mut().insert(header::LOCATION, value);
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(_) => pages::error("The redirect URI cannot be used."),
    }
}

fn with_state<'a>(mut extra: Vec<(&'a str, &'a str)>, state: Option<&'a str>) -> Vec<(&'a str, &'a str)> {
    if let Some(state) = state {
        extra.push(("state", state));
    }
    extra
}

/// Checks the request against its client.
async fn check_request(service: &AppState, params: HashMap<String, String>) -> Result<Checked, PageError> {
    match service.check_authorization_request(&params).await? {
        CheckedRequest::Valid { client, request } => Ok(Checked { client, request: *request, params }),
        CheckedRequest::Refused(refusal) => Err(refusal.into()),
    }
}

/// Whether the browser reaches us over HTTPS, as far as the cookies are concerned.
pub(super) fn transport(service: &AppState) -> Transport {
    if service.cookies_are_secure() { Transport::Https } else { Transport::Http }
}

/// The signed-in browser, if its session cookie names a live session.
pub(super) async fn signed_in(service: &AppState, headers: &HeaderMap) -> Result<Option<Browser>, PageError> {
    let Some(session) = cookies::read(headers, Jar::Session, transport(service)) else { return Ok(None) };
    let found = service.session_user(&session).await?;
    Ok(found.map(|(user, auth_time)| Browser { session, user, auth_time }))
}

fn parse_pairs(
    pairs: Result<Vec<(String, String)>, serde_urlencoded::de::Error>,
) -> Result<HashMap<String, String>, PageError> {
    let pairs = pairs.map_err(|_| PageError::Refused("The request is malformed.".into()))?;
    collect_parameters(pairs).map_err(|error| PageError::Refused(error.description))
}
