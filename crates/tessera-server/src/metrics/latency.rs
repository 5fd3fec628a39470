//! Latency histograms for `/metrics`, lock-free: each observation is two relaxed atomic adds
//! (prometheus-client's own `Histogram` takes a mutex per observation, and its `Family` a
//! read lock and a hash lookup). The label sets are fixed when the family is made, one per
//! variant of a small enum, so an observation indexes an array; the family encodes itself as
//! an ordinary Prometheus histogram family.

use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds in seconds: from half a millisecond (a cached bearer check) to 2.5 s (a
/// password check waiting its turn for Argon2, or a database at its statement timeout).
pub const BUCKETS: [f64; 12] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

/// One histogram: a count per bucket (the last is `+Inf`) and the sum in nanoseconds.
#[derive(Debug, Default)]
struct Latency {
    buckets: [AtomicU64; BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
}

impl Latency {
    fn observe(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let bucket = BUCKETS.partition_point(|upper| *upper < seconds);
        if let Some(count) = self.buckets.get(bucket) {
            count.fetch_add(1, Ordering::Relaxed);
        }
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// (sum in seconds, count, per-bucket counts with their upper bounds): the encoder
    /// accumulates the buckets and writes infinity as `+Inf`.
    fn snapshot(&self) -> (f64, u64, Vec<(f64, u64)>) {
        let buckets: Vec<(f64, u64)> = BUCKETS
            .iter()
            .copied()
            .chain(std::iter::once(f64::INFINITY))
            .zip(self.buckets.iter().map(|count| count.load(Ordering::Relaxed)))
            .collect();
        let count = buckets.iter().map(|(_, count)| count).sum();
        (Duration::from_nanos(self.sum_nanos.load(Ordering::Relaxed)).as_secs_f64(), count, buckets)
    }
}

/// A histogram per value of `L`, fixed at construction. Clones share the counts.
#[derive(Debug)]
pub struct LatencyFamily<L> {
    series: Arc<[(L, Latency)]>,
}

impl<L> Clone for LatencyFamily<L> {
    fn clone(&self) -> Self {
        LatencyFamily { series: Arc::clone(&self.series) }
    }
}

impl<L> LatencyFamily<L> {
    /// One series per label set, in the order given: [`LatencyFamily::observe`] takes its index.
    pub fn new(labels: impl IntoIterator<Item = L>) -> Self {
        LatencyFamily { series: labels.into_iter().map(|label| (label, Latency::default())).collect() }
    }

    /// Records one observation in the series at `index` (out of range: ignored).
    pub fn observe(&self, index: usize, elapsed: Duration) {
        if let Some((_, latency)) = self.series.get(index) {
            latency.observe(elapsed);
        }
    }
}

impl<L: EncodeLabelSet + std::fmt::Debug + Send + Sync + 'static> EncodeMetric for LatencyFamily<L> {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        for (labels, latency) in self.series.iter() {
            let (sum, count, buckets) = latency.snapshot();
            encoder.encode_family(labels)?.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)?;
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_the_first_bucket_that_holds_them() {
        let latency = Latency::default();
        for millis in [0, 1, 2, 7, 3_000] {
            latency.observe(Duration::from_millis(millis));
        }
        let (sum, count, buckets) = latency.snapshot();
        assert_eq!(count, 5);
        assert!((sum - 3.010).abs() < 1e-9, "{sum}");
        let counts: Vec<u64> = buckets.iter().map(|(_, count)| *count).collect();
        // ≤0.5 ms: 0; ≤1 ms: 1; ≤2.5 ms: 2; ≤10 ms: 7; +Inf: 3 s.
        assert_eq!(counts, [1, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(buckets.last().map(|(upper, _)| *upper), Some(f64::INFINITY));
    }
}
