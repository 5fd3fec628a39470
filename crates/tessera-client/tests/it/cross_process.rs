//! Real processes sharing one credential store: this test binary re-runs itself as the child
//! (the `child` test below does nothing unless the parent set `TESSERA_IT_CHILD`), so the file
//! lock is exercised between processes, not only between threads. The `tessera` commands run
//! as processes in the binary's own suite (`crates/tessera/tests/it`).

use std::path::Path;
use std::process::Stdio;

use tessera_client::{ApiClient, CredentialStore, TokenSource};

const CHILD: &str = "TESSERA_IT_CHILD";
const CHILD_URL: &str = "TESSERA_IT_CHILD_URL";

/// The child's side: calls `TESSERA_IT_CHILD_URL` through the library with the default
/// profile and exits 0 on HTTP 200. Run by the parent tests only.
#[test]
fn child() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let status = runtime.block_on(async {
        let source = TokenSource::for_profile("default").unwrap();
        let api = ApiClient::new(source);
        let url = std::env::var(CHILD_URL).unwrap();
        api.send(api.get(url)).await.unwrap().status()
    });
    assert_eq!(status, 200);
    std::process::exit(0);
}

/// Output of a child process.
pub struct ChildOutput {
    pub code: i32,
    pub stderr: String,
}

/// Starts this test binary as a child that calls `url`, with `XDG_CONFIG_HOME` pointing into
/// `config`.
pub fn spawn_child(config: &Path, url: &str) -> tokio::process::Child {
    tokio::process::Command::new(std::env::current_exe().unwrap())
        .args(["cross_process::child", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .env(CHILD_URL, url)
        .env("XDG_CONFIG_HOME", config)
        .env_remove("TESSERA_PROFILE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

pub async fn wait_child(child: tokio::process::Child) -> ChildOutput {
    let output = child.wait_with_output().await.unwrap();
    ChildOutput {
        code: output.status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Makes the stored access token look expired to every process that reads the file.
pub fn expire_stored_access_token(store: &dyn CredentialStore) {
    let mut profile = store.load().unwrap().unwrap();
    profile.tokens.obtained_at = 1;
    profile.tokens.expires_at = Some(2);
    store.save(&profile).unwrap();
}
