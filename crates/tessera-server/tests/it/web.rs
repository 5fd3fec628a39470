//! The web pages' frame (`http/web`): the console's gate (anonymous → `/login` and back,
//! non-admin → 403), the sign-in page, sign-out with its anti-CSRF token, the headers every
//! page carries, and the audit log's store methods on both backends.

use crate::authorize::{Browser, csrf};
use crate::helpers::{Fixture, PASSWORD, USERNAME};
use tessera_core::{Timestamp, UserId};
use tessera_server::config::RawConfig;
use tessera_server::store::Backend;
use tessera_server::store::audit::{AuditQuery, AuditRow};

const ADMIN: &str = "root";

/// Signs `username` in through `/login?return_to=…`; the page it was sent back to.
pub(crate) async fn sign_in(browser: &mut Browser<'_>, return_to: &str, username: &str) -> String {
    let login = browser.get_at("/login", &[("return_to", return_to)]).await;
    assert_eq!(login.status, 200, "{}", login.body);
    let token = csrf(&login);
    let form = [("csrf", token.as_str()), ("return_to", return_to), ("username", username), ("password", PASSWORD)];
    let signed_in = browser.post_at("/login", &form).await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.body);
    signed_in.location.unwrap()
}

#[tokio::test]
async fn an_anonymous_visitor_is_sent_to_sign_in_and_back() {
    let fixture = Fixture::start().await;
    fixture.server.admin(ADMIN, PASSWORD).await;
    let mut browser = Browser::new(&fixture);
    let anonymous = browser.get_at("/console", &[]).await;
    assert_eq!(anonymous.status, 303);
    assert_eq!(anonymous.location.as_deref(), Some("/login?return_to=%2Fconsole"));
    assert_eq!(sign_in(&mut browser, "/console", ADMIN).await, "/console");
    let console = browser.get_at("/console", &[]).await;
    assert_eq!(console.status, 200, "{}", console.body);
    assert!(console.body.contains("Audit log"), "the admin's navigation: {}", console.body);
    let policy = console.header("content-security-policy");
    for directive in ["script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "form-action 'self'"] {
        assert!(policy.contains(directive), "{policy}");
    }
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    assert_eq!(console.header("x-frame-options"), "DENY");
    assert_eq!(console.header("cache-control"), "no-store");
    // Signed in already: `/login` goes straight back.
    let again = browser.get_at("/login", &[("return_to", "/console")]).await;
    assert_eq!((again.status, again.location.as_deref()), (303, Some("/console")));
}

#[tokio::test]
async fn a_user_without_the_admin_flag_gets_403_from_the_console() {
    let fixture = Fixture::start().await;
    let mut browser = Browser::new(&fixture);
    sign_in(&mut browser, "/console", USERNAME).await;
    let refused = browser.get_at("/console", &[]).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused.body.contains("for administrators"), "{}", refused.body);
    assert!(!refused.body.contains("/console/users"), "no admin navigation for a user: {}", refused.body);
}

#[tokio::test]
async fn the_sign_in_page_refuses_a_wrong_password_and_a_forged_form() {
    let fixture = Fixture::start().await;
    let mut browser = Browser::new(&fixture);
    let login = browser.get_at("/login", &[("return_to", "/console")]).await;
    let token = csrf(&login);
    let wrong = [("csrf", token.as_str()), ("return_to", "/console"), ("username", USERNAME), ("password", "nope")];
    let refused = browser.post_at("/login", &wrong).await;
    assert_eq!(refused.status, 401);
    assert!(refused.body.contains("incorrect"), "{}", refused.body);
    let forged = [("return_to", "/console"), ("username", USERNAME), ("password", PASSWORD)];
    let refused = browser.post_at("/login", &forged).await;
    assert_eq!(refused.status, 403, "no login-CSRF token: {}", refused.body);
    assert!(browser.get_at("/console", &[]).await.location.unwrap().starts_with("/login"), "not signed in");
}

#[tokio::test]
async fn signing_out_needs_the_session_token_and_ends_the_session() {
    let fixture = Fixture::start().await;
    fixture.server.admin(ADMIN, PASSWORD).await;
    let mut browser = Browser::new(&fixture);
    sign_in(&mut browser, "/console", ADMIN).await;
    let console = browser.get_at("/console", &[]).await;
    let forged = browser.post_at("/logout", &[]).await;
    assert_eq!(forged.status, 403, "no anti-CSRF token: {}", forged.body);
    let wrong = browser.post_at("/logout", &[("csrf", "AAAA")]).await;
    assert_eq!(wrong.status, 403, "a wrong anti-CSRF token: {}", wrong.body);
    assert_eq!(browser.get_at("/console", &[]).await.status, 200, "still signed in");
    let token = csrf(&console);
    let out = browser.post_at("/logout", &[("csrf", token.as_str())]).await;
    assert_eq!((out.status, out.location.as_deref()), (303, Some("/login")));
    let after = browser.get_at("/console", &[]).await;
    assert_eq!(after.status, 303, "the session has ended");
}

#[tokio::test]
async fn the_stylesheet_and_script_are_served_by_tessera_itself() {
    let fixture = Fixture::start().await;
    for (path, kind) in [("/static/tessera.css", "text/css"), ("/static/tessera.js", "text/javascript")] {
        let response = fixture.http.get(fixture.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(content_type.starts_with(kind), "{path}: {content_type}");
        assert_eq!(response.headers()["x-content-type-options"], "nosniff");
        assert!(!response.text().await.unwrap().is_empty());
    }
}

async fn audit_store_methods(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let store = fixture.server.store();
    let at = |secs: i64| Timestamp::from_secs(1_800_000_000 + secs);
    let entry = |secs: i64, action: &str, target: &str| AuditRow {
        id: 0,
        at: at(secs),
        actor_id: Some(UserId::new(fixture.user_id.clone())),
        actor: Some(USERNAME.into()),
        address: Some("127.0.0.1".into()),
        action: action.into(),
        target: target.into(),
        detail: "50% of_it".into(),
    };
    for (secs, action, target) in
        [(0, "client.create", "app"), (1, "client.delete", "app"), (2, "user.disable", "bob"), (3, "key.rotate", "k1")]
    {
        store.insert_audit(&entry(secs, action, target)).await.unwrap();
    }
    let query = |action: Option<&str>, text: Option<&str>, before_id: Option<i64>, limit: i64| AuditQuery {
        action: action.map(str::to_owned),
        text: text.map(str::to_owned),
        before_id,
        limit,
    };
    let all = store.list_audit(&query(None, None, None, 10)).await.unwrap();
    let actions: Vec<&str> = all.iter().map(|row| row.action.as_str()).collect();
    assert_eq!(actions, ["key.rotate", "user.disable", "client.delete", "client.create"], "newest first");
    assert_eq!(all[3], AuditRow { id: all[3].id, ..entry(0, "client.create", "app") }, "read back whole");
    // A page, then the next one.
    let first = store.list_audit(&query(None, None, None, 2)).await.unwrap();
    let next = store.list_audit(&query(None, None, Some(first[1].id), 2)).await.unwrap();
    assert_eq!(next.iter().map(|row| row.target.as_str()).collect::<Vec<_>>(), ["app", "app"]);
    // By action, by family of actions, by text (case-insensitive; `%` and `_` are literal).
    let count = |rows: Vec<AuditRow>| rows.len();
    assert_eq!(count(store.list_audit(&query(Some("client.delete"), None, None, 10)).await.unwrap()), 1);
    assert_eq!(count(store.list_audit(&query(Some("client."), None, None, 10)).await.unwrap()), 2);
    assert_eq!(count(store.list_audit(&query(None, Some("BOB"), None, 10)).await.unwrap()), 1);
    assert_eq!(count(store.list_audit(&query(None, Some("50% of_"), None, 10)).await.unwrap()), 4);
    assert_eq!(count(store.list_audit(&query(None, Some("5_"), None, 10)).await.unwrap()), 0);
    // The janitor's purge: older than a time, in batches.
    assert_eq!(store.purge_audit(at(2), 1).await.unwrap(), 1);
    assert_eq!(store.purge_audit(at(2), 10).await.unwrap(), 1);
    assert_eq!(count(store.list_audit(&query(None, None, None, 10)).await.unwrap()), 2);
}

on_both_backends!(audit_store_methods);
