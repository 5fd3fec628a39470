//! Personal access tokens (`tsp_…`): made by the operator, accepted by the API, revocable.

use crate::helpers::{Fixture, USERNAME};
use std::time::Duration;
use tessera_core::IntrospectionAccess;
use tessera_server::admin::{
    ClientUpdate, UserChange, create_personal_access_token, revoke_personal_access_token, update_user,
};
use tessera_server::clock::Clock;
use tessera_server::config::RawConfig;
use tessera_server::store::Backend;

async fn personal_access_tokens(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let store = fixture.server.store();
    let now = fixture.server.clock.now();
    let (row, token) =
        create_personal_access_token(store, now, USERNAME, "ci", "read", Some(Duration::from_secs(3600)))
            .await
            .unwrap();
    assert!(token.secret().starts_with("tsp_") && token.secret().len() == 47);
    assert_eq!(fixture.me(token.secret()).await.status(), 200);
    // A personal access token is issued to no client: only a resource server may introspect it.
    let resource_server =
        ClientUpdate { introspection: Some(IntrospectionAccess::AnyAccessToken), ..Default::default() };
    fixture.server.service.update_client(&fixture.app.client_id.as_str().into(), resource_server).await.unwrap();
    let (status, body) = fixture
        .post_form(
            "/oauth/introspect",
            &[("token", token.secret()), ("client_id", &fixture.app.client_id), ("client_secret", fixture.secret())],
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["active"], true, "{body}");
    assert_eq!(body["token_type"], "personal_access_token");
    assert_eq!(body["username"], USERNAME);
    // Stored hashed, listed without the token.
    let listed = store.list_personal_access_tokens(Some(USERNAME)).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_ne!(listed[0].token_hash.as_str(), token.secret());
    // Expiry, by the clock.
    fixture.server.clock.advance(Duration::from_secs(3600));
    assert_eq!(fixture.me(token.secret()).await.status(), 401);
    // Revocation.
    let (_, forever) =
        create_personal_access_token(store, fixture.server.clock.now(), USERNAME, "forever", "", None).await.unwrap();
    assert_eq!(fixture.me(forever.secret()).await.status(), 200);
    let forever_id = store.list_personal_access_tokens(None).await.unwrap()[1].pat_id.clone();
    revoke_personal_access_token(store, fixture.server.clock.now(), &forever_id).await.unwrap();
    let response = fixture.me(forever.secret()).await;
    assert_eq!(response.status(), 401);
    assert!(response.headers()["www-authenticate"].to_str().unwrap().contains("invalid_token"));
    assert!(revoke_personal_access_token(store, fixture.server.clock.now(), &forever_id).await.is_err());
    assert!(revoke_personal_access_token(store, fixture.server.clock.now(), &row.pat_id).await.is_ok());
    // Unknown `tsp_` token, and a user that does not exist.
    assert_eq!(fixture.me("tsp_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").await.status(), 401);
    assert!(create_personal_access_token(store, now, "nobody", "x", "", None).await.is_err());
}

/// Disabling a user (`tessera user update --disable`) revokes their families and personal
/// access tokens: a refresh token they held no longer refreshes, a PAT no longer reaches the API.
async fn disabling_a_user_revokes_their_grants(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let store = fixture.server.store();
    let (_, refresh_token) = fixture.login().await;
    let (_, pat) =
        create_personal_access_token(store, fixture.server.clock.now(), USERNAME, "ci", "", None).await.unwrap();
    assert_eq!(fixture.me(pat.secret()).await.status(), 200);

    let disable = UserChange { disabled: Some(true), ..UserChange::default() };
    update_user(store, fixture.server.clock.now(), USERNAME, disable).await.unwrap();

    let (status, body) = fixture.refresh(&refresh_token).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    assert_eq!(fixture.me(pat.secret()).await.status(), 401);
    let revoked = store.list_personal_access_tokens(Some(USERNAME)).await.unwrap();
    assert!(revoked.iter().all(|row| row.revoked_at.is_some()), "{revoked:?}");
    // Enabling again does not bring them back.
    let enable = UserChange { disabled: Some(false), ..UserChange::default() };
    update_user(store, fixture.server.clock.now(), USERNAME, enable).await.unwrap();
    assert_eq!(fixture.refresh(&refresh_token).await.0, 400);
    assert_eq!(fixture.me(pat.secret()).await.status(), 401);
}

on_both_backends!(personal_access_tokens, disabling_a_user_revokes_their_grants);
