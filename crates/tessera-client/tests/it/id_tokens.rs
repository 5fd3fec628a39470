//! Id tokens against the fake OpenID provider (`fake_oidc`), which can get every claim wrong on
//! purpose: each wrong id token is refused with a clear error and nothing is stored (OpenID
//! Connect Core §3.1.3.7); a refresh naming another user is refused and the store keeps the
//! previous login (§12.2); a rotated key is fetched again once.

use std::sync::Arc;
use std::time::Duration;

use tessera_client::{
    ClientError, ClientSecret, ClientSettings, CredentialStore, IdTokenError, ManualClock, ResourceOwnerPassword,
    TokenSource,
};

use crate::fake_oidc::{SUB, Tamper};
use crate::fake_server::{self, FakeConfig, FakeServer};
use crate::support::{self, TempDir};

struct Fixture {
    server: FakeServer,
    dir: TempDir,
    source: TokenSource,
    settings: ClientSettings,
}

impl Fixture {
    async fn start(name: &str) -> Fixture {
        let server = FakeServer::start(FakeConfig { openid: true, ..FakeConfig::default() }).await;
        let dir = TempDir::new(name);
        let source = support::source(Arc::new(dir.store()), &Arc::new(ManualClock::starting_now()));
        let secret = Some(ClientSecret::new(fake_server::CLIENT_SECRET.into()));
        let settings = ClientSettings::discover(source.http_client(), &server.issuer, fake_server::CLIENT_ID, secret)
            .await
            .unwrap();
        Fixture { server, dir, source, settings }
    }

    async fn password_login(&self) -> Result<(), ClientError> {
        let password = ResourceOwnerPassword::new(fake_server::PASSWORD.into());
        self.source.login_with_password(self.settings.clone(), fake_server::USERNAME, &password).await.map(|_| ())
    }

    /// A browser login whose redirect this test sends itself (no browser is needed to reach
    /// the fake token endpoint); `echo_nonce` makes the server's id token carry the request's
    /// nonce.
    async fn browser_login(&self, echo_nonce: bool) -> Result<(), ClientError> {
        let login = self.source.browser_login(self.settings.clone()).await?.with_timeout(Duration::from_secs(60));
        let parameters: std::collections::HashMap<String, String> =
            login.authorize_url().query_pairs().map(|(name, value)| (name.into_owned(), value.into_owned())).collect();
        assert!(parameters["nonce"].len() >= 16, "{}", login.authorize_url());
        if echo_nonce {
            self.server.expect_nonce(&parameters["nonce"]);
        }
        let redirect = format!("{}?code=c1&state={}", login.redirect_uri(), parameters["state"]);
        let finishing = tokio::spawn(login.finish());
        reqwest::get(redirect).await.unwrap();
        finishing.await.unwrap().map(|_| ())
    }

    fn stored(&self) -> Option<tessera_client::Profile> {
        self.dir.store().load().unwrap()
    }
}

#[tokio::test]
async fn a_valid_id_token_is_stored_with_the_tokens_and_its_claims_exposed() {
    let fixture = Fixture::start("oidc-valid").await;
    fixture.password_login().await.unwrap();
    let stored = fixture.stored().unwrap();
    assert!(stored.tokens.id_token.is_some());
    assert!(std::fs::read_to_string(fixture.dir.store().path()).unwrap().contains("\"id_token\""));

    let claims = fixture.source.id_token_claims().await.unwrap();
    assert_eq!(claims.sub, SUB);
    assert_eq!(claims.aud, [fake_server::CLIENT_ID]);
    assert_eq!(claims.preferred_username.as_deref(), Some("alice"));
    assert_eq!(claims.email.as_deref(), Some("alice@example.test"));
    assert_eq!(claims.email_verified, Some(true));

    // A refresh for the same user stores its new id token; the JWK set was fetched once.
    let before = stored.tokens.id_token.unwrap();
    fixture.source.force_refresh().await.unwrap();
    assert_ne!(fixture.stored().unwrap().tokens.id_token.unwrap(), before);
    assert_eq!(fixture.server.jwks_requests(), 1);
}

#[tokio::test]
async fn each_wrong_id_token_fails_the_login_and_nothing_is_stored() {
    type Check = fn(&IdTokenError) -> bool;
    let cases: &[(Tamper, Check, &str)] = &[
        (Tamper::WrongSignature, |e| matches!(e, IdTokenError::BadSignature), "signature does not verify"),
        (Tamper::UnpublishedKey, |e| matches!(e, IdTokenError::UnknownKey(_)), "which the issuer does not publish"),
        (Tamper::WrongIssuer, |e| matches!(e, IdTokenError::WrongIssuer { .. }), "issued by \"http://impostor"),
        (Tamper::WrongAudience, |e| matches!(e, IdTokenError::WrongAudience { .. }), "not for client \"client-1\""),
        (Tamper::Expired, |e| matches!(e, IdTokenError::Expired { .. }), "expired at"),
    ];
    for (tamper, check, message) in cases {
        let fixture = Fixture::start("oidc-wrong").await;
        fixture.server.tamper(*tamper);
        let error = fixture.password_login().await.unwrap_err();
        match &error {
            ClientError::IdToken(id_token_error) => assert!(check(id_token_error), "{tamper:?}: {error:?}"),
            other => panic!("{tamper:?}: {other:?}"),
        }
        let text = error.to_string();
        assert!(text.contains(message) && text.contains("nothing was stored"), "{tamper:?}: {text}");
        assert!(fixture.stored().is_none(), "{tamper:?}: something was stored");
    }
}

#[tokio::test]
async fn a_browser_login_needs_its_own_nonce_in_the_id_token() {
    let fixture = Fixture::start("oidc-nonce").await;
    fixture.browser_login(true).await.unwrap();
    assert!(fixture.source.id_token_claims().await.unwrap().nonce.is_some());

    let fixture = Fixture::start("oidc-wrong-nonce").await;
    fixture.server.tamper(Tamper::WrongNonce);
    let error = fixture.browser_login(true).await.unwrap_err();
    assert!(matches!(error, ClientError::IdToken(IdTokenError::NonceMismatch)), "{error:?}");
    assert!(error.to_string().contains("nonce is not the one this login sent"), "{error}");
    assert!(fixture.stored().is_none());

    // A server that ignores the nonce altogether is refused too.
    let fixture = Fixture::start("oidc-no-nonce").await;
    let error = fixture.browser_login(false).await.unwrap_err();
    assert!(matches!(error, ClientError::IdToken(IdTokenError::NonceMismatch)), "{error:?}");
    assert!(fixture.stored().is_none());
}

/// OpenID Connect Core §12.2: a refreshed id token must name the same user. One that does not
/// refuses the whole refresh response, and the store keeps the login as it was.
#[tokio::test]
async fn a_refresh_whose_id_token_names_another_user_is_refused_and_nothing_is_stored() {
    let fixture = Fixture::start("oidc-sub").await;
    fixture.password_login().await.unwrap();
    let before = serde_json::to_value(fixture.stored().unwrap()).unwrap();

    fixture.server.tamper(Tamper::OtherSubject);
    let error = fixture.source.force_refresh().await.unwrap_err();
    assert!(
        matches!(&error, ClientError::IdToken(IdTokenError::SubjectChanged { expected, found })
            if expected == SUB && found == "user-2"),
        "{error:?}"
    );
    assert!(error.to_string().contains("names user \"user-2\", but this login is user \"user-1\""), "{error}");
    assert_eq!(serde_json::to_value(fixture.stored().unwrap()).unwrap(), before);
    assert_eq!(fixture.source.id_token_claims().await.unwrap().sub, SUB);
}

/// Core §10.1.1: after the server rotates its keys, an id token with the new `kid` makes the
/// client fetch the JWK set again, once.
#[tokio::test]
async fn an_unknown_key_id_fetches_the_key_set_again_once() {
    let fixture = Fixture::start("oidc-rotation").await;
    fixture.password_login().await.unwrap();
    assert_eq!(fixture.server.jwks_requests(), 1);

    fixture.server.tamper(Tamper::UnpublishedKey);
    fixture.server.publish_second_key();
    fixture.source.force_refresh().await.unwrap();
    assert_eq!(fixture.server.jwks_requests(), 2);
    fixture.source.force_refresh().await.unwrap();
    assert_eq!(fixture.server.jwks_requests(), 2, "the new set is cached");
}

#[tokio::test]
async fn a_login_without_openid_has_no_id_token_to_show() {
    let server = FakeServer::start(FakeConfig::default()).await;
    let dir = TempDir::new("oidc-none");
    let source = support::source(Arc::new(dir.store()), &Arc::new(ManualClock::starting_now()));
    support::login(&source, &server).await;
    let error = source.id_token_claims().await.unwrap_err();
    assert!(matches!(error, ClientError::NoIdToken), "{error:?}");
    assert!(error.to_string().contains("log in again with the openid scope"), "{error}");
}

/// The real server's password grant with `openid`: its id token verifies against its JWK set,
/// and so does the one of each refresh (same `sub`, no `nonce`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_servers_id_tokens_validate_at_login_and_refresh() {
    let server = tessera_testkit::TestServer::start(Default::default()).await;
    let app = server.client("rp", &[], "read openid profile email", false).await;
    let user_id = server.user("alice", "correct horse battery staple").await;
    let dir = TempDir::new("oidc-real");
    let source = TokenSource::new(Arc::new(dir.store())).unwrap();
    let secret = app.client_secret.clone().map(ClientSecret::new);
    let mut settings =
        ClientSettings::discover(source.http_client(), &server.base_url, app.client_id.clone(), secret).await.unwrap();
    assert!(settings.jwks_uri.is_some());
    settings.scope = Some("openid profile read".to_owned());
    let password = ResourceOwnerPassword::new("correct horse battery staple".into());
    let response = source.login_with_password(settings, "alice", &password).await.unwrap();
    assert!(response.id_token.is_some());

    let claims = source.id_token_claims().await.unwrap();
    assert_eq!(claims.sub, user_id);
    assert_eq!(claims.iss, server.base_url);
    assert_eq!(claims.preferred_username.as_deref(), Some("alice"));
    assert_eq!(claims.email, None, "the email scope was not asked for");
    assert!(claims.nonce.is_none());

    source.force_refresh().await.unwrap();
    assert_eq!(source.id_token_claims().await.unwrap().sub, user_id);
}

/// A client not registered for `openid`: the server refuses the wider scope by redirect
/// (`invalid_scope`), and a login with a scope fallback sends the browser on to the same request
/// with the narrower scope instead of failing; the login goes on waiting for that one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_openid_scope_falls_back_to_the_requested_one_in_the_same_browser_login() {
    let server = tessera_testkit::TestServer::start(Default::default()).await;
    let cli = server.client("cli", &[], "read write", true).await;
    let dir = TempDir::new("oidc-fallback");
    let source = TokenSource::new(Arc::new(dir.store())).unwrap();
    let (mut settings, metadata) =
        ClientSettings::discover_with_metadata(source.http_client(), &server.base_url, cli.client_id.clone(), None)
            .await
            .unwrap();
    settings.scope = tessera_client::with_openid_scopes(Some("read"), &metadata.unwrap());
    assert_eq!(settings.scope.as_deref(), Some("read openid profile email"));
    let login = source.browser_login(settings).await.unwrap().with_scope_fallback(Some("read".to_owned()));
    let url = login.authorize_url().clone();
    let finishing = tokio::spawn(login.finish());

    // A browser: it follows the server's redirect to the listener, and the listener's 303.
    let landed = reqwest::get(url.clone()).await.unwrap();
    assert_eq!(landed.status(), 200);
    let landed_url = landed.url().clone();
    let scope = landed_url.query_pairs().find(|(name, _)| name == "scope").map(|(_, value)| value.into_owned());
    assert_eq!(scope.as_deref(), Some("read"), "{landed_url}");
    assert_eq!(landed_url.path(), url.path());
    let nonce =
        |url: &tessera_client::Url| url.query_pairs().find(|(name, _)| name == "nonce").map(|(_, v)| v.into_owned());
    assert_eq!(nonce(&landed_url), nonce(&url));
    assert!(landed.text().await.unwrap().contains("password"), "the server's login page");
    assert!(!finishing.is_finished(), "the login ended instead of waiting for the narrower request");
    finishing.abort();
    assert!(dir.store().load().unwrap().is_none());
}
