//! `tessera login --browser` as a process against the real server in-process: the test reads the
//! URL the command prints, and a headless Chromium (`tessera_testkit::webdriver`) goes
//! through the login and consent pages while the command waits on its loopback listener.

use std::time::Duration;

use tessera_client::{CredentialStore, FileStore};
use tessera_server::config::RawConfig;
use tessera_testkit::webdriver::Browser;
use tessera_testkit::{TestClient, TestServer};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::ChildStderr;

use crate::support::{Output, PROCESS_TIMEOUT, Running, TempDir, Tessera};

const USERNAME: &str = "alice";
const PASSWORD: &str = "correct horse battery staple";
const ME: &str = "/api/1.0/users/me";
const OPEN_THIS_URL: &str = "Open this URL in your browser to log in:";
/// How long any one page may take to appear (the machine may be busy compiling).
const PAGE_WAIT: Duration = Duration::from_secs(30);

struct Fixture {
    server: TestServer,
    /// A confidential client registered with `http://127.0.0.1/callback`.
    app: TestClient,
    dir: TempDir,
}

impl Fixture {
    async fn start(name: &str) -> Fixture {
        let server = TestServer::start(RawConfig::default()).await;
        let app = server.client("Tessera CLI test", &[], "read write", false).await;
        server.user(USERNAME, PASSWORD).await;
        Fixture { server, app, dir: TempDir::new(name) }
    }

    fn tessera(&self) -> Tessera {
        Tessera::in_dir(&self.dir)
    }

    /// Starts `tessera login --browser` and reads its stderr up to the URL it asks the user to
    /// open.
    async fn start_login(&self, profile: &str) -> BrowserLogin {
        self.start_login_with(profile, &[]).await
    }

    /// [`start_login`](Self::start_login) with `extra` arguments.
    async fn start_login_with(&self, profile: &str, extra: &[&str]) -> BrowserLogin {
        let mut running = self
            .tessera()
            .args([
                "login",
                "--browser",
                "--issuer",
                &self.server.base_url,
                "--client-id",
                &self.app.client_id,
                "--client-secret",
                self.app.client_secret.as_deref().unwrap(),
                "--scope",
                "read",
                "--profile",
                profile,
            ])
            .args(extra)
            .spawn();
        let mut stderr = running.take_stderr().lines();
        let mut before = Vec::new();
        let url = tokio::time::timeout(PROCESS_TIMEOUT, async {
            while let Some(line) = stderr.next_line().await.unwrap() {
                if line == OPEN_THIS_URL {
                    return stderr.next_line().await.unwrap();
                }
                before.push(line);
            }
            None
        })
        .await
        .expect("tessera login --browser printed no URL in time")
        .unwrap_or_else(|| panic!("no {OPEN_THIS_URL:?} line on stderr: {before:?}"));
        BrowserLogin { running, stderr, url }
    }

    fn store(&self, profile: &str) -> FileStore {
        FileStore::in_dir(self.dir.config_home().join("tessera"), profile).unwrap()
    }
}

/// A running `tessera login --browser`, after it printed the URL.
struct BrowserLogin {
    running: Running,
    stderr: Lines<BufReader<ChildStderr>>,
    url: String,
}

impl BrowserLogin {
    /// The `redirect_uri` of the printed URL.
    fn redirect_uri(&self) -> String {
        let url = tessera_client::Url::parse(&self.url).unwrap();
        url.query_pairs().find(|(name, _)| name == "redirect_uri").map(|(_, value)| value.into_owned()).unwrap()
    }

    /// Waits for the process to exit; its output, with the rest of stderr.
    async fn wait(self) -> Output {
        self.running.wait_reading(self.stderr).await
    }
}

/// Signs in at the printed URL, clicks `button` (`#approve` or `#deny`) on the consent page and
/// waits for the browser to reach the command's redirect URI.
async fn sign_in_and_answer(browser: &Browser, login: &BrowserLogin, button: &str) {
    let redirect_uri = login.redirect_uri();
    browser.goto(&login.url).await.unwrap();
    browser.wait_for("#username", PAGE_WAIT).await.unwrap().send_keys(USERNAME).await.unwrap();
    browser.find("#password").await.unwrap().send_keys(PASSWORD).await.unwrap();
    browser.find("#login").await.unwrap().click().await.unwrap();
    browser.wait_for(button, PAGE_WAIT).await.unwrap().click().await.unwrap();
    browser.wait_for_url(|url| url.starts_with(&redirect_uri), PAGE_WAIT).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tessera_login_browser_prints_the_url_waits_for_consent_and_stores_a_working_profile() {
    let fixture = Fixture::start("login-browser").await;
    let login = fixture.start_login("work").await;
    assert!(login.url.starts_with(&format!("{}/oauth/authorize?", fixture.server.base_url)), "{}", login.url);
    assert!(login.url.contains("code_challenge_method=S256"), "{}", login.url);
    let redirect_uri = login.redirect_uri();
    assert!(redirect_uri.starts_with("http://127.0.0.1:") && redirect_uri.ends_with("/callback"), "{redirect_uri}");

    let browser = Browser::start().await.unwrap();
    sign_in_and_answer(&browser, &login, "#approve").await;
    let message = browser.wait_for("#message", PAGE_WAIT).await.unwrap().text().await.unwrap();
    assert!(message.contains("You can close this window"), "{message}");

    let output = login.wait().await.success();
    assert!(output.stdout.is_empty(), "{}", output.stdout);
    let logged_in = format!("logged in to {} as {USERNAME} with scope \"read\"", fixture.server.base_url);
    assert!(output.stderr.contains(&logged_in), "{}", output.stderr);
    assert!(output.stderr.contains("profile work"), "{}", output.stderr);

    let stored = fixture.store("work").load().unwrap().expect("the profile is stored");
    assert_eq!(stored.client.client_id, fixture.app.client_id);
    let me = fixture.tessera().args(["api", ME, "--profile", "work"]).run().await.success();
    assert_eq!(me.json()["username"], USERNAME);
    let token = fixture.tessera().args(["token", "--profile", "work"]).run().await.success();
    assert_eq!(token.stdout.trim_end(), stored.tokens.access_token.secret());
    fixture.tessera().args(["token", "refresh", "--profile", "work"]).run().await.success();

    browser.quit().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declining_consent_fails_tessera_login_browser_and_stores_nothing() {
    let fixture = Fixture::start("login-browser-deny").await;
    let login = fixture.start_login("default").await;

    let browser = Browser::start().await.unwrap();
    sign_in_and_answer(&browser, &login, "#deny").await;

    let output = login.wait().await;
    assert_eq!(output.code(), Some(1), "{}", output.stderr);
    assert!(output.stderr.contains("login failed") && output.stderr.contains("access_denied"), "{}", output.stderr);
    assert!(!output.stderr.contains("panicked"), "{}", output.stderr);
    assert!(fixture.store("default").load().unwrap().is_none());
    browser.quit().await.unwrap();
}

/// No browser needed: a forged redirect (another state) is answered 400 and its code is never
/// used, but it does not end the command, which goes on waiting for this login's redirect (here
/// the user declining, sent with the state of the printed URL).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_redirect_does_not_end_tessera_login_browser() {
    let fixture = Fixture::start("login-browser-forged").await;
    let mut login = fixture.start_login("default").await;
    let redirect_uri = login.redirect_uri();
    let forged = reqwest::get(format!("{redirect_uri}?code=stolen&state=forged")).await.unwrap();
    assert_eq!(forged.status(), 400);
    assert!(forged.text().await.unwrap().contains("not recognised"));
    // The command answers the redirects one by one in its login loop: an answer to a request sent
    // after the forged one shows that the loop went on, and so the command is still waiting.
    let probe = reqwest::get(redirect_uri.replace("/callback", "/favicon.ico")).await;
    assert_eq!(probe.map(|response| response.status().as_u16()).ok(), Some(404), "the listener is gone");
    assert!(login.running.still_running(), "a forged redirect ended tessera login --browser");

    let state = tessera_client::Url::parse(&login.url)
        .unwrap()
        .query_pairs()
        .find(|(name, _)| name == "state")
        .map(|(_, value)| value.into_owned())
        .unwrap();
    let genuine = reqwest::get(format!("{redirect_uri}?error=access_denied&state={state}")).await.unwrap();
    assert!(genuine.text().await.unwrap().contains("The login failed"));

    let output = login.wait().await;
    assert_eq!(output.code(), Some(1), "{}", output.stderr);
    assert!(output.stderr.contains("access_denied"), "{}", output.stderr);
    assert!(!output.stderr.contains("wrong state"), "{}", output.stderr);
    assert!(fixture.store("default").load().unwrap().is_none());
}

/// `--dpop` on a browser login: the code is traded with a proof, so the access tokens are bound
/// to the profile's key (a confidential client's refresh tokens stay bound by its secret), and
/// later commands prove the key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tessera_login_browser_dpop_binds_the_access_tokens_to_the_profiles_key() {
    let fixture = Fixture::start("login-browser-dpop").await;
    let login = fixture.start_login_with("work", &["--dpop"]).await;
    let browser = Browser::start().await.unwrap();
    sign_in_and_answer(&browser, &login, "#approve").await;
    let output = login.wait().await.success();
    assert!(output.stderr.contains("the tokens are bound to the DPoP key"), "{}", output.stderr);
    assert!(output.stderr.contains(&format!("as {USERNAME}")), "{}", output.stderr);

    let store = fixture.store("work");
    crate::dpop_login::assert_bound_to_the_profiles_key(&store);
    let me = fixture.tessera().args(["api", ME, "--profile", "work"]).run().await.success();
    assert_eq!(me.json()["username"], USERNAME);
    let refreshed = fixture.tessera().args(["token", "refresh", "--profile", "work"]).run().await.success();
    assert_eq!(refreshed.json()["token_type"], "DPoP");
    browser.quit().await.unwrap();
}
