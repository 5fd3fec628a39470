//! A full disk under SQLite: the database on a small tmpfs of the test's own, chains
//! refreshing, then a filler file takes the rest of the space. Writes that cannot be kept are
//! answered `503` with `Retry-After` (never `500`, never a hang); once the filler is deleted the
//! server serves again without a restart, no acknowledged token was lost, and
//! `PRAGMA integrity_check` finds the database intact. Mounting needs root: elsewhere the test
//! says so and passes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::{ChainLoad, HANG, assert_heads_refresh, assert_only_200_or_503, client_and_user};
use crate::support::{Server, TempDir, Tessera};

/// A tmpfs mounted for the test, unmounted on drop.
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount(at: PathBuf, size: &str) -> Option<SmallDisk> {
        std::fs::create_dir_all(&at).unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0700"), "tmpfs"])
            .arg(&at)
            .output();
        match mounted {
            Ok(output) if output.status.success() => Some(SmallDisk(at)),
            Ok(output) => {
                super::say(&format!(
                    "SKIPPED: cannot mount a tmpfs here: {}",
                    String::from_utf8_lossy(&output.stderr).trim()
                ));
                None
            }
            Err(error) => {
                super::say(&format!("SKIPPED: cannot run mount: {error}"));
                None
            }
        }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Writes `path` until the file system refuses; returns the bytes written.
fn fill(path: &Path) -> u64 {
    let mut file = std::fs::File::create(path).unwrap();
    let chunk = vec![0xA5u8; 16 * 1024];
    let mut written = 0;
    loop {
        match file.write(&chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => written += n as u64,
        }
    }
    let _ = file.sync_all();
    written
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_on_a_full_disk_answers_503_and_recovers_intact() {
    let dir = TempDir::new("full-disk");
    let Some(disk) = SmallDisk::mount(dir.path().join("disk"), "32m") else { return };
    let database = disk.0.join("t.db");
    let url = format!("sqlite://{}", database.display());
    let client = client_and_user(&dir, &url, None).await;
    let mut server =
        Server::start(Tessera::in_dir(&dir).args(["serve", "--listen", "127.0.0.1:0", "--database-url", &url])).await;
    let log = server.drain_stderr();
    let http = reqwest::Client::new();
    let base_urls = [server.base_url.clone()];
    let load = ChainLoad::start(&http, &base_urls, &client, 4).await;
    load.wait_for(100).await;

    let filler = disk.0.join("filler");
    let filled = fill(&filler);
    let full_at = Instant::now();
    // The database grows with every rotation (spent tokens are kept), so writes soon need space.
    let first_503 = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            if let Some(event) = load.seen_after(full_at, 503) {
                return event;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no 503 within a minute of a full disk: {:?}", load.summary()));
    let first_503_after = first_503.sent.saturating_duration_since(full_at) + first_503.took;
    tokio::time::sleep(Duration::from_secs(2)).await;

    std::fs::remove_file(&filler).unwrap();
    let freed_at = Instant::now();
    load.wait_for(100).await;
    let recovered = load.seen_after(freed_at, 200).expect("a 200 after space returned");
    let recovered_in = recovered.sent.saturating_duration_since(freed_at) + recovered.took;
    let summary = load.summary();
    let (heads, events) = load.stop().await;
    assert_only_200_or_503(&events);
    assert_heads_refresh(&http, &base_urls[0], &client, &heads).await;
    server.stop().await;
    let log = log.await.unwrap();
    assert!(!log.contains("internal error"), "the server logged an internal error:\n{log}");

    let connection = rusqlite::Connection::open(&database).unwrap();
    let integrity: String = connection.query_row("PRAGMA integrity_check", [], |row| row.get(0)).unwrap();
    assert_eq!(integrity, "ok");
    let slowest = events.iter().map(|e| e.took).max().unwrap_or_default();
    assert!(slowest < HANG);
    super::say(&format!(
        "fault figures: full disk: filler took {filled} bytes; first 503 {first_503_after:?} after the disk filled; \
         first 200 {recovered_in:?} after space returned; slowest answer {slowest:?}; answers by status {summary:?}; \
         integrity_check: {integrity}"
    ));
}
