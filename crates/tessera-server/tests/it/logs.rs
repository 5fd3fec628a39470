//! Secrets never reach the logs: every event of a full flow, at TRACE level, is captured and
//! searched for the secrets that flowed through the server.

use crate::helpers::{Fixture, PASSWORD, str_field};
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

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
