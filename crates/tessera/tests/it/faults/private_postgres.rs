//! A PostgreSQL server of the test's own: `initdb` and `pg_ctl` from the installed server
//! binaries, on a free loopback port and a temporary data directory, trust authentication. A
//! test may stop and start it at will; the shared server on 5432 is never touched. As root
//! (initdb refuses to run as root) the binaries run as the `postgres` user through `runuser`.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct PrivatePostgres {
    bin: PathBuf,
    data: PathBuf,
    /// Holds the data directory (removed on drop, after the server is stopped).
    _dir: tempfile::TempDir,
    port: u16,
    as_postgres_user: bool,
}

/// The newest installed server's binaries, e.g. `/usr/lib/postgresql/15/bin`.
fn server_binaries() -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| entry.ok().map(|entry| entry.path().join("bin")))
        .filter(|bin| bin.join("initdb").is_file() && bin.join("pg_ctl").is_file())
        .collect();
    found.sort_by_key(|bin| {
        bin.parent().and_then(|v| v.file_name()).and_then(|v| v.to_str()).and_then(|v| v.parse::<u32>().ok())
    });
    found.pop()
}

fn running_as_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|listener| listener.local_addr()).map_or(0, |a| a.port())
}

impl PrivatePostgres {
    /// Creates and starts the server; `None`, with the reason printed, where that cannot be
    /// done here (no server binaries, or root without a `postgres` user to run them as).
    pub fn start() -> Option<PrivatePostgres> {
        let Some(bin) = server_binaries() else {
            super::say("SKIPPED: no PostgreSQL server binaries (initdb, pg_ctl) under /usr/lib/postgresql/*/bin");
            return None;
        };
        let as_postgres_user = running_as_root();
        let dir = tempfile::Builder::new().prefix("tessera-it-private-pg-").tempdir().ok()?;
        let data = dir.path().join("data");
        if as_postgres_user {
            let owned = Command::new("chown").args(["postgres:postgres"]).arg(dir.path()).status();
            if !owned.is_ok_and(|status| status.success()) {
                super::say("SKIPPED: running as root and cannot hand a directory to the `postgres` user");
                return None;
            }
        }
        let mut server = PrivatePostgres { bin, data, _dir: dir, port: free_port(), as_postgres_user };
        let initdb = server
            .command("initdb")
            .args(["--auth=trust", "--username=postgres", "--encoding=UTF8", "--no-sync", "-D"])
            .arg(&server.data)
            .output();
        match initdb {
            Ok(output) if output.status.success() => {}
            Ok(output) => {
                super::say(&format!("SKIPPED: initdb failed here: {}", String::from_utf8_lossy(&output.stderr)));
                return None;
            }
            Err(error) => {
                super::say(&format!("SKIPPED: cannot run initdb: {error}"));
                return None;
            }
        }
        // Until the port is really ours: another process may take a free port before we do.
        for _ in 0..5 {
            if server.pg_ctl_start() {
                return Some(server);
            }
            server.port = free_port();
        }
        panic!("the private PostgreSQL server did not start: {}", server.log());
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.as_postgres_user {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        }
    }

    fn log_path(&self) -> PathBuf {
        self.data.parent().unwrap_or(Path::new("/tmp")).join("postgres.log")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn pg_ctl_start(&self) -> bool {
        // fsync off: the test stops the server cleanly (or as a crash of the process, which the
        // operating system's cache survives), never the machine.
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50",
            self.port,
            self.data.display()
        );
        self.command("pg_ctl")
            .args(["start", "-w", "-t", "60", "-D"])
            .arg(&self.data)
            .arg("-l")
            .arg(self.log_path())
            .args(["-o", &options])
            .output()
            .is_ok_and(|output| output.status.success())
    }

    /// `postgres://postgres@127.0.0.1:PORT/postgres`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops the server (`fast`: sessions are terminated, as in a restart by an operator).
    pub fn stop(&self) {
        let output = self.command("pg_ctl").args(["stop", "-w", "-m", "fast", "-D"]).arg(&self.data).output();
        assert!(output.is_ok_and(|output| output.status.success()), "pg_ctl stop failed: {}", self.log());
    }

    /// Starts it again on the same port and data directory.
    pub fn start_again(&self) {
        assert!(self.pg_ctl_start(), "the private PostgreSQL server did not start again: {}", self.log());
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = self.command("pg_ctl").args(["stop", "-w", "-m", "immediate", "-D"]).arg(&self.data).output();
    }
}
