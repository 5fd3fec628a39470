//! Storage: one interface, written once in portable SQL over `sqlx::Any`, with one migration
//! folder per backend (SQLite, PostgreSQL).
//!
//! Why not one implementation per backend: the SQL Tessera needs (compare-and-set `UPDATE …
//! WHERE used_at IS NULL`, `INSERT … ON CONFLICT DO NOTHING`, sub-select `DELETE`s, `$n`
//! placeholders) is the same text on both, so writing it twice would only create two places
//! for a rotation bug to hide. What does differ — the DDL, connection pragmas, which errors
//! are transient — lives in the migration folders and in [`Backend`].

mod rows;

pub use rows::*;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor, Row};
use std::time::Duration;
use tessera_core::{
    ClientId, Family, FamilyId, Jti, RevocationReason, Scope, StoredRefreshToken, Timestamp, TokenHash, UserId,
};

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

#[derive(Clone)]
pub struct Store {
    /// Reads.
    pool: AnyPool,
    /// Writes. The same pool on PostgreSQL; on SQLite a pool of one connection (see `connect`).
    writer: AnyPool,
    backend: Backend,
    /// The SQLite database file, if any: migrations lock a file beside it.
    sqlite_file: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("backend", &self.backend).finish_non_exhaustive()
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

impl Store {
    /// Connects, creating an SQLite file if it does not exist. Does not migrate.
    pub async fn connect(url: &str, options: &StoreOptions) -> StoreResult<Store> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of_url(url)?;
        let timeout_ms = options.statement_timeout.as_millis();
        let (pool, writer) = match backend {
            Backend::Sqlite => {
                let file = sqlite_path(url);
                if let Some(path) = &file {
                    create_private_file(path);
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
        Ok(Store { pool, writer, backend, sqlite_file })
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
        row.as_ref().map(ClientRow::from_row).transpose()
    }

    pub async fn list_clients(&self) -> StoreResult<Vec<ClientRow>> {
        let rows = sqlx::query(&format!("SELECT {CLIENT_COLUMNS} FROM clients ORDER BY created_at, client_id"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(ClientRow::from_row).collect()
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
        row.as_ref().map(UserRow::from_row).transpose()
    }

    pub async fn get_user(&self, user_id: &UserId) -> StoreResult<Option<UserRow>> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE user_id = $1"))
            .bind(user_id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(UserRow::from_row).transpose()
    }

    // ---- refresh-token families -------------------------------------------------------

    /// Starts a family, with its first refresh token if the client may refresh, atomically.
    pub async fn create_family(
        &self,
        family: &Family,
        first_token: Option<(&TokenHash, Timestamp)>,
    ) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        insert_family(&mut tx, family, first_token).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A presented refresh token's state and its family, in one read.
    pub async fn find_refresh_token(&self, hash: &TokenHash) -> StoreResult<Option<(StoredRefreshToken, Family)>> {
        let row = sqlx::query(
            "SELECT t.family_id, t.created_at, t.idle_expires_at, t.used_at, s.used_at AS successor_used_at, \
                    f.client_id, f.user_id, f.scope, f.created_at AS family_created_at, f.expires_at, f.revoked_at \
             FROM refresh_tokens t \
             JOIN refresh_families f ON f.family_id = t.family_id \
             LEFT JOIN refresh_tokens s ON s.token_hash = t.successor_hash \
             WHERE t.token_hash = $1",
        )
        .bind(hash.as_str())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let family_id = FamilyId::new(row.try_get::<String, _>("family_id")?);
        let token = StoredRefreshToken {
            family_id: family_id.clone(),
            created_at: ts(&row, "created_at")?,
            idle_expires_at: ts(&row, "idle_expires_at")?,
            used_at: opt_ts(&row, "used_at")?,
            successor_used: opt_ts(&row, "successor_used_at")?.is_some(),
        };
        let family = Family {
            id: family_id,
            client_id: ClientId::new(row.try_get::<String, _>("client_id")?),
            user_id: UserId::new(row.try_get::<String, _>("user_id")?),
            scope: scope(&row, "scope")?,
            created_at: ts(&row, "family_created_at")?,
            expires_at: ts(&row, "expires_at")?,
            revoked_at: opt_ts(&row, "revoked_at")?,
        };
        Ok(Some((token, family)))
    }

    /// Rotation: marks `presented` used and inserts its successor, in one transaction.
    ///
    /// The `UPDATE … WHERE used_at IS NULL` is the compare-and-set that makes rotation
    /// atomic: of any number of concurrent calls, on one instance or many sharing a
    /// PostgreSQL database, exactly one sees a changed row; the rest get
    /// [`RotateOutcome::LostRace`] and nothing of theirs is written. On PostgreSQL the
    /// row lock taken by the first UPDATE makes the others wait and then re-check the
    /// condition (READ COMMITTED), so they never both win.
    pub async fn rotate_refresh_token(&self, rotation: &Rotation<'_>) -> StoreResult<RotateOutcome> {
        let Rotation { presented, successor, family_id, rotated_at: now, successor_idle_expires_at } = *rotation;
        let mut tx = self.writer.begin().await?;
        let marked = sqlx::query(
            "UPDATE refresh_tokens SET used_at = $1, successor_hash = $2 \
             WHERE token_hash = $3 AND used_at IS NULL \
               AND EXISTS (SELECT 1 FROM refresh_families f \
                           WHERE f.family_id = refresh_tokens.family_id AND f.revoked_at IS NULL)",
        )
        .bind(now.millis())
        .bind(successor.as_str())
        .bind(presented.as_str())
        .execute(&mut *tx)
        .await?;
        if marked.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(RotateOutcome::LostRace);
        }
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, family_id, created_at, idle_expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(successor.as_str())
        .bind(family_id.as_str())
        .bind(now.millis())
        .bind(successor_idle_expires_at.millis())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(RotateOutcome::Rotated)
    }

    /// Revokes a family (all its refresh tokens, and through `fid` its access tokens).
    /// Returns false if it was already revoked or does not exist.
    pub async fn revoke_family(
        &self,
        family_id: &FamilyId,
        now: Timestamp,
        reason: RevocationReason,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE refresh_families SET revoked_at = $1, revoked_reason = $2 WHERE family_id = $3 AND revoked_at IS NULL",
        )
        .bind(now.millis())
        .bind(reason.as_str())
        .bind(family_id.as_str())
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn get_family(&self, family_id: &FamilyId) -> StoreResult<Option<Family>> {
        let row = sqlx::query(
            "SELECT family_id, client_id, user_id, scope, created_at, expires_at, revoked_at \
             FROM refresh_families WHERE family_id = $1",
        )
        .bind(family_id.as_str())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(Family {
            id: FamilyId::new(row.try_get::<String, _>("family_id")?),
            client_id: ClientId::new(row.try_get::<String, _>("client_id")?),
            user_id: UserId::new(row.try_get::<String, _>("user_id")?),
            scope: scope(&row, "scope")?,
            created_at: ts(&row, "created_at")?,
            expires_at: ts(&row, "expires_at")?,
            revoked_at: opt_ts(&row, "revoked_at")?,
        }))
    }

    // ---- personal access tokens -------------------------------------------------------

    pub async fn insert_personal_access_token(&self, pat: &PersonalAccessTokenRow) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO personal_access_tokens (token_hash, pat_id, user_id, name, scope, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(pat.token_hash.as_str())
        .bind(&pat.pat_id)
        .bind(pat.user_id.as_str())
        .bind(&pat.name)
        .bind(pat.scope.to_string())
        .bind(pat.created_at.millis())
        .bind(pat.expires_at.map(Timestamp::millis))
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    pub async fn find_personal_access_token(&self, hash: &TokenHash) -> StoreResult<Option<PersonalAccessTokenRow>> {
        let row = sqlx::query(&format!("{PAT_SELECT} WHERE p.token_hash = $1"))
            .bind(hash.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(PersonalAccessTokenRow::from_row).transpose()
    }

    /// Every personal access token, or one user's, oldest first.
    pub async fn list_personal_access_tokens(
        &self,
        username: Option<&str>,
    ) -> StoreResult<Vec<PersonalAccessTokenRow>> {
        let rows = match username {
            Some(username) => {
                sqlx::query(&format!("{PAT_SELECT} WHERE u.username = $1 ORDER BY p.created_at, p.pat_id"))
                    .bind(username)
                    .fetch_all(&self.pool)
                    .await?
            }
            None => sqlx::query(&format!("{PAT_SELECT} ORDER BY p.created_at, p.pat_id")).fetch_all(&self.pool).await?,
        };
        rows.iter().map(PersonalAccessTokenRow::from_row).collect()
    }

    /// Returns false if no such token exists or it was already revoked.
    pub async fn revoke_personal_access_token(&self, pat_id: &str, now: Timestamp) -> StoreResult<bool> {
        let done =
            sqlx::query("UPDATE personal_access_tokens SET revoked_at = $1 WHERE pat_id = $2 AND revoked_at IS NULL")
                .bind(now.millis())
                .bind(pat_id)
                .execute(&self.writer)
                .await?;
        Ok(done.rows_affected() > 0)
    }

    // ---- authorization codes and browser sessions --------------------------------------

    pub async fn insert_authorization_code(&self, code: &AuthorizationCodeRow) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO authorization_codes (code_hash, client_id, user_id, redirect_uri, redirect_uri_given, \
             scope, code_challenge, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(code.code_hash.as_str())
        .bind(code.client_id.as_str())
        .bind(code.user_id.as_str())
        .bind(&code.redirect_uri)
        .bind(i64::from(code.redirect_uri_given))
        .bind(code.scope.to_string())
        .bind(code.code_challenge.clone())
        .bind(code.created_at.millis())
        .bind(code.expires_at.millis())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    pub async fn find_authorization_code(&self, hash: &TokenHash) -> StoreResult<Option<AuthorizationCodeRow>> {
        let row = sqlx::query(
            "SELECT code_hash, client_id, user_id, redirect_uri, redirect_uri_given, scope, code_challenge, \
             created_at, expires_at, used_at, family_id FROM authorization_codes WHERE code_hash = $1",
        )
        .bind(hash.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(AuthorizationCodeRow::from_row).transpose()
    }

    /// Redeems a code and starts the family it grants, in one transaction: marks the code
    /// used (compare-and-set, like refresh-token rotation) recording the family, and inserts
    /// the family. Returns false, changing nothing, if the code was already used. Because both
    /// happen together, a concurrent replay always finds the family to revoke.
    pub async fn redeem_authorization_code(
        &self,
        hash: &TokenHash,
        now: Timestamp,
        family: &Family,
        first_token: Option<(&TokenHash, Timestamp)>,
    ) -> StoreResult<bool> {
        let mut tx = self.writer.begin().await?;
        let done = sqlx::query(
            "UPDATE authorization_codes SET used_at = $1, family_id = $2 WHERE code_hash = $3 AND used_at IS NULL",
        )
        .bind(now.millis())
        .bind(family.id.as_str())
        .bind(hash.as_str())
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

    pub async fn insert_browser_session(
        &self,
        hash: &TokenHash,
        user_id: &UserId,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO browser_sessions (session_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(hash.as_str())
        .bind(user_id.as_str())
        .bind(now.millis())
        .bind(expires_at.millis())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// The user of a live browser session.
    pub async fn find_browser_session(&self, hash: &TokenHash, now: Timestamp) -> StoreResult<Option<UserRow>> {
        let row = sqlx::query(&format!(
            "SELECT {} FROM browser_sessions s JOIN users u ON u.user_id = s.user_id \
             WHERE s.session_hash = $1 AND s.expires_at > $2",
            USER_COLUMNS.split(", ").map(|column| format!("u.{column}")).collect::<Vec<_>>().join(", ")
        ))
        .bind(hash.as_str())
        .bind(now.millis())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(UserRow::from_row).transpose()
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

    // ---- access-token revocation ------------------------------------------------------

    pub async fn revoke_access_token(&self, jti: &Jti, expires_at: Timestamp) -> StoreResult<()> {
        sqlx::query("INSERT INTO revoked_access_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(jti.as_str())
            .bind(expires_at.millis())
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Whether an access token may still be honoured: its family (if any) exists and is not
    /// revoked, and its `jti` was not revoked on its own. One round trip.
    pub async fn access_token_revoked(&self, family_id: Option<&FamilyId>, jti: &Jti) -> StoreResult<bool> {
        let jti_revoked = sqlx::query("SELECT 1 AS hit FROM revoked_access_tokens WHERE jti = $1")
            .bind(jti.as_str())
            .fetch_optional(&self.pool)
            .await?
            .is_some();
        if jti_revoked {
            return Ok(true);
        }
        let Some(family_id) = family_id else { return Ok(false) };
        let family = sqlx::query("SELECT revoked_at FROM refresh_families WHERE family_id = $1")
            .bind(family_id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        // A family that no longer exists was purged after it ended: fail closed.
        Ok(match family {
            None => true,
            Some(row) => opt_ts(&row, "revoked_at")?.is_some(),
        })
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
        rows.iter().map(SigningKeyRow::from_row).collect()
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

/// Tables whose size is worth watching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountedTable {
    RefreshTokens,
    RefreshFamilies,
    RevokedAccessTokens,
}

impl CountedTable {
    fn name(self) -> &'static str {
        match self {
            CountedTable::RefreshTokens => "refresh_tokens",
            CountedTable::RefreshFamilies => "refresh_families",
            CountedTable::RevokedAccessTokens => "revoked_access_tokens",
        }
    }
}
