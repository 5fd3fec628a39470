//! The SQLite store's OpenID Connect tables (migration 0008): users' profile fields, clients'
//! post-logout redirect URIs, remembered consent, how codes and families began, and ending a
//! browser session.

use super::SqliteStore;
use super::rows::{all, execute, opt_ts, optional, scope, ts};
use crate::store::{CodeSignInRow, ConsentRow, FamilySignInRow, StoreResult, UserRow};
use rusqlite::{Row, params};
use tessera_core::{ClientId, FamilyId, Timestamp, TokenHash, UserId};

fn consent(row: &Row<'_>) -> StoreResult<ConsentRow> {
    Ok(ConsentRow {
        user_id: UserId::new(row.get::<_, String>("user_id")?),
        client_id: ClientId::new(row.get::<_, String>("client_id")?),
        client_name: row.get("client_name")?,
        scope: scope(row, "scope")?,
        granted_at: ts(row, "granted_at")?,
    })
}

const CONSENT_SELECT: &str = "SELECT c.user_id, c.client_id, k.name AS client_name, c.scope, c.granted_at \
     FROM consents c JOIN clients k ON k.client_id = c.client_id";

/// Writes a user's changeable fields (the statement of `update_user`); whether the user exists.
pub(super) fn write_user(connection: &rusqlite::Connection, user: &UserRow) -> StoreResult<bool> {
    let sql = "UPDATE users SET email = ?1, name = ?2, email_verified = ?3, is_admin = ?4, disabled = ?5, \
               updated_at = ?6 WHERE user_id = ?7";
    let changed = execute(
        connection,
        sql,
        params![
            user.email,
            user.name,
            i64::from(user.email_verified),
            i64::from(user.is_admin),
            i64::from(user.disabled),
            user.updated_at.map(Timestamp::millis),
            user.user_id.as_str(),
        ],
    )?;
    Ok(changed > 0)
}

impl SqliteStore {
    pub async fn update_user(&self, user: &UserRow) -> StoreResult<bool> {
        let user = user.clone();
        self.write(move |connection| write_user(connection, &user)).await
    }

    pub async fn client_post_logout_redirect_uris(&self, client_id: &ClientId) -> StoreResult<Option<Vec<String>>> {
        self.read(|connection| {
            let sql = "SELECT post_logout_redirect_uris FROM clients WHERE client_id = ?1";
            optional(connection, sql, [client_id.as_str()], |row| {
                crate::store::rows::decode_redirect_uris(&row.get::<_, String>(0)?)
            })
        })
    }

    pub async fn set_client_post_logout_redirect_uris(
        &self,
        client_id: &ClientId,
        uris: &[String],
    ) -> StoreResult<bool> {
        let (client_id, uris) = (client_id.clone(), serde_json::to_string(uris).unwrap_or_else(|_| "[]".into()));
        self.write(move |connection| {
            let sql = "UPDATE clients SET post_logout_redirect_uris = ?1 WHERE client_id = ?2";
            Ok(execute(connection, sql, params![uris, client_id.as_str()])? > 0)
        })
        .await
    }

    pub async fn find_consent(&self, user_id: &UserId, client_id: &ClientId) -> StoreResult<Option<ConsentRow>> {
        self.read(|connection| {
            let sql = format!("{CONSENT_SELECT} WHERE c.user_id = ?1 AND c.client_id = ?2");
            optional(connection, &sql, [user_id.as_str(), client_id.as_str()], consent)
        })
    }

    pub async fn remember_consent(&self, consent: &ConsentRow) -> StoreResult<()> {
        let consent = consent.clone();
        self.write(move |connection| {
            execute(
                connection,
                "INSERT INTO consents (user_id, client_id, scope, granted_at) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (user_id, client_id) DO UPDATE SET scope = excluded.scope, granted_at = excluded.granted_at",
                params![
                    consent.user_id.as_str(),
                    consent.client_id.as_str(),
                    consent.scope.to_string(),
                    consent.granted_at.millis()
                ],
            )?;
            Ok(())
        })
        .await
    }

    pub async fn list_consents(&self, user_id: &UserId) -> StoreResult<Vec<ConsentRow>> {
        self.read(|connection| {
            let sql = format!("{CONSENT_SELECT} WHERE c.user_id = ?1 ORDER BY c.granted_at, c.client_id");
            all(connection, &sql, [user_id.as_str()], consent)
        })
    }

    pub async fn delete_consent(&self, user_id: &UserId, client_id: &ClientId) -> StoreResult<bool> {
        let (user_id, client_id) = (user_id.clone(), client_id.clone());
        self.write(move |connection| {
            let sql = "DELETE FROM consents WHERE user_id = ?1 AND client_id = ?2";
            Ok(execute(connection, sql, [user_id.as_str(), client_id.as_str()])? > 0)
        })
        .await
    }

    pub async fn consented_families(&self, user_id: &UserId, client_id: &ClientId) -> StoreResult<Vec<FamilyId>> {
        self.read(|connection| {
            let sql = "SELECT s.family_id FROM family_sign_ins s JOIN refresh_families f ON f.family_id = s.family_id \
                       WHERE s.user_id = ?1 AND s.client_id = ?2 AND s.consented = 1 AND f.revoked_at IS NULL \
                       ORDER BY s.family_id";
            all(connection, sql, [user_id.as_str(), client_id.as_str()], |row| {
                Ok(FamilyId::new(row.get::<_, String>(0)?))
            })
        })
    }

    pub async fn insert_code_sign_in(&self, code_hash: &TokenHash, sign_in: &CodeSignInRow) -> StoreResult<()> {
        let (code_hash, sign_in) = (code_hash.clone(), sign_in.clone());
        self.write(move |connection| {
            execute(
                connection,
                "INSERT INTO authorization_code_sign_ins (code_hash, nonce, auth_time, sid) VALUES (?1, ?2, ?3, ?4)",
                params![code_hash.as_str(), sign_in.nonce, sign_in.auth_time.millis(), sign_in.sid],
            )?;
            Ok(())
        })
        .await
    }

    pub async fn find_code_sign_in(&self, code_hash: &TokenHash) -> StoreResult<Option<CodeSignInRow>> {
        self.read(|connection| {
            let sql = "SELECT nonce, auth_time, sid FROM authorization_code_sign_ins WHERE code_hash = ?1";
            optional(connection, sql, [code_hash.as_str()], |row| {
                Ok(CodeSignInRow { nonce: row.get("nonce")?, auth_time: ts(row, "auth_time")?, sid: row.get("sid")? })
            })
        })
    }

    pub async fn insert_family_sign_in(&self, sign_in: &FamilySignInRow) -> StoreResult<()> {
        let sign_in = sign_in.clone();
        self.write(move |connection| {
            execute(
                connection,
                "INSERT INTO family_sign_ins (family_id, user_id, client_id, auth_time, sid, consented) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    sign_in.family_id.as_str(),
                    sign_in.user_id.as_str(),
                    sign_in.client_id.as_str(),
                    sign_in.auth_time.millis(),
                    sign_in.sid,
                    i64::from(sign_in.consented)
                ],
            )?;
            Ok(())
        })
        .await
    }

    pub async fn find_family_sign_in(&self, family_id: &FamilyId) -> StoreResult<Option<FamilySignInRow>> {
        self.read(|connection| {
            let sql = "SELECT family_id, user_id, client_id, auth_time, sid, consented FROM family_sign_ins \
                       WHERE family_id = ?1";
            optional(connection, sql, [family_id.as_str()], |row| {
                Ok(FamilySignInRow {
                    family_id: FamilyId::new(row.get::<_, String>("family_id")?),
                    user_id: UserId::new(row.get::<_, String>("user_id")?),
                    client_id: ClientId::new(row.get::<_, String>("client_id")?),
                    auth_time: ts(row, "auth_time")?,
                    sid: row.get("sid")?,
                    consented: row.get::<_, i64>("consented")? != 0,
                })
            })
        })
    }

    pub async fn browser_session_started(&self, hash: &TokenHash, now: Timestamp) -> StoreResult<Option<Timestamp>> {
        self.read(|connection| {
            let sql = "SELECT created_at FROM browser_sessions WHERE session_hash = ?1 AND expires_at > ?2";
            let found =
                optional(connection, sql, params![hash.as_str(), now.millis()], |row| opt_ts(row, "created_at"))?;
            Ok(found.flatten())
        })
    }

    pub async fn delete_browser_session(&self, hash: &TokenHash) -> StoreResult<bool> {
        let hash = hash.clone();
        self.write(move |connection| {
            Ok(execute(connection, "DELETE FROM browser_sessions WHERE session_hash = ?1", [hash.as_str()])? > 0)
        })
        .await
    }
}
