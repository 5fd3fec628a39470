//! The SQLite store's device-grant tables (migration 0010): device codes (approval and
//! redemption by compare-and-set, redemption starting the family in the same writer
//! operation) and the wrong-user-code counters.

use super::SqliteStore;
use super::refresh::insert_family;
use super::rows::{execute, opt_ts, optional, scope, ts, unique_violation};
use crate::store::{DEVICE_COLUMNS, DeviceCodeRow, DeviceDecision, StoreError, StoreResult};
use rusqlite::{Row, params};
use std::time::Duration;
use tessera_core::device::DeviceStatus;
use tessera_core::{ClientId, Family, FamilyId, Timestamp, TokenHash, UserId};

fn device_code(row: &Row<'_>) -> StoreResult<DeviceCodeRow> {
    let status: String = row.get("status")?;
    Ok(DeviceCodeRow {
        device_code_hash: TokenHash::from_stored(row.get::<_, String>("device_code_hash")?),
        user_code_hash: TokenHash::from_stored(row.get::<_, String>("user_code_hash")?),
        client_id: ClientId::new(row.get::<_, String>("client_id")?),
        scope: scope(row, "scope")?,
        created_at: ts(row, "created_at")?,
        expires_at: ts(row, "expires_at")?,
        interval: Duration::from_secs(u64::try_from(row.get::<_, i64>("interval_secs")?).unwrap_or(0)),
        last_poll_at: opt_ts(row, "last_poll_at")?,
        status: DeviceStatus::parse(&status).ok_or_else(|| StoreError::Corrupt(format!("device status {status:?}")))?,
        user_id: row.get::<_, Option<String>>("user_id")?.map(UserId::new),
        auth_time: opt_ts(row, "auth_time")?,
        sid: row.get("sid")?,
        redeemed_at: opt_ts(row, "redeemed_at")?,
        family_id: row.get::<_, Option<String>>("family_id")?.map(FamilyId::new),
    })
}

fn secs(interval: Duration) -> i64 {
    i64::try_from(interval.as_secs()).unwrap_or(i64::MAX)
}

impl SqliteStore {
    pub async fn insert_device_code(&self, code: &DeviceCodeRow) -> StoreResult<()> {
        let code = code.clone();
        self.write(move |connection| {
            execute(
                connection,
                &format!(
                    "INSERT INTO device_codes ({DEVICE_COLUMNS}) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
                ),
                params![
                    code.device_code_hash.as_str(),
                    code.user_code_hash.as_str(),
                    code.client_id.as_str(),
                    code.scope.to_string(),
                    code.created_at.millis(),
                    code.expires_at.millis(),
                    secs(code.interval),
                    code.last_poll_at.map(Timestamp::millis),
                    code.status.as_str(),
                    code.user_id.as_ref().map(UserId::as_str),
                    code.auth_time.map(Timestamp::millis),
                    code.sid,
                    code.redeemed_at.map(Timestamp::millis),
                    code.family_id.as_ref().map(FamilyId::as_str),
                ],
            )
            .map_err(|error| unique_violation(error, "a device code with this user code"))?;
            Ok(())
        })
        .await
    }

    pub async fn find_device_code(&self, device_code_hash: &TokenHash) -> StoreResult<Option<DeviceCodeRow>> {
        self.read(|connection| {
            let sql = format!("SELECT {DEVICE_COLUMNS} FROM device_codes WHERE device_code_hash = ?1");
            optional(connection, &sql, [device_code_hash.as_str()], device_code)
        })
    }

    pub async fn find_device_code_by_user_code(
        &self,
        user_code_hash: &TokenHash,
    ) -> StoreResult<Option<DeviceCodeRow>> {
        self.read(|connection| {
            let sql = format!("SELECT {DEVICE_COLUMNS} FROM device_codes WHERE user_code_hash = ?1");
            optional(connection, &sql, [user_code_hash.as_str()], device_code)
        })
    }

    pub async fn decide_device_code(
        &self,
        user_code_hash: &TokenHash,
        now: Timestamp,
        decision: &DeviceDecision,
    ) -> StoreResult<bool> {
        let (hash, decision) = (user_code_hash.clone(), decision.clone());
        self.write(move |connection| {
            let sql = "UPDATE device_codes SET status = ?1, user_id = ?2, auth_time = ?3, sid = ?4 \
                       WHERE user_code_hash = ?5 AND status = 'pending' AND expires_at > ?6";
            let changed = execute(
                connection,
                sql,
                params![
                    decision.status.as_str(),
                    decision.user_id.as_str(),
                    decision.auth_time.millis(),
                    decision.sid,
                    hash.as_str(),
                    now.millis()
                ],
            )?;
            Ok(changed == 1)
        })
        .await
    }

    pub async fn record_device_poll(
        &self,
        device_code_hash: &TokenHash,
        now: Timestamp,
        interval: Duration,
    ) -> StoreResult<()> {
        let hash = device_code_hash.clone();
        self.write(move |connection| {
            let sql = "UPDATE device_codes SET last_poll_at = ?1, interval_secs = ?2 \
                       WHERE device_code_hash = ?3";
            execute(connection, sql, params![now.millis(), secs(interval), hash.as_str()])?;
            Ok(())
        })
        .await
    }

    pub async fn redeem_device_code(
        &self,
        device_code_hash: &TokenHash,
        now: Timestamp,
        family: &Family,
        first_token: Option<(&TokenHash, Timestamp)>,
    ) -> StoreResult<bool> {
        let (hash, family) = (device_code_hash.clone(), family.clone());
        let first_token = first_token.map(|(token, expires)| (token.clone(), expires));
        self.write(move |connection| {
            let sql = "UPDATE device_codes SET redeemed_at = ?1, family_id = ?2 WHERE device_code_hash = ?3 \
                       AND status = 'approved' AND redeemed_at IS NULL AND expires_at > ?1";
            if execute(connection, sql, params![now.millis(), family.id.as_str(), hash.as_str()])? != 1 {
                return Ok(false);
            }
            insert_family(connection, &family, first_token.as_ref())?;
            Ok(true)
        })
        .await
    }

    pub async fn device_code_failures(&self, subject: &str, window_opened_after: Timestamp) -> StoreResult<i64> {
        self.read(|connection| {
            let sql = "SELECT failures FROM device_code_failures WHERE subject = ?1 AND window_started_at > ?2";
            let found = optional(connection, sql, params![subject, window_opened_after.millis()], |row| {
                Ok(row.get::<_, i64>(0)?)
            })?;
            Ok(found.unwrap_or(0))
        })
    }

    pub async fn record_device_code_failure(
        &self,
        subject: &str,
        now: Timestamp,
        window_opened_after: Timestamp,
    ) -> StoreResult<()> {
        let subject = subject.to_owned();
        self.write(move |connection| {
            execute(
                connection,
                "INSERT INTO device_code_failures (subject, window_started_at, failures) VALUES (?1, ?2, 1) \
                 ON CONFLICT (subject) DO UPDATE SET \
                   failures = CASE WHEN device_code_failures.window_started_at > ?3 \
                                   THEN device_code_failures.failures + 1 ELSE 1 END, \
                   window_started_at = CASE WHEN device_code_failures.window_started_at > ?3 \
                                            THEN device_code_failures.window_started_at ELSE ?2 END",
                params![subject, now.millis(), window_opened_after.millis()],
            )?;
            Ok(())
        })
        .await
    }
}
