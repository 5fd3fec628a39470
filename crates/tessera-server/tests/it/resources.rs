//! The protected API (RFC 6750), discovery, JWKS and health; and that secrets stay out of logs.

use crate::helpers::{Fixture, USERNAME};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::time::Duration;
use tessera_server::config::RawConfig;
use tessera_server::store::Backend;

async fn users_me_with_a_valid_token(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let (access_token, _) = fixture.login().await;
    let response = fixture.me(&access_token).await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["username"], USERNAME);
    assert_eq!(body["id"], fixture.user_id.as_str());
    assert_eq!(body["email"], "alice@example.test");
}

async fn users_me_refusals(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let (access_token, _) = fixture.login().await;
    let parts: Vec<&str> = access_token.split('.').collect();
    // Change the payload's subject but keep the signature: must fail verification.
    let mut payload: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    payload["sub"] = "someone-else".into();
    let tampered = format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(payload.to_string()), parts[2]);
    let none_alg = format!("{}.{}.", URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"at+jwt"}"#), parts[1]);
    let cases: &[(&str, Option<String>, Option<&str>)] = &[
        ("no Authorization header", None, None),
        ("Basic instead of Bearer", Some("Basic YTpi".into()), None),
        ("garbage token", Some("Bearer not-a-jwt".into()), Some("invalid_token")),
        ("tampered payload", Some(format!("Bearer {tampered}")), Some("invalid_token")),
        ("alg none", Some(format!("Bearer {none_alg}")), Some("invalid_token")),
        ("a refresh token is not an access token", Some("Bearer tsr_abc".into()), Some("invalid_token")),
    ];
    for (name, header, error) in cases {
        let mut request = fixture.http.get(fixture.url("/api/1.0/users/me"));
        if let Some(header) = header {
            request = request.header("Authorization", header);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401, "{name}");
        let challenge = response.headers()["www-authenticate"].to_str().unwrap().to_owned();
        assert!(challenge.starts_with("Bearer"), "{name}: {challenge}");
        match error {
            Some(code) => assert!(challenge.contains(&format!("error=\"{code}\"")), "{name}: {challenge}"),
            None => assert!(!challenge.contains("error="), "{name}: RFC 6750 §3.1, no error code: {challenge}"),
        }
    }
    // Expiry, by moving the server's clock rather than sleeping.
    fixture.server.clock.advance(Duration::from_secs(3600));
    let response = fixture.me(&access_token).await;
    assert_eq!(response.status(), 401, "expired token");
    assert!(response.headers()["www-authenticate"].to_str().unwrap().contains("invalid_token"));
}

/// A token seen before skips its signature check, never its expiry or revocation checks.
async fn a_token_verified_before_is_still_refused_once_revoked_or_expired(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let (revoked, _) = fixture.login().await;
    let (expiring, _) = fixture.login().await;
    for token in [&revoked, &expiring, &revoked, &expiring] {
        assert_eq!(fixture.me(token).await.status(), 200);
    }
    let form = [
        ("token", revoked.as_str()),
        ("token_type_hint", "access_token"),
        ("client_id", &fixture.app.client_id),
        ("client_secret", fixture.secret()),
    ];
    let (status, body) = fixture.post_form("/oauth/revoke", &form).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(fixture.me(&revoked).await.status(), 401, "revoked through this instance: refused at once");
    assert_eq!(fixture.me(&expiring).await.status(), 200);
    fixture.server.clock.advance(Duration::from_secs(3600));
    assert_eq!(fixture.me(&expiring).await.status(), 401, "expired");
}

async fn access_token_is_an_rfc9068_jwt_listed_in_jwks(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let (access_token, _) = fixture.login().await;
    let parts: Vec<&str> = access_token.split('.').collect();
    let header: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    let claims: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "ES256");
    for claim in ["iss", "sub", "aud", "client_id", "scope", "iat", "exp", "jti"] {
        assert!(!claims[claim].is_null(), "claim {claim} missing: {claims}");
    }
    assert_eq!(claims["iss"], fixture.server.base_url.as_str());
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 3600);
    let jwks: serde_json::Value =
        fixture.http.get(fixture.url("/oauth/jwks")).send().await.unwrap().json().await.unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert!(keys.iter().any(|key| key["kid"] == header["kid"] && key["kty"] == "EC" && key["crv"] == "P-256"));
    assert!(keys.iter().all(|key| key["d"].is_null()), "no private material in JWKS");
}

#[tokio::test]
async fn metadata_and_health() {
    let fixture = Fixture::start().await;
    for path in ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"] {
        let body: serde_json::Value = fixture.http.get(fixture.url(path)).send().await.unwrap().json().await.unwrap();
        assert_eq!(body["issuer"], fixture.server.base_url.as_str());
        assert_eq!(body["token_endpoint"], fixture.url("/oauth/token"));
        assert_eq!(body["jwks_uri"], fixture.url("/oauth/jwks"));
        assert_eq!(body["revocation_endpoint"], fixture.url("/oauth/revoke"));
        // RFC 9207 §3: authorization responses carry `iss`.
        assert_eq!(body["authorization_response_iss_parameter_supported"], true);
    }
    let response = fixture.http.get(fixture.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn metrics_count_grants_decisions_and_bearer_checks() {
    let fixture = Fixture::start().await;
    let (access_token, first) = fixture.login().await;
    let (_, body) = fixture.refresh(&first).await;
    fixture.refresh(&first).await; // grace-window replay
    fixture.refresh(&crate::helpers::str_field(&body, "refresh_token")).await;
    fixture.server.clock.advance(Duration::from_secs(31));
    fixture.refresh(&first).await; // reuse
    fixture.me(&access_token).await;
    let response = fixture.http.get(fixture.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"].to_str().unwrap().starts_with("application/openmetrics-text; version=1.0.0")
    );
    let text = response.text().await.unwrap();
    assert!(text.contains("# TYPE tessera_token_requests counter\n"), "{text}");
    assert!(text.ends_with("# EOF\n"), "{text}");
    for line in [
        "tessera_token_requests_total{grant_type=\"password\",outcome=\"ok\"} 1",
        "tessera_token_requests_total{grant_type=\"refresh_token\",outcome=\"ok\"} 3",
        "tessera_token_requests_total{grant_type=\"refresh_token\",outcome=\"invalid_grant\"} 1",
        "tessera_refresh_decisions_total{decision=\"rotated\"} 2",
        "tessera_refresh_decisions_total{decision=\"replayed\"} 1",
        "tessera_refresh_decisions_total{decision=\"reuse_detected\"} 1",
        "tessera_families_revoked_total{reason=\"refresh token reuse detected\"} 1",
        "tessera_bearer_checks_total{result=\"revoked\"} 1",
        // Latency histograms: one series per endpoint and per grant type.
        "# TYPE tessera_http_request_duration_seconds histogram",
        "tessera_http_request_duration_seconds_count{endpoint=\"token\"} 5",
        "tessera_http_request_duration_seconds_count{endpoint=\"users_me\"} 1",
        "tessera_http_request_duration_seconds_count{endpoint=\"healthz\"} 0",
        "tessera_token_grant_duration_seconds_count{grant_type=\"password\"} 1",
        "tessera_token_grant_duration_seconds_count{grant_type=\"refresh_token\"} 4",
        "tessera_token_grant_duration_seconds_bucket{le=\"+Inf\",grant_type=\"refresh_token\"} 4",
        // The store (SQLite here). The writer updates its counters before it answers a group,
        // so a scrape after the answers counts every operation answered.
        "tessera_store_writer_failed_groups_total 0",
        "tessera_store_writer_queue_depth 0",
        "# TYPE tessera_store_writer_queue_depth gauge",
        "# TYPE tessera_store_writer_groups counter",
        "# TYPE tessera_store_connections gauge",
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
    }
    let value = |name: &str| -> u64 {
        let line = text.lines().find(|l| l.split(' ').next() == Some(name));
        line.and_then(|l| l.split(' ').nth(1)).and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{name}: {text}"))
    };
    // The login and four refreshes each wrote, one after the other: the groups before the last
    // are counted by now (the writer counts a group before it takes the next operation).
    let (groups, operations) =
        (value("tessera_store_writer_groups_total"), value("tessera_store_writer_operations_total"));
    assert!(groups >= 1 && operations >= 1, "groups {groups}, operations {operations}");
    assert!(value("tessera_store_connections") >= 1, "{text}");
    assert!(value("tessera_store_busy_connections") <= value("tessera_store_connections"), "{text}");
}

#[tokio::test]
async fn signing_key_survives_restart_and_is_encrypted_at_rest() {
    let fixture = Fixture::start().await;
    fixture.login().await;
    let rows = fixture.server.store().list_signing_keys().await.unwrap();
    assert_eq!(rows.len(), 1);
    // The stored private key is ciphertext: a clear PKCS#8 EC key would contain the DER of the
    // id-ecPublicKey OID (1.2.840.10045.2.1).
    let oid = [0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01];
    assert!(rows[0].encrypted_private_key.len() > 100);
    assert!(!rows[0].encrypted_private_key.windows(oid.len()).any(|w| w == oid));
    let kid = rows[0].kid.clone();
    let debug = format!("{:?}", rows[0]);
    assert!(!debug.contains("private_key"), "{debug}");
    // A second server on the same database (and so the same key file) loads that key instead of
    // making its own.
    let directory = fixture.server.directory.clone();
    let database_url = fixture.server.database_url.clone();
    let second = tessera_testkit::TestServer::start(tessera_server::config::RawConfig {
        database_url: Some(database_url),
        ..Default::default()
    })
    .await;
    assert_eq!(second.service.keys().active_kid(), Some(kid));
    assert!(directory.join("tessera.db.key").exists());
}

/// Both backends report their connections; only SQLite has a writer thread to count.
async fn metrics_show_the_store_connections(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let (_, refresh_token) = fixture.login().await;
    // The refresh is answered by a later group than the login's, which is counted by then.
    fixture.refresh(&refresh_token).await;
    let text = fixture.http.get(fixture.url("/metrics")).send().await.unwrap().text().await.unwrap();
    let value = |name: &str| -> u64 {
        let line = text.lines().find(|l| l.split(' ').next() == Some(name));
        line.and_then(|l| l.split(' ').nth(1)).and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{name}: {text}"))
    };
    let (connections, busy) = (value("tessera_store_connections"), value("tessera_store_busy_connections"));
    assert!(connections >= 1 && busy <= connections, "connections {connections}, busy {busy}");
    let groups = value("tessera_store_writer_groups_total");
    match backend {
        Backend::Sqlite => assert!(groups >= 1, "{text}"),
        Backend::Postgres => assert_eq!(groups, 0, "no writer thread on PostgreSQL"),
    }
}

on_both_backends!(
    metrics_show_the_store_connections,
    users_me_with_a_valid_token,
    users_me_refusals,
    a_token_verified_before_is_still_refused_once_revoked_or_expired,
    access_token_is_an_rfc9068_jwt_listed_in_jwks,
);
