//! DPoP (RFC 9449) at the token endpoint: proofs checked row by row, DPoP-bound access tokens
//! (`cnf.jkt`, `token_type: DPoP`), public clients' refresh tokens bound to the key (a thief
//! without it gets nothing and burns nothing), `jti` replay across instances, server nonces;
//! `jkt.rs` codes bound to a key by `dpop_jkt`.

mod jkt;
mod proofs;
mod resources;

use crate::helpers::{Fixture, PASSWORD, USERNAME, str_field};
use proofs::{DpopKey, decode_claims};
use serde_json::{Value, json};
use tessera_server::clock::Clock as _;
use tessera_server::config::RawConfig;
use tessera_server::store::Backend;

/// POSTs `form` to `/oauth/token` of `base` with the `DPoP` header `proof` (if any).
async fn token_with(
    fixture: &Fixture,
    url: &str,
    form: &[(&str, &str)],
    proof: Option<&str>,
) -> (u16, Value, Option<String>) {
    let mut request = fixture.http.post(url).form(form);
    if let Some(proof) = proof {
        request = request.header("DPoP", proof);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let nonce = response.headers().get("dpop-nonce").map(|value| value.to_str().unwrap().to_owned());
    (status, response.json().await.unwrap(), nonce)
}

fn password_form<'a>(client_id: &'a str, secret: Option<&'a str>) -> Vec<(&'a str, &'a str)> {
    let mut form =
        vec![("grant_type", "password"), ("username", USERNAME), ("password", PASSWORD), ("client_id", client_id)];
    if let Some(secret) = secret {
        form.push(("client_secret", secret));
    }
    form
}

fn refresh_form<'a>(client_id: &'a str, secret: Option<&'a str>, token: &'a str) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![("grant_type", "refresh_token"), ("refresh_token", token), ("client_id", client_id)];
    if let Some(secret) = secret {
        form.push(("client_secret", secret));
    }
    form
}

/// A proof for `POST /oauth/token` of `fixture`, now.
fn token_proof(fixture: &Fixture, key: &DpopKey) -> String {
    key.proof("POST", &fixture.url("/oauth/token"), fixture.server.clock.now().secs(), None, None)
}

async fn bound_tokens_name_the_key(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    for key in [DpopKey::es256(), DpopKey::ed25519()] {
        let form = password_form(&fixture.app.client_id, Some(fixture.secret()));
        let (status, body, _) =
            token_with(&fixture, &fixture.url("/oauth/token"), &form, Some(&token_proof(&fixture, &key))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["token_type"], "DPoP");
        let claims = decode_claims(&str_field(&body, "access_token"));
        assert_eq!(claims["cnf"], json!({ "jkt": key.thumbprint() }), "{claims}");
        eprintln!("a DPoP-bound access token's claims ({}): {claims:#}", key.alg());
    }
    // Without a proof: a plain bearer token, as before.
    let (status, body) =
        fixture.token(&[("grant_type", "password"), ("username", USERNAME), ("password", PASSWORD)]).await;
    assert_eq!((status, body["token_type"].as_str()), (200, Some("Bearer")));
    assert!(decode_claims(&str_field(&body, "access_token")).get("cnf").is_none());
}

async fn bad_proofs_are_refused_exactly(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let key = DpopKey::es256();
    let url = fixture.url("/oauth/token");
    let now = fixture.server.clock.now().secs();
    let used = token_proof(&fixture, &key);
    let form = password_form(&fixture.app.client_id, Some(fixture.secret()));
    assert_eq!(token_with(&fixture, &url, &form, Some(&used)).await.0, 200);
    let mut with_private = key.header();
    with_private["jwk"]["d"] = json!("AAAA");
    let rows: Vec<(&str, String, &str)> = vec![
        ("wrong htm", key.proof("GET", &url, now, None, None), "htm"),
        ("wrong htu", key.proof("POST", &fixture.url("/oauth/revoke"), now, None, None), "htu"),
        ("htu of another host", key.proof("POST", "http://evil.test/oauth/token", now, None, None), "htu"),
        ("old iat", key.proof("POST", &url, now - 61, None, None), "iat"),
        ("iat ahead", key.proof("POST", &url, now + 61, None, None), "iat"),
        ("reused jti", used.clone(), "already used"),
        ("alg none", proofs::unsigned(&key.header(), &key.claims("POST", &url, now, None, None)), "alg"),
        ("alg HS256", proofs::hs256(&key.header(), &key.claims("POST", &url, now, None, None)), "alg"),
        ("private key in jwk", key.sign(&with_private, &key.claims("POST", &url, now, None, None)), "private"),
        (
            "typ JWT",
            key.sign(
                &json!({"typ": "JWT", "alg": key.alg(), "jwk": key.jwk()}),
                &key.claims("POST", &url, now, None, None),
            ),
            "typ",
        ),
        (
            "signed by another key",
            DpopKey::es256().sign(&key.header(), &key.claims("POST", &url, now, None, None)),
            "signature",
        ),
        ("not a JWT", "not-a-jwt".into(), "not a signed JWT"),
    ];
    for (name, proof, says) in rows {
        let (status, body, _) = token_with(&fixture, &url, &form, Some(&proof)).await;
        assert_eq!((status, body["error"].as_str()), (400, Some("invalid_dpop_proof")), "{name}: {body}");
        assert!(str_field(&body, "error_description").contains(says), "{name}: {body}");
        assert!(body.get("access_token").is_none(), "{name}: nothing issued");
    }
    // Two DPoP headers.
    let response = fixture
        .http
        .post(&url)
        .form(&form)
        .header("DPoP", token_proof(&fixture, &key))
        .header("DPoP", token_proof(&fixture, &key))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(response.json::<Value>().await.unwrap()["error"], "invalid_dpop_proof");
}

/// A public client's refresh token bound to its key: the thief without the key is refused,
/// nothing is rotated or revoked, and the owner's next refresh works.
async fn a_stolen_bound_refresh_token_is_refused_without_burning_the_family(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let (owner, thief) = (DpopKey::es256(), DpopKey::ed25519());
    let url = fixture.url("/oauth/token");
    let public = fixture.public.client_id.as_str();
    let (status, body, _) =
        token_with(&fixture, &url, &password_form(public, None), Some(&token_proof(&fixture, &owner))).await;
    assert_eq!(status, 200, "{body}");
    let stolen = str_field(&body, "refresh_token");

    let form = refresh_form(public, None, &stolen);
    for (name, proof) in [("no proof", None), ("the thief's key", Some(token_proof(&fixture, &thief)))] {
        let (status, body, _) = token_with(&fixture, &url, &form, proof.as_deref()).await;
        assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{name}: {body}");
        assert!(str_field(&body, "error_description").contains("DPoP key"), "{name}: {body}");
    }
    // Nothing was spent: the owner refreshes with the same token, then with its successor.
    let (status, body, _) = token_with(&fixture, &url, &form, Some(&token_proof(&fixture, &owner))).await;
    assert_eq!(status, 200, "the owner's refresh: {body}");
    assert_eq!(body["token_type"], "DPoP");
    assert_eq!(decode_claims(&str_field(&body, "access_token"))["cnf"]["jkt"], owner.thumbprint());
    let next = str_field(&body, "refresh_token");
    // The spent token, replayed without the key, is refused without revoking the family.
    let (status, body, _) = token_with(&fixture, &url, &refresh_form(public, None, &stolen), None).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    let mut next = next;
    // Past the spent tokens a family keeps (8): the stolen token is found by its successor
    // chain, and without the key it still revokes nothing.
    for _ in 0..10 {
        let form = refresh_form(public, None, &next);
        let (status, body, _) = token_with(&fixture, &url, &form, Some(&token_proof(&fixture, &owner))).await;
        assert_eq!(status, 200, "the family lives on: {body}");
        next = str_field(&body, "refresh_token");
    }
    let (status, body, _) = token_with(&fixture, &url, &refresh_form(public, None, &stolen), None).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    assert!(str_field(&body, "error_description").contains("DPoP key"), "not a reuse: {body}");
    let (status, body, _) =
        token_with(&fixture, &url, &refresh_form(public, None, &next), Some(&token_proof(&fixture, &owner))).await;
    assert_eq!(status, 200, "still not revoked: {body}");
}

/// RFC 9449 §5: a confidential client's refresh tokens stay bound by its authentication; its
/// access tokens are bound when it sends a proof.
async fn confidential_refresh_tokens_stay_bound_by_client_authentication(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let key = DpopKey::es256();
    let url = fixture.url("/oauth/token");
    let form = password_form(&fixture.app.client_id, Some(fixture.secret()));
    let (_, body, _) = token_with(&fixture, &url, &form, Some(&token_proof(&fixture, &key))).await;
    let refresh = str_field(&body, "refresh_token");
    let (status, body) = fixture.refresh(&refresh).await;
    assert_eq!((status, body["token_type"].as_str()), (200, Some("Bearer")), "{body}");
    let form = refresh_form(&fixture.app.client_id, Some(fixture.secret()), body["refresh_token"].as_str().unwrap());
    let (status, body, _) = token_with(&fixture, &url, &form, Some(&token_proof(&fixture, &DpopKey::ed25519()))).await;
    assert_eq!((status, body["token_type"].as_str()), (200, Some("DPoP")), "{body}");
}

async fn a_client_requiring_dpop_needs_a_proof(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let update = tessera_server::admin::ClientUpdate { require_dpop: Some(true), ..Default::default() };
    let id = tessera_core::ClientId::new(fixture.public.client_id.as_str());
    fixture.server.service.update_client(&id, update).await.unwrap();
    assert!(fixture.server.store().get_client(&id).await.unwrap().unwrap().require_dpop);
    let url = fixture.url("/oauth/token");
    let form = password_form(&fixture.public.client_id, None);
    let (status, body, _) = token_with(&fixture, &url, &form, None).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_dpop_proof")), "{body}");
    let (status, body, _) = token_with(&fixture, &url, &form, Some(&token_proof(&fixture, &DpopKey::es256()))).await;
    assert_eq!((status, body["token_type"].as_str()), (200, Some("DPoP")), "{body}");
}

/// RFC 9449 §11.1 on every instance: a proof used at one instance is refused at another.
async fn a_proof_replayed_at_another_instance_is_refused(backend: Backend) {
    let database = match backend {
        Backend::Sqlite => tessera_testkit::TestDatabase::sqlite(),
        Backend::Postgres => tessera_testkit::TestDatabase::postgres().await.unwrap(),
    };
    let config = || RawConfig { issuer: Some("http://tessera.test".into()), ..RawConfig::default() };
    let a =
        Fixture::serve(tessera_testkit::TestServer::start_on(std::sync::Arc::clone(&database), config()).await).await;
    let b = tessera_testkit::TestServer::start_on(database, config()).await;
    let key = DpopKey::es256();
    let proof = key.proof("POST", "http://tessera.test/oauth/token", a.server.clock.now().secs(), None, None);
    let form = password_form(&a.app.client_id, Some(a.secret()));
    let (status, body, _) = token_with(&a, &a.url("/oauth/token"), &form, Some(&proof)).await;
    assert_eq!(status, 200, "{body}");
    let (status, body, _) = token_with(&a, &b.url("/oauth/token"), &form, Some(&proof)).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_dpop_proof")), "{body}");
    assert!(str_field(&body, "error_description").contains("already used"), "{body}");
}

/// RFC 9449 §8: with nonces on, a proof without the nonce gets `use_dpop_nonce` and the nonce;
/// with it, tokens. Nonces cross instances (derived from the shared master key).
async fn the_nonce_dance(backend: Backend) {
    let nonces_on = RawConfig { dpop_nonce: Some("on".into()), ..RawConfig::default() };
    let fixture = Fixture::on(backend, nonces_on).await;
    let key = DpopKey::es256();
    let url = fixture.url("/oauth/token");
    let form = password_form(&fixture.public.client_id, None);
    let (status, body, nonce) = token_with(&fixture, &url, &form, Some(&token_proof(&fixture, &key))).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("use_dpop_nonce")), "{body}");
    let nonce = nonce.expect("a DPoP-Nonce header");
    let now = fixture.server.clock.now().secs();
    let (status, body, _) =
        token_with(&fixture, &url, &form, Some(&key.proof("POST", &url, now, None, Some("stale")))).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("use_dpop_nonce")), "{body}");
    let (status, body, again) =
        token_with(&fixture, &url, &form, Some(&key.proof("POST", &url, now, None, Some(&nonce)))).await;
    assert_eq!((status, body["token_type"].as_str()), (200, Some("DPoP")), "{body}");
    assert_eq!(again.as_deref(), Some(nonce.as_str()), "the same slot, the same nonce");
    // Ten minutes on: a new nonce is handed out, and the one from two slots ago is refused.
    fixture.server.clock.advance(std::time::Duration::from_secs(600));
    let now = fixture.server.clock.now().secs();
    let (status, body, fresh) =
        token_with(&fixture, &url, &form, Some(&key.proof("POST", &url, now, None, Some(&nonce)))).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("use_dpop_nonce")), "{body}");
    assert_ne!(fresh.as_deref(), Some(nonce.as_str()));
}

/// The store's replay check: the first insert of a proof wins, a second is refused until the
/// row expires; the janitor takes expired rows. A bound family keeps its key.
async fn the_store_remembers_proofs_and_bound_families(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let store = fixture.server.store();
    let now = fixture.server.clock.now();
    let later = now.plus(std::time::Duration::from_secs(120));
    let proof = tessera_core::TokenHash::of("jkt.jti");
    assert!(store.remember_dpop_proof(&proof, later, now).await.unwrap(), "new");
    assert!(!store.remember_dpop_proof(&proof, later, now).await.unwrap(), "a replay");
    assert!(store.remember_dpop_proof(&tessera_core::TokenHash::of("jkt.other"), later, now).await.unwrap());
    let after = later.plus(std::time::Duration::from_secs(1));
    assert!(
        store.remember_dpop_proof(&proof, after.plus(std::time::Duration::from_secs(120)), after).await.unwrap(),
        "expired: absent"
    );

    let jkt = tessera_core::dpop::Thumbprint::from_stored("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I".into());
    let family = tessera_core::Family {
        id: tessera_core::FamilyId::new("bound"),
        client_id: tessera_core::ClientId::new(fixture.public.client_id.as_str()),
        user_id: tessera_core::UserId::new(fixture.user_id.as_str()),
        scope: tessera_core::Scope::parse("read").unwrap(),
        created_at: now,
        expires_at: later,
        revoked_at: None,
        jkt: Some(jkt.clone()),
    };
    let first = tessera_core::TokenHash::of("tsr_first");
    store.create_family(&family, Some((&first, later))).await.unwrap();
    assert_eq!(store.get_family(&family.id).await.unwrap().unwrap().jkt, Some(jkt.clone()));
    let (_, found) = store.find_refresh_token(&first).await.unwrap().unwrap();
    assert_eq!(found.jkt, Some(jkt));
}

on_both_backends!(
    the_store_remembers_proofs_and_bound_families,
    bound_tokens_name_the_key,
    bad_proofs_are_refused_exactly,
    a_stolen_bound_refresh_token_is_refused_without_burning_the_family,
    confidential_refresh_tokens_stay_bound_by_client_authentication,
    a_client_requiring_dpop_needs_a_proof,
    a_proof_replayed_at_another_instance_is_refused,
    the_nonce_dance,
);
