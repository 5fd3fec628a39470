//! The PostgreSQL store's administrative tables: clients, users, sign-in failures and signing
//! keys.

use super::super::rows::{CLIENT_COLUMNS, USER_COLUMNS};
use super::super::{ClientRow, SigningKeyRow, StoreResult, UserRow};
use super::{PostgresStore, unique_violation};
use sqlx::Row;
use tessera_core::{ClientId, Timestamp, TokenHash, UserId};

impl PostgresStore {
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
        self.delete_family_rows_of_client(client_id).await?;
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
}
