//! `tessera login --device` as a process against the real server in-process: the test reads the
//! URL and code the command prints, and a headless Chromium (`tessera_testkit::webdriver`) signs
//! in at the verification page, enters the code and approves (or denies) while the command polls.

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
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// How long any one page may take to appear (the machine may be busy compiling).
const PAGE_WAIT: Duration = Duration::from_secs(30);

struct Fixture {
    server: TestServer,
    tv: TestClient,
    dir: TempDir,
    /// Moves the server's manual clock along with real time, since the command polls in real
    /// time (a clock that lags only makes the server answer `slow_down`, which the command
    /// honours).
    ticker: tokio::task::JoinHandle<()>,
}

impl Fixture {
    async fn start(name: &str) -> Fixture {
        let server = TestServer::start(RawConfig::default()).await;
        let tv = server.client("Living-room TV", &[DEVICE_GRANT, "refresh_token"], "openid read", true).await;
        server.user(USERNAME, PASSWORD).await;
        let clock = server.clock.clone();
        let ticker = tokio::spawn(async move {
            let step = Duration::from_millis(100);
            loop {
                tokio::time::sleep(step).await;
                clock.advance(step);
            }
        });
        Fixture { server, tv, dir: TempDir::new(name), ticker }
    }

    /// Starts `tessera login --device` and reads its stderr up to the code.
    async fn start_login(&self) -> DeviceLogin {
        self.start_login_with(&[]).await
    }

    /// [`start_login`](Self::start_login) with `extra` arguments.
    async fn start_login_with(&self, extra: &[&str]) -> DeviceLogin {
        let mut running = Tessera::in_dir(&self.dir)
            .args([
                "login",
                "--device",
                "--issuer",
                &self.server.base_url,
                "--client-id",
                &self.tv.client_id,
                "--scope",
                "openid read",
                "--profile",
                "tv",
            ])
            .args(extra)
            .spawn();
        let mut stderr = running.take_stderr().lines();
        let mut seen = Vec::new();
        let (url, code) = tokio::time::timeout(PROCESS_TIMEOUT, async {
            let mut url = None;
            while let Some(line) = stderr.next_line().await.unwrap() {
                if let Some(rest) = line.strip_prefix("To log in, visit ") {
                    url = Some(rest.to_owned());
                } else if let Some(code) = line.strip_prefix("and enter the code ") {
                    return url.map(|url| (url, code.to_owned()));
                }
                seen.push(line);
            }
            None
        })
        .await
        .expect("tessera login --device printed no code in time")
        .unwrap_or_else(|| panic!("no URL and code on stderr: {seen:?}"));
        DeviceLogin { running, stderr, url, code }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.ticker.abort();
    }
}

struct DeviceLogin {
    running: Running,
    stderr: Lines<BufReader<ChildStderr>>,
    url: String,
    code: String,
}

impl DeviceLogin {
    async fn wait(self) -> Output {
        self.running.wait_reading(self.stderr).await
    }
}

/// Signs in at the verification page and enters the code; leaves the browser on the page that
/// shows the client and asks to allow or deny.
async fn enter_code(browser: &Browser, login: &DeviceLogin) {
    browser.goto(&login.url).await.unwrap();
    browser.wait_for("#username", PAGE_WAIT).await.unwrap().send_keys(USERNAME).await.unwrap();
    browser.find("#password").await.unwrap().send_keys(PASSWORD).await.unwrap();
    browser.find("#login").await.unwrap().click().await.unwrap();
    browser.wait_for("#user_code", PAGE_WAIT).await.unwrap().send_keys(&login.code.to_lowercase()).await.unwrap();
    browser.find("#lookup").await.unwrap().click().await.unwrap();
    let client = browser.wait_for("#client", PAGE_WAIT).await.unwrap().text().await.unwrap();
    assert_eq!(client, "Living-room TV");
    assert_eq!(browser.find("#user_code").await.unwrap().text().await.unwrap(), login.code);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tessera_login_device_prints_a_code_polls_until_approved_and_stores_a_working_profile() {
    let fixture = Fixture::start("login-device").await;
    let login = fixture.start_login().await;
    assert_eq!(login.url, format!("{}/oauth/device", fixture.server.base_url));
    assert!(login.code.len() == 9 && login.code.as_bytes()[4] == b'-', "{}", login.code);

    let browser = Browser::start().await.unwrap();
    enter_code(&browser, &login).await;
    browser.find("#approve").await.unwrap().click().await.unwrap();
    let outcome = browser.wait_for("#outcome", PAGE_WAIT).await.unwrap().text().await.unwrap();
    assert!(outcome.contains("Your device is connected"), "{outcome}");

    let output = login.wait().await.success();
    assert!(output.stdout.is_empty(), "no QR code when stdout is not a terminal: {}", output.stdout);
    let logged_in = format!("logged in to {} as {USERNAME} with scope \"openid read\"", fixture.server.base_url);
    assert!(output.stderr.contains(&logged_in), "{}", output.stderr);

    let store = FileStore::in_dir(fixture.dir.config_home().join("tessera"), "tv").unwrap();
    let stored = store.load().unwrap().expect("the profile is stored");
    assert_eq!(stored.client.client_id, fixture.tv.client_id);
    assert!(stored.tokens.refresh_token.is_some());
    let me = Tessera::in_dir(&fixture.dir).args(["api", "/api/1.0/users/me", "--profile", "tv"]).run().await.success();
    assert_eq!(me.json()["username"], USERNAME);
    Tessera::in_dir(&fixture.dir).args(["token", "refresh", "--profile", "tv"]).run().await.success();
    browser.quit().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denying_a_device_fails_tessera_login_device_and_stores_nothing() {
    let fixture = Fixture::start("login-device-deny").await;
    let login = fixture.start_login().await;
    let browser = Browser::start().await.unwrap();
    enter_code(&browser, &login).await;
    browser.find("#deny").await.unwrap().click().await.unwrap();
    let outcome = browser.wait_for("#outcome", PAGE_WAIT).await.unwrap().text().await.unwrap();
    assert!(outcome.contains("Access denied"), "{outcome}");

    let output = login.wait().await;
    assert_eq!(output.code(), Some(1), "{}", output.stderr);
    assert!(output.stderr.contains("login failed") && output.stderr.contains("access_denied"), "{}", output.stderr);
    let store = FileStore::in_dir(fixture.dir.config_home().join("tessera"), "tv").unwrap();
    assert!(store.load().unwrap().is_none());
    browser.quit().await.unwrap();
}

/// `--dpop` on a device login: every poll carries a proof, so the tokens are bound to the
/// profile's key, which later commands prove.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tessera_login_device_dpop_binds_the_tokens_to_the_profiles_key() {
    let fixture = Fixture::start("login-device-dpop").await;
    let login = fixture.start_login_with(&["--dpop"]).await;
    let browser = Browser::start().await.unwrap();
    enter_code(&browser, &login).await;
    browser.find("#approve").await.unwrap().click().await.unwrap();
    browser.wait_for("#outcome", PAGE_WAIT).await.unwrap();
    let output = login.wait().await.success();
    assert!(output.stderr.contains("the tokens are bound to the DPoP key"), "{}", output.stderr);
    assert!(output.stderr.contains(&format!("as {USERNAME}")), "{}", output.stderr);

    let store = FileStore::in_dir(fixture.dir.config_home().join("tessera"), "tv").unwrap();
    crate::dpop_login::assert_bound_to_the_profiles_key(&store);
    let me = Tessera::in_dir(&fixture.dir).args(["api", "/api/1.0/users/me", "--profile", "tv"]).run().await.success();
    assert_eq!(me.json()["username"], USERNAME);
    let refreshed = Tessera::in_dir(&fixture.dir).args(["token", "refresh", "--profile", "tv"]).run().await.success();
    assert_eq!(refreshed.json()["token_type"], "DPoP");
    browser.quit().await.unwrap();
}
