//! The PostgreSQL store's sign-in throttle counters (statements in `store::throttle`), also
//! serving in-memory SQLite: each operation is one statement on the writer pool.

use super::PostgresStore;
use crate::store::StoreResult;
use crate::store::throttle::{CLEAR_SQL, RELEASE_SQL, RESERVE_SQL, Reservation, SignInWindow, WINDOW_SQL};
use sqlx::Row;
use tessera_core::Timestamp;

impl PostgresStore {
    /// Counts one sign-in attempt against `counter` if its open window holds fewer than
    /// `limit`, in one conditional upsert; a window that began at or before
    /// `window_opened_after` is closed, and a new one opens at `now`. Of any number of
    /// concurrent calls, on one instance or several, no more than `limit` are counted in a
    /// window. A refusal says when the full window began.
    pub async fn reserve_sign_in_attempt(
        &self,
        counter: &str,
        now: Timestamp,
        window_opened_after: Timestamp,
        limit: i64,
    ) -> StoreResult<Reservation> {
        let reserved = sqlx::query(RESERVE_SQL)
            .bind(counter)
            .bind(now.millis())
            .bind(window_opened_after.millis())
            .bind(limit)
            .fetch_optional(&self.writer)
            .await?;
        if let Some(row) = reserved {
            return Ok(Reservation::Reserved { attempts: row.try_get::<i64, _>(0)? });
        }
        // Refused. The window is read apart; if it closed in between, the wait is short.
        let started_at =
            self.sign_in_attempts(counter, window_opened_after).await?.map_or(now, |window| window.started_at);
        Ok(Reservation::Refused { window_started_at: started_at })
    }

    /// The open window of `counter`, if it has one.
    pub async fn sign_in_attempts(
        &self,
        counter: &str,
        window_opened_after: Timestamp,
    ) -> StoreResult<Option<SignInWindow>> {
        let row =
            sqlx::query(WINDOW_SQL).bind(counter).bind(window_opened_after.millis()).fetch_optional(&self.pool).await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(SignInWindow {
            attempts: row.try_get("attempts")?,
            started_at: Timestamp::from_millis(row.try_get("window_started_at")?),
        }))
    }

    /// Gives back one attempt of the open window (a reservation that was not checked, or a
    /// correct password).
    pub async fn release_sign_in_attempt(&self, counter: &str, window_opened_after: Timestamp) -> StoreResult<()> {
        sqlx::query(RELEASE_SQL).bind(counter).bind(window_opened_after.millis()).execute(&self.writer).await?;
        Ok(())
    }

    /// Forgets a counter.
    pub async fn clear_sign_in_attempts(&self, counter: &str) -> StoreResult<()> {
        sqlx::query(CLEAR_SQL).bind(counter).execute(&self.writer).await?;
        Ok(())
    }
}
