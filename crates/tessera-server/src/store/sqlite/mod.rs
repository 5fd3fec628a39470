//! The SQLite store, on rusqlite: one writer thread that commits in groups (`writer`), a
//! small pool of read connections, and a checkpointer thread that keeps the WAL bounded.
//!
//! Every statement is prepared once per connection and cached (`prepare_cached`). Reads run
//! on the calling task's thread: they are single-row lookups by primary key that take
//! microseconds, far less than a hand-off to another thread would cost.
//!
//! An in-memory database (`sqlite::memory:`) is served the same way: its connections share
//! one database through SQLite's `memdb` VFS (a name starting with `/` is shared within the
//! process), which, unlike a shared cache, locks as a file does, so the busy timeout applies.

mod account;
mod audit;
pub(crate) mod backup;
mod checkpoint;
mod console;
mod counts;
mod device;
mod dpop;
pub mod migrate;
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

/// Where the database lives.
#[derive(Debug, Clone)]
pub enum Location {
    File(PathBuf),
    /// Private to this store: a fresh, uniquely named `memdb` database, gone when the store
    /// closes its last connection.
    Memory,
}

/// What every connection of one store opens.
#[derive(Debug, Clone)]
enum Target {
    File(PathBuf),
    /// A `file:/…?vfs=memdb` URI.
    Memory(String),
}

struct Shared {
    target: Target,
    writer: Writer,
    readers: Vec<Mutex<Connection>>,
    /// Where a read that found every connection busy waits next.
    next_reader: std::sync::atomic::AtomicUsize,
    checkpointer: checkpoint::Checkpointer,
}

/// Takes the exclusive migration lock of a database file; released when the file is dropped.
fn lock_migrations(database: &Path) -> StoreResult<std::fs::File> {
    let mut name = database.as_os_str().to_owned();
    name.push("-migrate.lock");
    let locked = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(PathBuf::from(name));
    let file = locked.and_then(|file| file.lock().map(|()| file));
    file.map_err(|error| StoreError::Unavailable(format!("cannot take the migration lock: {error}")))
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
fn open(target: &Target, busy_timeout: Duration) -> StoreResult<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let connection = match target {
        Target::File(file) => Connection::open_with_flags(file, flags)?,
        Target::Memory(uri) => Connection::open_with_flags(uri, flags | OpenFlags::SQLITE_OPEN_URI)?,
    };
    connection.busy_timeout(busy_timeout)?;
    connection.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
         PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = 67108864;",
    )?;
    connection.set_prepared_statement_cache_capacity(64);
    Ok(connection)
}

impl SqliteStore {
    /// Opens the database (a file is created, readable by its owner only, if missing) with
    /// the writer, the readers and the checkpointer. Does not migrate.
    pub fn connect(location: Location, options: &StoreOptions) -> StoreResult<SqliteStore> {
        let target = match location {
            Location::File(file) => {
                super::create_private_file(&file);
                Target::File(file)
            }
            Location::Memory => {
                Target::Memory(format!("file:/tessera-mem-{}?vfs=memdb", uuid::Uuid::new_v4().simple()))
            }
        };
        let busy = options.statement_timeout;
        // Processes opening a new file together would race to switch it to WAL, and SQLite
        // answers that race "database is locked" without waiting for its busy timeout: the
        // migration lock serializes the opening as it does the migrating.
        let _lock = match &target {
            Target::File(file) => Some(lock_migrations(file)?),
            Target::Memory(_) => None,
        };
        // The writer's connection first: it keeps an in-memory database alive.
        let writer_connection = open(&target, busy)?;
        let readers = (0..options.max_connections.clamp(1, MAX_READERS))
            .map(|_| open(&target, busy).map(Mutex::new))
            .collect::<StoreResult<Vec<_>>>()?;
        // An in-memory database has no WAL file: its checkpoints are no-ops.
        let wal_beside = match &target {
            Target::File(file) => file.clone(),
            Target::Memory(_) => PathBuf::new(),
        };
        let checkpointer = checkpoint::Checkpointer::start(open(&target, busy)?, &wal_beside)?;
        let nudge = checkpointer.nudger();
        let writer = Writer::start(writer_connection, move || nudge.nudge())?;
        Ok(SqliteStore {
            shared: Arc::new(Shared { target, writer, readers, next_reader: Default::default(), checkpointer }),
        })
    }

    pub fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    /// Applies pending migrations (see `migrate`), recorded in `_sqlx_migrations` as earlier
    /// releases did, so that a database made by any release opens here and one made here
    /// opens there. A separate, short-lived connection does it, holding an exclusive lock on
    /// `<database>-migrate.lock` as earlier releases did, so that processes starting
    /// together migrate once.
    pub async fn migrate(&self) -> StoreResult<()> {
        let target = self.shared.target.clone();
        tokio::task::spawn_blocking(move || {
            let _lock = match &target {
                Target::File(file) => Some(lock_migrations(file)?),
                Target::Memory(_) => None,
            };
            let mut connection = open(&target, Duration::from_secs(30))?;
            let applied = migrate::run(&mut connection, migrate::MIGRATIONS)?;
            if !applied.is_empty() {
                tracing::info!(?applied, "SQLite migrations applied");
            }
            Ok(())
        })
        .await
        .map_err(|error| StoreError::Unavailable(format!("migrating the database failed: {error}")))?
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
        let store = SqliteStore::connect(Location::File(file), &StoreOptions::default()).unwrap();
        let expected = ("wal".to_owned(), 2, 1, 0);
        for reader in &store.shared.readers {
            assert_eq!(pragmas(&reader.lock().unwrap()), expected);
        }
        assert_eq!(store.write(|connection| Ok(pragmas(connection))).await.unwrap(), expected);
        store.close().await;
        let _ = std::fs::remove_dir_all(&directory);
    }
}
