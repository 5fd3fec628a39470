//! Fuzz target: a token-endpoint request as the endpoint parses it: the body (form, JSON or
//! another content type, chosen by the first byte) through `body_parameters`, an optional
//! `Authorization: Basic` value through `parse_basic`, then core's `TokenRequest::parse`.
//! Never a panic; every refusal carries one of the token endpoint's RFC 6749 §5.2 codes; a
//! request that parses names the grant its `grant_type` said.

#![no_main]

use http::HeaderMap;
use http::header::{CONTENT_TYPE, HeaderValue};
use libfuzzer_sys::fuzz_target;
use tessera_core::request::parse_basic;
use tessera_core::{GrantType, RequestError, TokenRequest};
use tessera_proto::ErrorCode;
use tessera_server::http::params::body_parameters;

fn check(error: &RequestError) {
    assert!(
        matches!(
            error.code,
            ErrorCode::InvalidRequest
                | ErrorCode::InvalidClient
                | ErrorCode::InvalidScope
                | ErrorCode::UnsupportedGrantType
        ),
        "unexpected code {:?}",
        error.code
    );
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    // Bit 2: the first line of the rest is an Authorization header value.
    let (authorization, body) = match rest.iter().position(|b| *b == b'\n') {
        Some(end) if selector & 4 != 0 => (Some(&rest[..end]), &rest[end + 1..]),
        _ => (None, rest),
    };
    let mut headers = HeaderMap::new();
    let content_type = match selector & 3 {
        0 => None,
        1 => Some("application/x-www-form-urlencoded"),
        2 => Some("application/json; charset=utf-8"),
        _ => Some("text/plain"),
    };
    if let Some(content_type) = content_type {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    }
    let basic = match authorization.map(std::str::from_utf8) {
        Some(Ok(text)) => match parse_basic(text) {
            Ok(pair) => Some(pair),
            Err(error) => {
                assert_eq!(error.code, ErrorCode::InvalidClient);
                return;
            }
        },
        _ => None,
    };
    let parameters = match body_parameters(&headers, body) {
        Ok(parameters) => parameters,
        Err(error) => return check(&error),
    };
    match TokenRequest::parse(&parameters, basic) {
        Ok(request) => {
            let named = parameters.get("grant_type").and_then(|text| GrantType::parse(text));
            assert_eq!(named, Some(request.grant.grant_type()));
        }
        Err(error) => check(&error),
    }
});
