//! The SQLite store's methods for the account page (migration 0017): a user's live families,
//! their password, and their other browser sessions.

use super::SqliteStore;
use super::rows::{all, execute, opt_ts, scope, ts};
use crate::store::StoreResult;
use crate::store::account::{USER_FAMILIES, UserFamilyRow};
use rusqlite::params;
use tessera_core::{ClientId, FamilyId, Timestamp, TokenHash, UserId};

impl SqliteStore {
    pub async fn user_families(&self, user_id: &UserId, now: Timestamp) -> StoreResult<Vec<UserFamilyRow>> {
        let sql = USER_FAMILIES.replace('$', "?");
        self.read(|connection| {
            all(connection, &sql, params![user_id.as_str(), now.millis()], |row| {
                Ok(UserFamilyRow {
                    family_id: FamilyId::new(row.get::<_, String>("family_id")?),
                    client_id: ClientId::new(row.get::<_, String>("client_id")?),
                    client_name: row.get("client_name")?,
                    scope: scope(row, "scope")?,
                    created_at: ts(row, "created_at")?,
                    last_used_at: opt_ts(row, "last_used_at")?,
                })
            })
        })
    }

    pub async fn set_user_password(&self, user_id: &UserId, password_hash: &str) -> StoreResult<bool> {
        let (user_id, password_hash) = (user_id.clone(), password_hash.to_owned());
        self.write(move |connection| {
            let sql = "UPDATE users SET password_hash = ?1 WHERE user_id = ?2";
            Ok(execute(connection, sql, params![password_hash, user_id.as_str()])? > 0)
        })
        .await
    }

    pub async fn end_user_browser_sessions(&self, user_id: &UserId, except: Option<&TokenHash>) -> StoreResult<u64> {
        // An empty `except` matches no session (hashes are hex digests).
        let (user_id, except) = (user_id.clone(), except.map_or(String::new(), |hash| hash.as_str().to_owned()));
        self.write(move |connection| {
            let sql = "DELETE FROM browser_sessions WHERE user_id = ?1 AND session_hash <> ?2";
            Ok(execute(connection, sql, params![user_id.as_str(), except])? as u64)
        })
        .await
    }
}
