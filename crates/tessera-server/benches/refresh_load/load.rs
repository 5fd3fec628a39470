//! The load generator: workers that chain refresh grants (or call `GET /healthz`) against one scenario's
//! servers for a slice of time, and the totals and latency percentiles of what they measured.

use std::sync::Arc;
use std::time::{Duration, Instant};
use tessera_testkit::TestClient;
use tokio::task::JoinSet;

use crate::{PASSWORD, USERNAME};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Workload {
    Healthz,
    Refresh,
}

/// The servers of one scenario as the load generator sees them.
pub(crate) struct Target {
    pub(crate) http: reqwest::Client,
    /// One base URL per instance, all `http://127.0.0.1:…`.
    pub(crate) instances: Vec<String>,
    pub(crate) client: TestClient,
}

impl Target {
    pub(crate) fn secret(&self) -> &str {
        self.client.client_secret.as_deref().unwrap_or_default()
    }

    /// Password grant (Argon2: slow by design, so done once per worker); returns the refresh token.
    pub(crate) async fn login(&self, instance: &str) -> Result<String, String> {
        let form = [
            ("grant_type", "password"),
            ("username", USERNAME),
            ("password", PASSWORD),
            ("client_id", self.client.client_id.as_str()),
            ("client_secret", self.secret()),
        ];
        self.token(instance, &form).await
    }

    /// One refresh grant; returns the rotated refresh token, which the next request must present.
    pub(crate) async fn refresh(&self, instance: &str, refresh_token: &str) -> Result<String, String> {
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", self.client.client_id.as_str()),
            ("client_secret", self.secret()),
        ];
        self.token(instance, &form).await
    }

    pub(crate) async fn token(&self, instance: &str, form: &[(&str, &str)]) -> Result<String, String> {
        let response = self
            .http
            .post(format!("{instance}/oauth/token"))
            .form(form)
            .send()
            .await
            .map_err(|error| format!("transport: {error}"))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|error| format!("transport: {error}"))?;
        if status != reqwest::StatusCode::OK {
            return Err(format!("HTTP {}: {}", status.as_u16(), String::from_utf8_lossy(&body)));
        }
        let json: serde_json::Value = serde_json::from_slice(&body).map_err(|error| format!("bad JSON: {error}"))?;
        match (json["access_token"].as_str(), json["refresh_token"].as_str()) {
            (Some(_), Some(refresh_token)) => Ok(refresh_token.to_owned()),
            _ => Err(format!("token response without access_token and refresh_token: {json}")),
        }
    }

    pub(crate) async fn healthz(&self, instance: &str) -> Result<(), String> {
        let response =
            self.http.get(format!("{instance}/healthz")).send().await.map_err(|error| format!("transport: {error}"))?;
        let status = response.status();
        // Read the body to the end so the connection goes back to the pool.
        let body = response.bytes().await.map_err(|error| format!("transport: {error}"))?;
        if status != reqwest::StatusCode::OK {
            return Err(format!("HTTP {}: {}", status.as_u16(), String::from_utf8_lossy(&body)));
        }
        Ok(())
    }
}

/// What one worker did in one measurement.
pub(crate) struct WorkerRun {
    pub(crate) worker: usize,
    pub(crate) refresh_token: String,
    pub(crate) latencies_us: Vec<u64>,
    pub(crate) errors: u64,
    pub(crate) first_error: Option<String>,
}

/// One timed slice of one workload on one scenario.
pub(crate) struct Slice {
    pub(crate) latencies_us: Vec<u64>,
    pub(crate) errors: u64,
    pub(crate) elapsed: Duration,
    pub(crate) first_error: Option<String>,
}

/// One workload on one scenario, summed over the rounds.
#[derive(Default)]
pub(crate) struct Totals {
    pub(crate) latencies_us: Vec<u64>,
    pub(crate) errors: u64,
    pub(crate) elapsed: Duration,
    pub(crate) first_error: Option<String>,
    /// Successful requests per second in each round.
    pub(crate) rates: Vec<f64>,
}

impl Totals {
    pub(crate) fn add(&mut self, slice: Slice) -> f64 {
        let rate = slice.latencies_us.len() as f64 / slice.elapsed.as_secs_f64();
        self.rates.push(rate);
        self.latencies_us.extend(slice.latencies_us);
        self.errors += slice.errors;
        self.elapsed += slice.elapsed;
        if self.first_error.is_none() {
            self.first_error = slice.first_error;
        }
        rate
    }

    pub(crate) fn ok(&self) -> u64 {
        self.latencies_us.len() as u64
    }

    pub(crate) fn per_second(&self) -> f64 {
        self.ok() as f64 / self.elapsed.as_secs_f64()
    }

    pub(crate) fn sort(&mut self) {
        self.latencies_us.sort_unstable();
    }

    pub(crate) fn p50_ms(&self) -> f64 {
        percentile_ms(&self.latencies_us, 0.50)
    }

    pub(crate) fn p99_ms(&self) -> f64 {
        percentile_ms(&self.latencies_us, 0.99)
    }
}

/// Nearest-rank percentile of sorted microseconds, in milliseconds.
pub(crate) fn percentile_ms(sorted_us: &[u64], quantile: f64) -> f64 {
    if sorted_us.is_empty() {
        return f64::NAN;
    }
    let rank = ((quantile * sorted_us.len() as f64).ceil() as usize).clamp(1, sorted_us.len());
    sorted_us[rank - 1] as f64 / 1000.0
}

pub(crate) async fn worker(
    target: Arc<Target>,
    workload: Workload,
    worker: usize,
    mut refresh_token: String,
    deadline: Instant,
) -> WorkerRun {
    let mut latencies_us = Vec::with_capacity(4096);
    let mut errors = 0;
    let mut first_error = None;
    // Request k of worker w goes to instance (w + k) mod n: with two instances every worker alternates.
    let mut turn = worker;
    while Instant::now() < deadline {
        let instance = &target.instances[turn % target.instances.len()];
        turn += 1;
        let started = Instant::now();
        let outcome = match workload {
            Workload::Healthz => target.healthz(instance).await,
            Workload::Refresh => target.refresh(instance, &refresh_token).await.map(|next| refresh_token = next),
        };
        let latency = started.elapsed();
        match outcome {
            Ok(()) => latencies_us.push(latency.as_micros() as u64),
            Err(error) => {
                errors += 1;
                if workload == Workload::Refresh {
                    // Transport failure: presenting the same token again is the designed retry (grace window,
                    // same successor). Refused: the chain may be dead, so start a new family.
                    if error.starts_with("HTTP") {
                        match target.login(instance).await {
                            Ok(fresh) => refresh_token = fresh,
                            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                        }
                    }
                }
                first_error.get_or_insert(error);
            }
        }
    }
    WorkerRun { worker, refresh_token, latencies_us, errors, first_error }
}

/// Runs `workload` with one worker per refresh token for `duration`; the tokens come back advanced along their chains.
pub(crate) async fn measure(
    target: &Arc<Target>,
    workload: Workload,
    refresh_tokens: &mut Vec<String>,
    duration: Duration,
) -> Slice {
    let started = Instant::now();
    let deadline = started + duration;
    let mut workers = JoinSet::new();
    for (index, refresh_token) in refresh_tokens.drain(..).enumerate() {
        workers.spawn(worker(Arc::clone(target), workload, index, refresh_token, deadline));
    }
    let mut runs = Vec::new();
    while let Some(run) = workers.join_next().await {
        runs.push(run.expect("a load worker panicked"));
    }
    // Requests in flight at the deadline finish and count: elapsed runs until the last one is back.
    let elapsed = started.elapsed();
    runs.sort_by_key(|run| run.worker);
    let mut slice = Slice { latencies_us: Vec::new(), errors: 0, elapsed, first_error: None };
    for run in runs {
        refresh_tokens.push(run.refresh_token);
        slice.latencies_us.extend(run.latencies_us);
        slice.errors += run.errors;
        if slice.first_error.is_none() {
            slice.first_error = run.first_error;
        }
    }
    slice
}
