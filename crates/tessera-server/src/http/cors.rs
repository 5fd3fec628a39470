//! CORS (the Fetch standard's HTTP extensions) for browser apps, with tower-http's layer doing
//! the preflight and header rules. Two layers, and which routes carry them is the policy:
//!
//! - [`registered_origins`] on the endpoints a single-page app calls with its tokens (token,
//!   revocation, userinfo, `/api/1.0/users/me`): only origins some client registered
//!   (`--allowed-origin`), echoed back with `Vary: Origin`; never credentials (cookies), since
//!   these endpoints authenticate by token or client id, never by the browser session.
//! - [`public_documents`] on the metadata documents, JWKS and `/openapi.json`:
//!   `Access-Control-Allow-Origin: *`.
//!   They are public, the same for every caller, carry no credentials and reveal nothing a
//!   server-side fetch would not; `*` lets any relying party's script discover the issuer
//!   before it is registered anywhere, and the Fetch standard forbids credentials with `*`.
//!
//! The authorization endpoint, the login and consent pages, logout and the console get no
//! CORS at all: they are top-level navigations, and a script on another origin must never read
//! them (their forms carry CSRF tokens).

use super::AppState;
use axum::http::{HeaderName, HeaderValue, Method, header};
use std::sync::Arc;
use std::time::Duration;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// DPoP (RFC 9449): the proof a browser app sends, and the nonce the server may ask for.
const DPOP: HeaderName = HeaderName::from_static("dpop");
const DPOP_NONCE: HeaderName = HeaderName::from_static("dpop-nonce");

/// How long a browser may reuse a preflight's answer. It only says which methods and headers
/// are allowed (the same for every origin); each actual response is checked again, so an
/// origin removed from a client stops at once however long a preflight is cached.
const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(600);

/// CORS for the origins clients registered; the check goes through the service's origin cache.
pub(super) fn registered_origins(service: &AppState) -> CorsLayer {
    let service = Arc::clone(service);
    let allowed = AllowOrigin::async_predicate(move |origin: HeaderValue, _request| async move {
        let Ok(origin) = origin.to_str() else { return false };
        match service.origin_allowed(origin).await {
            Ok(allowed) => allowed,
            Err(error) => {
                // Fail closed: without the list, no origin is allowed.
                tracing::warn!(%error, "cannot read the allowed origins");
                false
            }
        }
    });
    CorsLayer::new()
        .allow_origin(allowed)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, DPOP])
        .expose_headers([header::WWW_AUTHENTICATE, DPOP_NONCE])
        .max_age(PREFLIGHT_MAX_AGE)
}

/// CORS for the public documents: any origin, `GET` only, no credentials.
pub(super) fn public_documents() -> CorsLayer {
    CorsLayer::new().allow_origin(AllowOrigin::any()).allow_methods([Method::GET]).max_age(PREFLIGHT_MAX_AGE)
}
