//! DPoP (RFC 9449) through the token source against the real server (a public client, as
//! `tessera login --dpop` uses): tokens bound to the profile's stored key (`cnf.jkt`), the
//! server's nonce at the token endpoint, a stolen bound refresh token that gets the thief nothing
//! and costs the owner nothing, the key file's mode and its reuse by another process. A small
//! fake resource does what Tessera's API never does: ask for a nonce (§9).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use tessera_client::{
    AccessToken, ApiClient, ClientSettings, CredentialStore, DpopKey, FileStore, ManualClock, MemoryStore, Profile,
    RefreshToken, ResourceOwnerPassword, TokenSet, TokenSource, TokenType, access_token_hash, unix_seconds,
};
use tessera_server::clock::Clock as _;
use tessera_server::config::RawConfig;
use tessera_server::store::CountedTable;
use tessera_testkit::{TestClient, TestServer};

use crate::cross_process::{expire_stored_access_token, spawn_child, wait_child};
use crate::support::{TempDir, source};

const USERNAME: &str = "alice";
const PASSWORD: &str = "correct horse battery staple";

struct Server {
    server: TestServer,
    public: TestClient,
}

impl Server {
    async fn start(config: RawConfig) -> Server {
        let server = TestServer::start(config).await;
        let public = server.client("cli", &[], "read write", true).await;
        server.user(USERNAME, PASSWORD).await;
        Server { server, public }
    }

    /// The public client's settings, discovered, with DPoP on.
    async fn dpop_settings(&self, http: &tessera_client::reqwest::Client) -> ClientSettings {
        let mut settings =
            ClientSettings::discover(http, &self.server.base_url, self.public.client_id.clone(), None).await.unwrap();
        settings.dpop = true;
        settings
    }

    async fn login(&self, source: &TokenSource) -> tessera_client::TokenResponse {
        let settings = self.dpop_settings(source.http_client()).await;
        source.login_with_password(settings, USERNAME, &ResourceOwnerPassword::new(PASSWORD.into())).await.unwrap()
    }

    /// The server's time in Unix seconds, for proofs made by hand.
    fn now(&self) -> u64 {
        self.server.clock.now().secs().try_into().unwrap()
    }

    fn me_url(&self) -> String {
        self.server.url("/api/1.0/users/me")
    }

    async fn me_status(&self, source: &TokenSource) -> u16 {
        let api = ApiClient::new(source.clone());
        api.send(api.get(self.me_url())).await.unwrap().status().as_u16()
    }

    async fn refresh_tokens_issued(&self) -> i64 {
        self.server.store().count_rows(CountedTable::RefreshTokens).await.unwrap()
    }

    /// A refresh of `refresh_token` as a thief sends it: the public client's id, and a proof by
    /// `key` if any. The status and the error JSON.
    async fn refresh_as_thief(&self, refresh_token: &str, key: Option<&DpopKey>) -> (u16, Value) {
        let url = self.server.url("/oauth/token");
        let form =
            [("grant_type", "refresh_token"), ("refresh_token", refresh_token), ("client_id", &self.public.client_id)];
        let mut request = tessera_client::reqwest::Client::new().post(&url).form(&form);
        if let Some(key) = key {
            request = request.header("DPoP", key.proof("POST", &url, self.now(), None, None).unwrap());
        }
        let response = request.send().await.unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }
}

fn decode_part(part: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// A JWT's header and claims, decoded (no signature check: the server checked it).
fn decode_jwt(token: &str) -> (Value, Value) {
    let mut parts = token.split('.').map(decode_part);
    (parts.next().unwrap(), parts.next().unwrap())
}

/// RFC 7638 computed by the server's own rules from the key's public JWK.
fn servers_thumbprint(key: &DpopKey) -> String {
    let header: tessera_core::dpop::ProofHeader =
        serde_json::from_value(json!({ "typ": "dpop+jwt", "alg": "ES256", "jwk": key.public_jwk() })).unwrap();
    tessera_core::dpop::check_header(&header).unwrap().into_string()
}

fn stored(store: &dyn CredentialStore) -> Profile {
    store.load().unwrap().unwrap()
}

#[tokio::test]
async fn a_dpop_login_refresh_and_api_call_bind_every_token_to_the_stored_key() {
    let server = Server::start(RawConfig::default()).await;
    let temp = TempDir::new("dpop-bound");
    let clock = Arc::new(ManualClock::starting_now());
    let store = temp.store();
    let source = source(Arc::new(store.clone()), &clock);

    let response = server.login(&source).await;
    assert_eq!(response.token_type, "DPoP");
    let key = store.dpop_key().unwrap();
    assert_eq!(key.thumbprint(), servers_thumbprint(&key), "the client's RFC 7638 thumbprint is the server's");
    let profile = stored(&store);
    assert!(profile.client.dpop, "the profile remembers it is DPoP-bound");
    assert_eq!(profile.tokens.token_type, TokenType::Dpop);
    let (header, claims) = decode_jwt(profile.tokens.access_token.secret());
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(claims["cnf"], json!({ "jkt": key.thumbprint() }), "{claims}");
    assert_eq!(server.me_status(&source).await, 200);

    // The bound token is refused as a bearer token: the binding is real.
    let bearer = tessera_client::reqwest::Client::new()
        .get(server.me_url())
        .bearer_auth(profile.tokens.access_token.secret())
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), 401);

    let refreshed = source.force_refresh().await.unwrap();
    assert_eq!(refreshed.token_type, "DPoP");
    let (_, claims) = decode_jwt(refreshed.access_token.secret());
    assert_eq!(claims["cnf"]["jkt"], key.thumbprint(), "the refresh proved the same key");
    assert_ne!(refreshed.access_token.secret(), profile.tokens.access_token.secret());
    assert_eq!(server.me_status(&source).await, 200);
    assert_eq!(stored(&store).tokens.token_type, TokenType::Dpop);
}

#[tokio::test]
async fn the_token_endpoints_nonce_is_learned_from_its_refusal_and_used() {
    let server = Server::start(RawConfig { dpop_nonce: Some("on".into()), ..RawConfig::default() }).await;
    // Without the server's nonce, a proof is refused: every exchange below needed the dance.
    let url = server.server.url("/oauth/token");
    let form = [
        ("grant_type", "password"),
        ("username", USERNAME),
        ("password", PASSWORD),
        ("client_id", server.public.client_id.as_str()),
    ];
    let proof = DpopKey::generate().unwrap().proof("POST", &url, server.now(), None, None).unwrap();
    let refused =
        tessera_client::reqwest::Client::new().post(&url).form(&form).header("DPoP", proof).send().await.unwrap();
    assert_eq!(refused.status(), 400);
    assert!(refused.headers().contains_key("dpop-nonce"));
    assert_eq!(refused.json::<Value>().await.unwrap()["error"], "use_dpop_nonce");

    let temp = TempDir::new("dpop-nonce");
    let clock = Arc::new(ManualClock::starting_now());
    let response = server.login(&source(Arc::new(temp.store()), &clock)).await;
    assert_eq!(response.token_type, "DPoP");
    // A new source (another process) knows no nonce yet: its refresh does the dance again.
    let next_process = source(Arc::new(temp.store()), &clock);
    let refreshed = next_process.force_refresh().await.unwrap();
    assert_eq!(refreshed.token_type, "DPoP");
    assert_eq!(server.me_status(&next_process).await, 200);
    // And a source that knows the nonce uses it at once.
    next_process.force_refresh().await.unwrap();
    assert_eq!(server.refresh_tokens_issued().await, 3);
}

#[tokio::test]
async fn a_stolen_dpop_bound_refresh_token_gets_the_thief_nothing_and_costs_the_owner_nothing() {
    let server = Server::start(RawConfig::default()).await;
    let temp = TempDir::new("dpop-stolen");
    let clock = Arc::new(ManualClock::starting_now());
    let store = temp.store();
    let owner = source(Arc::new(store.clone()), &clock);
    server.login(&owner).await;
    let stolen = stored(&store).tokens.refresh_token.unwrap().secret().clone();
    let issued = server.refresh_tokens_issued().await;

    let thief_key = DpopKey::generate().unwrap();
    for (name, key) in [("without a proof", None), ("with the thief's own key", Some(&thief_key))] {
        let (status, body) = server.refresh_as_thief(&stolen, key).await;
        assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{name}: {body}");
        assert!(body.get("access_token").is_none(), "{name}: {body}");
        eprintln!("the thief's refresh {name}: HTTP {status} {body}");
    }
    assert_eq!(server.refresh_tokens_issued().await, issued, "nothing was rotated");

    // The owner still refreshes, with the very token the thief presented, and calls the API.
    let refreshed = owner.force_refresh().await.unwrap();
    assert_eq!(refreshed.token_type, "DPoP");
    assert_eq!(server.me_status(&owner).await, 200);
    owner.force_refresh().await.expect("the family lives on");
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_file_is_private_and_another_process_uses_the_same_key() {
    use std::os::unix::fs::PermissionsExt;
    let server = Server::start(RawConfig::default()).await;
    let temp = TempDir::new("dpop-processes");
    let clock = Arc::new(ManualClock::starting_now());
    let store = temp.store();
    server.login(&source(Arc::new(store.clone()), &clock)).await;
    let key_path = store.dpop_key_path();
    assert_eq!(std::fs::metadata(&key_path).unwrap().permissions().mode() & 0o777, 0o600);
    let pem = std::fs::read_to_string(&key_path).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    assert!(!format!("{:?}", store.dpop_key().unwrap()).contains(pem.lines().nth(1).unwrap()));

    // The child must refresh (bound to the key) and call the API with a proof: both only work
    // with the key this process made.
    expire_stored_access_token(&store);
    let output = wait_child(spawn_child(temp.path(), &server.me_url())).await;
    assert_eq!(output.code, 0, "child failed: {}", output.stderr);
    assert_eq!(std::fs::read_to_string(&key_path).unwrap(), pem, "the child kept the key");
    let (_, claims) = decode_jwt(stored(&store).tokens.access_token.secret());
    assert_eq!(claims["cnf"]["jkt"], store.dpop_key().unwrap().thumbprint());

    // Logging out deletes the key with the tokens.
    source(Arc::new(store.clone()), &clock).logout(tessera_client::LogoutMode::RevokeThenForget).await.unwrap();
    assert!(!key_path.exists());
    assert!(FileStore::in_dir(temp.path().join("tessera"), "default").unwrap().load().unwrap().is_none());
}

/// What the fake resource saw of one request.
#[derive(Debug, Clone)]
struct Seen {
    authorization: String,
    header: Value,
    claims: Value,
}

/// A resource that wants a DPoP token and, on the first request without its nonce, answers
/// `401 use_dpop_nonce` with `DPoP-Nonce` (RFC 9449 §9).
async fn nonce_resource() -> (SocketAddr, Arc<Mutex<Vec<Seen>>>) {
    const NONCE: &str = "resource-nonce-1";
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let app = axum::Router::new().route(
        "/me",
        get(move |headers: HeaderMap| {
            let log = Arc::clone(&log);
            async move {
                let text = |name| headers.get(name).map(|value| value.to_str().unwrap().to_owned()).unwrap_or_default();
                let proof = text(header::HeaderName::from_static("dpop"));
                let (header, claims) = decode_jwt(&proof);
                log.lock().unwrap().push(Seen {
                    authorization: text(header::AUTHORIZATION),
                    header,
                    claims: claims.clone(),
                });
                let response: Response = if claims["nonce"] == NONCE {
                    (StatusCode::OK, "hello").into_response()
                } else {
                    let challenge = r#"DPoP algs="ES256", error="use_dpop_nonce", error_description="nonce required""#;
                    (
                        StatusCode::UNAUTHORIZED,
                        [(header::WWW_AUTHENTICATE, challenge), (header::HeaderName::from_static("dpop-nonce"), NONCE)],
                    )
                        .into_response()
                };
                response
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (address, seen)
}

#[tokio::test]
async fn a_resource_that_asks_for_a_nonce_gets_one_retry_with_it() {
    let (address, seen) = nonce_resource().await;
    let clock = Arc::new(ManualClock::starting_now());
    let now = unix_seconds(tessera_client::Clock::now(clock.as_ref()));
    let mut settings = ClientSettings::new(format!("http://{address}/token"), "cli", None);
    settings.dpop = true;
    let tokens = TokenSet {
        access_token: AccessToken::new("bound-access-token".into()),
        token_type: TokenType::Dpop,
        obtained_at: now,
        expires_at: Some(now + 3600),
        refresh_token: Some(RefreshToken::new("tsr_unused".into())),
        scope: None,
        id_token: None,
    };
    let store = Arc::new(MemoryStore::new(Some(Profile { client: settings, tokens })));
    let source = source(store.clone(), &clock);
    let api = ApiClient::new(source);
    let url = format!("http://{address}/me?page=2");
    let response = api.send(api.get(&url)).await.unwrap();
    assert_eq!(response.status(), 200);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "one refusal, one retry: {seen:?}");
    let key = store.dpop_key().unwrap();
    for (attempt, nonce) in seen.iter().zip([Value::Null, json!("resource-nonce-1")]) {
        assert_eq!(attempt.authorization, "DPoP bound-access-token");
        assert_eq!(attempt.claims["htm"], "GET");
        assert_eq!(attempt.claims["htu"], format!("http://{address}/me"));
        assert_eq!(attempt.claims["ath"], access_token_hash("bound-access-token"));
        assert_eq!(attempt.claims["nonce"], nonce);
        assert_eq!(attempt.header["jwk"], key.public_jwk(), "signed by the profile's key");
    }
    assert_ne!(seen[0].claims["jti"], seen[1].claims["jti"]);
}
