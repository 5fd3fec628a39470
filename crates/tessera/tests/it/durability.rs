//! What the store promises across a crash: `tessera serve` under refresh load on several
//! chains is killed with SIGKILL, restarted on the same database, and every chain's last
//! acknowledged refresh token still refreshes (a 200 is only sent after the commit that holds
//! it). And a database made by an earlier release (the sqlx store) opens and keeps every
//! client, user, key and live token.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tessera_testkit::TestDatabase;

use crate::support::{Server, TempDir, Tessera};

const USERNAME: &str = "alice";
const PASSWORD: &str = "correct horse battery staple";
const CHAINS: usize = 8;

/// A token request; `None` if no answer came (the server died).
async fn try_token(
    http: &reqwest::Client,
    server: &Server,
    client: &(String, String),
    form: &[(&str, &str)],
) -> Option<(u16, Value)> {
    let mut form = form.to_vec();
    form.push(("client_id", &client.0));
    form.push(("client_secret", &client.1));
    let response = http.post(server.url("/oauth/token")).form(&form).send().await.ok()?;
    let status = response.status().as_u16();
    Some((status, response.json().await.ok()?))
}

async fn token(
    http: &reqwest::Client,
    server: &Server,
    client: &(String, String),
    form: &[(&str, &str)],
) -> (u16, Value) {
    try_token(http, server, client, form).await.expect("an answer from the server")
}

fn serve(dir: &TempDir, url: &str) -> Tessera {
    Tessera::in_dir(dir).args(["serve", "--listen", "127.0.0.1:0", "--database-url", url])
}

async fn last_acknowledged_refresh_tokens_survive_kill_9(database_url: &str, dir: &TempDir, master_key: Option<&str>) {
    let with_key = |tessera: Tessera| match master_key {
        Some(key) => tessera.env("TESSERA_MASTER_KEY", key),
        None => tessera,
    };
    let admin = |args: &[&str]| with_key(Tessera::in_dir(dir).args(args).args(["--database-url", database_url]));
    let created = admin(&["client", "create", "--name", "load", "--json"]).run().await.success().json();
    let client =
        (created["client_id"].as_str().unwrap().to_owned(), created["client_secret"].as_str().unwrap().to_owned());
    admin(&["user", "create", "--username", USERNAME, "--password-stdin"]).stdin(PASSWORD).run().await.success();

    let http = reqwest::Client::new();
    let server = Server::start(with_key(serve(dir, database_url))).await;
    let mut heads = Vec::new();
    for _ in 0..CHAINS {
        let (status, body) = token(
            &http,
            &server,
            &client,
            &[("grant_type", "password"), ("username", USERNAME), ("password", PASSWORD)],
        )
        .await;
        assert_eq!(status, 200, "{body}");
        heads.push(Arc::new(Mutex::new(body["refresh_token"].as_str().unwrap().to_owned())));
    }
    // Every chain refreshes as fast as it can; each 200 moves the chain's head.
    let server = Arc::new(server);
    let acknowledged = Arc::new(AtomicU64::new(0));
    let mut load = tokio::task::JoinSet::new();
    for head in &heads {
        let (head, server, http, client) = (head.clone(), server.clone(), http.clone(), client.clone());
        let acknowledged = acknowledged.clone();
        load.spawn(async move {
            let mut refreshes = 0u64;
            loop {
                let presented = head.lock().unwrap().clone();
                let form = [("grant_type", "refresh_token"), ("refresh_token", presented.as_str())];
                match tokio::time::timeout(Duration::from_secs(10), try_token(&http, &server, &client, &form)).await {
                    Ok(Some((200, body))) => {
                        *head.lock().unwrap() = body["refresh_token"].as_str().unwrap().to_owned();
                        refreshes += 1;
                        acknowledged.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => return refreshes,
                }
            }
        });
    }
    // Load runs until enough refreshes were acknowledged, then the server dies mid-flight.
    let progress = tokio::time::timeout(Duration::from_secs(60), async {
        while acknowledged.load(Ordering::Relaxed) < 300 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    let _ = progress.await;
    server.kill_9().await;
    let mut total = 0;
    while let Some(refreshes) = load.join_next().await {
        total += refreshes.unwrap();
    }
    assert!(total >= CHAINS as u64, "the load made progress before the kill ({total} refreshes)");

    let server = Server::start(with_key(serve(dir, database_url))).await;
    for head in &heads {
        let presented = head.lock().unwrap().clone();
        let (status, body) =
            token(&http, &server, &client, &[("grant_type", "refresh_token"), ("refresh_token", &presented)]).await;
        assert_eq!(status, 200, "the last acknowledged refresh token of a chain was lost: {body}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_keeps_every_acknowledged_refresh_across_kill_9() {
    let dir = TempDir::new("crash-sqlite");
    last_acknowledged_refresh_tokens_survive_kill_9(&dir.database_url(), &dir, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_keeps_every_acknowledged_refresh_across_kill_9() {
    let Some(database) = TestDatabase::on(
        tessera_server::store::Backend::Postgres,
        "postgres_keeps_every_acknowledged_refresh_across_kill_9",
    )
    .await
    else {
        return;
    };
    let dir = TempDir::new("crash-postgres");
    let key = "crash-test-master-key-0123456789abcdef";
    last_acknowledged_refresh_tokens_survive_kill_9(&database.url, &dir, Some(key)).await;
}

/// `tests/fixtures/sqlx-era/tessera.db` was made by the release before the rusqlite store
/// (see `fixture.json` beside it): its clients, users, signing key, personal access token and
/// live refresh tokens all still work, and its migration history needs nothing applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_from_the_sqlx_release_keeps_everything() {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sqlx-era");
    let fixture: Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures.join("fixture.json")).unwrap()).unwrap();
    let field = |name: &str| fixture[name].as_str().unwrap().to_owned();
    let dir = TempDir::new("sqlx-era");
    std::fs::copy(fixtures.join("tessera.db"), dir.path().join("t.db")).unwrap();
    let key = field("master_key");

    let migrate = Tessera::in_dir(&dir)
        .args(["migrate", "--database-url", &dir.database_url()])
        .env("TESSERA_MASTER_KEY", &key)
        .run()
        .await
        .success();
    assert_eq!(migrate.stdout.trim(), "database sqlite is up to date");

    let server = Server::start(serve(&dir, &dir.database_url()).env("TESSERA_MASTER_KEY", &key)).await;
    let http = reqwest::Client::new();
    let client = (field("client_id"), field("client_secret"));

    // The signing key made by the old release is still published and still signs.
    let jwks: Value = http.get(server.url("/oauth/jwks")).send().await.unwrap().json().await.unwrap();
    let published: Vec<&str> = jwks["keys"].as_array().unwrap().iter().filter_map(|key| key["kid"].as_str()).collect();
    let old_kid = fixture["kids"][0].as_str().unwrap();
    assert!(published.contains(&old_kid), "{jwks}");

    let me = |access_token: String| {
        let request = http.get(server.url("/api/1.0/users/me")).bearer_auth(access_token);
        async move { request.send().await.unwrap().status().as_u16() }
    };
    // Every live refresh token refreshes, and its new access token is accepted.
    for refresh_token in fixture["live_refresh_tokens"].as_array().unwrap() {
        let form = [("grant_type", "refresh_token"), ("refresh_token", refresh_token.as_str().unwrap())];
        let (status, body) = token(&http, &server, &client, &form).await;
        assert_eq!(status, 200, "{body}");
        let access_token = body["access_token"].as_str().unwrap().to_owned();
        let header = access_token.split('.').next().unwrap();
        let header: Value = serde_json::from_slice(&base64_url_decode(header)).unwrap();
        assert_eq!(header["kid"], old_kid, "signed with the key the old release made");
        assert_eq!(me(access_token).await, 200);
    }
    // The user's password and the client's secret are as they were.
    let form = [("grant_type", "password"), ("username", &field("username")[..]), ("password", &field("password")[..])];
    let (status, body) = token(&http, &server, &client, &form).await;
    assert_eq!(status, 200, "{body}");
    // The personal access token still works.
    assert_eq!(me(field("pat")).await, 200);
    // Reuse evidence is kept: the spent token is refused (its family is revoked).
    let form = [("grant_type", "refresh_token"), ("refresh_token", &field("spent_refresh_token")[..])];
    let (status, body) = token(&http, &server, &client, &form).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    server.stop().await;
}

fn base64_url_decode(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text).unwrap()
}
