//! The example single-page app (`examples/spa`) in headless Chromium: served by Python's
//! http.server on another loopback port, so it is another origin and every call it makes to
//! Tessera (token, API, revocation) needs CORS. Sign in with code + PKCE, consent, the user
//! shown from `/api/1.0/users/me`, a refresh, an API call, and logout: the refresh token's
//! family revoked and the browser session ended. With `TESSERA_SPA_SCREENSHOT=file.png` the
//! test saves a screenshot of the signed-in app there (for the closing note).

use crate::helpers::{Fixture, PASSWORD, USERNAME};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tessera_core::{ClientId, UserId};
use tessera_server::admin::{NewClient, create_client};
use tessera_server::clock::Clock;
use tessera_server::config::RawConfig;
use tessera_server::store::Backend;
use tessera_testkit::webdriver::Browser;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long any one page may take to appear (the machine may be busy compiling).
const PAGE_WAIT: Duration = Duration::from_secs(30);
const APP_FILES: &[&str] = &["index.html", "app.js", "oauth.js"];

fn example_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/spa")
}

/// Serves `directory` with `python3 -m http.server` on a free loopback port; its base URL.
async fn static_server(directory: &Path) -> (Child, String) {
    let mut child = Command::new("python3")
        .args(["-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory"])
        .arg(directory)
        .stdout(Stdio::piped())
        .stderr(Stdio::null()) // one line per request
        .kill_on_drop(true)
        .spawn()
        .expect("python3");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // "Serving HTTP on 127.0.0.1 port 41234 (http://127.0.0.1:41234/) ..."
    let line = tokio::time::timeout(PAGE_WAIT, lines.next_line()).await.unwrap().unwrap().unwrap_or_default();
    let port = line.split_whitespace().skip_while(|word| *word != "port").nth(1);
    let port = port.unwrap_or_else(|| panic!("http.server did not start: {line:?}"));
    (child, format!("http://127.0.0.1:{port}"))
}

/// Waits for `css` or the app's error line; fails with the error if that came first.
async fn wait_for(browser: &Browser, css: &str) {
    let shown = browser.wait_for(&format!("{css}, #error:not([hidden])"), PAGE_WAIT).await.unwrap();
    if shown.attr("id").await.unwrap().as_deref() == Some("error") {
        panic!("the app failed while waiting for {css}: {}", shown.text().await.unwrap());
    }
}

async fn click(browser: &Browser, css: &str) {
    browser.wait_for(css, PAGE_WAIT).await.unwrap().click().await.unwrap();
}

async fn log_in(browser: &Browser) {
    let username = browser.wait_for("#username", PAGE_WAIT).await.unwrap();
    username.clear().await.unwrap();
    username.send_keys(USERNAME).await.unwrap();
    browser.find("#password").await.unwrap().send_keys(PASSWORD).await.unwrap();
    browser.find("#login").await.unwrap().click().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_single_page_app_signs_in_refreshes_calls_the_api_and_logs_out() {
    let fixture = Fixture::on(Backend::Sqlite, RawConfig::default()).await;
    let site = tempfile::tempdir().unwrap();
    for file in APP_FILES {
        std::fs::copy(example_dir().join(file), site.path().join(file)).unwrap();
    }
    let (_static_server, origin) = static_server(site.path()).await;
    assert_ne!(origin, fixture.server.base_url, "the app is on another origin than Tessera");
    let home = format!("{origin}/");

    // What the README tells an operator to run, through the same use case as the CLI.
    let new = NewClient {
        name: "Example SPA".into(),
        redirect_uris: vec![home.clone()],
        grant_types: Vec::new(),
        scope: "openid profile email".into(),
        public: true,
        introspection: Default::default(),
        allowed_origins: vec![origin.clone()],
        require_dpop: false,
    };
    let store = fixture.server.store();
    let (client, _) = create_client(store, fixture.server.clock.now(), new).await.unwrap();
    store.set_client_post_logout_redirect_uris(&client.client_id, std::slice::from_ref(&home)).await.unwrap();
    let config = serde_json::json!({
        "issuer": fixture.server.base_url,
        "client_id": client.client_id,
        "scope": "openid profile email",
    });
    std::fs::write(site.path().join("config.json"), config.to_string()).unwrap();
    let families = || async {
        let (user, client): (UserId, ClientId) = (fixture.user_id.as_str().into(), client.client_id.clone());
        store.consented_families(&user, &client).await.unwrap()
    };

    let browser = Browser::start().await.unwrap();
    browser.goto(&home).await.unwrap();
    click(&browser, "#signin").await;
    log_in(&browser).await;
    click(&browser, "#approve").await;

    // Back in the app: the code exchanged (CORS on the token endpoint) and the API called.
    wait_for(&browser, "#api-calls[data-count='1']").await;
    assert_eq!(browser.find("#username").await.unwrap().text().await.unwrap(), USERNAME);
    let url = browser.current_url().await.unwrap();
    assert!(url.as_str() == home, "the code left the address bar: {url}");
    assert_eq!(families().await.len(), 1, "one family began at the consent page");

    click(&browser, "#refresh").await;
    wait_for(&browser, "#refreshes[data-count='1']").await;
    click(&browser, "#call-api").await;
    wait_for(&browser, "#api-calls[data-count='2']").await;
    let shown: serde_json::Value =
        serde_json::from_str(&browser.find("#user").await.unwrap().text().await.unwrap()).unwrap();
    assert_eq!((shown["id"].as_str(), shown["username"].as_str()), (Some(fixture.user_id.as_str()), Some(USERNAME)));
    if let Some(path) = std::env::var_os("TESSERA_SPA_SCREENSHOT") {
        browser.set_window_size(900, 1000).await.unwrap();
        std::fs::write(&path, browser.screenshot().await.unwrap()).unwrap();
        eprintln!("screenshot of the signed-in app: {}", PathBuf::from(path).display());
    }

    // Logout: the refresh token revoked (its family with it), then RP-initiated logout.
    click(&browser, "#logout").await;
    wait_for(&browser, "#signed-out:not([hidden])").await;
    assert!(browser.current_url().await.unwrap().as_str().starts_with(&home));
    assert!(families().await.is_empty(), "the family was revoked");
    // The browser session at Tessera ended: signing in asks for the password again.
    click(&browser, "#signin").await;
    browser.wait_for("#username", PAGE_WAIT).await.unwrap();

    browser.quit().await.unwrap();
}
