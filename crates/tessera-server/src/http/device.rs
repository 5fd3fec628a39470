//! The device authorization grant's endpoints (RFC 8628): `POST /oauth/device_authorization`
//! (§3.1–3.2) and the verification page `/oauth/device` (§3.3), where the user signs in with
//! the authorization endpoint's login (its session cookie, login CSRF and password throttle),
//! enters or confirms the user code, and approves or denies. Plain HTML forms, no script, no
//! per-request state: the code rides in a hidden field and is checked again on every step.

use super::authorize::{self, cookies, pages};
use super::client_address::ClientAddress;
use super::params::OAuthParameters;
use super::{ApiError, AppState};
use crate::service::authorization::SignIn;
use crate::service::device::{PendingDevice, UserCodeCheck};
use crate::service::{ServiceError, describe_wait};
use askama::Template;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;
use tessera_core::request::{client_credentials, collect_parameters};
use tessera_core::{Password, Scope};
use tessera_proto::{DeviceAuthorizationResponse, ErrorCode};

/// `POST /oauth/device_authorization`: a device code and a user code for an authenticated
/// client registered for the device grant.
pub async fn device_authorization(
    State(service): State<AppState>,
    OAuthParameters { basic, parameters, attempted }: OAuthParameters,
) -> Result<Json<DeviceAuthorizationResponse>, ApiError> {
    let credentials =
        client_credentials(basic, &parameters).map_err(|error| ApiError::from_request(error, attempted))?;
    let scope = match parameters.get("scope") {
        Some(text) => Some(Scope::parse(text).map_err(|_| ApiError::OAuth {
            code: ErrorCode::InvalidScope,
            description: "the scope is malformed".into(),
        })?),
        None => None,
    };
    let issued = service.device_authorization(&credentials, scope.as_ref()).await?;
    let verification_uri = format!("{}/oauth/device", service.issuer());
    let shown = issued.user_code.display();
    Ok(Json(DeviceAuthorizationResponse {
        device_code: issued.device_code,
        verification_uri_complete: format!("{verification_uri}?user_code={shown}"),
        verification_uri,
        user_code: shown,
        expires_in: issued.expires_in.as_secs(),
        interval: issued.interval.as_secs(),
    }))
}

#[derive(Template)]
#[template(path = "device/login.html")]
struct LoginPage<'a> {
    title: &'static str,
    error: Option<&'a str>,
    user_code: &'a str,
    csrf: &'a str,
}

#[derive(Template)]
#[template(path = "device/enter.html")]
struct EnterPage<'a> {
    title: &'static str,
    username: &'a str,
    error: Option<&'a str>,
    user_code: &'a str,
    csrf: &'a str,
}

#[derive(Template)]
#[template(path = "device/confirm.html")]
struct ConfirmPage<'a> {
    title: &'static str,
    username: &'a str,
    user_code: &'a str,
    client_name: &'a str,
    scopes: Vec<&'a str>,
    csrf: &'a str,
}

#[derive(Template)]
#[template(path = "device/done.html")]
struct DonePage<'a> {
    title: &'static str,
    message: &'a str,
}

/// `GET /oauth/device[?user_code=…]`: the login page, or the code (entered or confirmed).
pub async fn verification_get(State(service): State<AppState>, request: Request) -> Response {
    let headers = request.headers().clone();
    let query = request.uri().query().unwrap_or_default().to_owned();
    let result = async {
        let params = parse(serde_urlencoded::from_str(&query))?;
        let typed = params.get("user_code").map(String::as_str).unwrap_or_default();
        match authorize::signed_in(&service, &headers).await.map_err(page_error)? {
            None => login_page(&service, &headers, typed, None),
            // The code in a `verification_uri_complete` is shown for the user to compare with
            // the device's screen; it is looked up (and counted) when they continue.
            Some(browser) => Ok(enter_page(&service, &browser, typed, None)),
        }
    }
    .await;
    result.unwrap_or_else(|error| error.respond())
}

/// `POST /oauth/device`: sign in, look a code up, approve or deny.
pub async fn verification_post(
    State(service): State<AppState>,
    ClientAddress(address): ClientAddress,
    request: Request,
) -> Response {
    let headers = request.headers().clone();
    let body = match Bytes::from_request(request, &()).await {
        Ok(body) => body,
        Err(rejection) => return ApiError::Body(rejection).into_response(),
    };
    let result = submit(&service, &headers, &body, address).await;
    result.unwrap_or_else(|error| error.respond())
}

async fn submit(service: &AppState, headers: &HeaderMap, body: &[u8], address: IpAddr) -> Result<Response, Refusal> {
    let form = parse(serde_urlencoded::from_bytes(body))?;
    let typed = form.get("user_code").map(String::as_str).unwrap_or_default();
    let action = form.get("action").map(String::as_str);
    if action == Some("login") {
        return sign_in(service, headers, &form, typed, address).await;
    }
    let Some(browser) = authorize::signed_in(service, headers).await.map_err(page_error)? else {
        return login_page(service, headers, typed, Some("Your session has ended; sign in again."));
    };
    let csrf = form.get("csrf").map(String::as_str).unwrap_or_default();
    if !service.csrf_token_matches(&browser.session, csrf) {
        return Err(Refusal::Page("This form has expired or was not sent from this page; start again.".into()));
    }
    let approve = match action {
        Some("lookup") => None,
        Some("approve") => Some(true),
        Some("deny") => Some(false),
        _ => return Err(Refusal::Page("Unknown action.".into())),
    };
    // Every step checks (and counts) the code again: a forged approval is one more guess.
    let device = match service.check_user_code(typed, &browser.user, Some(address)).await? {
        UserCodeCheck::Found(device) => device,
        UserCodeCheck::Wrong => {
            let message = "That code is unknown or has expired. Check the code on your device.";
            return Ok(with_status(StatusCode::BAD_REQUEST, enter_page(service, &browser, typed, Some(message))));
        }
        UserCodeCheck::Throttled => {
            let message = "Too many wrong codes; try again in 15 minutes.";
            return Ok(with_status(StatusCode::TOO_MANY_REQUESTS, enter_page(service, &browser, "", Some(message))));
        }
    };
    let Some(approve) = approve else { return Ok(confirm_page(service, &browser, &device)) };
    let decided =
        service.decide_device(&device.user_code, &browser.user, &browser.session, browser.auth_time, approve).await?;
    let message = match (decided, approve) {
        (false, _) => "This code was answered already or has expired.",
        (true, true) => "Your device is connected. You can close this page and return to it.",
        (true, false) => "Access denied. Your device will not be connected.",
    };
    Ok(pages::page(StatusCode::OK, &DonePage { title: "Device", message }))
}

async fn sign_in(
    service: &AppState,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
    typed: &str,
    address: IpAddr,
) -> Result<Response, Refusal> {
    if !authorize::login_csrf_matches(service, headers, form.get("csrf").map(String::as_str)) {
        return Err(Refusal::Page("This sign-in form has expired or was not sent from this page; start again.".into()));
    }
    let username = form.get("username").map(String::as_str).unwrap_or_default();
    let password = Password::new(form.get("password").cloned().unwrap_or_default());
    match service.sign_in(username, password, address).await? {
        SignIn::SignedIn { session, user, auth_time } => {
            let browser = authorize::Browser { session, user, auth_time };
            let mut response = enter_page(service, &browser, typed, None);
            cookies::set(&mut response, &cookies::session(&browser.session, authorize::transport(service)));
            Ok(response)
        }
        SignIn::Refused(message) => login_page(service, headers, typed, Some(message)),
        SignIn::Throttled { retry_after } => {
            let message = format!("Too many failed sign-ins; try again in {}.", describe_wait(retry_after));
            let page = login_page(service, headers, typed, Some(&message))?;
            Ok(retry_later(page, StatusCode::TOO_MANY_REQUESTS, retry_after))
        }
        SignIn::Busy => {
            let page = login_page(service, headers, typed, Some("The server is busy; try again in a moment."))?;
            Ok(retry_later(page, StatusCode::SERVICE_UNAVAILABLE, Duration::from_secs(1)))
        }
    }
}

/// A login page refused for now: its status and when to come back (the sign-in throttle's).
fn retry_later(page: Response, status: StatusCode, retry_after: Duration) -> Response {
    let mut page = with_status(status, page);
    page.headers_mut().insert(RETRY_AFTER, HeaderValue::from(retry_after.as_secs().max(1)));
    page
}

fn login_page(service: &AppState, headers: &HeaderMap, typed: &str, error: Option<&str>) -> Result<Response, Refusal> {
    let login = authorize::LoginForm::for_browser(service, headers)?;
    let status = if error.is_some() { StatusCode::UNAUTHORIZED } else { StatusCode::OK };
    let page = LoginPage { title: "Connect a device", error, user_code: typed, csrf: &login.csrf };
    Ok(login.with_cookie(pages::page(status, &page)))
}

fn enter_page(service: &AppState, browser: &authorize::Browser, typed: &str, error: Option<&str>) -> Response {
    let csrf = service.csrf_token(&browser.session);
    let page =
        EnterPage { title: "Connect a device", username: &browser.user.username, error, user_code: typed, csrf: &csrf };
    pages::page(StatusCode::OK, &page)
}

fn confirm_page(service: &AppState, browser: &authorize::Browser, device: &PendingDevice) -> Response {
    let csrf = service.csrf_token(&browser.session);
    let shown = device.user_code.display();
    let page = ConfirmPage {
        title: "Allow access?",
        username: &browser.user.username,
        user_code: &shown,
        client_name: &device.client_name,
        scopes: device.scope.iter().collect(),
        csrf: &csrf,
    };
    pages::page(StatusCode::OK, &page)
}

fn with_status(status: StatusCode, mut response: Response) -> Response {
    *response.status_mut() = status;
    response
}

/// A verification request that ends on an error page.
enum Refusal {
    Page(String),
    Service(ServiceError),
}

impl From<ServiceError> for Refusal {
    fn from(error: ServiceError) -> Self {
        Refusal::Service(error)
    }
}

fn page_error(error: authorize::PageError) -> Refusal {
    match error {
        authorize::PageError::Service(error) => Refusal::Service(error),
        authorize::PageError::Refused(message) => Refusal::Page(message),
        authorize::PageError::Redirect { description, .. } => Refusal::Page(description),
    }
}

impl Refusal {
    fn respond(self) -> Response {
        match self {
            Refusal::Page(message) => pages::error(&message),
            Refusal::Service(error) => ApiError::from(error).into_response(),
        }
    }
}

fn parse(
    pairs: Result<Vec<(String, String)>, serde_urlencoded::de::Error>,
) -> Result<HashMap<String, String>, Refusal> {
    let pairs = pairs.map_err(|_| Refusal::Page("The request is malformed.".into()))?;
    collect_parameters(pairs).map_err(|error| Refusal::Page(error.description))
}
