//! The refresh-token lifecycle over HTTP (DESIGN.md §4): rotation, concurrency, the grace
//! window, reuse detection, lifetimes, revocation, introspection and the janitor.

use crate::helpers::{Fixture, str_field};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tessera_server::config::RawConfig;
use tessera_server::store::Backend;
use tessera_server::store::CountedTable;

fn grace(value: &str) -> RawConfig {
    RawConfig { refresh_grace: Some(value.into()), ..RawConfig::default() }
}

async fn refresh_rotates_and_the_successor_works(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let (_, first) = fixture.login().await;
    let (status, body) = fixture.refresh(&first).await;
    assert_eq!(status, 200, "{body}");
    let second = str_field(&body, "refresh_token");
    assert_ne!(second, first);
    assert!(second.starts_with("tsr_"));
    let response = fixture.me(&str_field(&body, "access_token")).await;
    assert_eq!(response.status(), 200);
    let (status, body) = fixture.refresh(&second).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn only_hashes_are_stored() {
    let fixture = Fixture::start().await;
    let (_, refresh_token) = fixture.login().await;
    let path = fixture.server.directory.join("tessera.db");
    fixture.server.service.store().close().await;
    let bytes = std::fs::read(&path).unwrap();
    let wal = std::fs::read(path.with_extension("db-wal")).unwrap_or_default();
    for haystack in [&bytes, &wal] {
        let text = String::from_utf8_lossy(haystack);
        assert!(!text.contains(&refresh_token), "refresh token stored in clear");
        assert!(!text.contains(fixture.secret()), "client secret stored in clear");
        assert!(!text.contains("correct horse"), "password stored in clear");
    }
}

async fn spent_token_inside_grace_returns_the_same_successor(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let (_, first) = fixture.login().await;
    let (_, body) = fixture.refresh(&first).await;
    let successor = str_field(&body, "refresh_token");
    fixture.server.clock.advance(Duration::from_secs(10));
    let (status, again) = fixture.refresh(&first).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(str_field(&again, "refresh_token"), successor, "same successor: the family does not fork");
    assert_ne!(str_field(&again, "access_token"), str_field(&body, "access_token"), "a fresh access token");
    let (status, _) = fixture.refresh(&successor).await;
    assert_eq!(status, 200);
}

async fn fifty_concurrent_refreshes_all_succeed_with_one_successor(backend: Backend) {
    let fixture = Arc::new(Fixture::on(backend, RawConfig::default()).await);
    let (_, token) = fixture.login().await;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let fixture = Arc::clone(&fixture);
        let token = token.clone();
        tasks.spawn(async move { fixture.refresh(&token).await });
    }
    let mut successors = HashSet::new();
    while let Some(result) = tasks.join_next().await {
        let (status, body) = result.unwrap();
        assert_eq!(status, 200, "{body}");
        successors.insert(str_field(&body, "refresh_token"));
    }
    assert_eq!(successors.len(), 1, "one successor for the whole family: {successors:?}");
    // Two refresh-token rows: the spent one and its single successor.
    assert_eq!(fixture.server.store().count_rows(CountedTable::RefreshTokens).await.unwrap(), 2);
    let successor = successors.into_iter().next().unwrap();
    let (status, _) = fixture.refresh(&successor).await;
    assert_eq!(status, 200);
}

async fn without_grace_thirty_concurrent_refreshes_yield_at_most_one_success_then_revocation(backend: Backend) {
    let fixture = Arc::new(Fixture::on(backend, grace("0s")).await);
    let (_, token) = fixture.login().await;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..30 {
        let fixture = Arc::clone(&fixture);
        let token = token.clone();
        tasks.spawn(async move { fixture.refresh(&token).await });
    }
    let mut successes = Vec::new();
    while let Some(result) = tasks.join_next().await {
        let (status, body) = result.unwrap();
        assert!(status < 500, "no 5xx: {status} {body}");
        if status == 200 {
            successes.push(str_field(&body, "refresh_token"));
        } else {
            assert_eq!(body["error"], "invalid_grant", "{body}");
        }
    }
    assert!(successes.len() <= 1, "at most one 200, got {}", successes.len());
    // Every other request was reuse: the family is revoked, the winner's successor included.
    if let Some(successor) = successes.first() {
        let (status, body) = fixture.refresh(successor).await;
        assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    }
}

async fn reuse_after_the_successor_was_used_revokes_the_family(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let (_, first) = fixture.login().await;
    let (_, body) = fixture.refresh(&first).await;
    let second = str_field(&body, "refresh_token");
    let (_, body) = fixture.refresh(&second).await;
    let third = str_field(&body, "refresh_token");
    let newest_access = str_field(&body, "access_token");
    assert_eq!(fixture.me(&newest_access).await.status(), 200);
    // An attacker replays `first` (still inside the grace window by the clock, but its
    // successor has been used): reuse.
    let (status, body) = fixture.refresh(&first).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    // The newest refresh token and the newest access token of the family are dead.
    let (status, body) = fixture.refresh(&third).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    assert_eq!(fixture.me(&newest_access).await.status(), 401, "on this instance the effect is immediate");
    let introspected = introspect(&fixture, &newest_access).await;
    assert_eq!(introspected, serde_json::json!({"active": false}));
    // Another family of the same user and client is untouched.
    let (other_access, other_refresh) = fixture.login().await;
    assert_eq!(fixture.me(&other_access).await.status(), 200);
    assert_eq!(fixture.refresh(&other_refresh).await.0, 200);
}

async fn reuse_outside_the_grace_window_revokes_the_family(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let (_, first) = fixture.login().await;
    let (_, body) = fixture.refresh(&first).await;
    let second = str_field(&body, "refresh_token");
    fixture.server.clock.advance(Duration::from_secs(31));
    let (status, _) = fixture.refresh(&first).await;
    assert_eq!(status, 400);
    let (status, body) = fixture.refresh(&second).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
}

async fn idle_and_absolute_lifetimes(backend: Backend) {
    let config =
        RawConfig { refresh_idle_ttl: Some("1h".into()), refresh_max_ttl: Some("3h".into()), ..RawConfig::default() };
    let fixture = Fixture::on(backend, config).await;
    let clock = &fixture.server.clock;
    // Idle: unused for an hour, the token expires.
    let (_, idle) = fixture.login().await;
    clock.advance(Duration::from_secs(3600));
    let (status, body) = fixture.refresh(&idle).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    assert!(body["error_description"].as_str().unwrap().contains("unused"), "{body}");
    // Absolute: refreshed every 50 minutes, the family still ends 3 hours after it began.
    let (_, mut token) = fixture.login().await;
    for _ in 0..3 {
        clock.advance(Duration::from_secs(50 * 60));
        let (status, body) = fixture.refresh(&token).await;
        assert_eq!(status, 200, "{body}");
        token = str_field(&body, "refresh_token");
    }
    clock.advance(Duration::from_secs(31 * 60));
    let (status, body) = fixture.refresh(&token).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    assert!(body["error_description"].as_str().unwrap().contains("maximum"), "{body}");
}

async fn introspect(fixture: &Fixture, token: &str) -> serde_json::Value {
    let (status, body) = fixture
        .post_form(
            "/oauth/introspect",
            &[("token", token), ("client_id", &fixture.app.client_id), ("client_secret", fixture.secret())],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn revoke(fixture: &Fixture, token: &str, hint: Option<&str>) -> u16 {
    let mut form = vec![("token", token), ("client_id", &fixture.app.client_id), ("client_secret", fixture.secret())];
    if let Some(hint) = hint {
        form.push(("token_type_hint", hint));
    }
    fixture.post_form("/oauth/revoke", &form).await.0
}

async fn introspection(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let (access_token, refresh_token) = fixture.login().await;
    let body = introspect(&fixture, &access_token).await;
    assert_eq!(body["active"], true);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["username"], "alice");
    assert_eq!(body["client_id"], fixture.app.client_id.as_str());
    assert_eq!(body["scope"], "read write");
    assert_eq!(body["sub"], fixture.user_id.as_str());
    assert!(body["exp"].is_i64() && body["iat"].is_i64());
    let body = introspect(&fixture, &refresh_token).await;
    assert_eq!(body["active"], true);
    assert_eq!(body["token_type"], "refresh_token");
    assert_eq!(body["username"], "alice");
    for junk in ["", "garbage", "tsr_nope", "a.b.c"] {
        if junk.is_empty() {
            continue;
        }
        assert_eq!(introspect(&fixture, junk).await, serde_json::json!({"active": false}), "{junk}");
    }
    // A spent refresh token is no longer active, even inside the grace window.
    fixture.refresh(&refresh_token).await;
    assert_eq!(introspect(&fixture, &refresh_token).await["active"], false);
    // Expired access token.
    fixture.server.clock.advance(Duration::from_secs(3601));
    assert_eq!(introspect(&fixture, &access_token).await["active"], false);
}

async fn introspection_requires_client_authentication(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let (access_token, _) = fixture.login().await;
    let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("no credentials", vec![("token", &access_token)]),
        ("wrong secret", vec![("token", &access_token), ("client_id", &fixture.app.client_id), ("client_secret", "x")]),
        ("public client", vec![("token", &access_token), ("client_id", &fixture.public.client_id)]),
    ];
    for (name, form) in cases {
        let (status, body) = fixture.post_form("/oauth/introspect", &form).await;
        assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")), "{name}: {body}");
    }
    let (status, body) = fixture
        .post_form("/oauth/introspect", &[("client_id", &fixture.app.client_id), ("client_secret", fixture.secret())])
        .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_request")), "missing token: {body}");
}

async fn revoking_a_refresh_token_revokes_its_family(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let (access_token, first) = fixture.login().await;
    let (_, body) = fixture.refresh(&first).await;
    let second = str_field(&body, "refresh_token");
    let second_access = str_field(&body, "access_token");
    assert_eq!(revoke(&fixture, &second, Some("refresh_token")).await, 200);
    assert_eq!(fixture.refresh(&second).await.0, 400);
    assert_eq!(fixture.me(&access_token).await.status(), 401);
    assert_eq!(fixture.me(&second_access).await.status(), 401);
    assert_eq!(introspect(&fixture, &second).await["active"], false);
}

async fn revoking_an_access_token_revokes_that_token_only(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let (access_token, refresh_token) = fixture.login().await;
    // A wrong hint is honoured but not trusted.
    assert_eq!(revoke(&fixture, &access_token, Some("refresh_token")).await, 200);
    assert_eq!(fixture.me(&access_token).await.status(), 401);
    assert_eq!(introspect(&fixture, &access_token).await["active"], false);
    let (status, body) = fixture.refresh(&refresh_token).await;
    assert_eq!(status, 200, "the family lives on: {body}");
    assert_eq!(fixture.me(&str_field(&body, "access_token")).await.status(), 200);
}

async fn revocation_edge_cases(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let (access_token, refresh_token) = fixture.login().await;
    // Unknown tokens answer 200 (RFC 7009 §2.2).
    assert_eq!(revoke(&fixture, "tsr_unknown", None).await, 200);
    assert_eq!(revoke(&fixture, "garbage", Some("access_token")).await, 200);
    // Another client cannot revoke our tokens; it is told nothing.
    let other_secret = fixture.other.client_secret.clone().unwrap_or_default();
    for token in [&refresh_token, &access_token] {
        let form =
            [("token", token.as_str()), ("client_id", &fixture.other.client_id), ("client_secret", &other_secret)];
        assert_eq!(fixture.post_form("/oauth/revoke", &form).await.0, 200);
    }
    assert_eq!(fixture.me(&access_token).await.status(), 200);
    assert_eq!(fixture.refresh(&refresh_token).await.0, 200);
    // Unauthenticated revocation is refused.
    let (status, body) = fixture.post_form("/oauth/revoke", &[("token", &refresh_token)]).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")), "{body}");
    // A public client may revoke its own tokens with just its id.
    let form = [
        ("grant_type", "password"),
        ("username", crate::helpers::USERNAME),
        ("password", crate::helpers::PASSWORD),
        ("client_id", fixture.public.client_id.as_str()),
    ];
    let (_, body) = fixture.post_form("/oauth/token", &form).await;
    let public_refresh = str_field(&body, "refresh_token");
    let form = [("token", public_refresh.as_str()), ("client_id", fixture.public.client_id.as_str())];
    assert_eq!(fixture.post_form("/oauth/revoke", &form).await.0, 200);
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", public_refresh.as_str()),
        ("client_id", fixture.public.client_id.as_str()),
    ];
    assert_eq!(fixture.post_form("/oauth/token", &form).await.0, 400);
}

async fn janitor_keeps_the_database_bounded_under_steady_refresh_traffic(backend: Backend) {
    // A client that refreshes every 10 minutes for 10 days, and logs in again whenever its
    // family reaches the maximum lifetime (1 day here): 1440 refreshes. Spent tokens are kept
    // as long as their family (reuse detection needs them); families go after they end.
    let config = RawConfig {
        refresh_idle_ttl: Some("1h".into()),
        refresh_max_ttl: Some("1d".into()),
        access_token_ttl: Some("5m".into()),
        ..RawConfig::default()
    };
    let fixture = Fixture::on(backend, config).await;
    let janitor = fixture.server_janitor();
    let (_, mut token) = fixture.login().await;
    let (mut largest_tokens, mut largest_families, mut logins) = (0, 0, 1);
    for round in 1..=1440 {
        fixture.server.clock.advance(Duration::from_secs(600));
        let (status, body) = fixture.refresh(&token).await;
        token = if status == 200 {
            str_field(&body, "refresh_token")
        } else {
            assert!(body["error_description"].as_str().unwrap().contains("maximum"), "round {round}: {body}");
            logins += 1;
            fixture.login().await.1
        };
        if round % 36 == 0 {
            janitor.run_once().await.unwrap();
            let store = fixture.server.store();
            largest_tokens = largest_tokens.max(store.count_rows(CountedTable::RefreshTokens).await.unwrap());
            largest_families = largest_families.max(store.count_rows(CountedTable::RefreshFamilies).await.unwrap());
        }
    }
    // One family's day of refreshes (144) plus its live token, and at times the previous
    // family's rows until one access-token lifetime after it ended.
    assert!(logins >= 10, "{logins} logins");
    assert!(largest_tokens <= 2 * 145, "{largest_tokens} refresh-token rows at most, after 1440 refreshes");
    assert!(largest_families <= 2, "{largest_families} families at most");
    assert_eq!(fixture.refresh(&token).await.0, 200, "the live family is untouched");
    // Revoked families go too, one access-token lifetime after revocation.
    let families = fixture.server.store().count_rows(CountedTable::RefreshFamilies).await.unwrap();
    let (_, other) = fixture.login().await;
    assert_eq!(revoke(&fixture, &other, None).await, 200);
    fixture.server.clock.advance(Duration::from_secs(301));
    janitor.run_once().await.unwrap();
    assert!(fixture.server.store().count_rows(CountedTable::RefreshFamilies).await.unwrap() <= families);
    println!(
        "janitor: at most {largest_tokens} refresh-token rows and {largest_families} families over 1440 refreshes and {logins} logins"
    );
}

async fn a_late_replay_is_reuse_even_after_the_janitor_ran(backend: Backend) {
    // A thief refreshes a stolen token; the rightful client, idle past that token's own idle
    // expiry, presents it later: it is still recognised as reuse and revokes the thief's chain.
    let config = RawConfig { refresh_idle_ttl: Some("1d".into()), ..RawConfig::default() };
    let fixture = Fixture::on(backend, config).await;
    let (_, stolen) = fixture.login().await;
    let (_, body) = fixture.refresh(&stolen).await;
    let mut thief = str_field(&body, "refresh_token");
    for _ in 0..3 {
        fixture.server.clock.advance(Duration::from_secs(20 * 3600));
        let (status, body) = fixture.refresh(&thief).await;
        assert_eq!(status, 200, "{body}");
        thief = str_field(&body, "refresh_token");
    }
    fixture.server_janitor().run_once().await.unwrap();
    let (status, body) = fixture.refresh(&stolen).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    assert!(body["error_description"].as_str().unwrap().contains("already used"), "{body}");
    assert_eq!(fixture.refresh(&thief).await.0, 400, "the thief's chain is revoked");
}

on_both_backends!(
    refresh_rotates_and_the_successor_works,
    spent_token_inside_grace_returns_the_same_successor,
    fifty_concurrent_refreshes_all_succeed_with_one_successor,
    without_grace_thirty_concurrent_refreshes_yield_at_most_one_success_then_revocation,
    reuse_after_the_successor_was_used_revokes_the_family,
    reuse_outside_the_grace_window_revokes_the_family,
    idle_and_absolute_lifetimes,
    introspection,
    introspection_requires_client_authentication,
    revoking_a_refresh_token_revokes_its_family,
    revoking_an_access_token_revokes_that_token_only,
    revocation_edge_cases,
    janitor_keeps_the_database_bounded_under_steady_refresh_traffic,
    a_late_replay_is_reuse_even_after_the_janitor_ran,
);
