//! OpenID Connect at the authorization endpoint and after: `prompt`, `max_age`, `login_hint`,
//! refused parameters (by redirect), remembered consent and its withdrawal, disabled users,
//! and RP-initiated logout.

use crate::authorize::{Browser, REDIRECT, approve, code_of, csrf, query_of, request};
use crate::helpers::{Fixture, PASSWORD, USERNAME, str_field};
use crate::oidc::{LOGOUT_URI, NONCE, relying_party, sign_in, token_as, verified_claims};
use std::time::Duration;
use tessera_server::admin::{UserChange, update_user};
use tessera_server::clock::Clock;
use tessera_server::config::RawConfig;
use tessera_server::store::Backend;

/// The error a request was redirected with, checking that it went to the client with `state`.
fn redirected_error(page: &crate::authorize::Page) -> String {
    assert_eq!(page.status, 303, "{}", page.body);
    let location = page.location.clone().unwrap();
    assert!(location.starts_with(REDIRECT), "{location}");
    let params = query_of(&location);
    assert_eq!(params["state"], "st4te", "{location}");
    params["error"].clone()
}

async fn prompt_max_age_and_refused_parameters(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let rp = relying_party(&fixture).await;
    let id = rp.client_id.as_str();
    let mut browser = Browser::new(&fixture);
    let long_nonce = "n".repeat(513);
    let refused: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![("request", "eyJhbGciOiJub25lIn0.e30.")], "request_not_supported"),
        (vec![("request_uri", "https://rp.example.test/request.jwt")], "request_uri_not_supported"),
        (vec![("nonce", &long_nonce)], "invalid_request"),
        (vec![("max_age", "-1")], "invalid_request"),
        (vec![("max_age", "soon")], "invalid_request"),
        (vec![("prompt", "none login")], "invalid_request"),
        (vec![("prompt", "whenever")], "invalid_request"),
        // Not signed in: prompt=none cannot show the login page.
        (vec![("prompt", "none")], "login_required"),
    ];
    for (extra, expected) in &refused {
        let mut extra = extra.clone();
        extra.push(("scope", "openid"));
        assert_eq!(redirected_error(&browser.get(&request(id, &extra)).await), *expected, "{extra:?}");
    }
    // login_hint pre-fills the username (escaped like every value on the page).
    let page = browser.get(&request(id, &[("scope", "openid"), ("login_hint", "alice<b>")])).await;
    assert!(
        page.body.contains(r#"value="alice&#60;b&#62;""#) || page.body.contains(r#"value="alice&lt;b&gt;""#),
        "{}",
        page.body
    );

    // Signed in and approved for `openid read`.
    let first = sign_in(&fixture, &mut browser, &rp, &[("scope", "openid read"), ("nonce", NONCE)]).await;
    let first = verified_claims(&fixture, &str_field(&first, "id_token"), id).await;
    // prompt=none with a session and remembered consent: a code, no page.
    let silent = browser.get(&request(id, &[("scope", "openid"), ("prompt", "none")])).await;
    code_of(&browser, silent);
    // … but a wider scope would need the consent page.
    let wider = browser.get(&request(id, &[("scope", "openid email"), ("prompt", "none")])).await;
    assert_eq!(redirected_error(&wider), "consent_required");
    // prompt=consent shows the consent page although consent is remembered.
    let consent = browser.get(&request(id, &[("scope", "openid"), ("prompt", "consent")])).await;
    assert!(consent.status == 200 && consent.body.contains(r#"id="approve""#), "{}", consent.body);
    // prompt=login shows the login page although the browser is signed in.
    let login = browser.get(&request(id, &[("scope", "openid"), ("prompt", "login")])).await;
    assert!(login.status == 200 && login.body.contains(r#"id="login""#), "{}", login.body);
    // max_age=0 a moment later: sign in again, and auth_time says when.
    fixture.server.clock.advance(Duration::from_secs(5));
    let stale = browser.get(&request(id, &[("scope", "openid"), ("max_age", "0")])).await;
    assert!(stale.status == 200 && stale.body.contains(r#"id="login""#), "{}", stale.body);
    let again = sign_in(&fixture, &mut browser, &rp, &[("scope", "openid"), ("max_age", "0")]).await;
    let again = verified_claims(&fixture, &str_field(&again, "id_token"), id).await;
    assert_eq!(again["auth_time"].as_i64().unwrap(), first["auth_time"].as_i64().unwrap() + 5, "{again}");
    // The new sign-in is a new session.
    assert_ne!(again["sid"], first["sid"]);
}

async fn remembered_consent_is_per_client_and_withdrawing_it_revokes_its_families(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let rp = relying_party(&fixture).await;
    let id = rp.client_id.as_str();
    let mut browser = Browser::new(&fixture);
    let tokens = sign_in(&fixture, &mut browser, &rp, &[("scope", "openid read")]).await;
    // Another client is asked about separately.
    let other = browser.get(&request(&fixture.app.client_id, &[])).await;
    assert!(other.status == 200 && other.body.contains(r#"id="approve""#), "{}", other.body);
    // A narrower request skips the page; a wider one asks again, and then both are remembered.
    assert_eq!(browser.get(&request(id, &[("scope", "openid")])).await.status, 303);
    let wider = browser.get(&request(id, &[("scope", "openid email")])).await;
    assert!(wider.status == 200 && wider.body.contains("<li>email</li>"), "{}", wider.body);
    approve(&mut browser, &request(id, &[("scope", "openid email")])).await;
    assert_eq!(browser.get(&request(id, &[("scope", "openid email read")])).await.status, 303);

    let service = &fixture.server.service;
    let user_id = fixture.user_id.as_str().into();
    let consents = service.consents(&user_id).await.unwrap();
    assert_eq!(consents.len(), 1);
    assert_eq!(
        (consents[0].client_name.as_str(), consents[0].scope.to_string()),
        ("relying party", "email openid read".into())
    );
    // A password grant of the same client did not begin at the consent page: it survives.
    let (_, password) = token_as(
        &fixture,
        &rp,
        &[("grant_type", "password"), ("username", USERNAME), ("password", PASSWORD), ("scope", "openid")],
    )
    .await;
    assert!(service.revoke_consent(&user_id, &rp.client_id.as_str().into()).await.unwrap());
    assert!(service.consents(&user_id).await.unwrap().is_empty());
    let (status, body) = token_as(
        &fixture,
        &rp,
        &[("grant_type", "refresh_token"), ("refresh_token", &str_field(&tokens, "refresh_token"))],
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    assert_eq!(fixture.me(&str_field(&tokens, "access_token")).await.status(), 401);
    assert_eq!(fixture.me(&str_field(&password, "access_token")).await.status(), 200);
    let asked = browser.get(&request(id, &[("scope", "openid")])).await;
    assert!(asked.status == 200 && asked.body.contains(r#"id="approve""#), "consent is asked again: {}", asked.body);
}

async fn a_disabled_user_cannot_sign_in(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let mut browser = Browser::new(&fixture);
    approve(&mut browser, &request(&fixture.app.client_id, &[])).await;
    let now = fixture.server.clock.now();
    let disable = UserChange { disabled: Some(true), ..UserChange::default() };
    update_user(fixture.server.store(), now, USERNAME, disable).await.unwrap();
    let (status, body) =
        fixture.token(&[("grant_type", "password"), ("username", USERNAME), ("password", PASSWORD)]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    // The browser session no longer counts, and the login page refuses the password.
    let page = browser.get(&request(&fixture.app.client_id, &[])).await;
    assert!(page.body.contains(r#"id="login""#), "{}", page.body);
    let mut form = request(&fixture.app.client_id, &[]);
    let token = csrf(&page);
    form.extend([("action", "login"), ("username", USERNAME), ("password", PASSWORD), ("csrf", token.as_str())]);
    let refused = browser.post(&form).await;
    assert!(refused.status == 401 && refused.body.contains("disabled"), "{}", refused.body);
    update_user(fixture.server.store(), now, USERNAME, UserChange { disabled: Some(false), ..UserChange::default() })
        .await
        .unwrap();
    assert_eq!(
        fixture.token(&[("grant_type", "password"), ("username", USERNAME), ("password", PASSWORD)]).await.0,
        200
    );
}

/// Whether the browser is signed in: `prompt=none` gets a code.
async fn signed_in(browser: &mut Browser<'_>, client_id: &str) -> bool {
    let page = browser.get(&request(client_id, &[("scope", "openid"), ("prompt", "none")])).await;
    page.location.is_some_and(|location| query_of(&location).contains_key("code"))
}

async fn rp_initiated_logout(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let rp = relying_party(&fixture).await;
    let id = rp.client_id.as_str();
    let mut browser = Browser::new(&fixture);
    let tokens = sign_in(&fixture, &mut browser, &rp, &[("scope", "openid")]).await;
    let hint = str_field(&tokens, "id_token");
    // Refused, each logging nobody out: an unregistered redirect, a forged hint, a hint for
    // another client than client_id names, a redirect without any client.
    let mut forged = hint.clone();
    forged.pop();
    forged.push(if hint.ends_with('A') { 'B' } else { 'A' });
    let refused = [
        vec![("id_token_hint", hint.as_str()), ("post_logout_redirect_uri", "https://evil.example.test/")],
        vec![("id_token_hint", forged.as_str()), ("post_logout_redirect_uri", LOGOUT_URI)],
        vec![("id_token_hint", hint.as_str()), ("client_id", fixture.app.client_id.as_str())],
        vec![("post_logout_redirect_uri", LOGOUT_URI)],
    ];
    for query in &refused {
        let page = browser.get_at("/oauth/logout", query).await;
        assert_eq!((page.status, page.location.as_deref()), (400, None), "{query:?}: {}", page.body);
        assert!(signed_in(&mut browser, id).await, "still signed in after {query:?}");
    }
    // A valid hint for the signed-in user: out at once, back to the registered URI with state.
    let out = browser
        .get_at(
            "/oauth/logout",
            &[("id_token_hint", &hint), ("post_logout_redirect_uri", LOGOUT_URI), ("state", "bye")],
        )
        .await;
    assert_eq!((out.status, out.location.as_deref()), (303, Some(format!("{LOGOUT_URI}?state=bye").as_str())));
    assert!(!signed_in(&mut browser, id).await);
    let silent = browser.get(&request(id, &[("scope", "openid"), ("prompt", "none")])).await;
    assert_eq!(query_of(silent.location.as_deref().unwrap())["error"], "login_required");

    // Without a hint: a confirmation page first; only its own form logs out.
    sign_in(&fixture, &mut browser, &rp, &[("scope", "openid")]).await;
    let query = [("client_id", id), ("post_logout_redirect_uri", LOGOUT_URI), ("state", "s2")];
    let confirm = browser.get_at("/oauth/logout", &query).await;
    assert!(confirm.status == 200 && confirm.body.contains(r#"id="logout""#), "{}", confirm.body);
    assert!(signed_in(&mut browser, id).await, "the confirmation page logs nobody out");
    let mut form = query.to_vec();
    form.push(("action", "logout"));
    let unconfirmed = browser.post_at("/oauth/logout", &form).await;
    assert_eq!(unconfirmed.status, 200, "without the form's token it asks again");
    assert!(signed_in(&mut browser, id).await);
    let token = csrf(&confirm);
    form.push(("csrf", token.as_str()));
    let out = browser.post_at("/oauth/logout", &form).await;
    assert_eq!((out.status, out.location.as_deref()), (303, Some(format!("{LOGOUT_URI}?state=s2").as_str())));
    assert!(!signed_in(&mut browser, id).await);
    // Signed out already: nothing to confirm.
    let done = browser.get_at("/oauth/logout", &[]).await;
    assert!(done.status == 200 && done.body.contains("signed-out"), "{}", done.body);
}

on_both_backends!(
    prompt_max_age_and_refused_parameters,
    remembered_consent_is_per_client_and_withdrawing_it_revokes_its_families,
    a_disabled_user_cannot_sign_in,
    rp_initiated_logout,
);
