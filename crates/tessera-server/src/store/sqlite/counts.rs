//! The SQLite store's counts for the console's overview.

use super::SqliteStore;
use crate::store::StoreResult;
use crate::store::counts::{ConsoleCounts, counts_query};
use rusqlite::params;
use tessera_core::Timestamp;

impl SqliteStore {
    pub async fn console_counts(&self, now: Timestamp) -> StoreResult<ConsoleCounts> {
        self.read(|connection| {
            let counts = connection.prepare_cached(&counts_query("?1"))?.query_row(params![now.millis()], |row| {
                Ok(ConsoleCounts {
                    clients: row.get("clients")?,
                    users: row.get("users")?,
                    live_families: row.get("live_families")?,
                    active_personal_access_tokens: row.get("active_pats")?,
                })
            })?;
            Ok(counts)
        })
    }
}
