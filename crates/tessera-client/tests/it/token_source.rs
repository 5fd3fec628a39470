//! The token source against the fake token endpoint: the refresh boundary, persistence, the
//! re-read after `invalid_grant`, two stores on one file, errors that are not dead logins, and
//! discovery's fall-back when no metadata is published.

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use tessera_client::{ClientSettings, CredentialStore, FileStore, ManualClock, MemoryStore};

use crate::fake_server::{self, FakeConfig, FakeServer, LostAnswer};
use crate::support::{
    LossyProxy, StaleReads, TempDir, login, settings, source, stored_refresh_token, unpooled_http_client,
};

const ONE_HOUR: Duration = Duration::from_secs(3600);

#[tokio::test]
async fn a_fresh_token_is_reused_and_a_due_one_is_refreshed() {
    let server = FakeServer::start(FakeConfig::default()).await;
    let clock = Arc::new(ManualClock::starting_now());
    let source = source(Arc::new(MemoryStore::default()), &clock);
    login(&source, &server).await;
    let first = source.access_token().await.unwrap();

    clock.advance(Duration::from_secs(3539)); // 61 s left: not yet due
    assert_eq!(source.access_token().await.unwrap().secret(), first.secret());
    assert_eq!(server.refreshes(), 0);

    clock.advance(Duration::from_secs(2)); // 59 s left: due
    let second = source.access_token().await.unwrap();
    assert_ne!(second.secret(), first.secret());
    assert_eq!(server.refreshes(), 1);
}

#[tokio::test]
async fn the_rotated_refresh_token_is_on_disk_when_the_access_token_is_returned() {
    let server = FakeServer::start(FakeConfig::default()).await;
    let temp = TempDir::new("persist");
    let clock = Arc::new(ManualClock::starting_now());
    let source = source(Arc::new(temp.store()), &clock);
    login(&source, &server).await;
    let before = stored_refresh_token(&temp.store());
    clock.advance(ONE_HOUR);

    let access_token = source.access_token().await.unwrap();
    // Read back by another store object, as another process would.
    let on_disk = temp.store().load().unwrap().unwrap();
    assert_eq!(on_disk.tokens.access_token.secret(), access_token.secret());
    let after = on_disk.tokens.refresh_token.unwrap().secret().clone();
    assert_ne!(after, before);
}

#[tokio::test]
async fn invalid_grant_rereads_the_store_and_retries_with_a_newer_token() {
    // A server that refuses spent tokens without revoking the family, so the re-read can help.
    let server = FakeServer::start(FakeConfig { reuse_revokes_family: false, ..FakeConfig::default() }).await;
    let temp = TempDir::new("reread");
    let clock = Arc::new(ManualClock::starting_now());
    let writer = source(Arc::new(temp.store()), &clock);
    login(&writer, &server).await;
    let stale = temp.store().load().unwrap().unwrap();
    writer.force_refresh().await.unwrap();
    clock.advance(ONE_HOUR);

    // Two stale reads: the cache fill and the read under the lock; the re-read after
    // invalid_grant sees the rotated token.
    let reader = source(
        Arc::new(StaleReads { inner: temp.store(), stale: stale.clone(), stale_loads: AtomicUsize::new(2) }),
        &clock,
    );
    reader.access_token().await.unwrap();
    assert_eq!(server.reuse_detected(), 1);
    assert_eq!(server.refreshes(), 2);

    // When the re-read finds the same dead token, it is over.
    let stuck = source(
        Arc::new(StaleReads { inner: MemoryStore::new(Some(stale.clone())), stale, stale_loads: AtomicUsize::new(0) }),
        &clock,
    );
    let error = stuck.access_token().await.unwrap_err();
    assert!(error.is_login_required(), "{error:?}");
}

#[tokio::test]
async fn wrong_client_secret_is_an_oauth_error_not_a_dead_login() {
    let server = FakeServer::start(FakeConfig::default()).await;
    let clock = Arc::new(ManualClock::starting_now());
    let source = source(Arc::new(MemoryStore::default()), &clock);
    let mut settings = settings(&server);
    settings.client_secret = Some(tessera_client::ClientSecret::new("wrong-secret".into()));
    let error = source
        .login_with_password(
            settings,
            fake_server::USERNAME,
            &tessera_client::ResourceOwnerPassword::new(fake_server::PASSWORD.into()),
        )
        .await
        .unwrap_err();
    assert_eq!(error.oauth_error().map(|error| error.code()), Some("invalid_client"));
    assert!(!error.is_login_required());
    assert!(!format!("{error:?} {error}").contains("wrong-secret"));
}

#[tokio::test]
async fn discovery_uses_metadata_and_falls_back_to_the_plain_token_url() {
    let server = FakeServer::start(FakeConfig::default()).await;
    let http = tessera_client::http_client().unwrap();
    let found = ClientSettings::discover(&http, &format!("{}/", server.issuer), "c", None).await.unwrap();
    assert_eq!(found.issuer.as_deref(), Some(server.issuer.as_str()));
    assert_eq!(found.token_endpoint, server.token_endpoint());
    assert_eq!(found.revocation_endpoint, Some(format!("{}/oauth/revoke", server.issuer)));

    let bare = FakeServer::start(FakeConfig { metadata: false, ..FakeConfig::default() }).await;
    let fallback = ClientSettings::discover(&http, &bare.issuer, "c", None).await.unwrap();
    assert_eq!(fallback.token_endpoint, bare.token_endpoint());
    assert_eq!(fallback.revocation_endpoint, None);
}

#[tokio::test]
async fn two_token_sources_on_one_file_share_a_refresh_like_two_processes() {
    let server = FakeServer::start(FakeConfig::default()).await;
    let temp = TempDir::new("two-sources");
    let clock = Arc::new(ManualClock::starting_now());
    let first = source(Arc::new(temp.store()), &clock);
    login(&first, &server).await;
    // Separate caches and mutexes; only the file lock coordinates them.
    let second = source(Arc::new(FileStore::in_dir(temp.store().dir(), "default").unwrap()), &clock);
    second.access_token().await.unwrap();
    clock.advance(ONE_HOUR);

    let (a, b) = tokio::join!(first.access_token(), second.access_token());
    assert_eq!(a.unwrap().secret(), b.unwrap().secret());
    assert_eq!(server.refreshes(), 1);
    assert_eq!(server.reuse_detected(), 0);
}

/// The server rotated the refresh token but its answer was lost (502 from a proxy, a 500
/// `server_error`, a garbled body): the token source presents the same refresh token again at
/// once, the grace window returns the same successor, and the successor is what gets stored, so
/// no later call presents the spent token (which, outside the window, would revoke the family).
#[tokio::test]
async fn a_lost_refresh_answer_is_asked_again_and_the_successor_is_stored() {
    for lost_answer in [LostAnswer::BadGateway, LostAnswer::ServerError, LostAnswer::Garbled] {
        let server = FakeServer::start(FakeConfig {
            grace: true,
            lose_refresh_answers: 1,
            lost_answer,
            ..FakeConfig::default()
        })
        .await;
        let temp = TempDir::new("lost-answer");
        let clock = Arc::new(ManualClock::starting_now());
        let source = source(Arc::new(temp.store()), &clock);
        login(&source, &server).await;
        let before = stored_refresh_token(&temp.store());
        clock.advance(ONE_HOUR);

        let access_token = source.access_token().await.unwrap();
        assert_eq!(server.lost_answers(), 1, "{lost_answer:?}");
        assert_eq!(server.refresh_requests(), 2, "{lost_answer:?}: one retry");
        let successor = server.successor_of(&before).expect("the first attempt rotated the token");
        assert_eq!(stored_refresh_token(&temp.store()), successor, "{lost_answer:?}");
        assert_eq!(temp.store().load().unwrap().unwrap().tokens.access_token.secret(), access_token.secret());

        // The next refresh presents the successor, not the spent token: no reuse.
        clock.advance(ONE_HOUR);
        source.access_token().await.unwrap();
        assert_eq!(server.reuse_detected(), 0, "{lost_answer:?}");
        assert_ne!(stored_refresh_token(&temp.store()), successor);
    }
}

/// The connection is closed after the server processed the refresh, twice in a row: the third
/// attempt gets the successor.
#[tokio::test]
async fn a_dropped_connection_during_a_refresh_is_retried_with_the_same_token() {
    let server = FakeServer::start(FakeConfig { grace: true, ..FakeConfig::default() }).await;
    let proxy = LossyProxy::start(&server.issuer, 2).await;
    let temp = TempDir::new("dropped");
    let clock = Arc::new(ManualClock::starting_now());
    let source = source(Arc::new(temp.store()), &clock).with_http_client(unpooled_http_client());
    let mut settings = settings(&server);
    settings.token_endpoint = format!("{}/oauth/token", proxy.base_url);
    source
        .login_with_password(
            settings,
            fake_server::USERNAME,
            &tessera_client::ResourceOwnerPassword::new(fake_server::PASSWORD.into()),
        )
        .await
        .unwrap();
    let before = stored_refresh_token(&temp.store());
    clock.advance(ONE_HOUR);

    let started = std::time::Instant::now();
    source.access_token().await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    assert_eq!(proxy.dropped(), 2);
    assert_eq!(server.refresh_requests(), 3);
    assert_eq!(Some(stored_refresh_token(&temp.store())), server.successor_of(&before));
    assert_eq!(server.reuse_detected(), 0);
}

/// After three lost answers the call fails (nothing is stored), without waiting long; a
/// well-formed OAuth refusal is never retried.
#[tokio::test]
async fn retries_are_bounded_and_an_oauth_refusal_is_not_retried() {
    let server = FakeServer::start(FakeConfig { grace: true, lose_refresh_answers: 3, ..FakeConfig::default() }).await;
    let clock = Arc::new(ManualClock::starting_now());
    let store = Arc::new(MemoryStore::default());
    let source = source(store.clone(), &clock);
    login(&source, &server).await;
    let before = stored_refresh_token(store.as_ref());
    clock.advance(ONE_HOUR);
    let started = std::time::Instant::now();
    let error = source.access_token().await.unwrap_err();
    assert!(matches!(error, tessera_client::ClientError::Protocol { .. }), "{error:?}");
    assert!(started.elapsed() < tessera_client::REFRESH_BUDGET, "{:?}", started.elapsed());
    assert_eq!(server.refresh_requests(), 3);
    assert_eq!(stored_refresh_token(store.as_ref()), before, "nothing new was learned");
    // Still inside the grace window: the next call gets the successor after all.
    source.access_token().await.unwrap();
    assert_eq!(Some(stored_refresh_token(store.as_ref())), server.successor_of(&before));

    // invalid_client (a wrong secret) is answered at once and not asked again.
    let server = FakeServer::start(FakeConfig { grace: true, ..FakeConfig::default() }).await;
    let store = Arc::new(MemoryStore::default());
    let source = crate::support::source(store.clone(), &clock);
    login(&source, &server).await;
    let mut profile = store.load().unwrap().unwrap();
    profile.client.client_secret = Some(tessera_client::ClientSecret::new("wrong-secret".into()));
    store.save(&profile).unwrap();
    let source = crate::support::source(store.clone(), &clock);
    clock.advance(ONE_HOUR);
    let error = source.access_token().await.unwrap_err();
    assert_eq!(error.oauth_error().map(|error| error.code()), Some("invalid_client"), "{error:?}");
    assert_eq!(server.refresh_requests(), 1, "a refusal is final");
}
