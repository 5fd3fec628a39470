//! The PostgreSQL store's refresh-token families: a refresh as one read and one statement
//! (the compare-and-set, the successor's insert and the pruning of the family's oldest spent
//! tokens in one data-modifying CTE), family revocation and the reads of families and tokens.

use super::super::refresh::{
    CLIENT_ROWS_IN_BATCHES, DELETE_BATCH, PRUNED_PER_ROTATION, Refresh, Refreshed, SPENT_TOKENS_KEPT,
};
use super::super::{Backend, StoreError, StoreResult};
use super::{PostgresStore, insert_family, opt_ts, scope, ts};
use sqlx::AnyExecutor;
use sqlx::Row;
use sqlx::any::AnyRow;
use tessera_core::dpop::Thumbprint;
use tessera_core::{
    ClientId, Family, FamilyId, RefreshDecision, RevocationReason, StoredRefreshToken, Timestamp, TokenHash, UserId,
};

/// A stored token with its family, and its generation (0 for a family's first token).
type FoundToken = (StoredRefreshToken, Family, i64);

/// Rounds of read, decide, compare-and-set before giving up (each lost round means another
/// request rotated the token in between; the next read sees its rotation as a replay).
const ROUNDS: usize = 5;

/// The compare-and-set, as `rotate_in_one_statement` and `rotate_in_transaction` write it.
const MARK: &str = "UPDATE refresh_tokens SET used_at = $1, successor_hash = $2 \
     WHERE token_hash = $3 AND used_at IS NULL \
       AND EXISTS (SELECT 1 FROM refresh_families f \
                   WHERE f.family_id = refresh_tokens.family_id AND f.revoked_at IS NULL)";

/// Errors after which a refresh reads and decides again: PostgreSQL serialization failures
/// and deadlocks, SQLite busy. Not a pool timeout: a database that is down is reported at
/// once (503), not after several rounds of waiting.
fn retry(error: &StoreError) -> bool {
    error.is_transient() && !matches!(error, StoreError::Database(sqlx::Error::PoolTimedOut))
}

fn family_row(row: &AnyRow, created_at: &str) -> StoreResult<Family> {
    Ok(Family {
        id: FamilyId::new(row.try_get::<String, _>("family_id")?),
        client_id: ClientId::new(row.try_get::<String, _>("client_id")?),
        user_id: UserId::new(row.try_get::<String, _>("user_id")?),
        scope: scope(row, "scope")?,
        created_at: ts(row, created_at)?,
        expires_at: ts(row, "expires_at")?,
        revoked_at: opt_ts(row, "revoked_at")?,
        jkt: row.try_get::<Option<String>, _>("jkt")?.map(Thumbprint::from_stored),
    })
}

impl PostgresStore {
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

    /// A presented refresh token's state, its family and its generation, in one read.
    async fn find_token<'c>(executor: impl AnyExecutor<'c>, hash: &TokenHash) -> StoreResult<Option<FoundToken>> {
        let row = sqlx::query(
            "SELECT t.family_id, t.created_at, t.idle_expires_at, t.used_at, t.generation, \
                    s.used_at AS successor_used_at, f.client_id, f.user_id, f.scope, \
                    f.created_at AS family_created_at, f.expires_at, f.revoked_at, f.jkt \
             FROM refresh_tokens t \
             JOIN refresh_families f ON f.family_id = t.family_id \
             LEFT JOIN refresh_tokens s ON s.token_hash = t.successor_hash \
             WHERE t.token_hash = $1",
        )
        .bind(hash.as_str())
        .fetch_optional(executor)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let family = family_row(&row, "family_created_at")?;
        let token = StoredRefreshToken {
            family_id: family.id.clone(),
            created_at: ts(&row, "created_at")?,
            idle_expires_at: ts(&row, "idle_expires_at")?,
            used_at: opt_ts(&row, "used_at")?,
            successor_used: opt_ts(&row, "successor_used_at")?.is_some(),
        };
        Ok(Some((token, family, row.try_get::<i64, _>("generation")?)))
    }

    /// A presented refresh token's state and its family, in one read.
    pub async fn find_refresh_token(&self, hash: &TokenHash) -> StoreResult<Option<(StoredRefreshToken, Family)>> {
        Ok(Self::find_token(&self.pool, hash).await?.map(|(token, family, _)| (token, family)))
    }

    /// A refresh: read, decide, and if the decision is to rotate, the compare-and-set. A lost
    /// compare-and-set (another request, maybe on another instance, rotated the token after
    /// our read) or a PostgreSQL request to retry (serialization failure, deadlock) rolls back
    /// and reads again, where the winner's rotation makes this one a replay or a reuse.
    ///
    /// On PostgreSQL the read and the rotation share one pooled connection (one acquire).
    pub async fn refresh(&self, refresh: Refresh) -> StoreResult<Refreshed> {
        for _ in 0..ROUNDS {
            let mut connection = match self.backend {
                Backend::Postgres => Some(self.pool.acquire().await?),
                // In-memory SQLite: the pool's one connection is also the writer's.
                Backend::Sqlite => None,
            };
            let found = match &mut connection {
                Some(connection) => Self::find_token(&mut **connection, &refresh.presented).await,
                None => Self::find_token(&self.pool, &refresh.presented).await,
            };
            let found = match found {
                Err(error) if retry(&error) => continue,
                other => other?,
            };
            let decision = (refresh.decide)(found.as_ref().map(|(token, family, _)| (token, family)));
            let rotated = match (&decision, &found) {
                (RefreshDecision::Rotate { successor_idle_expires_at, .. }, Some((_, _, generation))) => {
                    let rotation = match &mut connection {
                        Some(connection) => {
                            Self::rotate_in_one_statement(&mut **connection, &refresh, *successor_idle_expires_at).await
                        }
                        None => self.rotate_in_transaction(&refresh, *successor_idle_expires_at, *generation).await,
                    };
                    match rotation {
                        Err(error) if retry(&error) => continue,
                        other => other?,
                    }
                }
                _ => false,
            };
            if let Some(done) = Refreshed::applied(decision, rotated) {
                return Ok(done);
            }
        }
        Err(StoreError::Unavailable("refresh kept losing the rotation race".into()))
    }

    /// The compare-and-set, the successor's insert (one generation on) and the deletion of
    /// the family's spent tokens older than the last [`SPENT_TOKENS_KEPT`]; true if it won.
    ///
    /// The `UPDATE … WHERE used_at IS NULL` is the compare-and-set: of any number of
    /// concurrent calls, on one instance or many sharing the database, exactly one changes
    /// the row; the row lock taken by the first makes the others wait and then re-check the
    /// condition (READ COMMITTED), so they never both win. On PostgreSQL it is one statement,
    /// so one round trip: the INSERT and the DELETE take the family and generation from the
    /// UPDATE's `RETURNING`, so they do nothing unless it changed a row, and the statement
    /// commits as a whole. SQLite (in-memory databases only, here) has no DML in CTEs: there
    /// it is three statements in one transaction (`rotate_in_transaction`).
    async fn rotate_in_one_statement<'c>(
        executor: impl AnyExecutor<'c>,
        refresh: &Refresh,
        idle_expires_at: Timestamp,
    ) -> StoreResult<bool> {
        let inserted = sqlx::query(&format!(
            "WITH marked AS ({MARK} RETURNING family_id, generation), \
             pruned AS (DELETE FROM refresh_tokens WHERE token_hash IN ( \
               SELECT t.token_hash FROM refresh_tokens t JOIN marked m ON t.family_id = m.family_id \
               WHERE t.generation <= m.generation - $5 LIMIT $6)) \
             INSERT INTO refresh_tokens (token_hash, family_id, created_at, idle_expires_at, generation) \
             SELECT $2, family_id, $1, $4, generation + 1 FROM marked"
        ))
        .bind(refresh.now.millis())
        .bind(refresh.successor.as_str())
        .bind(refresh.presented.as_str())
        .bind(idle_expires_at.millis())
        .bind(SPENT_TOKENS_KEPT)
        .bind(PRUNED_PER_ROTATION)
        .execute(executor)
        .await?;
        Ok(inserted.rows_affected() == 1)
    }

    /// [`Self::rotate_in_one_statement`] for SQLite, which has no DML in CTEs.
    async fn rotate_in_transaction(
        &self,
        refresh: &Refresh,
        idle_expires_at: Timestamp,
        generation: i64,
    ) -> StoreResult<bool> {
        let (now, successor, presented) =
            (refresh.now.millis(), refresh.successor.as_str(), refresh.presented.as_str());
        let mut tx = self.writer.begin().await?;
        let marked = sqlx::query(MARK).bind(now).bind(successor).bind(presented).execute(&mut *tx).await?;
        if marked.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, family_id, created_at, idle_expires_at, generation) \
             SELECT $1, family_id, $2, $3, $4 FROM refresh_tokens WHERE token_hash = $5",
        )
        .bind(successor)
        .bind(now)
        .bind(idle_expires_at.millis())
        .bind(generation + 1)
        .bind(presented)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM refresh_tokens WHERE token_hash IN ( \
               SELECT t.token_hash FROM refresh_tokens t JOIN refresh_tokens p ON p.family_id = t.family_id \
               WHERE p.token_hash = $1 AND t.generation <= $2 LIMIT $3)",
        )
        .bind(presented)
        .bind(generation - SPENT_TOKENS_KEPT)
        .bind(PRUNED_PER_ROTATION)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The family holding any of `hashes` (the successors of a presented token that is no
    /// longer stored), in one read.
    pub async fn find_family_of_tokens(&self, hashes: &[TokenHash]) -> StoreResult<Option<Family>> {
        if hashes.is_empty() {
            return Ok(None);
        }
        let placeholders = (1..=hashes.len()).map(|n| format!("${n}")).collect::<Vec<_>>().join(", ");
        let sql = format!(
            "SELECT f.family_id, f.client_id, f.user_id, f.scope, f.created_at, f.expires_at, f.revoked_at, f.jkt \
             FROM refresh_tokens t JOIN refresh_families f ON f.family_id = t.family_id \
             WHERE t.token_hash IN ({placeholders}) LIMIT 1"
        );
        let mut query = sqlx::query(&sql);
        for hash in hashes {
            query = query.bind(hash.as_str());
        }
        let row = query.fetch_optional(&self.pool).await?;
        row.map(|row| family_row(&row, "created_at")).transpose()
    }

    /// Revokes a family (all its refresh tokens, and through `fid` its access tokens).
    /// Returns false if it was already revoked or does not exist.
    /// Revokes every live family and personal access token of a user, in one statement: how
    /// many of each.
    pub async fn revoke_user_grants(&self, user_id: &UserId, now: Timestamp) -> StoreResult<(u64, u64)> {
        let row = sqlx::query(
            "WITH families AS (UPDATE refresh_families SET revoked_at = $1, revoked_reason = $2 \
                               WHERE user_id = $3 AND revoked_at IS NULL RETURNING 1), \
                  tokens AS (UPDATE personal_access_tokens SET revoked_at = $1 \
                             WHERE user_id = $3 AND revoked_at IS NULL RETURNING 1) \
             SELECT (SELECT COUNT(*) FROM families) AS families, (SELECT COUNT(*) FROM tokens) AS tokens",
        )
        .bind(now.millis())
        .bind(RevocationReason::UserDisabled.as_str())
        .bind(user_id.as_str())
        .fetch_one(&self.writer)
        .await?;
        let count = |name: &str| row.try_get::<i64, _>(name).map(|count| u64::try_from(count).unwrap_or_default());
        Ok((count("families")?, count("tokens")?))
    }

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
            "SELECT family_id, client_id, user_id, scope, created_at, expires_at, revoked_at, jkt \
             FROM refresh_families WHERE family_id = $1",
        )
        .bind(family_id.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| family_row(&row, "created_at")).transpose()
    }

    /// A client's refresh tokens and families, deleted in batches (see
    /// [`CLIENT_ROWS_IN_BATCHES`]), before the client row goes.
    pub(super) async fn delete_family_rows_of_client(&self, client_id: &ClientId) -> StoreResult<()> {
        for sql in CLIENT_ROWS_IN_BATCHES {
            loop {
                let done = sqlx::query(sql).bind(client_id.as_str()).bind(DELETE_BATCH).execute(&self.writer).await?;
                if done.rows_affected() < DELETE_BATCH as u64 {
                    break;
                }
            }
        }
        Ok(())
    }
}
