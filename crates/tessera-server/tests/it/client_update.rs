//! Changing a client (`tessera client update`, issue 10 item 7): the store's `update_client`,
//! and what a narrower client means for tokens already issued — every refresh carries only
//! what the client may still ask for, and a client without the `refresh_token` grant can no
//! longer refresh. First grants (password, client credentials, code) follow the new scope.

use crate::helpers::{Fixture, PASSWORD, USERNAME, str_field};
use serde_json::Value;
use std::time::Duration;
use tessera_core::authorize::AuthorizationRequest;
use tessera_core::{ClientId, GrantType, IntrospectionAccess, Scope, UserId};
use tessera_server::admin::{AdminError, ClientUpdate, update_client};
use tessera_server::clock::Clock;
use tessera_server::config::RawConfig;
use tessera_server::store::Backend;
use tessera_testkit::TestClient;

const ALL_GRANTS: &[&str] = &["authorization_code", "password", "refresh_token", "client_credentials"];

/// A confidential client that may ask for `read admin`, with every grant.
async fn console_client(fixture: &Fixture) -> TestClient {
    fixture.server.client("console", ALL_GRANTS, "read admin", false).await
}

async fn token_as(fixture: &Fixture, client: &TestClient, params: &[(&str, &str)]) -> (u16, Value) {
    let mut form = params.to_vec();
    form.push(("client_id", &client.client_id));
    form.push(("client_secret", client.client_secret.as_deref().unwrap()));
    fixture.post_form("/oauth/token", &form).await
}

async fn password_grant(fixture: &Fixture, client: &TestClient, scope: Option<&str>) -> (u16, Value) {
    let mut params = vec![("grant_type", "password"), ("username", USERNAME), ("password", PASSWORD)];
    params.extend(scope.map(|scope| ("scope", scope)));
    token_as(fixture, client, &params).await
}

async fn refresh_as(fixture: &Fixture, client: &TestClient, token: &str, scope: Option<&str>) -> (u16, Value) {
    let mut params = vec![("grant_type", "refresh_token"), ("refresh_token", token)];
    params.extend(scope.map(|scope| ("scope", scope)));
    token_as(fixture, client, &params).await
}

/// Through the service, as an admin console on this instance would: applies here at once.
async fn update(fixture: &Fixture, client: &TestClient, update: ClientUpdate) {
    fixture.server.service.update_client(&client.client_id.as_str().into(), update).await.unwrap();
}

fn scope_update(scope: &str) -> ClientUpdate {
    ClientUpdate { scope: Some(scope.into()), ..ClientUpdate::default() }
}

/// Whether an update's refusal is the one expected.
type IsExpected = fn(&AdminError) -> bool;

/// (case, token request parameters, the scope granted or the error)
type GrantCase<'a> = (&'a str, &'a [(&'a str, &'a str)], Result<&'a str, &'a str>);

fn error(response: &(u16, Value)) -> (u16, Option<&str>) {
    (response.0, response.1["error"].as_str())
}

/// The store's `update_client` on both backends: it replaces what it is given, keeps the
/// secret and creation time, and refuses bad input and unknown ids without changing anything.
async fn update_client_conformance(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let store = fixture.server.store();
    let id = ClientId::new(fixture.app.client_id.as_str());
    let before = store.get_client(&id).await.unwrap().unwrap();
    assert_eq!(before.introspection, IntrospectionAccess::OwnTokens, "the default");

    let changes = ClientUpdate {
        name: Some("  Renamed ".into()),
        redirect_uris: Some(vec!["https://app.example/cb".into(), "http://127.0.0.1/cb".into()]),
        grant_types: Some(vec!["refresh_token".into(), "password".into(), "password".into()]),
        scope: Some("read  admin".into()),
        introspection: Some(IntrospectionAccess::AnyAccessToken),
        post_logout_redirect_uris: Some(vec!["https://app.example/bye".into()]),
        allowed_origins: Some(vec!["http://127.0.0.1:5173".into(), "HTTPS://App.Example:443".into()]),
        require_dpop: Some(true),
    };
    let updated = update_client(store, &id, changes).await.unwrap();
    let stored = store.get_client(&id).await.unwrap().unwrap();
    assert_eq!(stored, updated);
    let logout_uris = store.client_post_logout_redirect_uris(&id).await.unwrap();
    assert_eq!(logout_uris, Some(vec!["https://app.example/bye".to_owned()]));
    assert_eq!(stored.name, "Renamed");
    assert_eq!(stored.redirect_uris, ["https://app.example/cb", "http://127.0.0.1/cb"]);
    assert_eq!(stored.grant_types, [GrantType::Password, GrantType::RefreshToken]);
    assert_eq!(stored.scope.to_string(), "admin read");
    assert_eq!(stored.introspection, IntrospectionAccess::AnyAccessToken);
    let origins: Vec<_> = stored.allowed_origins.iter().map(|origin| origin.as_str()).collect();
    assert_eq!(origins, ["http://127.0.0.1:5173", "https://app.example"], "normalised and sorted");
    assert_eq!((&stored.secret_hash, stored.created_at), (&before.secret_hash, before.created_at), "kept");
    assert!(store.list_clients().await.unwrap().contains(&stored));

    // One field at a time leaves the others as they are.
    let renamed = update_client(store, &id, ClientUpdate { name: Some("Again".into()), ..ClientUpdate::default() });
    let renamed = renamed.await.unwrap();
    assert_eq!(renamed, tessera_server::store::ClientRow { name: "Again".into(), ..stored.clone() });

    // Bad input: an error, and nothing changed.
    let bad: Vec<(ClientUpdate, IsExpected)> = vec![
        (ClientUpdate::default(), |e| matches!(e, AdminError::NothingToUpdate)),
        (
            ClientUpdate { grant_types: Some(vec!["password".into(), "implicit".into()]), ..scope_update("x") },
            |e| matches!(e, AdminError::UnknownGrant(name) if name == "implicit"),
        ),
        (ClientUpdate { grant_types: Some(Vec::new()), ..ClientUpdate::default() }, |e| {
            matches!(e, AdminError::NoGrants)
        }),
        (ClientUpdate { redirect_uris: Some(vec!["not a url".into()]), ..ClientUpdate::default() }, |e| {
            matches!(e, AdminError::InvalidRedirectUri(_))
        }),
        (scope_update("bad\"scope"), |e| matches!(e, AdminError::InvalidScope(_))),
        (ClientUpdate { allowed_origins: Some(vec!["https://app.example/cb".into()]), ..scope_update("x") }, |e| {
            matches!(e, AdminError::InvalidOrigin(_))
        }),
        (ClientUpdate { name: Some(" ".into()), ..scope_update("x") }, |e| matches!(e, AdminError::EmptyName)),
    ];
    for (changes, expected) in bad {
        let refused = update_client(store, &id, changes.clone()).await.unwrap_err();
        assert!(expected(&refused), "{changes:?}: {refused}");
        assert_eq!(store.get_client(&id).await.unwrap().unwrap(), renamed, "{changes:?} changed nothing");
    }
    let unknown = update_client(store, &ClientId::new("nope"), scope_update("read")).await.unwrap_err();
    assert!(matches!(&unknown, AdminError::NoSuchClient(id) if id == "nope"), "{unknown}");
    assert!(
        !store.update_client(&tessera_server::store::ClientRow { client_id: "nope".into(), ..renamed }).await.unwrap()
    );
    assert_eq!(store.list_clients().await.unwrap().len(), 3, "no client appeared");
}

/// Removing `admin` from a client reaches the families it already holds.
async fn a_narrowed_client_refreshes_only_what_it_may_still_ask_for(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let console = console_client(&fixture).await;
    let (status, body) = password_grant(&fixture, &console, None).await;
    assert_eq!((status, body["scope"].as_str()), (200, Some("admin read")), "{body}");
    let refresh_token = str_field(&body, "refresh_token");

    update(&fixture, &console, scope_update("read")).await;
    // Before the fix: 200 with `admin read`, for as long as the family lived.
    let (status, body) = refresh_as(&fixture, &console, &refresh_token, None).await;
    assert_eq!((status, body["scope"].as_str()), (200, Some("read")), "{body}");
    let access_token = str_field(&body, "access_token");
    let refresh_token = str_field(&body, "refresh_token");
    let introspected = fixture
        .post_form(
            "/oauth/introspect",
            &[
                ("token", access_token.as_str()),
                ("client_id", &console.client_id),
                ("client_secret", console.client_secret.as_deref().unwrap()),
            ],
        )
        .await
        .1;
    assert_eq!(introspected["scope"], "read", "the access token carries no admin: {introspected}");
    // Asking for what was removed is refused, and spends nothing.
    let asked = refresh_as(&fixture, &console, &refresh_token, Some("admin")).await;
    assert_eq!(error(&asked), (400, Some("invalid_scope")), "{}", asked.1);

    // Nothing left: refused, and the token is not spent (restoring the scope restores it).
    update(&fixture, &console, scope_update("")).await;
    let refused = refresh_as(&fixture, &console, &refresh_token, None).await;
    assert_eq!(error(&refused), (400, Some("invalid_scope")), "{}", refused.1);
    update(&fixture, &console, scope_update("read")).await;
    let (status, body) = refresh_as(&fixture, &console, &refresh_token, None).await;
    assert_eq!((status, body["scope"].as_str()), (200, Some("read")), "{body}");
}

/// A client registered without scopes keeps refreshing with none, as it always did.
async fn an_empty_scope_family_still_refreshes(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let bare = fixture.server.client("bare", &[], "", false).await;
    let (status, body) = password_grant(&fixture, &bare, None).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = refresh_as(&fixture, &bare, &str_field(&body, "refresh_token"), None).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["scope"].as_str().unwrap_or_default().is_empty(), "{body}");
}

async fn a_client_without_the_refresh_grant_cannot_refresh(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let console = console_client(&fixture).await;
    let (_, body) = password_grant(&fixture, &console, None).await;
    let refresh_token = str_field(&body, "refresh_token");
    update(&fixture, &console, ClientUpdate { grant_types: Some(vec!["password".into()]), ..Default::default() }).await;
    let refused = refresh_as(&fixture, &console, &refresh_token, None).await;
    assert_eq!(error(&refused), (400, Some("unauthorized_client")), "{}", refused.1);
    let (status, body) = password_grant(&fixture, &console, None).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("refresh_token").is_none(), "and new grants get no refresh token: {body}");
}

/// First grants after narrowing: password, client credentials, the authorization request and
/// a code issued before the change.
async fn first_grants_follow_the_narrowed_scope(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let console = console_client(&fixture).await;
    let service = &fixture.server.service;
    let user = service.find_user(&UserId::new(fixture.user_id.as_str())).await.unwrap().unwrap();
    let pending_code = service
        .issue_authorization_code(
            &AuthorizationRequest {
                client_id: console.client_id.as_str().into(),
                redirect_uri: "http://127.0.0.1/callback".into(),
                redirect_uri_given: false,
                scope: Scope::parse("read admin").unwrap(),
                state: None,
                code_challenge: None,
                dpop_jkt: None,
                openid: Default::default(),
            },
            &user,
            "session",
            fixture.server.clock.now(),
        )
        .await
        .unwrap();
    update(&fixture, &console, scope_update("read")).await;

    let cases: &[GrantCase] = &[
        ("password", &[("grant_type", "password"), ("username", USERNAME), ("password", PASSWORD)], Ok("read")),
        (
            "password asking for admin",
            &[("grant_type", "password"), ("username", USERNAME), ("password", PASSWORD), ("scope", "admin")],
            Err("invalid_scope"),
        ),
        ("client_credentials", &[("grant_type", "client_credentials")], Ok("read")),
        (
            "client_credentials asking for admin",
            &[("grant_type", "client_credentials"), ("scope", "admin")],
            Err("invalid_scope"),
        ),
        (
            "a code issued before the change",
            &[("grant_type", "authorization_code"), ("code", &pending_code)],
            Ok("read"),
        ),
    ];
    for (case, params, expected) in cases {
        let (status, body) = token_as(&fixture, &console, params).await;
        let got =
            if status == 200 { Ok(body["scope"].as_str().unwrap()) } else { Err(body["error"].as_str().unwrap()) };
        assert_eq!(got, *expected, "{case}: {body}");
    }

    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let response = http
        .get(fixture.url("/oauth/authorize"))
        .query(&[
            ("response_type", "code"),
            ("client_id", console.client_id.as_str()),
            ("redirect_uri", "http://127.0.0.1/callback"),
            ("scope", "admin"),
            ("state", "s"),
            ("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap();
    let location = response.headers().get("location").map(|value| value.to_str().unwrap().to_owned());
    assert!(location.as_deref().is_some_and(|l| l.contains("error=invalid_scope")), "{location:?}");
}

/// A change written to the database directly (the CLI) reaches a running instance within
/// `client_cache_ttl`; through the service, at once (the tests above).
async fn a_change_in_the_database_applies_within_the_client_cache_ttl(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let console = console_client(&fixture).await;
    let (_, body) = password_grant(&fixture, &console, None).await;
    let refresh_token = str_field(&body, "refresh_token");
    let (status, body) = refresh_as(&fixture, &console, &refresh_token, None).await;
    assert_eq!((status, body["scope"].as_str()), (200, Some("admin read")), "{body}");
    let refresh_token = str_field(&body, "refresh_token");

    update_client(fixture.server.store(), &console.client_id.as_str().into(), scope_update("read")).await.unwrap();
    fixture.server.clock.advance(Duration::from_secs(5));
    let (status, body) = refresh_as(&fixture, &console, &refresh_token, None).await;
    assert_eq!((status, body["scope"].as_str()), (200, Some("read")), "{body}");
}

on_both_backends!(
    update_client_conformance,
    a_narrowed_client_refreshes_only_what_it_may_still_ask_for,
    an_empty_scope_family_still_refreshes,
    a_client_without_the_refresh_grant_cannot_refresh,
    first_grants_follow_the_narrowed_scope,
    a_change_in_the_database_applies_within_the_client_cache_ttl,
);
