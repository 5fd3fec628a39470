//! Secrets never reach the logs: every event of a full flow, at TRACE level, is captured and
//! searched for the secrets that flowed through the server. Per-request lines are at DEBUG;
//! the access log (off by default) holds method, path, status and duration, never a query.

use crate::helpers::{Fixture, PASSWORD, str_field};
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use tessera_server::config::RawConfig;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One subscriber for the whole test binary (a global can be set once); tests search it for
/// their own secrets only.
fn captured_logs() -> &'static Captured {
    static LOGS: OnceLock<Captured> = OnceLock::new();
    LOGS.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        let _ = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .try_init();
        captured
    })
}

#[tokio::test]
async fn no_secret_in_trace_logs() {
    let logs = captured_logs();
    let fixture = Fixture::start().await;
    let (access_token, first) = fixture.login().await;
    let (_, body) = fixture.refresh(&first).await;
    let second = str_field(&body, "refresh_token");
    // Failures log too: a wrong secret, a reuse (audit event), a bad bearer token.
    fixture
        .post_form(
            "/oauth/token",
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", "wrong password value"),
                ("client_id", &fixture.app.client_id),
                ("client_secret", fixture.secret()),
            ],
        )
        .await;
    fixture.server.clock.advance(std::time::Duration::from_secs(60));
    let (status, _) = fixture.refresh(&first).await;
    assert_eq!(status, 400);
    fixture.me(&access_token).await;
    fixture.me("not-a-token-but-secret-looking").await;
    let text = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(text.contains("tessera::audit"), "the reuse audit event is logged");
    assert!(text.contains("/oauth/token"), "requests are logged");
    let request_lines: Vec<&str> = text.lines().filter(|line| line.contains("tessera::http")).collect();
    assert!(!request_lines.is_empty());
    for line in request_lines {
        assert!(line.contains("DEBUG"), "per-request lines are at debug level, not at the default info: {line}");
    }
    for (what, secret) in [
        ("refresh token", first.as_str()),
        ("rotated refresh token", second.as_str()),
        ("access token", access_token.as_str()),
        ("client secret", fixture.secret()),
        ("password", PASSWORD),
        ("wrong password", "wrong password value"),
        ("presented bearer token", "not-a-token-but-secret-looking"),
    ] {
        assert!(!text.contains(secret), "{what} found in the logs");
    }
}

#[tokio::test]
async fn the_access_log_records_requests_without_their_secrets() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("access.log");
    let config = RawConfig { access_log: Some(path.display().to_string()), ..RawConfig::default() };
    let fixture = Fixture::with(config).await;
    let (access_token, refresh_token) = fixture.login().await;
    fixture.me(&access_token).await;
    let response = fixture.http.get(fixture.url("/healthz?token=query-secret-value")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    fixture.http.get(fixture.url("/no/such/page")).send().await.unwrap();
    let secret = fixture.secret().to_owned();
    let Fixture { server, .. } = fixture;
    server.stop().await; // writes out the queue
    let log = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 4, "{log}");
    for (line, request) in lines.iter().zip([
        "\"POST /oauth/token\" 200 ",
        "\"GET /api/1.0/users/me\" 200 ",
        "\"GET /healthz\" 200 ",
        "\"GET /no/such/page\" 404 ",
    ]) {
        assert!(line.contains(request) && line.contains(" 127.0.0.1:") && line.ends_with("ms"), "{line}");
    }
    for secret in [access_token.as_str(), refresh_token.as_str(), &secret, PASSWORD, "query-secret-value"] {
        assert!(!log.contains(secret), "a secret in the access log:\n{log}");
    }
    let _ = std::fs::remove_dir_all(directory);
}
