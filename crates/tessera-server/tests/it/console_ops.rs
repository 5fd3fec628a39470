//! The console's overview, signing keys and audit log over HTTP: the admin gate and the
//! anti-CSRF check on every page and action, the refusal to revoke the last active key, the
//! overview's counts and charts, and (on both backends) the audit events of a reuse detection
//! through the real token endpoint, the overview's counts and the janitor's audit retention.

use crate::authorize::{Browser, csrf};
use crate::helpers::{Fixture, PASSWORD, USERNAME};
use crate::web::sign_in;
use std::time::Duration;
use tessera_core::Timestamp;
use tessera_server::clock::Clock;
use tessera_server::config::RawConfig;
use tessera_server::service::audit::AuditAction;
use tessera_server::store::Backend;
use tessera_server::store::audit::{AuditQuery, AuditRow};

const ADMIN: &str = "root";

/// An event by nobody in particular, for the page and the janitor to work on.
fn event(at: Timestamp, action: AuditAction, target: &str, detail: &str) -> AuditRow {
    tessera_server::admin::audit::unattended(at, action, target, detail.to_owned())
}

/// The whole audit log, newest first.
pub(crate) async fn audit_events(fixture: &Fixture) -> Vec<AuditRow> {
    let query = AuditQuery { limit: 500, ..AuditQuery::default() };
    fixture.server.store().list_audit(&query).await.unwrap()
}

async fn active_kids(fixture: &Fixture) -> Vec<String> {
    let keys = fixture.server.store().list_signing_keys().await.unwrap();
    keys.into_iter().filter(|key| key.revoked_at.is_none() && key.retired_at.is_none()).map(|key| key.kid).collect()
}

/// Spends a refresh token twice, the second time after the grace window: reuse detected.
/// Returns the family's first refresh token.
pub(crate) async fn detect_reuse(fixture: &Fixture) -> String {
    let (_, first) = fixture.login().await;
    let (status, body) = fixture.refresh(&first).await;
    assert_eq!(status, 200, "{body}");
    fixture.server.clock.advance(Duration::from_secs(60));
    let (status, body) = fixture.refresh(&first).await;
    assert_eq!(status, 400, "the spent token again, past the grace window: {body}");
    assert_eq!(body["error"], "invalid_grant", "{body}");
    first
}

#[tokio::test]
async fn a_user_without_the_admin_flag_gets_403_on_every_page_and_action() {
    let fixture = Fixture::start().await;
    let mut browser = Browser::new(&fixture);
    sign_in(&mut browser, "/console", USERNAME).await;
    // A genuine anti-CSRF token of the user's own session (the 403 page's sign-out form):
    // only the admin flag is missing.
    let account_csrf = csrf(&browser.get_at("/console", &[]).await);
    for path in ["/console", "/console/keys", "/console/audit", "/console/audit?action=client."] {
        let refused = browser.get_at(path, &[]).await;
        assert_eq!(refused.status, 403, "{path}: {}", refused.body);
    }
    let kids = active_kids(&fixture).await;
    for (path, form) in [
        ("/console/keys/rotate", vec![("csrf", account_csrf.as_str())]),
        ("/console/keys/revoke", vec![("csrf", account_csrf.as_str()), ("kid", kids[0].as_str())]),
    ] {
        let refused = browser.post_at(path, &form).await;
        assert_eq!(refused.status, 403, "{path}: {}", refused.body);
    }
    assert_eq!(active_kids(&fixture).await, kids, "nothing changed");
    assert!(audit_events(&fixture).await.is_empty(), "nothing audited");
    // Anonymous: sent to sign in, and back to the page.
    let mut anonymous = Browser::new(&fixture);
    for path in ["/console/keys", "/console/audit"] {
        let page = anonymous.get_at(path, &[]).await;
        assert_eq!(page.status, 303, "{path}");
        assert!(page.location.unwrap().starts_with("/login?return_to=%2Fconsole%2F"));
    }
}

#[tokio::test]
async fn a_post_without_or_with_a_wrong_anti_csrf_token_is_refused_and_changes_nothing() {
    let fixture = Fixture::start().await;
    fixture.server.admin(ADMIN, PASSWORD).await;
    let mut browser = Browser::new(&fixture);
    sign_in(&mut browser, "/console/keys", ADMIN).await;
    let kids = active_kids(&fixture).await;
    for csrf in [None, Some("AAAA"), Some("")] {
        for path in ["/console/keys/rotate", "/console/keys/revoke"] {
            let mut form = vec![("kid", kids[0].as_str()), ("rotate_first", "on")];
            if let Some(csrf) = csrf {
                form.push(("csrf", csrf));
            }
            let refused = browser.post_at(path, &form).await;
            assert_eq!(refused.status, 403, "{path} with {csrf:?}: {}", refused.body);
            assert!(refused.body.contains("anti-CSRF"), "{}", refused.body);
        }
    }
    assert_eq!(active_kids(&fixture).await, kids, "no key rotated or revoked");
    assert_eq!(fixture.server.store().list_signing_keys().await.unwrap().len(), 1);
    assert!(audit_events(&fixture).await.is_empty(), "nothing audited");
}

#[tokio::test]
async fn the_only_active_key_is_not_revoked_until_a_new_one_is_rotated_in() {
    let fixture = Fixture::start().await;
    fixture.server.admin(ADMIN, PASSWORD).await;
    let mut browser = Browser::new(&fixture);
    sign_in(&mut browser, "/console/keys", ADMIN).await;
    let page = browser.get_at("/console/keys", &[]).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let token = csrf(&page);
    let first = active_kids(&fixture).await.remove(0);
    assert!(page.body.contains(&first) && page.body.contains("ES256") && page.body.contains(">active<"));

    // Refused: the page says why, the key stays active, nothing is audited.
    let refused = browser.post_at("/console/keys/revoke", &[("csrf", token.as_str()), ("kid", first.as_str())]).await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert!(refused.body.contains("the only active key") && refused.body.contains("Nothing was changed"));
    assert!(refused.body.contains("class=\"refused\""), "the key's row is marked");
    assert_eq!(active_kids(&fixture).await, std::slice::from_ref(&first));
    assert!(audit_events(&fixture).await.is_empty());
    // An unknown key: 404, nothing changed.
    let unknown = browser.post_at("/console/keys/revoke", &[("csrf", token.as_str()), ("kid", "nope")]).await;
    assert_eq!(unknown.status, 404, "{}", unknown.body);

    // A token the first key signed works until that key is revoked.
    let (signed_by_first, _) = fixture.login().await;
    assert_eq!(fixture.me(&signed_by_first).await.status(), 200);

    // Rotate: a new active key signs at once on this instance; the old one retires.
    let rotated = browser.post_at("/console/keys/rotate", &[("csrf", token.as_str())]).await;
    assert_eq!(rotated.status, 303, "{}", rotated.body);
    let second = active_kids(&fixture).await.remove(0);
    assert_ne!(second, first);
    assert_eq!(fixture.server.service.keys().active_kid(), Some(second.clone()), "reloaded at once");
    let after = browser.get_at(rotated.location.as_deref().unwrap(), &[]).await;
    assert!(after.body.contains("Rotated:") && after.body.contains(">retired<"), "{}", after.body);

    // Now the retired key may go; it leaves the JWKS at once.
    let revoked = browser.post_at("/console/keys/revoke", &[("csrf", token.as_str()), ("kid", first.as_str())]).await;
    assert_eq!(revoked.status, 303, "{}", revoked.body);
    let jwks: serde_json::Value =
        fixture.http.get(fixture.url("/oauth/jwks")).send().await.unwrap().json().await.unwrap();
    assert!(!jwks.to_string().contains(&first), "{jwks}");
    // The active one, with a rotation first: allowed.
    let form = [("csrf", token.as_str()), ("kid", second.as_str()), ("rotate_first", "on")];
    let revoked = browser.post_at("/console/keys/revoke", &form).await;
    assert_eq!(revoked.status, 303, "{}", revoked.body);
    let third = active_kids(&fixture).await.remove(0);
    assert!(third != first && third != second);
    assert_eq!(fixture.server.service.keys().active_kid(), Some(third.clone()));

    // Every change audited, the admin as actor, newest first.
    let events = audit_events(&fixture).await;
    let seen: Vec<(&str, &str)> = events.iter().map(|row| (row.action.as_str(), row.target.as_str())).collect();
    assert_eq!(
        seen,
        [
            ("key.revoke", second.as_str()),
            ("key.rotate", third.as_str()),
            ("key.revoke", first.as_str()),
            ("key.rotate", second.as_str())
        ]
    );
    for row in &events {
        assert_eq!((row.actor.as_deref(), row.address.as_deref()), (Some(ADMIN), Some("127.0.0.1")), "{row:?}");
    }
}

#[tokio::test]
async fn the_overview_counts_and_charts_the_last_hour_of_this_instance() {
    let fixture = Fixture::start().await;
    fixture.server.admin(ADMIN, PASSWORD).await;
    let mut browser = Browser::new(&fixture);
    // A failed sign-in, then the admin's.
    let login = browser.get_at("/login", &[("return_to", "/console")]).await;
    let token = csrf(&login);
    let wrong = [("csrf", token.as_str()), ("return_to", "/console"), ("username", ADMIN), ("password", "nope")];
    assert_eq!(browser.post_at("/login", &wrong).await.status, 401);
    sign_in(&mut browser, "/console", ADMIN).await;
    // Token traffic: two password grants, a rotation, a refused grant and a reuse detection.
    let (_, refresh) = fixture.login().await;
    assert_eq!(fixture.refresh(&refresh).await.0, 200);
    let (status, _) = fixture.token(&[("grant_type", "password"), ("username", USERNAME), ("password", "x")]).await;
    assert_eq!(status, 400);
    detect_reuse(&fixture).await;

    let page = browser.get_at("/console", &[]).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let body = &page.body;
    // 3 clients, 2 users; the first family is live, the reused one revoked.
    for stat in [
        ">3</div><div class=\"label\"><a href=\"/console/clients\">",
        ">2</div><div class=\"label\"><a href=\"/console/users\">",
    ] {
        assert!(body.contains(stat), "{stat} in {body}");
    }
    assert!(body.contains(">1</div><div class=\"label\"><a href=\"/console/sessions\">"), "{body}");
    for text in [
        "password ok <span class=\"muted\">(2)</span>",
        "password refused <span class=\"muted\">(1)</span>",
        "refresh_token ok <span class=\"muted\">(2)</span>",
        "refresh_token refused <span class=\"muted\">(1)</span>",
        "rotations <span class=\"muted\">(2)</span>",
        "reuse detections <span class=\"muted\">(1)</span>",
        "families revoked <span class=\"muted\">(1)</span>",
        "failed sign-ins <span class=\"muted\">(1)</span>",
        "Time (UTC), one bar per minute",
        "this instance",
        "<svg",
    ] {
        assert!(body.contains(text), "{text:?} in {body}");
    }
    assert!(body.matches("<rect x=").count() >= 6, "bars drawn: {body}");
    assert!(!body.contains("style="), "no inline style under the CSP");

    // An hour and more later (the service's clock), the charts are empty; the counts stay.
    fixture.server.clock.advance(Duration::from_secs(2 * 3600));
    let later = browser.get_at("/console", &[]).await;
    assert_eq!(later.status, 200);
    assert_eq!(later.body.matches("Nothing in the last hour").count(), 6, "{}", later.body);
    assert!(later.body.contains(">3</div><div class=\"label\"><a href=\"/console/clients\">"));
}

#[tokio::test]
async fn the_audit_page_filters_by_action_and_text_and_pages_back() {
    let fixture = Fixture::start().await;
    fixture.server.admin(ADMIN, PASSWORD).await;
    let store = fixture.server.store();
    let now = fixture.server.clock.now();
    for i in 0..60 {
        let (action, target) =
            if i % 2 == 0 { (AuditAction::ClientCreate, "app") } else { (AuditAction::UserDisable, "bob") };
        let entry = AuditRow {
            actor: Some(ADMIN.into()),
            address: Some("127.0.0.1".into()),
            ..event(now, action, &format!("{target}-{i}"), &format!("event <b>{i}</b>"))
        };
        store.insert_audit(&entry).await.unwrap();
    }
    let mut browser = Browser::new(&fixture);
    sign_in(&mut browser, "/console/audit", ADMIN).await;
    let first = browser.get_at("/console/audit", &[]).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert!(first.body.contains("bob-59") && !first.body.contains("app-8<"), "newest first, 50 a page");
    assert!(first.body.contains("event &#60;b&#62;59") || first.body.contains("event &lt;b&gt;59"), "escaped");
    let before = first.body.split(" id=\"older\"").next().unwrap();
    let older =
        before.rsplit("href=\"").next().unwrap().trim_end_matches('"').replace("&amp;", "&").replace("&#38;", "&");
    let second = browser.get_at(&older, &[]).await;
    assert_eq!(second.status, 200, "{older}: {}", second.body);
    assert!(second.body.contains("app-0<") && second.body.contains("app-8<") && !second.body.contains("bob-59"));
    assert!(!second.body.contains("id=\"older\"") && second.body.contains("id=\"newest\""));
    // By action, by family of actions, by text.
    let users = browser.get_at("/console/audit", &[("action", "user.disable")]).await;
    assert_eq!(users.body.matches(">user.disable</span>").count(), 30, "{}", users.body);
    assert!(users.body.contains("<option value=\"user.disable\" selected>"));
    let clients = browser.get_at("/console/audit", &[("action", "client.")]).await;
    assert_eq!(clients.body.matches(">client.create</span>").count(), 30);
    let text = browser.get_at("/console/audit", &[("q", "BOB-5")]).await;
    assert_eq!(text.body.matches(">user.disable</span>").count(), 6, "bob-5, bob-51 … bob-59");
    let nothing = browser.get_at("/console/audit", &[("action", "key."), ("q", "zzz")]).await;
    assert!(nothing.body.contains("No event matches this filter"));
    // An action that is not offered lists everything rather than failing.
    let unknown = browser.get_at("/console/audit", &[("action", "drop table"), ("before_id", "x")]).await;
    assert_eq!(unknown.status, 200);
    assert!(unknown.body.contains("bob-59"));
}

async fn reuse_detection_is_audited(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let first = detect_reuse(&fixture).await;
    let events = audit_events(&fixture).await;
    let family = fixture.server.store().find_refresh_token(&tessera_core::TokenHash::of(&first)).await.unwrap();
    let family_id = family.map(|(_, family)| family.id.as_str().to_owned()).unwrap_or_default();
    let seen: Vec<&str> = events.iter().map(|row| row.action.as_str()).collect();
    assert_eq!(seen, ["family.revoke", "family.reuse_detected"], "{events:?}");
    let (revoke, reuse) = (&events[0], &events[1]);
    for row in [revoke, reuse] {
        assert_eq!((row.actor.as_deref(), row.address.as_deref()), (None, None), "the server itself");
        if !family_id.is_empty() {
            assert_eq!(row.target, family_id);
        }
        assert!(row.detail.contains(&format!("client {}", fixture.app.client_id)), "{row:?}");
        assert!(row.detail.contains(&format!("user {USERNAME}")), "{row:?}");
    }
    assert!(revoke.detail.starts_with("reason: reuse"), "{revoke:?}");
    assert_eq!(reuse.target, revoke.target);
    // RFC 7009 revocation (a client's logout) is audited too, once.
    let (_, refresh) = fixture.login().await;
    let form = [
        ("token", refresh.as_str()),
        ("client_id", fixture.app.client_id.as_str()),
        ("client_secret", fixture.secret()),
    ];
    for _ in 0..2 {
        assert_eq!(fixture.post_form("/oauth/revoke", &form).await.0, 200);
    }
    let events = audit_events(&fixture).await;
    assert_eq!(events.len(), 3, "{events:?}");
    assert!(events[0].action == "family.revoke" && events[0].detail.starts_with("reason: logout"), "{events:?}");
}

async fn overview_counts(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let store = fixture.server.store();
    let now = || fixture.server.clock.now();
    let counts = store.console_counts(now()).await.unwrap();
    assert_eq!(
        (counts.clients, counts.users, counts.live_families, counts.active_personal_access_tokens),
        (3, 1, 0, 0)
    );
    fixture.login().await;
    fixture.login().await;
    let hour = Some(Duration::from_secs(3600));
    let create = |name: &'static str, expires_in| {
        tessera_server::admin::create_personal_access_token(store, now(), USERNAME, name, "read", expires_in)
    };
    let (kept, _) = create("ci", None).await.unwrap();
    create("short", hour).await.unwrap();
    let (revoked, _) = create("gone", None).await.unwrap();
    tessera_server::admin::revoke_personal_access_token(store, now(), &revoked.pat_id).await.unwrap();
    let counts = store.console_counts(now()).await.unwrap();
    assert_eq!((counts.live_families, counts.active_personal_access_tokens), (2, 2), "{counts:?}");
    // A reuse detection revokes one family; past the hour, the short token has expired.
    detect_reuse(&fixture).await;
    fixture.server.clock.advance(Duration::from_secs(3600));
    let counts = store.console_counts(now()).await.unwrap();
    assert_eq!((counts.live_families, counts.active_personal_access_tokens), (2, 1), "{counts:?}");
    assert!(!kept.pat_id.is_empty());
    // Past the refresh tokens' idle expiry (30 days) no family is live.
    fixture.server.clock.advance(Duration::from_secs(31 * 24 * 3600));
    assert_eq!(store.console_counts(now()).await.unwrap().live_families, 0);
}

async fn janitor_purges_the_audit_log_after_the_retention(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let store = fixture.server.store();
    let now = fixture.server.clock.now();
    let day = Duration::from_secs(24 * 3600);
    for (days, target) in [(200, "ancient"), (91, "old"), (89, "recent"), (0, "today")] {
        let entry = event(now.minus(day * days), AuditAction::ClientCreate, target, "");
        store.insert_audit(&entry).await.unwrap();
    }
    fixture.server_janitor().run_once().await.unwrap();
    let events = audit_events(&fixture).await;
    let kept: Vec<(&str, &str)> = events.iter().map(|row| (row.action.as_str(), row.target.as_str())).collect();
    assert_eq!(kept, [("audit.purge", "audit_log"), ("client.create", "today"), ("client.create", "recent")]);
    assert_eq!(events[0].detail, "2 events older than 90 days deleted");
    // Nothing more to purge: no further purge event.
    fixture.server_janitor().run_once().await.unwrap();
    assert_eq!(audit_events(&fixture).await.len(), 3);
}

on_both_backends!(reuse_detection_is_audited, overview_counts, janitor_purges_the_audit_log_after_the_retention);

#[tokio::test]
async fn the_audit_retention_is_a_setting() {
    let fixture = Fixture::with(RawConfig { audit_retention: Some("1d".into()), ..RawConfig::default() }).await;
    let now = fixture.server.clock.now();
    let entry = |at: Timestamp, target: &str| event(at, AuditAction::KeyRotate, target, "");
    let store = fixture.server.store();
    store.insert_audit(&entry(now.minus(Duration::from_secs(25 * 3600)), "yesterday")).await.unwrap();
    store.insert_audit(&entry(now.minus(Duration::from_secs(3600)), "hour")).await.unwrap();
    fixture.server_janitor().run_once().await.unwrap();
    let targets: Vec<String> = audit_events(&fixture).await.into_iter().map(|row| row.target).collect();
    assert_eq!(targets, ["audit_log", "hour"]);
    let error = RawConfig { audit_retention: Some("soon".into()), ..RawConfig::default() }.resolve().unwrap_err();
    assert!(error.to_string().contains("TESSERA_AUDIT_RETENTION"), "{error}");
}
