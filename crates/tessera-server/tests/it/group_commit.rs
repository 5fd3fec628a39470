//! The SQLite writer's group commit, seen over HTTP: requests held by the writer until they
//! are all waiting, so that they share one transaction, then released. Concurrent rotations of
//! one token in one group still give one successor (grace) or one winner (no grace); a group
//! whose COMMIT fails answers every request in it with 503 and `Retry-After`, keeps nothing,
//! and the same tokens then refresh normally.

use crate::helpers::{Fixture, str_field};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tessera_server::config::RawConfig;
use tessera_server::store::{Backend, CountedTable};

/// Waits (a bounded time) until the paused writer holds `count` operations.
async fn until_queued(fixture: &Fixture, count: usize) {
    let store = fixture.server.store();
    let hooks = store.sqlite_writer_hooks().expect("an SQLite file store");
    let waited = tokio::time::timeout(Duration::from_secs(30), async {
        while hooks.queue_depth() < count {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "only {} of {count} operations reached the writer", hooks.queue_depth());
}

/// Sends `tokens` as concurrent refreshes while the writer is paused, waits until all their
/// rotations are queued (one group), runs `before_release`, releases, and returns the answers
/// (status, body, Retry-After) in the order of `tokens`.
async fn refresh_in_one_group(
    fixture: &Arc<Fixture>,
    tokens: &[String],
    before_release: impl FnOnce(&Fixture),
) -> Vec<(u16, serde_json::Value, Option<String>)> {
    let hooks = fixture.server.store().sqlite_writer_hooks().expect("an SQLite file store");
    hooks.pause(true);
    let mut tasks = Vec::new();
    for token in tokens {
        let fixture = Arc::clone(fixture);
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            let form = [
                ("grant_type", "refresh_token"),
                ("refresh_token", token.as_str()),
                ("client_id", fixture.app.client_id.as_str()),
                ("client_secret", fixture.secret()),
            ];
            let response = fixture.http.post(fixture.url("/oauth/token")).form(&form).send().await.unwrap();
            let status = response.status().as_u16();
            let retry_after =
                response.headers().get("retry-after").map(|value| value.to_str().unwrap_or_default().to_owned());
            let body: serde_json::Value = response.json().await.unwrap();
            (status, body, retry_after)
        }));
    }
    until_queued(fixture, tokens.len()).await;
    before_release(fixture);
    hooks.pause(false);
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    answers
}

#[tokio::test]
async fn one_group_of_concurrent_refreshes_of_one_token_gives_one_successor() {
    let fixture = Arc::new(Fixture::on(Backend::Sqlite, RawConfig::default()).await);
    let (_, token) = fixture.login().await;
    let answers = refresh_in_one_group(&fixture, &vec![token; 16], |_| {}).await;
    let mut successors = HashSet::new();
    for (status, body, _) in &answers {
        assert_eq!(*status, 200, "{body}");
        successors.insert(str_field(body, "refresh_token"));
    }
    assert_eq!(successors.len(), 1, "one successor: {successors:?}");
    let stats = fixture.server.store().writer_stats().unwrap();
    assert!(stats.operations >= stats.groups + 15, "16 rotations shared one group: {stats:?}");
    assert_eq!(fixture.server.store().count_rows(CountedTable::RefreshTokens).await.unwrap(), 2);
}

#[tokio::test]
async fn one_group_of_concurrent_refreshes_without_grace_has_one_winner() {
    let overrides = RawConfig { refresh_grace: Some("0s".into()), ..RawConfig::default() };
    let fixture = Arc::new(Fixture::on(Backend::Sqlite, overrides).await);
    let (_, token) = fixture.login().await;
    let answers = refresh_in_one_group(&fixture, &vec![token; 16], |_| {}).await;
    let winners: Vec<_> = answers.iter().filter(|(status, _, _)| *status == 200).collect();
    assert_eq!(winners.len(), 1, "exactly one rotation commits: {answers:?}");
    for (status, body, _) in &answers {
        if *status != 200 {
            assert_eq!((*status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
        }
    }
    // The losers were reuse: the family, the winner's successor included, is revoked.
    let (status, body) = fixture.refresh(&str_field(&winners[0].1, "refresh_token")).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
}

#[tokio::test]
async fn a_failed_group_commit_answers_every_request_503_and_keeps_nothing() {
    let fixture = Arc::new(Fixture::on(Backend::Sqlite, RawConfig::default()).await);
    let mut tokens = Vec::new();
    for _ in 0..8 {
        tokens.push(fixture.login().await.1);
    }
    let rows_before = fixture.server.store().count_rows(CountedTable::RefreshTokens).await.unwrap();
    let answers = refresh_in_one_group(&fixture, &tokens, |fixture| {
        fixture.server.store().sqlite_writer_hooks().unwrap().fail_next_commit();
    })
    .await;
    for (status, body, retry_after) in &answers {
        assert_eq!(*status, 503, "{body}");
        assert_eq!(body["error"], "temporarily_unavailable", "{body}");
        assert_eq!(retry_after.as_deref(), Some("1"));
    }
    let stats = fixture.server.store().writer_stats().unwrap();
    assert_eq!(stats.failed_groups, 1, "{stats:?}");
    let rows_after = fixture.server.store().count_rows(CountedTable::RefreshTokens).await.unwrap();
    assert_eq!(rows_after, rows_before, "no successor was kept");
    // None was acknowledged, so each token is still unspent: a retry rotates it (a new
    // successor that then refreshes too), it is not a replay.
    for token in &tokens {
        let (status, body) = fixture.refresh(token).await;
        assert_eq!(status, 200, "{body}");
        let (status, body) = fixture.refresh(&str_field(&body, "refresh_token")).await;
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(
        fixture.server.store().count_rows(CountedTable::RefreshTokens).await.unwrap(),
        rows_before + 2 * tokens.len() as i64
    );
}
