//! Several instances on one database behave as one server (DESIGN.md §6): tokens, keys,
//! rotation races, reuse detection and revocation cross instances.

use crate::helpers::{Fixture, PASSWORD, USERNAME, str_field};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tessera_server::config::RawConfig;
use tessera_server::keys::rotate_keys;
use tessera_server::store::Backend;
use tessera_testkit::{TestDatabase, TestServer};

/// One deployment: every instance shares the database, the master key and the public issuer.
fn instance_config() -> RawConfig {
    RawConfig { issuer: Some("http://tessera.test".into()), ..RawConfig::default() }
}

async fn database(backend: Backend) -> Arc<TestDatabase> {
    match backend {
        Backend::Sqlite => TestDatabase::sqlite(),
        Backend::Postgres => TestDatabase::postgres().await.expect("TESSERA_TEST_POSTGRES_URL is set"),
    }
}

/// Instance A (with the fixture's clients and user) and a plain instance B on the same database.
async fn two_instances(backend: Backend, b_config: RawConfig) -> (Fixture, TestServer) {
    let database = database(backend).await;
    let a = Fixture::serve(TestServer::start_on(Arc::clone(&database), instance_config()).await).await;
    let b = TestServer::start_on(database, b_config.or(instance_config())).await;
    (a, b)
}

async fn refresh_at(fixture: &Fixture, server: &TestServer, token: &str) -> (u16, serde_json::Value) {
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", token),
        ("client_id", fixture.app.client_id.as_str()),
        ("client_secret", fixture.secret()),
    ];
    let response = fixture.http.post(server.url("/oauth/token")).form(&form).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn me_at(fixture: &Fixture, server: &TestServer, access_token: &str) -> u16 {
    let response = fixture.http.get(server.url("/api/1.0/users/me")).bearer_auth(access_token).send().await.unwrap();
    response.status().as_u16()
}

async fn tokens_cross_instances(backend: Backend) {
    let (a, b) = two_instances(backend, RawConfig::default()).await;
    let (access_a, refresh_a) = a.login().await;
    // Minted on A, refreshed on B; B's access token accepted by A and listed in A's JWKS.
    let (status, body) = refresh_at(&a, &b, &refresh_a).await;
    assert_eq!(status, 200, "{body}");
    let access_b = str_field(&body, "access_token");
    assert_eq!(me_at(&a, &a.server, &access_b).await, 200);
    assert_eq!(me_at(&a, &b, &access_a).await, 200);
    let jwks: serde_json::Value = a.http.get(a.url("/oauth/jwks")).send().await.unwrap().json().await.unwrap();
    let header = access_b.split('.').next().unwrap();
    let header: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, header).unwrap(),
    )
    .unwrap();
    assert!(jwks["keys"].as_array().unwrap().iter().any(|key| key["kid"] == header["kid"]), "{jwks}");
    assert_eq!(a.server.service.keys().active_kid(), b.service.keys().active_kid(), "one key for the deployment");
}

async fn forty_way_race_over_two_instances_yields_one_successor(backend: Backend) {
    let (a, b) = two_instances(backend, RawConfig::default()).await;
    let (a, b) = (Arc::new(a), Arc::new(b));
    let (_, token) = a.login().await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..40 {
        let (a, b, token) = (Arc::clone(&a), Arc::clone(&b), token.clone());
        tasks.spawn(async move {
            if i % 2 == 0 { refresh_at(&a, &a.server, &token).await } else { refresh_at(&a, &b, &token).await }
        });
    }
    let mut successors = HashSet::new();
    while let Some(result) = tasks.join_next().await {
        let (status, body) = result.unwrap();
        assert_eq!(status, 200, "{body}");
        successors.insert(str_field(&body, "refresh_token"));
    }
    assert_eq!(successors.len(), 1, "{successors:?}");
    let successor = successors.into_iter().next().unwrap();
    assert_eq!(refresh_at(&a, &b, &successor).await.0, 200);
}

async fn reuse_on_one_instance_kills_the_family_on_the_other(backend: Backend) {
    // B trusts no cached revocation answer, so the effect on its access tokens is immediate;
    // with the default 5 s cache it would be at most 5 s late (the documented bound).
    let no_cache = RawConfig { revocation_cache_ttl: Some("0s".into()), ..RawConfig::default() };
    let (a, b) = two_instances(backend, no_cache).await;
    let (_, first) = a.login().await;
    let (_, body) = refresh_at(&a, &b, &first).await;
    let second = str_field(&body, "refresh_token");
    let (_, body) = refresh_at(&a, &b, &second).await;
    let newest_refresh = str_field(&body, "refresh_token");
    let newest_access = str_field(&body, "access_token");
    assert_eq!(me_at(&a, &b, &newest_access).await, 200);
    // The attacker replays `first` on A: its successor was used, so this is reuse.
    let (status, body) = refresh_at(&a, &a.server, &first).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    // B refuses the family's newest refresh token at once, and its access token.
    let (status, body) = refresh_at(&a, &b, &newest_refresh).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    assert_eq!(me_at(&a, &b, &newest_access).await, 401);
}

async fn key_rotation_keeps_old_tokens_and_signs_new_ones_with_the_new_key(backend: Backend) {
    let (a, b) = two_instances(backend, RawConfig::default()).await;
    let (old_access, refresh) = a.login().await;
    let old_kid = a.server.service.keys().active_kid().unwrap();
    // `tessera keys rotate`, as the CLI does it: straight on the shared database.
    let master = tessera_server::master::resolve(
        a.server.service.config().master_key.as_ref(),
        &a.server.service.config().database_url,
    )
    .unwrap();
    let now = tessera_server::clock::Clock::now(&a.server.clock);
    let new_key =
        rotate_keys(a.server.store(), &master, tessera_server::config::SigningAlgorithm::Es256, now).await.unwrap();
    // B has not re-read its keys yet (that happens every 60 s), but a token signed with a kid it
    // does not know makes it reload at once. Here A reloads on its periodic schedule.
    a.server.service.keys().reload().await.unwrap();
    assert_eq!(a.server.service.keys().active_kid().as_deref(), Some(new_key.kid.as_str()));
    let (status, body) = refresh_at(&a, &a.server, &refresh).await;
    assert_eq!(status, 200, "{body}");
    let new_access = str_field(&body, "access_token");
    let kid_of = |token: &str| -> String {
        let header = token.split('.').next().unwrap();
        let header: serde_json::Value = serde_json::from_slice(
            &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, header).unwrap(),
        )
        .unwrap();
        header["kid"].as_str().unwrap().to_owned()
    };
    assert_eq!(kid_of(&new_access), new_key.kid);
    assert_eq!(kid_of(&old_access), old_kid);
    for server in [&a.server, &b] {
        assert_eq!(me_at(&a, server, &old_access).await, 200, "old token still valid");
        assert_eq!(me_at(&a, server, &new_access).await, 200, "new token valid everywhere");
    }
    let jwks = |server: &TestServer| {
        server.service.keys().jwks(tessera_server::clock::Clock::now(&server.clock), Duration::from_secs(3600))
    };
    let kids: HashSet<String> = jwks(&b).keys.into_iter().map(|key| key.kid).collect();
    assert_eq!(kids, HashSet::from([old_kid.clone(), new_key.kid.clone()]));
    // Once every token the old key signed has expired, it drops out of JWKS.
    b.clock.advance(Duration::from_secs(3601));
    let kids: HashSet<String> = jwks(&b).keys.into_iter().map(|key| key.kid).collect();
    assert_eq!(kids, HashSet::from([new_key.kid.clone()]));
}

async fn instances_starting_together_migrate_once(backend: Backend) {
    let database = database(backend).await;
    let (a, b, c) = tokio::join!(
        TestServer::start_on(Arc::clone(&database), instance_config()),
        TestServer::start_on(Arc::clone(&database), instance_config()),
        TestServer::start_on(Arc::clone(&database), instance_config()),
    );
    let fixture = Fixture::serve(a).await;
    assert_eq!(me_at(&fixture, &b, &fixture.login().await.0).await, 200);
    assert_eq!(me_at(&fixture, &c, &fixture.login().await.0).await, 200);
}

on_both_backends!(
    tokens_cross_instances,
    forty_way_race_over_two_instances_yields_one_successor,
    reuse_on_one_instance_kills_the_family_on_the_other,
    key_rotation_keeps_old_tokens_and_signs_new_ones_with_the_new_key,
    instances_starting_together_migrate_once,
);

/// `pg_dump` of a used database holds no refresh token, client secret or password in clear.
#[tokio::test]
async fn pg_dump_holds_no_secret_in_clear() {
    if tessera_testkit::postgres_url().is_none() {
        tessera_testkit::report_skipped("it::scale_out::pg_dump_holds_no_secret_in_clear");
        return;
    }
    let fixture = Fixture::on(Backend::Postgres, RawConfig::default()).await;
    let (access_token, first) = fixture.login().await;
    let (_, body) = fixture.refresh(&first).await;
    let second = str_field(&body, "refresh_token");
    let output = tokio::process::Command::new("pg_dump")
        .arg("--data-only")
        .arg(&fixture.server.database_url)
        .output()
        .await
        .expect("pg_dump runs");
    assert!(output.status.success(), "pg_dump failed: {}", String::from_utf8_lossy(&output.stderr));
    let dump = String::from_utf8_lossy(&output.stdout);
    assert!(dump.contains(USERNAME), "the dump has the data (sanity check)");
    for (what, secret) in [
        ("refresh token", first.as_str()),
        ("rotated refresh token", second.as_str()),
        ("client secret", fixture.secret()),
        ("password", PASSWORD),
        ("access token", access_token.as_str()),
        ("master key", tessera_testkit::TEST_MASTER_KEY),
    ] {
        assert!(!dump.contains(secret), "{what} found in clear in pg_dump");
    }
    // Nor the bare 256-bit part of a token without its prefix.
    assert!(!dump.contains(&second[4..]));
}

/// PostgreSQL is shared by instances, so there is no key file to fall back on.
#[tokio::test]
async fn postgres_without_a_master_key_is_a_clear_start_error() {
    let Some(url) = tessera_testkit::postgres_url() else {
        tessera_testkit::report_skipped("it::scale_out::postgres_without_a_master_key_is_a_clear_start_error");
        return;
    };
    let config = RawConfig { database_url: Some(url), listen: Some("127.0.0.1:0".into()), ..RawConfig::default() }
        .resolve()
        .unwrap();
    let error = tessera_server::App::build(config).await.err().expect("start must fail");
    assert!(error.to_string().contains("TESSERA_MASTER_KEY is required"), "{error}");
}
