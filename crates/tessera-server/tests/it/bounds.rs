//! The rows one grant can make the database hold (issue 10, item 4): a refresh-token family
//! keeps its live token and its last few spent ones however often it is refreshed, reuse of a
//! spent token it no longer holds still revokes it, a user's pending authorization codes are
//! capped, and a deleted client's families go in batches.

use crate::helpers::{Fixture, str_field};
use std::time::Duration;
use tessera_core::{ClientId, Scope, Timestamp, TokenHash, UserId};
use tessera_server::clock::Clock;
use tessera_server::config::RawConfig;
use tessera_server::store::{AuthorizationCodeRow, Backend, CountedTable, SPENT_TOKENS_KEPT};

/// The attack of issue 10 (one client looping the refresh grant on one chain) at test scale.
const REFRESHES: usize = 200;

async fn a_family_refreshed_in_a_loop_keeps_a_bounded_number_of_rows(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let (_, first) = fixture.login().await;
    let mut chain = vec![first];
    for round in 0..REFRESHES {
        let (status, body) = fixture.refresh(chain.last().unwrap()).await;
        assert_eq!(status, 200, "round {round}: {body}");
        chain.push(str_field(&body, "refresh_token"));
    }
    let rows = fixture.server.store().count_rows(CountedTable::RefreshTokens).await.unwrap();
    assert!(rows <= SPENT_TOKENS_KEPT + 1, "{rows} rows after {REFRESHES} refreshes of one chain");
    // The last spent tokens are still stored: the newest is a grace-window replay.
    let (status, body) = fixture.refresh(&chain[REFRESHES - 1]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(str_field(&body, "refresh_token"), chain[REFRESHES], "same successor");

    // The first token, spent and pruned long ago, comes back (a thief's copy, say): reuse.
    fixture.server.clock.advance(Duration::from_secs(60));
    let (status, body) = fixture.refresh(&chain[0]).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error_description"].as_str().unwrap().contains("already used"), "{body}");
    let (status, body) = fixture.refresh(&chain[REFRESHES]).await;
    assert_eq!(status, 400, "the live token went with its family: {body}");
    assert!(body["error_description"].as_str().unwrap().contains("revoked"), "{body}");
}

async fn a_pruned_token_of_another_client_revokes_nothing(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let (_, first) = fixture.login().await;
    let mut live = first.clone();
    for _ in 0..(SPENT_TOKENS_KEPT as usize + 4) {
        let (status, body) = fixture.refresh(&live).await;
        assert_eq!(status, 200, "{body}");
        live = str_field(&body, "refresh_token");
    }
    let other_secret = fixture.other.client_secret.clone().unwrap_or_default();
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", first.as_str()),
        ("client_id", fixture.other.client_id.as_str()),
        ("client_secret", other_secret.as_str()),
    ];
    let (status, body) = fixture.post_form("/oauth/token", &form).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    assert_eq!(fixture.refresh(&live).await.0, 200, "the family is untouched");
}

async fn a_users_pending_authorization_codes_are_capped(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let store = fixture.server.store();
    let now = fixture.server.clock.now();
    let code = |n: usize| AuthorizationCodeRow {
        code_hash: TokenHash::of(&format!("code-{n}")),
        client_id: ClientId::new(fixture.app.client_id.clone()),
        user_id: UserId::new(fixture.user_id.clone()),
        redirect_uri: "http://127.0.0.1/cb".into(),
        redirect_uri_given: true,
        scope: Scope::parse("read").unwrap(),
        code_challenge: None,
        dpop_jkt: None,
        // One millisecond apart, in order: the oldest go first.
        created_at: Timestamp::from_millis(now.millis() + n as i64),
        expires_at: now.plus(Duration::from_secs(60)),
        used_at: None,
        family_id: None,
    };
    for n in 0..100 {
        store.insert_authorization_code(&code(n)).await.unwrap();
    }
    let mut kept = Vec::new();
    for n in 0..100 {
        if store.find_authorization_code(&code(n).code_hash).await.unwrap().is_some() {
            kept.push(n);
        }
    }
    assert_eq!(kept, (84..100).collect::<Vec<_>>(), "the newest 16 pending codes are kept");
}

async fn deleting_a_client_deletes_its_families_and_tokens(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    for _ in 0..3 {
        let (_, token) = fixture.login().await;
        assert_eq!(fixture.refresh(&token).await.0, 200);
    }
    let store = fixture.server.store();
    assert_eq!(store.count_rows(CountedTable::RefreshFamilies).await.unwrap(), 3);
    assert!(store.delete_client(&ClientId::new(fixture.app.client_id.clone())).await.unwrap());
    assert_eq!(store.count_rows(CountedTable::RefreshFamilies).await.unwrap(), 0);
    assert_eq!(store.count_rows(CountedTable::RefreshTokens).await.unwrap(), 0);
}

on_both_backends!(
    a_family_refreshed_in_a_loop_keeps_a_bounded_number_of_rows,
    a_pruned_token_of_another_client_revokes_nothing,
    a_users_pending_authorization_codes_are_capped,
    deleting_a_client_deletes_its_families_and_tokens,
);
