//! Storage: one set of methods ([`Store`]), one implementation per backend, one migration
//! folder per backend.
//!
//! - `sqlite`: rusqlite, one writer thread that commits waiting operations in groups (one
//!   fsync for many requests), read connections used in place; see `sqlite/writer.rs`.
//!   It also serves in-memory databases, and runs the SQLite migrations itself, recorded in
//!   `_sqlx_migrations` as the sqlx releases did (see `sqlite/migrate.rs`).
//! - `postgres`: sqlx, a pool, portable SQL over `sqlx::Any` (whose one driver is PostgreSQL).
//!
//! Both apply the same rules the same way (rotation is a compare-and-set `UPDATE … WHERE
//! used_at IS NULL` plus the successor's insert, atomically), and the conformance suite runs
//! every HTTP test on both.

pub mod account;
pub mod audit;
pub mod console;
pub mod counts;
mod device;
mod forward;
mod oidc;
mod postgres;
mod refresh;
mod rows;
mod sqlite;
mod throttle;

pub use device::*;
pub use oidc::*;
pub use refresh::{Refresh, RefreshDecider, Refreshed, SPENT_TOKENS_KEPT};
pub use rows::*;
pub use throttle::{Reservation, SignInWindow};

use std::time::Duration;
use tessera_core::Timestamp;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} already exists")]
    Conflict(&'static str),
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
    // The sqlx error is shown in the message and deliberately not exposed as `source()`:
    // sqlx's own messages already include their causes, so a `{:#}` chain would repeat them.
    #[error("database error: {0}")]
    Database(sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(sqlx::migrate::MigrateError),
    // Its message names the migration; shown, not chained as `source()`, like `Database`.
    #[error("{0}")]
    SqliteMigrate(sqlite::migrate::MigrateError),
    #[error("stored row is corrupt: {0}")]
    Corrupt(String),
    #[error("SQLite error: {0}")]
    Sqlite(rusqlite::Error),
    /// The store could not keep a write it was given (the group commit that held it failed),
    /// or is shutting down. Nothing of the operation was kept; the client may retry: the
    /// HTTP layer answers 503 with `Retry-After`.
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

impl StoreError {
    /// Errors a retry may cure: PostgreSQL serialization failures and deadlocks, SQLite busy.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Database(sqlx::Error::Database(db)) => {
                matches!(db.code().as_deref(), Some("40001" | "40P01" | "5" | "6" | "517"))
            }
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(failure, _)) => {
                matches!(failure.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            }
            _ => false,
        }
    }

    /// Whether the client should be told to come back shortly (503 with `Retry-After`)
    /// rather than be answered with an internal error.
    ///
    /// Besides a write the store could not keep (on SQLite, a full disk fails the group
    /// commit): a database that cannot be reached, is restarting or is out of resources (no
    /// connection within the pool's acquire timeout, a connection refused or cut, PostgreSQL's
    /// SQLSTATE classes 08, 53 and 57P). None of these is retried in place (the database will
    /// not be back within the request); a retry by the client later is safe: a write whose
    /// commit answer was lost is, for a refresh, a grace-window replay.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Unavailable(_) => true,
            StoreError::Database(error) => database_unavailable(error),
            _ => false,
        }
    }
}

/// See [`StoreError::is_unavailable`]. SQLSTATEs have five characters (SQLite's codes, which
/// sqlx reports for in-memory databases, are shorter numbers).
fn database_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(database) => database.code().is_some_and(|code| {
            code.len() == 5 && (code.starts_with("08") || code.starts_with("53") || code.starts_with("57P"))
        }),
        _ => false,
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        StoreError::Database(error)
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(error: sqlx::migrate::MigrateError) -> Self {
        StoreError::Migrate(error)
    }
}

impl From<sqlite::migrate::MigrateError> for StoreError {
    fn from(error: sqlite::migrate::MigrateError) -> Self {
        StoreError::SqliteMigrate(error)
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of_url(url: &str) -> StoreResult<Backend> {
        crate::config::DatabaseUrl::parse(url)
            .map(|url| url.backend())
            .map_err(|_| StoreError::UnsupportedUrl(redact_url(url)))
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

// Parsed in `config`, with the `url` crate; re-exported where callers have always found them.
pub use crate::config::{redact_url, sqlite_path};
pub use sqlite::backup::{BackupError, BackupSummary, backup_sqlite};

#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// PostgreSQL: the pool's size. SQLite: read connections, at most 4 (the writer has its own).
    pub max_connections: u32,
    /// PostgreSQL `statement_timeout`; SQLite's equivalent is its busy timeout.
    pub statement_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions { max_connections: 10, statement_timeout: Duration::from_secs(10) }
    }
}

/// The store: one backend's implementation behind one set of methods. The service calls
/// `store.method(…)` without knowing which backend answers; [`forward!`] writes each method
/// once as a dispatch to the backend, so both backends must offer the same signatures.
#[derive(Clone)]
pub struct Store {
    inner: Inner,
}

#[derive(Clone)]
enum Inner {
    Sqlite(sqlite::SqliteStore),
    Postgres(postgres::PostgresStore),
}

impl Store {
    /// Connects, creating an SQLite file if it does not exist. Does not migrate.
    pub async fn connect(url: &str, options: &StoreOptions) -> StoreResult<Store> {
        let inner = match Backend::of_url(url)? {
            Backend::Sqlite => {
                // A URL without a file (`sqlite::memory:`, `sqlite://:memory:`) is in memory.
                let location = match sqlite_path(url) {
                    Some(file) => sqlite::Location::File(file),
                    None => sqlite::Location::Memory,
                };
                let options = options.clone();
                let store = tokio::task::spawn_blocking(move || sqlite::SqliteStore::connect(location, &options))
                    .await
                    .map_err(|error| StoreError::Unavailable(format!("opening the database failed: {error}")))??;
                Inner::Sqlite(store)
            }
            Backend::Postgres => Inner::Postgres(postgres::PostgresStore::connect(url, options).await?),
        };
        Ok(Store { inner })
    }
}

/// Creates a missing SQLite database file readable by its owner only (it holds password
/// hashes and token hashes); an existing file is left as it is. Errors are left for the
/// connection attempt to report.
fn create_private_file(path: &std::path::Path) {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let _ = options.open(path);
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("backend", &self.backend()).finish_non_exhaustive()
    }
}

/// One rule of the janitor (see `purge_expired` in `postgres/`): rows of `table` whose
/// `condition` holds for the cutoff `$1` go, `key` identifying them. Written out here, never
/// from input, once for both backends.
pub(crate) struct PurgeRule {
    pub table: &'static str,
    pub key: &'static str,
    pub condition: &'static str,
    pub cutoff: Timestamp,
}

/// The janitor's rules at `now`, for access tokens living `access_ttl`.
pub(crate) fn purge_rules(now: Timestamp, access_ttl: Duration) -> [PurgeRule; 10] {
    let day_ago = now.minus(Duration::from_secs(86_400));
    let rule = |table, key, condition, cutoff| PurgeRule { table, key, condition, cutoff };
    let family_ended = now.minus(access_ttl);
    [
        rule("refresh_tokens", "token_hash", "idle_expires_at < $1 AND used_at IS NULL", now),
        // An ended family's tokens go in batches first, and the family once it has none left,
        // so that no DELETE cascades through a family's tokens (one that an earlier release
        // let grow may hold thousands) while the SQLite writer waits.
        rule(
            "refresh_tokens",
            "token_hash",
            "family_id IN (SELECT family_id FROM refresh_families WHERE expires_at < $1 OR revoked_at < $1)",
            family_ended,
        ),
        rule(
            "refresh_families",
            "family_id",
            "(expires_at < $1 OR revoked_at < $1) \
             AND NOT EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.family_id = refresh_families.family_id)",
            family_ended,
        ),
        rule("revoked_access_tokens", "jti", "expires_at < $1", now),
        // Codes live a minute; kept a day past expiry so a late replay is still recognised
        // (and revokes what the code started) rather than reported as unknown.
        rule("authorization_codes", "code_hash", "expires_at < $1", day_ago),
        rule("browser_sessions", "session_hash", "expires_at < $1", now),
        // Sign-in counters whose window closed long ago (a window is at most a day).
        rule("sign_in_attempts", "counter", "window_started_at < $1", day_ago),
        // Device codes live ten minutes; kept a day, like authorization codes.
        rule("device_codes", "device_code_hash", "expires_at < $1", day_ago),
        rule("device_code_failures", "subject", "window_started_at < $1", day_ago),
        // DPoP proofs past their window: their iat is refused anyway (RFC 9449 §11.1).
        rule("dpop_proofs", "proof_hash", "expires_at < $1", now),
    ]
}

/// Tables whose size is worth watching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountedTable {
    RefreshTokens,
    RefreshFamilies,
    RevokedAccessTokens,
}

impl CountedTable {
    pub(crate) fn name(self) -> &'static str {
        match self {
            CountedTable::RefreshTokens => "refresh_tokens",
            CountedTable::RefreshFamilies => "refresh_families",
            CountedTable::RevokedAccessTokens => "revoked_access_tokens",
        }
    }
}

/// The SQLite writer's counters, for `/metrics`: how many operations wait now, and how many
/// groups (transactions, so fsyncs) and operations it has committed or failed so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterStats {
    pub queue_depth: u64,
    pub groups: u64,
    pub operations: u64,
    pub failed_groups: u64,
}

/// The connections a store holds, for `/metrics`: how many are open and how many are in use
/// now. SQLite: its read connections (the writer's is apart); PostgreSQL: its sqlx pool.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    pub connections: u64,
    pub busy: u64,
}

/// Tests: reach into the SQLite writer (see [`Store::sqlite_writer_hooks`]).
#[cfg(feature = "fault-injection")]
pub struct SqliteWriterHooks<'a>(&'a sqlite::SqliteStore);

#[cfg(feature = "fault-injection")]
impl SqliteWriterHooks<'_> {
    /// While paused, the writer holds the operations it receives instead of running them.
    pub fn pause(&self, paused: bool) {
        self.0.pause_writer(paused);
    }

    /// Operations sent to the writer and not yet answered.
    pub fn queue_depth(&self) -> usize {
        self.0.writer_stats().queue_depth as usize
    }

    /// The next group's COMMIT fails: every operation in it is answered `Unavailable`.
    pub fn fail_next_commit(&self) {
        self.0.fail_next_commit();
    }
}
