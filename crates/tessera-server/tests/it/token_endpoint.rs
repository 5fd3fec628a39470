//! The token-endpoint rules of DESIGN.md §3, one row per case: status, `error`, headers.

use crate::helpers::{Fixture, PASSWORD, USERNAME, str_field};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use tessera_server::config::RawConfig;
use tessera_server::store::Backend;

/// How a row sends its body. Placeholders: `{id}` `{secret}` the confidential client,
/// `{public}` the public client, `{limited}` a client allowed only the password grant,
/// `{rt}` a fresh refresh token of the confidential client, `{user}` `{password}`.
enum Body {
    Form(&'static str),
    Json(&'static str),
    Raw(&'static str, &'static str),
}

enum Auth {
    None,
    /// `Authorization: Basic base64(id:secret)` with placeholders.
    Basic(&'static str),
    /// A literal Authorization header value.
    Header(&'static str),
}

struct Row {
    name: &'static str,
    auth: Auth,
    body: Body,
    status: u16,
    /// `None`: success, with tokens.
    error: Option<&'static str>,
    /// `WWW-Authenticate: Basic realm="tessera"` expected.
    basic_challenge: bool,
}

const fn ok(name: &'static str, auth: Auth, body: Body) -> Row {
    Row { name, auth, body, status: 200, error: None, basic_challenge: false }
}

const fn err(name: &'static str, auth: Auth, body: Body, status: u16, error: &'static str) -> Row {
    Row { name, auth, body, status, error: Some(error), basic_challenge: false }
}

const fn challenge(name: &'static str, auth: Auth, body: Body) -> Row {
    Row { name, auth, body, status: 401, error: Some("invalid_client"), basic_challenge: true }
}

use Auth::{Basic, Header};
use Body::{Form, Json, Raw};

#[rustfmt::skip]
const ROWS: &[Row] = &[
    // The guide's four ways of calling the endpoint.
    ok("password, client_secret_post, form", Auth::None, Form("grant_type=password&username={user}&password={password}&client_id={id}&client_secret={secret}")),
    ok("password, JSON body (axios)", Auth::None, Json(r#"{"grant_type":"password","username":"{user}","password":"{password}","client_id":"{id}","client_secret":"{secret}"}"#)),
    ok("password, client_secret_basic (Postman)", Basic("{id}:{secret}"), Form("grant_type=password&username={user}&password={password}")),
    ok("refresh, client_secret_post, form", Auth::None, Form("grant_type=refresh_token&refresh_token={rt}&client_id={id}&client_secret={secret}")),
    ok("refresh, JSON body", Auth::None, Json(r#"{"grant_type":"refresh_token","refresh_token":"{rt}","client_id":"{id}","client_secret":"{secret}"}"#)),
    ok("refresh, Basic", Basic("{id}:{secret}"), Form("grant_type=refresh_token&refresh_token={rt}")),
    ok("refresh, Basic plus the same client_id in the body", Basic("{id}:{secret}"), Form("grant_type=refresh_token&refresh_token={rt}&client_id={id}")),
    ok("public client, no secret", Auth::None, Form("grant_type=password&username={user}&password={password}&client_id={public}")),
    ok("unknown parameters are ignored", Auth::None, Form("grant_type=password&username={user}&password={password}&client_id={id}&client_secret={secret}&color=blue")),
    ok("content type with charset", Auth::None, Raw("application/x-www-form-urlencoded; charset=UTF-8", "grant_type=password&username={user}&password={password}&client_id={id}&client_secret={secret}")),
    ok("JSON with charset", Auth::None, Raw("application/json; charset=utf-8", r#"{"grant_type":"password","username":"{user}","password":"{password}","client_id":"{id}","client_secret":"{secret}"}"#)),
    ok("narrower scope on password grant", Auth::None, Form("grant_type=password&username={user}&password={password}&scope=read&client_id={id}&client_secret={secret}")),
    // Malformed requests.
    err("missing grant_type", Auth::None, Form("username={user}&password={password}&client_id={id}&client_secret={secret}"), 400, "invalid_request"),
    err("empty body", Auth::None, Form(""), 400, "invalid_request"),
    err("unknown grant_type", Auth::None, Form("grant_type=magic&client_id={id}&client_secret={secret}"), 400, "unsupported_grant_type"),
    err("grant_type sent twice", Auth::None, Form("grant_type=password&grant_type=password&username={user}&password={password}&client_id={id}&client_secret={secret}"), 400, "invalid_request"),
    err("client_id sent twice", Auth::None, Form("grant_type=password&username={user}&password={password}&client_id={id}&client_id={id}&client_secret={secret}"), 400, "invalid_request"),
    err("key repeated in JSON", Auth::None, Json(r#"{"grant_type":"password","grant_type":"password","username":"{user}","password":"{password}","client_id":"{id}","client_secret":"{secret}"}"#), 400, "invalid_request"),
    err("malformed JSON", Auth::None, Json(r#"{"grant_type":"password","#), 400, "invalid_request"),
    err("JSON array body", Auth::None, Json(r#"["grant_type","password"]"#), 400, "invalid_request"),
    err("JSON value that is an object", Auth::None, Json(r#"{"grant_type":{"x":1},"client_id":"{id}","client_secret":"{secret}"}"#), 400, "invalid_request"),
    err("unsupported content type", Auth::None, Raw("text/plain", "grant_type=password"), 400, "invalid_request"),
    err("missing username", Auth::None, Form("grant_type=password&password={password}&client_id={id}&client_secret={secret}"), 400, "invalid_request"),
    err("missing password", Auth::None, Form("grant_type=password&username={user}&client_id={id}&client_secret={secret}"), 400, "invalid_request"),
    err("missing refresh_token", Auth::None, Form("grant_type=refresh_token&client_id={id}&client_secret={secret}"), 400, "invalid_request"),
    err("NUL in client_id", Auth::None, Form("grant_type=password&username={user}&password={password}&client_id=%00&client_secret={secret}"), 400, "invalid_request"),
    err("NUL in username", Auth::None, Form("grant_type=password&username=al%00ice&password={password}&client_id={id}&client_secret={secret}"), 400, "invalid_request"),
    err("NUL in a JSON value", Auth::None, Json(r#"{"grant_type":"refresh_token","refresh_token":"tsr_\u0000","client_id":"{id}","client_secret":"{secret}"}"#), 400, "invalid_request"),
    challenge("NUL in Basic client id", Header("Basic YSUwMGI6Yw=="), Form("grant_type=password&username={user}&password={password}")),
    err("empty refresh_token counts as missing", Auth::None, Form("grant_type=refresh_token&refresh_token=&client_id={id}&client_secret={secret}"), 400, "invalid_request"),
    // Client authentication.
    err("Basic and client_secret together", Basic("{id}:{secret}"), Form("grant_type=password&username={user}&password={password}&client_secret={secret}"), 400, "invalid_request"),
    err("Basic and a different client_id", Basic("{id}:{secret}"), Form("grant_type=password&username={user}&password={password}&client_id={public}"), 400, "invalid_request"),
    err("no client authentication", Auth::None, Form("grant_type=password&username={user}&password={password}"), 401, "invalid_client"),
    err("wrong secret, post", Auth::None, Form("grant_type=password&username={user}&password={password}&client_id={id}&client_secret=tsc_wrong"), 401, "invalid_client"),
    err("unknown client, post", Auth::None, Form("grant_type=password&username={user}&password={password}&client_id=nobody&client_secret={secret}"), 401, "invalid_client"),
    err("confidential client without its secret", Auth::None, Form("grant_type=password&username={user}&password={password}&client_id={id}"), 401, "invalid_client"),
    err("public client sending a secret", Auth::None, Form("grant_type=password&username={user}&password={password}&client_id={public}&client_secret=anything"), 401, "invalid_client"),
    challenge("wrong secret, Basic", Basic("{id}:tsc_wrong"), Form("grant_type=password&username={user}&password={password}")),
    challenge("unknown client, Basic", Basic("nobody:{secret}"), Form("grant_type=password&username={user}&password={password}")),
    challenge("malformed Basic", Header("Basic %%%not-base64"), Form("grant_type=password&username={user}&password={password}")),
    err("a Bearer header is not client authentication", Header("Bearer abc"), Form("grant_type=password&username={user}&password={password}"), 401, "invalid_client"),
    // Grants.
    err("wrong password", Auth::None, Form("grant_type=password&username={user}&password=wrong&client_id={id}&client_secret={secret}"), 400, "invalid_grant"),
    err("unknown user", Auth::None, Form("grant_type=password&username=mallory&password={password}&client_id={id}&client_secret={secret}"), 400, "invalid_grant"),
    err("unknown refresh token", Auth::None, Form("grant_type=refresh_token&refresh_token=tsr_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA&client_id={id}&client_secret={secret}"), 400, "invalid_grant"),
    err("refresh token of another client", Auth::None, Form("grant_type=refresh_token&refresh_token={rt}&client_id={public}"), 400, "invalid_grant"),
    err("scope wider than the client's", Auth::None, Form("grant_type=password&username={user}&password={password}&scope=admin&client_id={id}&client_secret={secret}"), 400, "invalid_scope"),
    err("scope with a forbidden character", Auth::None, Form("grant_type=password&username={user}&password={password}&scope=%22read%22&client_id={id}&client_secret={secret}"), 400, "invalid_scope"),
    err("refresh asking a wider scope", Auth::None, Form("grant_type=refresh_token&refresh_token={rt}&scope=read%20admin&client_id={id}&client_secret={secret}"), 400, "invalid_scope"),
    err("grant the client may not use", Auth::None, Form("grant_type=refresh_token&refresh_token={rt}&client_id={limited}&client_secret={limited_secret}"), 400, "unauthorized_client"),
    err("client_credentials not allowed for this client", Auth::None, Form("grant_type=client_credentials&client_id={id}&client_secret={secret}"), 400, "unauthorized_client"),
    err("unknown authorization code", Auth::None, Form("grant_type=authorization_code&code=abc&client_id={id}&client_secret={secret}"), 400, "invalid_grant"),
    err("authorization_code without code", Auth::None, Form("grant_type=authorization_code&client_id={id}&client_secret={secret}"), 400, "invalid_request"),
];

async fn token_endpoint_table(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let limited = fixture.server.client("limited", &["password"], "read", false).await;
    let mut failures = Vec::new();
    for row in ROWS {
        let (_, refresh_token) = fixture.login().await;
        let fill = |text: &str| {
            text.replace("{id}", &fixture.app.client_id)
                .replace("{secret}", fixture.secret())
                .replace("{public}", &fixture.public.client_id)
                .replace("{limited_secret}", limited.client_secret.as_deref().unwrap_or_default())
                .replace("{limited}", &limited.client_id)
                .replace("{rt}", &refresh_token)
                .replace("{user}", USERNAME)
                .replace("{password}", &PASSWORD.replace(' ', "%20"))
        };
        let mut request = fixture.http.post(fixture.url("/oauth/token"));
        request = match &row.auth {
            Auth::None => request,
            Basic(credentials) => {
                request.header("Authorization", format!("Basic {}", STANDARD.encode(fill(credentials))))
            }
            Header(value) => request.header("Authorization", *value),
        };
        request = match &row.body {
            Form(text) => request.header("Content-Type", "application/x-www-form-urlencoded").body(fill(text)),
            Json(text) => request.header("Content-Type", "application/json").body(fill(text).replace("%20", " ")),
            Raw(content_type, text) => {
                let body = if content_type.contains("json") { fill(text).replace("%20", " ") } else { fill(text) };
                request.header("Content-Type", *content_type).body(body)
            }
        };
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body: serde_json::Value = response.json().await.unwrap_or(serde_json::Value::Null);
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        let mut problems = Vec::new();
        if status != row.status {
            problems.push(format!("status {status}, want {}", row.status));
        }
        if header("cache-control") != "no-store" || header("pragma") != "no-cache" {
            problems.push("missing Cache-Control: no-store / Pragma: no-cache".into());
        }
        if !header("content-type").starts_with("application/json") {
            problems.push(format!("content-type {:?}", header("content-type")));
        }
        match row.error {
            Some(code) => {
                if body["error"] != code {
                    problems.push(format!("error {}, want {code}", body["error"]));
                }
                if !body["error_description"].is_string() {
                    problems.push("no error_description".into());
                }
            }
            None => {
                if body["token_type"] != "Bearer" || !body["access_token"].is_string() || !body["expires_in"].is_u64() {
                    problems.push(format!("not a token response: {body}"));
                }
                if !body["refresh_token"].as_str().is_some_and(|t| t.starts_with("tsr_") && t.len() == 47) {
                    problems.push(format!("refresh_token is not tsr_ + 43: {body}"));
                }
            }
        }
        let challenge = header("www-authenticate");
        if row.basic_challenge && challenge != r#"Basic realm="tessera""# {
            problems.push(format!("WWW-Authenticate {challenge:?}, want Basic realm"));
        }
        if !row.basic_challenge && !challenge.is_empty() {
            problems.push(format!("unexpected WWW-Authenticate {challenge:?}"));
        }
        let text = body.to_string();
        if text.contains(fixture.secret()) || text.contains(&refresh_token) || text.contains("correct horse") {
            problems.push("the response echoes a secret".into());
        }
        if !problems.is_empty() {
            failures.push(format!("{}: {} — body {body}", row.name, problems.join("; ")));
        }
    }
    assert!(failures.is_empty(), "{} of {} rows failed:\n{}", failures.len(), ROWS.len(), failures.join("\n"));
}

async fn narrower_scope_on_refresh_narrows_only_the_access_token(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let (_, refresh_token) = fixture.login().await;
    let (status, body) =
        fixture.token(&[("grant_type", "refresh_token"), ("refresh_token", &refresh_token), ("scope", "read")]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "read");
    // The family keeps its original grant: the next refresh without `scope` gets it all back.
    let (status, body) = fixture.refresh(&str_field(&body, "refresh_token")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "read write");
}

async fn refresh_token_of_another_client_is_refused_and_not_consumed(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let (_, refresh_token) = fixture.login().await;
    let other_secret = fixture.other.client_secret.clone().unwrap_or_default();
    let (status, body) = fixture
        .post_form(
            "/oauth/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh_token),
                ("client_id", &fixture.other.client_id),
                ("client_secret", &other_secret),
            ],
        )
        .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    let (status, body) = fixture.refresh(&refresh_token).await;
    assert_eq!(status, 200, "the rightful client can still use it: {body}");
}

async fn client_credentials_grant_issues_an_access_token_only(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    let service = fixture.server.client("service", &["client_credentials"], "read", false).await;
    let secret = service.client_secret.clone().unwrap_or_default();
    let (status, body) = fixture
        .post_form(
            "/oauth/token",
            &[("grant_type", "client_credentials"), ("client_id", &service.client_id), ("client_secret", &secret)],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["refresh_token"].is_null(), "RFC 6749 §4.4.3: no refresh token: {body}");
    assert_eq!(body["scope"], "read");
    // The token acts for a client, not a user: /users/me answers 403 insufficient_scope.
    let response = fixture.me(&str_field(&body, "access_token")).await;
    assert_eq!(response.status(), 403);
    let challenge = response.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(challenge.contains("error=\"insufficient_scope\""), "{challenge}");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "insufficient_scope");
}

on_both_backends!(
    token_endpoint_table,
    narrower_scope_on_refresh_narrows_only_the_access_token,
    refresh_token_of_another_client_is_refused_and_not_consumed,
    client_credentials_grant_issues_an_access_token_only,
    password_guessing_is_throttled_per_username,
);

async fn password_guessing_is_throttled_per_username(backend: Backend) {
    let fixture = Fixture::on(backend, RawConfig::default()).await;
    fixture.server.user("bob", "bob's password").await;
    let attempt = |username: &'static str, password: &'static str| {
        let fixture = &fixture;
        async move { fixture.token(&[("grant_type", "password"), ("username", username), ("password", password)]).await }
    };
    // Nine failures, then the right password: it works, and the count starts again.
    for _ in 0..9 {
        assert_eq!(attempt(USERNAME, "guess").await.0, 400);
    }
    assert_eq!(attempt(USERNAME, PASSWORD).await.0, 200);
    // Ten failures in the window: the username is refused, even with the right password.
    for _ in 0..10 {
        let (_, body) = attempt(USERNAME, "guess").await;
        assert!(body["error_description"].as_str().unwrap().contains("incorrect"), "{body}");
    }
    let (status, body) = attempt(USERNAME, PASSWORD).await;
    assert_eq!((status, body["error"].as_str()), (429, Some("invalid_grant")), "{body}");
    assert!(body["error_description"].as_str().unwrap().contains("too many"), "{body}");
    // Other users are not affected; after the window the user can sign in again.
    assert_eq!(attempt("bob", "bob's password").await.0, 200);
    fixture.server.clock.advance(std::time::Duration::from_secs(15 * 60 + 1));
    assert_eq!(attempt(USERNAME, PASSWORD).await.0, 200);
}
