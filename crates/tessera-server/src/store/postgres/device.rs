//! The PostgreSQL store's device-grant tables (migration 0010): device codes (approval and
//! redemption by compare-and-set, redemption starting the family in the same transaction)
//! and the wrong-user-code counters.

use super::{PostgresStore, claim_code_and_start_family, opt_ts, scope, ts, unique_violation};
use crate::store::{DEVICE_COLUMNS, DeviceCodeRow, DeviceDecision, StoreError, StoreResult};
use sqlx::Row;
use sqlx::any::AnyRow;
use std::time::Duration;
use tessera_core::device::DeviceStatus;
use tessera_core::{ClientId, Family, FamilyId, Timestamp, TokenHash, UserId};

fn device_code(row: &AnyRow) -> StoreResult<DeviceCodeRow> {
    let status: String = row.try_get("status")?;
    Ok(DeviceCodeRow {
        device_code_hash: TokenHash::from_stored(row.try_get::<String, _>("device_code_hash")?),
        user_code_hash: TokenHash::from_stored(row.try_get::<String, _>("user_code_hash")?),
        client_id: ClientId::new(row.try_get::<String, _>("client_id")?),
        scope: scope(row, "scope")?,
        created_at: ts(row, "created_at")?,
        expires_at: ts(row, "expires_at")?,
        interval: Duration::from_secs(u64::try_from(row.try_get::<i64, _>("interval_secs")?).unwrap_or(0)),
        last_poll_at: opt_ts(row, "last_poll_at")?,
        status: DeviceStatus::parse(&status).ok_or_else(|| StoreError::Corrupt(format!("device status {status:?}")))?,
        user_id: row.try_get::<Option<String>, _>("user_id")?.map(UserId::new),
        auth_time: opt_ts(row, "auth_time")?,
        sid: row.try_get("sid")?,
        redeemed_at: opt_ts(row, "redeemed_at")?,
        family_id: row.try_get::<Option<String>, _>("family_id")?.map(FamilyId::new),
    })
}

fn secs(interval: Duration) -> i64 {
    i64::try_from(interval.as_secs()).unwrap_or(i64::MAX)
}

impl PostgresStore {
    pub async fn insert_device_code(&self, code: &DeviceCodeRow) -> StoreResult<()> {
        sqlx::query(&format!(
            "INSERT INTO device_codes ({DEVICE_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
        ))
        .bind(code.device_code_hash.as_str())
        .bind(code.user_code_hash.as_str())
        .bind(code.client_id.as_str())
        .bind(code.scope.to_string())
        .bind(code.created_at.millis())
        .bind(code.expires_at.millis())
        .bind(secs(code.interval))
        .bind(code.last_poll_at.map(Timestamp::millis))
        .bind(code.status.as_str())
        .bind(code.user_id.as_ref().map(|user| user.as_str().to_owned()))
        .bind(code.auth_time.map(Timestamp::millis))
        .bind(code.sid.clone())
        .bind(code.redeemed_at.map(Timestamp::millis))
        .bind(code.family_id.as_ref().map(|family| family.as_str().to_owned()))
        .execute(&self.writer)
        .await
        .map_err(|error| unique_violation(error, "a device code with this user code"))?;
        Ok(())
    }

    pub async fn find_device_code(&self, device_code_hash: &TokenHash) -> StoreResult<Option<DeviceCodeRow>> {
        let row = sqlx::query(&format!("SELECT {DEVICE_COLUMNS} FROM device_codes WHERE device_code_hash = $1"))
            .bind(device_code_hash.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(device_code).transpose()
    }

    pub async fn find_device_code_by_user_code(
        &self,
        user_code_hash: &TokenHash,
    ) -> StoreResult<Option<DeviceCodeRow>> {
        let row = sqlx::query(&format!("SELECT {DEVICE_COLUMNS} FROM device_codes WHERE user_code_hash = $1"))
            .bind(user_code_hash.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(device_code).transpose()
    }

    pub async fn decide_device_code(
        &self,
        user_code_hash: &TokenHash,
        now: Timestamp,
        decision: &DeviceDecision,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE device_codes SET status = $1, user_id = $2, auth_time = $3, sid = $4 \
             WHERE user_code_hash = $5 AND status = 'pending' AND expires_at > $6",
        )
        .bind(decision.status.as_str())
        .bind(decision.user_id.as_str())
        .bind(decision.auth_time.millis())
        .bind(&decision.sid)
        .bind(user_code_hash.as_str())
        .bind(now.millis())
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn record_device_poll(
        &self,
        device_code_hash: &TokenHash,
        now: Timestamp,
        interval: Duration,
    ) -> StoreResult<()> {
        sqlx::query("UPDATE device_codes SET last_poll_at = $1, interval_secs = $2 WHERE device_code_hash = $3")
            .bind(now.millis())
            .bind(secs(interval))
            .bind(device_code_hash.as_str())
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    pub async fn redeem_device_code(
        &self,
        device_code_hash: &TokenHash,
        now: Timestamp,
        family: &Family,
        first_token: Option<(&TokenHash, Timestamp)>,
    ) -> StoreResult<bool> {
        let claim = "UPDATE device_codes SET redeemed_at = $1, family_id = $2 WHERE device_code_hash = $3 \
                     AND status = 'approved' AND redeemed_at IS NULL AND expires_at > $1";
        claim_code_and_start_family(self, claim, device_code_hash, now, family, first_token).await
    }

    pub async fn device_code_failures(&self, subject: &str, window_opened_after: Timestamp) -> StoreResult<i64> {
        let row =
            sqlx::query("SELECT failures FROM device_code_failures WHERE subject = $1 AND window_started_at > $2")
                .bind(subject)
                .bind(window_opened_after.millis())
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|row| row.try_get::<i64, _>("failures")).transpose()?.unwrap_or(0))
    }

    pub async fn record_device_code_failure(
        &self,
        subject: &str,
        now: Timestamp,
        window_opened_after: Timestamp,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO device_code_failures (subject, window_started_at, failures) VALUES ($1, $2, 1) \
             ON CONFLICT (subject) DO UPDATE SET \
               failures = CASE WHEN device_code_failures.window_started_at > $3 \
                               THEN device_code_failures.failures + 1 ELSE 1 END, \
               window_started_at = CASE WHEN device_code_failures.window_started_at > $3 \
                                        THEN device_code_failures.window_started_at ELSE $2 END",
        )
        .bind(subject)
        .bind(now.millis())
        .bind(window_opened_after.millis())
        .execute(&self.writer)
        .await?;
        Ok(())
    }
}
