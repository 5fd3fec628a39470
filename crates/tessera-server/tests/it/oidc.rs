//! OpenID Connect over HTTP: id tokens from the code, password and refresh grants (verified
//! with jsonwebtoken against `/oauth/jwks`, `at_hash` recomputed), userinfo and its refusals,
//! and the discovery document beside the RFC 8414 one.

use crate::authorize::{Browser, REDIRECT, VERIFIER, approve, request};
use crate::helpers::{Fixture, PASSWORD, USERNAME, str_field};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use tessera_server::admin::{UserChange, update_user};
use tessera_server::config::RawConfig;
use tessera_server::store::Backend;
use tessera_testkit::TestClient;

pub(crate) const NONCE: &str = "n-0S6_WzA2Mj";
pub(crate) const LOGOUT_URI: &str = "https://rp.example.test/signed-out";

/// A relying party registered for OpenID Connect, and the fixture user with a full profile.
pub(crate) async fn relying_party(fixture: &Fixture) -> TestClient {
    let rp = fixture.server.client("relying party", &[], "openid profile email read", false).await;
    let store = fixture.server.store();
    store.set_client_post_logout_redirect_uris(&rp.client_id.as_str().into(), &[LOGOUT_URI.to_owned()]).await.unwrap();
    let change = UserChange { name: Some("Alice Liddell".into()), email_verified: Some(true), ..UserChange::default() };
    update_user(store, tessera_server::clock::Clock::now(&fixture.server.clock), USERNAME, change).await.unwrap();
    rp
}

/// The token endpoint, as `client`.
pub(crate) async fn token_as(fixture: &Fixture, client: &TestClient, params: &[(&str, &str)]) -> (u16, Value) {
    let mut form = params.to_vec();
    form.push(("client_id", &client.client_id));
    form.push(("client_secret", client.client_secret.as_deref().unwrap_or_default()));
    fixture.post_form("/oauth/token", &form).await
}

/// Signs in through the pages with `extra` parameters and redeems the code as `client`.
pub(crate) async fn sign_in(
    fixture: &Fixture,
    browser: &mut Browser<'_>,
    client: &TestClient,
    extra: &[(&str, &str)],
) -> Value {
    let code = approve(browser, &request(&client.client_id, extra)).await;
    let (status, body) = token_as(
        fixture,
        client,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

/// The claims of an id token after checking its header and signature against `/oauth/jwks`
/// with jsonwebtoken, its issuer and its audience.
pub(crate) async fn verified_claims(fixture: &Fixture, id_token: &str, audience: &str) -> Value {
    let header = jsonwebtoken::decode_header(id_token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("JWT"), "an id token is not typed as an access token");
    let jwks: Value = fixture.http.get(fixture.url("/oauth/jwks")).send().await.unwrap().json().await.unwrap();
    let kid = header.kid.clone().unwrap();
    let jwk = jwks["keys"].as_array().unwrap().iter().find(|key| key["kid"] == kid.as_str()).expect("kid in JWKS");
    let key =
        jsonwebtoken::DecodingKey::from_ec_components(jwk["x"].as_str().unwrap(), jwk["y"].as_str().unwrap()).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.validate_exp = false; // the server runs on a manual clock
    validation.set_audience(&[audience]);
    validation.set_issuer(&[fixture.server.base_url.as_str()]);
    jsonwebtoken::decode::<Value>(id_token, &key, &validation).unwrap().claims
}

fn expected_at_hash(access_token: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest.as_ref()[..16])
}

async fn id_tokens_from_code_password_and_refresh_grants(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let rp = relying_party(&fixture).await;
    let mut browser = Browser::new(&fixture);
    let body = sign_in(&fixture, &mut browser, &rp, &[("scope", "openid profile email"), ("nonce", NONCE)]).await;
    let access_token = str_field(&body, "access_token");
    let claims = verified_claims(&fixture, &str_field(&body, "id_token"), &rp.client_id).await;
    assert_eq!(claims["sub"], fixture.user_id.as_str());
    assert_eq!(
        (claims["aud"].as_str(), claims["azp"].as_str()),
        (Some(rp.client_id.as_str()), Some(rp.client_id.as_str()))
    );
    assert_eq!(claims["nonce"], NONCE, "the nonce is echoed exactly");
    assert_eq!(claims["at_hash"], expected_at_hash(&access_token).as_str());
    assert_eq!(claims["amr"], serde_json::json!(["pwd"]));
    assert!(claims["sid"].as_str().is_some_and(|sid| !sid.is_empty()), "{claims}");
    assert!(claims["auth_time"].as_i64().unwrap() <= claims["iat"].as_i64().unwrap());
    assert!(claims["exp"].as_i64().unwrap() > claims["iat"].as_i64().unwrap());
    assert_eq!(claims["preferred_username"], USERNAME);
    assert_eq!(claims["name"], "Alice Liddell");
    assert_eq!(
        (claims["email"].as_str(), claims["email_verified"].as_bool()),
        (Some("alice@example.test"), Some(true))
    );

    // A refresh of this family: a new id token for the same user and sign-in, without nonce.
    fixture.server.clock.advance(std::time::Duration::from_secs(30));
    let (status, refreshed) = token_as(
        &fixture,
        &rp,
        &[("grant_type", "refresh_token"), ("refresh_token", &str_field(&body, "refresh_token"))],
    )
    .await;
    assert_eq!(status, 200, "{refreshed}");
    let again = verified_claims(&fixture, &str_field(&refreshed, "id_token"), &rp.client_id).await;
    assert_eq!(
        (&again["sub"], &again["auth_time"], &again["sid"]),
        (&claims["sub"], &claims["auth_time"], &claims["sid"])
    );
    assert!(again.get("nonce").is_none(), "{again}");
    assert!(again["iat"].as_i64() > claims["iat"].as_i64());
    assert_eq!(again["at_hash"], expected_at_hash(&str_field(&refreshed, "access_token")).as_str());

    // The password grant: the user authenticated just now, with no browser session.
    let (status, password) = token_as(
        &fixture,
        &rp,
        &[("grant_type", "password"), ("username", USERNAME), ("password", PASSWORD), ("scope", "openid email")],
    )
    .await;
    assert_eq!(status, 200, "{password}");
    let claims = verified_claims(&fixture, &str_field(&password, "id_token"), &rp.client_id).await;
    assert_eq!(claims["auth_time"], claims["iat"]);
    assert!(claims.get("sid").is_none() && claims.get("nonce").is_none(), "{claims}");
    assert!(claims.get("preferred_username").is_none(), "no profile claims without the profile scope: {claims}");
    assert_eq!(claims["email"], "alice@example.test");

    // Without openid, no id token, from any grant.
    let (_, plain) = token_as(
        &fixture,
        &rp,
        &[("grant_type", "password"), ("username", USERNAME), ("password", PASSWORD), ("scope", "read")],
    )
    .await;
    assert!(plain.get("id_token").is_none(), "{plain}");
    let plain = sign_in(&fixture, &mut browser, &rp, &[("scope", "read")]).await;
    assert!(plain.get("id_token").is_none(), "{plain}");
}

async fn userinfo_answers_the_claims_of_the_scope(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let rp = relying_party(&fixture).await;
    let password = |scope: &'static str| {
        let (fixture, rp) = (&fixture, &rp);
        async move {
            let params = [("grant_type", "password"), ("username", USERNAME), ("password", PASSWORD), ("scope", scope)];
            str_field(&token_as(fixture, rp, &params).await.1, "access_token")
        }
    };
    let userinfo = fixture.url("/oauth/userinfo");
    let cases = [
        ("openid", serde_json::json!({"sub": fixture.user_id})),
        (
            "openid profile",
            serde_json::json!({"sub": fixture.user_id, "preferred_username": USERNAME, "name": "Alice Liddell"}),
        ),
        (
            "openid email",
            serde_json::json!({"sub": fixture.user_id, "email": "alice@example.test", "email_verified": true}),
        ),
    ];
    for (scope, expected) in cases {
        let token = password(scope).await;
        let got: Value = fixture.http.get(&userinfo).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
        let mut got_without_time = got.clone();
        if let Some(object) = got_without_time.as_object_mut() {
            assert_eq!(object.remove("updated_at").is_some(), scope.contains("profile"), "{got}");
        }
        assert_eq!(got_without_time, expected, "{scope}");
        // RFC 6750 §2.2: the token in a form body, by POST.
        let posted = fixture.http.post(&userinfo).form(&[("access_token", token.as_str())]).send().await.unwrap();
        assert_eq!(posted.status(), 200);
        assert_eq!(posted.json::<Value>().await.unwrap(), got);
    }

    // Refusals, with the challenges of /api/1.0/users/me.
    let openid = password("openid").await;
    let missing = fixture.http.get(&userinfo).send().await.unwrap();
    assert_eq!(missing.status(), 401);
    assert_eq!(missing.headers()["www-authenticate"], r#"Bearer realm="tessera""#);
    let invalid = fixture.http.get(&userinfo).bearer_auth("not-a-token").send().await.unwrap();
    assert_eq!(invalid.status(), 401);
    assert!(invalid.headers()["www-authenticate"].to_str().unwrap().contains(r#"error="invalid_token""#));
    let twice = fixture
        .http
        .post(&userinfo)
        .bearer_auth(&openid)
        .form(&[("access_token", openid.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(twice.status(), 400);
    assert_eq!(twice.json::<Value>().await.unwrap()["error"], "invalid_request");
    let not_openid = fixture.http.get(&userinfo).bearer_auth(password("read").await).send().await.unwrap();
    assert_eq!(not_openid.status(), 403);
    assert!(not_openid.headers()["www-authenticate"].to_str().unwrap().contains(r#"error="insufficient_scope""#));
}

async fn discovery_adds_the_openid_fields_and_agrees_with_rfc_8414(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let get = |path: &'static str| {
        let fixture = &fixture;
        async move { fixture.http.get(fixture.url(path)).send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let oauth = get("/.well-known/oauth-authorization-server").await;
    let openid = get("/.well-known/openid-configuration").await;
    for (name, value) in oauth.as_object().unwrap() {
        assert_eq!(&openid[name], value, "{name} differs between the two documents");
    }
    let issuer = &fixture.server.base_url;
    assert_eq!(openid["userinfo_endpoint"], format!("{issuer}/oauth/userinfo"));
    assert_eq!(openid["end_session_endpoint"], format!("{issuer}/oauth/logout"));
    assert_eq!(openid["id_token_signing_alg_values_supported"], serde_json::json!(["ES256"]));
    assert_eq!(openid["subject_types_supported"], serde_json::json!(["public"]));
    assert_eq!(openid["response_types_supported"], serde_json::json!(["code"]));
    assert_eq!(openid["response_modes_supported"], serde_json::json!(["query"]));
    assert_eq!(openid["scopes_supported"], serde_json::json!(["openid", "profile", "email"]));
    assert_eq!(openid["prompt_values_supported"], serde_json::json!(["none", "login", "consent", "select_account"]));
    assert_eq!(
        (openid["claims_parameter_supported"].as_bool(), openid["request_parameter_supported"].as_bool()),
        (Some(false), Some(false))
    );
    for claim in ["sub", "preferred_username", "name", "email", "email_verified", "auth_time", "nonce", "at_hash"] {
        assert!(openid["claims_supported"].as_array().unwrap().iter().any(|known| known == claim), "{claim}");
    }
}

on_both_backends!(
    id_tokens_from_code_password_and_refresh_grants,
    userinfo_answers_the_claims_of_the_scope,
    discovery_adds_the_openid_fields_and_agrees_with_rfc_8414,
);
