//! The PostgreSQL store, over sqlx: a pool of connections and SQL with `$n` placeholders,
//! through `sqlx::Any` (PostgreSQL is its only driver: SQLite is `super::sqlite`'s, on rusqlite).

mod account;
mod audit;
mod console;
mod counts;
mod device;
mod dpop;
mod oidc;
mod refresh;
mod rows;
mod tables;
mod throttle;
mod tokens;

use super::{Backend, StoreError, StoreOptions, StoreResult};
use super::{CountedTable, PurgeRule, purge_rules};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor, Row};
use std::time::Duration;
use tessera_core::{Family, Scope, Timestamp, TokenHash};

/// Redeems a one-time code and starts the family it grants, in one transaction: `claim` is an
/// UPDATE that binds `$1` now, `$2` the family id and `$3` the code's hash, and changes one row
/// (the compare-and-set) or none. False, changing nothing, if it changed none.
async fn claim_code_and_start_family(
    store: &PostgresStore,
    claim: &'static str,
    code_hash: &TokenHash,
    now: Timestamp,
    family: &Family,
    first_token: Option<(&TokenHash, Timestamp)>,
) -> StoreResult<bool> {
    let mut tx = store.writer.begin().await?;
    let done = sqlx::query(claim)
        .bind(now.millis())
        .bind(family.id.as_str())
        .bind(code_hash.as_str())
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() != 1 {
        tx.rollback().await?;
        return Ok(false);
    }
    insert_family(&mut tx, family, first_token).await?;
    tx.commit().await?;
    Ok(true)
}

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

/// How long a request waits for a PostgreSQL connection. sqlx keeps retrying a refused
/// connection until then, so this is how long requests take to learn the database is down:
/// short, so that they get `503` with `Retry-After` at once instead of hanging (a healthy pool
/// hands out a connection in milliseconds).
const POSTGRES_ACQUIRE_TIMEOUT: Duration = Duration::from_millis(800);

#[derive(Clone)]
pub struct PostgresStore {
    /// Reads.
    pool: AnyPool,
    /// Writes: the same pool.
    writer: AnyPool,
    /// Always `Backend::Postgres` now that SQLite has its own store.
    backend: Backend,
}

const PAT_SELECT: &str = "SELECT p.token_hash, p.pat_id, p.user_id, u.username, p.name, p.scope, p.created_at, \
     p.expires_at, p.revoked_at FROM personal_access_tokens p JOIN users u ON u.user_id = p.user_id";

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
    /// Connects. Does not migrate. An SQLite URL is not this store's.
    pub async fn connect(url: &str, options: &StoreOptions) -> StoreResult<PostgresStore> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of_url(url)?;
        let timeout_ms = options.statement_timeout.as_millis();
        let (pool, writer) = match backend {
            Backend::Sqlite => return Err(StoreError::UnsupportedUrl(super::redact_url(url))),
            Backend::Postgres => {
                // No ping before every acquire (sqlx's default): it doubled the round trips of
                // every query. A connection the server dropped fails its next query once, which
                // closes it; the pool opens a fresh one. Waiting for a connection is bounded by
                // a second, so that a database that is down is answered with 503 promptly.
                let pool = AnyPoolOptions::new()
                    .max_connections(options.max_connections)
                    .test_before_acquire(false)
                    .acquire_timeout(POSTGRES_ACQUIRE_TIMEOUT)
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
        Ok(PostgresStore { pool, writer, backend })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Applies pending migrations, once even when several processes start together: sqlx
    /// holds an advisory lock while it migrates.
    pub async fn migrate(&self) -> StoreResult<()> {
        POSTGRES_MIGRATIONS.run(&self.writer).await?;
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
