//! The PostgreSQL store's token tables: families and refresh tokens (rotation by
//! compare-and-set), personal access tokens, authorization codes, browser sessions and
//! revoked access tokens.

use super::super::rows::USER_COLUMNS;
use super::super::{
    AuthorizationCodeRow, Backend, PersonalAccessTokenRow, RotateOutcome, Rotation, StoreResult, UserRow,
};
use super::{PAT_SELECT, PostgresStore, insert_family, opt_ts, scope, ts};
use sqlx::Row;
use tessera_core::{
    ClientId, Family, FamilyId, Jti, RevocationReason, StoredRefreshToken, Timestamp, TokenHash, UserId,
};

impl PostgresStore {
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

    /// Rotation: marks `presented` used and inserts its successor, atomically.
    ///
    /// The `UPDATE … WHERE used_at IS NULL` is the compare-and-set that makes rotation
    /// atomic: of any number of concurrent calls, on one instance or many sharing a
    /// PostgreSQL database, exactly one sees a changed row; the rest get
    /// [`RotateOutcome::LostRace`] and nothing of theirs is written. On PostgreSQL the
    /// row lock taken by the first UPDATE makes the others wait and then re-check the
    /// condition (READ COMMITTED), so they never both win.
    ///
    /// On PostgreSQL it is one statement, so one round trip: a data-modifying CTE does the
    /// compare-and-set and the INSERT takes its family from the CTE's `RETURNING`, so it
    /// inserts a row only if the UPDATE changed one; the statement commits as a whole. SQLite
    /// (in-memory databases only, here) has no DML in CTEs: there it is two statements in
    /// one transaction.
    pub async fn rotate_refresh_token(&self, rotation: &Rotation<'_>) -> StoreResult<RotateOutcome> {
        let Rotation { presented, successor, family_id, rotated_at: now, successor_idle_expires_at } = *rotation;
        if self.backend == Backend::Postgres {
            let inserted = sqlx::query(
                "WITH marked AS ( \
                   UPDATE refresh_tokens SET used_at = $1, successor_hash = $2 \
                   WHERE token_hash = $3 AND used_at IS NULL \
                     AND EXISTS (SELECT 1 FROM refresh_families f \
                                 WHERE f.family_id = refresh_tokens.family_id AND f.revoked_at IS NULL) \
                   RETURNING family_id) \
                 INSERT INTO refresh_tokens (token_hash, family_id, created_at, idle_expires_at) \
                 SELECT $2, family_id, $1, $4 FROM marked",
            )
            .bind(now.millis())
            .bind(successor.as_str())
            .bind(presented.as_str())
            .bind(successor_idle_expires_at.millis())
            .execute(&self.writer)
            .await?;
            return Ok(if inserted.rows_affected() == 1 { RotateOutcome::Rotated } else { RotateOutcome::LostRace });
        }
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
