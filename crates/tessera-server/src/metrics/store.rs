//! The store's series on `/metrics`: the SQLite writer's queue and groups, and the connections
//! open and busy. The store keeps these numbers itself; they are copied in at scrape time.

use crate::store::{PoolStats, WriterStats};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::atomic::Ordering;

#[derive(Default)]
pub(super) struct StoreSeries {
    queue_depth: Gauge,
    groups: Counter,
    operations: Counter,
    failed_groups: Counter,
    connections: Gauge,
    busy_connections: Gauge,
}

impl StoreSeries {
    pub(super) fn register(&self, registry: &mut Registry) {
        registry.register(
            "tessera_store_writer_queue_depth",
            "Operations waiting for the SQLite writer now (0 on PostgreSQL: no writer thread)",
            self.queue_depth.clone(),
        );
        registry.register(
            "tessera_store_writer_groups",
            "Groups (one transaction and fsync each) the SQLite writer has committed",
            self.groups.clone(),
        );
        registry.register(
            "tessera_store_writer_operations",
            "Operations the SQLite writer has committed (divide by groups for the mean group size)",
            self.operations.clone(),
        );
        registry.register(
            "tessera_store_writer_failed_groups",
            "Groups whose commit failed; every operation in them was answered 503",
            self.failed_groups.clone(),
        );
        registry.register(
            "tessera_store_connections",
            "Store connections open (SQLite: read connections; PostgreSQL: the pool)",
            self.connections.clone(),
        );
        registry.register(
            "tessera_store_busy_connections",
            "Store connections running a query at the time of the scrape",
            self.busy_connections.clone(),
        );
    }

    /// Copies the store's numbers in; `writer` is `None` where there is no writer thread.
    pub(super) fn set(&self, writer: Option<WriterStats>, pool: PoolStats) {
        let writer = writer.unwrap_or_default();
        self.queue_depth.set(gauge(writer.queue_depth));
        // The writer's own counters only grow: storing them keeps the counters monotonic.
        self.groups.inner().store(writer.groups, Ordering::Relaxed);
        self.operations.inner().store(writer.operations, Ordering::Relaxed);
        self.failed_groups.inner().store(writer.failed_groups, Ordering::Relaxed);
        self.connections.set(gauge(pool.connections));
        self.busy_connections.set(gauge(pool.busy));
    }
}

fn gauge(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
