//! The PostgreSQL store's OpenID Connect tables (migration 0008): users' profile fields,
//! clients' post-logout redirect URIs, remembered consent, how codes and families began, and
//! ending a browser session.

use super::{PostgresStore, opt_ts, scope, ts};
use crate::store::{CodeSignInRow, ConsentRow, FamilySignInRow, StoreResult, UserRow};
use sqlx::Row;
use sqlx::any::AnyRow;
use tessera_core::{ClientId, FamilyId, Timestamp, TokenHash, UserId};

fn consent(row: &AnyRow) -> StoreResult<ConsentRow> {
    Ok(ConsentRow {
        user_id: UserId::new(row.try_get::<String, _>("user_id")?),
        client_id: ClientId::new(row.try_get::<String, _>("client_id")?),
        client_name: row.try_get("client_name")?,
        scope: scope(row, "scope")?,
        granted_at: ts(row, "granted_at")?,
    })
}

const CONSENT_SELECT: &str = "SELECT c.user_id, c.client_id, k.name AS client_name, c.scope, c.granted_at \
     FROM consents c JOIN clients k ON k.client_id = c.client_id";

/// The statement that writes a user's changeable fields (`update_user`), to run on the pool
/// or in a transaction.
pub(super) fn write_user(user: &UserRow) -> sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments<'_>> {
    sqlx::query(
        "UPDATE users SET email = $1, name = $2, email_verified = $3, is_admin = $4, disabled = $5, \
         updated_at = $6 WHERE user_id = $7",
    )
    .bind(user.email.clone())
    .bind(user.name.clone())
    .bind(i64::from(user.email_verified))
    .bind(i64::from(user.is_admin))
    .bind(i64::from(user.disabled))
    .bind(user.updated_at.map(Timestamp::millis))
    .bind(user.user_id.as_str())
}

impl PostgresStore {
    pub async fn update_user(&self, user: &UserRow) -> StoreResult<bool> {
        Ok(write_user(user).execute(&self.writer).await?.rows_affected() > 0)
    }

    pub async fn client_post_logout_redirect_uris(&self, client_id: &ClientId) -> StoreResult<Option<Vec<String>>> {
        let row = sqlx::query("SELECT post_logout_redirect_uris FROM clients WHERE client_id = $1")
            .bind(client_id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| crate::store::rows::decode_redirect_uris(&row.try_get::<String, _>("post_logout_redirect_uris")?))
            .transpose()
    }

    pub async fn set_client_post_logout_redirect_uris(
        &self,
        client_id: &ClientId,
        uris: &[String],
    ) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE clients SET post_logout_redirect_uris = $1 WHERE client_id = $2")
            .bind(serde_json::to_string(uris).unwrap_or_else(|_| "[]".into()))
            .bind(client_id.as_str())
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn find_consent(&self, user_id: &UserId, client_id: &ClientId) -> StoreResult<Option<ConsentRow>> {
        let row = sqlx::query(&format!("{CONSENT_SELECT} WHERE c.user_id = $1 AND c.client_id = $2"))
            .bind(user_id.as_str())
            .bind(client_id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(consent).transpose()
    }

    pub async fn remember_consent(&self, consent: &ConsentRow) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO consents (user_id, client_id, scope, granted_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (user_id, client_id) DO UPDATE SET scope = excluded.scope, granted_at = excluded.granted_at",
        )
        .bind(consent.user_id.as_str())
        .bind(consent.client_id.as_str())
        .bind(consent.scope.to_string())
        .bind(consent.granted_at.millis())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    pub async fn list_consents(&self, user_id: &UserId) -> StoreResult<Vec<ConsentRow>> {
        let rows = sqlx::query(&format!("{CONSENT_SELECT} WHERE c.user_id = $1 ORDER BY c.granted_at, c.client_id"))
            .bind(user_id.as_str())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(consent).collect()
    }

    pub async fn delete_consent(&self, user_id: &UserId, client_id: &ClientId) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM consents WHERE user_id = $1 AND client_id = $2")
            .bind(user_id.as_str())
            .bind(client_id.as_str())
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn consented_families(&self, user_id: &UserId, client_id: &ClientId) -> StoreResult<Vec<FamilyId>> {
        let rows = sqlx::query(
            "SELECT s.family_id FROM family_sign_ins s JOIN refresh_families f ON f.family_id = s.family_id \
             WHERE s.user_id = $1 AND s.client_id = $2 AND s.consented = 1 AND f.revoked_at IS NULL \
             ORDER BY s.family_id",
        )
        .bind(user_id.as_str())
        .bind(client_id.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|row| Ok(FamilyId::new(row.try_get::<String, _>("family_id")?))).collect()
    }

    pub async fn insert_code_sign_in(&self, code_hash: &TokenHash, sign_in: &CodeSignInRow) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO authorization_code_sign_ins (code_hash, nonce, auth_time, sid) VALUES ($1, $2, $3, $4)",
        )
        .bind(code_hash.as_str())
        .bind(sign_in.nonce.clone())
        .bind(sign_in.auth_time.millis())
        .bind(&sign_in.sid)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    pub async fn find_code_sign_in(&self, code_hash: &TokenHash) -> StoreResult<Option<CodeSignInRow>> {
        let row = sqlx::query("SELECT nonce, auth_time, sid FROM authorization_code_sign_ins WHERE code_hash = $1")
            .bind(code_hash.as_str())
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(CodeSignInRow {
            nonce: row.try_get("nonce")?,
            auth_time: ts(&row, "auth_time")?,
            sid: row.try_get("sid")?,
        }))
    }

    pub async fn insert_family_sign_in(&self, sign_in: &FamilySignInRow) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO family_sign_ins (family_id, user_id, client_id, auth_time, sid, consented) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(sign_in.family_id.as_str())
        .bind(sign_in.user_id.as_str())
        .bind(sign_in.client_id.as_str())
        .bind(sign_in.auth_time.millis())
        .bind(sign_in.sid.clone())
        .bind(i64::from(sign_in.consented))
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    pub async fn find_family_sign_in(&self, family_id: &FamilyId) -> StoreResult<Option<FamilySignInRow>> {
        let row = sqlx::query(
            "SELECT family_id, user_id, client_id, auth_time, sid, consented FROM family_sign_ins WHERE family_id = $1",
        )
        .bind(family_id.as_str())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(FamilySignInRow {
            family_id: FamilyId::new(row.try_get::<String, _>("family_id")?),
            user_id: UserId::new(row.try_get::<String, _>("user_id")?),
            client_id: ClientId::new(row.try_get::<String, _>("client_id")?),
            auth_time: ts(&row, "auth_time")?,
            sid: row.try_get("sid")?,
            consented: row.try_get::<i64, _>("consented")? != 0,
        }))
    }

    pub async fn browser_session_started(&self, hash: &TokenHash, now: Timestamp) -> StoreResult<Option<Timestamp>> {
        let row = sqlx::query("SELECT created_at FROM browser_sessions WHERE session_hash = $1 AND expires_at > $2")
            .bind(hash.as_str())
            .bind(now.millis())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|row| opt_ts(&row, "created_at")).transpose()?.flatten())
    }

    pub async fn delete_browser_session(&self, hash: &TokenHash) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM browser_sessions WHERE session_hash = $1")
            .bind(hash.as_str())
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
