//! Real processes sharing one credential store: this test binary re-runs itself as the child
//! (the `child` test below does nothing unless the parent set `TESSERA_IT_CHILD`), so the file
//! lock is exercised between processes, not only between threads.

use std::path::Path;
use std::process::Stdio;

use tessera_client::{ApiClient, CredentialStore, TokenSource};

use crate::consumer_cli::{Cli, exit_status};

const CHILD: &str = "TESSERA_IT_CHILD";
const CHILD_URL: &str = "TESSERA_IT_CHILD_URL";
const CHILD_ARGS: &str = "TESSERA_IT_CHILD_ARGS";
/// Printed by the child before the command's own output, to tell it apart from the harness's.
pub const OUTPUT_MARKER: &str = "--- child output ---\n";

/// The child's side: `library` calls the API through the library; `cli` runs a consumer
/// command. Run by the parent tests only.
#[test]
fn child() {
    let Ok(mode) = std::env::var(CHILD) else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let code = runtime.block_on(async {
        match mode.as_str() {
            "library" => {
                let source = TokenSource::for_profile("default").unwrap();
                let api = ApiClient::new(source);
                let url = std::env::var(CHILD_URL).unwrap();
                let response = api.send(api.get(url)).await.unwrap();
                assert_eq!(response.status(), 200);
                0
            }
            "cli" => {
                use clap::Parser;
                let args: Vec<String> = serde_json::from_str(&std::env::var(CHILD_ARGS).unwrap()).unwrap();
                let cli = Cli::parse_from(std::iter::once("tessera".to_owned()).chain(args));
                print!("{OUTPUT_MARKER}");
                match crate::consumer::run(cli.consumer()).await {
                    Ok(code) => exit_status(code),
                    Err(error) => {
                        eprintln!("error: {error:#}");
                        1
                    }
                }
            }
            other => panic!("unknown child mode {other}"),
        }
    });
    use std::io::Write;
    std::io::stdout().flush().unwrap();
    std::process::exit(code);
}

/// Output of a child process.
pub struct ChildOutput {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Starts this test binary as a child in `mode`, with `XDG_CONFIG_HOME` pointing into `config`.
pub fn spawn_child(config: &Path, mode: &str, url: &str, args: &[&str], stdin: Option<&str>) -> tokio::process::Child {
    let mut command = tokio::process::Command::new(std::env::current_exe().unwrap());
    command
        .args(["cross_process::child", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, mode)
        .env(CHILD_URL, url)
        .env(CHILD_ARGS, serde_json::to_string(args).unwrap())
        .env("XDG_CONFIG_HOME", config)
        .env_remove("TESSERA_PROFILE")
        .env_remove("TESSERA_CLIENT_SECRET")
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        let input = input.to_owned();
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            pipe.write_all(input.as_bytes()).await.unwrap();
        });
    }
    child
}

pub async fn wait_child(child: tokio::process::Child) -> ChildOutput {
    let output = child.wait_with_output().await.unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    ChildOutput {
        code: output.status.code().unwrap_or(-1),
        stdout: stdout
            .split_once(OUTPUT_MARKER)
            .map(|(_, after)| after.to_owned())
            .unwrap_or_else(|| stdout.into_owned()),
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
