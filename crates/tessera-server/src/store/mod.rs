//! Storage: one set of methods ([`Store`]), one implementation per backend, one migration
//! folder per backend.
//!
//! - `postgres`: sqlx, a pool, portable SQL over `sqlx::Any`. For now it also serves SQLite.
//!
//! Both apply the same rules the same way (rotation is a compare-and-set `UPDATE … WHERE
//! used_at IS NULL` plus the successor's insert, atomically), and the conformance suite runs
//! every HTTP test on both.

mod forward;
mod postgres;
mod rows;

pub use rows::*;

use std::time::Duration;
use tessera_core::{FamilyId, Timestamp, TokenHash};

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
    #[error("stored row is corrupt: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// Errors a retry may cure: PostgreSQL serialization failures and deadlocks, SQLite busy.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Database(sqlx::Error::Database(db)) => {
                matches!(db.code().as_deref(), Some("40001" | "40P01" | "5" | "6" | "517"))
            }
            StoreError::Database(sqlx::Error::PoolTimedOut) => true,
            _ => false,
        }
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

#[derive(Debug, Clone)]
pub struct StoreOptions {
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
    Postgres(postgres::PostgresStore),
}

impl Store {
    /// Connects, creating an SQLite file if it does not exist. Does not migrate.
    pub async fn connect(url: &str, options: &StoreOptions) -> StoreResult<Store> {
        Backend::of_url(url)?;
        // For now one implementation serves both backends; the next change gives SQLite its own.
        let inner = Inner::Postgres(postgres::PostgresStore::connect(url, options).await?);
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

/// One rotation, as [`Store::rotate_refresh_token`] applies it.
#[derive(Debug, Clone, Copy)]
pub struct Rotation<'a> {
    /// The token presented, to be marked used.
    pub presented: &'a TokenHash,
    /// Its successor, to be inserted.
    pub successor: &'a TokenHash,
    pub family_id: &'a FamilyId,
    pub rotated_at: Timestamp,
    pub successor_idle_expires_at: Timestamp,
}

/// Whether `rotate_refresh_token`'s compare-and-set won.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotateOutcome {
    Rotated,
    /// Another request rotated the token first (or the family was revoked meanwhile).
    LostRace,
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
