//! The account page (`/account`) over HTTP: each action's effect and audit entry, the bad
//! input that gets the form back and changes nothing, refused forms (anti-CSRF), anonymous
//! visitors, one user's reach into another's tokens and applications; and the account
//! page's store methods on both backends.

use crate::authorize::{Browser, Page, REDIRECT, VERIFIER, approve, csrf, request};
use crate::helpers::{Fixture, PASSWORD, USERNAME, str_field};
use crate::oidc::token_as;
use crate::web::sign_in;
use std::time::Duration;
use tessera_core::{Timestamp, TokenHash};
use tessera_server::admin::create_personal_access_token;
use tessera_server::clock::Clock;
use tessera_server::config::RawConfig;
use tessera_server::store::Backend;
use tessera_server::store::audit::{AuditQuery, AuditRow};

const BOB: &str = "bob";
const NEW_PASSWORD: &str = "a brand new passphrase";

/// A browser signed in as `username` on the account page, and the page.
async fn on_account<'a>(fixture: &'a Fixture, username: &str) -> (Browser<'a>, Page) {
    let mut browser = Browser::new(fixture);
    assert_eq!(sign_in(&mut browser, "/account", username).await, "/account");
    let page = browser.get_at("/account", &[]).await;
    assert_eq!(page.status, 200, "{}", page.body);
    (browser, page)
}

pub(crate) async fn audit(fixture: &Fixture) -> Vec<AuditRow> {
    fixture.server.service.audit_log(&AuditQuery { limit: 100, ..AuditQuery::default() }).await.unwrap()
}

/// The token shown once on the page that made it.
fn shown_token(page: &Page) -> String {
    let marker = "<code id=\"new-token\">";
    let start = page.body.find(marker).unwrap_or_else(|| panic!("no new token: {}", page.body)) + marker.len();
    page.body[start..].split('<').next().unwrap().to_owned()
}

/// Approves `client` for `scope` at the authorization endpoint and redeems the code: the
/// token response.
async fn authorized(
    fixture: &Fixture,
    browser: &mut Browser<'_>,
    client: &tessera_testkit::TestClient,
) -> serde_json::Value {
    let code = approve(browser, &request(&client.client_id, &[("scope", "read")])).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    let (status, body) = token_as(fixture, client, &form).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn every_action_does_what_it_says_and_is_audited(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let (mut browser, page) = on_account(&fixture, USERNAME).await;
    assert!(page.body.contains("No application holds tokens for you"), "{}", page.body);
    assert!(page.body.contains("You have no personal access tokens"), "{}", page.body);

    // Applications: one approved at the authorization endpoint, one by the password grant.
    let tokens = authorized(&fixture, &mut browser, &fixture.app).await;
    let (status, password_grant) = token_as(
        &fixture,
        &fixture.other,
        &[("grant_type", "password"), ("username", USERNAME), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(status, 200, "{password_grant}");
    let page = browser.get_at("/account", &[]).await;
    assert!(
        page.body.contains("<strong>app</strong>") && page.body.contains("<strong>other</strong>"),
        "{}",
        page.body
    );
    assert!(page.body.contains("approved by you"), "{}", page.body);
    let token = csrf(&page);
    let revoke = [("csrf", token.as_str()), ("client_id", fixture.app.client_id.as_str())];
    let done = browser.post_at("/account/applications/revoke", &revoke).await;
    assert_eq!((done.status, done.location.as_deref()), (303, Some("/account?done=application-revoked")));
    let (status, body) = fixture.refresh(&str_field(&tokens, "refresh_token")).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    let asked = browser.get(&request(&fixture.app.client_id, &[("scope", "read")])).await;
    assert!(asked.status == 200 && asked.body.contains(r#"id="approve""#), "consent is asked again: {}", asked.body);
    let page = browser.get_at("/account?done=application-revoked", &[]).await;
    assert!(page.body.contains("will have to ask for your consent again"), "the notice: {}", page.body);
    assert!(!page.body.contains("<strong>app</strong>") && page.body.contains("<strong>other</strong>"));
    let (status, _) = token_as(
        &fixture,
        &fixture.other,
        &[("grant_type", "refresh_token"), ("refresh_token", &str_field(&password_grant, "refresh_token"))],
    )
    .await;
    assert_eq!(status, 200, "another application keeps its tokens");

    // A personal access token: shown once, works, revoked.
    let create = [("csrf", token.as_str()), ("name", "laptop script"), ("scope", "read"), ("expiry", "30")];
    let created = browser.post_at("/account/tokens", &create).await;
    assert_eq!(created.status, 200, "{}", created.body);
    assert!(created.body.contains("you will not see it again"), "{}", created.body);
    assert!(created.body.contains(r#"data-copy="new-token""#), "{}", created.body);
    let pat = shown_token(&created);
    assert!(pat.starts_with("tsp_"), "{pat}");
    assert_eq!(fixture.me(&pat).await.status(), 200);
    let page = browser.get_at("/account", &[]).await;
    assert!(!page.body.contains(&pat), "shown once only");
    let listed = fixture.server.store().list_personal_access_tokens(Some(USERNAME)).await.unwrap();
    assert_eq!(
        (listed.len(), listed[0].name.as_str(), listed[0].scope.to_string()),
        (1, "laptop script", "read".into())
    );
    let expires = listed[0].expires_at.unwrap().since(listed[0].created_at);
    assert_eq!(expires, Duration::from_secs(30 * 24 * 60 * 60));
    let revoke = [("csrf", token.as_str()), ("pat_id", listed[0].pat_id.as_str())];
    let done = browser.post_at("/account/tokens/revoke", &revoke).await;
    assert_eq!((done.status, done.location.as_deref()), (303, Some("/account?done=token-revoked")));
    assert_eq!(fixture.me(&pat).await.status(), 401);
    assert!(browser.get_at("/account", &[]).await.body.contains("Revoked"));

    // The password, ending the other sessions and families; this session stays.
    let (mut second, _) = on_account(&fixture, USERNAME).await;
    let change = [
        ("csrf", token.as_str()),
        ("current_password", PASSWORD),
        ("new_password", NEW_PASSWORD),
        ("confirm_password", NEW_PASSWORD),
        ("end_others", "on"),
    ];
    let done = browser.post_at("/account/password", &change).await;
    assert_eq!(
        (done.status, done.location.as_deref()),
        (303, Some("/account?done=password-changed-others-ended#notice"))
    );
    assert_eq!(browser.get_at("/account", &[]).await.status, 200, "this session goes on");
    assert_eq!(second.get_at("/account", &[]).await.status, 303, "the other session ended");
    let (status, _) = token_as(
        &fixture,
        &fixture.other,
        &[("grant_type", "refresh_token"), ("refresh_token", &str_field(&password_grant, "refresh_token"))],
    )
    .await;
    assert_eq!(status, 400, "the families were revoked");
    let (status, _) =
        fixture.token(&[("grant_type", "password"), ("username", USERNAME), ("password", PASSWORD)]).await;
    assert_eq!(status, 400, "the old password is refused");
    let (status, _) =
        fixture.token(&[("grant_type", "password"), ("username", USERNAME), ("password", NEW_PASSWORD)]).await;
    assert_eq!(status, 200, "the new one works");

    // One audit entry per action, no secret in any; the families those actions revoked are
    // audited by the server itself (no actor), each with its reason.
    let (entries, revocations): (Vec<AuditRow>, Vec<AuditRow>) =
        audit(&fixture).await.into_iter().partition(|entry| entry.actor.is_some());
    let actions: Vec<&str> = entries.iter().map(|entry| entry.action.as_str()).collect();
    assert_eq!(actions, ["account.change_password", "pat.revoke", "pat.create", "consent.revoke"]);
    let reasons: Vec<(&str, bool)> = revocations
        .iter()
        .map(|entry| (entry.action.as_str(), entry.detail.starts_with("reason: password changed")))
        .collect();
    assert_eq!(reasons, [("family.revoke", true), ("family.revoke", false)], "{revocations:?}");
    assert!(revocations[1].detail.starts_with("reason: consent revoked"), "{revocations:?}");
    for entry in &entries {
        assert_eq!(entry.actor.as_deref(), Some(USERNAME));
        assert_eq!(entry.address.as_deref(), Some("127.0.0.1"));
        for secret in [pat.as_str(), PASSWORD, NEW_PASSWORD] {
            assert!(!entry.detail.contains(secret) && !entry.target.contains(secret), "{entry:?}");
        }
    }
    assert_eq!(entries[3].target, fixture.app.client_id);
    assert!(entries[0].detail.contains("1 other browser sessions ended"), "{:?}", entries[0]);
}

/// Posts `form` (with the page's anti-CSRF token) and checks the page came back with
/// `status` and `message` next to the field `field`.
async fn refused(
    browser: &mut Browser<'_>,
    path: &str,
    form: &[(&str, &str)],
    status: u16,
    field: &str,
    message: &str,
) {
    let page = browser.get_at("/account", &[]).await;
    let token = csrf(&page);
    let mut form = form.to_vec();
    form.push(("csrf", token.as_str()));
    let again = browser.post_at(path, &form).await;
    assert_eq!(again.status, status, "{form:?}: {}", again.body);
    let error = format!(r#"<span class="field-error" id="{field}-error">{message}"#);
    assert!(again.body.contains(&error), "{form:?}: no {error:?} in {}", again.body);
    let described = [format!(r#"aria-describedby="{field}-error""#), format!(r#"{field}-hint {field}-error""#)];
    assert!(described.iter().any(|text| again.body.contains(text.as_str())), "{field} not described: {}", again.body);
    assert!(again.body.contains(r#"aria-invalid="true""#), "{}", again.body);
}

/// A form's fields, the field whose message is expected, the message.
type FieldCase<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);

#[tokio::test]
async fn bad_input_gets_the_form_back_with_the_message_and_changes_nothing() {
    let fixture = Fixture::start().await;
    let (mut browser, _) = on_account(&fixture, USERNAME).await;
    let token_cases: &[FieldCase] = &[
        (&[("name", ""), ("scope", "read"), ("expiry", "30")], "pat-name", "Give the token a name"),
        (&[("name", "   "), ("scope", "read"), ("expiry", "30")], "pat-name", "Give the token a name"),
        (&[("name", "ci"), ("scope", "re\"ad"), ("expiry", "30")], "pat-scope", "Not a valid scope"),
        (&[("name", "ci"), ("scope", "read admin"), ("expiry", "30")], "pat-scope", "Not a scope you may have: admin."),
        (&[("name", "ci"), ("scope", "read"), ("expiry", "forever")], "pat-expiry", "Choose one of the expiries"),
    ];
    for (form, field, message) in token_cases {
        refused(&mut browser, "/account/tokens", form, 422, field, message).await;
    }
    let password = |current: &'static str, new: &'static str, confirm: &'static str| {
        vec![("current_password", current), ("new_password", new), ("confirm_password", confirm), ("end_others", "on")]
    };
    let password_cases = [
        (
            password("wrong password", NEW_PASSWORD, NEW_PASSWORD),
            "current-password",
            "The current password is incorrect.",
        ),
        (password("", NEW_PASSWORD, NEW_PASSWORD), "current-password", "Enter your current password."),
        (password(PASSWORD, NEW_PASSWORD, "something else"), "confirm-password", "The two new passwords differ"),
        (password(PASSWORD, "short", "short"), "new-password", "The new password is too short"),
        (password(PASSWORD, "", ""), "new-password", "The new password must not be empty."),
    ];
    let (mut second, _) = on_account(&fixture, USERNAME).await;
    for (form, field, message) in &password_cases {
        refused(&mut browser, "/account/password", form, 422, field, message).await;
    }
    // Nothing changed: no token, the password and the other session as they were, no audit.
    assert!(fixture.server.store().list_personal_access_tokens(Some(USERNAME)).await.unwrap().is_empty());
    assert_eq!(second.get_at("/account", &[]).await.status, 200, "the other session goes on");
    fixture.login().await;
    assert!(audit(&fixture).await.is_empty());
}

#[tokio::test]
async fn a_wrong_current_password_counts_as_a_failed_sign_in() {
    let overrides = RawConfig { max_login_attempts_per_address: Some(2), ..RawConfig::default() };
    let fixture = Fixture::with(overrides).await;
    let (mut browser, _) = on_account(&fixture, USERNAME).await;
    let wrong = [("current_password", "guess"), ("new_password", NEW_PASSWORD), ("confirm_password", NEW_PASSWORD)];
    refused(&mut browser, "/account/password", &wrong, 422, "current-password", "The current password is incorrect.")
        .await;
    refused(&mut browser, "/account/password", &wrong, 422, "current-password", "The current password is incorrect.")
        .await;
    // The throttle is full now: even the right password is not checked.
    let right = [("current_password", PASSWORD), ("new_password", NEW_PASSWORD), ("confirm_password", NEW_PASSWORD)];
    refused(&mut browser, "/account/password", &right, 429, "current-password", "Too many failed attempts").await;
    let login = browser.get_at("/login", &[]).await;
    assert_eq!(login.status, 303, "still signed in");
    assert!(audit(&fixture).await.is_empty());
}

#[tokio::test]
async fn forms_without_the_session_token_are_refused_and_change_nothing() {
    let fixture = Fixture::start().await;
    let store = fixture.server.store();
    let now = fixture.server.clock.now();
    let (pat, _) = create_personal_access_token(store, now, USERNAME, "ci", "read", None).await.unwrap();
    let (mut browser, _) = on_account(&fixture, USERNAME).await;
    let (_, refresh) = fixture.login().await;
    let actions: [(&str, Vec<(&str, &str)>); 4] = [
        ("/account/tokens", vec![("name", "x"), ("scope", "read"), ("expiry", "30")]),
        ("/account/tokens/revoke", vec![("pat_id", pat.pat_id.as_str())]),
        ("/account/applications/revoke", vec![("client_id", fixture.app.client_id.as_str())]),
        (
            "/account/password",
            vec![("current_password", PASSWORD), ("new_password", NEW_PASSWORD), ("confirm_password", NEW_PASSWORD)],
        ),
    ];
    for (path, form) in &actions {
        for csrf in [None, Some("AAAA"), Some("")] {
            let mut form = form.clone();
            form.extend(csrf.map(|csrf| ("csrf", csrf)));
            let page = browser.post_at(path, &form).await;
            assert_eq!(page.status, 403, "{path} {csrf:?}: {}", page.body);
            assert!(page.body.contains("anti-CSRF token"), "{}", page.body);
        }
    }
    let tokens = store.list_personal_access_tokens(Some(USERNAME)).await.unwrap();
    assert_eq!(tokens.len(), 1);
    assert!(tokens[0].revoked_at.is_none());
    assert_eq!(fixture.refresh(&refresh).await.0, 200, "the application keeps its tokens");
    fixture.login().await;
    assert!(audit(&fixture).await.is_empty());
}

#[tokio::test]
async fn an_anonymous_visitor_is_sent_to_sign_in_and_back() {
    let fixture = Fixture::start().await;
    let mut browser = Browser::new(&fixture);
    let page = browser.get_at("/account", &[]).await;
    assert_eq!((page.status, page.location.as_deref()), (303, Some("/login?return_to=%2Faccount")));
    for path in ["/account/tokens", "/account/tokens/revoke", "/account/applications/revoke", "/account/password"] {
        let page = browser.post_at(path, &[("name", "x"), ("csrf", "AAAA")]).await;
        assert_eq!(page.status, 303, "{path}");
        assert!(page.location.unwrap().starts_with("/login?return_to="), "{path}");
    }
    // Signing in with no return_to lands on the account page.
    assert_eq!(sign_in(&mut browser, "", USERNAME).await, "/account");
    let page = browser.get_at("/account", &[]).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<h1>Your account</h1>"), "{}", page.body);
    assert!(!page.body.contains("/console/users"), "no admin navigation for a user");
    assert!(!page.header("content-security-policy").contains("unsafe-inline"));
}

#[tokio::test]
async fn one_user_cannot_revoke_anothers_token_or_application() {
    let fixture = Fixture::start().await;
    fixture.server.user(BOB, PASSWORD).await;
    let store = fixture.server.store();
    let now = fixture.server.clock.now();
    let (bobs_pat, bobs_token) = create_personal_access_token(store, now, BOB, "bob's", "read", None).await.unwrap();
    let (status, bobs_grant) =
        fixture.token(&[("grant_type", "password"), ("username", BOB), ("password", PASSWORD)]).await;
    assert_eq!(status, 200);
    let (mut browser, page) = on_account(&fixture, USERNAME).await;
    assert!(!page.body.contains("bob&#39;s") && !page.body.contains(&bobs_pat.pat_id), "{}", page.body);
    assert!(!page.body.contains("<strong>app</strong>"), "bob's application is not alice's: {}", page.body);
    let token = csrf(&page);
    let pat =
        browser.post_at("/account/tokens/revoke", &[("csrf", token.as_str()), ("pat_id", &bobs_pat.pat_id)]).await;
    assert_eq!(pat.status, 404, "{}", pat.body);
    let app = browser
        .post_at("/account/applications/revoke", &[("csrf", token.as_str()), ("client_id", &fixture.app.client_id)])
        .await;
    assert_eq!(app.status, 404, "{}", app.body);
    assert_eq!(fixture.me(bobs_token.secret()).await.status(), 200, "bob's token still works");
    assert_eq!(fixture.refresh(&str_field(&bobs_grant, "refresh_token")).await.0, 200, "bob's application too");
    assert!(audit(&fixture).await.is_empty());
}

async fn account_store_methods(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let store = fixture.server.store();
    let alice = fixture.user_id.as_str().into();
    let bob = fixture.server.user(BOB, PASSWORD).await.as_str().into();
    let now = || fixture.server.clock.now();

    // A user's live families, with the client's name and when each was last used.
    assert!(store.user_families(&alice, now()).await.unwrap().is_empty());
    let (_, refresh) = fixture.login().await;
    fixture.token(&[("grant_type", "password"), ("username", BOB), ("password", PASSWORD)]).await;
    let families = store.user_families(&alice, now()).await.unwrap();
    assert_eq!(families.len(), 1);
    let first = families[0].clone();
    assert_eq!(
        (first.client_id.as_str(), first.client_name.as_str(), first.scope.to_string()),
        (fixture.app.client_id.as_str(), "app", "read write".into())
    );
    assert_eq!(first.last_used_at, Some(first.created_at));
    fixture.server.clock.advance(Duration::from_secs(60));
    assert_eq!(fixture.refresh(&refresh).await.0, 200);
    let refreshed = store.user_families(&alice, now()).await.unwrap();
    assert_eq!(refreshed[0].last_used_at, Some(first.created_at.plus(Duration::from_secs(60))));
    assert_eq!(refreshed[0].created_at, first.created_at);
    // Past its expiry or revoked, a family is not listed.
    let far = now().plus(Duration::from_secs(400 * 24 * 60 * 60));
    assert!(store.user_families(&alice, far).await.unwrap().is_empty());
    store.revoke_family(&first.family_id, now(), tessera_core::RevocationReason::PasswordChanged).await.unwrap();
    assert!(store.user_families(&alice, now()).await.unwrap().is_empty());
    assert_eq!(store.user_families(&bob, now()).await.unwrap().len(), 1, "bob's family is his");

    // The password hash, replaced; an unknown user changes nothing.
    assert!(store.set_user_password(&alice, "$argon2id$new").await.unwrap());
    assert_eq!(store.get_user(&alice).await.unwrap().unwrap().password_hash, "$argon2id$new");
    assert!(!store.set_user_password(&"no-such-user".into(), "$argon2id$x").await.unwrap());
    assert_ne!(store.get_user(&bob).await.unwrap().unwrap().password_hash, "$argon2id$new");

    // Browser sessions: all of a user's but one end; another user's stay.
    let at = Timestamp::from_secs(1_800_000_000);
    let until = at.plus(Duration::from_secs(3600));
    let [kept, ended, also, bobs] = ["kept", "ended", "also ended", "bob's"].map(TokenHash::of);
    for (hash, user) in [(&kept, &alice), (&ended, &alice), (&also, &alice), (&bobs, &bob)] {
        store.insert_browser_session(hash, user, at, until).await.unwrap();
    }
    assert_eq!(store.end_user_browser_sessions(&alice, Some(&kept)).await.unwrap(), 2);
    assert!(store.find_browser_session(&kept, at).await.unwrap().is_some());
    assert!(store.find_browser_session(&ended, at).await.unwrap().is_none());
    assert!(store.find_browser_session(&bobs, at).await.unwrap().is_some());
    assert_eq!(store.end_user_browser_sessions(&alice, None).await.unwrap(), 1);
    assert!(store.find_browser_session(&kept, at).await.unwrap().is_none());
    assert!(store.find_browser_session(&bobs, at).await.unwrap().is_some());
}

on_both_backends!(every_action_does_what_it_says_and_is_audited, account_store_methods);
