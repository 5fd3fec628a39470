//! The store methods behind the console's sessions, users and clients pages, on both
//! backends: live families by user and by client (with the last refresh and both expiries),
//! their count, browser sessions by user and ending one by its stored hash, users by search,
//! setting a password hash and clearing a username's sign-in counters.

use crate::helpers::{Fixture, PASSWORD, USERNAME, str_field};
use tessera_core::{ClientId, TokenHash, UserId};
use tessera_server::config::RawConfig;
use tessera_server::store::Backend;
use tessera_server::store::console::{Owner, Paging};

const ALL: Paging = Paging { limit: 100, offset: 0 };

async fn console_store_methods(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let store = fixture.server.store();
    let alice = UserId::new(fixture.user_id.clone());
    let bob = UserId::new(fixture.server.user("bob_the_builder", PASSWORD).await);
    let app = ClientId::new(fixture.app.client_id.clone());
    let other = ClientId::new(fixture.other.client_id.clone());
    let now = tessera_server::clock::Clock::now(&tessera_server::clock::SystemClock);

    // Two families of alice through `app`, one refreshed; one of bob through `other`.
    let (_, first_refresh) = fixture.login().await;
    let (status, _) = fixture.refresh(&first_refresh).await;
    assert_eq!(status, 200);
    fixture.login().await;
    let form = [
        ("grant_type", "password"),
        ("username", "bob_the_builder"),
        ("password", PASSWORD),
        ("client_id", fixture.other.client_id.as_str()),
        ("client_secret", fixture.other.client_secret.as_deref().unwrap()),
    ];
    let (status, body) = fixture.post_form("/oauth/token", &form).await;
    assert_eq!(status, 200, "{body}");
    let _ = str_field(&body, "refresh_token");

    let of_alice = store.list_live_families(Owner::User(&alice), now, ALL).await.unwrap();
    assert_eq!(of_alice.len(), 2);
    assert!(of_alice.iter().all(|family| family.client_id == app && family.username == USERNAME));
    assert_eq!(of_alice.iter().filter(|family| family.last_refreshed_at.is_some()).count(), 1, "one was refreshed");
    for family in &of_alice {
        assert_eq!(family.client_name, "app");
        assert!(family.idle_expires_at.unwrap() > now && family.expires_at > now);
        assert!(family.idle_expires_at.unwrap() <= family.expires_at || family.idle_expires_at.is_some());
    }
    assert_eq!(store.list_live_families(Owner::Client(&other), now, ALL).await.unwrap().len(), 1);
    assert_eq!(store.list_live_families(Owner::Everyone, now, ALL).await.unwrap().len(), 3);
    let paged = store.list_live_families(Owner::Everyone, now, Paging { limit: 2, offset: 2 }).await.unwrap();
    assert_eq!(paged.len(), 1, "the second page");
    assert_eq!(store.count_live_families(Owner::Client(&app), now).await.unwrap(), 2);
    assert_eq!(store.count_live_families(Owner::User(&bob), now).await.unwrap(), 1);
    // A revoked family is no longer live; nor is any after its absolute expiry.
    let revoked = &of_alice[0];
    store.revoke_family(&revoked.family_id, now, tessera_core::RevocationReason::RevokedByAdmin).await.unwrap();
    assert_eq!(store.count_live_families(Owner::Client(&app), now).await.unwrap(), 1);
    let later = of_alice[1].expires_at.plus(std::time::Duration::from_secs(1));
    assert_eq!(store.count_live_families(Owner::Client(&app), later).await.unwrap(), 0);

    // Browser sessions: listed by user, ended by the stored hash (not the cookie).
    let in_an_hour = now.plus(std::time::Duration::from_secs(3600));
    for (cookie, user) in [("cookie-a", &alice), ("cookie-b", &alice), ("cookie-c", &bob)] {
        store.insert_browser_session(&TokenHash::of(cookie), user, now, in_an_hour).await.unwrap();
    }
    let sessions = store.list_browser_sessions(Owner::User(&alice), now, ALL).await.unwrap();
    assert_eq!(sessions.len(), 2);
    assert!(sessions.iter().all(|session| session.username == USERNAME && session.expires_at == in_an_hour));
    assert_eq!(store.list_browser_sessions(Owner::Everyone, now, ALL).await.unwrap().len(), 3);
    assert!(store.delete_browser_session(&sessions[0].session_hash).await.unwrap());
    assert_eq!(store.list_browser_sessions(Owner::User(&alice), now, ALL).await.unwrap().len(), 1);
    assert!(store.list_browser_sessions(Owner::Everyone, in_an_hour, ALL).await.unwrap().is_empty(), "expired");

    // Users by search (username, name or email; case-insensitive; `_` literal).
    let names = |users: Vec<tessera_server::store::UserRow>| users.into_iter().map(|u| u.username).collect::<Vec<_>>();
    assert_eq!(names(store.list_users(Some("BOB"), ALL).await.unwrap()), ["bob_the_builder"]);
    assert_eq!(names(store.list_users(Some("alice@example"), ALL).await.unwrap()), [USERNAME]);
    assert_eq!(names(store.list_users(Some("b_t"), ALL).await.unwrap()), ["bob_the_builder"]);
    assert!(store.list_users(Some("b%t"), ALL).await.unwrap().is_empty());
    assert_eq!(store.list_users(None, Paging { limit: 1, offset: 1 }).await.unwrap().len(), 1);

    // A new password hash.
    assert!(store.set_user_password_hash(&bob, "$argon2id$fake", now).await.unwrap());
    assert_eq!(store.get_user(&bob).await.unwrap().unwrap().password_hash, "$argon2id$fake");
    assert!(!store.set_user_password_hash(&UserId::new("ghost"), "x", now).await.unwrap());

    // The sign-in throttle: every counter of the username goes, another user's stays.
    let window = now.minus(std::time::Duration::from_secs(900));
    for counter in ["* alice", "127.0.0.1 alice", "2001:db8::/64 alice", "* xalice", "127.0.0.1 malice"] {
        store.reserve_sign_in_attempt(counter, now, window, 10).await.unwrap();
    }
    assert_eq!(store.clear_sign_in_throttle(USERNAME).await.unwrap(), 3);
    assert!(store.sign_in_attempts("* alice", window).await.unwrap().is_none());
    assert!(store.sign_in_attempts("127.0.0.1 malice", window).await.unwrap().is_some());
}

on_both_backends!(console_store_methods);
