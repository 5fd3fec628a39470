//! RFC 9449 §10, `dpop_jkt`: an authorization request binds its code to a DPoP key; only a
//! token request with a proof by that key redeems it. Any other request is refused with
//! `invalid_grant` before the code is spent, so the rightful client can still redeem it. A
//! malformed `dpop_jkt` is `invalid_request` at the authorization endpoint; without one the
//! code flow is as before.

use super::proofs::{DpopKey, decode_claims};
use super::{refresh_form, token_proof, token_with};
use crate::authorize::{Browser, REDIRECT, VERIFIER, approve, query_of, request};
use crate::helpers::{Fixture, str_field};
use serde_json::Value;
use tessera_core::TokenHash;
use tessera_server::config::RawConfig;
use tessera_server::store::Backend;

/// Exchanges `code` as the public client, with a proof by `key` if any.
async fn exchange(fixture: &Fixture, code: &str, key: Option<&DpopKey>) -> (u16, Value) {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
        ("client_id", fixture.public.client_id.as_str()),
    ];
    let proof = key.map(|key| token_proof(fixture, key));
    let (status, body, _) = token_with(fixture, &fixture.url("/oauth/token"), &form, proof.as_deref()).await;
    (status, body)
}

/// Refreshes as the public client with a proof by `key`.
async fn refresh(fixture: &Fixture, key: &DpopKey, refresh_token: &str) -> (u16, Value, Option<String>) {
    let form = refresh_form(&fixture.public.client_id, None, refresh_token);
    token_with(fixture, &fixture.url("/oauth/token"), &form, Some(&token_proof(fixture, key))).await
}

/// Which key, if any, the redeeming request proves.
#[derive(Clone, Copy, Debug)]
enum Proof {
    None,
    Bound,
    Other,
}

/// (case, dpop_jkt sent, the refused attempts first (proof, what the refusal says), the proof
/// that redeems, and the token type it gets)
type Row<'a> = (&'a str, Option<&'a str>, &'a [(Proof, &'a str)], Proof, &'a str);

async fn a_code_bound_by_dpop_jkt_is_redeemed_only_with_its_key(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let mut browser = Browser::new(&fixture);
    let (bound, other) = (DpopKey::es256(), DpopKey::ed25519());
    let jkt = bound.thumbprint();
    let public = fixture.public.client_id.clone();
    #[rustfmt::skip]
    let rows: &[Row] = &[
        ("bound, redeemed with its key", Some(&jkt), &[], Proof::Bound, "DPoP"),
        ("bound, another key first: refused, not spent", Some(&jkt), &[(Proof::Other, "not the one the authorization request named")], Proof::Bound, "DPoP"),
        ("bound, no proof first: refused, not spent", Some(&jkt), &[(Proof::None, "send a DPoP proof")], Proof::Bound, "DPoP"),
        ("unbound, no proof: a bearer token as before", None, &[], Proof::None, "Bearer"),
        ("unbound, any key: bound to it", None, &[], Proof::Other, "DPoP"),
    ];
    for (case, dpop_jkt, refused, redeem, token_type) in rows {
        let code = approve(&mut browser, &request(&public, &[("dpop_jkt", dpop_jkt.unwrap_or(""))])).await;
        // Stored with the code (the first row's went through the login and consent forms).
        let stored = fixture.server.store().find_authorization_code(&TokenHash::of(&code)).await.unwrap().unwrap();
        assert_eq!(stored.dpop_jkt.as_ref().map(|jkt| jkt.as_str()), *dpop_jkt, "{case}");
        let key = |proof: Proof| match proof {
            Proof::None => None,
            Proof::Bound => Some(&bound),
            Proof::Other => Some(&other),
        };
        for (proof, says) in *refused {
            let (status, body) = exchange(&fixture, &code, key(*proof)).await;
            assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{case}, {proof:?}: {body}");
            assert!(str_field(&body, "error_description").contains(says), "{case}, {proof:?}: {body}");
            assert!(body.get("access_token").is_none(), "{case}: nothing issued");
            let row = fixture.server.store().find_authorization_code(&TokenHash::of(&code)).await.unwrap().unwrap();
            assert_eq!((row.used_at, row.family_id), (None, None), "{case}, {proof:?}: the code is not spent");
        }
        let (status, body) = exchange(&fixture, &code, key(*redeem)).await;
        assert_eq!((status, body["token_type"].as_str()), (200, Some(*token_type)), "{case}: {body}");
        let cnf = decode_claims(&str_field(&body, "access_token"))["cnf"]["jkt"].clone();
        let expected = key(*redeem).map(DpopKey::thumbprint);
        assert_eq!(cnf.as_str(), expected.as_deref(), "{case}: the access token's binding");
    }
}

/// A bound code replayed without its key is refused and revokes nothing (the thief can neither
/// use it nor burn it); replayed with its key it revokes what it granted (RFC 6749 §4.1.2).
async fn a_bound_code_replayed_without_its_key_revokes_nothing(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let mut browser = Browser::new(&fixture);
    let (bound, thief) = (DpopKey::es256(), DpopKey::es256());
    let public = fixture.public.client_id.clone();
    let code = approve(&mut browser, &request(&public, &[("dpop_jkt", &bound.thumbprint())])).await;
    let (status, body) = exchange(&fixture, &code, Some(&bound)).await;
    assert_eq!(status, 200, "{body}");
    let mut refresh_token = str_field(&body, "refresh_token");
    for (who, key) in [("no proof", None), ("the thief's key", Some(&thief))] {
        let (status, body) = exchange(&fixture, &code, key).await;
        assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{who}: {body}");
        assert!(str_field(&body, "error_description").contains("dpop_jkt"), "{who}, not a replay: {body}");
        let (status, body, _) = refresh(&fixture, &bound, &refresh_token).await;
        assert_eq!(status, 200, "{who}: the family lives on: {body}");
        refresh_token = str_field(&body, "refresh_token");
    }
    let (status, body) = exchange(&fixture, &code, Some(&bound)).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    assert!(str_field(&body, "error_description").contains("already used"), "{body}");
    let (status, body, _) = refresh(&fixture, &bound, &refresh_token).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "revoked by the replay: {body}");
}

/// A malformed `dpop_jkt` is `invalid_request`, sent to the (verified) redirect URI with the
/// state, before any page is shown.
async fn a_malformed_dpop_jkt_is_invalid_request(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let mut browser = Browser::new(&fixture);
    let jkt = DpopKey::es256().thumbprint();
    let padded = format!("{jkt}=");
    let rows: &[(&str, &str)] = &[
        ("padded", &padded),
        ("too short", &jkt[..42]),
        ("base64, not base64url", "0ZcOCORZNYy+DWpqq30jZyJGHTN0d2HglBV3uiguA4I"),
        ("a JWK, not its thumbprint", r#"{"kty":"EC","crv":"P-256"}"#),
        ("a space", " ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"),
    ];
    for (case, dpop_jkt) in rows {
        let page = browser.get(&request(&fixture.public.client_id, &[("dpop_jkt", dpop_jkt)])).await;
        assert_eq!(page.status, 303, "{case}: {}", page.body);
        let params = query_of(page.location.as_deref().unwrap());
        assert_eq!((params["error"].as_str(), params["state"].as_str()), ("invalid_request", "st4te"), "{case}");
        assert!(params["error_description"].contains("dpop_jkt"), "{case}: {params:?}");
        assert!(!params.contains_key("code"), "{case}");
    }
}

on_both_backends!(
    a_code_bound_by_dpop_jkt_is_redeemed_only_with_its_key,
    a_bound_code_replayed_without_its_key_revokes_nothing,
    a_malformed_dpop_jkt_is_invalid_request,
);
