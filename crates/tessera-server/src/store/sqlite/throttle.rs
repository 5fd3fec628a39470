//! The SQLite store's sign-in throttle counters (statements in `store::throttle`): a
//! reservation runs on the writer, its refusal's window read in the same operation.

use super::SqliteStore;
use super::rows::{execute, optional, ts};
use crate::store::StoreResult;
use crate::store::throttle::{CLEAR_SQL, RELEASE_SQL, RESERVE_SQL, Reservation, SignInWindow, WINDOW_SQL};
use rusqlite::{Connection, params};
use tessera_core::Timestamp;

/// SQLite reads `$1` as a named parameter; `?1` says plainly that it is the first.
fn numbered(sql: &str) -> String {
    sql.replace('$', "?")
}

fn window(connection: &Connection, counter: &str, window_opened_after: Timestamp) -> StoreResult<Option<SignInWindow>> {
    optional(connection, &numbered(WINDOW_SQL), params![counter, window_opened_after.millis()], |row| {
        Ok(SignInWindow { attempts: row.get("attempts")?, started_at: ts(row, "window_started_at")? })
    })
}

impl SqliteStore {
    /// See `PostgresStore::reserve_sign_in_attempt`.
    pub async fn reserve_sign_in_attempt(
        &self,
        counter: &str,
        now: Timestamp,
        window_opened_after: Timestamp,
        limit: i64,
    ) -> StoreResult<Reservation> {
        let counter = counter.to_owned();
        self.write(move |connection| {
            let sql = numbered(RESERVE_SQL);
            let values = params![counter, now.millis(), window_opened_after.millis(), limit];
            if let Some(attempts) = optional(connection, &sql, values, |row| Ok(row.get::<_, i64>(0)?))? {
                return Ok(Reservation::Reserved { attempts });
            }
            // Refused: the window is full, and this operation still holds the writer.
            let started_at = window(connection, &counter, window_opened_after)?.map_or(now, |window| window.started_at);
            Ok(Reservation::Refused { window_started_at: started_at })
        })
        .await
    }

    pub async fn sign_in_attempts(
        &self,
        counter: &str,
        window_opened_after: Timestamp,
    ) -> StoreResult<Option<SignInWindow>> {
        self.read(|connection| window(connection, counter, window_opened_after))
    }

    pub async fn release_sign_in_attempt(&self, counter: &str, window_opened_after: Timestamp) -> StoreResult<()> {
        let counter = counter.to_owned();
        self.write(move |connection| {
            execute(connection, &numbered(RELEASE_SQL), params![counter, window_opened_after.millis()])?;
            Ok(())
        })
        .await
    }

    pub async fn clear_sign_in_attempts(&self, counter: &str) -> StoreResult<()> {
        let counter = counter.to_owned();
        self.write(move |connection| {
            execute(connection, &numbered(CLEAR_SQL), params![counter])?;
            Ok(())
        })
        .await
    }
}
