//! The browser cookies of the authorization endpoint and the web pages (`/console`,
//! `/account`), read from `Cookie` and written as `Set-Cookie` with the `cookie` crate. Both
//! are `HttpOnly`, `SameSite=Lax` and `Path=/` (the session is shared by `/oauth/*`, the
//! console and the account page). When the issuer is served over HTTPS they are `__Host-`
//! cookies (`Secure`, no `Domain`: RFC 6265bis §4.1.3.2), which a sibling host cannot set or
//! shadow; over plain HTTP (a development set-up) they have no such protection.

use crate::service::authorization::SESSION_TTL;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use cookie::{Cookie, SameSite};

/// Which of the two cookies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jar {
    /// The browser session: its value is the session token, valid for [`SESSION_TTL`].
    Session,
    /// A random value bound to the browser before sign-in; the login form must carry its HMAC.
    /// Without it, a page elsewhere could post the login form with the attacker's credentials
    /// and plant the attacker's session in the victim's browser (login CSRF). `SameSite=Lax`
    /// keeps the cookie off cross-site POSTs, and the form field cannot be forged without
    /// reading the cookie.
    Login,
}

/// Whether the issuer is served over HTTPS, which decides the cookies' names and attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Https,
    Http,
}

impl Jar {
    fn name(self, transport: Transport) -> &'static str {
        match (self, transport) {
            (Jar::Session, Transport::Https) => "__Host-tessera_session",
            (Jar::Session, Transport::Http) => "tessera_session",
            (Jar::Login, Transport::Https) => "__Host-tessera_login",
            (Jar::Login, Transport::Http) => "tessera_login",
        }
    }
}

/// The value of the request's cookie `jar`, if it has a non-empty one. When a browser sends
/// the name twice, the first wins (over HTTPS the `__Host-` prefix keeps a sibling host's
/// cookies out altogether).
pub fn read(headers: &HeaderMap, jar: Jar, transport: Transport) -> Option<String> {
    let name = jar.name(transport);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|cookie| cookie.name() == name && !cookie.value().is_empty())
        .map(|cookie| cookie.value().to_owned())
}

/// The login cookie: for this browser session only (no `Max-Age`).
pub fn login(nonce: &str, transport: Transport) -> Cookie<'static> {
    base(Jar::Login, nonce, transport).build()
}

/// The session cookie: it lasts as long as the session does.
pub fn session(session: &str, transport: Transport) -> Cookie<'static> {
    let max_age = cookie::time::Duration::try_from(SESSION_TTL).unwrap_or(cookie::time::Duration::MAX);
    base(Jar::Session, session, transport).max_age(max_age).build()
}

fn base(jar: Jar, value: &str, transport: Transport) -> cookie::CookieBuilder<'static> {
    let builder =
        Cookie::build((jar.name(transport), value.to_owned())).http_only(true).same_site(SameSite::Lax).path("/");
    builder.secure(transport == Transport::Https)
}

/// The session cookie, expired: the browser drops it (logout).
pub fn session_cleared(transport: Transport) -> Cookie<'static> {
    base(Jar::Session, "", transport).max_age(cookie::time::Duration::ZERO).build()
}

/// Adds `Set-Cookie: cookie` to a response.
pub fn set(response: &mut Response, cookie: &Cookie<'_>) {
    // Our values are base64url, always a valid header; a cookie that is not is left unset.
    if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}
