//! The PostgreSQL store's methods for the account page (migration 0017): a user's live
//! families, their password, and their other browser sessions.

use super::{PostgresStore, opt_ts, scope, ts};
use crate::store::StoreResult;
use crate::store::account::{USER_FAMILIES, UserFamilyRow};
use sqlx::Row;
use tessera_core::{ClientId, FamilyId, Timestamp, TokenHash, UserId};

impl PostgresStore {
    pub async fn user_families(&self, user_id: &UserId, now: Timestamp) -> StoreResult<Vec<UserFamilyRow>> {
        let rows = sqlx::query(USER_FAMILIES).bind(user_id.as_str()).bind(now.millis()).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| {
                Ok(UserFamilyRow {
                    family_id: FamilyId::new(row.try_get::<String, _>("family_id")?),
                    client_id: ClientId::new(row.try_get::<String, _>("client_id")?),
                    client_name: row.try_get("client_name")?,
                    scope: scope(row, "scope")?,
                    created_at: ts(row, "created_at")?,
                    last_used_at: opt_ts(row, "last_used_at")?,
                })
            })
            .collect()
    }

    pub async fn set_user_password(&self, user_id: &UserId, password_hash: &str) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE users SET password_hash = $1 WHERE user_id = $2")
            .bind(password_hash)
            .bind(user_id.as_str())
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn end_user_browser_sessions(&self, user_id: &UserId, except: Option<&TokenHash>) -> StoreResult<u64> {
        // An empty `except` matches no session (hashes are hex digests).
        let except = except.map_or("", TokenHash::as_str);
        let done = sqlx::query("DELETE FROM browser_sessions WHERE user_id = $1 AND session_hash <> $2")
            .bind(user_id.as_str())
            .bind(except)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected())
    }
}
