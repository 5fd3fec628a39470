//! The OpenID Connect store methods (migration 0008), called directly, on both backends:
//! remembered consent, browser sessions' sign-in time and logout, profile updates and
//! post-logout redirect URIs, including the answers for rows that do not exist.

use crate::helpers::Fixture;
use std::time::Duration;
use tessera_core::{Scope, Timestamp, TokenHash};
use tessera_server::config::RawConfig;
use tessera_server::store::{Backend, ConsentRow};

async fn oidc_store_methods(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let store = fixture.server.store();
    let user = fixture.user_id.as_str().into();
    let app = fixture.app.client_id.as_str().into();
    let ghost = "no-such-client".into();
    let at = Timestamp::from_secs(1_800_000_000);

    // Consent: none, remembered, replaced (not added to: the service merges), listed with the
    // client's name, forgotten once.
    assert_eq!(store.find_consent(&user, &app).await.unwrap(), None);
    let consent = |scope: &str| ConsentRow {
        user_id: fixture.user_id.as_str().into(),
        client_id: fixture.app.client_id.as_str().into(),
        client_name: String::new(),
        scope: Scope::parse(scope).unwrap(),
        granted_at: at,
    };
    store.remember_consent(&consent("openid read")).await.unwrap();
    store.remember_consent(&consent("openid")).await.unwrap();
    let found = store.find_consent(&user, &app).await.unwrap().unwrap();
    assert_eq!((found.scope.to_string(), found.client_name.as_str(), found.granted_at), ("openid".into(), "app", at));
    assert_eq!(store.list_consents(&user).await.unwrap(), vec![found]);
    assert!(store.consented_families(&user, &app).await.unwrap().is_empty());
    assert!(store.delete_consent(&user, &app).await.unwrap());
    assert!(!store.delete_consent(&user, &app).await.unwrap());
    assert!(store.list_consents(&user).await.unwrap().is_empty());

    // Browser sessions: when they began, and ending one.
    let session = TokenHash::of("a browser session");
    store.insert_browser_session(&session, &user, at, at.plus(Duration::from_secs(60))).await.unwrap();
    assert_eq!(store.browser_session_started(&session, at).await.unwrap(), Some(at));
    assert_eq!(store.browser_session_started(&session, at.plus(Duration::from_secs(61))).await.unwrap(), None);
    assert!(store.delete_browser_session(&session).await.unwrap());
    assert!(!store.delete_browser_session(&session).await.unwrap());
    assert_eq!(store.browser_session_started(&session, at).await.unwrap(), None);

    // Codes' sign-ins are found by the code's hash only.
    assert_eq!(store.find_code_sign_in(&TokenHash::of("no such code")).await.unwrap(), None);

    // Profiles and post-logout redirect URIs; unknown rows change nothing.
    let mut row = store.get_user(&user).await.unwrap().unwrap();
    row.name = Some("Alice".into());
    row.email_verified = true;
    row.updated_at = Some(at);
    assert!(store.update_user(&row).await.unwrap());
    assert_eq!(store.get_user(&user).await.unwrap().unwrap(), row);
    row.user_id = "no-such-user".into();
    assert!(!store.update_user(&row).await.unwrap());
    assert_eq!(store.client_post_logout_redirect_uris(&app).await.unwrap(), Some(Vec::new()));
    let uris = vec!["https://rp.example/bye".to_owned()];
    assert!(store.set_client_post_logout_redirect_uris(&app, &uris).await.unwrap());
    assert_eq!(store.client_post_logout_redirect_uris(&app).await.unwrap(), Some(uris.clone()));
    assert!(!store.set_client_post_logout_redirect_uris(&ghost, &uris).await.unwrap());
    assert_eq!(store.client_post_logout_redirect_uris(&ghost).await.unwrap(), None);
}

on_both_backends!(oidc_store_methods);
