//! Shared fixtures: a temporary directory per test, and the real `tessera` binary run as a
//! child process with an environment that belongs to the test alone.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStderr, ChildStdout};

/// How long any one `tessera` process may take before the test gives up on it. Generous: the
/// machine may be busy compiling or running twenty other processes.
pub const PROCESS_TIMEOUT: Duration = Duration::from_secs(60);

/// A fresh directory under the target's temporary directory (`tempfile`), removed on drop. It
/// holds the test's database, config files, `$HOME` and `$XDG_CONFIG_HOME`.
pub struct TempDir(tempfile::TempDir);

impl TempDir {
    pub fn new(name: &str) -> Self {
        let prefix = format!("tessera-it-{name}-");
        Self(tempfile::Builder::new().prefix(&prefix).tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap())
    }

    pub fn path(&self) -> &Path {
        self.0.path()
    }

    /// `sqlite://<dir>/t.db` (created on first use).
    pub fn database_url(&self) -> String {
        format!("sqlite://{}", self.path().join("t.db").display())
    }

    /// What `XDG_CONFIG_HOME` points to in every `tessera` process of the test.
    pub fn config_home(&self) -> PathBuf {
        self.path().join("config")
    }

    /// Writes `text` to `name` in the directory and returns its path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

/// One run of the `tessera` binary.
pub struct Tessera {
    command: tokio::process::Command,
    stdin: Option<String>,
}

impl Tessera {
    /// The binary, started in `dir` with `HOME` and `XDG_CONFIG_HOME` inside it and none of the
    /// developer's `TESSERA_*` variables, so neither a real profile nor a real database is ever
    /// read or written.
    pub fn in_dir(dir: &TempDir) -> Self {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_tessera"));
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("TESSERA_") {
                command.env_remove(name);
            }
        }
        command
            .current_dir(dir.path())
            .env("HOME", dir.path().join("home"))
            .env("XDG_CONFIG_HOME", dir.config_home())
            .env_remove("RUST_BACKTRACE")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        Self { command, stdin: None }
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.command.args(args);
        self
    }

    pub fn env(mut self, name: &str, value: impl AsRef<OsStr>) -> Self {
        self.command.env(name, value);
        self
    }

    /// Feeds `text` to the process's standard input (otherwise it reads from /dev/null).
    pub fn stdin(mut self, text: &str) -> Self {
        self.stdin = Some(text.to_owned());
        self
    }

    pub fn spawn(mut self) -> Running {
        self.command.stdin(if self.stdin.is_some() { Stdio::piped() } else { Stdio::null() });
        let mut child = self.command.spawn().unwrap();
        if let Some(text) = self.stdin {
            let mut pipe = child.stdin.take().unwrap();
            // Small inputs fit in the pipe's buffer; the task ends (and closes the pipe) at once.
            tokio::spawn(async move {
                let _ = pipe.write_all(text.as_bytes()).await;
            });
        }
        Running(child)
    }

    /// Runs the process to its end.
    pub async fn run(self) -> Output {
        self.spawn().wait().await
    }
}

/// A `tessera` process that was started.
pub struct Running(Child);

impl Running {
    /// The process's standard error, to read while it runs (e.g. the URL `tessera login --browser`
    /// prints); [`wait`](Self::wait) then reports only what was not taken.
    pub fn take_stderr(&mut self) -> BufReader<ChildStderr> {
        BufReader::new(self.0.stderr.take().unwrap())
    }

    /// Whether the process has not exited yet.
    pub fn still_running(&mut self) -> bool {
        matches!(self.0.try_wait(), Ok(None))
    }

    pub async fn wait(self) -> Output {
        let output = tokio::time::timeout(PROCESS_TIMEOUT, self.0.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("tessera did not exit within {PROCESS_TIMEOUT:?}"))
            .unwrap();
        Output {
            status: output.status,
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// [`wait`](Self::wait) for a process whose stderr was taken and partly read: the rest of
    /// `stderr` is read alongside and put back in front of the output's stderr.
    pub async fn wait_reading(self, mut stderr: tokio::io::Lines<BufReader<ChildStderr>>) -> Output {
        let rest = async {
            let mut rest = String::new();
            while let Some(line) = stderr.next_line().await.unwrap() {
                rest.push_str(&line);
                rest.push('\n');
            }
            rest
        };
        let (mut output, rest) = tokio::join!(self.wait(), rest);
        output.stderr = rest + &output.stderr;
        output
    }
}

/// What a finished `tessera` process left.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// Panics with the process's stderr unless it exited 0.
    #[track_caller]
    pub fn success(self) -> Self {
        assert!(self.status.success(), "tessera failed ({}): {}", self.status, self.stderr);
        self
    }

    /// Standard output parsed as JSON.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|error| panic!("stdout is not JSON ({error}): {:?}", self.stdout))
    }

    /// Asserts a failure reported the way the binary promises: a non-zero exit, nothing on
    /// stdout, and one `error: …` line on stderr that contains `fragment` — no panic, no
    /// backtrace, no usage screen.
    #[track_caller]
    pub fn assert_one_line_error(&self, fragment: &str) {
        let context = format!("status {}, stderr {:?}", self.status, self.stderr);
        assert!(self.code().is_some_and(|code| code != 0), "expected a non-zero exit: {context}");
        assert!(self.stdout.is_empty(), "expected nothing on stdout, got {:?}: {context}", self.stdout);
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "expected one line on stderr: {context}");
        assert!(lines[0].starts_with("error: "), "{context}");
        assert!(lines[0].contains(fragment), "expected {fragment:?}: {context}");
        assert!(!self.stderr.contains("panicked"), "{context}");
    }
}

/// A running `tessera serve`, after it printed its first line.
pub struct Server {
    child: Child,
    stdout: BufReader<ChildStdout>,
    /// The first line of stdout, without its newline.
    pub line: String,
    /// `http://ADDR` from that line.
    pub base_url: String,
}

impl Server {
    /// Starts `tessera` (given `serve` and its flags) and waits for the line that says where it
    /// listens.
    pub async fn start(tessera: Tessera) -> Self {
        let mut child = tessera.spawn().0;
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        let read = tokio::time::timeout(PROCESS_TIMEOUT, stdout.read_line(&mut line)).await;
        if !matches!(read, Ok(Ok(n)) if n > 0) {
            let _ = child.start_kill();
            let mut stderr = String::new();
            if let Some(mut pipe) = child.stderr.take() {
                let _ = pipe.read_to_string(&mut stderr).await;
            }
            panic!("tessera serve printed no line ({read:?}); stderr: {stderr}");
        }
        let line = line.trim_end_matches('\n').to_owned();
        let base_url = line
            .strip_prefix("tessera listening on ")
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        Self { child, stdout, line, base_url }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// The process id (the soak reads the server's RSS from `/proc`).
    pub fn pid(&self) -> u32 {
        self.child.id().unwrap()
    }

    /// Reads the server's stderr from now on, in a task that ends with what was read (at most
    /// the first MiB): a long run logs more than a pipe holds, and a server whose log pipe is
    /// full blocks on its next line. [`wait`](Self::wait) then reports no stderr.
    pub fn drain_stderr(&mut self) -> tokio::task::JoinHandle<String> {
        let mut pipe = self.child.stderr.take().unwrap();
        tokio::spawn(async move {
            let mut kept = Vec::new();
            let mut buffer = vec![0; 64 * 1024];
            while let Ok(n @ 1..) = pipe.read(&mut buffer).await {
                let room = (1usize << 20).saturating_sub(kept.len());
                kept.extend_from_slice(&buffer[..n.min(room)]);
            }
            String::from_utf8_lossy(&kept).into_owned()
        })
    }

    /// Kills the process outright (SIGKILL): no shutdown path runs, as in a crash.
    pub async fn kill_9(&self) {
        let pid = self.child.id().unwrap().to_string();
        let status = tokio::process::Command::new("kill").args(["-KILL", &pid]).status().await.unwrap();
        assert!(status.success(), "kill -KILL {pid} failed");
    }

    /// Sends `signal` (`TERM` or `INT`) with the `kill` command, checking first that the
    /// process already handles it.
    pub async fn signal(&self, signal: &str) {
        let pid = self.child.id().unwrap();
        assert_handles(pid, signal);
        let pid = pid.to_string();
        let status = tokio::process::Command::new("kill").args([&format!("-{signal}"), &pid]).status().await.unwrap();
        assert!(status.success(), "kill -{signal} {pid} failed");
    }

    /// Waits for the process to exit; returns its status and what it printed on stdout after
    /// the first line, and its stderr.
    pub async fn wait(mut self, within: Duration) -> (ExitStatus, String, String) {
        let mut rest = String::new();
        let mut stderr = String::new();
        let mut stderr_pipe = self.child.stderr.take();
        let finished = tokio::time::timeout(within, async {
            let (out, err) = tokio::join!(self.stdout.read_to_string(&mut rest), async {
                match &mut stderr_pipe {
                    Some(pipe) => pipe.read_to_string(&mut stderr).await.map(drop),
                    None => Ok(()),
                }
            });
            out.unwrap();
            err.unwrap();
            self.child.wait().await.unwrap()
        })
        .await;
        match finished {
            Ok(status) => (status, rest, stderr),
            Err(_) => panic!("tessera serve did not exit within {within:?}"),
        }
    }

    /// Stops the server with SIGTERM and checks it exited 0.
    pub async fn stop(self) {
        self.signal("TERM").await;
        let (status, _, stderr) = self.wait(Duration::from_secs(10)).await;
        assert!(status.success(), "tessera serve exited with {status}: {stderr}");
    }
}

/// Asserts (on Linux) that process `pid` already handles `signal`, read from the `SigCgt` mask
/// in `/proc/PID/status`, at the moment its listening line has been read. Regression: the
/// handlers used to be installed only after the line was printed, and a signal sent right
/// after the line killed `tessera serve` outright in 161 of 200 tries.
fn assert_handles(pid: u32, signal: &str) {
    let number: u32 = match signal {
        "INT" => 2,
        "TERM" => 15,
        other => panic!("no signal number for {other}"),
    };
    if !cfg!(target_os = "linux") {
        return;
    }
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let caught = status
        .lines()
        .find_map(|line| line.strip_prefix("SigCgt:"))
        .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .is_some_and(|mask| mask & (1 << (number - 1)) != 0);
    assert!(caught, "tessera serve printed its line before it handled SIG{signal}");
}
