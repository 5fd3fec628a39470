//! An independent device-grant client (`device_client/device.py`: Authlib's OAuth2Session
//! with an RFC 8628 polling loop) against the real server: it gets a user code, is told
//! `authorization_pending` and then `slow_down` (the test clock stands still, so its next poll
//! is too early), the user approves on the verification page, and its next poll gets tokens.

use crate::authorize::{Browser, csrf};
use crate::helpers::{Fixture, PASSWORD, USERNAME};
use serde_json::Value;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tessera_server::config::RawConfig;
use tessera_server::store::Backend;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authlib_polls_with_the_device_grant_and_honours_slow_down() {
    let fixture = Fixture::on(Backend::Sqlite, RawConfig::default()).await;
    let grants = ["urn:ietf:params:oauth:grant-type:device_code", "refresh_token"];
    let tv = fixture.server.client("Python TV", &grants, "openid read", true).await;
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/it/device_client/device.py");
    let mut child = Command::new("python3")
        .arg(script)
        .args([&fixture.server.base_url, &tv.client_id, "0.05"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("python3 (scripts/install-test-deps.sh installs Authlib)");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next = async || -> Value {
        let line = tokio::time::timeout(WAIT, lines.next_line()).await.unwrap().unwrap();
        let line = line
            .unwrap_or_else(|| panic!("the Python client stopped (Authlib installed? scripts/install-test-deps.sh)"));
        serde_json::from_str(&line).unwrap()
    };

    let device = next().await;
    assert_eq!(device["step"], "device_authorization", "{device}");
    assert_eq!((device["interval"].as_u64(), device["expires_in"].as_u64()), (Some(5), Some(600)));
    assert_eq!(next().await["error"], "authorization_pending");
    assert_eq!(next().await["error"], "slow_down");

    // The user approves, typing the code as shown.
    let code = device["user_code"].as_str().unwrap();
    let mut browser = Browser::new(&fixture);
    let page = browser.get_at("/oauth/device", &[("user_code", code)]).await;
    let token = csrf(&page);
    let login =
        [("action", "login"), ("username", USERNAME), ("password", PASSWORD), ("user_code", code), ("csrf", &token)];
    let page = browser.post_at("/oauth/device", &login).await;
    let token = csrf(&page);
    let page = browser.post_at("/oauth/device", &[("action", "approve"), ("user_code", code), ("csrf", &token)]).await;
    assert!(page.body.contains("Your device is connected"), "{}", page.body);

    // Polls after the approval get the tokens, however fast they come; the client kept the
    // longer interval it was told to keep.
    let mut result = next().await;
    while result["step"] == "poll" && result["error"] == "slow_down" {
        result = next().await;
    }
    assert_eq!(result["step"], "token", "{result}");
    assert_eq!((result["token_type"].as_str(), result["scope"].as_str()), (Some("Bearer"), Some("openid read")));
    assert_eq!((result["refresh_token"].as_bool(), result["id_token"].as_bool()), (Some(true), Some(true)));
    assert!(result["interval"].as_u64().unwrap() >= 10, "{result}");
    let me = fixture.me(result["access_token"].as_str().unwrap()).await;
    assert_eq!(me.status(), 200);
    assert!(child.wait().await.unwrap().success());
}
