//! A relying party signs users in through Tessera in headless Chromium: Authlib's OpenID
//! Connect client (`relying_party/rp.py`, configured with the issuer URL, a client id and a
//! secret only) validates every id token itself, and PyJWT checks it again with `at_hash`.
//! Sign-in, consent, id token and userinfo; a second sign-in without the consent page;
//! `prompt=none` with and without a session; `max_age=0` forcing a new sign-in; logout back
//! to the relying party's registered `post_logout_redirect_uri`.

use crate::helpers::{Fixture, PASSWORD, USERNAME};
use crate::oidc::relying_party;
use serde_json::Value;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tessera_server::config::RawConfig;
use tessera_server::store::Backend;
use tessera_testkit::webdriver::{Browser, WebDriverError};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long any one page may take to appear (the machine may be busy compiling).
const PAGE_WAIT: Duration = Duration::from_secs(30);

/// Starts the relying party; its base URL.
async fn start_relying_party(fixture: &Fixture, client_id: &str, secret: &str) -> (Child, String) {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/it/relying_party/rp.py");
    let mut child = Command::new("python3")
        .arg(script)
        .args([&fixture.server.base_url, client_id, secret])
        .stdout(Stdio::piped())
        // Authlib warns on stderr that authlib.jose will move to joserfc; failures show on its pages.
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("python3 (scripts/install-test-deps.sh installs Authlib and PyJWT)");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(PAGE_WAIT, lines.next_line()).await.unwrap().unwrap();
    let port = line.as_deref().and_then(|line| line.strip_prefix("listening on ")).unwrap_or_else(|| {
        panic!("the relying party did not start (Authlib installed? scripts/install-test-deps.sh): {line:?}")
    });
    (child, format!("http://127.0.0.1:{port}"))
}

async fn log_in(browser: &Browser) -> Result<(), WebDriverError> {
    let username = browser.wait_for("#username", PAGE_WAIT).await?;
    username.clear().await?;
    username.send_keys(USERNAME).await?;
    browser.find("#password").await?.send_keys(PASSWORD).await?;
    Ok(browser.find("#login").await?.click().await?)
}

/// The relying party's page after a sign-in: the validated id-token claims and userinfo.
async fn result(browser: &Browser) -> Value {
    let shown = browser.wait_for("#result, #error, #oidc-error", PAGE_WAIT).await.unwrap();
    let (id, text) = (shown.attr("id").await.unwrap(), shown.text().await.unwrap());
    assert_eq!(id.as_deref(), Some("result"), "the relying party failed: {text}");
    serde_json::from_str(&text).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relying_party_signs_a_user_in_validates_id_tokens_and_logs_out() {
    let fixture = Fixture::on(Backend::Sqlite, RawConfig::default()).await;
    let rp = relying_party(&fixture).await;
    let (_process, base) = start_relying_party(&fixture, &rp.client_id, rp.client_secret.as_deref().unwrap()).await;
    let signed_out = format!("{base}/signed-out");
    fixture
        .server
        .store()
        .set_client_post_logout_redirect_uris(&rp.client_id.as_str().into(), std::slice::from_ref(&signed_out))
        .await
        .unwrap();
    let browser = Browser::start().await.unwrap();

    // Sign in and consent.
    browser.goto(&format!("{base}/login")).await.unwrap();
    log_in(&browser).await.unwrap();
    browser.wait_for("#approve", PAGE_WAIT).await.unwrap().click().await.unwrap();
    let first = result(&browser).await;
    let claims = &first["id_token"];
    assert_eq!(claims["sub"], fixture.user_id.as_str());
    assert_eq!(
        (claims["preferred_username"].as_str(), claims["name"].as_str()),
        (Some(USERNAME), Some("Alice Liddell"))
    );
    assert_eq!(first["userinfo"]["email"], "alice@example.test");
    assert_eq!(first["userinfo"]["email_verified"], true);
    eprintln!("one sign-in, as the relying party validated it:\n{}", serde_json::to_string_pretty(&first).unwrap());

    // Again: signed in, consent remembered, no page at all.
    browser.goto(&format!("{base}/login")).await.unwrap();
    let second = result(&browser).await;
    assert_eq!(second["id_token"]["auth_time"], claims["auth_time"]);
    assert_eq!(second["id_token"]["sid"], claims["sid"]);
    assert_ne!(second["id_token"]["nonce"], claims["nonce"]);

    // prompt=none with a session: a code, silently.
    browser.goto(&format!("{base}/login?prompt=none")).await.unwrap();
    result(&browser).await;

    // max_age=0 a moment later: the login page again, and a new auth_time.
    fixture.server.clock.advance(Duration::from_secs(3));
    browser.goto(&format!("{base}/login?max_age=0")).await.unwrap();
    log_in(&browser).await.unwrap();
    let fresh = result(&browser).await;
    assert_eq!(fresh["id_token"]["auth_time"].as_i64().unwrap(), claims["auth_time"].as_i64().unwrap() + 3);

    // Logout with the id token as hint: back at the relying party's registered URI.
    browser.goto(&format!("{base}/logout")).await.unwrap();
    browser.wait_for("#signed-out", PAGE_WAIT).await.unwrap();
    assert!(browser.current_url().await.unwrap().as_str().starts_with(&signed_out));

    // prompt=none without a session: login_required, back at the relying party.
    browser.goto(&format!("{base}/login?prompt=none")).await.unwrap();
    let error = browser.wait_for("#oidc-error, #error", PAGE_WAIT).await.unwrap().text().await.unwrap();
    assert_eq!(error, "login_required");

    browser.quit().await.unwrap();
}
