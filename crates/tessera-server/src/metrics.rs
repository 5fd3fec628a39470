//! Counters for `GET /metrics`, in the Prometheus text exposition format (version 0.0.4).
//!
//! A handful of low-cardinality counters behind one mutex: labels come from fixed sets
//! (grant types, RFC error codes, decision names), never from user input.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

/// A counter's name and its label pairs.
type Series = (&'static str, Vec<(&'static str, &'static str)>);

#[derive(Default)]
pub struct Metrics {
    counters: Mutex<BTreeMap<Series, u64>>,
}

/// (name, help) of every counter, so that `# HELP`/`# TYPE` lines are printed even before
/// the first event.
const COUNTERS: &[(&str, &str)] = &[
    ("tessera_token_requests_total", "Token endpoint requests by grant type and outcome (ok or RFC 6749 error code)."),
    (
        "tessera_refresh_decisions_total",
        "Refresh-token decisions: rotated, replayed (grace window), reuse_detected, rejected.",
    ),
    ("tessera_families_revoked_total", "Refresh-token families revoked, by reason."),
    ("tessera_bearer_checks_total", "Bearer-token checks at the protected API and introspection, by result."),
    ("tessera_janitor_deleted_rows_total", "Rows deleted by the janitor."),
];

impl Metrics {
    pub fn add(&self, name: &'static str, labels: &[(&'static str, &'static str)], value: u64) {
        if let Ok(mut counters) = self.counters.lock() {
            *counters.entry((name, labels.to_vec())).or_insert(0) += value;
        }
    }

    pub fn incr(&self, name: &'static str, labels: &[(&'static str, &'static str)]) {
        self.add(name, labels, 1);
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let counters = match self.counters.lock() {
            Ok(counters) => counters.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        for (name, help) in COUNTERS {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for ((counter, labels), value) in counters.iter().filter(|((counter, _), _)| counter == name) {
                let labels: Vec<String> = labels.iter().map(|(key, value)| format!("{key}=\"{value}\"")).collect();
                if labels.is_empty() {
                    let _ = writeln!(out, "{counter} {value}");
                } else {
                    let _ = writeln!(out, "{counter}{{{}}} {value}", labels.join(","));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let metrics = Metrics::default();
        metrics.incr("tessera_token_requests_total", &[("grant_type", "password"), ("outcome", "ok")]);
        metrics.incr("tessera_token_requests_total", &[("grant_type", "password"), ("outcome", "ok")]);
        metrics.add("tessera_janitor_deleted_rows_total", &[], 7);
        let text = metrics.render();
        assert!(text.contains("tessera_token_requests_total{grant_type=\"password\",outcome=\"ok\"} 2\n"), "{text}");
        assert!(text.contains("tessera_janitor_deleted_rows_total 7\n"), "{text}");
        assert!(text.contains("# TYPE tessera_bearer_checks_total counter\n"), "{text}");
    }
}
