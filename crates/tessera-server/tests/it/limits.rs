//! Issue 10 item 3: the limits a hostile client meets — body size, header-read and request
//! timeouts, load shedding past the concurrency limit, and a deadline on graceful shutdown.
//! The slow clients are raw TCP sockets, because an HTTP client would not stall on purpose.

use crate::helpers::Fixture;
use std::time::Duration;
use tessera_server::config::RawConfig;
use tessera_testkit::TestServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Long enough for a loaded CI machine; short enough that a hang fails the test rather than CI.
const PATIENCE: Duration = Duration::from_secs(10);

/// Opens a connection and sends `bytes`, the start of a request that never ends.
async fn stall(server: &TestServer, bytes: &str) -> TcpStream {
    let mut stream = TcpStream::connect(server.address).await.unwrap();
    stream.write_all(bytes.as_bytes()).await.unwrap();
    stream.flush().await.unwrap();
    stream
}

/// Reads what the server sends until it closes the connection; `None` if it never does.
async fn read_until_closed(stream: &mut TcpStream) -> Option<String> {
    let mut received = Vec::new();
    let read = tokio::time::timeout(PATIENCE, async {
        let mut buffer = [0u8; 4096];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(count) => received.extend_from_slice(&buffer[..count]),
            }
        }
    })
    .await;
    read.ok().map(|()| String::from_utf8_lossy(&received).into_owned())
}

const HALF_A_HEADER: &str = "POST /oauth/token HTTP/1.1\r\nHost: tessera\r\nContent-Type: applica";

/// The headers of a token request whose body is announced but only partly sent.
const HALF_A_BODY: &str = "POST /oauth/token HTTP/1.1\r\nHost: tessera\r\n\
    Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ngrant_type=cli";

/// A `client_credentials` request of a client allowed that grant, with a `padding` parameter.
async fn client_credentials(fixture: &Fixture, padding: &str) -> (u16, serde_json::Value) {
    let machine = fixture.server.client("machine", &["client_credentials"], "read", false).await;
    let secret = machine.client_secret.unwrap_or_default();
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", &machine.client_id),
        ("client_secret", &secret),
        ("padding", padding),
    ];
    fixture.post_form("/oauth/token", &form).await
}

/// Tried before the fix: a valid `client_credentials` request padded to 64 KiB was answered 200
/// (axum's default limit is 2 MB). The OAuth endpoints' bodies are a few hundred bytes.
#[tokio::test]
async fn a_padded_token_request_is_refused_as_too_large() {
    let fixture = Fixture::start().await;
    let padding = "a".repeat(64 * 1024);
    let (status, body) = client_credentials(&fixture, &padding).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["error"], "invalid_request", "{body}");
    // A body well under the limit still works.
    let (status, body) = client_credentials(&fixture, &"a".repeat(2048)).await;
    assert_eq!(status, 200, "{body}");
    // The login form is under /oauth too.
    let response = fixture.http.post(fixture.url("/oauth/authorize")).form(&[("padding", &padding)]).send().await;
    assert_eq!(response.unwrap().status().as_u16(), 413);
}

/// Tried before the fix: a connection that sent half a request and stalled was never closed.
#[tokio::test]
async fn a_connection_that_stalls_in_its_headers_is_closed() {
    let overrides = RawConfig { header_read_timeout: Some("1s".into()), ..RawConfig::default() };
    let fixture = Fixture::with(overrides).await;
    let mut stream = stall(&fixture.server, HALF_A_HEADER).await;
    assert!(read_until_closed(&mut stream).await.is_some(), "the stalled connection is still open");
    // Others are served as before.
    let (status, body) = client_credentials(&fixture, "").await;
    assert_eq!(status, 200, "{body}");
}

/// A request whose body never arrives holds its handler until the request timeout.
#[tokio::test]
async fn a_request_that_stalls_in_its_body_times_out() {
    let overrides = RawConfig { request_timeout: Some("1s".into()), ..RawConfig::default() };
    let fixture = Fixture::with(overrides).await;
    let mut stream = stall(&fixture.server, HALF_A_BODY).await;
    let answer = read_until_closed(&mut stream).await.expect("the stalled request is still open");
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
}

/// Past the concurrency limit, requests are refused at once with `503` and `Retry-After`
/// rather than queued. A request whose body never arrives holds the one slot.
#[tokio::test]
async fn requests_past_the_concurrency_limit_are_shed() {
    let overrides = RawConfig { max_concurrent_requests: Some(1), ..RawConfig::default() };
    let fixture = Fixture::with(overrides).await;
    let _holder = stall(&fixture.server, HALF_A_BODY).await;
    // The stalled request may not have reached its handler yet: ask until it has.
    let shed = tokio::time::timeout(PATIENCE, async {
        loop {
            let response = fixture.http.get(fixture.url("/oauth/jwks")).send().await.unwrap();
            if response.status().as_u16() == 503 {
                return response;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("no request was shed");
    assert!(shed.headers().get("retry-after").is_some(), "{:?}", shed.headers());
    let body: serde_json::Value = shed.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable", "{body}");
}

/// Graceful shutdown waits for requests in flight, but not past the shutdown deadline: before
/// the fix it waited forever on a connection that stalled.
#[tokio::test]
async fn shutdown_gives_up_on_stalled_connections_after_its_deadline() {
    let overrides = RawConfig {
        header_read_timeout: Some("1h".into()),
        request_timeout: Some("1h".into()),
        shutdown_timeout: Some("1s".into()),
        ..RawConfig::default()
    };
    let server = TestServer::start(overrides).await;
    let _in_headers = stall(&server, HALF_A_HEADER).await;
    let _in_body = stall(&server, HALF_A_BODY).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stopped = tokio::time::timeout(PATIENCE, server.stop()).await;
    assert!(stopped.is_ok(), "shutdown waited on the stalled connections");
}
