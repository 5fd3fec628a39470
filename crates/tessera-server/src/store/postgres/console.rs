//! The PostgreSQL store's queries for the console's clients, users and sessions pages (SQL in
//! `store/console.rs`, shared with SQLite).

use super::oidc::write_user;
use super::{PostgresStore, opt_ts, scope, ts};
use crate::store::console::{self, BrowserSessionRow, GuardedUpdate, LiveFamilyRow, Owner, Paging};
use crate::store::{StoreResult, UserRow};
use sqlx::Row;
use sqlx::any::AnyRow;
use tessera_core::{ClientId, FamilyId, Timestamp, TokenHash, UserId};

fn live_family(row: &AnyRow) -> StoreResult<LiveFamilyRow> {
    Ok(LiveFamilyRow {
        family_id: FamilyId::new(row.try_get::<String, _>("family_id")?),
        client_id: ClientId::new(row.try_get::<String, _>("client_id")?),
        client_name: row.try_get("client_name")?,
        user_id: UserId::new(row.try_get::<String, _>("user_id")?),
        username: row.try_get("username")?,
        scope: scope(row, "scope")?,
        created_at: ts(row, "created_at")?,
        expires_at: ts(row, "expires_at")?,
        last_refreshed_at: opt_ts(row, "last_refreshed_at")?,
        idle_expires_at: opt_ts(row, "idle_expires_at")?,
    })
}

fn browser_session(row: &AnyRow) -> StoreResult<BrowserSessionRow> {
    Ok(BrowserSessionRow {
        session_hash: TokenHash::from_stored(row.try_get::<String, _>("session_hash")?),
        user_id: UserId::new(row.try_get::<String, _>("user_id")?),
        username: row.try_get("username")?,
        created_at: ts(row, "created_at")?,
        expires_at: ts(row, "expires_at")?,
    })
}

impl PostgresStore {
    pub async fn list_users(&self, search: Option<&str>, paging: Paging) -> StoreResult<Vec<UserRow>> {
        let search = search.filter(|text| !text.is_empty());
        let sql = console::users_sql(search.is_some(), paging);
        let mut query = sqlx::query(&sql);
        if let Some(text) = search {
            query = query.bind(console::contains_pattern(text));
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter().map(UserRow::from_any_row).collect()
    }

    pub async fn list_live_families(
        &self,
        owner: Owner<'_>,
        now: Timestamp,
        paging: Paging,
    ) -> StoreResult<Vec<LiveFamilyRow>> {
        let sql = console::live_families_sql(owner, paging);
        let mut query = sqlx::query(&sql).bind(now.millis());
        if let Some(owner) = owner.argument() {
            query = query.bind(owner);
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter().map(live_family).collect()
    }

    pub async fn count_live_families(&self, owner: Owner<'_>, now: Timestamp) -> StoreResult<i64> {
        let sql = console::count_live_families_sql(owner);
        let mut query = sqlx::query(&sql).bind(now.millis());
        if let Some(owner) = owner.argument() {
            query = query.bind(owner);
        }
        Ok(query.fetch_one(&self.pool).await?.try_get::<i64, _>(0)?)
    }

    pub async fn list_browser_sessions(
        &self,
        owner: Owner<'_>,
        now: Timestamp,
        paging: Paging,
    ) -> StoreResult<Vec<BrowserSessionRow>> {
        let sql = console::browser_sessions_sql(owner, paging);
        let mut query = sqlx::query(&sql).bind(now.millis());
        if let Some(owner) = console::browser_sessions_argument(owner) {
            query = query.bind(owner);
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter().map(browser_session).collect()
    }

    pub async fn set_user_password_hash(
        &self,
        user_id: &UserId,
        password_hash: &str,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE user_id = $3")
            .bind(password_hash)
            .bind(now.millis())
            .bind(user_id.as_str())
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// In one transaction that first locks every enabled admin's row (in one order, so two
    /// such transactions cannot deadlock): a concurrent demotion waits, then sees this one's
    /// result, so two admins demoting each other at once leave one of them an admin.
    pub async fn update_user_keeping_an_admin(&self, user: &UserRow) -> StoreResult<GuardedUpdate> {
        let mut tx = self.writer.begin().await?;
        let admins: Vec<String> =
            sqlx::query("SELECT user_id FROM users WHERE is_admin = 1 AND disabled = 0 ORDER BY user_id FOR UPDATE")
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|row| row.try_get::<String, _>(0))
                .collect::<Result<_, _>>()?;
        let current = sqlx::query("SELECT is_admin, disabled FROM users WHERE user_id = $1 FOR UPDATE")
            .bind(user.user_id.as_str())
            .fetch_optional(&mut *tx)
            .await?
            .map(|row| Ok::<_, sqlx::Error>((row.try_get::<i64, _>(0)? != 0, row.try_get::<i64, _>(1)? != 0)))
            .transpose()?;
        let others = admins.iter().filter(|id| id.as_str() != user.user_id.as_str()).count() as i64;
        let decision = console::guard(current, user, others);
        if decision != GuardedUpdate::Updated {
            tx.rollback().await?;
            return Ok(decision);
        }
        let written = write_user(user).execute(&mut *tx).await?.rows_affected() > 0;
        tx.commit().await?;
        Ok(if written { GuardedUpdate::Updated } else { GuardedUpdate::NoSuchUser })
    }

    pub async fn clear_sign_in_throttle(&self, username: &str) -> StoreResult<u64> {
        let done = sqlx::query(console::CLEAR_THROTTLE_SQL)
            .bind(console::throttle_pattern(username))
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected())
    }
}
