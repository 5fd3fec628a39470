//! The client cache: a change through this instance applies at once; a change made in the
//! database directly (the CLI, another instance) within `client_cache_ttl`, on the server's clock.

use crate::helpers::Fixture;
use std::time::Duration;
use tessera_server::admin::rotate_client_secret;
use tessera_server::config::RawConfig;
use tessera_server::store::Backend;
use tessera_testkit::TestClient;

async fn client_credentials(fixture: &Fixture, id: &str, secret: &str) -> u16 {
    let form = [("grant_type", "client_credentials"), ("client_id", id), ("client_secret", secret)];
    fixture.post_form("/oauth/token", &form).await.0
}

async fn batch_client(fixture: &Fixture) -> (String, String) {
    let TestClient { client_id, client_secret } =
        fixture.server.client("batch", &["client_credentials"], "", false).await;
    (client_id, client_secret.unwrap())
}

async fn client_changes_through_the_service_apply_at_once(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let (id, old) = batch_client(&fixture).await;
    assert_eq!(client_credentials(&fixture, &id, &old).await, 200);
    let new = fixture.server.service.rotate_client_secret(&id.as_str().into()).await.unwrap();
    assert_eq!(client_credentials(&fixture, &id, &old).await, 401, "the old secret stops at once");
    assert_eq!(client_credentials(&fixture, &id, new.secret()).await, 200);
    assert!(fixture.server.service.delete_client(&id.as_str().into()).await.unwrap());
    assert_eq!(client_credentials(&fixture, &id, new.secret()).await, 401, "a deleted client stops at once");
}

async fn client_changes_in_the_database_apply_within_the_cache_ttl(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let (id, old) = batch_client(&fixture).await;
    assert_eq!(client_credentials(&fixture, &id, &old).await, 200);
    // As `tessera client rotate-secret` does: in the database, behind the running server.
    let new = rotate_client_secret(fixture.server.store(), &id.as_str().into()).await.unwrap();
    assert_eq!(client_credentials(&fixture, &id, &old).await, 200, "the cached client, for up to 5 s");
    fixture.server.clock.advance(Duration::from_secs(5));
    assert_eq!(client_credentials(&fixture, &id, &old).await, 401, "the old secret is refused after the bound");
    assert_eq!(client_credentials(&fixture, &id, new.secret()).await, 200);

    // The new secret works at once: a cached row that refuses a secret is read again.
    let newer = rotate_client_secret(fixture.server.store(), &id.as_str().into()).await.unwrap();
    assert_eq!(client_credentials(&fixture, &id, newer.secret()).await, 200);
    assert_eq!(client_credentials(&fixture, &id, new.secret()).await, 401, "and that read replaced the cached row");

    fixture.server.store().delete_client(&id.as_str().into()).await.unwrap();
    assert_eq!(client_credentials(&fixture, &id, newer.secret()).await, 200, "the cached client, for up to 5 s");
    fixture.server.clock.advance(Duration::from_secs(5));
    assert_eq!(client_credentials(&fixture, &id, newer.secret()).await, 401);
}

#[tokio::test]
async fn a_zero_ttl_turns_the_client_cache_off() {
    let fixture = Fixture::with(RawConfig { client_cache_ttl: Some("0s".into()), ..RawConfig::default() }).await;
    let (id, old) = batch_client(&fixture).await;
    assert_eq!(client_credentials(&fixture, &id, &old).await, 200);
    rotate_client_secret(fixture.server.store(), &id.as_str().into()).await.unwrap();
    assert_eq!(client_credentials(&fixture, &id, &old).await, 401);
}

on_both_backends!(
    client_changes_through_the_service_apply_at_once,
    client_changes_in_the_database_apply_within_the_cache_ttl,
);
