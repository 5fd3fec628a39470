//! Counters, gauges and latency histograms for `GET /metrics`, kept and rendered by prometheus-client.
//!
//! Each counter is a typed field and each label set a struct whose values come from fixed
//! enums (grant types, RFC error codes, decision names, endpoints), never from user input: a
//! misspelt metric or label is a compile error, and counting is an atomic increment. The
//! histograms are [`latency::LatencyFamily`]s: an observation is two atomic adds, no lock.

pub mod history;
mod labels;
mod latency;
mod store;

pub use labels::{BearerResult, Endpoint, Label, LabelName, RefreshOutcome, TokenOutcome};

use crate::clock::{Clock, SystemClock};
use history::{Event, History, LastHour};
use std::sync::Arc;

use crate::service::InvalidToken;
use crate::store::{PoolStats, WriterStats};
use latency::LatencyFamily;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use std::fmt::Write;
use std::time::Duration;
use tessera_core::{GrantType, RevocationReason};

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct EndpointLabels {
    endpoint: Label<Endpoint>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct GrantLabels {
    grant_type: Label<GrantType>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct TokenRequestLabels {
    grant_type: Label<GrantType>,
    outcome: Label<TokenOutcome>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RefreshDecisionLabels {
    decision: Label<RefreshOutcome>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RevocationLabels {
    reason: Label<RevocationReason>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct BearerLabels {
    result: Label<BearerResult>,
}

/// The server's counters. prometheus-client adds the `_total` suffix of each counter.
pub struct Metrics {
    registry: Registry,
    token_requests: Family<TokenRequestLabels, Counter>,
    refresh_decisions: Family<RefreshDecisionLabels, Counter>,
    families_revoked: Family<RevocationLabels, Counter>,
    bearer_checks: Family<BearerLabels, Counter>,
    janitor_deleted_rows: Counter,
    request_latency: LatencyFamily<EndpointLabels>,
    grant_latency: LatencyFamily<GrantLabels>,
    access_log_dropped_lines: Counter,
    failed_sign_ins: Counter,
    store: store::StoreSeries,
    /// The console's per-minute copy of the last hour, timed by `clock`.
    history: History,
    clock: Arc<dyn Clock>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::with_clock(Arc::new(SystemClock))
    }
}

impl Metrics {
    /// Counters whose per-minute history (the console's charts) takes its time from `clock`.
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        let token_requests = Family::default();
        let refresh_decisions = Family::default();
        let families_revoked = Family::default();
        let bearer_checks = Family::default();
        let janitor_deleted_rows = Counter::default();
        let request_latency =
            LatencyFamily::new(Endpoint::ALL.map(|endpoint| EndpointLabels { endpoint: Label(endpoint) }));
        let grant_latency =
            LatencyFamily::new(GrantType::ALL.map(|grant_type| GrantLabels { grant_type: Label(grant_type) }));
        let access_log_dropped_lines = Counter::default();
        let failed_sign_ins = Counter::default();
        let mut registry = Registry::default();
        registry.register(
            "tessera_token_requests",
            "Token endpoint requests by grant type and outcome (ok or RFC 6749 error code)",
            token_requests.clone(),
        );
        registry.register(
            "tessera_refresh_decisions",
            "Refresh-token decisions: rotated, replayed (grace window), reuse_detected, rejected",
            refresh_decisions.clone(),
        );
        registry.register(
            "tessera_families_revoked",
            "Refresh-token families revoked, by reason",
            families_revoked.clone(),
        );
        registry.register(
            "tessera_bearer_checks",
            "Bearer-token checks at the protected API and introspection, by result",
            bearer_checks.clone(),
        );
        registry.register("tessera_janitor_deleted_rows", "Rows deleted by the janitor", janitor_deleted_rows.clone());
        registry.register_with_unit(
            "tessera_http_request_duration",
            "Time from a request's arrival to its response, by endpoint",
            prometheus_client::registry::Unit::Seconds,
            request_latency.clone(),
        );
        registry.register_with_unit(
            "tessera_token_grant_duration",
            "Time the token endpoint spends on a grant, client authentication included, by grant type",
            prometheus_client::registry::Unit::Seconds,
            grant_latency.clone(),
        );
        registry.register(
            "tessera_access_log_dropped_lines",
            "Access-log lines dropped because the writer fell behind (requests never wait for it)",
            access_log_dropped_lines.clone(),
        );
        registry.register(
            "tessera_failed_sign_ins",
            "Passwords refused by the sign-in page (wrong username or password)",
            failed_sign_ins.clone(),
        );
        let store = store::StoreSeries::default();
        store.register(&mut registry);
        let metrics = Metrics {
            registry,
            token_requests,
            refresh_decisions,
            families_revoked,
            bearer_checks,
            janitor_deleted_rows,
            request_latency,
            grant_latency,
            access_log_dropped_lines,
            failed_sign_ins,
            store,
            history: History::default(),
            clock,
        };
        metrics.start_at_zero();
        metrics
    }
}

impl Metrics {
    /// Creates the usual series at zero, so that every counter is exported from the start
    /// (prometheus-client leaves out a labelled counter until it has a series) and a rate
    /// over the first event is not lost.
    fn start_at_zero(&self) {
        for grant_type in GrantType::ALL {
            self.token_requests
                .get_or_create(&TokenRequestLabels { grant_type: Label(grant_type), outcome: Label(TokenOutcome::Ok) })
                .inc_by(0);
        }
        for decision in
            [RefreshOutcome::Rotated, RefreshOutcome::Replayed, RefreshOutcome::Rejected, RefreshOutcome::ReuseDetected]
        {
            self.refresh_decisions.get_or_create(&RefreshDecisionLabels { decision: Label(decision) }).inc_by(0);
        }
        for reason in
            [RevocationReason::ReuseDetected, RevocationReason::RevokedByClient, RevocationReason::CodeReplayed]
        {
            self.families_revoked.get_or_create(&RevocationLabels { reason: Label(reason) }).inc_by(0);
        }
        let invalid = [InvalidToken::Unknown, InvalidToken::Revoked, InvalidToken::Expired, InvalidToken::Signature];
        for result in [BearerResult::Ok, BearerResult::Error].into_iter().chain(invalid.map(BearerResult::Invalid)) {
            self.bearer_checks.get_or_create(&BearerLabels { result: Label(result) }).inc_by(0);
        }
    }

    pub fn token_request(&self, grant_type: GrantType, outcome: TokenOutcome) {
        self.token_requests
            .get_or_create(&TokenRequestLabels { grant_type: Label(grant_type), outcome: Label(outcome) })
            .inc();
        self.remember(Event::TokenRequest(grant_type, outcome == TokenOutcome::Ok));
    }

    pub fn refresh_decision(&self, decision: RefreshOutcome) {
        self.refresh_decisions.get_or_create(&RefreshDecisionLabels { decision: Label(decision) }).inc();
        match decision {
            RefreshOutcome::Rotated => self.remember(Event::Rotated),
            RefreshOutcome::Replayed => self.remember(Event::Replayed),
            RefreshOutcome::ReuseDetected => self.remember(Event::ReuseDetected),
            RefreshOutcome::Rejected => {}
        }
    }

    pub fn family_revoked(&self, reason: RevocationReason) {
        self.families_revoked.get_or_create(&RevocationLabels { reason: Label(reason) }).inc();
        self.remember(Event::FamilyRevoked);
    }

    /// The sign-in page refused a password.
    pub fn failed_sign_in(&self) {
        self.failed_sign_ins.inc();
        self.remember(Event::FailedSignIn);
    }

    fn remember(&self, event: Event) {
        self.history.record(self.clock.now(), event);
    }

    /// The last hour of the charted counters, per minute, on this instance.
    pub fn last_hour(&self) -> LastHour {
        self.history.last_hour(self.clock.now())
    }

    pub fn bearer_check(&self, result: BearerResult) {
        self.bearer_checks.get_or_create(&BearerLabels { result: Label(result) }).inc();
    }

    pub fn janitor_deleted(&self, rows: u64) {
        self.janitor_deleted_rows.inc_by(rows);
    }

    /// A request to `endpoint` was answered after `elapsed`.
    pub fn request_served(&self, endpoint: Endpoint, elapsed: Duration) {
        self.request_latency.observe(endpoint as usize, elapsed);
    }

    /// The token endpoint finished a `grant_type` request after `elapsed`.
    pub fn grant_served(&self, grant_type: GrantType, elapsed: Duration) {
        if let Some(index) = GrantType::ALL.iter().position(|known| *known == grant_type) {
            self.grant_latency.observe(index, elapsed);
        }
    }

    pub fn access_log_line_dropped(&self) {
        self.access_log_dropped_lines.inc();
    }

    /// The store's own numbers, read just before a scrape renders them.
    pub fn store_stats(&self, writer: Option<WriterStats>, pool: PoolStats) {
        self.store.set(writer, pool);
    }

    /// The Prometheus text exposition of every counter, including those never incremented.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            // Writing to a String cannot fail; keep whatever was written.
            let _ = writeln!(out, "# encoding failed");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_proto::ErrorCode;

    #[test]
    fn renders_prometheus_text() {
        let metrics = Metrics::default();
        metrics.token_request(GrantType::Password, TokenOutcome::Ok);
        metrics.token_request(GrantType::Password, TokenOutcome::Ok);
        metrics.token_request(GrantType::RefreshToken, TokenOutcome::Error(ErrorCode::InvalidGrant));
        metrics.family_revoked(RevocationReason::ReuseDetected);
        metrics.bearer_check(BearerResult::Invalid(InvalidToken::Revoked));
        metrics.janitor_deleted(7);
        let text = metrics.render();
        for line in [
            "tessera_token_requests_total{grant_type=\"password\",outcome=\"ok\"} 2",
            "tessera_token_requests_total{grant_type=\"refresh_token\",outcome=\"invalid_grant\"} 1",
            "tessera_families_revoked_total{reason=\"refresh token reuse detected\"} 1",
            "tessera_bearer_checks_total{result=\"revoked\"} 1",
            "tessera_janitor_deleted_rows_total 7",
            "# HELP tessera_bearer_checks Bearer-token checks at the protected API and introspection, by result.",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
    }

    #[test]
    fn every_counter_is_exported_before_its_first_event() {
        let text = Metrics::default().render();
        for name in [
            "tessera_token_requests",
            "tessera_refresh_decisions",
            "tessera_families_revoked",
            "tessera_bearer_checks",
            "tessera_janitor_deleted_rows",
            "tessera_access_log_dropped_lines",
        ] {
            assert!(text.lines().any(|l| l == format!("# TYPE {name} counter")), "no {name} in\n{text}");
        }
        assert!(text.lines().any(|l| l == "tessera_refresh_decisions_total{decision=\"reuse_detected\"} 0"), "{text}");
        for name in ["tessera_http_request_duration_seconds", "tessera_token_grant_duration_seconds"] {
            assert!(text.lines().any(|l| l == format!("# TYPE {name} histogram")), "no {name} in\n{text}");
        }
    }

    #[test]
    fn store_series_show_the_numbers_of_the_last_scrape() {
        let metrics = Metrics::default();
        let writer = WriterStats { queue_depth: 3, groups: 10, operations: 42, failed_groups: 1 };
        metrics.store_stats(Some(writer), PoolStats { connections: 4, busy: 1 });
        let text = metrics.render();
        for line in [
            "tessera_store_writer_queue_depth 3",
            "tessera_store_writer_groups_total 10",
            "tessera_store_writer_operations_total 42",
            "tessera_store_writer_failed_groups_total 1",
            "tessera_store_connections 4",
            "tessera_store_busy_connections 1",
            "# TYPE tessera_store_writer_queue_depth gauge",
            "# TYPE tessera_store_writer_groups counter",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
        metrics.store_stats(None, PoolStats { connections: 2, busy: 0 });
        let text = metrics.render();
        assert!(text.lines().any(|l| l == "tessera_store_writer_queue_depth 0"), "{text}");
        assert!(text.lines().any(|l| l == "tessera_store_connections 2"), "{text}");
    }

    #[test]
    fn latency_histograms_per_endpoint_and_grant() {
        let metrics = Metrics::default();
        metrics.request_served(Endpoint::of_path("/api/1.0/users/me"), Duration::from_micros(300));
        metrics.request_served(Endpoint::of_path("/nowhere"), Duration::from_millis(3));
        metrics.grant_served(GrantType::RefreshToken, Duration::from_millis(4));
        let text = metrics.render();
        for line in [
            "tessera_http_request_duration_seconds_bucket{le=\"0.0005\",endpoint=\"users_me\"} 1",
            "tessera_http_request_duration_seconds_count{endpoint=\"users_me\"} 1",
            "tessera_http_request_duration_seconds_bucket{le=\"0.0025\",endpoint=\"other\"} 0",
            "tessera_http_request_duration_seconds_bucket{le=\"0.005\",endpoint=\"other\"} 1",
            "tessera_http_request_duration_seconds_bucket{le=\"+Inf\",endpoint=\"other\"} 1",
            "tessera_http_request_duration_seconds_count{endpoint=\"healthz\"} 0",
            "tessera_token_grant_duration_seconds_bucket{le=\"0.005\",grant_type=\"refresh_token\"} 1",
            "tessera_token_grant_duration_seconds_count{grant_type=\"password\"} 0",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
    }
}
