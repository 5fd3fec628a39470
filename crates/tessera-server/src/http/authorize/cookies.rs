//! The authorization endpoint's two browser cookies, read from `Cookie` and written as
//! `Set-Cookie` with the `cookie` crate. Both are scoped to `/oauth/authorize`, `HttpOnly`,
//! `SameSite=Lax`, and `Secure` when the issuer is served over HTTPS.

use crate::service::authorization::SESSION_TTL;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use cookie::{Cookie, SameSite};

/// The browser session: its value is the session token, valid for [`SESSION_TTL`].
pub const SESSION_COOKIE: &str = "tessera_session";
/// A random value bound to the browser before sign-in; the login form must carry its HMAC.
/// Without it, a page elsewhere could post the login form with the attacker's credentials and
/// plant the attacker's session in the victim's browser (login CSRF). `SameSite=Lax` keeps the
/// cookie off cross-site POSTs, and the form field cannot be forged without reading the cookie.
pub const LOGIN_COOKIE: &str = "tessera_login";
const PATH: &str = "/oauth/authorize";

/// The value of the request's cookie `name`, if it has a non-empty one. When a browser sends
/// the name twice, the first wins: browsers send the cookie with the longest path first, which
/// is ours, rather than one planted for `/` by a sibling host.
pub fn read(headers: &HeaderMap, name: &str) -> Option<String> {
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
pub fn login(nonce: &str, secure: bool) -> Cookie<'static> {
    base(LOGIN_COOKIE, nonce, secure).build()
}

/// The session cookie: it lasts as long as the session does.
pub fn session(session: &str, secure: bool) -> Cookie<'static> {
    let max_age = cookie::time::Duration::try_from(SESSION_TTL).unwrap_or(cookie::time::Duration::MAX);
    base(SESSION_COOKIE, session, secure).max_age(max_age).build()
}

fn base(name: &'static str, value: &str, secure: bool) -> cookie::CookieBuilder<'static> {
    Cookie::build((name, value.to_owned())).path(PATH).http_only(true).same_site(SameSite::Lax).secure(secure)
}

/// Adds `Set-Cookie: cookie` to a response.
pub fn set(response: &mut Response, cookie: &Cookie<'_>) {
    // Our values are base64url, always a valid header; a cookie that is not is left unset.
    if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}
