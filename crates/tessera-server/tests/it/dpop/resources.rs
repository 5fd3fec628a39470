//! DPoP at the resources (RFC 9449 §7): `Authorization: DPoP` with a proof bound to the token
//! at `/api/1.0/users/me` and `/oauth/userinfo`; a bound token as `Bearer` refused with a
//! `DPoP` challenge; introspection shows `cnf` and `token_type`.

use super::proofs::DpopKey;
use super::{password_form, token_proof, token_with};
use crate::helpers::{Fixture, str_field};
use serde_json::Value;
use tessera_server::clock::Clock as _;
use tessera_server::config::RawConfig;
use tessera_server::store::Backend;
use tessera_testkit::TestClient;

/// A bound access token (scope `read openid`) of a new confidential client, and its key.
async fn bound_token(fixture: &Fixture) -> (String, DpopKey, TestClient) {
    let key = DpopKey::es256();
    let client = fixture.server.client("rp", &[], "read openid", false).await;
    let mut form = password_form(&client.client_id, client.client_secret.as_deref());
    form.push(("scope", "read openid"));
    let (status, body, _) =
        token_with(fixture, &fixture.url("/oauth/token"), &form, Some(&token_proof(fixture, &key))).await;
    assert_eq!(status, 200, "{body}");
    (str_field(&body, "access_token"), key, client)
}

/// GETs `path` with `Authorization: {scheme} {token}` and the proof, if any.
async fn get(fixture: &Fixture, path: &str, scheme: &str, token: &str, proof: Option<String>) -> (u16, String, Value) {
    let mut request = fixture.http.get(fixture.url(path)).header("Authorization", format!("{scheme} {token}"));
    if let Some(proof) = proof {
        request = request.header("DPoP", proof);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let challenge =
        response.headers().get("www-authenticate").map(|value| value.to_str().unwrap().to_owned()).unwrap_or_default();
    (status, challenge, response.json().await.unwrap_or(Value::Null))
}

async fn resources_take_bound_tokens_with_proofs_only(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let (token, key, _) = bound_token(&fixture).await;
    let now = || fixture.server.clock.now().secs();
    for path in ["/api/1.0/users/me", "/oauth/userinfo"] {
        let url = fixture.url(path);
        let proof = || Some(key.proof("GET", &url, now(), Some(&token), None));
        let (status, _, body) = get(&fixture, path, "DPoP", &token, proof()).await;
        assert_eq!(status, 200, "{path}: {body}");

        let other_key = DpopKey::ed25519();
        let rows: Vec<(&str, &str, Option<String>, &str)> = vec![
            ("bound token as Bearer", "Bearer", None, "invalid_token"),
            ("bound token as Bearer, with a proof", "Bearer", proof(), "invalid_token"),
            ("no proof", "DPoP", None, "invalid_dpop_proof"),
            ("missing ath", "DPoP", Some(key.proof("GET", &url, now(), None, None)), "invalid_dpop_proof"),
            (
                "ath of another token",
                "DPoP",
                Some(key.proof("GET", &url, now(), Some("other"), None)),
                "invalid_dpop_proof",
            ),
            (
                "another key",
                "DPoP",
                Some(other_key.proof("GET", &url, now(), Some(&token), None)),
                "invalid_dpop_proof",
            ),
            ("wrong htm", "DPoP", Some(key.proof("POST", &url, now(), Some(&token), None)), "invalid_dpop_proof"),
            (
                "the token endpoint's htu",
                "DPoP",
                Some(key.proof("GET", &fixture.url("/oauth/token"), now(), Some(&token), None)),
                "invalid_dpop_proof",
            ),
            ("old iat", "DPoP", Some(key.proof("GET", &url, now() - 61, Some(&token), None)), "invalid_dpop_proof"),
        ];
        for (name, scheme, proof, error) in rows {
            let (status, challenge, body) = get(&fixture, path, scheme, &token, proof).await;
            assert_eq!((status, body["error"].as_str()), (401, Some(error)), "{path}, {name}: {body}");
            assert!(challenge.starts_with("DPoP "), "{path}, {name}: {challenge}");
            assert!(challenge.contains(&format!("error=\"{error}\"")), "{path}, {name}: {challenge}");
        }
        // Two DPoP headers: one proof is what a request may carry (RFC 9449 §4.3).
        let response = fixture
            .http
            .get(&url)
            .header("Authorization", format!("DPoP {token}"))
            .header("DPoP", proof().unwrap())
            .header("DPoP", proof().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{path}");
        assert!(response.headers()["www-authenticate"].to_str().unwrap().contains("invalid_dpop_proof"));
        // A proof is used once, here too.
        let used = proof();
        assert_eq!(get(&fixture, path, "DPoP", &token, used.clone()).await.0, 200, "{path}");
        let (status, _, body) = get(&fixture, path, "DPoP", &token, used).await;
        assert_eq!((status, body["error"].as_str()), (401, Some("invalid_dpop_proof")), "{path}: {body}");
    }
    // A token that is not bound is a bearer token, not a DPoP one.
    let (plain, _) = fixture.login().await;
    let url = fixture.url("/api/1.0/users/me");
    let (status, challenge, _) =
        get(&fixture, "/api/1.0/users/me", "DPoP", &plain, Some(key.proof("GET", &url, now(), Some(&plain), None)))
            .await;
    assert_eq!(status, 401);
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    assert_eq!(get(&fixture, "/api/1.0/users/me", "Bearer", &plain, None).await.0, 200);
}

async fn introspection_shows_the_binding(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let (token, key, client) = bound_token(&fixture).await;
    let secret = client.client_secret.as_deref().unwrap_or_default();
    let form = [("token", token.as_str()), ("client_id", &client.client_id), ("client_secret", secret)];
    let (status, body) = fixture.post_form("/oauth/introspect", &form).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["active"], true);
    assert_eq!(body["token_type"], "DPoP");
    assert_eq!(body["cnf"]["jkt"], key.thumbprint(), "{body}");
    let (plain, _) = fixture.login().await;
    let form = [("token", plain.as_str()), ("client_id", &fixture.app.client_id), ("client_secret", fixture.secret())];
    let (_, body) = fixture.post_form("/oauth/introspect", &form).await;
    assert_eq!(body["token_type"], "Bearer");
    assert!(body.get("cnf").is_none(), "{body}");
}

async fn discovery_lists_the_proof_algorithms(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    for path in ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"] {
        let body: Value = fixture.http.get(fixture.url(path)).send().await.unwrap().json().await.unwrap();
        assert_eq!(body["dpop_signing_alg_values_supported"], serde_json::json!(["ES256", "EdDSA"]), "{path}");
    }
}

on_both_backends!(
    resources_take_bound_tokens_with_proofs_only,
    introspection_shows_the_binding,
    discovery_lists_the_proof_algorithms,
);
