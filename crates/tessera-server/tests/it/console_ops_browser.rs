//! The console's overview, signing keys and audit log in headless Chromium: every action a
//! person takes there (open the charts' tables, rotate, the refused and the allowed revoke,
//! filter, page back), each page photographed at 1280 and 390 pixels wide.

use crate::console_ops::{audit_events, detect_reuse};
use crate::helpers::{Fixture, PASSWORD, USERNAME};
use crate::web_browser::{PAGE_WAIT, click, fill, signed_in, text};
use std::path::PathBuf;
use std::time::Duration;
use tessera_server::clock::Clock;
use tessera_server::service::audit::AuditAction;
use tessera_testkit::webdriver::Browser;

const ADMIN: &str = "root";

/// The whole page at `width` (the window as tall as the page) to `screenshots/{name}-{width}.png`.
async fn photograph(browser: &Browser, name: &str, width: u32) -> PathBuf {
    // The resize reaches the page a moment later: grow the window until it holds the page.
    let mut height = 900;
    for _ in 0..6 {
        browser.set_window_size(width, height + 90).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let script = "return Math.max(document.body.scrollHeight, document.documentElement.scrollHeight)";
        let measured = browser.execute(script, vec![]).await.unwrap().as_u64().unwrap_or(900);
        let inner = browser.execute("return window.innerHeight", vec![]).await.unwrap().as_u64().unwrap_or(900);
        if measured <= inner {
            break;
        }
        height = u32::try_from(measured).unwrap().clamp(600, 4000) + (height + 90 - u32::try_from(inner).unwrap());
    }
    let folder = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&folder).unwrap();
    let path = folder.join(format!("{name}-{width}.png"));
    std::fs::write(&path, browser.screenshot().await.unwrap()).unwrap();
    browser.set_window_size(1280, 900).await.unwrap();
    path
}

async fn photograph_both(browser: &Browser, name: &str) {
    for width in [1280, 390] {
        photograph(browser, name, width).await;
    }
}

/// How many elements match `css`.
async fn count(browser: &Browser, css: &str) -> u64 {
    let script = "return document.querySelectorAll(arguments[0]).length";
    browser.execute(script, vec![serde_json::json!(css)]).await.unwrap().as_u64().unwrap()
}

/// Submits the form of `button` and accepts its `data-confirm` question.
async fn click_and_confirm(browser: &Browser, button: &str) {
    click(browser, button).await;
    let mut tries = 0;
    while browser.accept_alert().await.is_err() {
        tries += 1;
        assert!(tries < 300, "no confirmation was asked for {button}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Some token traffic spread over the last quarter hour, so the charts have something to show:
/// sign-ins, refreshes, refused grants, a failed sign-in and a reuse detection.
async fn drive_traffic(fixture: &Fixture) {
    for minute in 0..14u32 {
        let logins = 1 + minute % 3;
        for _ in 0..logins {
            let (_, refresh) = fixture.login().await;
            let mut token = refresh;
            for _ in 0..(minute % 4) {
                let (status, body) = fixture.refresh(&token).await;
                assert_eq!(status, 200, "{body}");
                token = body["refresh_token"].as_str().unwrap().to_owned();
            }
        }
        if minute % 5 == 2 {
            let wrong = [("grant_type", "password"), ("username", USERNAME), ("password", "wrong")];
            assert_eq!(fixture.token(&wrong).await.0, 400);
        }
        if minute % 4 == 1 {
            let credentials = [("grant_type", "client_credentials"), ("scope", "read")];
            fixture.token(&credentials).await;
        }
        fixture.server.clock.advance(Duration::from_secs(60));
    }
    detect_reuse(fixture).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overview_charts_the_last_hour_in_chromium() {
    let fixture = Fixture::start().await;
    fixture.server.admin(ADMIN, PASSWORD).await;
    // A failed sign-in on the sign-in page first: it shows among the security events.
    let browser = Browser::start().await.unwrap();
    browser.goto(&fixture.url("/console")).await.unwrap();
    fill(&browser, "#username", ADMIN).await;
    fill(&browser, "#password", "not the password").await;
    click(&browser, "#login").await;
    browser.wait_for("p.error", PAGE_WAIT).await.unwrap();
    browser.quit().await.unwrap();
    drive_traffic(&fixture).await;

    let browser = signed_in(&fixture, "/console", ADMIN).await;
    assert_eq!(text(&browser, "main h1").await, "Overview");
    let stats = text(&browser, ".stats").await;
    assert!(stats.contains("Clients") && stats.contains("Live refresh-token families"), "{stats}");
    let charts = count(&browser, "figure.chart").await;
    assert_eq!(charts, 3);
    let bars = count(&browser, "figure.chart svg rect").await;
    assert!(bars > 20, "bars drawn: {bars}");
    let legend = text(&browser, "#token-requests-heading").await;
    assert!(legend.starts_with("Token requests by grant and outcome"), "{legend}");
    let security = text(&browser, "figure.chart:nth-of-type(3) .legend").await;
    assert!(security.contains("reuse detections (1)") && security.contains("failed sign-ins (1)"), "{security}");
    photograph_both(&browser, "console-overview").await;
    // The text alternative: each chart's numbers as a table.
    click(&browser, "figure.chart:nth-of-type(2) summary").await;
    let table = text(&browser, "figure.chart:nth-of-type(2) details table").await;
    assert!(table.contains("rotations") && table.contains("grace replays"), "{table}");
    photograph(&browser, "console-overview-table", 1280).await;
    browser.quit().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_rotated_and_revoked_in_chromium() {
    let fixture = Fixture::start().await;
    fixture.server.admin(ADMIN, PASSWORD).await;
    let first = fixture.server.service.keys().active_kid().unwrap();
    let browser = signed_in(&fixture, "/console/keys", ADMIN).await;
    assert_eq!(text(&browser, "main h1").await, "Signing keys");
    assert!(text(&browser, "table.keys").await.contains(&first));

    // Rotate (confirmed): a new active key, the first one retired.
    click_and_confirm(&browser, "#rotate").await;
    let done = text(&browser, "#done").await;
    assert!(done.starts_with("Rotated:"), "{done}");
    let second = fixture.server.service.keys().active_kid().unwrap();
    assert_ne!(second, first);
    assert!(text(&browser, "#key-2").await.contains("retired"));

    // Revoke the retired key (confirmed).
    click_and_confirm(&browser, "#key-2 button.danger").await;
    let done = text(&browser, "#done").await;
    assert!(done.contains(&format!("Revoked {first}")), "{done}");
    assert!(text(&browser, "#key-2").await.contains("revoked"));

    // Revoke the only active key: refused, on the page, and nothing changes.
    click_and_confirm(&browser, "#key-1 button.danger").await;
    let refusal = text(&browser, "#refusal").await;
    assert!(refusal.contains("the only active key") && refusal.contains("Nothing was changed"), "{refusal}");
    assert_eq!(fixture.server.service.keys().active_kid(), Some(second.clone()));
    photograph_both(&browser, "console-keys").await;

    // With "Rotate a new key in first" ticked (by keyboard: the label is the checkbox's).
    click(&browser, "label[for=rotate-first-1]").await;
    click_and_confirm(&browser, "#key-1 button.danger").await;
    assert!(text(&browser, "#done").await.contains(&format!("Revoked {second}")));
    let third = fixture.server.service.keys().active_kid().unwrap();
    assert!(third != first && third != second);
    let states = text(&browser, "table.keys tbody").await;
    assert_eq!(states.matches("revoked").count(), 2, "{states}");
    photograph(&browser, "console-keys-after", 1280).await;
    browser.quit().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_after_a_reuse_detection_in_chromium() {
    let fixture = Fixture::start().await;
    fixture.server.admin(ADMIN, PASSWORD).await;
    let store = fixture.server.store();
    // What the command line would have written, an hour earlier.
    let at = fixture.server.clock.now();
    for (action, target, detail) in [
        (
            AuditAction::ClientCreate,
            fixture.app.client_id.as_str(),
            "confidential client \"app\", grants password refresh_token",
        ),
        (AuditAction::UserCreate, USERNAME, ""),
        (AuditAction::UserCreate, ADMIN, "with the admin flag"),
        (AuditAction::PatCreate, "pat_01", "for alice, name \"ci\", scope \"read\""),
    ] {
        tessera_server::admin::audit_command_line(store, at, action, target, detail).await.unwrap();
    }
    fixture.server.clock.advance(Duration::from_secs(3600));
    // An admin rotates a key in the console, then a stolen refresh token is replayed.
    let browser = signed_in(&fixture, "/console/keys", ADMIN).await;
    click_and_confirm(&browser, "#rotate").await;
    text(&browser, "#done").await;
    fixture.server.clock.advance(Duration::from_secs(240));
    detect_reuse(&fixture).await;
    let events = audit_events(&fixture).await;
    assert_eq!(events[0].action, "family.revoke");
    assert_eq!(events[1].action, "family.reuse_detected");

    browser.goto(&fixture.url("/console/audit")).await.unwrap();
    browser.wait_for("table.audit", PAGE_WAIT).await.unwrap();
    let first_row = text(&browser, "table.audit tbody tr:nth-child(1)").await;
    assert!(first_row.contains("family.revoke") && first_row.contains("reason: reuse"), "{first_row}");
    let second_row = text(&browser, "table.audit tbody tr:nth-child(2)").await;
    assert!(second_row.contains("family.reuse_detected") && second_row.contains("user alice"), "{second_row}");
    assert!(text(&browser, "table.audit").await.contains("key.rotate"));
    photograph_both(&browser, "console-audit").await;

    // Filter by a family of actions, then by text.
    browser.find("#action").await.unwrap().select_by_value("family.").await.unwrap();
    click(&browser, "#filter").await;
    browser.wait_for_url(|url| url.contains("action=family."), PAGE_WAIT).await.unwrap();
    let rows = count(&browser, "table.audit tbody tr").await;
    assert_eq!(rows, 2);
    browser.find("#action").await.unwrap().select_by_value("").await.unwrap();
    fill(&browser, "#q", "command line").await;
    click(&browser, "#filter").await;
    browser.wait_for_url(|url| url.contains("q=command"), PAGE_WAIT).await.unwrap();
    let rows = count(&browser, "table.audit tbody tr").await;
    assert_eq!(rows, 4);
    fill(&browser, "#q", "nothing like this").await;
    click(&browser, "#filter").await;
    assert!(text(&browser, "#empty").await.contains("No event matches"));
    click(&browser, "a.reset").await;
    browser.wait_for("table.audit", PAGE_WAIT).await.unwrap();

    // Past a page of events: "Older" and back to the newest.
    for i in 0..50 {
        let target = format!("bulk-{i}");
        tessera_server::admin::audit_command_line(store, at, AuditAction::PatRevoke, &target, "").await.unwrap();
    }
    browser.goto(&fixture.url("/console/audit")).await.unwrap();
    click(&browser, "#older").await;
    browser.wait_for("#newest", PAGE_WAIT).await.unwrap();
    assert!(text(&browser, "table.audit").await.contains("family.reuse_detected"));
    click(&browser, "#newest").await;
    browser.wait_for("#older", PAGE_WAIT).await.unwrap();
    assert!(text(&browser, "table.audit tbody tr:nth-child(1)").await.contains("bulk-49"));
    browser.quit().await.unwrap();
}
