//! An in-memory SQLite database (`sqlite::memory:`), served by the rusqlite store: its writer
//! and its readers see one database, and the whole refresh flow works on it.

use crate::helpers::{Fixture, PASSWORD, USERNAME, str_field};
use std::collections::HashSet;
use std::sync::Arc;
use tessera_server::config::RawConfig;
use tessera_server::store::{Backend, CountedTable};
use tessera_testkit::{TestDatabase, TestServer};

async fn in_memory(url: &str) -> Fixture {
    let overrides = RawConfig {
        database_url: Some(url.to_owned()),
        master_key: Some(tessera_testkit::TEST_MASTER_KEY.to_owned()),
        ..RawConfig::default()
    };
    Fixture::serve(TestServer::start_on(TestDatabase::sqlite(), overrides).await).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_in_memory_database_serves_the_refresh_flow() {
    for url in ["sqlite::memory:", "sqlite://:memory:"] {
        let fixture = Arc::new(in_memory(url).await);
        assert_eq!(fixture.server.store().backend(), Backend::Sqlite);
        let (access_token, mut refresh_token) = fixture.login().await;
        assert_eq!(fixture.me(&access_token).await.status(), 200, "{url}");
        for _ in 0..3 {
            let (status, body) = fixture.refresh(&refresh_token).await;
            assert_eq!(status, 200, "{url}: {body}");
            assert_eq!(fixture.me(&str_field(&body, "access_token")).await.status(), 200, "{url}");
            refresh_token = str_field(&body, "refresh_token");
        }
        // Concurrent retries of one token (reads on the readers, writes on the writer) get
        // one successor: every connection sees the writer's commits.
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let (fixture, token) = (Arc::clone(&fixture), refresh_token.clone());
            tasks.spawn(async move { fixture.refresh(&token).await });
        }
        let mut successors = HashSet::new();
        while let Some(result) = tasks.join_next().await {
            let (status, body) = result.unwrap();
            assert_eq!(status, 200, "{url}: {body}");
            successors.insert(str_field(&body, "refresh_token"));
        }
        assert_eq!(successors.len(), 1, "{url}: {successors:?}");
        // Login, three rotations and the one retried: five tokens, all in one database.
        assert_eq!(fixture.server.store().count_rows(CountedTable::RefreshTokens).await.unwrap(), 5, "{url}");
    }
}

/// Each in-memory store has a database of its own: one server's client is unknown to another.
#[tokio::test]
async fn two_in_memory_stores_do_not_share_a_database() {
    let first = in_memory("sqlite::memory:").await;
    let second = in_memory("sqlite::memory:").await;
    let form = [
        ("grant_type", "password"),
        ("username", USERNAME),
        ("password", PASSWORD),
        ("client_id", first.app.client_id.as_str()),
        ("client_secret", first.secret()),
    ];
    let (status, body) = first.post_form("/oauth/token", &form).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = second.post_form("/oauth/token", &form).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")), "{body}");
    first.server.stop().await;
    second.server.stop().await;
}
