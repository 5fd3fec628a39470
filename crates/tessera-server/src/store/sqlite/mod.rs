//! The SQLite store, on rusqlite: one writer thread that commits in groups (`writer`), a
//! small pool of read connections, and a checkpointer thread that keeps the WAL bounded.
//!
//! Every statement is prepared once per connection and cached (`prepare_cached`). Reads run
//! on the calling task's thread: they are single-row lookups by primary key that take
//! microseconds, far less than a hand-off to another thread would cost.

pub(crate) mod backup;
mod checkpoint;
mod dpop;
mod oidc;
mod refresh;
mod rows;
mod tables;
mod throttle;
mod tokens;
mod writer;

use super::{Backend, StoreError, StoreOptions, StoreResult};
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use writer::Writer;

/// At most this many read connections: enough for every runtime worker plus a request or two
/// in a blocking task. Fewer if `max_connections` says so (the CLI asks for 2).
const MAX_READERS: u32 = 4;

#[derive(Clone)]
pub struct SqliteStore {
    shared: Arc<Shared>,
}

struct Shared {
    url: String,
    writer: Writer,
    readers: Vec<Mutex<Connection>>,
    /// Where a read that found every connection busy waits next.
    next_reader: std::sync::atomic::AtomicUsize,
    checkpointer: checkpoint::Checkpointer,
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        StoreError::Sqlite(error)
    }
}

/// Opens one connection with the settings every connection shares: WAL (readers run beside
/// the writer), `synchronous=FULL` (a committed rotation survives power loss), foreign keys,
/// a busy timeout (another process, `tessera client create` say, may hold the write lock),
/// and no automatic checkpoints (the checkpointer does them, off the writer's path).
fn open(file: &Path, busy_timeout: Duration) -> StoreResult<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let connection = Connection::open_with_flags(file, flags)?;
    connection.busy_timeout(busy_timeout)?;
    connection.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
         PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = 67108864;",
    )?;
    connection.set_prepared_statement_cache_capacity(64);
    Ok(connection)
}

impl SqliteStore {
    /// Opens the database file (created, readable by its owner only, if missing) with the
    /// writer, the readers and the checkpointer. Does not migrate.
    pub fn connect(url: &str, file: PathBuf, options: &StoreOptions) -> StoreResult<SqliteStore> {
        super::create_private_file(&file);
        let busy = options.statement_timeout;
        let writer_connection = open(&file, busy)?;
        let readers = (0..options.max_connections.clamp(1, MAX_READERS))
            .map(|_| open(&file, busy).map(Mutex::new))
            .collect::<StoreResult<Vec<_>>>()?;
        let checkpointer = checkpoint::Checkpointer::start(open(&file, busy)?, &file)?;
        let nudge = checkpointer.nudger();
        let writer = Writer::start(writer_connection, move || nudge.nudge())?;
        Ok(SqliteStore {
            shared: Arc::new(Shared {
                url: url.to_owned(),
                writer,
                readers,
                next_reader: Default::default(),
                checkpointer,
            }),
        })
    }

    pub fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    /// Applies pending migrations with sqlx's migrator, exactly as earlier releases did, so
    /// that `_sqlx_migrations` (versions, checksums) stays the one history of the schema: a
    /// database made by any release opens here, and one made here opens there. A separate,
    /// short-lived sqlx connection does it, under the same file lock as before.
    pub async fn migrate(&self) -> StoreResult<()> {
        let options = StoreOptions { max_connections: 1, ..StoreOptions::default() };
        let migrator = super::postgres::PostgresStore::connect(&self.shared.url, &options).await?;
        let migrated = migrator.migrate().await;
        migrator.close().await;
        migrated
    }

    /// Stops the writer (after the group in hand) and the checkpointer.
    pub async fn close(&self) {
        let shared = self.shared.clone();
        let _ = tokio::task::spawn_blocking(move || {
            shared.writer.stop();
            shared.checkpointer.stop();
        })
        .await;
    }

    pub async fn ping(&self) -> StoreResult<()> {
        self.read(|connection| Ok(connection.prepare_cached("SELECT 1")?.query_row([], |_| Ok(()))?))
    }

    /// Runs a read on a free read connection, on this thread. If all are busy (more
    /// concurrent reads than connections), waits for one in a blocking task instead.
    fn read<T>(&self, query: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        for reader in &self.shared.readers {
            if let Ok(connection) = reader.try_lock() {
                return query(&connection);
            }
        }
        let index = self.shared.next_reader.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let connection = self.shared.readers[index % self.shared.readers.len()]
            .lock()
            .map_err(|_| StoreError::Unavailable("an SQLite read connection was poisoned".into()))?;
        query(&connection)
    }

    async fn write<T, F>(&self, operation: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        self.shared.writer.write(operation).await
    }

    #[cfg(feature = "fault-injection")]
    /// Tests: hold (`true`) or release the writer's groups, and see how many wait.
    pub fn pause_writer(&self, paused: bool) {
        self.shared.writer.state.paused.store(paused, std::sync::atomic::Ordering::Relaxed);
    }

    /// The writer's counters so far.
    pub fn writer_stats(&self) -> super::WriterStats {
        use std::sync::atomic::Ordering::Relaxed;
        let state = &self.shared.writer.state;
        super::WriterStats {
            queue_depth: state.queued.load(Relaxed) as u64,
            groups: state.groups.load(Relaxed),
            operations: state.operations.load(Relaxed),
            failed_groups: state.failed_groups.load(Relaxed),
        }
    }

    /// The read connections, and how many are running a query now (one that cannot be locked
    /// at this instant is busy; the probe holds an idle one for no more than a lock and unlock).
    pub fn pool_stats(&self) -> super::PoolStats {
        let readers = &self.shared.readers;
        let busy = readers.iter().filter(|reader| reader.try_lock().is_err()).count();
        super::PoolStats { connections: readers.len() as u64, busy: busy as u64 }
    }

    #[cfg(feature = "fault-injection")]
    /// Tests: make the next group's COMMIT fail.
    pub fn fail_next_commit(&self) {
        self.shared.writer.state.fail_next_commit.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pragmas(connection: &Connection) -> (String, i64, i64, i64) {
        let text = |name: &str| connection.query_row(&format!("PRAGMA {name}"), [], |row| row.get::<_, String>(0));
        let number = |name: &str| connection.query_row(&format!("PRAGMA {name}"), [], |row| row.get::<_, i64>(0));
        (
            text("journal_mode").unwrap(),
            number("synchronous").unwrap(),
            number("foreign_keys").unwrap(),
            number("wal_autocheckpoint").unwrap(),
        )
    }

    /// What makes an acknowledged write durable, pinned: WAL, `synchronous=FULL` (2) and
    /// foreign keys on every connection, and no automatic checkpoint on the writer's path.
    #[tokio::test]
    async fn every_connection_is_wal_synchronous_full_with_foreign_keys() {
        let directory = std::env::temp_dir().join(format!("tessera-sqlite-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&directory).unwrap();
        let file = directory.join("t.db");
        let url = format!("sqlite://{}", file.display());
        let store = SqliteStore::connect(&url, file, &StoreOptions::default()).unwrap();
        let expected = ("wal".to_owned(), 2, 1, 0);
        for reader in &store.shared.readers {
            assert_eq!(pragmas(&reader.lock().unwrap()), expected);
        }
        assert_eq!(store.write(|connection| Ok(pragmas(connection))).await.unwrap(), expected);
        store.close().await;
        let _ = std::fs::remove_dir_all(&directory);
    }
}
