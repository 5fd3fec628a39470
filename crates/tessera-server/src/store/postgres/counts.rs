//! The PostgreSQL store's counts for the console's overview.

use super::PostgresStore;
use crate::store::StoreResult;
use crate::store::counts::{ConsoleCounts, counts_query};
use sqlx::Row;
use tessera_core::Timestamp;

impl PostgresStore {
    pub async fn console_counts(&self, now: Timestamp) -> StoreResult<ConsoleCounts> {
        let row = sqlx::query(&counts_query("$1")).bind(now.millis()).fetch_one(&self.pool).await?;
        Ok(ConsoleCounts {
            clients: row.try_get("clients")?,
            users: row.try_get("users")?,
            live_families: row.try_get("live_families")?,
            active_personal_access_tokens: row.try_get("active_pats")?,
        })
    }
}
