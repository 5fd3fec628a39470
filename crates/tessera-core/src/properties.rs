//! Property tests of the parsers that face the network and the configuration, the same
//! properties the cargo-fuzz targets (`fuzz/`) check, with a modest case count: never a panic,
//! refusals carry the RFC codes, and round trips where they are natural.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::authorize::{AuthorizationRequest, AuthorizeError, ClientView, redirect_uri_matches};
use crate::request::{collect_parameters, parse_basic};
use crate::{ClientId, GrantType, Scope, TokenRequest, parse_duration};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use proptest::prelude::*;
use std::time::Duration;
use tessera_proto::ErrorCode;

fn config() -> ProptestConfig {
    ProptestConfig { cases: 256, ..ProptestConfig::default() }
}

/// Every byte but ASCII letters and digits escaped: the most escaped spelling of a component.
fn form_encode(text: &str) -> String {
    text.bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

/// The names the token and authorization endpoints read, and one they do not.
fn parameter_name() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "grant_type",
        "client_id",
        "client_secret",
        "username",
        "password",
        "refresh_token",
        "scope",
        "code",
        "redirect_uri",
        "code_verifier",
        "response_type",
        "state",
        "code_challenge",
        "code_challenge_method",
        "unknown",
    ])
    .prop_map(str::to_owned)
}

/// Values that are sometimes meaningful (a grant type, `S256`, a registered URI) and
/// sometimes anything at all.
fn parameter_value() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "password",
            "refresh_token",
            "client_credentials",
            "authorization_code",
            "code",
            "S256",
            "read",
            "read write admin",
            "http://127.0.0.1/callback",
            "http://127.0.0.1:5000/callback",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "",
        ])
        .prop_map(str::to_owned),
        any::<String>(),
    ]
}

fn parameters() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec((parameter_name(), parameter_value()), 0..8)
}

fn token_endpoint_code(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::InvalidRequest
            | ErrorCode::InvalidClient
            | ErrorCode::InvalidScope
            | ErrorCode::UnsupportedGrantType
    )
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn basic_decoding_never_panics_and_refuses_with_invalid_client(text in any::<String>()) {
        if let Err(error) = parse_basic(&text) {
            prop_assert_eq!(error.code, ErrorCode::InvalidClient);
        }
        let header = format!("Basic {}", STANDARD.encode(text.as_bytes()));
        if let Err(error) = parse_basic(&header) {
            prop_assert_eq!(error.code, ErrorCode::InvalidClient);
        }
    }

    #[test]
    fn basic_credentials_round_trip(id in "[^\u{0}]{1,20}", secret in "[^\u{0}]{0,40}") {
        let header = format!("Basic {}", STANDARD.encode(format!("{}:{}", form_encode(&id), form_encode(&secret))));
        prop_assert_eq!(parse_basic(&header), Ok((id, secret)));
    }

    #[test]
    fn token_requests_parse_or_refuse_with_token_endpoint_codes(
        pairs in parameters(),
        basic in prop::option::of(("[a-z]{1,8}", "[a-z]{0,8}")),
    ) {
        let Ok(params) = collect_parameters(pairs) else { return Ok(()) };
        match TokenRequest::parse(&params, basic) {
            Ok(request) => {
                let named = params.get("grant_type").and_then(|text| GrantType::parse(text));
                prop_assert_eq!(named, Some(request.grant.grant_type()));
            }
            Err(error) => prop_assert!(token_endpoint_code(error.code), "{:?}", error.code),
        }
    }

    #[test]
    fn a_repeated_parameter_is_invalid_request(pairs in parameters(), name in parameter_name()) {
        let mut pairs = pairs;
        pairs.push((name.clone(), "one".into()));
        pairs.push((name, "two".into()));
        let error = collect_parameters(pairs).expect_err("a repeated parameter");
        prop_assert_eq!(error.code, ErrorCode::InvalidRequest);
    }

    #[test]
    fn duration_parsing_never_panics(text in any::<String>()) {
        let _ = parse_duration(&text);
    }

    #[test]
    fn formatted_durations_parse_back(value in 0u64..1_000_000, unit in 0usize..5) {
        let (name, millis) = [("ms", 1), ("s", 1_000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)][unit];
        prop_assert_eq!(parse_duration(&format!("{value}{name}")), Ok(Duration::from_millis(value * millis)));
        let parsed = parse_duration(&format!("{value}{name}")).unwrap();
        prop_assert_eq!(parse_duration(&format!("{}ms", parsed.as_millis())), Ok(parsed));
    }

    #[test]
    fn redirect_uri_matching_is_reflexive_and_symmetric(a in any::<String>(), b in any::<String>()) {
        prop_assert!(redirect_uri_matches(&a, &a));
        prop_assert_eq!(redirect_uri_matches(&a, &b), redirect_uri_matches(&b, &a));
    }

    #[test]
    fn a_registered_loopback_uri_matches_on_any_port(path in "(/[a-z0-9]{1,8}){0,3}", port in 1u16..) {
        for host in ["127.0.0.1", "[::1]"] {
            let registered = format!("http://{host}{path}");
            let presented = format!("http://{host}:{port}{path}");
            prop_assert!(redirect_uri_matches(&registered, &presented));
            // Any other host keeps the exact rule: another port is another URI.
            let other = format!("https://app.example{path}");
            let other_port = format!("https://app.example:{port}{path}");
            prop_assert!(!redirect_uri_matches(&other, &other_port));
        }
    }

    #[test]
    fn authorization_requests_redirect_only_to_registered_uris(
        pairs in parameters(),
        registered in prop_oneof![Just("http://127.0.0.1/callback".to_owned()), any::<String>()],
        is_public in any::<bool>(),
        allows_authorization_code in any::<bool>(),
    ) {
        let Ok(params) = collect_parameters(pairs) else { return Ok(()) };
        let uris = vec![registered];
        let client_id = ClientId::new("app");
        let scope = Scope::parse("read write").unwrap();
        let view = ClientView { client_id: &client_id, redirect_uris: &uris, allows_authorization_code, is_public, scope: &scope };
        match AuthorizationRequest::parse(&params, Some(&view)) {
            Ok(request) => {
                prop_assert!(uris.iter().any(|uri| redirect_uri_matches(uri, &request.redirect_uri)));
                prop_assert!(request.scope.is_subset_of(&scope));
                prop_assert!(allows_authorization_code && (!is_public || request.code_challenge.is_some()));
            }
            Err(AuthorizeError::Redirect { redirect_uri, code, .. }) => {
                prop_assert!(uris.iter().any(|uri| redirect_uri_matches(uri, &redirect_uri)));
                prop_assert!(matches!(
                    code,
                    ErrorCode::InvalidRequest
                        | ErrorCode::UnsupportedResponseType
                        | ErrorCode::UnauthorizedClient
                        | ErrorCode::InvalidScope
                ));
            }
            Err(AuthorizeError::Fatal(_)) => {}
        }
    }
}
