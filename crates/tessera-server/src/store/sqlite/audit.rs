//! The SQLite store's audit log (migration 0014).

use super::SqliteStore;
use super::rows::{all, execute, ts};
use crate::store::StoreResult;
use crate::store::audit::{AUDIT_COLUMNS, AuditQuery, AuditRow};
use rusqlite::{Row, params, params_from_iter};
use tessera_core::{Timestamp, UserId};

fn audit(row: &Row<'_>) -> StoreResult<AuditRow> {
    Ok(AuditRow {
        id: row.get("id")?,
        at: ts(row, "at")?,
        actor_id: row.get::<_, Option<String>>("actor_id")?.map(UserId::new),
        actor: row.get("actor")?,
        address: row.get("address")?,
        action: row.get("action")?,
        target: row.get("target")?,
        detail: row.get("detail")?,
    })
}

impl SqliteStore {
    pub async fn insert_audit(&self, entry: &AuditRow) -> StoreResult<()> {
        let entry = entry.clone();
        self.write(move |connection| {
            execute(
                connection,
                "INSERT INTO audit_log (at, actor_id, actor, address, action, target, detail) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    entry.at.millis(),
                    entry.actor_id.as_ref().map(UserId::as_str),
                    entry.actor,
                    entry.address,
                    entry.action,
                    entry.target,
                    entry.detail,
                ],
            )?;
            Ok(())
        })
        .await
    }

    pub async fn list_audit(&self, query: &AuditQuery) -> StoreResult<Vec<AuditRow>> {
        let (condition, arguments) = query.conditions(|n| format!("?{n}"));
        let sql =
            format!("SELECT {AUDIT_COLUMNS} FROM audit_log{condition} ORDER BY id DESC LIMIT {}", query.limit.max(0));
        self.read(|connection| all(connection, &sql, params_from_iter(arguments.iter()), audit))
    }

    pub async fn purge_audit(&self, before: Timestamp, batch: i64) -> StoreResult<u64> {
        self.write(move |connection| {
            let sql = "DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE at < ?1 ORDER BY id LIMIT ?2)";
            Ok(execute(connection, sql, params![before.millis(), batch])? as u64)
        })
        .await
    }
}
