//! The SQLite writer: one thread owns the one write connection and commits the operations
//! that are waiting, together, in one transaction (group commit).
//!
//! An operation is acknowledged only after the COMMIT that holds it has returned, and the
//! connection runs with `synchronous=FULL`, so nothing acknowledged is lost to `kill -9` or
//! power loss. Each operation runs inside its own SAVEPOINT: one that fails (a unique
//! violation, say) is rolled back alone and answered with its error, and the others commit.
//! If the COMMIT itself fails, every operation of the group is answered with
//! [`StoreError::Unavailable`] and none of them took effect.

use super::super::{StoreError, StoreResult};
use rusqlite::Connection;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;
use tokio::sync::oneshot;

/// At most this many operations share one transaction: a bound on how long the first of
/// them waits for the others' work.
const MAX_GROUP: usize = 512;

/// Answers an operation once the fate of its group is known: `None` if the group committed.
type Completion = Box<dyn FnOnce(Option<StoreError>) + Send>;

/// One operation waiting for the writer, with the channel its answer goes back on.
trait Job: Send {
    /// Runs on the write connection; says whether it succeeded (so that its savepoint is
    /// released or rolled back) and how to answer it once the group's fate is known.
    fn run(self: Box<Self>, connection: &Connection) -> (bool, Completion);
    /// Answers without running: the group's transaction was already lost.
    fn fail(self: Box<Self>, error: StoreError);
}

struct Pending<T, F> {
    operation: F,
    reply: oneshot::Sender<StoreResult<T>>,
}

impl<T, F> Job for Pending<T, F>
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
{
    fn run(self: Box<Self>, connection: &Connection) -> (bool, Completion) {
        let Pending { operation, reply } = *self;
        let result = operation(connection);
        let succeeded = result.is_ok();
        let completion: Completion = Box::new(move |group_error| {
            let _ = reply.send(match group_error {
                Some(error) => Err(error),
                None => result,
            });
        });
        (succeeded, completion)
    }

    fn fail(self: Box<Self>, error: StoreError) {
        let _ = self.reply.send(Err(error));
    }
}

enum Message {
    Job(Box<dyn Job>),
    Stop,
}

/// Knobs for tests, and the counters `/metrics` may read.
#[derive(Debug, Default)]
pub struct WriterState {
    /// Operations sent and not yet answered.
    pub queued: AtomicUsize,
    /// Groups finished (committed or failed), and the operations they held: their ratio is
    /// the mean group size.
    pub groups: AtomicU64,
    pub operations: AtomicU64,
    /// Groups whose BEGIN or COMMIT failed.
    pub failed_groups: AtomicU64,
    /// Tests: while set, the writer holds the operations it receives instead of running them.
    pub paused: AtomicBool,
    /// Tests: the next group's COMMIT fails (the transaction is rolled back instead).
    pub fail_next_commit: AtomicBool,
}

/// The handle the store keeps: sends operations to the writer thread.
pub struct Writer {
    sender: mpsc::Sender<Message>,
    thread: std::sync::Mutex<Option<std::thread::JoinHandle<()>>>,
    pub state: Arc<WriterState>,
}

impl Writer {
    /// Starts the writer thread on `connection`; `after_commit` runs after every group (the
    /// checkpointer's nudge).
    pub fn start(connection: Connection, after_commit: impl Fn() + Send + 'static) -> StoreResult<Writer> {
        let (sender, receiver) = mpsc::channel();
        let state = Arc::new(WriterState::default());
        let thread_state = state.clone();
        let thread = std::thread::Builder::new()
            .name("tessera-sqlite-writer".into())
            .spawn(move || run(connection, receiver, &thread_state, after_commit))
            .map_err(|error| StoreError::Unavailable(format!("cannot start the SQLite writer: {error}")))?;
        Ok(Writer { sender, thread: std::sync::Mutex::new(Some(thread)), state })
    }

    /// Runs `operation` in the next group and answers once that group has committed.
    pub async fn write<T, F>(&self, operation: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Box<dyn Job> = Box::new(Pending { operation, reply });
        self.state.queued.fetch_add(1, Ordering::Relaxed);
        if self.sender.send(Message::Job(job)).is_err() {
            self.state.queued.fetch_sub(1, Ordering::Relaxed);
            return Err(StoreError::Unavailable("the SQLite writer has stopped".into()));
        }
        answer.await.map_err(|_| StoreError::Unavailable("the SQLite writer has stopped".into()))?
    }

    /// Finishes the group in hand and stops the thread.
    pub fn stop(&self) {
        let _ = self.sender.send(Message::Stop);
        let thread = self.thread.lock().ok().and_then(|mut thread| thread.take());
        if let Some(thread) = thread {
            let _ = thread.join();
            let groups = self.state.groups.load(Ordering::Relaxed);
            let operations = self.state.operations.load(Ordering::Relaxed);
            let failed = self.state.failed_groups.load(Ordering::Relaxed);
            tracing::debug!(groups, operations, failed, "SQLite writer stopped");
        }
    }
}

fn run(connection: Connection, receiver: mpsc::Receiver<Message>, state: &WriterState, after_commit: impl Fn()) {
    let mut group: Vec<Box<dyn Job>> = Vec::with_capacity(MAX_GROUP);
    let mut stopping = false;
    while !stopping {
        match receiver.recv() {
            Ok(Message::Job(job)) => group.push(job),
            Ok(Message::Stop) | Err(_) => break,
        }
        while state.paused.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(1));
        }
        while group.len() < MAX_GROUP {
            match receiver.try_recv() {
                Ok(Message::Job(job)) => group.push(job),
                Ok(Message::Stop) => {
                    stopping = true;
                    break;
                }
                Err(_) => break,
            }
        }
        commit_group(&connection, group.drain(..), state);
        after_commit();
    }
}

fn execute(connection: &Connection, sql: &str) -> rusqlite::Result<()> {
    connection.prepare_cached(sql)?.execute([])?;
    Ok(())
}

/// Runs every job in one transaction, commits once, then answers them all.
fn commit_group(connection: &Connection, jobs: impl Iterator<Item = Box<dyn Job>>, state: &WriterState) {
    let mut completions: Vec<Completion> = Vec::new();
    let mut unrun: Vec<Box<dyn Job>> = Vec::new();
    let mut failure: Option<String> = None;
    if let Err(error) = execute(connection, "BEGIN IMMEDIATE") {
        failure = Some(format!("cannot begin a write transaction: {error}"));
    }
    for job in jobs {
        if failure.is_some() {
            // The transaction is lost: the job is answered with the group's error, unrun.
            unrun.push(job);
            continue;
        }
        if let Err(error) = execute(connection, "SAVEPOINT op") {
            failure = Some(format!("savepoint failed: {error}"));
            unrun.push(job);
            continue;
        }
        let (succeeded, completion) = job.run(connection);
        completions.push(completion);
        let closed = if succeeded {
            execute(connection, "RELEASE op")
        } else {
            execute(connection, "ROLLBACK TO op").and_then(|()| execute(connection, "RELEASE op"))
        };
        if let Err(error) = closed {
            failure = Some(format!("savepoint release failed: {error}"));
        }
    }
    if failure.is_none() {
        let injected = state.fail_next_commit.swap(false, Ordering::Relaxed);
        let committed = if injected {
            Err("injected commit failure".to_owned())
        } else {
            execute(connection, "COMMIT").map_err(|error| format!("commit failed: {error}"))
        };
        if let Err(error) = committed {
            failure = Some(error);
        }
    }
    if failure.is_some() && !connection.is_autocommit() {
        let _ = execute(connection, "ROLLBACK");
    }
    let group_error = || failure.as_ref().map(|error| StoreError::Unavailable(error.clone()));
    // The counters move before any answer goes out, so that whoever got an answer reads
    // counters that include it (a few relaxed additions per group, not per operation).
    let size = completions.len() + unrun.len();
    state.queued.fetch_sub(size, Ordering::Relaxed);
    state.groups.fetch_add(1, Ordering::Relaxed);
    state.operations.fetch_add(size as u64, Ordering::Relaxed);
    if let Some(error) = &failure {
        state.failed_groups.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(%error, operations = size, "SQLite group commit failed; nothing in it was kept");
    }
    for completion in completions {
        completion(group_error());
    }
    for job in unrun {
        job.fail(StoreError::Unavailable(failure.clone().unwrap_or_default()));
    }
}
