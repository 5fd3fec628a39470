//! The account page in headless Chromium: a user who approved an application at the real
//! authorization endpoint sees it and revokes it (its refresh token is then refused); makes a
//! personal access token, sees it once, uses it and revokes it; changes their password, which
//! ends a second browser's session, after a wrong current password and a forged form were
//! refused. Screenshots of the page at 1280 and 390 pixels wide.

use crate::authorize::{CHALLENGE, REDIRECT, VERIFIER, query_of};
use crate::helpers::{Fixture, PASSWORD, USERNAME, str_field};
use crate::oidc::token_as;
use crate::web_browser::{PAGE_WAIT, click, fill, signed_in, text};
use std::path::PathBuf;
use tessera_testkit::webdriver::Browser;

const NEW_PASSWORD: &str = "a brand new passphrase";

/// Saves a screenshot of the whole page (not only the window's height) at `width` pixels to
/// `screenshots/{name}.png` (the folder of `web_browser::screenshot`); its path.
async fn whole_page(browser: &Browser, name: &str, width: u32) -> PathBuf {
    let folder = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&folder).unwrap();
    browser.set_window_size(width, 1000).await.unwrap();
    // The window is taller than its viewport by the browser's own frame: make the viewport
    // as tall as the page.
    let script = "return [document.documentElement.scrollHeight, window.outerHeight - window.innerHeight]";
    let sizes = browser.execute(script, vec![]).await.unwrap();
    let size = |index: usize| u32::try_from(sizes[index].as_u64().unwrap()).unwrap();
    browser.set_window_size(width, (size(0) + size(1)).clamp(600, 8000)).await.unwrap();
    let path = folder.join(format!("{name}.png"));
    std::fs::write(&path, browser.screenshot().await.unwrap()).unwrap();
    browser.set_window_size(1280, 1000).await.unwrap();
    path
}

/// Submits the form of `button`, which asks first (`data-confirm`), and says yes.
async fn click_and_confirm(browser: &Browser, button: &str) {
    click(browser, button).await;
    let deadline = tokio::time::Instant::now() + PAGE_WAIT;
    while let Err(error) = browser.accept_alert().await {
        assert!(tokio::time::Instant::now() < deadline, "no confirmation was asked: {error}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_revokes_an_application_and_a_personal_access_token_in_chromium() {
    let fixture = Fixture::start().await;
    let browser = signed_in(&fixture, "/account", USERNAME).await;
    assert_eq!(text(&browser, "main h1").await, "Your account");
    assert!(text(&browser, "#no-applications").await.contains("No application"));

    // Approve the application at the authorization endpoint, in this browser.
    let query = serde_urlencoded::to_string([
        ("response_type", "code"),
        ("client_id", fixture.app.client_id.as_str()),
        ("redirect_uri", REDIRECT),
        ("scope", "read"),
        ("state", "st4te"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ])
    .unwrap();
    browser.goto(&fixture.url(&format!("/oauth/authorize?{query}"))).await.unwrap();
    click(&browser, "#approve").await;
    let back = browser.wait_for_url(|url| url.starts_with(REDIRECT), PAGE_WAIT).await.unwrap();
    let code = query_of(&back)["code"].clone();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    let (status, tokens) = token_as(&fixture, &fixture.app, &form).await;
    assert_eq!(status, 200, "{tokens}");

    // A personal access token, shown once with a copy button.
    browser.goto(&fixture.url("/account")).await.unwrap();
    let listed = text(&browser, "#applications").await;
    assert!(listed.contains("app") && listed.contains("read") && listed.contains("approved by you"), "{listed}");
    fill(&browser, "#pat-name", "deploy script").await;
    fill(&browser, "#pat-scope", "read").await;
    click(&browser, "#create-token").await;
    let token = text(&browser, "#new-token").await;
    assert!(token.starts_with("tsp_"), "{token}");
    assert!(text(&browser, "#created").await.contains("you will not see it again"));
    let copy = browser.find("button[data-copy=\"new-token\"]").await.unwrap();
    assert!(copy.is_displayed().await.unwrap(), "the script shows the copy button");
    whole_page(&browser, "account-pat-created-1280", 1280).await;
    whole_page(&browser, "account-pat-created-390", 390).await;
    assert_eq!(fixture.me(&token).await.status(), 200, "the token works on the API");

    // The page again: the application and the token listed, the token itself not.
    browser.goto(&fixture.url("/account")).await.unwrap();
    assert!(!browser.source().await.unwrap().contains(&token), "shown once only");
    assert!(text(&browser, "#tokens").await.contains("deploy script"));
    whole_page(&browser, "account-1280", 1280).await;
    whole_page(&browser, "account-390", 390).await;

    // Revoke the token, then the application.
    click_and_confirm(&browser, "#tokens button.danger").await;
    assert!(text(&browser, "#notice").await.contains("token was revoked"));
    assert!(text(&browser, "#tokens").await.contains("Revoked"));
    assert_eq!(fixture.me(&token).await.status(), 401, "the revoked token is refused");
    click_and_confirm(&browser, "#applications button.danger").await;
    assert!(text(&browser, "#notice").await.contains("application's access was revoked"));
    browser.wait_for("#no-applications", PAGE_WAIT).await.unwrap();
    let (status, body) = fixture.refresh(&str_field(&tokens, "refresh_token")).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    browser.quit().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_the_password_in_chromium_can_end_another_browsers_session() {
    let fixture = Fixture::start().await;
    let first = signed_in(&fixture, "/account", USERNAME).await;
    let second = signed_in(&fixture, "/account", USERNAME).await;

    // Refusals first: a wrong current password gets the form back with the message by the
    // field; a form without its anti-CSRF token is refused. Neither changes anything.
    fill(&first, "#current-password", "not my password").await;
    fill(&first, "#new-password", NEW_PASSWORD).await;
    fill(&first, "#confirm-password", NEW_PASSWORD).await;
    click(&first, "#change-password").await;
    assert_eq!(text(&first, "#current-password-error").await, "The current password is incorrect.");
    let field = first.find("#current-password").await.unwrap();
    assert_eq!(field.attr("aria-invalid").await.unwrap().as_deref(), Some("true"));
    whole_page(&first, "account-password-refused-390", 390).await;
    first.execute("document.querySelector('#password-form input[name=csrf]').remove()", vec![]).await.unwrap();
    fill(&first, "#current-password", PASSWORD).await;
    fill(&first, "#new-password", NEW_PASSWORD).await;
    fill(&first, "#confirm-password", NEW_PASSWORD).await;
    click(&first, "#change-password").await;
    assert!(text(&first, "#message").await.contains("anti-CSRF token is missing or wrong"));
    first.goto(&fixture.url("/account")).await.unwrap();

    fill(&first, "#current-password", PASSWORD).await;
    fill(&first, "#new-password", NEW_PASSWORD).await;
    fill(&first, "#confirm-password", NEW_PASSWORD).await;
    click(&first, "#end-others").await;
    click(&first, "#change-password").await;
    assert!(text(&first, "#notice").await.contains("Your other sessions were signed out"));
    first.refresh().await.unwrap();
    assert_eq!(text(&first, "main h1").await, "Your account", "this browser stays signed in");

    // The second browser was signed out: back to the login page, where the old password is
    // refused and the new one works.
    second.goto(&fixture.url("/account")).await.unwrap();
    second.wait_for_url(|url| url.contains("/login?return_to=%2Faccount"), PAGE_WAIT).await.unwrap();
    fill(&second, "#username", USERNAME).await;
    fill(&second, "#password", PASSWORD).await;
    click(&second, "#login").await;
    assert!(text(&second, "p.error").await.contains("incorrect"), "the old password is refused");
    fill(&second, "#password", NEW_PASSWORD).await;
    click(&second, "#login").await;
    second.wait_for_url(|url| url.ends_with("/account"), PAGE_WAIT).await.unwrap();
    assert_eq!(text(&second, "main h1").await, "Your account");
    let actions: Vec<String> = crate::account::audit(&fixture).await.into_iter().map(|entry| entry.action).collect();
    assert_eq!(actions, ["account.change_password"], "the refusals wrote nothing");
    first.quit().await.unwrap();
    second.quit().await.unwrap();
}
