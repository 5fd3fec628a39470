//! Who may see a web page, and whether a form is genuine. [`Admin`] and [`SignedIn`] are
//! extractors: an anonymous visitor is sent to `/login` and back; a signed-in user who is not
//! an admin gets 403 from [`Admin`]. [`Form`] reads a POST body and refuses it (403) unless it
//! carries the anti-CSRF token of the visitor's session — so every action checks both the
//! visitor's rights and the form's origin again, whatever page it came from.

use super::render::{Chrome, Section, message, redirect};
use crate::http::AppState;
use crate::http::authorize::{self, cookies};
use crate::http::client_address::ClientAddress;
use crate::store::UserRow;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use std::net::IpAddr;
use tessera_core::Timestamp;

/// Which visitors a page admits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Any signed-in user (the account page).
    SignedIn,
    /// Signed-in users with the admin flag (the console).
    Admin,
}

/// A signed-in visitor who passed the gate.
pub struct Visitor {
    /// The session cookie's value (a secret: never rendered, only its HMAC is).
    pub session: String,
    pub user: UserRow,
    pub auth_time: Timestamp,
    /// Where the request came from (the trusted-proxy rule applied), for the audit log.
    pub address: IpAddr,
    /// The anti-CSRF token the page's forms carry.
    pub csrf: String,
}

impl Visitor {
    /// The frame of a page this visitor sees.
    pub fn chrome(&self, title: &str, section: Section) -> Chrome {
        Chrome {
            title: title.to_owned(),
            section,
            username: self.user.username.clone(),
            is_admin: self.user.is_admin,
            csrf: self.csrf.clone(),
        }
    }
}

/// A visitor with the admin flag: the console's extractor.
pub struct Admin(pub Visitor);

/// Any signed-in visitor: the account page's extractor.
pub struct SignedIn(pub Visitor);

impl FromRequestParts<AppState> for Admin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, service: &AppState) -> Result<Self, Self::Rejection> {
        visit(parts, service, Gate::Admin).await.map(Admin)
    }
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, service: &AppState) -> Result<Self, Self::Rejection> {
        visit(parts, service, Gate::SignedIn).await.map(SignedIn)
    }
}

async fn visit(parts: &mut Parts, service: &AppState, gate: Gate) -> Result<Visitor, Response> {
    let browser = match authorize::signed_in(service, &parts.headers).await {
        Ok(browser) => browser,
        Err(error) => return Err(error.into_response(service.issuer())),
    };
    let Some(browser) = browser else {
        // Back to this page after signing in (for a POST: to the page that holds the form).
        let back = parts.uri.path_and_query().map_or("/", |path| path.as_str());
        let query = serde_urlencoded::to_string([("return_to", back)]).unwrap_or_default();
        return Err(redirect(&format!("/login?{query}")));
    };
    let Ok(ClientAddress(address)) = ClientAddress::from_request_parts(parts, service).await;
    let csrf = service.csrf_token(&browser.session);
    let visitor = Visitor { session: browser.session, user: browser.user, auth_time: browser.auth_time, address, csrf };
    if gate == Gate::Admin && !visitor.user.is_admin {
        let chrome = visitor.chrome("Admins only", Section::None);
        return Err(message(
            StatusCode::FORBIDDEN,
            chrome,
            "The console is for administrators. Your account does not have the admin flag.",
        ));
    }
    Ok(visitor)
}

/// A form posted by a page of this server: its fields, in order, repeated names kept
/// (checkbox groups). Refused with 403 when its `csrf` field is not the session's token.
pub struct Form {
    fields: Vec<(String, String)>,
}

impl Form {
    /// The first value of `name`, trimmed; empty when absent.
    pub fn get(&self, name: &str) -> &str {
        self.fields.iter().find(|(field, _)| field == name).map_or("", |(_, value)| value.trim())
    }

    /// Every value of `name` (a checkbox group), trimmed, empty ones left out.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.fields
            .iter()
            .filter(|(field, _)| field == name)
            .map(|(_, value)| value.trim())
            .filter(|value| !value.is_empty())
            .collect()
    }

    /// Whether a checkbox named `name` was ticked.
    pub fn checked(&self, name: &str) -> bool {
        self.fields.iter().any(|(field, _)| field == name)
    }

    /// The raw value of `name`, untrimmed (passwords).
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(field, _)| field == name).map(|(_, value)| value.as_str())
    }
}

impl FromRequest<AppState> for Form {
    type Rejection = Response;

    async fn from_request(request: Request, service: &AppState) -> Result<Self, Self::Rejection> {
        let transport = authorize::transport(service);
        let session = cookies::read(request.headers(), cookies::Jar::Session, transport);
        let body = Bytes::from_request(request, service).await.map_err(IntoResponse::into_response)?;
        let refused = |text: &str| message(StatusCode::BAD_REQUEST, Chrome::anonymous("Cannot continue"), text);
        let fields: Vec<(String, String)> =
            serde_urlencoded::from_bytes(&body).map_err(|_| refused("The form is malformed."))?;
        let form = Form { fields };
        let genuine = session.is_some_and(|session| service.csrf_token_matches(&session, form.get("csrf")));
        if !genuine {
            return Err(message(
                StatusCode::FORBIDDEN,
                Chrome::anonymous("Cannot continue"),
                "This form has expired or was not sent from this site (its anti-CSRF token is missing or wrong). \
                 Go back, reload the page and try again.",
            ));
        }
        Ok(form)
    }
}
