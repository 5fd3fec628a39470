//! The browser login (authorization code with PKCE on a loopback redirect) against the real
//! server in-process: a headless Chromium, driven by `tessera_testkit::webdriver`, goes
//! through the login and consent pages the way a user does. The redirect's edge cases (wrong
//! state, stray requests, timeout) are played with plain HTTP requests to the listener.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tessera_client::{
    ApiClient, AuthorizationCodeLogin, ClientError, ClientSettings, CredentialStore, FileStore, TokenResponse,
    TokenSource,
};
use tessera_server::config::RawConfig;
use tessera_testkit::webdriver::{Browser, WebDriverError};
use tessera_testkit::{TestClient, TestServer};
use tokio::io::AsyncWriteExt;

use crate::support::TempDir;

const USERNAME: &str = "alice";
const PASSWORD: &str = "correct horse battery staple";
/// How long any one page may take to appear (the machine may be busy compiling).
const PAGE_WAIT: Duration = Duration::from_secs(30);
/// How long a test lets its login wait for the browser.
const LOGIN_TIMEOUT: Duration = Duration::from_secs(120);

struct Fixture {
    server: TestServer,
    /// A public client (PKCE is its only proof), registered with `http://127.0.0.1/callback`.
    cli: TestClient,
    /// Holds the profile's directory until the test ends.
    _dir: TempDir,
    store: FileStore,
    source: TokenSource,
}

impl Fixture {
    async fn start(name: &str) -> Fixture {
        let server = TestServer::start(RawConfig::default()).await;
        let cli = server.client("Tessera browser test", &[], "read write", true).await;
        server.user(USERNAME, PASSWORD).await;
        let dir = TempDir::new(name);
        let store = dir.store();
        let source = TokenSource::new(Arc::new(store.clone())).unwrap();
        Fixture { server, cli, _dir: dir, store, source }
    }

    /// Discovered settings (metadata names the authorization endpoint) asking for `read`.
    async fn settings(&self) -> ClientSettings {
        let mut settings = ClientSettings::discover(
            self.source.http_client(),
            &self.server.base_url,
            self.cli.client_id.clone(),
            None,
        )
        .await
        .unwrap();
        settings.scope = Some("read".to_owned());
        settings
    }

    async fn browser_login(&self) -> AuthorizationCodeLogin {
        self.source.browser_login(self.settings().await).await.unwrap().with_timeout(LOGIN_TIMEOUT)
    }

    fn nothing_stored(&self) -> bool {
        self.store.load().unwrap().is_none()
    }
}

fn query(url: &str) -> HashMap<String, String> {
    let url = tessera_client::Url::parse(url).unwrap();
    let mut parameters = HashMap::new();
    for (name, value) in url.query_pairs() {
        assert!(parameters.insert(name.clone().into_owned(), value.into_owned()).is_none(), "{name} twice in {url}");
    }
    parameters
}

/// Runs `login.finish()` while `drive` clicks through the pages; a driving failure ends the test
/// at once instead of leaving the login waiting for a browser that will never come.
async fn finish_while<F>(login: AuthorizationCodeLogin, drive: F) -> Result<TokenResponse, ClientError>
where
    F: Future<Output = Result<(), WebDriverError>>,
{
    let finishing = tokio::spawn(login.finish());
    if let Err(error) = drive.await {
        finishing.abort();
        panic!("driving the browser failed: {error}");
    }
    tokio::time::timeout(LOGIN_TIMEOUT, finishing).await.expect("the login did not finish").unwrap()
}

/// The login page: a wrong password first (the page says so), then the right one.
async fn log_in(browser: &Browser, password: &str) -> Result<(), WebDriverError> {
    browser.wait_for("#username", PAGE_WAIT).await?.send_keys(USERNAME).await?;
    browser.find("#password").await?.send_keys(password).await?;
    Ok(browser.find("#login").await?.click().await?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_authorization_url_carries_pkce_s256_a_state_and_the_loopback_redirect() {
    let fixture = Fixture::start("authorize-url").await;
    let login = fixture.browser_login().await;
    let url = login.authorize_url().to_string();
    assert!(url.starts_with(&format!("{}/oauth/authorize?", fixture.server.base_url)), "{url}");
    let parameters = query(&url);
    assert_eq!(parameters["response_type"], "code");
    assert_eq!(parameters["client_id"], fixture.cli.client_id);
    assert_eq!(parameters["scope"], "read");
    assert_eq!(parameters["code_challenge_method"], "S256");
    // RFC 7636 §4.2: BASE64URL(SHA-256(verifier)), 43 characters without padding.
    assert_eq!(parameters["code_challenge"].len(), 43, "{url}");
    assert!(parameters["state"].len() >= 16, "{url}");

    let redirect_uri = login.redirect_uri().to_owned();
    assert_eq!(parameters["redirect_uri"], redirect_uri);
    let port = redirect_uri.strip_prefix("http://127.0.0.1:").and_then(|rest| rest.strip_suffix("/callback"));
    assert!(port.is_some_and(|port| port.parse::<u16>().is_ok_and(|port| port != 0)), "{redirect_uri}");

    // Each login has its own state, challenge and port.
    let other = fixture.browser_login().await;
    let other_parameters = query(other.authorize_url().as_str());
    for name in ["state", "code_challenge", "redirect_uri"] {
        assert_ne!(parameters[name], other_parameters[name], "{name}");
    }
}

/// RFC 6749 §10.12: a redirect that does not carry this login's state is answered 400 and its
/// code is never sent to the token endpoint, but it does not end the login (anyone on the machine,
/// or a web page probing loopback ports, can send one): the login goes on waiting, and the
/// genuine redirect afterwards decides it. Stray requests before it (a favicon, a connection that
/// sends nothing) are ignored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_with_another_state_is_refused_and_the_login_goes_on() {
    let fixture = Fixture::start("wrong-state").await;
    let login = fixture.browser_login().await;
    let redirect_uri = login.redirect_uri().to_owned();
    let state = query(login.authorize_url().as_str())["state"].clone();
    let finishing = tokio::spawn(login.finish());
    let http = reqwest::Client::new();

    // A connection that never sends a request must not hold up the others.
    let mut idle =
        tokio::net::TcpStream::connect(redirect_uri.trim_start_matches("http://").split('/').next().unwrap())
            .await
            .unwrap();
    idle.write_all(b"GET /call").await.unwrap();
    let favicon = http.get(redirect_uri.replace("/callback", "/favicon.ico")).send().await.unwrap();
    assert_eq!(favicon.status(), 404);
    assert!(!finishing.is_finished());

    for forged in [
        format!("{redirect_uri}?code=stolen-code&state=not-this-logins"),
        format!("{redirect_uri}?code=stolen-code"),
        format!("{redirect_uri}?error=access_denied&state=not-this-logins"),
        format!("{redirect_uri}?code=a&code=b&state=x&state=y"),
    ] {
        let response = http.get(&forged).send().await.unwrap();
        assert_eq!(response.status(), 400, "{forged}");
        assert_eq!(response.headers()["cache-control"], "no-store");
        let page = response.text().await.unwrap();
        assert!(page.contains("not recognised"), "{page}");
    }
    // The listener answers the forged redirects one by one in the login's own loop: an answer to
    // a request sent after them shows that the loop went on, and so the login is still waiting.
    let probe = http.get(redirect_uri.replace("/callback", "/favicon.ico")).send().await;
    assert_eq!(probe.map(|response| response.status().as_u16()).ok(), Some(404), "the listener is gone");
    assert!(!finishing.is_finished(), "a forged redirect ended the login");
    assert!(fixture.nothing_stored());

    // The genuine redirect (here the user declining) still reaches the login and decides it.
    let genuine = http.get(format!("{redirect_uri}?error=access_denied&state={state}")).send().await.unwrap();
    assert!(genuine.text().await.unwrap().contains("The login failed"));
    let error = tokio::time::timeout(LOGIN_TIMEOUT, finishing).await.unwrap().unwrap().unwrap_err();
    assert!(matches!(error, ClientError::AccessDenied(_)), "{error:?}");
    assert!(fixture.nothing_stored());
}

/// A forged redirect does not stop the login from timing out as usual.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_redirect_then_nothing_times_out() {
    let fixture = Fixture::start("wrong-state-timeout").await;
    let login = fixture.browser_login().await.with_timeout(Duration::from_millis(1500));
    let redirect_uri = login.redirect_uri().to_owned();
    let finishing = tokio::spawn(login.finish());
    let forged = reqwest::get(format!("{redirect_uri}?code=stolen-code&state=not-this-logins")).await.unwrap();
    assert_eq!(forged.status(), 400);
    let error = tokio::time::timeout(LOGIN_TIMEOUT, finishing).await.unwrap().unwrap().unwrap_err();
    assert!(matches!(error, ClientError::LoginTimedOut(_)), "{error:?}");
    assert!(fixture.nothing_stored());
}

/// The server's (or the user's) refusal, as the redirect carries it (RFC 6749 §4.1.2.1).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_redirect_becomes_a_typed_error() {
    let fixture = Fixture::start("error-redirect").await;
    type Expected = fn(&ClientError) -> bool;
    let cases: &[(&str, Expected)] = &[
        ("error=access_denied&error_description=The+user+said+no", |error| {
            matches!(error, ClientError::AccessDenied(oauth)
                if oauth.error_description.as_deref() == Some("The user said no"))
        }),
        (
            "error=invalid_scope",
            |error| matches!(error, ClientError::Authorization(oauth) if oauth.error == "invalid_scope"),
        ),
    ];
    for (parameters, expected) in cases {
        let login = fixture.browser_login().await;
        let state = query(login.authorize_url().as_str())["state"].clone();
        let redirect = format!("{}?{parameters}&state={state}", login.redirect_uri());
        let finishing = tokio::spawn(login.finish());
        let page = reqwest::get(&redirect).await.unwrap().text().await.unwrap();
        assert!(page.contains("The login failed") && page.contains("close this window"), "{page}");
        let error = finishing.await.unwrap().unwrap_err();
        assert!(expected(&error), "{parameters}: {error:?}");
        assert_eq!(
            error.oauth_error().map(|oauth| oauth.code()),
            parameters.split('&').next().unwrap().strip_prefix("error=")
        );
        assert!(!error.is_login_required());
        assert!(fixture.nothing_stored());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_nobody_completes_times_out() {
    let fixture = Fixture::start("timeout").await;
    let login = fixture.browser_login().await.with_timeout(Duration::from_millis(100));
    let error = login.finish().await.unwrap_err();
    assert!(matches!(error, ClientError::LoginTimedOut(_)), "{error:?}");
    assert!(fixture.nothing_stored());
}

/// The whole flow in a real browser: login page (a wrong password first), consent page, redirect
/// to the loopback listener; then the profile works like one from the password login. A second
/// login in the same browser skips the login page (the session cookie) and the consent page
/// (remembered consent).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_login_with_consent_stores_a_working_profile() {
    let fixture = Fixture::start("browser-approve").await;
    let browser = Browser::start().await.unwrap();
    let login = fixture.browser_login().await;
    let url = login.authorize_url().to_string();
    let redirect_uri = login.redirect_uri().to_owned();

    let response = finish_while(login, async {
        browser.goto(&url).await?;
        log_in(&browser, "not the password").await?;
        let error = browser.wait_for("#error", PAGE_WAIT).await?;
        assert!(!error.text().await?.is_empty());
        browser.find("#username").await?.clear().await?;
        log_in(&browser, PASSWORD).await?;
        let approve = browser.wait_for("#approve", PAGE_WAIT).await?;
        let consent = browser.source().await?;
        assert!(consent.contains("Tessera browser test"), "the consent page names the client: {consent}");
        assert!(consent.contains("read"), "the consent page lists the scope: {consent}");
        approve.click().await?;
        let landed = browser.wait_for_url(|url| url.starts_with(&redirect_uri), PAGE_WAIT).await?;
        let parameters = query(&landed);
        assert!(parameters.contains_key("code") && parameters.contains_key("state"), "{landed}");
        let message = browser.wait_for("#message", PAGE_WAIT).await?.text().await?;
        assert!(message.contains("You can close this window"), "{message}");
        Ok(())
    })
    .await
    .unwrap();

    assert_eq!(response.token_type, "Bearer");
    assert_eq!(response.scope.as_deref(), Some("read"));
    assert!(response.refresh_token.as_ref().is_some_and(|token| token.secret().starts_with("tsr_")));
    let stored = fixture.store.load().unwrap().expect("the profile is stored");
    assert_eq!(stored.client.client_id, fixture.cli.client_id);
    assert_eq!(
        stored.tokens.refresh_token.as_ref().map(|token| token.secret()),
        response.refresh_token.as_ref().map(|token| token.secret())
    );

    // A fresh token source on the same profile, as another process would open it.
    let source = TokenSource::new(Arc::new(fixture.store.clone())).unwrap();
    let access_token = source.access_token().await.unwrap();
    assert_eq!(access_token.secret(), response.access_token.secret());
    let api = ApiClient::new(source.clone());
    let me = api.send(api.get(fixture.server.url("/api/1.0/users/me"))).await.unwrap();
    assert_eq!(me.status(), 200);
    let me: serde_json::Value = me.json().await.unwrap();
    assert_eq!(me["username"], USERNAME);
    // The refresh token of a browser login refreshes like any other.
    let refreshed = source.force_refresh().await.unwrap();
    assert_ne!(
        refreshed.refresh_token.as_ref().map(|token| token.secret()),
        response.refresh_token.as_ref().map(|token| token.secret())
    );

    // Logged in already, and the scope approved before (remembered consent): straight back
    // with a code. A forged redirect first (another state) is refused without ending the
    // login, which the genuine redirect then completes.
    let again = fixture.browser_login().await;
    let url = again.authorize_url().to_string();
    let redirect_uri = again.redirect_uri().to_owned();
    let forged = format!("{redirect_uri}?code=stolen-code&state=not-this-logins");
    finish_while(again, async {
        assert_eq!(reqwest::get(&forged).await.unwrap().status(), 400);
        browser.goto(&url).await?;
        browser.wait_for_url(|url| url.starts_with(&redirect_uri), PAGE_WAIT).await?;
        Ok(())
    })
    .await
    .unwrap();

    browser.quit().await.unwrap();
}

/// The user declines on the consent page: the server redirects with `access_denied`, the login
/// fails with a typed error, and nothing is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declining_consent_is_access_denied_and_stores_nothing() {
    let fixture = Fixture::start("browser-deny").await;
    let browser = Browser::start().await.unwrap();
    let login = fixture.browser_login().await;
    let url = login.authorize_url().to_string();
    let redirect_uri = login.redirect_uri().to_owned();

    let error = finish_while(login, async {
        browser.goto(&url).await?;
        log_in(&browser, PASSWORD).await?;
        browser.wait_for("#deny", PAGE_WAIT).await?.click().await?;
        let landed = browser.wait_for_url(|url| url.starts_with(&redirect_uri), PAGE_WAIT).await?;
        assert_eq!(query(&landed)["error"], "access_denied", "{landed}");
        let message = browser.wait_for("#message", PAGE_WAIT).await?.text().await?;
        assert!(message.contains("denied"), "{message}");
        Ok(())
    })
    .await
    .unwrap_err();

    assert!(matches!(&error, ClientError::AccessDenied(oauth) if oauth.code() == "access_denied"), "{error:?}");
    assert!(error.to_string().contains("denied"), "{error}");
    assert!(fixture.nothing_stored());
    browser.quit().await.unwrap();
}

/// OpenID Connect in a real browser: the login sends a nonce, the real server's id token echoes
/// it, and the client validates it (signature against `/oauth/jwks`, issuer, audience, expiry,
/// nonce) before storing it; a refresh brings a new id token for the same user.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_openid_browser_login_stores_a_validated_id_token() {
    let fixture = Fixture::start("browser-openid").await;
    let rp = fixture.server.client("Tessera OIDC test", &[], "read openid profile email", true).await;
    let browser = Browser::start().await.unwrap();
    let mut settings =
        ClientSettings::discover(fixture.source.http_client(), &fixture.server.base_url, rp.client_id.clone(), None)
            .await
            .unwrap();
    settings.scope = Some("openid profile email read".to_owned());
    let login = fixture.source.browser_login(settings).await.unwrap().with_timeout(LOGIN_TIMEOUT);
    let url = login.authorize_url().to_string();
    let redirect_uri = login.redirect_uri().to_owned();
    assert!(query(&url)["nonce"].len() >= 16, "{url}");

    let response = finish_while(login, async {
        browser.goto(&url).await?;
        log_in(&browser, PASSWORD).await?;
        browser.wait_for("#approve", PAGE_WAIT).await?.click().await?;
        browser.wait_for_url(|url| url.starts_with(&redirect_uri), PAGE_WAIT).await?;
        Ok(())
    })
    .await
    .unwrap();
    assert!(response.id_token.is_some());

    let claims = fixture.source.id_token_claims().await.unwrap();
    assert_eq!(claims.iss, fixture.server.base_url);
    assert_eq!(claims.aud, [rp.client_id.as_str()]);
    assert_eq!(claims.preferred_username.as_deref(), Some(USERNAME));
    assert!(claims.nonce.is_some() && claims.auth_time.is_some());
    let first = fixture.store.load().unwrap().unwrap().tokens.id_token.unwrap();

    fixture.source.force_refresh().await.unwrap();
    assert_ne!(fixture.store.load().unwrap().unwrap().tokens.id_token.unwrap(), first);
    let refreshed = fixture.source.id_token_claims().await.unwrap();
    assert_eq!(refreshed.sub, claims.sub);
    assert_eq!(refreshed.auth_time, claims.auth_time);
    browser.quit().await.unwrap();
}
