//! A soak: mixed load for `TESSERA_TEST_SOAK_DURATION` (default `2m`) against `tessera serve`
//! on SQLite, with the janitor every second and short lifetimes (access tokens 5 s, families
//! 20 s), so that rows are born and purged all along. Workers sign in with the password grant,
//! refresh, call the API with the bearer token, introspect, revoke (or abandon the family to
//! expire), and send bad requests. No `5xx` but `503` with `Retry-After`; the server's RSS and
//! its row counts level off (the last sample against the middle third of the run, generous
//! bounds, nothing timed).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{Answer, PASSWORD, USERNAME, client_and_user, send, token_request};
use crate::support::{Server, TempDir, Tessera};

const WORKERS: usize = 4;

/// Answers by request kind and status.
type Tally = Arc<Mutex<BTreeMap<(&'static str, u16), u64>>>;

#[derive(Debug, Clone, Copy)]
struct Sample {
    at: Duration,
    rss_kib: u64,
    refresh_tokens: i64,
    refresh_families: i64,
    revoked_access_tokens: i64,
}

impl Sample {
    fn rows(&self) -> i64 {
        self.refresh_tokens + self.refresh_families + self.revoked_access_tokens
    }
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn count(connection: &rusqlite::Connection, table: &str) -> i64 {
    connection.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |row| row.get(0)).unwrap()
}

/// One worker's cycle, repeated until `until`.
async fn work(
    http: reqwest::Client,
    base_url: String,
    client: (String, String),
    worker: usize,
    until: Instant,
    tally: Tally,
) {
    let record = |kind: &'static str, answer: &Option<Answer>| {
        let status = answer.as_ref().map_or(0, |a| a.status);
        if status >= 500 {
            let retry_after = answer.as_ref().is_some_and(|a| a.retry_after);
            assert!(status == 503 && retry_after, "{kind}: {status} (Retry-After: {retry_after}) {answer:?}");
        }
        assert_ne!(status, 0, "{kind}: no answer within the hang bound");
        *tally.lock().unwrap().entry((kind, status)).or_default() += 1;
    };
    let token = |form: Vec<(&'static str, String)>| {
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        token_request(&http, &base_url, &client, &form)
    };
    let operation = |path: &str, token: &str| {
        let form = [("token", token), ("client_id", client.0.as_str()), ("client_secret", client.1.as_str())];
        http.post(format!("{base_url}{path}")).form(&form)
    };
    let mut cycle = 0usize;
    while Instant::now() < until {
        cycle += 1;
        let form =
            vec![("grant_type", "password".into()), ("username", USERNAME.into()), ("password", PASSWORD.into())];
        let answer = send(token(form)).await;
        record("password", &answer);
        let Some(Answer { status: 200, body, .. }) = answer else { continue };
        let mut refresh_token = body["refresh_token"].as_str().unwrap().to_owned();
        let mut access_token = body["access_token"].as_str().unwrap().to_owned();
        for _ in 0..5 {
            let form = vec![("grant_type", "refresh_token".into()), ("refresh_token", refresh_token.clone())];
            let answer = send(token(form)).await;
            record("refresh", &answer);
            if let Some(Answer { status: 200, body, .. }) = answer {
                refresh_token = body["refresh_token"].as_str().unwrap().to_owned();
                access_token = body["access_token"].as_str().unwrap().to_owned();
            }
        }
        let answer = send(http.get(format!("{base_url}/api/1.0/users/me")).bearer_auth(&access_token)).await;
        record("bearer", &answer);
        let answer = send(operation("/oauth/introspect", &access_token)).await;
        record("introspect", &answer);
        match (worker + cycle) % 3 {
            // Revoke the family through its refresh token, or the access token alone.
            0 => record("revoke", &send(operation("/oauth/revoke", &refresh_token)).await),
            1 => record("revoke", &send(operation("/oauth/revoke", &access_token)).await),
            // Abandon the family: it expires, and the janitor takes it.
            _ => {}
        }
        // Bad requests: every one is the client's mistake, answered 4xx.
        let bad = [
            http.post(format!("{base_url}/oauth/token"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body("grant_type=%zz&&=="),
            http.post(format!("{base_url}/oauth/token"))
                .header("content-type", "application/json")
                .body("{\"grant_type\": [1,"),
            token(vec![("grant_type", "refresh_token".into()), ("refresh_token", format!("tsr_{}", "A".repeat(43)))]),
            token(vec![("grant_type", "urn:example:unknown".into())]),
            http.post(format!("{base_url}/oauth/token")).form(&[
                ("grant_type", "client_credentials"),
                ("client_id", &client.0),
                ("client_secret", "wrong"),
            ]),
            http.get(format!("{base_url}/api/1.0/users/me")).bearer_auth("eyJhbGciOiJub25lIn0.e30."),
            http.get(format!("{base_url}/api/1.0/users/me")).bearer_auth(format!("{access_token}x")),
        ];
        for request in bad {
            let answer = send(request).await;
            record("bad", &answer);
            let status = answer.as_ref().map_or(0, |a| a.status);
            assert!((400..500).contains(&status) || status == 503, "a bad request was answered {status}: {answer:?}");
        }
    }
}

fn duration() -> Duration {
    match std::env::var("TESSERA_TEST_SOAK_DURATION") {
        Ok(text) => {
            tessera_core::parse_duration(&text).unwrap_or_else(|error| panic!("TESSERA_TEST_SOAK_DURATION: {error}"))
        }
        Err(_) => Duration::from_secs(120),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_soak_of_mixed_load_has_no_5xx_and_levels_off() {
    let length = duration();
    let dir = TempDir::new("soak");
    let database = dir.path().join("t.db");
    let url = dir.database_url();
    let client = client_and_user(&dir, &url, None).await;
    let mut server = Server::start(
        Tessera::in_dir(&dir)
            .args(["serve", "--listen", "127.0.0.1:0", "--database-url", &url])
            .env("TESSERA_JANITOR_INTERVAL", "1s")
            .env("TESSERA_ACCESS_TOKEN_TTL", "5s")
            .env("TESSERA_REFRESH_IDLE_TTL", "10s")
            .env("TESSERA_REFRESH_MAX_TTL", "20s"),
    )
    .await;
    let log = server.drain_stderr();
    let http = reqwest::Client::new();
    let started = Instant::now();
    let until = started + length;
    let tally = Tally::default();
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..WORKERS {
        workers.spawn(work(http.clone(), server.base_url.clone(), client.clone(), worker, until, tally.clone()));
    }
    let connection =
        rusqlite::Connection::open_with_flags(&database, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let every = (length / 12).max(Duration::from_secs(1));
    let mut samples = Vec::new();
    while Instant::now() < until {
        tokio::time::sleep(every.min(until.saturating_duration_since(Instant::now()))).await;
        samples.push(Sample {
            at: started.elapsed(),
            rss_kib: rss_kib(server.pid()),
            refresh_tokens: count(&connection, "refresh_tokens"),
            refresh_families: count(&connection, "refresh_families"),
            revoked_access_tokens: count(&connection, "revoked_access_tokens"),
        });
    }
    while let Some(finished) = workers.join_next().await {
        finished.unwrap();
    }
    let tally = tally.lock().unwrap().clone();
    super::say(&format!("fault figures: soak of {length:?}: answers by (kind, status) {tally:?}"));
    for sample in &samples {
        super::say(&format!("fault figures: soak sample {sample:?}"));
    }
    for kind in ["password", "refresh", "bearer", "introspect", "revoke"] {
        assert!(tally.get(&(kind, 200)).is_some_and(|n| *n > 0), "no {kind} request succeeded: {tally:?}");
    }
    // Levelling off needs the run to outlast a family's life (20 s) and the janitor's delay
    // (an access-token lifetime after that) by a good margin.
    if length >= Duration::from_secs(90) {
        let middle: Vec<&Sample> = samples.iter().filter(|s| s.at >= length / 3 && s.at <= length * 2 / 3).collect();
        let last = samples.last().unwrap();
        let rows_then = middle.iter().map(|s| s.rows()).max().unwrap();
        let rss_then = middle.iter().map(|s| s.rss_kib).max().unwrap();
        assert!(last.rows() <= rows_then * 3 / 2 + 500, "rows keep growing: {samples:#?}");
        assert!(last.rss_kib <= rss_then * 3 / 2 + 32 * 1024, "RSS keeps growing: {samples:#?}");
    } else {
        super::say("fault figures: soak shorter than 90s: levelling off not asserted");
    }
    server.stop().await;
    let log = log.await.unwrap();
    let lines_at = |level: &str| log.lines().filter(|line| line.contains(level)).count();
    super::say(&format!(
        "fault figures: soak log: {} lines, {} WARN, {} ERROR",
        log.lines().count(),
        lines_at(" WARN "),
        lines_at(" ERROR ")
    ));
    assert!(!log.contains("internal error"), "the server logged an internal error:\n{log}");
}
