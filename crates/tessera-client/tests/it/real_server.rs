//! The token source against the real Tessera server, in-process on port 0
//! (`tessera_testkit`), with a fresh SQLite database per test. The `tessera login | token
//! | api | logout` commands are tested as processes in the binary's suite (`crates/tessera/tests/it`).

use std::sync::Arc;
use std::time::Duration;

use tessera_client::{
    ApiClient, ClientAuthMethod, ClientError, ClientSecret, ClientSettings, CredentialStore, LogoutMode, LogoutOutcome,
    ManualClock, ResourceOwnerPassword, TokenSource,
};
use tessera_server::config::RawConfig;
use tessera_server::store::CountedTable;
use tessera_testkit::{TestClient, TestServer};

use crate::cross_process::{expire_stored_access_token, spawn_child, wait_child};
use crate::support::{CrashBeforeWrite, TempDir, source, stored_refresh_token};

const USERNAME: &str = "alice";
const PASSWORD: &str = "correct horse battery staple";
const ONE_HOUR: Duration = Duration::from_secs(3600);

struct Server {
    server: TestServer,
    app: TestClient,
    public: TestClient,
}

impl Server {
    async fn start() -> Server {
        Self::with(RawConfig::default()).await
    }

    /// Without a grace window, presenting any refresh token twice revokes its family.
    async fn without_grace() -> Server {
        Self::with(RawConfig { refresh_grace: Some("0s".into()), ..RawConfig::default() }).await
    }

    async fn with(config: RawConfig) -> Server {
        let server = TestServer::start(config).await;
        let app = server.client("app", &[], "read write", false).await;
        let public = server.client("cli", &[], "read write", true).await;
        server.user(USERNAME, PASSWORD).await;
        Server { server, app, public }
    }

    fn issuer(&self) -> &str {
        &self.server.base_url
    }

    fn me_url(&self) -> String {
        self.server.url("/api/1.0/users/me")
    }

    /// Refresh tokens the server ever issued: one per login plus one per rotation (a grace
    /// replay returns the existing successor and adds none).
    async fn refresh_tokens_issued(&self) -> i64 {
        self.server.store().count_rows(CountedTable::RefreshTokens).await.unwrap()
    }

    async fn settings(&self, http: &tessera_client::reqwest::Client) -> ClientSettings {
        ClientSettings::discover(
            http,
            self.issuer(),
            self.app.client_id.clone(),
            self.app.client_secret.clone().map(ClientSecret::new),
        )
        .await
        .unwrap()
    }

    async fn login(&self, source: &TokenSource) {
        let settings = self.settings(source.http_client()).await;
        source.login_with_password(settings, USERNAME, &ResourceOwnerPassword::new(PASSWORD.into())).await.unwrap();
    }

    async fn me_status(&self, source: &TokenSource) -> u16 {
        let api = ApiClient::new(source.clone());
        api.send(api.get(self.me_url())).await.unwrap().status().as_u16()
    }
}

#[tokio::test]
async fn discovery_finds_the_token_and_revocation_endpoints() {
    let server = Server::start().await;
    let http = tessera_client::http_client().unwrap();
    let settings = server.settings(&http).await;
    assert_eq!(settings.issuer.as_deref(), Some(server.issuer()));
    assert_eq!(settings.token_endpoint, server.server.url("/oauth/token"));
    assert_eq!(settings.revocation_endpoint, Some(server.server.url("/oauth/revoke")));
    assert_eq!(settings.client_auth, ClientAuthMethod::ClientSecretBasic);
}

#[tokio::test]
async fn login_then_the_api_with_every_client_authentication() {
    let server = Server::start().await;
    let clock = Arc::new(ManualClock::starting_now());
    let http = tessera_client::http_client().unwrap();
    let mut post = server.settings(&http).await;
    post.client_auth = ClientAuthMethod::ClientSecretPost;
    let mut public = ClientSettings::new(server.server.url("/oauth/token"), server.public.client_id.clone(), None);
    public.issuer = Some(server.issuer().to_owned());
    for settings in [server.settings(&http).await, post, public] {
        let method = settings.client_auth;
        let source = source(Arc::new(tessera_client::MemoryStore::default()), &clock);
        let response = source
            .login_with_password(settings, USERNAME, &ResourceOwnerPassword::new(PASSWORD.into()))
            .await
            .unwrap_or_else(|error| panic!("{method:?}: {error}"));
        assert_eq!(response.token_type, "Bearer");
        assert!(response.refresh_token.as_ref().is_some_and(|token| token.secret().starts_with("tsr_")));
        assert_eq!(server.me_status(&source).await, 200, "{method:?}");
        source.force_refresh().await.unwrap_or_else(|error| panic!("{method:?}: {error}"));
        assert_eq!(server.me_status(&source).await, 200, "{method:?}");
    }
}

#[tokio::test]
async fn a_wrong_password_is_invalid_grant_from_the_server() {
    let server = Server::start().await;
    let source = TokenSource::new(Arc::new(tessera_client::MemoryStore::default())).unwrap();
    let settings = server.settings(source.http_client()).await;
    let error =
        source.login_with_password(settings, USERNAME, &ResourceOwnerPassword::new("wrong".into())).await.unwrap_err();
    assert_eq!(error.oauth_error().map(|error| error.code()), Some("invalid_grant"), "{error:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_access_token_calls_after_expiry_make_exactly_one_refresh() {
    let server = Server::without_grace().await;
    let temp = TempDir::new("real-fifty");
    let clock = Arc::new(ManualClock::starting_now());
    let source = source(Arc::new(temp.store()), &clock);
    server.login(&source).await;
    assert_eq!(server.refresh_tokens_issued().await, 1);
    clock.advance(ONE_HOUR);

    let calls: Vec<_> = (0..50)
        .map(|_| {
            let source = source.clone();
            tokio::spawn(async move { source.access_token().await })
        })
        .collect();
    let mut tokens = Vec::new();
    for call in calls {
        tokens.push(call.await.unwrap().unwrap().secret().clone());
    }
    tokens.dedup();
    assert_eq!(tokens.len(), 1);
    assert_eq!(server.refresh_tokens_issued().await, 2, "exactly one refresh at the server");
    assert_eq!(server.me_status(&source).await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_processes_after_expiry_without_grace_keep_the_family_alive() {
    let server = Server::without_grace().await;
    let temp = TempDir::new("real-processes");
    let clock = Arc::new(ManualClock::starting_now());
    server.login(&source(Arc::new(temp.store()), &clock)).await;
    expire_stored_access_token(&temp.store());

    let me_url = server.me_url();
    let children: Vec<_> = (0..20).map(|_| spawn_child(temp.path(), &me_url)).collect();
    for child in children {
        let output = wait_child(child).await;
        assert_eq!(output.code, 0, "child failed: {}", output.stderr);
    }
    assert_eq!(server.refresh_tokens_issued().await, 2, "exactly one refresh at the server");
    let after = source(Arc::new(temp.store()), &clock);
    after.force_refresh().await.expect("the family is still alive");
    assert_eq!(server.me_status(&after).await, 200);
}

#[tokio::test]
async fn a_crash_between_refresh_response_and_write_keeps_a_working_login() {
    // The default 30 s grace window is what makes the spent-but-still-stored token usable.
    let server = Server::start().await;
    let temp = TempDir::new("real-crash");
    let clock = Arc::new(ManualClock::starting_now());
    let crashing = Arc::new(CrashBeforeWrite::new(temp.store()));
    let first_process = source(crashing.clone(), &clock);
    server.login(&first_process).await;
    let stored_before = stored_refresh_token(&temp.store());
    clock.advance(ONE_HOUR);

    crashing.armed.store(true, std::sync::atomic::Ordering::SeqCst);
    let error = first_process.access_token().await.unwrap_err();
    assert!(matches!(error, ClientError::Store(_)), "{error:?}");
    assert_eq!(server.refresh_tokens_issued().await, 2, "the server rotated");
    assert_eq!(stored_refresh_token(&temp.store()), stored_before, "the write never happened");

    server.server.clock.advance(Duration::from_secs(5));
    let next_process = source(Arc::new(temp.store()), &clock);
    assert_eq!(server.me_status(&next_process).await, 200);
    assert_eq!(server.refresh_tokens_issued().await, 2, "the grace replay returned the same successor");
    next_process.force_refresh().await.expect("the family is still alive");
    assert_eq!(server.me_status(&next_process).await, 200);
}

#[tokio::test]
async fn a_revoked_family_is_login_required_with_invalid_grant() {
    let server = Server::without_grace().await;
    let temp = TempDir::new("real-revoked");
    let clock = Arc::new(ManualClock::starting_now());
    let source = source(Arc::new(temp.store()), &clock);
    server.login(&source).await;
    let spent = stored_refresh_token(&temp.store());
    source.force_refresh().await.unwrap();

    // Someone replays the spent token: reuse detection revokes the whole family.
    let http = tessera_client::reqwest::Client::new();
    let replay = http
        .post(server.server.url("/oauth/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", spent.as_str()),
            ("client_id", server.app.client_id.as_str()),
            ("client_secret", server.app.client_secret.as_deref().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 400);

    clock.advance(ONE_HOUR);
    let error = source.access_token().await.unwrap_err();
    assert!(matches!(error, ClientError::LoginRequired { .. }), "{error:?}");
    assert_eq!(error.oauth_error().map(|error| error.code()), Some("invalid_grant"));
    // The HTTP helper says the same instead of looping on 401.
    let api = ApiClient::new(source.clone());
    assert!(api.send(api.get(server.me_url())).await.unwrap_err().is_login_required());
}

#[tokio::test]
async fn an_expired_access_token_is_refreshed_once_on_401_and_the_call_retried() {
    let server = Server::start().await;
    let clock = Arc::new(ManualClock::starting_now());
    let source = source(Arc::new(tessera_client::MemoryStore::default()), &clock);
    server.login(&source).await;
    assert_eq!(server.me_status(&source).await, 200);

    // Only the server's clock moves: the client still believes its token is fresh.
    server.server.clock.advance(ONE_HOUR + Duration::from_secs(1));
    assert_eq!(server.me_status(&source).await, 200);
    assert_eq!(server.refresh_tokens_issued().await, 2);
}

#[tokio::test]
async fn logout_revokes_the_family_at_the_server() {
    let server = Server::start().await;
    let temp = TempDir::new("real-logout");
    let clock = Arc::new(ManualClock::starting_now());
    let source = source(Arc::new(temp.store()), &clock);
    server.login(&source).await;
    let access_token = source.access_token().await.unwrap();
    let refresh_token = stored_refresh_token(&temp.store());

    assert_eq!(source.logout(LogoutMode::RevokeThenForget).await.unwrap(), LogoutOutcome::Revoked);
    assert!(temp.store().load().unwrap().is_none());
    let http = tessera_client::reqwest::Client::new();
    let me = http.get(server.me_url()).bearer_auth(access_token.secret()).send().await.unwrap();
    assert_eq!(me.status(), 401, "the family's access tokens stop working");
    let refresh = http
        .post(server.server.url("/oauth/token"))
        .basic_auth(&server.app.client_id, server.app.client_secret.as_deref())
        .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh_token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(refresh.status(), 400);
}

/// The real server rotates the refresh token but the connection drops before its answer arrives:
/// the token source presents the same refresh token again at once, the grace window returns the
/// same successor, and the successor is stored, so a refresh long after the window (which would
/// revoke the family if the spent token were presented) still works.
#[tokio::test]
async fn a_refresh_whose_answer_is_lost_is_retried_within_the_grace_window() {
    let server = Server::start().await;
    let proxy = crate::support::LossyProxy::start(server.issuer(), 1).await;
    let temp = TempDir::new("real-lost-answer");
    let clock = Arc::new(ManualClock::starting_now());
    let client = source(Arc::new(temp.store()), &clock).with_http_client(crate::support::unpooled_http_client());
    let mut settings = server.settings(client.http_client()).await;
    settings.token_endpoint = format!("{}/oauth/token", proxy.base_url);
    client.login_with_password(settings, USERNAME, &ResourceOwnerPassword::new(PASSWORD.into())).await.unwrap();
    let before = stored_refresh_token(&temp.store());
    clock.advance(ONE_HOUR);

    assert_eq!(server.me_status(&client).await, 200);
    assert_eq!(proxy.dropped(), 1, "the first answer was lost");
    assert_eq!(server.refresh_tokens_issued().await, 2, "one rotation; the retry got the same successor");
    let successor = stored_refresh_token(&temp.store());
    assert_ne!(successor, before);

    // Long after the grace window: the stored token is the live successor, not the spent one.
    server.server.clock.advance(Duration::from_secs(600));
    client.force_refresh().await.expect("the family is alive");
    assert_eq!(server.me_status(&client).await, 200);
    assert_eq!(server.refresh_tokens_issued().await, 3);
}
