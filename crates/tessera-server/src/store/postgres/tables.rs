//! The PostgreSQL store's administrative tables: clients, users, sign-in failures and signing
//! keys.

use super::super::rows::{
    CLIENT_COLUMNS, USER_COLUMNS, encode_grant_types, encode_introspection, encode_origins, encode_redirect_uris,
};
use super::super::{ClientRow, SigningKeyRow, StoreResult, UserRow};
use super::{PostgresStore, unique_violation};
use tessera_core::{ClientId, Timestamp, TokenHash, UserId};

impl PostgresStore {
    // ---- clients ----------------------------------------------------------------------

    pub async fn insert_client(&self, client: &ClientRow) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO clients (client_id, name, secret_hash, redirect_uris, grant_types, scope, created_at, \
                                  may_introspect, allowed_origins, require_dpop) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(client.client_id.as_str())
        .bind(&client.name)
        .bind(client.secret_hash.as_ref().map(|h| h.as_str().to_owned()))
        .bind(encode_redirect_uris(&client.redirect_uris))
        .bind(encode_grant_types(&client.grant_types))
        .bind(client.scope.to_string())
        .bind(client.created_at.millis())
        .bind(encode_introspection(client.introspection))
        .bind(encode_origins(&client.allowed_origins))
        .bind(i64::from(client.require_dpop))
        .execute(&self.writer)
        .await
        .map_err(|error| unique_violation(error, "a client with this id"))?;
        Ok(())
    }

    /// Replaces what `tessera client update` may change (name, redirect URIs, grants, scope,
    /// introspection access); the secret and creation time stay. Whether the client exists.
    pub async fn update_client(&self, client: &ClientRow) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE clients SET name = $2, redirect_uris = $3, grant_types = $4, scope = $5, may_introspect = $6, \
             allowed_origins = $7, require_dpop = $8 WHERE client_id = $1",
        )
        .bind(client.client_id.as_str())
        .bind(&client.name)
        .bind(encode_redirect_uris(&client.redirect_uris))
        .bind(encode_grant_types(&client.grant_types))
        .bind(client.scope.to_string())
        .bind(encode_introspection(client.introspection))
        .bind(encode_origins(&client.allowed_origins))
        .bind(i64::from(client.require_dpop))
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn get_client(&self, client_id: &ClientId) -> StoreResult<Option<ClientRow>> {
        let row = sqlx::query(&format!("SELECT {CLIENT_COLUMNS} FROM clients WHERE client_id = $1"))
            .bind(client_id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(ClientRow::from_any_row).transpose()
    }

    /// Every origin any client registered, for the CORS allow-list (duplicates possible).
    pub async fn allowed_origins(&self) -> StoreResult<Vec<tessera_core::Origin>> {
        let rows = sqlx::query("SELECT allowed_origins FROM clients WHERE allowed_origins <> '[]'")
            .fetch_all(&self.pool)
            .await?;
        let mut origins = Vec::new();
        for row in rows {
            origins.extend(crate::store::rows::decode_origins(&sqlx::Row::try_get::<String, _>(&row, 0)?)?);
        }
        Ok(origins)
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
            "INSERT INTO users (user_id, username, email, password_hash, is_admin, created_at, \
             name, email_verified, updated_at, disabled) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(user.user_id.as_str())
        .bind(&user.username)
        .bind(user.email.clone())
        .bind(&user.password_hash)
        .bind(i64::from(user.is_admin))
        .bind(user.created_at.millis())
        .bind(user.name.clone())
        .bind(i64::from(user.email_verified))
        .bind(user.updated_at.map(Timestamp::millis))
        .bind(i64::from(user.disabled))
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

    // ---- signing keys -----------------------------------------------------------------

    pub async fn insert_signing_key(&self, key: &SigningKeyRow) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO signing_keys (kid, algorithm, private_key, public_jwk, created_at, retired_at, revoked_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&key.kid)
        .bind(&key.algorithm)
        .bind(key.encrypted_private_key.clone())
        .bind(&key.public_jwk)
        .bind(key.created_at.millis())
        .bind(key.retired_at.map(Timestamp::millis))
        .bind(key.revoked_at.map(Timestamp::millis))
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
            "SELECT kid, algorithm, private_key, public_jwk, created_at, retired_at, revoked_at FROM signing_keys \
             ORDER BY created_at DESC, kid",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(SigningKeyRow::from_any_row).collect()
    }

    pub async fn find_signing_key(&self, kid: &str) -> StoreResult<Option<SigningKeyRow>> {
        let row = sqlx::query(
            "SELECT kid, algorithm, private_key, public_jwk, created_at, retired_at, revoked_at FROM signing_keys \
             WHERE kid = $1",
        )
        .bind(kid)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(SigningKeyRow::from_any_row).transpose()
    }

    /// Revokes `kid` (and retires it, if it was active), unless it is the only active key:
    /// in one statement, so two concurrent revocations cannot leave no key to sign with.
    /// False, changing nothing, if there is no such key, it was already revoked, or it is
    /// the only active one.
    pub async fn revoke_signing_key(&self, kid: &str, now: Timestamp) -> StoreResult<bool> {
        // The active keys are locked first: under READ COMMITTED two revocations of the last
        // two active keys would each see the other still active and leave none. The second
        // waits here, and its UPDATE (a new snapshot) then sees the first's revocation.
        let mut transaction = self.writer.begin().await?;
        sqlx::query("SELECT kid FROM signing_keys WHERE retired_at IS NULL FOR UPDATE")
            .fetch_all(&mut *transaction)
            .await?;
        let done = sqlx::query(
            "UPDATE signing_keys SET revoked_at = $1, retired_at = COALESCE(retired_at, $1) \
             WHERE kid = $2 AND revoked_at IS NULL AND (retired_at IS NOT NULL OR EXISTS \
             (SELECT 1 FROM signing_keys AS other WHERE other.kid <> $2 AND other.retired_at IS NULL))",
        )
        .bind(now.millis())
        .bind(kid)
        .execute(&mut *transaction)
        .await?;
        transaction.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    // ---- janitor ----------------------------------------------------------------------
}
