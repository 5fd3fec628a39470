//! The PostgreSQL store's other token tables: personal access tokens, authorization codes,
//! browser sessions and revoked access tokens (families and refresh tokens are in `refresh.rs`).

use super::super::refresh::{CAP_PENDING_CODES, PENDING_CODES_PER_USER};
use super::super::rows::USER_COLUMNS;
use super::super::{AuthorizationCodeRow, PersonalAccessTokenRow, StoreResult, UserRow};
use super::{PAT_SELECT, PostgresStore, claim_code_and_start_family, opt_ts};
use tessera_core::{Family, FamilyId, Jti, Timestamp, TokenHash, UserId};

impl PostgresStore {
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
        row.as_ref().map(PersonalAccessTokenRow::from_any_row).transpose()
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
        rows.iter().map(PersonalAccessTokenRow::from_any_row).collect()
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
             scope, code_challenge, dpop_jkt, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(code.code_hash.as_str())
        .bind(code.client_id.as_str())
        .bind(code.user_id.as_str())
        .bind(&code.redirect_uri)
        .bind(i64::from(code.redirect_uri_given))
        .bind(code.scope.to_string())
        .bind(code.code_challenge.clone())
        .bind(code.dpop_jkt.as_ref().map(|jkt| jkt.as_str().to_owned()))
        .bind(code.created_at.millis())
        .bind(code.expires_at.millis())
        .execute(&self.writer)
        .await?;
        sqlx::query(CAP_PENDING_CODES)
            .bind(code.user_id.as_str())
            .bind(code.code_hash.as_str())
            .bind(PENDING_CODES_PER_USER - 1)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    pub async fn find_authorization_code(&self, hash: &TokenHash) -> StoreResult<Option<AuthorizationCodeRow>> {
        let row = sqlx::query(
            "SELECT code_hash, client_id, user_id, redirect_uri, redirect_uri_given, scope, code_challenge, \
             dpop_jkt, created_at, expires_at, used_at, family_id FROM authorization_codes WHERE code_hash = $1",
        )
        .bind(hash.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(AuthorizationCodeRow::from_any_row).transpose()
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
        let claim =
            "UPDATE authorization_codes SET used_at = $1, family_id = $2 WHERE code_hash = $3 AND used_at IS NULL";
        claim_code_and_start_family(self, claim, hash, now, family, first_token).await
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
        row.as_ref().map(UserRow::from_any_row).transpose()
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
}
