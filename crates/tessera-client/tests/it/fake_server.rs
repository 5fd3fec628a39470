//! A small in-process token endpoint that behaves like Tessera's (rotation, grace window, reuse
//! detection) and can also do what the real server never does on purpose: refuse a spent token
//! without revoking its family, or publish no metadata.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde_json::json;

use crate::fake_oidc::{self, OidcState, Tamper};

pub const CLIENT_ID: &str = "client-1";
pub const CLIENT_SECRET: &str = "s3cret";
/// `base64("client-1:s3cret")`.
const BASIC_CREDENTIALS: &str = "Basic Y2xpZW50LTE6czNjcmV0";
pub const USERNAME: &str = "alice";
pub const PASSWORD: &str = "wonderland";

#[derive(Debug, Clone, Copy)]
pub struct FakeConfig {
    /// Presenting a spent refresh token again returns the same successor (Tessera's grace window)
    /// instead of counting as reuse.
    pub grace: bool,
    /// Reuse (outside grace) revokes the whole family; otherwise the spent token is only refused.
    pub reuse_revokes_family: bool,
    /// Serve RFC 8414 metadata.
    pub metadata: bool,
    pub expires_in: u64,
    /// The first this many refresh-grant requests are processed (the token rotates) but their
    /// answer is replaced by `lost_answer`, as when the answer is lost on the way back.
    pub lose_refresh_answers: usize,
    pub lost_answer: LostAnswer,
    /// Act as an OpenID provider: id tokens in every token response (see `fake_oidc`), a JWK
    /// set, `scopes_supported` in the metadata, and the authorization-code grant (any code).
    pub openid: bool,
}

/// What the client gets instead of a refresh answer that was lost.
#[derive(Debug, Clone, Copy)]
pub enum LostAnswer {
    /// `502 Bad Gateway` with an HTML page, from a proxy in front of the server.
    BadGateway,
    /// `500` with `{"error":"server_error"}`.
    ServerError,
    /// `200` with a body that is not a token response.
    Garbled,
}

impl Default for FakeConfig {
    fn default() -> Self {
        Self {
            grace: false,
            reuse_revokes_family: true,
            metadata: true,
            expires_in: 3600,
            lose_refresh_answers: 0,
            lost_answer: LostAnswer::BadGateway,
            openid: false,
        }
    }
}

#[derive(Debug, Default)]
struct RefreshRow {
    family: u64,
    successor: Option<String>,
}

#[derive(Debug, Default)]
struct Inner {
    next: u64,
    refresh_tokens: HashMap<String, RefreshRow>,
    revoked_families: Vec<u64>,
    refreshes: usize,
    reuse_detected: usize,
    refresh_requests: usize,
    lost_answers: usize,
    /// The issuer, when the server acts as an OpenID provider.
    openid_issuer: Option<String>,
    oidc: OidcState,
}

impl Inner {
    fn mint(&mut self, prefix: &str) -> String {
        self.next += 1;
        format!("{prefix}{:012}", self.next)
    }

    fn issue(&mut self, family: u64, refresh_token: String, expires_in: u64) -> serde_json::Value {
        self.issue_with_nonce(family, refresh_token, expires_in, None)
    }

    fn issue_with_nonce(
        &mut self,
        family: u64,
        refresh_token: String,
        expires_in: u64,
        nonce: Option<&str>,
    ) -> serde_json::Value {
        let access_token = self.mint("at_");
        self.refresh_tokens.entry(refresh_token.clone()).or_insert(RefreshRow { family, successor: None });
        let mut response = json!({
            "token_type": "Bearer",
            "access_token": access_token,
            "expires_in": expires_in,
            "refresh_token": refresh_token,
            "scope": "read write",
        });
        if let Some(issuer) = &self.openid_issuer {
            response["id_token"] = json!(fake_oidc::id_token(&self.oidc, issuer, CLIENT_ID, nonce, expires_in));
            response["scope"] = json!("openid profile email read write");
        }
        response
    }
}

#[derive(Clone)]
pub struct FakeServer {
    config: FakeConfig,
    inner: Arc<Mutex<Inner>>,
    pub issuer: String,
}

impl FakeServer {
    pub async fn start(config: FakeConfig) -> FakeServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address: SocketAddr = listener.local_addr().unwrap();
        let server = FakeServer { config, inner: Arc::default(), issuer: format!("http://{address}") };
        if config.openid {
            server.lock().openid_issuer = Some(server.issuer.clone());
        }
        let router = Router::new()
            .route("/oauth/token", post(token))
            .route("/oauth/jwks", get(jwks))
            .route("/.well-known/oauth-authorization-server", get(metadata))
            .with_state(server.clone());
        // The task ends with the test's runtime.
        tokio::spawn(async move { axum::serve(listener, router).await });
        server
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap()
    }

    pub fn token_endpoint(&self) -> String {
        format!("{}/oauth/token", self.issuer)
    }

    /// Successful refresh-grant exchanges so far (grace-window replays included).
    pub fn refreshes(&self) -> usize {
        self.lock().refreshes
    }

    pub fn reuse_detected(&self) -> usize {
        self.lock().reuse_detected
    }

    /// Refresh-grant requests received, whatever their outcome.
    pub fn refresh_requests(&self) -> usize {
        self.lock().refresh_requests
    }

    /// Refresh answers replaced by [`FakeConfig::lost_answer`].
    pub fn lost_answers(&self) -> usize {
        self.lock().lost_answers
    }

    /// What the id tokens issued from now on get wrong.
    pub fn tamper(&self, tamper: Tamper) {
        self.lock().oidc.tamper = tamper;
    }

    /// The nonce the next authorization-code grant's id token echoes.
    pub fn expect_nonce(&self, nonce: &str) {
        self.lock().oidc.nonce = Some(nonce.to_owned());
    }

    /// Publishes key `k2` in the JWK set (a key rotation).
    pub fn publish_second_key(&self) {
        self.lock().oidc.second_key_published = true;
    }

    /// Requests for the JWK set so far.
    pub fn jwks_requests(&self) -> usize {
        self.lock().oidc.jwks_requests
    }

    /// The refresh token this one was rotated into, if it was.
    pub fn successor_of(&self, refresh_token: &str) -> Option<String> {
        self.lock().refresh_tokens.get(refresh_token).and_then(|row| row.successor.clone())
    }
}

fn oauth_error(status: StatusCode, error: &str) -> Response {
    (status, Json(json!({ "error": error, "error_description": error }))).into_response()
}

fn lost(answer: LostAnswer) -> Response {
    match answer {
        LostAnswer::BadGateway => (
            StatusCode::BAD_GATEWAY,
            [(header::CONTENT_TYPE, "text/html")],
            "<html><body><h1>502 Bad Gateway</h1></body></html>",
        )
            .into_response(),
        LostAnswer::ServerError => oauth_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error"),
        LostAnswer::Garbled => {
            (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], "{\"access_tok").into_response()
        }
    }
}

fn client_authenticated(headers: &HeaderMap, form: &HashMap<String, String>) -> bool {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .map(|value| value == BASIC_CREDENTIALS);
    let post = form
        .get("client_secret")
        .map(|secret| secret == CLIENT_SECRET && form.get("client_id").map(String::as_str) == Some(CLIENT_ID));
    match (basic, post) {
        (Some(basic), None) => basic,
        (None, Some(post)) => post,
        _ => false,
    }
}

async fn token(
    State(server): State<FakeServer>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let expires_in = server.config.expires_in;
    let mut inner = server.lock();
    let is_refresh = form.get("grant_type").map(String::as_str) == Some("refresh_token");
    if is_refresh {
        inner.refresh_requests += 1;
    }
    if !client_authenticated(&headers, &form) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    let response = grant(&server, &mut inner, &form, expires_in);
    if is_refresh && response.status() == StatusCode::OK && inner.lost_answers < server.config.lose_refresh_answers {
        inner.lost_answers += 1;
        return lost(server.config.lost_answer);
    }
    response
}

fn grant(server: &FakeServer, inner: &mut Inner, form: &HashMap<String, String>, expires_in: u64) -> Response {
    match form.get("grant_type").map(String::as_str) {
        Some("password") => {
            if form.get("username").map(String::as_str) != Some(USERNAME)
                || form.get("password").map(String::as_str) != Some(PASSWORD)
            {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
            }
            inner.next += 1;
            let family = inner.next;
            let refresh_token = inner.mint("tsr_");
            Json(inner.issue(family, refresh_token, expires_in)).into_response()
        }
        Some("authorization_code") if server.config.openid => {
            inner.next += 1;
            let family = inner.next;
            let refresh_token = inner.mint("tsr_");
            let nonce = inner.oidc.nonce.clone();
            Json(inner.issue_with_nonce(family, refresh_token, expires_in, nonce.as_deref())).into_response()
        }
        Some("refresh_token") => {
            let Some(presented) = form.get("refresh_token") else {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
            };
            let Some(row) = inner.refresh_tokens.get(presented) else {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
            };
            let family = row.family;
            let successor = row.successor.clone();
            if inner.revoked_families.contains(&family) {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
            }
            let successor_unused = successor.as_ref().is_some_and(|successor| {
                inner.refresh_tokens.get(successor).is_some_and(|row| row.successor.is_none())
            });
            match successor {
                None => {
                    let successor = inner.mint("tsr_");
                    if let Some(row) = inner.refresh_tokens.get_mut(presented) {
                        row.successor = Some(successor.clone());
                    }
                    inner.refreshes += 1;
                    Json(inner.issue(family, successor, expires_in)).into_response()
                }
                Some(successor) if server.config.grace && successor_unused => {
                    inner.refreshes += 1;
                    Json(inner.issue(family, successor, expires_in)).into_response()
                }
                Some(_) => {
                    inner.reuse_detected += 1;
                    if server.config.reuse_revokes_family {
                        inner.revoked_families.push(family);
                    }
                    oauth_error(StatusCode::BAD_REQUEST, "invalid_grant")
                }
            }
        }
        _ => oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type"),
    }
}

async fn metadata(State(server): State<FakeServer>) -> Response {
    if !server.config.metadata {
        return StatusCode::NOT_FOUND.into_response();
    }
    let issuer = &server.issuer;
    let scopes_supported = if server.config.openid { json!(["openid", "profile", "email"]) } else { json!(null) };
    Json(json!({
        "scopes_supported": scopes_supported,
        "issuer": issuer,
        "token_endpoint": format!("{issuer}/oauth/token"),
        "revocation_endpoint": format!("{issuer}/oauth/revoke"),
        "introspection_endpoint": format!("{issuer}/oauth/introspect"),
        "jwks_uri": format!("{issuer}/oauth/jwks"),
        "authorization_endpoint": format!("{issuer}/oauth/authorize"),
    }))
    .into_response()
}

async fn jwks(State(server): State<FakeServer>) -> Response {
    let mut inner = server.lock();
    inner.oidc.jwks_requests += 1;
    Json(fake_oidc::jwks(&inner.oidc)).into_response()
}
