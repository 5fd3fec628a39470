//! PostgreSQL restarted under refresh load: two `tessera serve` instances on a PostgreSQL
//! server of the test's own, eight chains refreshing. While the database is down every request
//! is answered `503` with `Retry-After` (within the pool's one-second acquire timeout, never
//! the old 30 s wait, never a `500`); once it is back both instances serve again without a
//! restart, and every chain's last acknowledged refresh token still refreshes.

use std::time::{Duration, Instant};

use super::private_postgres::PrivatePostgres;
use super::{ChainLoad, HANG, assert_heads_refresh, assert_only_200_or_503, client_and_user, send, token_request};
use super::{PASSWORD, USERNAME};
use crate::support::{Server, TempDir, Tessera};

const MASTER_KEY: &str = "private-postgres-restart-master-key-0123456789";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarted_under_refresh_load_answers_503_then_recovers() {
    let Some(postgres) = PrivatePostgres::start() else { return };
    let postgres = std::sync::Arc::new(postgres);
    let url = postgres.url();
    let dir = TempDir::new("pg-restart");
    let client = client_and_user(&dir, &url, Some(MASTER_KEY)).await;
    let serve = || {
        Tessera::in_dir(&dir)
            .args(["serve", "--listen", "127.0.0.1:0", "--database-url", &url])
            .env("TESSERA_MASTER_KEY", MASTER_KEY)
    };
    let mut servers = [Server::start(serve()).await, Server::start(serve()).await];
    let logs = servers.each_mut().map(Server::drain_stderr);
    let base_urls: Vec<String> = servers.iter().map(|server| server.base_url.clone()).collect();
    let http = reqwest::Client::new();
    let load = ChainLoad::start(&http, &base_urls, &client, 8).await;
    load.wait_for(200).await;

    let stopping = Instant::now();
    let stopped = postgres.clone();
    tokio::task::spawn_blocking(move || stopped.stop()).await.unwrap();
    let down_at = Instant::now();
    // Requests sent while it is down, each kind that needs the database.
    let mut probes = Vec::new();
    for base_url in &base_urls {
        let form = [("grant_type", "password"), ("username", USERNAME), ("password", PASSWORD)];
        let sent = Instant::now();
        let answer = send(token_request(&http, base_url, &client, &form)).await;
        probes.push((sent.elapsed(), answer));
    }
    let first_503 = tokio::time::timeout(HANG, async {
        loop {
            if let Some(event) = load.seen_after(down_at, 503) {
                return event;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no 503 while PostgreSQL was down: {:?}", load.summary()));
    tokio::time::sleep(Duration::from_secs(3)).await;

    let starting = Instant::now();
    let started = postgres.clone();
    tokio::task::spawn_blocking(move || started.start_again()).await.unwrap();
    let up_at = Instant::now();
    load.wait_for(200).await;
    let recovered = load.seen_after(up_at, 200).expect("a 200 after the restart");
    let recovered_in = recovered.sent.saturating_duration_since(up_at) + recovered.took;
    let summary = load.summary();
    let (heads, events) = load.stop().await;

    for (took, answer) in &probes {
        let answer = answer.as_ref().unwrap_or_else(|| panic!("a password grant got no answer within {HANG:?}"));
        assert_eq!((answer.status, answer.retry_after), (503, true), "password grant while down: {}", answer.body);
        assert_eq!(answer.body["error"], "temporarily_unavailable", "{}", answer.body);
        assert!(*took < HANG);
    }
    assert_only_200_or_503(&events);
    // Sent after the stop and answered before the start began (one sent just before may wait
    // for a connection long enough to be served by the restarted server).
    let down: Vec<_> = events.iter().filter(|e| e.sent >= down_at && e.sent + e.took < starting).collect();
    assert!(down.iter().all(|e| e.answer.as_ref().is_some_and(|a| a.status == 503)), "a refresh succeeded while down");
    let slowest_503 = down.iter().map(|e| e.took).max().unwrap_or_default();
    // Both instances serve again, without a restart, and no acknowledged token was lost.
    let (first_half, second_half) = heads.split_at(heads.len() / 2);
    assert_heads_refresh(&http, &base_urls[0], &client, first_half).await;
    assert_heads_refresh(&http, &base_urls[1], &client, second_half).await;
    super::say(&format!(
        "fault figures: postgres restart: stop took {:?}, start took {:?}; while down {} refreshes, all 503, \
         first 503 after {:?} (slowest {:?}); password grants while down answered 503 in {:?}; first 200 {:?} after \
         the restart; answers by status {summary:?}",
        down_at - stopping,
        up_at - starting,
        down.len(),
        first_503.took,
        slowest_503,
        probes.iter().map(|(took, _)| *took).collect::<Vec<_>>(),
        recovered_in,
    ));
    for server in servers {
        server.stop().await;
    }
    for log in logs {
        let log = log.await.unwrap();
        assert!(!log.contains("internal error"), "the server logged an internal error:\n{log}");
    }
}
