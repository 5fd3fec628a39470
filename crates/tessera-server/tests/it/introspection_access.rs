//! Who may introspect what (issue 10, item 6): a client learns about its own tokens only; a
//! resource server (`--introspect`) about any access token; a refresh token only its own
//! client. Anything else answers `{"active": false}`, and introspection changes nothing.

use crate::helpers::{Fixture, USERNAME, str_field};
use serde_json::{Value, json};
use std::time::Duration;
use tessera_core::IntrospectionAccess;
use tessera_server::admin::{ClientUpdate, create_personal_access_token};
use tessera_server::clock::Clock;
use tessera_server::config::RawConfig;
use tessera_server::store::Backend;
use tessera_testkit::TestClient;

async fn introspect_as(fixture: &Fixture, client: &TestClient, token: &str) -> Value {
    let secret = client.client_secret.as_deref().unwrap();
    let form = [("token", token), ("client_id", client.client_id.as_str()), ("client_secret", secret)];
    let (status, body) = fixture.post_form("/oauth/introspect", &form).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// A confidential client with only `client_credentials`, like a batch job, and no scope.
async fn unrelated_client(fixture: &Fixture) -> TestClient {
    fixture.server.client("batch", &["client_credentials"], "", false).await
}

async fn set_introspection(fixture: &Fixture, client: &TestClient, access: IntrospectionAccess) {
    let update = ClientUpdate { introspection: Some(access), ..ClientUpdate::default() };
    fixture.server.service.update_client(&client.client_id.as_str().into(), update).await.unwrap();
}

async fn other_clients_tokens_are_inactive_without_the_capability(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let batch = unrelated_client(&fixture).await;
    let (access_token, refresh_token) = fixture.login().await;
    let now = fixture.server.clock.now();
    let (_, pat) =
        create_personal_access_token(fixture.server.store(), now, USERNAME, "ci", "read", None).await.unwrap();
    let inactive = json!({"active": false});

    // Before the fix, each of these answered the token's subject, username and scope.
    for asker in [&batch, &fixture.other] {
        assert_eq!(introspect_as(&fixture, asker, &access_token).await, inactive, "another client's access token");
        assert_eq!(introspect_as(&fixture, asker, &refresh_token).await, inactive, "another client's refresh token");
        assert_eq!(introspect_as(&fixture, asker, pat.secret()).await, inactive, "a personal access token");
    }
    // Its own tokens, a client still sees.
    assert_eq!(introspect_as(&fixture, &fixture.app, &access_token).await["active"], true);
    assert_eq!(introspect_as(&fixture, &fixture.app, &refresh_token).await["active"], true);
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", batch.client_id.as_str()),
        ("client_secret", batch.client_secret.as_deref().unwrap()),
    ];
    let (status, body) = fixture.post_form("/oauth/token", &form).await;
    assert_eq!(status, 200, "{body}");
    let own = introspect_as(&fixture, &batch, &str_field(&body, "access_token")).await;
    assert_eq!((own["active"].clone(), own["client_id"].clone()), (json!(true), json!(batch.client_id)), "{own}");
}

async fn a_resource_server_sees_access_tokens_but_not_refresh_tokens(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let batch = unrelated_client(&fixture).await;
    let (access_token, refresh_token) = fixture.login().await;
    let now = fixture.server.clock.now();
    let (_, pat) =
        create_personal_access_token(fixture.server.store(), now, USERNAME, "ci", "read", None).await.unwrap();
    set_introspection(&fixture, &batch, IntrospectionAccess::AnyAccessToken).await;

    let body = introspect_as(&fixture, &batch, &access_token).await;
    assert_eq!(body["active"], true, "{body}");
    assert_eq!(body["client_id"], fixture.app.client_id.as_str());
    assert_eq!(body["username"], USERNAME);
    assert_eq!(body["scope"], "read write");
    let body = introspect_as(&fixture, &batch, pat.secret()).await;
    assert_eq!((body["active"].clone(), body["token_type"].clone()), (json!(true), json!("personal_access_token")));
    assert_eq!(
        introspect_as(&fixture, &batch, &refresh_token).await,
        json!({"active": false}),
        "refresh tokens only to their own client"
    );
    // A hint changes nothing.
    let secret = batch.client_secret.as_deref().unwrap();
    let form = [
        ("token", refresh_token.as_str()),
        ("token_type_hint", "access_token"),
        ("client_id", batch.client_id.as_str()),
        ("client_secret", secret),
    ];
    assert_eq!(fixture.post_form("/oauth/introspect", &form).await.1, json!({"active": false}));

    // And the capability can be taken away again.
    set_introspection(&fixture, &batch, IntrospectionAccess::OwnTokens).await;
    assert_eq!(introspect_as(&fixture, &batch, &access_token).await, json!({"active": false}));
}

/// Introspecting a spent refresh token — by its own client, by a resource server — is no reuse:
/// the family lives on and nothing is written.
async fn introspection_never_trips_reuse_detection(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let batch = unrelated_client(&fixture).await;
    set_introspection(&fixture, &batch, IntrospectionAccess::AnyAccessToken).await;
    let (_, first) = fixture.login().await;
    let (status, body) = fixture.refresh(&first).await;
    assert_eq!(status, 200, "{body}");
    let (second, access_token) = (str_field(&body, "refresh_token"), str_field(&body, "access_token"));
    fixture.server.clock.advance(Duration::from_secs(60)); // past the grace window: presenting `first` is reuse
    for asker in [&fixture.app, &batch, &fixture.other] {
        for _ in 0..2 {
            assert_eq!(introspect_as(&fixture, asker, &first).await, json!({"active": false}));
            let body = introspect_as(&fixture, asker, &second).await;
            let own = asker.client_id == fixture.app.client_id;
            assert_eq!(body["active"], own, "{body}");
        }
    }
    assert_eq!(fixture.me(&access_token).await.status(), 200, "the family was not revoked");
    let (status, body) = fixture.refresh(&second).await;
    assert_eq!(status, 200, "the live token was not spent: {body}");
}

on_both_backends!(
    other_clients_tokens_are_inactive_without_the_capability,
    a_resource_server_sees_access_tokens_but_not_refresh_tokens,
    introspection_never_trips_reuse_detection,
);
