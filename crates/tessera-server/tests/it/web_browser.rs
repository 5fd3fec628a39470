//! Helpers for the web pages' tests in headless Chromium (console, account page): sign in
//! through `/login` the way a person does, and save a screenshot of each page to the test
//! output folder (`$CARGO_TARGET_TMPDIR/screenshots/`, i.e. `target/tmp/screenshots/`).

use crate::helpers::{Fixture, PASSWORD};
use std::path::PathBuf;
use std::time::Duration;
use tessera_testkit::webdriver::Browser;

/// How long any one page may take to appear (the machine may be busy compiling).
pub const PAGE_WAIT: Duration = Duration::from_secs(30);

/// Opens `path` in a new browser, signs `username` in on the login page it is sent to, and
/// waits until it is back on `path`.
pub async fn signed_in(fixture: &Fixture, path: &str, username: &str) -> Browser {
    let browser = Browser::start().await.unwrap();
    browser.goto(&fixture.url(path)).await.unwrap();
    fill(&browser, "#username", username).await;
    fill(&browser, "#password", PASSWORD).await;
    browser.find("#login").await.unwrap().click().await.unwrap();
    let expected = fixture.url(path);
    browser.wait_for_url(|url| url.starts_with(&expected), PAGE_WAIT).await.unwrap();
    browser.wait_for("main h1", PAGE_WAIT).await.unwrap();
    browser
}

/// Types `text` into the input `css`, replacing what was there.
pub async fn fill(browser: &Browser, css: &str, text: &str) {
    let input = browser.wait_for(css, PAGE_WAIT).await.unwrap();
    input.clear().await.unwrap();
    input.send_keys(text).await.unwrap();
}

/// Clicks `css` once it is there.
pub async fn click(browser: &Browser, css: &str) {
    browser.wait_for(css, PAGE_WAIT).await.unwrap().click().await.unwrap();
}

/// The text of `css`.
pub async fn text(browser: &Browser, css: &str) -> String {
    browser.wait_for(css, PAGE_WAIT).await.unwrap().text().await.unwrap()
}

/// Saves a screenshot of the page at `width` pixels to `screenshots/{name}.png`; its path.
pub async fn screenshot(browser: &Browser, name: &str, width: u32) -> PathBuf {
    let folder = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&folder).unwrap();
    browser.set_window_size(width, 1000).await.unwrap();
    let path = folder.join(format!("{name}.png"));
    std::fs::write(&path, browser.screenshot().await.unwrap()).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_signs_in_to_the_console_in_chromium() {
    let fixture = Fixture::start().await;
    fixture.server.admin("root", PASSWORD).await;
    let browser = signed_in(&fixture, "/console", "root").await;
    assert_eq!(text(&browser, "main h1").await, "Overview");
    // The stylesheet applied (served by Tessera under the strict CSP): the top bar is dark.
    let background = browser.find(".topbar").await.unwrap().css_value("background-color").await.unwrap();
    assert_eq!(background, "rgba(22, 33, 58, 1)");
    screenshot(&browser, "console-sign-in-done", 1280).await;
    // Signing out from the navigation ends the session.
    click(&browser, ".signout button").await;
    browser.wait_for("#username", PAGE_WAIT).await.unwrap();
    browser.goto(&fixture.url("/console")).await.unwrap();
    browser.wait_for("#username", PAGE_WAIT).await.unwrap();
    browser.quit().await.unwrap();
}
