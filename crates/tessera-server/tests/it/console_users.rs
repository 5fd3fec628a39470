//! The console's users pages over HTTP (bad input and the last-admin rule: the form back with
//! the message next to the control, nothing changed) and the guarded update's race on both
//! backends: two admins removing each other's admin flag at once leave one admin.

use crate::authorize::csrf;
use crate::console_clients::{ADMIN, audited, element_text, signed_in};
use crate::helpers::{Fixture, PASSWORD, USERNAME};
use tessera_core::UserId;
use tessera_server::config::RawConfig;
use tessera_server::store::Backend;
use tessera_server::store::console::{GuardedUpdate, Paging};

const ALL: Paging = Paging { limit: 100, offset: 0 };

#[tokio::test]
async fn bad_user_input_and_the_last_admin_are_refused_next_to_the_control() {
    let fixture = Fixture::start().await;
    let admin_id = fixture.server.admin(ADMIN, PASSWORD).await;
    let store = fixture.server.store();
    let mut browser = signed_in(&fixture, ADMIN).await;
    let token = csrf(&browser.get_at("/console/users/new", &[]).await);
    let count = || async { store.list_users(None, ALL).await.unwrap().len() };
    let before = count().await;
    let cases: &[(&str, &str, &str, &str)] = &[
        ("", PASSWORD, "username-error", "the username must be 1 to 200 characters"),
        ("two words", PASSWORD, "username-error", "without spaces"),
        (USERNAME, PASSWORD, "username-error", "is taken"),
        ("bob", "", "password-error", "the password must not be empty"),
    ];
    for (username, password, field, message) in cases {
        let form = [("csrf", token.as_str()), ("username", username), ("password", password), ("name", "Bob")];
        let refused = browser.post_at("/console/users", &form).await;
        assert_eq!(refused.status, 422, "{username:?}: {}", refused.body);
        assert!(element_text(&refused, field).contains(message), "{username:?}: {}", element_text(&refused, field));
        assert!(refused.body.contains("value=\"Bob\""), "the form comes back as typed");
        assert!(!refused.body.contains(PASSWORD), "the password is not sent back");
        assert_eq!(count().await, before, "{username:?}: nothing created");
    }

    // An empty password for an existing user: refused, the old one still works.
    let alice = UserId::new(fixture.user_id.clone());
    let hash = store.get_user(&alice).await.unwrap().unwrap().password_hash;
    let refused =
        browser.post_at(&format!("/console/users/{alice}/password"), &[("csrf", &token), ("password", "")]).await;
    assert_eq!(refused.status, 422);
    assert!(element_text(&refused, "password-error").contains("must not be empty"));
    assert_eq!(store.get_user(&alice).await.unwrap().unwrap().password_hash, hash);

    // The last enabled admin (the visitor) can neither drop the flag nor be disabled.
    for (path, field) in [("admin", "admin-error"), ("disabled", "disabled-error")] {
        let set = if path == "admin" { "false" } else { "true" };
        let refused =
            browser.post_at(&format!("/console/users/{admin_id}/{path}"), &[("csrf", &token), ("set", set)]).await;
        assert_eq!(refused.status, 422, "{path}: {}", refused.body);
        assert!(element_text(&refused, field).contains("last enabled admin"), "{path}");
        let me = store.get_user(&UserId::new(admin_id.clone())).await.unwrap().unwrap();
        assert!(me.is_admin && !me.disabled, "{path}: nothing changed");
    }
    // Nor is another admin's flag removable once they are the only one left enabled.
    let other = fixture.server.admin("second", PASSWORD).await;
    let dropped =
        browser.post_at(&format!("/console/users/{other}/admin"), &[("csrf", &token), ("set", "false")]).await;
    assert_eq!(dropped.status, 303, "two admins: one may go");
    let me_again =
        browser.post_at(&format!("/console/users/{admin_id}/admin"), &[("csrf", &token), ("set", "false")]).await;
    assert_eq!(me_again.status, 422, "now the visitor is the last one again");
    assert_eq!(audited(&fixture, "user.revoke_admin").await.len(), 1);
    assert!(audited(&fixture, "user.disable").await.is_empty());
    assert!(audited(&fixture, "user.create").await.is_empty());
}

/// Two admins remove each other's admin flag (or disable each other) at the same moment,
/// many times over: exactly one succeeds each time, and one enabled admin always remains.
async fn the_last_admin_survives_a_race(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let store = fixture.server.store();
    for round in 0..20 {
        let first = UserId::new(fixture.server.admin(&format!("first{round}"), PASSWORD).await);
        let second = UserId::new(fixture.server.admin(&format!("second{round}"), PASSWORD).await);
        // The earlier rounds' survivors step aside first, so these two are the only admins.
        for user in store.list_users(None, ALL).await.unwrap() {
            if user.is_admin && user.user_id != first && user.user_id != second {
                let demoted = tessera_server::store::UserRow { is_admin: false, ..user };
                assert_eq!(store.update_user_keeping_an_admin(&demoted).await.unwrap(), GuardedUpdate::Updated);
            }
        }
        let change = |user_id: &UserId| {
            let store = store.clone();
            let user_id = user_id.clone();
            async move {
                let mut user = store.get_user(&user_id).await.unwrap().unwrap();
                if round % 2 == 0 {
                    user.is_admin = false
                } else {
                    user.disabled = true
                }
                store.update_user_keeping_an_admin(&user).await.unwrap()
            }
        };
        let (a, b) = tokio::join!(tokio::spawn(change(&first)), tokio::spawn(change(&second)));
        let mut outcomes = [a.unwrap(), b.unwrap()];
        outcomes.sort_by_key(|outcome| format!("{outcome:?}"));
        assert_eq!(outcomes, [GuardedUpdate::LastAdmin, GuardedUpdate::Updated], "round {round}");
        let enabled_admins = store
            .list_users(None, ALL)
            .await
            .unwrap()
            .into_iter()
            .filter(|user| user.is_admin && !user.disabled)
            .count();
        assert_eq!(enabled_admins, 1, "round {round}");
    }
    // Demoting a user who is not an admin, or an unknown user, is not the guard's business.
    let alice = store.get_user(&UserId::new(fixture.user_id.clone())).await.unwrap().unwrap();
    assert_eq!(store.update_user_keeping_an_admin(&alice).await.unwrap(), GuardedUpdate::Updated);
    let ghost = tessera_server::store::UserRow { user_id: UserId::new("ghost"), ..alice };
    assert_eq!(store.update_user_keeping_an_admin(&ghost).await.unwrap(), GuardedUpdate::NoSuchUser);
}

on_both_backends!(the_last_admin_survives_a_race);

#[tokio::test]
async fn disabling_a_user_revokes_their_families_and_personal_access_tokens_and_enabling_lets_them_in() {
    let fixture = Fixture::start().await;
    fixture.server.admin(ADMIN, PASSWORD).await;
    let store = fixture.server.store();
    let (_, refresh) = fixture.login().await;
    let now = tessera_server::clock::Clock::now(&tessera_server::clock::SystemClock);
    let (_, pat) =
        tessera_server::admin::create_personal_access_token(store, now, USERNAME, "ci", "read", None).await.unwrap();
    assert_eq!(fixture.me(pat.secret()).await.status(), 200);
    let mut browser = signed_in(&fixture, ADMIN).await;
    let alice = fixture.user_id.clone();
    let token = csrf(&browser.get_at(&format!("/console/users/{alice}"), &[]).await);

    let disabled =
        browser.post_at(&format!("/console/users/{alice}/disabled"), &[("csrf", &token), ("set", "true")]).await;
    assert_eq!(
        (disabled.status, disabled.location.as_deref()),
        (303, Some(&*format!("/console/users/{alice}?done=disabled")))
    );
    assert!(store.get_user(&UserId::new(alice.clone())).await.unwrap().unwrap().disabled);
    assert_ne!(fixture.refresh(&refresh).await.0, 200, "the family is revoked");
    assert_eq!(fixture.me(pat.secret()).await.status(), 401, "the personal access token is revoked");
    let tokens = store.list_personal_access_tokens(Some(USERNAME)).await.unwrap();
    assert!(tokens.iter().all(|token| token.revoked_at.is_some()));
    let (status, _) =
        fixture.token(&[("grant_type", "password"), ("username", USERNAME), ("password", PASSWORD)]).await;
    assert_ne!(status, 200, "a disabled user cannot sign in");

    let enabled =
        browser.post_at(&format!("/console/users/{alice}/disabled"), &[("csrf", &token), ("set", "false")]).await;
    assert_eq!(enabled.status, 303);
    fixture.login().await;
    let actions: Vec<String> = audited(&fixture, "user.").await.into_iter().map(|entry| entry.action).collect();
    assert_eq!(actions, ["user.enable", "user.disable"]);
}
