//! The PostgreSQL store's audit log (migration 0014).

use super::PostgresStore;
use super::ts;
use crate::store::StoreResult;
use crate::store::audit::{AUDIT_COLUMNS, AuditQuery, AuditRow};
use sqlx::Row;
use sqlx::any::AnyRow;
use tessera_core::{Timestamp, UserId};

fn audit(row: &AnyRow) -> StoreResult<AuditRow> {
    Ok(AuditRow {
        id: row.try_get("id")?,
        at: ts(row, "at")?,
        actor_id: row.try_get::<Option<String>, _>("actor_id")?.map(UserId::new),
        actor: row.try_get("actor")?,
        address: row.try_get("address")?,
        action: row.try_get("action")?,
        target: row.try_get("target")?,
        detail: row.try_get("detail")?,
    })
}

impl PostgresStore {
    pub async fn insert_audit(&self, entry: &AuditRow) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO audit_log (at, actor_id, actor, address, action, target, detail) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(entry.at.millis())
        .bind(entry.actor_id.as_ref().map(|id| id.as_str().to_owned()))
        .bind(entry.actor.clone())
        .bind(entry.address.clone())
        .bind(entry.action.as_str())
        .bind(entry.target.as_str())
        .bind(entry.detail.as_str())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    pub async fn list_audit(&self, query: &AuditQuery) -> StoreResult<Vec<AuditRow>> {
        let (condition, arguments) = query.conditions(|n| format!("${n}"));
        let sql =
            format!("SELECT {AUDIT_COLUMNS} FROM audit_log{condition} ORDER BY id DESC LIMIT {}", query.limit.max(0));
        let mut statement = sqlx::query(&sql);
        for argument in &arguments {
            statement = statement.bind(argument.as_str());
        }
        let rows = statement.fetch_all(&self.pool).await?;
        rows.iter().map(audit).collect()
    }

    pub async fn purge_audit(&self, before: Timestamp, batch: i64) -> StoreResult<u64> {
        let done = sqlx::query(
            "DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE at < $1 ORDER BY id LIMIT $2)",
        )
        .bind(before.millis())
        .bind(batch)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected())
    }
}
