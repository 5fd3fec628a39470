//! The tables printed at the end of a run: throughput and latency per scenario, the baseline, the spread over
//! the rounds, and the totals.

use std::fmt::Write as _;

use crate::Running;
use crate::settings::{Scenario, Settings};

pub(crate) fn ratio(numerator: f64, denominator: f64) -> String {
    if denominator > 0.0 && numerator.is_finite() { format!("{:.2}", numerator / denominator) } else { "n/a".into() }
}

pub(crate) fn spread(values: &[f64], precision: usize) -> String {
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if values.is_empty() { "n/a".into() } else { format!("{min:.precision$}–{max:.precision$}") }
}

pub(crate) fn report(settings: &Settings, results: &[Running]) -> String {
    let mut out = String::new();
    let sqlite = results.iter().find(|result| result.scenario == Scenario::Sqlite1).map(|r| r.refresh.per_second());
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Refresh-token throughput: {} workers, {:.1} s per workload per scenario in {} interleaved rounds \
         (latency: successful requests only)",
        settings.workers,
        settings.duration.as_secs_f64(),
        settings.rounds,
    );
    let _ = writeln!(
        out,
        "{:<25} {:>11} {:>8} {:>8} {:>7} {:>11} {:>16} {:>13}",
        "scenario", "refresh/s", "p50 ms", "p99 ms", "errors", "healthz/s", "refresh/healthz", "vs sqlite-1"
    );
    for result in results {
        let refresh = result.refresh.per_second();
        let healthz = result.healthz.per_second();
        let _ = writeln!(
            out,
            "{:<25} {:>11.0} {:>8.2} {:>8.2} {:>7} {:>11.0} {:>16} {:>13}",
            result.scenario.label(),
            refresh,
            result.refresh.p50_ms(),
            result.refresh.p99_ms(),
            result.refresh.errors,
            healthz,
            ratio(refresh, healthz),
            sqlite.map_or_else(|| "n/a".into(), |sqlite| ratio(refresh, sqlite)),
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "Baseline GET /healthz on the same servers (HTTP + one database round trip)");
    let _ = writeln!(out, "{:<25} {:>11} {:>8} {:>8} {:>7}", "scenario", "healthz/s", "p50 ms", "p99 ms", "errors");
    for result in results {
        let _ = writeln!(
            out,
            "{:<25} {:>11.0} {:>8.2} {:>8.2} {:>7}",
            result.scenario.label(),
            result.healthz.per_second(),
            result.healthz.p50_ms(),
            result.healthz.p99_ms(),
            result.healthz.errors,
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "Spread over the rounds (min–max per round; a wide spread means a noisy machine)");
    let _ = writeln!(out, "{:<25} {:>13} {:>13} {:>16}", "scenario", "refresh/s", "healthz/s", "refresh/healthz");
    for result in results {
        let _ = writeln!(
            out,
            "{:<25} {:>13} {:>13} {:>16}",
            result.scenario.label(),
            spread(&result.refresh.rates, 0),
            spread(&result.healthz.rates, 0),
            spread(&result.round_ratios, 2),
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "Totals (successful / errors / seconds):");
    for result in results {
        let _ = writeln!(
            out,
            "  {:<25} refresh {} / {} / {:.2}   healthz {} / {} / {:.2}",
            result.scenario.label(),
            result.refresh.ok(),
            result.refresh.errors,
            result.refresh.elapsed.as_secs_f64(),
            result.healthz.ok(),
            result.healthz.errors,
            result.healthz.elapsed.as_secs_f64(),
        );
    }
    out
}
