//! The janitor: deletes rows no rule needs any more, in bounded batches, so the database
//! does not grow without limit under steady refresh traffic.

use crate::admin::audit::unattended;
use crate::clock::Clock;
use crate::service::audit::AuditAction;
use crate::store::{Store, StoreError};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

pub struct Janitor {
    store: Store,
    clock: Arc<dyn Clock>,
    access_token_ttl: Duration,
    batch: i64,
    interval: Duration,
    metrics: Option<Arc<crate::metrics::Metrics>>,
    /// How long audit events are kept; `None`: the audit log is not purged.
    audit_retention: Option<Duration>,
}

impl Janitor {
    pub fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        access_token_ttl: Duration,
        batch: i64,
        interval: Duration,
    ) -> Self {
        Janitor { store, clock, access_token_ttl, batch, interval, metrics: None, audit_retention: None }
    }

    /// Counts deleted rows in `tessera_janitor_deleted_rows_total`.
    pub fn with_metrics(mut self, metrics: Arc<crate::metrics::Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Also deletes audit events older than `retention` (`TESSERA_AUDIT_RETENTION`).
    pub fn with_audit_retention(mut self, retention: Duration) -> Self {
        self.audit_retention = Some(retention);
        self
    }

    /// One pass: repeats bounded batches until a batch comes back short, so a backlog is
    /// cleared without holding one long transaction. Returns rows deleted.
    pub async fn run_once(&self) -> Result<u64, StoreError> {
        let expired = self.purge_expired().await?;
        Ok(expired + self.purge_audit().await?)
    }

    async fn purge_expired(&self) -> Result<u64, StoreError> {
        let mut total = 0;
        loop {
            let deleted = self.store.purge_expired(self.clock.now(), self.access_token_ttl, self.batch).await?;
            total += deleted;
            if let Some(metrics) = &self.metrics {
                metrics.janitor_deleted(deleted);
            }
            if deleted < u64::try_from(self.batch).unwrap_or(u64::MAX) {
                return Ok(total);
            }
            tokio::task::yield_now().await;
        }
    }

    /// Deletes the audit events older than the retention, in batches, and says so in the
    /// audit log (one event per pass that deleted any).
    async fn purge_audit(&self) -> Result<u64, StoreError> {
        let Some(retention) = self.audit_retention else { return Ok(0) };
        let now = self.clock.now();
        let before = now.minus(retention);
        let mut total = 0;
        loop {
            let deleted = self.store.purge_audit(before, self.batch).await?;
            total += deleted;
            if let Some(metrics) = &self.metrics {
                metrics.janitor_deleted(deleted);
            }
            if deleted < u64::try_from(self.batch).unwrap_or(u64::MAX) {
                break;
            }
            tokio::task::yield_now().await;
        }
        if total > 0 {
            let detail = format!("{total} events older than {} days deleted", retention.as_secs() / 86_400);
            let entry = unattended(now, AuditAction::AuditPurge, "audit_log", detail);
            self.store.insert_audit(&entry).await?;
        }
        Ok(total)
    }

    /// Runs a pass every `interval` until `stop` turns true.
    pub async fn run_until_stopped(self, mut stop: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(self.interval) => {}
                _ = stop.wait_for(|stopped| *stopped) => return,
            }
            match self.run_once().await {
                Ok(0) => {}
                Ok(deleted) => tracing::debug!(deleted, "janitor purged expired rows"),
                Err(error) => tracing::warn!(%error, "janitor pass failed; will retry"),
            }
        }
    }
}
