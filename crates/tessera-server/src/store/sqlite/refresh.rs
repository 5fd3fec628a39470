//! The SQLite store's refresh-token families: a whole refresh as one writer operation (read
//! the token and family, decide, compare-and-set, insert the successor, prune the family's
//! oldest spent tokens), family revocation and the reads of families and tokens.

use super::SqliteStore;
use super::rows::{execute, opt_ts, optional, scope, ts};
use crate::store::refresh::{
    CLIENT_ROWS_IN_BATCHES, DELETE_BATCH, PRUNED_PER_ROTATION, Refresh, Refreshed, SPENT_TOKENS_KEPT,
};
use crate::store::{StoreError, StoreResult};
use rusqlite::{Connection, params};
use tessera_core::dpop::Thumbprint;
use tessera_core::{
    ClientId, Family, FamilyId, RefreshDecision, RevocationReason, StoredRefreshToken, Timestamp, TokenHash, UserId,
};

/// Inserts a family and, if given, its first refresh token (hash, idle expiry), generation 0.
pub(super) fn insert_family(
    connection: &Connection,
    family: &Family,
    first_token: Option<&(TokenHash, Timestamp)>,
) -> StoreResult<()> {
    execute(
        connection,
        "INSERT INTO refresh_families (family_id, client_id, user_id, scope, created_at, expires_at, jkt) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            family.id.as_str(),
            family.client_id.as_str(),
            family.user_id.as_str(),
            family.scope.to_string(),
            family.created_at.millis(),
            family.expires_at.millis(),
            family.jkt.as_ref().map(Thumbprint::as_str)
        ],
    )?;
    if let Some((token, idle_expires_at)) = first_token {
        execute(
            connection,
            "INSERT INTO refresh_tokens (token_hash, family_id, created_at, idle_expires_at) VALUES (?1, ?2, ?3, ?4)",
            params![token.as_str(), family.id.as_str(), family.created_at.millis(), idle_expires_at.millis()],
        )?;
    }
    Ok(())
}

/// A stored token with its family, and its generation (0 for a family's first token).
type FoundToken = (StoredRefreshToken, Family, i64);

/// The presented token's state, its family and its generation, in one statement.
fn find_token(connection: &Connection, hash: &TokenHash) -> StoreResult<Option<FoundToken>> {
    let sql = "SELECT t.family_id, t.created_at, t.idle_expires_at, t.used_at, t.generation, \
            s.used_at AS successor_used_at, f.client_id, f.user_id, f.scope, f.created_at AS family_created_at, \
            f.expires_at, f.revoked_at, f.jkt \
         FROM refresh_tokens t \
         JOIN refresh_families f ON f.family_id = t.family_id \
         LEFT JOIN refresh_tokens s ON s.token_hash = t.successor_hash \
         WHERE t.token_hash = ?1";
    optional(connection, sql, [hash.as_str()], |row| {
        let family_id = FamilyId::new(row.get::<_, String>("family_id")?);
        let token = StoredRefreshToken {
            family_id: family_id.clone(),
            created_at: ts(row, "created_at")?,
            idle_expires_at: ts(row, "idle_expires_at")?,
            used_at: opt_ts(row, "used_at")?,
            successor_used: opt_ts(row, "successor_used_at")?.is_some(),
        };
        let family = family_row(row, family_id, "family_created_at")?;
        Ok((token, family, row.get::<_, i64>("generation")?))
    })
}

fn family_row(row: &rusqlite::Row<'_>, id: FamilyId, created_at: &str) -> StoreResult<Family> {
    Ok(Family {
        id,
        client_id: ClientId::new(row.get::<_, String>("client_id")?),
        user_id: UserId::new(row.get::<_, String>("user_id")?),
        scope: scope(row, "scope")?,
        created_at: ts(row, created_at)?,
        expires_at: ts(row, "expires_at")?,
        revoked_at: opt_ts(row, "revoked_at")?,
        jkt: row.get::<_, Option<String>>("jkt")?.map(Thumbprint::from_stored),
    })
}

/// The whole refresh on the write connection, inside the writer's transaction: nothing else
/// writes between the read and the write, so the compare-and-set cannot lose (it stays a
/// compare-and-set all the same, against other processes such as the CLI).
fn refresh_on(connection: &Connection, refresh: &Refresh) -> StoreResult<Refreshed> {
    let found = find_token(connection, &refresh.presented)?;
    let decision = (refresh.decide)(found.as_ref().map(|(token, family, _)| (token, family)));
    let rotated = match (&decision, &found) {
        (RefreshDecision::Rotate { family, successor_idle_expires_at, .. }, Some((_, _, generation))) => {
            rotate(connection, refresh, family, *successor_idle_expires_at, *generation)?
        }
        _ => false,
    };
    Refreshed::applied(decision, rotated)
        .ok_or_else(|| StoreError::Unavailable("the refresh token changed during its rotation".into()))
}

/// Marks the presented token used (compare-and-set), inserts its successor one generation
/// on, and deletes the family's spent tokens older than the last [`SPENT_TOKENS_KEPT`].
fn rotate(
    connection: &Connection,
    refresh: &Refresh,
    family: &Family,
    successor_idle_expires_at: Timestamp,
    generation: i64,
) -> StoreResult<bool> {
    let now = refresh.now.millis();
    let marked = execute(
        connection,
        "UPDATE refresh_tokens SET used_at = ?1, successor_hash = ?2 \
         WHERE token_hash = ?3 AND used_at IS NULL \
           AND EXISTS (SELECT 1 FROM refresh_families f \
                       WHERE f.family_id = refresh_tokens.family_id AND f.revoked_at IS NULL)",
        params![now, refresh.successor.as_str(), refresh.presented.as_str()],
    )?;
    if marked != 1 {
        return Ok(false);
    }
    let successor_generation = generation + 1;
    execute(
        connection,
        "INSERT INTO refresh_tokens (token_hash, family_id, created_at, idle_expires_at, generation) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            refresh.successor.as_str(),
            family.id.as_str(),
            now,
            successor_idle_expires_at.millis(),
            successor_generation
        ],
    )?;
    execute(
        connection,
        "DELETE FROM refresh_tokens WHERE token_hash IN ( \
           SELECT token_hash FROM refresh_tokens WHERE family_id = ?1 AND generation <= ?2 LIMIT ?3)",
        params![family.id.as_str(), successor_generation - SPENT_TOKENS_KEPT - 1, PRUNED_PER_ROTATION],
    )?;
    Ok(true)
}

impl SqliteStore {
    pub async fn create_family(
        &self,
        family: &Family,
        first_token: Option<(&TokenHash, Timestamp)>,
    ) -> StoreResult<()> {
        let family = family.clone();
        let first_token = first_token.map(|(hash, expires)| (hash.clone(), expires));
        self.write(move |connection| insert_family(connection, &family, first_token.as_ref())).await
    }

    pub async fn find_refresh_token(&self, hash: &TokenHash) -> StoreResult<Option<(StoredRefreshToken, Family)>> {
        self.read(|connection| Ok(find_token(connection, hash)?.map(|(token, family, _)| (token, family))))
    }

    /// The whole refresh as one writer operation: read, decide, compare-and-set, insert, prune.
    pub async fn refresh(&self, refresh: Refresh) -> StoreResult<Refreshed> {
        self.write(move |connection| refresh_on(connection, &refresh)).await
    }

    /// The family holding any of `hashes` (the successors of a presented token that is no
    /// longer stored), in one read.
    pub async fn find_family_of_tokens(&self, hashes: &[TokenHash]) -> StoreResult<Option<Family>> {
        if hashes.is_empty() {
            return Ok(None);
        }
        self.read(|connection| {
            let placeholders = vec!["?"; hashes.len()].join(", ");
            let sql = format!(
                "SELECT f.family_id, f.client_id, f.user_id, f.scope, f.created_at, f.expires_at, f.revoked_at, f.jkt \
                 FROM refresh_tokens t JOIN refresh_families f ON f.family_id = t.family_id \
                 WHERE t.token_hash IN ({placeholders}) LIMIT 1"
            );
            let params = rusqlite::params_from_iter(hashes.iter().map(TokenHash::as_str));
            optional(connection, &sql, params, |row| {
                family_row(row, FamilyId::new(row.get::<_, String>("family_id")?), "created_at")
            })
        })
    }

    pub async fn revoke_family(
        &self,
        family_id: &FamilyId,
        now: Timestamp,
        reason: RevocationReason,
    ) -> StoreResult<bool> {
        let family_id = family_id.clone();
        self.write(move |connection| {
            let sql = "UPDATE refresh_families SET revoked_at = ?1, revoked_reason = ?2 \
                       WHERE family_id = ?3 AND revoked_at IS NULL";
            Ok(execute(connection, sql, params![now.millis(), reason.as_str(), family_id.as_str()])? > 0)
        })
        .await
    }

    /// Revokes every live family and personal access token of a user, in one writer operation:
    /// how many of each.
    pub async fn revoke_user_grants(&self, user_id: &UserId, now: Timestamp) -> StoreResult<(u64, u64)> {
        let user_id = user_id.clone();
        self.write(move |connection| {
            let families = execute(
                connection,
                "UPDATE refresh_families SET revoked_at = ?1, revoked_reason = ?2 \
                 WHERE user_id = ?3 AND revoked_at IS NULL",
                params![now.millis(), RevocationReason::UserDisabled.as_str(), user_id.as_str()],
            )?;
            let tokens = execute(
                connection,
                "UPDATE personal_access_tokens SET revoked_at = ?1 WHERE user_id = ?2 AND revoked_at IS NULL",
                params![now.millis(), user_id.as_str()],
            )?;
            Ok((families as u64, tokens as u64))
        })
        .await
    }

    pub async fn get_family(&self, family_id: &FamilyId) -> StoreResult<Option<Family>> {
        self.read(|connection| {
            let sql = "SELECT family_id, client_id, user_id, scope, created_at, expires_at, revoked_at, jkt \
                       FROM refresh_families WHERE family_id = ?1";
            optional(connection, sql, [family_id.as_str()], |row| {
                family_row(row, FamilyId::new(row.get::<_, String>("family_id")?), "created_at")
            })
        })
    }

    /// A client's refresh tokens and families, deleted in batches, each its own writer
    /// operation (see [`CLIENT_ROWS_IN_BATCHES`]), before the client row goes.
    pub(super) async fn delete_family_rows_of_client(&self, client_id: &ClientId) -> StoreResult<()> {
        for sql in CLIENT_ROWS_IN_BATCHES {
            let sql = sql.replace('$', "?");
            loop {
                let (sql, client_id) = (sql.clone(), client_id.clone());
                let deleted = self
                    .write(move |connection| execute(connection, &sql, params![client_id.as_str(), DELETE_BATCH]))
                    .await?;
                if (deleted as i64) < DELETE_BATCH {
                    break;
                }
            }
        }
        Ok(())
    }
}
