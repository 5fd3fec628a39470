//! The document against real answers: responses of every JSON endpoint, successes and
//! refusals, each checked by `check_responses.py` (Python `jsonschema`, independent of
//! Tessera's code) against the schema documented for its path, method and status, fields the
//! schema does not name included.

use super::served_document;
use crate::helpers::{Fixture, PASSWORD, USERNAME, str_field};
use crate::oidc::relying_party;
use reqwest::RequestBuilder;
use serde_json::{Value, json};
use tokio::process::Command;

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// The answers collected, as `check_responses.py` reads them.
#[derive(Default)]
struct Samples(Vec<Value>);

impl Samples {
    /// Sends `request` (to `method` `path`) and keeps its answer; returns the body.
    async fn record(&mut self, method: &str, path: &str, request: RequestBuilder) -> Value {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        self.0.push(json!({ "method": method, "path": path, "status": status, "body": body.clone() }));
        body
    }
}

#[tokio::test]
async fn responses_match_their_documented_schemas() {
    let fixture = Fixture::start().await;
    let (http, url) = (&fixture.http, |path: &str| fixture.url(path));
    let (app, secret) = (&fixture.app.client_id, fixture.secret());
    let service = fixture.server.client("service", &["client_credentials"], "read", false).await;
    let tv = fixture.server.client("tv", &[DEVICE_GRANT], "read", true).await;
    let rp = relying_party(&fixture).await;
    let mut samples = Samples::default();
    let token = |client: &str, secret: &str| http.post(url("/oauth/token")).basic_auth(client, Some(secret));

    let password = [("grant_type", "password"), ("username", USERNAME), ("password", PASSWORD)];
    let tokens = samples.record("post", "/oauth/token", token(app, secret).form(&password)).await;
    let refresh = json!({ "grant_type": "refresh_token", "refresh_token": str_field(&tokens, "refresh_token") });
    let tokens = samples.record("post", "/oauth/token", token(app, secret).json(&refresh)).await;
    let access_token = str_field(&tokens, "access_token");
    let spent = [("grant_type", "refresh_token"), ("refresh_token", "tsr_nothing")];
    samples.record("post", "/oauth/token", token(app, secret).form(&spent)).await;
    samples.record("post", "/oauth/token", token(app, "wrong").form(&password)).await;
    let large = "x".repeat(10_000);
    samples.record("post", "/oauth/token", token(app, secret).form(&[("grant_type", large.as_str())])).await;
    let service_secret = service.client_secret.as_deref().unwrap();
    let own = [("grant_type", "client_credentials")];
    let client_token =
        samples.record("post", "/oauth/token", token(&service.client_id, service_secret).form(&own)).await;

    let me = |token: &str| http.get(url("/api/1.0/users/me")).bearer_auth(token);
    samples.record("get", "/api/1.0/users/me", me(&access_token)).await;
    samples.record("get", "/api/1.0/users/me", http.get(url("/api/1.0/users/me"))).await;
    samples.record("get", "/api/1.0/users/me", me(&str_field(&client_token, "access_token"))).await;

    let introspect = |token: &str| {
        http.post(url("/oauth/introspect")).basic_auth(app, Some(secret)).form(&[("token", token.to_owned())])
    };
    samples.record("post", "/oauth/introspect", introspect(&access_token)).await;
    samples.record("post", "/oauth/introspect", introspect(&str_field(&tokens, "refresh_token"))).await;
    samples.record("post", "/oauth/introspect", introspect("nothing")).await;
    let revoke = http.post(url("/oauth/revoke")).basic_auth(app, Some(secret)).form(&[("token_type_hint", "x")]);
    samples.record("post", "/oauth/revoke", revoke).await;

    for path in ["/oauth/jwks", "/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"] {
        samples.record("get", path, http.get(url(path))).await;
    }

    let device = http.post(url("/oauth/device_authorization")).form(&[("client_id", &tv.client_id)]);
    let device = samples.record("post", "/oauth/device_authorization", device).await;
    let device_code = str_field(&device, "device_code");
    let poll = [("grant_type", DEVICE_GRANT), ("device_code", &device_code), ("client_id", &tv.client_id)];
    samples.record("post", "/oauth/token", http.post(url("/oauth/token")).form(&poll)).await;

    let rp_secret = rp.client_secret.as_deref().unwrap();
    let openid = [password.as_slice(), &[("scope", "openid profile email")]].concat();
    let signed_in = samples.record("post", "/oauth/token", token(&rp.client_id, rp_secret).form(&openid)).await;
    let userinfo = |token: &str| http.get(url("/oauth/userinfo")).bearer_auth(token);
    samples.record("get", "/oauth/userinfo", userinfo(&str_field(&signed_in, "access_token"))).await;
    samples.record("get", "/oauth/userinfo", userinfo(&access_token)).await;
    let form = http.post(url("/oauth/userinfo")).form(&[("access_token", str_field(&signed_in, "access_token"))]);
    samples.record("post", "/oauth/userinfo", form).await;

    let directory = &fixture.server.directory;
    let (document_path, samples_path) = (directory.join("openapi.json"), directory.join("samples.json"));
    std::fs::write(&document_path, serde_json::to_vec(&served_document(&fixture).await).unwrap()).unwrap();
    std::fs::write(&samples_path, serde_json::to_vec(&samples.0).unwrap()).unwrap();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/openapi/check_responses.py");
    let output = Command::new("python3").arg(script).arg(&document_path).arg(&samples_path).output().await.unwrap();
    let printed = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "responses the document does not describe:\n{printed}");
    assert!(printed.contains(&format!("{} responses checked, 0 mismatches", samples.0.len())), "{printed}");
}
