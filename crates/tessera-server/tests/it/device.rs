//! The device authorization grant (RFC 8628) over HTTP, on both backends: the device code, the
//! verification page (sign in, enter, confirm, approve or deny), polls (pending, slow_down,
//! denied, expired), racing pollers, another client's device code, wrong and expired user
//! codes and their limit.

use crate::authorize::{Browser, csrf};
use crate::helpers::{Fixture, PASSWORD, USERNAME, str_field};
use serde_json::Value;
use std::time::Duration;
use tessera_server::config::RawConfig;
use tessera_server::store::Backend;

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

struct Device {
    client_id: String,
    device_code: String,
    user_code: String,
}

async fn start(fixture: &Fixture, client_id: &str, scope: &str) -> Device {
    let (status, body) =
        fixture.post_form("/oauth/device_authorization", &[("client_id", client_id), ("scope", scope)]).await;
    assert_eq!(status, 200, "{body}");
    let user_code = str_field(&body, "user_code");
    assert_eq!(str_field(&body, "verification_uri"), fixture.url("/oauth/device"));
    assert_eq!(
        str_field(&body, "verification_uri_complete"),
        format!("{}?user_code={user_code}", fixture.url("/oauth/device"))
    );
    assert_eq!((body["expires_in"].as_u64(), body["interval"].as_u64()), (Some(600), Some(5)));
    Device { client_id: client_id.to_owned(), device_code: str_field(&body, "device_code"), user_code }
}

async fn poll(fixture: &Fixture, client_id: &str, device_code: &str) -> (u16, Value) {
    fixture
        .post_form(
            "/oauth/token",
            &[("grant_type", DEVICE_GRANT), ("device_code", device_code), ("client_id", client_id)],
        )
        .await
}

fn error_of(body: &Value) -> &str {
    body["error"].as_str().unwrap_or_else(|| panic!("no error in {body}"))
}

/// Signs in on the verification page; returns the page that asks for the code.
async fn sign_in(browser: &mut Browser<'_>, user_code: &str) -> String {
    let page = browser.get_at("/oauth/device", &[("user_code", user_code)]).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let form = [("action", "login"), ("username", USERNAME), ("password", PASSWORD), ("user_code", user_code)];
    let token = csrf(&page);
    let page = browser.post_at("/oauth/device", &[&form[..], &[("csrf", &token)]].concat()).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains(user_code), "the code rides along: {}", page.body);
    csrf(&page)
}

async fn answer(browser: &mut Browser<'_>, csrf: &str, user_code: &str, action: &str) -> crate::authorize::Page {
    browser.post_at("/oauth/device", &[("action", action), ("user_code", user_code), ("csrf", csrf)]).await
}

async fn device_flow(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let tv = fixture.server.client("Living-room TV", &[DEVICE_GRANT, "refresh_token"], "openid read", true).await;
    let device = start(&fixture, &tv.client_id, "openid read").await;

    // Before the user answers: pending, and slow_down for polling faster than the interval
    // (which then grows by 5 s: 9 s later is still too fast, 10 s is not).
    let (status, body) = poll(&fixture, &device.client_id, &device.device_code).await;
    assert_eq!((status, error_of(&body)), (400, "authorization_pending"));
    let (status, body) = poll(&fixture, &device.client_id, &device.device_code).await;
    assert_eq!((status, error_of(&body)), (400, "slow_down"));
    fixture.server.clock.advance(Duration::from_secs(9));
    assert_eq!(error_of(&poll(&fixture, &device.client_id, &device.device_code).await.1), "slow_down");
    fixture.server.clock.advance(Duration::from_secs(15));
    assert_eq!(error_of(&poll(&fixture, &device.client_id, &device.device_code).await.1), "authorization_pending");

    // The user signs in, types the code in lower case without its dash, sees the client and
    // the scope, and approves.
    let mut browser = Browser::new(&fixture);
    let token = sign_in(&mut browser, "").await;
    let typed = device.user_code.replace('-', "").to_lowercase();
    let page = answer(&mut browser, &token, &typed, "lookup").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Living-room TV") && page.body.contains("<li>read</li>"), "{}", page.body);
    assert!(page.body.contains(&device.user_code), "shown with its dash: {}", page.body);
    let page = answer(&mut browser, &token, &device.user_code, "approve").await;
    assert!(page.body.contains("Your device is connected"), "{}", page.body);
    // One-time: a second answer finds nothing.
    let page = answer(&mut browser, &token, &device.user_code, "deny").await;
    assert_eq!(page.status, 400, "{}", page.body);

    // Another client presenting the device code gets invalid_grant and takes nothing.
    let (status, body) = poll(&fixture, &fixture.public.client_id, &device.device_code).await;
    assert_eq!((status, error_of(&body)), (400, "unauthorized_client"), "the public client lacks the grant");
    let thief = fixture.server.client("thief", &[DEVICE_GRANT], "openid read", true).await;
    let (status, body) = poll(&fixture, &thief.client_id, &device.device_code).await;
    assert_eq!((status, error_of(&body)), (400, "invalid_grant"));

    // Racing pollers: exactly one set of tokens.
    let (first, second) = tokio::join!(
        poll(&fixture, &device.client_id, &device.device_code),
        poll(&fixture, &device.client_id, &device.device_code)
    );
    let mut outcomes = [first, second];
    outcomes.sort_by_key(|(status, _)| *status);
    let [(won, tokens), (lost, refused)] = outcomes;
    assert_eq!((won, lost, error_of(&refused)), (200, 400, "invalid_grant"), "{tokens} {refused}");
    assert!(tokens["refresh_token"].as_str().is_some_and(|token| token.starts_with("tsr_")), "{tokens}");
    assert!(tokens["id_token"].is_string(), "openid was granted: {tokens}");
    assert_eq!(tokens["scope"], "openid read");
    let me = fixture.me(&str_field(&tokens, "access_token")).await;
    assert_eq!(me.status(), 200);
    assert_eq!(me.json::<Value>().await.unwrap()["username"], USERNAME);
    assert_eq!(error_of(&poll(&fixture, &device.client_id, &device.device_code).await.1), "invalid_grant");

    // The family refreshes like any other.
    let refreshed = fixture
        .post_form(
            "/oauth/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &str_field(&tokens, "refresh_token")),
                ("client_id", &tv.client_id),
            ],
        )
        .await;
    assert_eq!(refreshed.0, 200, "{}", refreshed.1);
}

async fn device_refusals(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let tv = fixture.server.client("TV", &[DEVICE_GRANT], "read", true).await;

    // Clients without the grant, unknown clients, and unknown device codes.
    let (status, body) =
        fixture.post_form("/oauth/device_authorization", &[("client_id", &fixture.public.client_id)]).await;
    assert_eq!((status, error_of(&body)), (400, "unauthorized_client"));
    let (status, body) = fixture.post_form("/oauth/device_authorization", &[("client_id", "nobody")]).await;
    assert_eq!((status, error_of(&body)), (401, "invalid_client"));
    let (status, body) =
        fixture.post_form("/oauth/device_authorization", &[("client_id", &tv.client_id), ("scope", "admin")]).await;
    assert_eq!((status, error_of(&body)), (400, "invalid_scope"));
    assert_eq!(error_of(&poll(&fixture, &tv.client_id, "no-such-device-code").await.1), "invalid_grant");
    let (status, body) =
        fixture.post_form("/oauth/token", &[("grant_type", DEVICE_GRANT), ("client_id", &tv.client_id)]).await;
    assert_eq!((status, error_of(&body)), (400, "invalid_request"));

    // Denied: access_denied, and no tokens ever.
    let denied = start(&fixture, &tv.client_id, "read").await;
    let mut browser = Browser::new(&fixture);
    let token = sign_in(&mut browser, &denied.user_code).await;
    let page = answer(&mut browser, &token, &denied.user_code, "deny").await;
    assert!(page.body.contains("Access denied"), "{}", page.body);
    let (status, body) = poll(&fixture, &tv.client_id, &denied.device_code).await;
    assert_eq!((status, error_of(&body)), (400, "access_denied"));

    // A forged form (no CSRF token) changes nothing.
    let pending = start(&fixture, &tv.client_id, "read").await;
    let page = answer(&mut browser, "forged", &pending.user_code, "approve").await;
    assert_eq!(page.status, 400);
    assert_eq!(error_of(&poll(&fixture, &tv.client_id, &pending.device_code).await.1), "authorization_pending");

    // Expired: the page no longer knows the code, the poll says expired_token.
    fixture.server.clock.advance(Duration::from_secs(601));
    let page = answer(&mut browser, &token, &pending.user_code, "approve").await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(page.body.contains("unknown or has expired"), "{}", page.body);
    assert_eq!(error_of(&poll(&fixture, &tv.client_id, &pending.device_code).await.1), "expired_token");

    // Wrong codes count against the user: after five, even a right code is not looked up.
    let live = start(&fixture, &tv.client_id, "read").await;
    let mut browser = Browser::new(&fixture);
    let token = sign_in(&mut browser, "").await;
    for wrong in ["BBBB-BBBB", "not a code", "CCCC-CCCC"] {
        let page = answer(&mut browser, &token, wrong, "lookup").await;
        assert_eq!(page.status, 400, "{wrong}: {}", page.body);
    }
    let page = answer(&mut browser, &token, &live.user_code, "lookup").await;
    assert_eq!(page.status, 200, "under the limit a right code works: {}", page.body);
    // (The expired code and the three above: four failures; one more reaches the limit.)
    let page = answer(&mut browser, &token, "DDDD-DDDD", "lookup").await;
    assert_eq!(page.status, 400);
    let page = answer(&mut browser, &token, &live.user_code, "approve").await;
    assert_eq!(page.status, 429, "{}", page.body);
    assert_eq!(error_of(&poll(&fixture, &tv.client_id, &live.device_code).await.1), "authorization_pending");
    // The window closes.
    fixture.server.clock.advance(Duration::from_secs(15 * 60 + 1));
    let live = start(&fixture, &tv.client_id, "read").await;
    let page = answer(&mut browser, &token, &live.user_code, "approve").await;
    assert!(page.body.contains("Your device is connected"), "{}", page.body);
}

async fn discovery_lists_the_device_endpoint(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    for path in ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"] {
        let metadata: Value = fixture.http.get(fixture.url(path)).send().await.unwrap().json().await.unwrap();
        assert_eq!(metadata["device_authorization_endpoint"], fixture.url("/oauth/device_authorization"), "{path}");
        assert!(metadata["grant_types_supported"].as_array().unwrap().contains(&Value::from(DEVICE_GRANT)));
    }
}

on_both_backends!(device_flow, device_refusals, discovery_lists_the_device_endpoint);
