//! The PostgreSQL store, over sqlx: a pool of connections and portable SQL with `$n`
//! placeholders, through `sqlx::Any`. The same code also runs the SQLite migrations for
//! `super::sqlite` and serves in-memory SQLite databases.

mod dpop;
mod oidc;
mod refresh;
mod rows;
mod tables;
mod throttle;
mod tokens;

use super::{Backend, StoreError, StoreOptions, StoreResult};
use super::{CountedTable, PurgeRule, purge_rules, sqlite_path};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor, Row};
use std::time::Duration;
use tessera_core::{Family, Scope, Timestamp, TokenHash};

/// Inserts a family and, if given, its first refresh token (hash, idle expiry).
async fn insert_family(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    family: &Family,
    first_token: Option<(&TokenHash, Timestamp)>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO refresh_families (family_id, client_id, user_id, scope, created_at, expires_at, jkt) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(family.id.as_str())
    .bind(family.client_id.as_str())
    .bind(family.user_id.as_str())
    .bind(family.scope.to_string())
    .bind(family.created_at.millis())
    .bind(family.expires_at.millis())
    .bind(family.jkt.as_ref().map(|jkt| jkt.as_str().to_owned()))
    .execute(&mut **tx)
    .await?;
    if let Some((token, idle_expires_at)) = first_token {
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, family_id, created_at, idle_expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(token.as_str())
        .bind(family.id.as_str())
        .bind(family.created_at.millis())
        .bind(idle_expires_at.millis())
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

async fn sqlite_pool(url: &str, max_connections: u32, timeout_ms: u128) -> StoreResult<AnyPool> {
    let pool = AnyPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(move |connection, _| {
            Box::pin(async move {
                // WAL lets readers run beside the writer; synchronous=FULL makes a committed
                // rotation survive power loss, not just a process crash.
                connection.execute("PRAGMA journal_mode = WAL").await?;
                connection.execute("PRAGMA synchronous = FULL").await?;
                connection.execute("PRAGMA foreign_keys = ON").await?;
                connection.execute(format!("PRAGMA busy_timeout = {timeout_ms}").as_str()).await?;
                Ok(())
            })
        })
        .connect(url)
        .await?;
    Ok(pool)
}

/// Takes the exclusive migration lock of an SQLite database; released when the file is dropped.
async fn lock_migrations(database: &std::path::Path) -> StoreResult<std::fs::File> {
    let mut name = database.as_os_str().to_owned();
    name.push("-migrate.lock");
    let path = std::path::PathBuf::from(name);
    let locked = tokio::task::spawn_blocking(move || {
        let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path)?;
        file.lock()?;
        Ok::<_, std::io::Error>(file)
    })
    .await
    .map_err(|error| StoreError::Database(sqlx::Error::Io(std::io::Error::other(error))))?;
    locked.map_err(|error| StoreError::Database(sqlx::Error::Io(error)))
}

/// How long a query waits for a pooled PostgreSQL connection before the store gives up
/// (`StoreError::Database(PoolTimedOut)`).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub struct PostgresStore {
    /// Reads.
    pool: AnyPool,
    /// Writes. The same pool on PostgreSQL; on SQLite a pool of one connection (see `connect`).
    writer: AnyPool,
    backend: Backend,
    /// The SQLite database file, if any: migrations lock a file beside it.
    sqlite_file: Option<std::path::PathBuf>,
}

const PAT_SELECT: &str = "SELECT p.token_hash, p.pat_id, p.user_id, u.username, p.name, p.scope, p.created_at, \
     p.expires_at, p.revoked_at FROM personal_access_tokens p JOIN users u ON u.user_id = p.user_id";

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

fn ts(row: &AnyRow, column: &str) -> StoreResult<Timestamp> {
    Ok(Timestamp::from_millis(row.try_get::<i64, _>(column)?))
}

fn opt_ts(row: &AnyRow, column: &str) -> StoreResult<Option<Timestamp>> {
    Ok(row.try_get::<Option<i64>, _>(column)?.map(Timestamp::from_millis))
}

fn scope(row: &AnyRow, column: &str) -> StoreResult<Scope> {
    let text: String = row.try_get(column)?;
    Scope::parse(&text).map_err(|error| StoreError::Corrupt(error.to_string()))
}

fn unique_violation(error: sqlx::Error, what: &'static str) -> StoreError {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(what),
        _ => StoreError::Database(error),
    }
}

impl PostgresStore {
    /// Connects, creating an SQLite file if it does not exist. Does not migrate.
    pub async fn connect(url: &str, options: &StoreOptions) -> StoreResult<PostgresStore> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of_url(url)?;
        let timeout_ms = options.statement_timeout.as_millis();
        let (pool, writer) = match backend {
            Backend::Sqlite => {
                let file = sqlite_path(url);
                if let Some(path) = &file {
                    super::create_private_file(path);
                }
                let url = if url.contains("mode=") {
                    url.to_owned()
                } else if url.contains('?') {
                    format!("{url}&mode=rwc")
                } else {
                    format!("{url}?mode=rwc")
                };
                match file {
                    // SQLite has one writer at a time. Writers that collide wait in SQLite's
                    // busy handler, which sleeps in growing steps (up to 100 ms); one pooled
                    // writer connection makes them queue fairly in the pool instead, while
                    // readers use the other connections (WAL lets them run beside the writer).
                    Some(_) => (
                        sqlite_pool(&url, options.max_connections, timeout_ms).await?,
                        sqlite_pool(&url, 1, timeout_ms).await?,
                    ),
                    // Each connection to an in-memory database is a database of its own: one only.
                    None => {
                        let pool = sqlite_pool(&url, 1, timeout_ms).await?;
                        (pool.clone(), pool)
                    }
                }
            }
            Backend::Postgres => {
                // No ping before every acquire (sqlx's default): it doubled the round trips of
                // every query. A connection the server dropped fails its next query once, which
                // closes it; the pool opens a fresh one. Waiting for a connection is bounded by
                // a second, so that a database that is down is answered with 503 promptly.
                let pool = AnyPoolOptions::new()
                    .max_connections(options.max_connections)
                    .test_before_acquire(false)
                    .acquire_timeout(ACQUIRE_TIMEOUT)
                    .after_connect(move |connection, _| {
                        Box::pin(async move {
                            connection.execute(format!("SET statement_timeout = {timeout_ms}").as_str()).await?;
                            Ok(())
                        })
                    })
                    .connect(url)
                    .await?;
                (pool.clone(), pool)
            }
        };
        let sqlite_file = match backend {
            Backend::Sqlite => sqlite_path(url),
            Backend::Postgres => None,
        };
        Ok(PostgresStore { pool, writer, backend, sqlite_file })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Applies pending migrations, once even when several processes start together: on
    /// PostgreSQL sqlx holds an advisory lock while it migrates; SQLite has no such lock, so
    /// an exclusive lock on a file beside the database (`<database>-migrate.lock`) plays its part.
    pub async fn migrate(&self) -> StoreResult<()> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        let _guard = match &self.sqlite_file {
            Some(database) => Some(lock_migrations(database).await?),
            None => None,
        };
        migrator.run(&self.writer).await?;
        Ok(())
    }

    /// The pool's connections, open and in use (on PostgreSQL the writes share this pool).
    pub fn pool_stats(&self) -> super::PoolStats {
        let connections = u64::from(self.pool.size());
        let idle = self.pool.num_idle() as u64;
        super::PoolStats { connections, busy: connections.saturating_sub(idle) }
    }

    pub async fn close(&self) {
        self.writer.close().await;
        self.pool.close().await;
    }

    pub async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Deletes at most `batch` rows of each kind that no rule needs any more; returns how many.
    ///
    /// - unspent refresh tokens past their idle expiry: dead, and presenting one is refused
    ///   either way. Spent tokens stay with their family (its last few: rotation prunes the
    ///   older ones, see `store/refresh.rs`): presenting one, however late, is reuse and must
    ///   still revoke the family (a thief may be refreshing its successors);
    /// - families that ended (expired or revoked) longer ago than `access_ttl`: their last
    ///   access token has expired too, so nothing can refer to them. Their tokens go first, in
    ///   batches, and the family once it has none left;
    /// - revoked access-token ids whose token has expired;
    /// - authorization codes, browser sessions and sign-in failure counters past their use.
    pub async fn purge_expired(&self, now: Timestamp, access_ttl: Duration, batch: i64) -> StoreResult<u64> {
        let mut deleted = 0;
        for PurgeRule { table, key, condition, cutoff } in purge_rules(now, access_ttl) {
            deleted += sqlx::query(&format!(
                "DELETE FROM {table} WHERE {key} IN (SELECT {key} FROM {table} WHERE {condition} LIMIT $2)"
            ))
            .bind(cutoff.millis())
            .bind(batch)
            .execute(&self.writer)
            .await?
            .rows_affected();
        }
        Ok(deleted)
    }

    /// Row counts, for tests and `/metrics`.
    pub async fn count_rows(&self, table: CountedTable) -> StoreResult<i64> {
        let row = sqlx::query(&format!("SELECT COUNT(*) AS n FROM {}", table.name())).fetch_one(&self.pool).await?;
        Ok(row.try_get::<i64, _>("n")?)
    }
}
