//! Every action of the console's clients, users and sessions pages in headless Chromium, as an
//! admin does it, with screenshots at desktop (1280) and phone (390) width in
//! `target/tmp/screenshots/`: `console-clients`, `console-client-created` (the secret shown
//! once), `console-client-delete-confirm`, `console-users`, `console-user`, `console-sessions`.

use crate::console_clients::{ADMIN, signed_in as http_signed_in};
use crate::helpers::{Fixture, PASSWORD, USERNAME, str_field};
use crate::web_browser::{PAGE_WAIT, click, fill, screenshot, signed_in, text};
use tessera_core::UserId;
use tessera_server::config::RawConfig;
use tessera_testkit::webdriver::Browser;

/// Both widths of one page.
async fn screenshots(browser: &Browser, name: &str) {
    for (suffix, width) in [("", 1280), ("-phone", 390)] {
        screenshot(browser, &format!("{name}{suffix}"), width).await;
    }
    browser.set_window_size(1280, 1000).await.unwrap();
}

/// `data-confirm` forms ask with `window.confirm`: say yes (the test is the person clicking).
async fn always_confirm(browser: &Browser) {
    browser.execute("window.confirm = () => true;", vec![]).await.unwrap();
}

/// Waits until the page shows `css` with a text containing `expected`.
async fn wait_text(browser: &Browser, css: &str, expected: &str) -> String {
    let started = std::time::Instant::now();
    loop {
        if let Ok(element) = browser.find(css).await
            && let Ok(shown) = element.text().await
            && shown.contains(expected)
        {
            return shown;
        }
        assert!(started.elapsed() < PAGE_WAIT, "{css} never said {expected:?}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// The password grant through `client` (id, secret): (status, body).
async fn password_grant(
    fixture: &Fixture,
    client: (&str, &str),
    username: &str,
    password: &str,
) -> (u16, serde_json::Value) {
    let form = [
        ("grant_type", "password"),
        ("username", username),
        ("password", password),
        ("client_id", client.0),
        ("client_secret", client.1),
    ];
    fixture.post_form("/oauth/token", &form).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_creates_rotates_and_deletes_a_client_in_chromium() {
    let fixture = Fixture::start().await;
    fixture.server.admin(ADMIN, PASSWORD).await;
    let browser = signed_in(&fixture, "/console/clients", ADMIN).await;
    assert_eq!(text(&browser, "main h1").await, "Clients");
    screenshots(&browser, "console-clients").await;

    click(&browser, "#new-client").await;
    fill(&browser, "#name", "Billing dashboard").await;
    fill(&browser, "#scope", "openid read write").await;
    fill(&browser, "#redirect_uris", "https://billing.example/callback").await;
    fill(&browser, "#allowed_origins", "https://billing.example").await;
    screenshots(&browser, "console-client-new").await;
    click(&browser, "#create-client").await;
    let secret = text(&browser, "#client-secret").await;
    assert!(secret.len() >= 40, "a secret: {secret:?}");
    let copy = browser.find("button[data-copy=client-secret]").await.unwrap();
    assert!(copy.is_displayed().await.unwrap(), "the copy button is shown (the script un-hides it)");
    assert!(text(&browser, "#once").await.contains("you will not see it again"));
    screenshots(&browser, "console-client-created").await;
    let client_id = text(&browser, "#client-id").await;

    // The secret works: one live family.
    let (status, tokens) = password_grant(&fixture, (&client_id, &secret), USERNAME, PASSWORD).await;
    assert_eq!(status, 200, "{tokens}");
    let access = str_field(&tokens, "access_token");

    // Rotate: a new secret, shown once; the old one is refused.
    click(&browser, "#to-client").await;
    browser.wait_for("#rotate-secret", PAGE_WAIT).await.unwrap();
    screenshots(&browser, "console-client").await;
    always_confirm(&browser).await;
    click(&browser, "#rotate-secret").await;
    let rotated = wait_text(&browser, "#client-secret", "").await;
    assert_ne!(rotated, secret);
    assert_eq!(password_grant(&fixture, (&client_id, &secret), USERNAME, PASSWORD).await.0, 401);
    assert_eq!(password_grant(&fixture, (&client_id, &rotated), USERNAME, PASSWORD).await.0, 200);

    // Delete: the confirmation names the two live families, then they are revoked.
    click(&browser, "#to-client").await;
    click(&browser, "#delete-client").await;
    let count = text(&browser, "#family-count").await;
    assert!(count.contains("It revokes 2 live refresh-token families"), "{count}");
    screenshots(&browser, "console-client-delete-confirm").await;
    click(&browser, "#confirm-delete").await;
    browser.wait_for_url(|url| url.ends_with("/console/clients"), PAGE_WAIT).await.unwrap();
    let listed = text(&browser, "main").await;
    assert!(!listed.contains("Billing dashboard"), "{listed}");
    assert_eq!(fixture.me(&access).await.status(), 401, "its tokens are refused");
    browser.quit().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_manages_a_user_in_chromium() {
    let config = RawConfig { max_login_attempts_per_address: Some(3), ..RawConfig::default() };
    let fixture = Fixture::with(config).await;
    let admin_id = fixture.server.admin(ADMIN, PASSWORD).await;
    let app = (fixture.app.client_id.as_str(), fixture.secret());
    let browser = signed_in(&fixture, "/console/users", ADMIN).await;
    screenshots(&browser, "console-users").await;

    click(&browser, "#new-user").await;
    fill(&browser, "#username", "carol").await;
    fill(&browser, "#name", "Carol Danvers").await;
    fill(&browser, "#email", "carol@example.test").await;
    fill(&browser, "#password", "first password").await;
    click(&browser, "#create-user").await;
    wait_text(&browser, "#done", "The user was created").await;
    assert_eq!(password_grant(&fixture, app, "carol", "first password").await.0, 200);

    // Reset the password; carol signs in with the new one only.
    fill(&browser, "#password", "second password").await;
    click(&browser, "#set-password").await;
    wait_text(&browser, "#done", "The password was set").await;
    assert_ne!(password_grant(&fixture, app, "carol", "first password").await.0, 200);
    let (status, tokens) = password_grant(&fixture, app, "carol", "second password").await;
    assert_eq!(status, 200, "{tokens}");
    let refresh = str_field(&tokens, "refresh_token");
    screenshots(&browser, "console-user").await;

    // Disable: the refresh token is refused; enable: carol signs in again.
    always_confirm(&browser).await;
    click(&browser, "#toggle-disabled").await;
    wait_text(&browser, "#done", "The user is disabled").await;
    assert_ne!(fixture.refresh(&refresh).await.0, 200, "a disabled user's refresh token is refused");
    assert_ne!(password_grant(&fixture, app, "carol", "second password").await.0, 200);
    click(&browser, "#toggle-disabled").await;
    wait_text(&browser, "#done", "enabled again").await;
    assert_eq!(password_grant(&fixture, app, "carol", "second password").await.0, 200);

    // The throttle: three wrong passwords lock carol out from here; clearing lets her in.
    for _ in 0..3 {
        password_grant(&fixture, app, "carol", "wrong").await;
    }
    assert_eq!(password_grant(&fixture, app, "carol", "second password").await.0, 429);
    click(&browser, "#clear-throttle").await;
    wait_text(&browser, "#done", "throttle was cleared").await;
    assert_eq!(password_grant(&fixture, app, "carol", "second password").await.0, 200);

    // Make carol an admin, then not.
    click(&browser, "#toggle-admin").await;
    wait_text(&browser, "#done", "now an admin").await;
    let carol = fixture.server.store().get_user_by_username("carol").await.unwrap().unwrap();
    assert!(carol.is_admin);
    click(&browser, "#toggle-admin").await;
    wait_text(&browser, "#done", "no longer an admin").await;
    assert!(!fixture.server.store().get_user(&carol.user_id).await.unwrap().unwrap().is_admin);

    // The last admin (the visitor) cannot drop their own flag: the reason, next to the button.
    browser.goto(&fixture.url(&format!("/console/users/{admin_id}"))).await.unwrap();
    click(&browser, "#toggle-admin").await;
    let refusal = wait_text(&browser, "#admin-error", "last enabled admin").await;
    assert!(refusal.contains("You are the last enabled admin"), "{refusal}");
    assert!(fixture.server.store().get_user(&UserId::new(admin_id)).await.unwrap().unwrap().is_admin);
    browser.quit().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_revokes_a_family_and_ends_a_browser_session_in_chromium() {
    let fixture = Fixture::start().await;
    let admin_id = fixture.server.admin(ADMIN, PASSWORD).await;
    let (_, refresh) = fixture.login().await;
    // Alice is signed in in another browser (a session of her own).
    let mut alice = http_signed_in(&fixture, USERNAME).await;
    assert_eq!(alice.get_at("/console", &[]).await.status, 403, "signed in, not an admin");

    let browser = signed_in(&fixture, "/console/sessions", ADMIN).await;
    let families = text(&browser, "#families").await;
    assert!(families.contains("app") && families.contains(USERNAME), "{families}");
    assert!(text(&browser, "#browser-sessions").await.contains(USERNAME));
    screenshots(&browser, "console-sessions").await;

    // From alice's user page to her sessions; revoke her family there.
    browser.goto(&fixture.url(&format!("/console/users/{}", fixture.user_id))).await.unwrap();
    click(&browser, "#user-sessions").await;
    wait_text(&browser, ".notice", "of the user alice").await;
    always_confirm(&browser).await;
    click(&browser, "#families button.danger").await;
    browser.wait_for("#no-families", PAGE_WAIT).await.unwrap();
    assert_ne!(fixture.refresh(&refresh).await.0, 200, "the revoked family's refresh token is refused");
    let revoked = crate::console_clients::audited(&fixture, "family.revoke").await;
    assert_eq!(revoked.len(), 1);
    assert!(revoked[0].detail.contains("reason: admin"), "{}", revoked[0].detail);

    // End alice's browser session: her browser is signed out.
    always_confirm(&browser).await;
    click(&browser, "#browser-sessions button.danger").await;
    browser.wait_for("#no-sessions", PAGE_WAIT).await.unwrap();
    let after = alice.get_at("/console", &[]).await;
    assert_eq!(after.status, 303, "alice's session has ended");
    // The admin's own session is untouched.
    browser.goto(&fixture.url(&format!("/console/sessions?user={admin_id}"))).await.unwrap();
    assert!(text(&browser, "#browser-sessions").await.contains(ADMIN));
    browser.quit().await.unwrap();
}
