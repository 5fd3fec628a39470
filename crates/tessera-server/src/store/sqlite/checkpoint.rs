//! WAL checkpoints, off the writer's path. The writer's connection never checkpoints
//! (`wal_autocheckpoint = 0`); this thread, on a connection of its own, runs a PASSIVE
//! checkpoint after commits (at most every [`PERIOD`]), which copies what it can without
//! blocking anyone, so that the writer can start the WAL over from its beginning. Should
//! the WAL still pass [`WAL_BOUND`] (readers that never let go, a burst the passive runs
//! could not catch up with), a TRUNCATE checkpoint waits for the writer once and empties it.

use super::super::{StoreError, StoreResult};
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

const PERIOD: Duration = Duration::from_millis(100);
const WAL_BOUND: u64 = 64 * 1024 * 1024;

enum Signal {
    Committed,
    Stop,
}

pub struct Checkpointer {
    sender: mpsc::SyncSender<Signal>,
    thread: std::sync::Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// What the writer holds to say "a group committed"; never blocks.
pub struct Nudger(mpsc::SyncSender<Signal>);

impl Nudger {
    pub fn nudge(&self) {
        let _ = self.0.try_send(Signal::Committed);
    }
}

impl Checkpointer {
    pub fn start(connection: Connection, database: &Path) -> StoreResult<Checkpointer> {
        let (sender, receiver) = mpsc::sync_channel(1);
        let mut wal = database.as_os_str().to_owned();
        wal.push("-wal");
        let wal = PathBuf::from(wal);
        let thread = std::thread::Builder::new()
            .name("tessera-sqlite-checkpoint".into())
            .spawn(move || run(&connection, &receiver, &wal))
            .map_err(|error| StoreError::Unavailable(format!("cannot start the SQLite checkpointer: {error}")))?;
        Ok(Checkpointer { sender, thread: std::sync::Mutex::new(Some(thread)) })
    }

    pub fn nudger(&self) -> Nudger {
        Nudger(self.sender.clone())
    }

    pub fn stop(&self) {
        let _ = self.sender.send(Signal::Stop);
        let thread = self.thread.lock().ok().and_then(|mut thread| thread.take());
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }
}

fn checkpoint(connection: &Connection, mode: &str) {
    let result = connection.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |_| Ok(()));
    if let Err(error) = result {
        tracing::debug!(%error, mode, "SQLite checkpoint failed; the next one will retry");
    }
}

fn run(connection: &Connection, receiver: &mpsc::Receiver<Signal>, wal: &Path) {
    while let Ok(Signal::Committed) = receiver.recv() {
        checkpoint(connection, "PASSIVE");
        if std::fs::metadata(wal).is_ok_and(|metadata| metadata.len() > WAL_BOUND) {
            checkpoint(connection, "TRUNCATE");
        }
        // At most one checkpoint per period: commits meanwhile leave one signal waiting.
        std::thread::sleep(PERIOD);
    }
    // A last full checkpoint, as sqlx's close did, so a stopped server leaves no WAL behind.
    checkpoint(connection, "TRUNCATE");
}
