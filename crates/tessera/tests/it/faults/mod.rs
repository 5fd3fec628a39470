//! Faults under load, against the real binary (bounded in time, loopback only): PostgreSQL
//! restarted under refresh load (`postgres_restart`, on a server of the test's own,
//! `private_postgres`), a full disk under SQLite (`full_disk`, a small tmpfs), and a soak of
//! mixed load with the janitor at a short interval (`soak`). The refresh load they share is
//! here: chains that refresh as fast as they can and remember their last acknowledged token.
//!
//! Each test prints its figures (time to 503, time to recover, RSS and row counts) on stderr
//! as `fault figures: …`, and says `SKIPPED: …` where it cannot run here; both are written past
//! libtest's capture, so they show in every run.

mod full_disk;
mod postgres_restart;
mod private_postgres;
mod soak;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{TempDir, Tessera};

pub const USERNAME: &str = "alice";
pub const PASSWORD: &str = "correct horse battery staple";

/// How long one request may take before the test calls it a hang. Far above any honest
/// answer (a 503 comes within about a second), far below the pool's old 30 s acquire wait.
pub const HANG: Duration = Duration::from_secs(10);

/// Writes a line to stderr past libtest's capture (which takes `eprintln!` only).
pub fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// A confidential client `(id, secret)` and the user `alice`, made with the admin CLI.
pub async fn client_and_user(dir: &TempDir, database_url: &str, master_key: Option<&str>) -> (String, String) {
    let admin = |args: &[&str]| {
        let tessera = Tessera::in_dir(dir).args(args).args(["--database-url", database_url]);
        match master_key {
            Some(key) => tessera.env("TESSERA_MASTER_KEY", key),
            None => tessera,
        }
    };
    let created = admin(&["client", "create", "--name", "load", "--json"]).run().await.success().json();
    admin(&["user", "create", "--username", USERNAME, "--password-stdin"]).stdin(PASSWORD).run().await.success();
    (created["client_id"].as_str().unwrap().to_owned(), created["client_secret"].as_str().unwrap().to_owned())
}

/// One answer: its status, whether it carried `Retry-After`, and its JSON body (`Null` if none).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub retry_after: bool,
    pub body: Value,
}

/// Sends a request; `None` if no answer came within [`HANG`] (or the connection failed).
pub async fn send(request: reqwest::RequestBuilder) -> Option<Answer> {
    let response = match tokio::time::timeout(HANG, request.send()).await {
        Ok(Ok(response)) => response,
        Ok(Err(error)) => {
            say(&format!("no answer: {error}"));
            return None;
        }
        Err(_) => {
            say(&format!("no answer within {HANG:?}"));
            return None;
        }
    };
    let status = response.status().as_u16();
    let retry_after = response.headers().contains_key(reqwest::header::RETRY_AFTER);
    let body = response.json().await.unwrap_or(Value::Null);
    Some(Answer { status, retry_after, body })
}

/// A token request with the client's credentials in the body.
pub fn token_request(
    http: &reqwest::Client,
    base_url: &str,
    client: &(String, String),
    form: &[(&str, &str)],
) -> reqwest::RequestBuilder {
    let mut form = form.to_vec();
    form.extend([("client_id", client.0.as_str()), ("client_secret", client.1.as_str())]);
    http.post(format!("{base_url}/oauth/token")).form(&form)
}

/// One refresh of the chain load, as the test saw it.
#[derive(Debug, Clone)]
pub struct Event {
    pub sent: Instant,
    pub took: Duration,
    pub answer: Option<Answer>,
}

/// Chains refreshing as fast as they can, each on one of the servers (round robin); a `200`
/// moves the chain's head, anything else leaves it. A `503` is retried after a short pause.
pub struct ChainLoad {
    pub heads: Vec<Arc<Mutex<String>>>,
    pub acknowledged: Arc<AtomicU64>,
    events: Arc<Mutex<Vec<Event>>>,
    stop: Arc<AtomicBool>,
    tasks: tokio::task::JoinSet<()>,
}

impl ChainLoad {
    pub async fn start(http: &reqwest::Client, base_urls: &[String], client: &(String, String), chains: usize) -> Self {
        let mut heads = Vec::new();
        for _ in 0..chains {
            let form = [("grant_type", "password"), ("username", USERNAME), ("password", PASSWORD)];
            let answer = send(token_request(http, &base_urls[0], client, &form)).await.expect("an answer");
            assert_eq!(answer.status, 200, "{}", answer.body);
            heads.push(Arc::new(Mutex::new(answer.body["refresh_token"].as_str().unwrap().to_owned())));
        }
        let (acknowledged, events, stop) = Default::default();
        let mut load = ChainLoad { heads, acknowledged, events, stop, tasks: tokio::task::JoinSet::new() };
        for (index, head) in load.heads.iter().enumerate() {
            let (head, http, client) = (head.clone(), http.clone(), client.clone());
            let base_url = base_urls[index % base_urls.len()].clone();
            let (acknowledged, events, stop) = (load.acknowledged.clone(), load.events.clone(), load.stop.clone());
            load.tasks.spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let presented = head.lock().unwrap().clone();
                    let form = [("grant_type", "refresh_token"), ("refresh_token", presented.as_str())];
                    let sent = Instant::now();
                    let answer = send(token_request(&http, &base_url, &client, &form)).await;
                    let took = sent.elapsed();
                    if let Some(Answer { status: 200, body, .. }) = &answer {
                        *head.lock().unwrap() = body["refresh_token"].as_str().unwrap().to_owned();
                        acknowledged.fetch_add(1, Ordering::Relaxed);
                    } else {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    events.lock().unwrap().push(Event { sent, took, answer });
                }
            });
        }
        load
    }

    /// Waits until `more` refreshes beyond the count now were acknowledged (at most a minute).
    pub async fn wait_for(&self, more: u64) {
        let target = self.acknowledged.load(Ordering::Relaxed) + more;
        let waited = tokio::time::timeout(Duration::from_secs(60), async {
            while self.acknowledged.load(Ordering::Relaxed) < target {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        assert!(waited.is_ok(), "the load did not make {more} refreshes within a minute: {:?}", self.summary());
    }

    /// Whether some refresh sent after `since` was answered with `status`.
    pub fn seen_after(&self, since: Instant, status: u16) -> Option<Event> {
        let events = self.events.lock().unwrap();
        events.iter().find(|e| e.sent >= since && e.answer.as_ref().is_some_and(|a| a.status == status)).cloned()
    }

    /// Counts of answers by status (`0`: no answer within [`HANG`]).
    pub fn summary(&self) -> BTreeMap<u16, u64> {
        let mut counts = BTreeMap::new();
        for event in self.events.lock().unwrap().iter() {
            *counts.entry(event.answer.as_ref().map_or(0, |a| a.status)).or_default() += 1;
        }
        counts
    }

    /// Stops the chains after their current request; returns every event.
    pub async fn stop(mut self) -> (Vec<Arc<Mutex<String>>>, Vec<Event>) {
        self.stop.store(true, Ordering::Relaxed);
        while let Some(finished) = self.tasks.join_next().await {
            finished.unwrap();
        }
        let events = std::mem::take(&mut *self.events.lock().unwrap());
        (self.heads, events)
    }
}

/// Asserts every refresh was answered, with `200` or with `503` and `Retry-After`, never with
/// another status, and never after more than [`HANG`].
#[track_caller]
pub fn assert_only_200_or_503(events: &[Event]) {
    for event in events {
        match &event.answer {
            None => panic!("a refresh got no answer within {HANG:?} (a hang)"),
            Some(Answer { status: 200, .. }) => {}
            Some(Answer { status: 503, retry_after: true, .. }) => {}
            Some(other) => {
                panic!("a refresh was answered {} (Retry-After: {}): {}", other.status, other.retry_after, other.body)
            }
        }
    }
}

/// Every chain's last acknowledged refresh token still refreshes.
pub async fn assert_heads_refresh(
    http: &reqwest::Client,
    base_url: &str,
    client: &(String, String),
    heads: &[Arc<Mutex<String>>],
) {
    for head in heads {
        let presented = head.lock().unwrap().clone();
        let form = [("grant_type", "refresh_token"), ("refresh_token", presented.as_str())];
        let answer = send(token_request(http, base_url, client, &form)).await.expect("an answer");
        assert_eq!(answer.status, 200, "a chain's last acknowledged refresh token was lost: {}", answer.body);
    }
}
