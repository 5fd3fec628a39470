//! A soak: mixed load for `TESSERA_TEST_SOAK_DURATION` (default `2m`) against `tessera serve`
//! on SQLite, with the janitor every second and short lifetimes (access tokens 5 s, families
//! 20 s), so that rows are born and purged all along. Workers sign in with the password grant,
//! refresh, call the API with the bearer token, introspect, revoke (or abandon the family to
//! expire), and send bad requests. No `5xx` but `503` with `Retry-After`; the row counts level
//! off: at every sample, the families and tokens in the database are no more than were issued
//! in the last 40 s (a family lives 20 s, the janitor takes it an access-token lifetime later),
//! whatever the throughput; and the server's RSS at the end is within a generous bound of its
//! RSS in the middle third of the run. Nothing is timed.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{Answer, PASSWORD, USERNAME, client_and_user, send, token_request};
use crate::support::{Server, TempDir, Tessera};

const WORKERS: usize = 4;

/// Answers by request kind and status.
type Tally = Arc<Mutex<BTreeMap<(&'static str, u16), u64>>>;

/// How far back the rows in the database may have been issued: a family's life (20 s), an
/// access-token lifetime (5 s) before the janitor may take it, the janitor's interval (1 s),
/// and a margin for a busy machine.
const ROW_HORIZON: Duration = Duration::from_secs(40);

#[derive(Debug, Clone, Copy)]
struct Sample {
    at: Duration,
    rss_kib: u64,
    refresh_tokens: i64,
    refresh_families: i64,
    revoked_access_tokens: i64,
    /// Families started (password grants answered 200) since the start, and refresh tokens
    /// issued (those plus refreshes answered 200).
    families_issued: u64,
    tokens_issued: u64,
    /// Revocations answered 200 since the start (half of them revoke an access token).
    revocations: u64,
}

impl Sample {
    /// The latest sample taken at least [`ROW_HORIZON`] before this one.
    fn horizon<'a>(&self, samples: &'a [Sample]) -> Option<&'a Sample> {
        samples.iter().rev().find(|earlier| earlier.at + ROW_HORIZON <= self.at)
    }
}

/// What the tally says was issued so far: (families, refresh tokens, revocations).
fn issued(tally: &Tally) -> (u64, u64, u64) {
    let tally = tally.lock().unwrap();
    let count = |kind| tally.get(&(kind, 200)).copied().unwrap_or(0);
    (count("password"), count("password") + count("refresh"), count("revoke"))
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
        // Issued counts first: a row counted next was issued by then.
        let (families_issued, tokens_issued, revocations) = issued(&tally);
        samples.push(Sample {
            at: started.elapsed(),
            rss_kib: rss_kib(server.pid()),
            refresh_tokens: count(&connection, "refresh_tokens"),
            refresh_families: count(&connection, "refresh_families"),
            revoked_access_tokens: count(&connection, "revoked_access_tokens"),
            families_issued,
            tokens_issued,
            revocations,
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
    // Rows: whatever was issued before the horizon is gone (the slack covers requests in
    // flight while a sample is taken).
    for sample in &samples {
        let Some(earlier) = sample.horizon(&samples) else { continue };
        let families = sample.families_issued - earlier.families_issued;
        let tokens = sample.tokens_issued - earlier.tokens_issued;
        let revocations = sample.revocations - earlier.revocations;
        assert!(
            sample.refresh_families as u64 <= families + 50
                && sample.refresh_tokens as u64 <= tokens + 200
                && sample.revoked_access_tokens as u64 <= revocations + 50,
            "rows outlive the janitor: {sample:?} holds more than the {families} families and {tokens} tokens \
             issued (and {revocations} revocations) since {:?}: {samples:#?}",
            earlier.at
        );
    }
    // RSS: caches fill up to their bounds early on; the end may not be far above the middle.
    let middle: Vec<&Sample> = samples.iter().filter(|s| s.at >= length / 3 && s.at <= length * 2 / 3).collect();
    if let (Some(last), Some(rss_then)) = (samples.last(), middle.iter().map(|s| s.rss_kib).max()) {
        assert!(last.rss_kib <= rss_then * 3 / 2 + 32 * 1024, "RSS keeps growing: {samples:#?}");
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
