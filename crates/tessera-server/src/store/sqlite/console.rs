//! The SQLite store's queries for the console's clients, users and sessions pages (SQL in
//! `store/console.rs`, shared with PostgreSQL).

use super::SqliteStore;
use super::oidc::write_user;
use super::rows::{all, execute, opt_ts, optional, scope, ts};
use crate::store::console::{self, BrowserSessionRow, GuardedUpdate, LiveFamilyRow, Owner, Paging};
use crate::store::{StoreResult, UserRow};
use rusqlite::{Row, params, params_from_iter};
use tessera_core::{ClientId, FamilyId, Timestamp, TokenHash, UserId};

/// Shared SQL numbers its parameters `$n`; SQLite reads those as names, so they become `?n`.
fn numbered(sql: &str) -> String {
    sql.replace('$', "?")
}

/// The enabled admins other than `?1`.
const OTHER_ADMINS_SQL: &str = "SELECT COUNT(*) FROM users WHERE user_id <> ?1 AND is_admin = 1 AND disabled = 0";

fn live_family(row: &Row<'_>) -> StoreResult<LiveFamilyRow> {
    Ok(LiveFamilyRow {
        family_id: FamilyId::new(row.get::<_, String>("family_id")?),
        client_id: ClientId::new(row.get::<_, String>("client_id")?),
        client_name: row.get("client_name")?,
        user_id: UserId::new(row.get::<_, String>("user_id")?),
        username: row.get("username")?,
        scope: scope(row, "scope")?,
        created_at: ts(row, "created_at")?,
        expires_at: ts(row, "expires_at")?,
        last_refreshed_at: opt_ts(row, "last_refreshed_at")?,
        idle_expires_at: opt_ts(row, "idle_expires_at")?,
    })
}

fn browser_session(row: &Row<'_>) -> StoreResult<BrowserSessionRow> {
    Ok(BrowserSessionRow {
        session_hash: TokenHash::from_stored(row.get::<_, String>("session_hash")?),
        user_id: UserId::new(row.get::<_, String>("user_id")?),
        username: row.get("username")?,
        created_at: ts(row, "created_at")?,
        expires_at: ts(row, "expires_at")?,
    })
}

/// `now` and, when there is one, the owner: the arguments of the listings.
fn arguments(now: Timestamp, owner: Option<String>) -> Vec<rusqlite::types::Value> {
    let mut arguments = vec![rusqlite::types::Value::Integer(now.millis())];
    arguments.extend(owner.map(rusqlite::types::Value::Text));
    arguments
}

impl SqliteStore {
    pub async fn list_users(&self, search: Option<&str>, paging: Paging) -> StoreResult<Vec<UserRow>> {
        let search = search.filter(|text| !text.is_empty());
        let sql = numbered(&console::users_sql(search.is_some(), paging));
        let arguments: Vec<String> = search.map(console::contains_pattern).into_iter().collect();
        self.read(|connection| all(connection, &sql, params_from_iter(arguments.iter()), super::rows::user))
    }

    pub async fn list_live_families(
        &self,
        owner: Owner<'_>,
        now: Timestamp,
        paging: Paging,
    ) -> StoreResult<Vec<LiveFamilyRow>> {
        let sql = numbered(&console::live_families_sql(owner, paging));
        let arguments = arguments(now, owner.argument());
        self.read(|connection| all(connection, &sql, params_from_iter(arguments.iter()), live_family))
    }

    pub async fn count_live_families(&self, owner: Owner<'_>, now: Timestamp) -> StoreResult<i64> {
        let sql = numbered(&console::count_live_families_sql(owner));
        let arguments = arguments(now, owner.argument());
        self.read(|connection| {
            Ok(connection.prepare_cached(&sql)?.query_row(params_from_iter(arguments.iter()), |row| row.get(0))?)
        })
    }

    pub async fn list_browser_sessions(
        &self,
        owner: Owner<'_>,
        now: Timestamp,
        paging: Paging,
    ) -> StoreResult<Vec<BrowserSessionRow>> {
        let sql = numbered(&console::browser_sessions_sql(owner, paging));
        let arguments = arguments(now, console::browser_sessions_argument(owner));
        self.read(|connection| all(connection, &sql, params_from_iter(arguments.iter()), browser_session))
    }

    pub async fn set_user_password_hash(
        &self,
        user_id: &UserId,
        password_hash: &str,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let (user_id, password_hash) = (user_id.clone(), password_hash.to_owned());
        self.write(move |connection| {
            let sql = "UPDATE users SET password_hash = ?1, updated_at = ?2 WHERE user_id = ?3";
            Ok(execute(connection, sql, params![password_hash, now.millis(), user_id.as_str()])? > 0)
        })
        .await
    }

    /// The check and the write run as one operation of the single writer, so no other write
    /// (another admin's demotion, say) comes between them.
    pub async fn update_user_keeping_an_admin(&self, user: &UserRow) -> StoreResult<GuardedUpdate> {
        let user = user.clone();
        self.write(move |connection| {
            let current = optional(
                connection,
                "SELECT is_admin, disabled FROM users WHERE user_id = ?1",
                [user.user_id.as_str()],
                |row| Ok((row.get::<_, i64>(0)? != 0, row.get::<_, i64>(1)? != 0)),
            )?;
            let others: i64 =
                connection.prepare_cached(OTHER_ADMINS_SQL)?.query_row([user.user_id.as_str()], |row| row.get(0))?;
            let decision = console::guard(current, &user, others);
            if decision == GuardedUpdate::Updated && !write_user(connection, &user)? {
                return Ok(GuardedUpdate::NoSuchUser);
            }
            Ok(decision)
        })
        .await
    }

    pub async fn clear_sign_in_throttle(&self, username: &str) -> StoreResult<u64> {
        let pattern = console::throttle_pattern(username);
        self.write(move |connection| Ok(execute(connection, &numbered(console::CLEAR_THROTTLE_SQL), [pattern])? as u64))
            .await
    }
}
