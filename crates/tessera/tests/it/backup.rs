//! `tessera backup FILE` (issue 10, "Nothing lost: backups"): a snapshot taken from a running
//! `tessera serve` under refresh load restores into a server that starts and honours every
//! refresh acknowledged before the snapshot; PostgreSQL is pointed to `pg_dump`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use crate::support::{Server, TempDir, Tessera};

const USERNAME: &str = "alice";
const PASSWORD: &str = "correct horse battery staple";
const CHAINS: usize = 4;

type Client = (String, String);

async fn token(http: &reqwest::Client, server: &Server, client: &Client, form: &[(&str, &str)]) -> (u16, Value) {
    let mut form = form.to_vec();
    form.push(("client_id", &client.0));
    form.push(("client_secret", &client.1));
    let response = http.post(server.url("/oauth/token")).form(&form).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn introspected_active(http: &reqwest::Client, server: &Server, client: &Client, token: &str) -> bool {
    let form = [("token", token), ("client_id", &client.0), ("client_secret", &client.1)];
    let response = http.post(server.url("/oauth/introspect")).form(&form).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    response.json::<Value>().await.unwrap()["active"].as_bool().unwrap()
}

async fn password_grant(http: &reqwest::Client, server: &Server, client: &Client) -> String {
    let form = [("grant_type", "password"), ("username", USERNAME), ("password", PASSWORD)];
    let (status, body) = token(http, server, client, &form).await;
    assert_eq!(status, 200, "{body}");
    body["refresh_token"].as_str().unwrap().to_owned()
}

fn serve(dir: &TempDir) -> Tessera {
    Tessera::in_dir(dir).args(["serve", "--listen", "127.0.0.1:0", "--database-url", &dir.database_url()])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_taken_under_refresh_load_restores_and_every_acknowledged_token_refreshes() {
    let dir = TempDir::new("backup");
    let admin = |args: &[&str]| Tessera::in_dir(&dir).args(args).args(["--database-url", &dir.database_url()]);
    let created = admin(&["client", "create", "--name", "load", "--json"]).run().await.success().json();
    let client: Client =
        (created["client_id"].as_str().unwrap().to_owned(), created["client_secret"].as_str().unwrap().to_owned());
    admin(&["user", "create", "--username", USERNAME, "--password-stdin"]).stdin(PASSWORD).run().await.success();
    let http = reqwest::Client::new();
    let server = Arc::new(Server::start(serve(&dir)).await);

    // A quiet chain, acknowledged before the snapshot and not touched again.
    let quiet = password_grant(&http, &server, &client).await;
    // Busy chains: each refreshes as fast as it can and records every token acknowledged to it.
    let mut histories = Vec::new();
    for _ in 0..CHAINS {
        histories.push(Arc::new(Mutex::new(vec![password_grant(&http, &server, &client).await])));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged = Arc::new(AtomicU64::new(0));
    let mut load = tokio::task::JoinSet::new();
    for history in &histories {
        let (history, server, http, client) = (history.clone(), server.clone(), http.clone(), client.clone());
        let (stop, acknowledged) = (stop.clone(), acknowledged.clone());
        load.spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let presented = history.lock().unwrap().last().unwrap().clone();
                let form = [("grant_type", "refresh_token"), ("refresh_token", presented.as_str())];
                let (status, body) = token(&http, &server, &client, &form).await;
                if status != 200 {
                    return Err(format!("{status} {body}"));
                }
                history.lock().unwrap().push(body["refresh_token"].as_str().unwrap().to_owned());
                acknowledged.fetch_add(1, Ordering::Relaxed);
            }
            Ok(())
        });
    }
    let warm_up = tokio::time::timeout(Duration::from_secs(60), async {
        while acknowledged.load(Ordering::Relaxed) < 40 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    warm_up.await.expect("the load made progress");

    // Every token acknowledged up to here must be in the snapshot.
    let acknowledged_before: Vec<usize> = histories.iter().map(|history| history.lock().unwrap().len() - 1).collect();
    let before_backup = acknowledged.load(Ordering::Relaxed);
    let output = admin(&["backup", "snapshot.db"]).run().await.success();
    eprintln!("refreshes acknowledged while the backup ran: {}", acknowledged.load(Ordering::Relaxed) - before_backup);
    let snapshot = dir.path().join("snapshot.db");
    assert!(output.stdout.contains("snapshot.db"), "{}", output.stdout);
    assert!(output.stdout.contains("t.db.key"), "the master key file is named: {}", output.stdout);
    stop.store(true, Ordering::Relaxed);
    while let Some(result) = load.join_next().await {
        result.unwrap().expect("every refresh was served during the backup");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&snapshot).unwrap().permissions().mode() & 0o777, 0o600);
    }
    Arc::into_inner(server).unwrap().stop().await;

    // Restore as the README says: the snapshot as the database, with its master key file.
    let restored = TempDir::new("backup-restored");
    std::fs::copy(&snapshot, restored.path().join("t.db")).unwrap();
    std::fs::copy(dir.path().join("t.db.key"), restored.path().join("t.db.key")).unwrap();
    let server = Server::start(serve(&restored)).await;

    // Each busy chain has exactly one live token in the snapshot (the snapshot is one
    // consistent moment), and it is no older than the last one acknowledged before the
    // backup began. Introspection reads without spending anything.
    for (chain, history) in histories.iter().enumerate() {
        let history = history.lock().unwrap().clone();
        let from = acknowledged_before[chain];
        let mut live = Vec::new();
        for (index, refresh_token) in history.iter().enumerate().skip(from.saturating_sub(1)) {
            if introspected_active(&http, &server, &client, refresh_token).await {
                live.push(index);
            }
        }
        assert_eq!(live.len(), 1, "chain {chain}: live tokens at {live:?} (acknowledged before: {from})");
        assert!(live[0] >= from, "chain {chain}: the snapshot lost token {from}, it holds {}", live[0]);
        let form = [("grant_type", "refresh_token"), ("refresh_token", history[live[0]].as_str())];
        let (status, body) = token(&http, &server, &client, &form).await;
        assert_eq!(status, 200, "chain {chain}: {body}");
    }
    let form = [("grant_type", "refresh_token"), ("refresh_token", quiet.as_str())];
    let (status, body) = token(&http, &server, &client, &form).await;
    assert_eq!(status, 200, "the quiet chain's token, acknowledged before the snapshot: {body}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_points_postgres_to_pg_dump_and_refuses_what_it_cannot_copy() {
    let dir = TempDir::new("backup-refusals");
    let backup = |url: &str| Tessera::in_dir(&dir).args(["backup", "out.db", "--database-url", url]);
    backup("postgres://postgres@127.0.0.1:5432/test").run().await.assert_one_line_error("pg_dump");
    backup("sqlite::memory:").run().await.assert_one_line_error("in-memory");
    backup(&dir.database_url()).run().await.assert_one_line_error("there is no database");
    assert!(!dir.path().join("out.db").exists());
}
