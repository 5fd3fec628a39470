//! The PostgreSQL store, over sqlx: a pool of connections and portable SQL with `$n`
//! placeholders, through `sqlx::Any`. The same code also runs the SQLite migrations for
//! `super::sqlite` and serves in-memory SQLite databases.

mod rows;
mod tokens;

use super::rows::{CLIENT_COLUMNS, USER_COLUMNS};
use super::{Backend, ClientRow, SigningKeyRow, StoreError, StoreOptions, StoreResult, UserRow};
use super::{CountedTable, sqlite_path};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor, Row};
use std::time::Duration;
use tessera_core::{ClientId, Family, Scope, Timestamp, TokenHash, UserId};

/// Inserts a family and, if given, its first refresh token (hash, idle expiry).
async fn insert_family(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    family: &Family,
    first_token: Option<(&TokenHash, Timestamp)>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO refresh_families (family_id, client_id, user_id, scope, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(family.id.as_str())
    .bind(family.client_id.as_str())
    .bind(family.user_id.as_str())
    .bind(family.scope.to_string())
    .bind(family.created_at.millis())
    .bind(family.expires_at.millis())
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
                let pool = AnyPoolOptions::new()
                    .max_connections(options.max_connections)
                    .acquire_timeout(Duration::from_secs(30))
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

    // ---- clients ----------------------------------------------------------------------

    pub async fn insert_client(&self, client: &ClientRow) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO clients (client_id, name, secret_hash, redirect_uris, grant_types, scope, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(client.client_id.as_str())
        .bind(&client.name)
        .bind(client.secret_hash.as_ref().map(|h| h.as_str().to_owned()))
        .bind(serde_json::to_string(&client.redirect_uris).unwrap_or_else(|_| "[]".into()))
        .bind(client.grant_types.iter().map(|grant| grant.as_str()).collect::<Vec<_>>().join(" "))
        .bind(client.scope.to_string())
        .bind(client.created_at.millis())
        .execute(&self.writer)
        .await
        .map_err(|error| unique_violation(error, "a client with this id"))?;
        Ok(())
    }

    pub async fn get_client(&self, client_id: &ClientId) -> StoreResult<Option<ClientRow>> {
        let row = sqlx::query(&format!("SELECT {CLIENT_COLUMNS} FROM clients WHERE client_id = $1"))
            .bind(client_id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(ClientRow::from_any_row).transpose()
    }

    pub async fn list_clients(&self) -> StoreResult<Vec<ClientRow>> {
        let rows = sqlx::query(&format!("SELECT {CLIENT_COLUMNS} FROM clients ORDER BY created_at, client_id"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(ClientRow::from_any_row).collect()
    }

    /// Deletes a client and, by cascade, every token family issued to it.
    pub async fn delete_client(&self, client_id: &ClientId) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM clients WHERE client_id = $1")
            .bind(client_id.as_str())
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn set_client_secret(&self, client_id: &ClientId, secret_hash: &TokenHash) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE clients SET secret_hash = $1 WHERE client_id = $2 AND secret_hash IS NOT NULL")
            .bind(secret_hash.as_str())
            .bind(client_id.as_str())
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    // ---- users ------------------------------------------------------------------------

    pub async fn insert_user(&self, user: &UserRow) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO users (user_id, username, email, password_hash, is_admin, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(user.user_id.as_str())
        .bind(&user.username)
        .bind(user.email.clone())
        .bind(&user.password_hash)
        .bind(i64::from(user.is_admin))
        .bind(user.created_at.millis())
        .execute(&self.writer)
        .await
        .map_err(|error| unique_violation(error, "a user with this username"))?;
        Ok(())
    }

    pub async fn get_user_by_username(&self, username: &str) -> StoreResult<Option<UserRow>> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE username = $1"))
            .bind(username)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(UserRow::from_any_row).transpose()
    }

    pub async fn get_user(&self, user_id: &UserId) -> StoreResult<Option<UserRow>> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE user_id = $1"))
            .bind(user_id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(UserRow::from_any_row).transpose()
    }

    // ---- failed sign-ins ----------------------------------------------------------------

    /// Failed password checks for `username` in the window that is still open at `now`.
    pub async fn login_failures(&self, username: &str, window_opened_after: Timestamp) -> StoreResult<i64> {
        let row = sqlx::query("SELECT failures FROM login_failures WHERE username = $1 AND window_started_at > $2")
            .bind(username)
            .bind(window_opened_after.millis())
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(row) => row.try_get::<i64, _>("failures")?,
            None => 0,
        })
    }

    /// Counts one failed password check, opening a new window at `now` if the last one closed
    /// (that is, started before `window_opened_after`). One atomic upsert, so concurrent
    /// failures on several instances are all counted.
    pub async fn record_login_failure(
        &self,
        username: &str,
        now: Timestamp,
        window_opened_after: Timestamp,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO login_failures (username, window_started_at, failures) VALUES ($1, $2, 1) \
             ON CONFLICT (username) DO UPDATE SET \
               failures = CASE WHEN login_failures.window_started_at > $3 THEN login_failures.failures + 1 ELSE 1 END, \
               window_started_at = CASE WHEN login_failures.window_started_at > $3 \
                                        THEN login_failures.window_started_at ELSE $2 END",
        )
        .bind(username)
        .bind(now.millis())
        .bind(window_opened_after.millis())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    pub async fn clear_login_failures(&self, username: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM login_failures WHERE username = $1").bind(username).execute(&self.writer).await?;
        Ok(())
    }

    // ---- signing keys -----------------------------------------------------------------

    pub async fn insert_signing_key(&self, key: &SigningKeyRow) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO signing_keys (kid, algorithm, private_key, public_jwk, created_at, retired_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&key.kid)
        .bind(&key.algorithm)
        .bind(key.encrypted_private_key.clone())
        .bind(&key.public_jwk)
        .bind(key.created_at.millis())
        .bind(key.retired_at.map(Timestamp::millis))
        .execute(&self.writer)
        .await
        .map_err(|error| unique_violation(error, "a signing key with this kid"))?;
        Ok(())
    }

    /// Retires every active key except `keep`; returns how many were retired.
    pub async fn retire_signing_keys_except(&self, keep: &str, now: Timestamp) -> StoreResult<u64> {
        let done = sqlx::query("UPDATE signing_keys SET retired_at = $1 WHERE retired_at IS NULL AND kid <> $2")
            .bind(now.millis())
            .bind(keep)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected())
    }

    /// All keys, newest first.
    pub async fn list_signing_keys(&self) -> StoreResult<Vec<SigningKeyRow>> {
        let rows = sqlx::query(
            "SELECT kid, algorithm, private_key, public_jwk, created_at, retired_at FROM signing_keys \
             ORDER BY created_at DESC, kid",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(SigningKeyRow::from_any_row).collect()
    }

    // ---- janitor ----------------------------------------------------------------------

    /// Deletes at most `batch` rows of each kind that no rule needs any more; returns how many.
    ///
    /// - unspent refresh tokens past their idle expiry: dead, and presenting one is refused
    ///   either way. Spent tokens stay as long as their family: presenting one, however late,
    ///   is reuse and must still revoke the family (a thief may be refreshing its successors);
    ///   they go with the family. So the rows of one family are bounded by the refreshes it
    ///   can make before `TESSERA_REFRESH_MAX_TTL` ends it;
    /// - families that ended (expired or revoked) longer ago than `access_ttl`: their last
    ///   access token has expired too, so nothing can refer to them;
    /// - revoked access-token ids whose token has expired;
    /// - authorization codes, browser sessions and sign-in failure counters past their use.
    pub async fn purge_expired(&self, now: Timestamp, access_ttl: Duration, batch: i64) -> StoreResult<u64> {
        let day_ago = now.minus(Duration::from_secs(86_400));
        // (table, key column, condition on $1 = cutoff, cutoff): written out here, never from input.
        let purges: [(&str, &str, &str, Timestamp); 6] = [
            ("refresh_tokens", "token_hash", "idle_expires_at < $1 AND used_at IS NULL", now),
            ("refresh_families", "family_id", "expires_at < $1 OR revoked_at < $1", now.minus(access_ttl)),
            ("revoked_access_tokens", "jti", "expires_at < $1", now),
            // Codes live a minute; kept a day past expiry so a late replay is still recognised
            // (and revokes what the code started) rather than reported as unknown.
            ("authorization_codes", "code_hash", "expires_at < $1", day_ago),
            ("browser_sessions", "session_hash", "expires_at < $1", now),
            // Failure counters whose window closed long ago (a day is far past any window).
            ("login_failures", "username", "window_started_at < $1", day_ago),
        ];
        let mut deleted = 0;
        for (table, key, condition, cutoff) in purges {
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
