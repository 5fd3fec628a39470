//! The SQLite store's administrative tables: clients, users, signing keys,
//! the janitor's purge and row counts. Writes go through the writer (`SqliteStore::write`),
//! reads through a read connection (`SqliteStore::read`).

use super::super::{PurgeRule, purge_rules};
use super::SqliteStore;
use super::rows::{all, execute, optional, unique_violation};
use crate::store::rows::{
    CLIENT_COLUMNS, USER_COLUMNS, encode_grant_types, encode_introspection, encode_origins, encode_redirect_uris,
};
use crate::store::{ClientRow, CountedTable, SigningKeyRow, StoreResult, UserRow};
use rusqlite::params;
use std::time::Duration;
use tessera_core::{ClientId, Timestamp, TokenHash, UserId};

impl SqliteStore {
    // ---- clients ----------------------------------------------------------------------

    pub async fn insert_client(&self, client: &ClientRow) -> StoreResult<()> {
        let client = client.clone();
        self.write(move |connection| {
            execute(
                connection,
                "INSERT INTO clients (client_id, name, secret_hash, redirect_uris, grant_types, scope, created_at, \
                                      may_introspect, allowed_origins, require_dpop) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    client.client_id.as_str(),
                    client.name,
                    client.secret_hash.as_ref().map(|hash| hash.as_str()),
                    encode_redirect_uris(&client.redirect_uris),
                    encode_grant_types(&client.grant_types),
                    client.scope.to_string(),
                    client.created_at.millis(),
                    encode_introspection(client.introspection),
                    encode_origins(&client.allowed_origins),
                    i64::from(client.require_dpop),
                ],
            )
            .map_err(|error| unique_violation(error, "a client with this id"))?;
            Ok(())
        })
        .await
    }

    /// Replaces what `tessera client update` may change (name, redirect URIs, grants, scope,
    /// introspection access); the secret and creation time stay. Whether the client exists.
    pub async fn update_client(&self, client: &ClientRow) -> StoreResult<bool> {
        let client = client.clone();
        self.write(move |connection| {
            let updated = execute(
                connection,
                "UPDATE clients SET name = ?2, redirect_uris = ?3, grant_types = ?4, scope = ?5, may_introspect = ?6, \
                 allowed_origins = ?7, require_dpop = ?8 WHERE client_id = ?1",
                params![
                    client.client_id.as_str(),
                    client.name,
                    encode_redirect_uris(&client.redirect_uris),
                    encode_grant_types(&client.grant_types),
                    client.scope.to_string(),
                    encode_introspection(client.introspection),
                    encode_origins(&client.allowed_origins),
                    i64::from(client.require_dpop),
                ],
            )?;
            Ok(updated > 0)
        })
        .await
    }

    pub async fn get_client(&self, client_id: &ClientId) -> StoreResult<Option<ClientRow>> {
        self.read(|connection| {
            let sql = format!("SELECT {CLIENT_COLUMNS} FROM clients WHERE client_id = ?1");
            optional(connection, &sql, [client_id.as_str()], super::rows::client)
        })
    }

    /// Every origin any client registered, for the CORS allow-list (duplicates possible).
    pub async fn allowed_origins(&self) -> StoreResult<Vec<tessera_core::Origin>> {
        self.read(|connection| {
            let sql = "SELECT allowed_origins FROM clients WHERE allowed_origins <> '[]'";
            let lists = all(connection, sql, [], |row| Ok(row.get::<_, String>(0)?))?;
            let mut origins = Vec::new();
            for list in lists {
                origins.extend(crate::store::rows::decode_origins(&list)?);
            }
            Ok(origins)
        })
    }

    pub async fn list_clients(&self) -> StoreResult<Vec<ClientRow>> {
        self.read(|connection| {
            let sql = format!("SELECT {CLIENT_COLUMNS} FROM clients ORDER BY created_at, client_id");
            all(connection, &sql, [], super::rows::client)
        })
    }

    pub async fn delete_client(&self, client_id: &ClientId) -> StoreResult<bool> {
        self.delete_family_rows_of_client(client_id).await?;
        let client_id = client_id.clone();
        self.write(move |connection| {
            Ok(execute(connection, "DELETE FROM clients WHERE client_id = ?1", [client_id.as_str()])? > 0)
        })
        .await
    }

    pub async fn set_client_secret(&self, client_id: &ClientId, secret_hash: &TokenHash) -> StoreResult<bool> {
        let (client_id, secret_hash) = (client_id.clone(), secret_hash.clone());
        self.write(move |connection| {
            let sql = "UPDATE clients SET secret_hash = ?1 WHERE client_id = ?2 AND secret_hash IS NOT NULL";
            Ok(execute(connection, sql, [secret_hash.as_str(), client_id.as_str()])? > 0)
        })
        .await
    }

    // ---- users ------------------------------------------------------------------------

    pub async fn insert_user(&self, user: &UserRow) -> StoreResult<()> {
        let user = user.clone();
        self.write(move |connection| {
            execute(
                connection,
                "INSERT INTO users (user_id, username, email, password_hash, is_admin, created_at, \
                 name, email_verified, updated_at, disabled) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    user.user_id.as_str(),
                    user.username,
                    user.email,
                    user.password_hash,
                    i64::from(user.is_admin),
                    user.created_at.millis(),
                    user.name,
                    i64::from(user.email_verified),
                    user.updated_at.map(Timestamp::millis),
                    i64::from(user.disabled),
                ],
            )
            .map_err(|error| unique_violation(error, "a user with this username"))?;
            Ok(())
        })
        .await
    }

    pub async fn get_user_by_username(&self, username: &str) -> StoreResult<Option<UserRow>> {
        self.read(|connection| {
            let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE username = ?1");
            optional(connection, &sql, [username], super::rows::user)
        })
    }

    pub async fn get_user(&self, user_id: &UserId) -> StoreResult<Option<UserRow>> {
        self.read(|connection| {
            let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE user_id = ?1");
            optional(connection, &sql, [user_id.as_str()], super::rows::user)
        })
    }

    // ---- signing keys -----------------------------------------------------------------

    pub async fn insert_signing_key(&self, key: &SigningKeyRow) -> StoreResult<()> {
        let key = key.clone();
        self.write(move |connection| {
            execute(
                connection,
                "INSERT INTO signing_keys (kid, algorithm, private_key, public_jwk, created_at, retired_at, \
                 revoked_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    key.kid,
                    key.algorithm,
                    key.encrypted_private_key,
                    key.public_jwk,
                    key.created_at.millis(),
                    key.retired_at.map(Timestamp::millis),
                    key.revoked_at.map(Timestamp::millis)
                ],
            )
            .map_err(|error| unique_violation(error, "a signing key with this kid"))?;
            Ok(())
        })
        .await
    }

    pub async fn retire_signing_keys_except(&self, keep: &str, now: Timestamp) -> StoreResult<u64> {
        let keep = keep.to_owned();
        self.write(move |connection| {
            let sql = "UPDATE signing_keys SET retired_at = ?1 WHERE retired_at IS NULL AND kid <> ?2";
            Ok(execute(connection, sql, params![now.millis(), keep])? as u64)
        })
        .await
    }

    pub async fn list_signing_keys(&self) -> StoreResult<Vec<SigningKeyRow>> {
        self.read(|connection| {
            let sql = "SELECT kid, algorithm, private_key, public_jwk, created_at, retired_at, revoked_at \
                       FROM signing_keys ORDER BY created_at DESC, kid";
            all(connection, sql, [], super::rows::signing_key)
        })
    }

    pub async fn find_signing_key(&self, kid: &str) -> StoreResult<Option<SigningKeyRow>> {
        self.read(|connection| {
            let sql = "SELECT kid, algorithm, private_key, public_jwk, created_at, retired_at, revoked_at \
                       FROM signing_keys WHERE kid = ?1";
            optional(connection, sql, [kid], super::rows::signing_key)
        })
    }

    /// Revokes `kid` (and retires it, if it was active), unless it is the only active key:
    /// in one statement, so two concurrent revocations cannot leave no key to sign with.
    /// False, changing nothing, if there is no such key, it was already revoked, or it is
    /// the only active one.
    pub async fn revoke_signing_key(&self, kid: &str, now: Timestamp) -> StoreResult<bool> {
        let kid = kid.to_owned();
        self.write(move |connection| {
            let sql = "UPDATE signing_keys SET revoked_at = ?1, retired_at = COALESCE(retired_at, ?1) \
                       WHERE kid = ?2 AND revoked_at IS NULL AND (retired_at IS NOT NULL OR EXISTS \
                       (SELECT 1 FROM signing_keys AS other WHERE other.kid <> ?2 AND other.retired_at IS NULL))";
            Ok(execute(connection, sql, params![now.millis(), kid])? > 0)
        })
        .await
    }

    // ---- janitor ----------------------------------------------------------------------

    /// The janitor's rules ([`purge_rules`], documented at the PostgreSQL store's
    /// `purge_expired`), one writer operation per rule.
    pub async fn purge_expired(&self, now: Timestamp, access_ttl: Duration, batch: i64) -> StoreResult<u64> {
        let mut deleted = 0;
        // One writer operation per rule, so that other writes interleave with a long purge.
        for PurgeRule { table, key, condition, cutoff } in purge_rules(now, access_ttl) {
            // SQLite reads `$1` as a named parameter; `?1` says plainly that it is the first.
            let condition = condition.replace("$1", "?1");
            let sql =
                format!("DELETE FROM {table} WHERE {key} IN (SELECT {key} FROM {table} WHERE {condition} LIMIT ?2)");
            deleted += self
                .write(move |connection| Ok(execute(connection, &sql, params![cutoff.millis(), batch])? as u64))
                .await?;
        }
        Ok(deleted)
    }

    pub async fn count_rows(&self, table: CountedTable) -> StoreResult<i64> {
        self.read(|connection| {
            let sql = format!("SELECT COUNT(*) FROM {}", table.name());
            Ok(connection.prepare_cached(&sql)?.query_row([], |row| row.get::<_, i64>(0))?)
        })
    }
}
