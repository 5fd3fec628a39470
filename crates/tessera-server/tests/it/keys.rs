//! Signing keys under attack (issue 10, items 5 and 9): a retired key verifies only while it
//! is in JWKS, `tessera keys revoke` removes a key from both, token lifetimes are capped,
//! and forged tokens with made-up `kid`s cannot delay the pick-up of a rotated key.
//!
//! The forged tokens here are what an attacker holding a leaked private key would make: the
//! test opens the stored key with the master key and signs claims of its choosing.

use crate::helpers::{Fixture, str_field};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tessera_server::admin::{AdminError, WhenActive, revoke_signing_key};
use tessera_server::clock::Clock;
use tessera_server::config::{RawConfig, SigningAlgorithm};
use tessera_server::keys::rotate_keys;
use tessera_server::store::Backend;
use tessera_testkit::{TestDatabase, TestServer};

/// Retired keys verify for one access-token lifetime (1 h) plus one key-refresh interval (60 s).
const RETENTION: Duration = Duration::from_secs(3600 + 60);

fn master(server: &TestServer) -> tessera_core::MasterKey {
    let config = server.service.config();
    tessera_server::master::resolve(config.master_key.as_ref(), &config.database_url).unwrap()
}

fn now_secs(server: &TestServer) -> i64 {
    server.clock.now().secs()
}

fn active_kid(server: &TestServer) -> String {
    server.service.keys().active_kid().unwrap()
}

/// The claims of one of our JWTs.
fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// `claims` signed with the stored key `kid`, as someone holding its private half would sign.
async fn forge(server: &TestServer, kid: &str, claims: &Value) -> String {
    let rows = server.store().list_signing_keys().await.unwrap();
    let row = rows.into_iter().find(|row| row.kid == kid).unwrap();
    let master = master(server);
    let opening = LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, master.signing_key_encryption_key()).unwrap());
    let (nonce, sealed) = row.encrypted_private_key.split_at(12);
    let mut buffer = sealed.to_vec();
    let nonce = Nonce::try_assume_unique_for_key(nonce).unwrap();
    let pkcs8 = opening.open_in_place(nonce, Aad::from(kid.as_bytes()), &mut buffer).unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.typ = Some("at+jwt".into());
    header.kid = Some(kid.into());
    jsonwebtoken::encode(&header, claims, &jsonwebtoken::EncodingKey::from_ec_der(pkcs8)).unwrap()
}

/// The claims of a genuine token for the fixture's user, with `iat` and `exp` replaced.
fn with_times(genuine: &Value, iat: i64, exp: i64) -> Value {
    let mut claims = genuine.clone();
    claims["iat"] = json!(iat);
    claims["exp"] = json!(exp);
    claims["jti"] = json!(uuid::Uuid::new_v4().to_string());
    claims
}

async fn me_status(fixture: &Fixture, server: &TestServer, token: &str) -> u16 {
    let response = fixture.http.get(server.url("/api/1.0/users/me")).bearer_auth(token).send().await.unwrap();
    response.status().as_u16()
}

async fn introspected_active(fixture: &Fixture, token: &str) -> bool {
    let form = [("token", token), ("client_id", &fixture.app.client_id), ("client_secret", fixture.secret())];
    let (status, body) = fixture.post_form("/oauth/introspect", &form).await;
    assert_eq!(status, 200, "{body}");
    body["active"].as_bool().unwrap()
}

async fn published_kids(fixture: &Fixture) -> Vec<String> {
    let jwks: Value = fixture.http.get(fixture.url("/oauth/jwks")).send().await.unwrap().json().await.unwrap();
    jwks["keys"].as_array().unwrap().iter().map(|key| key["kid"].as_str().unwrap().to_owned()).collect()
}

/// `tessera keys rotate` on the database, then the instance's periodic re-read of its keys.
async fn rotate(server: &TestServer) -> String {
    let now = server.clock.now();
    let row = rotate_keys(server.store(), &master(server), SigningAlgorithm::Es256, now).await.unwrap();
    server.service.reload_keys().await.unwrap();
    row.kid
}

async fn a_retired_key_verifies_only_while_it_is_in_jwks(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let server = &fixture.server;
    let (access, _) = fixture.login().await;
    let genuine = claims_of(&access);
    let old_kid = active_kid(server);
    let new_kid = rotate(server).await;
    assert_ne!(old_kid, new_kid);

    // Just retired: tokens it signed (and, for a minute, still signs elsewhere) verify.
    let now = now_secs(server);
    let forged = forge(server, &old_kid, &with_times(&genuine, now, now + 3600)).await;
    assert_eq!(me_status(&fixture, server, &access).await, 200);
    assert_eq!(me_status(&fixture, server, &forged).await, 200);
    assert!(published_kids(&fixture).await.contains(&old_kid));

    // Just before the end of its retention it is still published and still verifies.
    server.clock.advance(RETENTION - Duration::from_secs(2));
    let now = now_secs(server);
    let late = forge(server, &old_kid, &with_times(&genuine, now, now + 3600)).await;
    assert_eq!(me_status(&fixture, server, &late).await, 200);

    // Past it, no genuine token can need the key: it leaves JWKS, and a token signed with it
    // (a leaked key) is refused everywhere, even the one this instance remembered verifying.
    server.clock.advance(Duration::from_secs(3));
    let now = now_secs(server);
    let forged_after = forge(server, &old_kid, &with_times(&genuine, now, now + 3600)).await;
    assert!(!published_kids(&fixture).await.contains(&old_kid));
    assert!(published_kids(&fixture).await.contains(&new_kid));
    assert_eq!(me_status(&fixture, server, &forged_after).await, 401);
    assert!(!introspected_active(&fixture, &forged_after).await);
    assert_eq!(me_status(&fixture, server, &late).await, 401, "a remembered token of the key is refused too");
    assert!(!introspected_active(&fixture, &late).await);
    // The new key's tokens are unaffected.
    let (fresh, _) = fixture.login().await;
    assert_eq!(me_status(&fixture, server, &fresh).await, 200);
}

async fn token_lifetimes_are_capped_and_iat_may_not_be_in_the_future(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let server = &fixture.server;
    let (access, _) = fixture.login().await;
    let genuine = claims_of(&access);
    assert_eq!(genuine["exp"].as_i64().unwrap() - genuine["iat"].as_i64().unwrap(), 3600);
    let kid = active_kid(server);
    let now = now_secs(server);
    // (iat, exp, accepted)
    let cases = [
        (now, now + 3600, true),
        (now - 600, now + 3000, true),
        (now + 60, now + 3660, true),
        (now, now + 3601, false),
        (now - 600, now + 86_400 * 365, false),
        (now + 61, now + 3600, false),
        (now + 86_400, now + 86_400 + 60, false),
        (now + 30, now + 20, false),
    ];
    for (iat, exp, accepted) in cases {
        let forged = forge(server, &kid, &with_times(&genuine, iat, exp)).await;
        let (status, active) =
            (me_status(&fixture, server, &forged).await, introspected_active(&fixture, &forged).await);
        let expected = if accepted { (200, true) } else { (401, false) };
        assert_eq!((status, active), expected, "iat now{:+} exp now{:+}", iat - now, exp - now);
        // Presented again (from the verified-token cache, if it was remembered): same answer.
        assert_eq!(me_status(&fixture, server, &forged).await, expected.0, "again: iat {iat} exp {exp}");
    }
}

async fn revoking_a_key_removes_it_from_jwks_and_verification(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let server = &fixture.server;
    let (access, refresh) = fixture.login().await;
    let genuine = claims_of(&access);
    let kid = active_kid(server);
    assert_eq!(me_status(&fixture, server, &access).await, 200, "verified, and remembered");
    let now = server.clock.now();

    // The only active key is not revoked without a successor.
    let refused = revoke_signing_key(server.store(), now, &kid, WhenActive::Refuse).await;
    assert!(matches!(refused, Err(AdminError::OnlyActiveSigningKey(_))), "{refused:?}");
    assert_eq!(server.store().find_signing_key(&kid).await.unwrap().unwrap().state().name(), "active");
    let unknown = revoke_signing_key(server.store(), now, "no-such-kid", WhenActive::Refuse).await;
    assert!(matches!(unknown, Err(AdminError::NoSuchSigningKey(_))), "{unknown:?}");

    // `tessera keys revoke KID --rotate`, then the instance's periodic re-read of its keys.
    let master = master(server);
    let successor =
        revoke_signing_key(server.store(), now, &kid, WhenActive::RotateFirst(&master, SigningAlgorithm::Es256))
            .await
            .unwrap()
            .unwrap();
    server.service.reload_keys().await.unwrap();
    assert_eq!(active_kid(server), successor.kid);

    assert_eq!(published_kids(&fixture).await, vec![successor.kid.clone()]);
    assert_eq!(me_status(&fixture, server, &access).await, 401, "a remembered token of the revoked key");
    assert!(!introspected_active(&fixture, &access).await);
    let now = now_secs(server);
    let forged = forge(server, &kid, &with_times(&genuine, now, now + 600)).await;
    assert_eq!(me_status(&fixture, server, &forged).await, 401, "a forged token signed with the revoked key");
    assert!(!introspected_active(&fixture, &forged).await);

    // The client refreshes and carries on with the new key.
    let (status, body) = fixture.refresh(&refresh).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(me_status(&fixture, server, &str_field(&body, "access_token")).await, 200);

    let again = revoke_signing_key(server.store(), server.clock.now(), &kid, WhenActive::Refuse).await;
    assert!(matches!(again, Err(AdminError::SigningKeyAlreadyRevoked(_))), "{again:?}");
}

/// Regression (issue 10, item 9): an unknown `kid` used to trigger a key reload at most once
/// per 5 s, so forged tokens with random `kid`s kept the backoff busy and a token signed by a
/// freshly rotated key was refused on an instance that had not re-read its keys yet.
async fn random_kid_spray_does_not_delay_a_rotated_key(backend: Backend) {
    let database = match backend {
        Backend::Sqlite => TestDatabase::sqlite(),
        Backend::Postgres => TestDatabase::postgres().await.expect("TESSERA_TEST_POSTGRES_URL is set"),
    };
    // One deployment: both instances share the database, the master key and the issuer.
    let config = || RawConfig { issuer: Some("http://tessera.test".into()), ..RawConfig::default() };
    let a = Fixture::serve(TestServer::start_on(Arc::clone(&database), config()).await).await;
    let b = TestServer::start_on(database, config()).await;
    let (access, refresh) = a.login().await;
    let genuine = claims_of(&access);
    let kid = active_kid(&a.server);
    // The attacker's tokens: validly shaped, signed by our key, under made-up kids.
    for n in 0..20 {
        let forged = forge(&a.server, &kid, &genuine).await;
        let (header, rest) = forged.split_once('.').unwrap();
        let mut header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
        header["kid"] = json!(URL_SAFE_NO_PAD.encode(format!("made-up key number {n:02} of many")));
        let forged = format!("{}.{rest}", URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap()));
        assert_eq!(me_status(&a, &b, &forged).await, 401);
    }
    // An operator rotates; A picks the key up and signs with it; B has not re-read its keys.
    let new_kid = rotate(&a.server).await;
    let (status, body) = a.refresh(&refresh).await;
    assert_eq!(status, 200, "{body}");
    let new_access = str_field(&body, "access_token");
    assert_eq!(me_status(&a, &b, &new_access).await, 200, "B refused a token of the new key {new_kid}");
}

/// Store conformance: looking a key up, and revocation's guard for the last active key.
async fn store_finds_and_revokes_signing_keys(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let store = fixture.server.store();
    let first = active_kid(&fixture.server);
    let now = fixture.server.clock.now();
    assert!(store.find_signing_key("missing").await.unwrap().is_none());
    let found = store.find_signing_key(&first).await.unwrap().unwrap();
    assert_eq!((found.kid.as_str(), found.retired_at, found.revoked_at), (first.as_str(), None, None));
    assert!(!store.revoke_signing_key(&first, now).await.unwrap(), "the only active key stays");
    assert!(!store.revoke_signing_key("missing", now).await.unwrap());

    let master = master(&fixture.server);
    let second = rotate_keys(store, &master, SigningAlgorithm::Es256, now).await.unwrap().kid;
    let later = now.plus(Duration::from_secs(5));
    assert!(store.revoke_signing_key(&first, later).await.unwrap(), "a retired key");
    assert!(!store.revoke_signing_key(&first, later).await.unwrap(), "already revoked");
    let revoked = store.find_signing_key(&first).await.unwrap().unwrap();
    assert_eq!((revoked.retired_at, revoked.revoked_at), (Some(now), Some(later)), "retirement kept");
    assert_eq!(revoked.state().name(), "revoked");
    assert!(!store.revoke_signing_key(&second, later).await.unwrap(), "now the only active key");
    // Two active keys (two instances created one each on a first start): either may go.
    let third = tessera_server::keys::generate_key(&master, SigningAlgorithm::Es256, later).unwrap();
    store.insert_signing_key(&third).await.unwrap();
    assert!(store.revoke_signing_key(&second, later).await.unwrap());
    let revoked = store.find_signing_key(&second).await.unwrap().unwrap();
    assert_eq!((revoked.retired_at, revoked.revoked_at), (Some(later), Some(later)), "revoked keys are retired");
    let listed = store.list_signing_keys().await.unwrap();
    let states: Vec<(&str, &str)> = listed.iter().map(|key| (key.kid.as_str(), key.state().name())).collect();
    assert_eq!(states.len(), 3);
    assert!(states.contains(&(third.kid.as_str(), "active")), "{states:?}");
    assert!(states.contains(&(second.as_str(), "revoked")), "{states:?}");
    assert!(states.contains(&(first.as_str(), "revoked")), "{states:?}");
}

/// Two admins revoking the last two active keys at once: one of them must be refused, on
/// every round (on PostgreSQL this needs the lock `revoke_signing_key` takes).
async fn concurrent_revocations_leave_an_active_key(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let store = fixture.server.store();
    let master = master(&fixture.server);
    let now = fixture.server.clock.now();
    for round in 0..20 {
        // Exactly two active keys: a new one that every other is retired for, then another.
        let key = || tessera_server::keys::generate_key(&master, SigningAlgorithm::Es256, now).unwrap();
        let (first, second) = (key(), key());
        store.insert_signing_key(&first).await.unwrap();
        store.retire_signing_keys_except(&first.kid, now).await.unwrap();
        store.insert_signing_key(&second).await.unwrap();
        let (first, second) = (first.kid, second.kid);
        let (a, b) = tokio::join!(store.revoke_signing_key(&first, now), store.revoke_signing_key(&second, now));
        let revoked = [a.unwrap(), b.unwrap()];
        assert!(revoked.contains(&false), "round {round}: both revoked: {revoked:?}");
        let active =
            store.list_signing_keys().await.unwrap().iter().filter(|key| key.state().name() == "active").count();
        assert_eq!(active, 1, "round {round}");
    }
}

on_both_backends!(
    concurrent_revocations_leave_an_active_key,
    a_retired_key_verifies_only_while_it_is_in_jwks,
    token_lifetimes_are_capped_and_iat_may_not_be_in_the_future,
    revoking_a_key_removes_it_from_jwks_and_verification,
    random_kid_spray_does_not_delay_a_rotated_key,
    store_finds_and_revokes_signing_keys,
);
