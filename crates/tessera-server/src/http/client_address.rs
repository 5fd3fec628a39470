//! The client's address, as an extractor: the TCP peer (`serve` puts it in every request), or,
//! from a trusted proxy (`TESSERA_TRUSTED_PROXIES`), the right-most untrusted hop of its
//! forwarding headers (core's `client_address` holds the rule).

use super::AppState;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use tessera_core::ForwardingHeaders;

/// Whom the sign-in throttle counts a request against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub IpAddr);

/// The lines of header `name`; a line that is not text is an empty one, which core reads as an
/// unreadable hop.
fn lines<'a>(headers: &'a HeaderMap, name: &str) -> Vec<&'a str> {
    headers.get_all(name).iter().map(|value| value.to_str().unwrap_or_default()).collect()
}

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, service: &AppState) -> Result<Self, Self::Rejection> {
        // A router driven without `serve` (`oneshot` in a test) has no peer: "unspecified".
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |ConnectInfo(peer)| peer.ip());
        let trusted = &service.config().trusted_proxies;
        if trusted.is_empty() {
            return Ok(ClientAddress(peer));
        }
        let (x_forwarded_for, forwarded) =
            (lines(&parts.headers, "x-forwarded-for"), lines(&parts.headers, "forwarded"));
        let headers = ForwardingHeaders { x_forwarded_for: &x_forwarded_for, forwarded: &forwarded };
        Ok(ClientAddress(tessera_core::client_address(peer, trusted, headers)))
    }
}
