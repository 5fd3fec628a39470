//! Property tests of what the HTTP layer parses before the core sees it, the same properties
//! the cargo-fuzz targets (`fuzz/`) check, with a modest case count: request bodies (form and
//! JSON) and the token request they make, the bearer header, and JWT verification by a fixed
//! key ring (an ES256 and an EdDSA key): never a panic, refusals with the RFC codes, round
//! trips, and nothing verifies that the ring did not sign.

use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::prelude::*;
use std::collections::HashMap;
use std::sync::LazyLock;
use tessera_core::{ClientId, GrantType, Jti, MasterKey, Timestamp, TokenRequest};
use tessera_proto::{AccessTokenClaims, ErrorCode};
use tessera_server::config::SigningAlgorithm;
use tessera_server::http::bearer_token;
use tessera_server::http::params::body_parameters;
use tessera_server::keys::{KeyManager, rotate_keys};
use tessera_server::store::{Store, StoreOptions};

const ISSUER: &str = "http://issuer.test";

fn config() -> ProptestConfig {
    ProptestConfig { cases: 256, ..ProptestConfig::default() }
}

fn headers(name: axum::http::HeaderName, value: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(name, value);
    }
    headers
}

fn claims() -> AccessTokenClaims {
    AccessTokenClaims {
        iss: ISSUER.into(),
        sub: "user".into(),
        aud: ISSUER.into(),
        client_id: ClientId::new("client"),
        scope: "read".into(),
        iat: 1_000,
        exp: 4_600,
        jti: Jti::new("jti"),
        fid: None,
        cnf: None,
    }
}

/// The key ring and a token signed by each of its keys. Built once, on its own runtime (the
/// ring keeps no connection busy: verification reads memory only).
struct Ring {
    keys: KeyManager,
    signed: Vec<String>,
    _runtime: tokio::runtime::Runtime,
}

/// The ring's verdict at the time its keys were made (the retired key still in its window).
fn verify(keys: &KeyManager, token: &str) -> Option<AccessTokenClaims> {
    let (now, retention) = (Timestamp::from_secs(1_000), std::time::Duration::from_secs(3_600));
    keys.verify(token, now, retention).ok().map(|verified| verified.claims)
}

static RING: LazyLock<Ring> = LazyLock::new(|| {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (keys, signed) = runtime.block_on(async {
        let store = Store::connect("sqlite::memory:", &StoreOptions::default()).await.unwrap();
        store.migrate().await.unwrap();
        let master = MasterKey::parse("the property tests' fixed master key, 32+ chars").unwrap();
        let now = Timestamp::from_secs(1_000);
        let keys = KeyManager::load(store.clone(), &master, SigningAlgorithm::Es256, ISSUER.into(), now).await.unwrap();
        let mut signed = vec![keys.sign(&claims()).unwrap()];
        rotate_keys(&store, &master, SigningAlgorithm::EdDsa, now).await.unwrap();
        keys.reload().await.unwrap();
        signed.push(keys.sign(&claims()).unwrap());
        (keys, signed)
    });
    Ring { keys, signed, _runtime: runtime }
});

fn content_type() -> impl Strategy<Value = Option<&'static str>> {
    prop::sample::select(vec![
        None,
        Some("application/x-www-form-urlencoded"),
        Some("application/json"),
        Some("application/json; charset=utf-8"),
        Some("text/plain"),
    ])
}

proptest! {
    #![proptest_config(config())]

    /// Any body, any content type: parameters or an `invalid_request`, and what parses makes a
    /// token request or a refusal with one of the token endpoint's codes.
    #[test]
    fn any_body_parses_or_is_refused_with_token_endpoint_codes(
        body in prop_oneof![
            any::<Vec<u8>>(),
            "[a-z_]{1,12}=[a-zA-Z0-9%+]{0,12}(&[a-z_]{1,12}=[a-zA-Z0-9%+]{0,12}){0,6}".prop_map(String::into_bytes),
            "\\{(\"[a-z_]{1,12}\": ?(\"[a-z0-9]{0,8}\"|[0-9]{1,4}|null|true|\\[\\]),?){0,6}\\}".prop_map(String::into_bytes),
        ],
        content_type in content_type(),
    ) {
        let headers = content_type.map_or_else(HeaderMap::new, |value| headers(CONTENT_TYPE, value));
        match body_parameters(&headers, &body) {
            Ok(parameters) => match TokenRequest::parse(&parameters, None) {
                Ok(request) => {
                    let named = parameters.get("grant_type").and_then(|text| GrantType::parse(text));
                    prop_assert_eq!(named, Some(request.grant.grant_type()));
                }
                Err(error) => prop_assert!(matches!(
                    error.code,
                    ErrorCode::InvalidRequest | ErrorCode::InvalidClient | ErrorCode::InvalidScope | ErrorCode::UnsupportedGrantType
                )),
            },
            Err(error) => prop_assert_eq!(error.code, ErrorCode::InvalidRequest),
        }
    }

    /// A JSON object of string values and the same parameters as a form are the same request
    /// (empty values are omitted, RFC 6749 §3.1).
    #[test]
    fn json_and_form_bodies_agree(parameters in prop::collection::hash_map("[a-z_]{1,12}", "[^\u{0}]{0,16}", 0..8)) {
        let json = serde_json::to_vec(&parameters).unwrap();
        let form = serde_urlencoded::to_string(&parameters).unwrap();
        let from_json = body_parameters(&headers(CONTENT_TYPE, "application/json"), &json).unwrap();
        let from_form =
            body_parameters(&headers(CONTENT_TYPE, "application/x-www-form-urlencoded"), form.as_bytes()).unwrap();
        let expected: HashMap<String, String> = parameters.into_iter().filter(|(_, value)| !value.is_empty()).collect();
        prop_assert_eq!(&from_json, &expected);
        prop_assert_eq!(&from_form, &expected);
    }

    #[test]
    fn bearer_header_parsing_never_panics_and_round_trips(value in any::<String>(), token in "[A-Za-z0-9._~+/-]{1,64}=*") {
        let _ = bearer_token(&headers(AUTHORIZATION, &value));
        let header = headers(AUTHORIZATION, &format!("Bearer {token}"));
        prop_assert_eq!(bearer_token(&header), Some(token.as_str()));
    }

    /// Nothing verifies but the ring's own tokens: arbitrary text, a part of a signed token
    /// replaced, or one character changed.
    #[test]
    fn only_tokens_the_ring_signed_verify(
        text in any::<String>(),
        replacement in any::<Vec<u8>>(),
        key in 0usize..2,
        part in 0usize..3,
        position in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let ring = &*RING;
        prop_assert!(verify(&ring.keys, &text).is_none());
        let signed = &ring.signed[key];
        let mut parts: Vec<String> = signed.split('.').map(str::to_owned).collect();
        parts[part] = URL_SAFE_NO_PAD.encode(&replacement);
        let spliced = parts.join(".");
        if let Some(verified) = verify(&ring.keys, &spliced) {
            prop_assert_eq!(verified, claims());
        }
        let mut bytes = signed.clone().into_bytes();
        let index = position.index(bytes.len());
        bytes[index] = byte;
        // base64url's last character may carry spare bits that decode the same.
        if let Ok(changed) = String::from_utf8(bytes)
            && &changed != signed
            && let Some(verified) = verify(&ring.keys, &changed)
        {
            prop_assert_eq!(verified, claims());
        }
        prop_assert_eq!(verify(&ring.keys, signed), Some(claims()));
    }
}
