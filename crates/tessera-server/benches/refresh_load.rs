//! Refresh-token throughput on SQLite and PostgreSQL (issue 4), reported against baselines measured in the same run.
//!
//! For each scenario — SQLite with one instance, PostgreSQL with one instance, PostgreSQL with two instances of one
//! deployment — W workers each log in once (password grant, Argon2, not timed) and then, for D seconds, chain refresh
//! grants: every request presents the refresh token the previous response returned. The baseline is `GET /healthz`
//! (HTTP plus one database round trip) with the same W and D on the same servers. With two instances each worker
//! alternates between them request by request, so every rotation crosses instances.
//!
//! All scenarios are started first; then D is split into rounds, and each round gives every scenario one slice of
//! each workload (scenario order rotating, workload order alternating), so that load from outside on a shared machine
//! falls on every figure alike rather than on whichever measurement happened to be running.
//!
//! The servers run in this process, on 127.0.0.1 only, and share its tokio runtime with the load generator.
//! Run it with `bench/run.sh` (see bench/README.md); settings come from arguments or `TESSERA_BENCH_*` variables.

// A benchmark binary, not library code: a broken setup (unreachable database, bad response) should stop the run
// loudly, so the workspace's unwrap/expect/panic denials are relaxed here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tessera_server::config::RawConfig;
use tessera_testkit::{TestClient, TestDatabase, TestServer, postgres_url};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

const USERNAME: &str = "bench";
const PASSWORD: &str = "bench password, not a secret";
/// Every instance of a deployment shares the public issuer (as in tests/it/scale_out.rs).
const ISSUER: &str = "http://tessera.test";

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Scenario {
    #[value(name = "sqlite-1")]
    Sqlite1,
    #[value(name = "pg-1")]
    Postgres1,
    #[value(name = "pg-2")]
    Postgres2,
}

impl Scenario {
    const ALL: [Scenario; 3] = [Scenario::Sqlite1, Scenario::Postgres1, Scenario::Postgres2];

    fn key(self) -> &'static str {
        match self {
            Scenario::Sqlite1 => "sqlite-1",
            Scenario::Postgres1 => "pg-1",
            Scenario::Postgres2 => "pg-2",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Scenario::Sqlite1 => "SQLite, 1 instance",
            Scenario::Postgres1 => "PostgreSQL, 1 instance",
            Scenario::Postgres2 => "PostgreSQL, 2 instances",
        }
    }

    fn instances(self) -> usize {
        match self {
            Scenario::Sqlite1 | Scenario::Postgres1 => 1,
            Scenario::Postgres2 => 2,
        }
    }

    fn postgres(self) -> bool {
        self != Scenario::Sqlite1
    }
}

/// The benchmark's settings: arguments, else `TESSERA_BENCH_*` variables, else the defaults.
#[derive(Debug, clap::Parser)]
#[command(
    name = "refresh_load",
    bin_name = "refresh_load",
    about = "Refresh-token throughput on SQLite and PostgreSQL against same-run baselines (see bench/README.md)",
    after_help = "PostgreSQL scenarios need TESSERA_TEST_POSTGRES_URL (a loopback server; a fresh database is \
                  created and dropped)."
)]
struct Settings {
    /// Concurrent workers per measurement
    #[arg(long, env = "TESSERA_BENCH_WORKERS", value_name = "N", default_value_t = 16, value_parser = positive_count)]
    workers: usize,
    /// Time per workload per scenario (fractions allowed)
    #[arg(long, env = "TESSERA_BENCH_DURATION", value_name = "SECONDS", default_value = "10", value_parser = positive_seconds)]
    duration: Duration,
    /// Interleaved slices the duration is split into
    #[arg(long, env = "TESSERA_BENCH_ROUNDS", value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    rounds: u32,
    /// Untimed warm-up of each workload per scenario (0 = none)
    #[arg(long, env = "TESSERA_BENCH_WARMUP", value_name = "SECONDS", default_value = "1", value_parser = seconds)]
    warmup: Duration,
    /// Database pool size per instance; the server's own (10) when unset
    #[arg(long, env = "TESSERA_BENCH_DB_CONNECTIONS", value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    connections: Option<u32>,
    /// Comma-separated subset of the scenarios; all when unset
    #[arg(long, env = "TESSERA_BENCH_SCENARIOS", value_name = "LIST", value_enum, value_delimiter = ',')]
    scenarios: Vec<Scenario>,
    /// Added by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

impl Settings {
    /// Arguments win over the environment (clap's `env`); the scenarios are run once each, in
    /// their fixed order.
    fn load() -> Settings {
        let mut settings = <Settings as clap::Parser>::parse();
        if settings.scenarios.is_empty() {
            settings.scenarios = Scenario::ALL.to_vec();
        }
        settings.scenarios.sort_by_key(|scenario| Scenario::ALL.iter().position(|known| known == scenario));
        settings.scenarios.dedup();
        settings
    }
}

fn positive_count(value: &str) -> Result<usize, String> {
    match value.trim().parse::<usize>() {
        Ok(count) if count > 0 => Ok(count),
        _ => Err(format!("{value:?} is not a positive number")),
    }
}

fn seconds(value: &str) -> Result<Duration, String> {
    match value.trim().parse::<f64>() {
        Ok(seconds) if seconds.is_finite() && seconds >= 0.0 => Ok(Duration::from_secs_f64(seconds)),
        _ => Err(format!("{value:?} is not a number of seconds")),
    }
}

fn positive_seconds(value: &str) -> Result<Duration, String> {
    let duration = seconds(value)?;
    if duration.is_zero() { Err("must be more than 0".to_owned()) } else { Ok(duration) }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Workload {
    Healthz,
    Refresh,
}

/// The servers of one scenario as the load generator sees them.
struct Target {
    http: reqwest::Client,
    /// One base URL per instance, all `http://127.0.0.1:…`.
    instances: Vec<String>,
    client: TestClient,
}

impl Target {
    fn secret(&self) -> &str {
        self.client.client_secret.as_deref().unwrap_or_default()
    }

    /// Password grant (Argon2: slow by design, so done once per worker); returns the refresh token.
    async fn login(&self, instance: &str) -> Result<String, String> {
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
    async fn refresh(&self, instance: &str, refresh_token: &str) -> Result<String, String> {
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", self.client.client_id.as_str()),
            ("client_secret", self.secret()),
        ];
        self.token(instance, &form).await
    }

    async fn token(&self, instance: &str, form: &[(&str, &str)]) -> Result<String, String> {
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

    async fn healthz(&self, instance: &str) -> Result<(), String> {
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
struct WorkerRun {
    worker: usize,
    refresh_token: String,
    latencies_us: Vec<u64>,
    errors: u64,
    first_error: Option<String>,
}

/// One timed slice of one workload on one scenario.
struct Slice {
    latencies_us: Vec<u64>,
    errors: u64,
    elapsed: Duration,
    first_error: Option<String>,
}

/// One workload on one scenario, summed over the rounds.
#[derive(Default)]
struct Totals {
    latencies_us: Vec<u64>,
    errors: u64,
    elapsed: Duration,
    first_error: Option<String>,
    /// Successful requests per second in each round.
    rates: Vec<f64>,
}

impl Totals {
    fn add(&mut self, slice: Slice) -> f64 {
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

    fn ok(&self) -> u64 {
        self.latencies_us.len() as u64
    }

    fn per_second(&self) -> f64 {
        self.ok() as f64 / self.elapsed.as_secs_f64()
    }

    fn sort(&mut self) {
        self.latencies_us.sort_unstable();
    }

    fn p50_ms(&self) -> f64 {
        percentile_ms(&self.latencies_us, 0.50)
    }

    fn p99_ms(&self) -> f64 {
        percentile_ms(&self.latencies_us, 0.99)
    }
}

/// Nearest-rank percentile of sorted microseconds, in milliseconds.
fn percentile_ms(sorted_us: &[u64], quantile: f64) -> f64 {
    if sorted_us.is_empty() {
        return f64::NAN;
    }
    let rank = ((quantile * sorted_us.len() as f64).ceil() as usize).clamp(1, sorted_us.len());
    sorted_us[rank - 1] as f64 / 1000.0
}

async fn worker(
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
async fn measure(
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

/// A scenario whose servers are up and whose workers are logged in.
struct Running {
    scenario: Scenario,
    target: Arc<Target>,
    refresh_tokens: Vec<String>,
    servers: Vec<TestServer>,
    database: Arc<TestDatabase>,
    healthz: Totals,
    refresh: Totals,
    /// refresh/s ÷ healthz/s in each round.
    round_ratios: Vec<f64>,
}

impl Running {
    /// One round: both workloads for `slice` each, in the order given.
    async fn round(&mut self, healthz_first: bool, slice: Duration) {
        let order =
            if healthz_first { [Workload::Healthz, Workload::Refresh] } else { [Workload::Refresh, Workload::Healthz] };
        let (mut healthz_rate, mut refresh_rate) = (0.0, 0.0);
        for workload in order {
            let measured = measure(&self.target, workload, &mut self.refresh_tokens, slice).await;
            match workload {
                Workload::Healthz => healthz_rate = self.healthz.add(measured),
                Workload::Refresh => refresh_rate = self.refresh.add(measured),
            }
        }
        self.round_ratios.push(refresh_rate / healthz_rate);
    }

    async fn stop(self) {
        drop(self.target);
        for server in self.servers {
            server.stop().await;
        }
        // The last Arc: a PostgreSQL scenario's database is dropped here.
        drop(self.database);
    }
}

fn progress(line: &str) {
    eprintln!("  .. {line}");
}

/// Loopback only: the database the PostgreSQL scenarios create, load and drop must be on this machine.
fn is_loopback_database(url: &str) -> bool {
    let Ok(parsed) = reqwest::Url::parse(url) else { return false };
    let loopback = |host: &str| matches!(host, "" | "127.0.0.1" | "localhost" | "[::1]" | "::1");
    loopback(parsed.host_str().unwrap_or_default())
        && parsed
            .query_pairs()
            .filter(|(key, _)| key == "host" || key == "hostaddr")
            .all(|(_, value)| value.starts_with('/') || loopback(&value))
}

/// Starts the scenario's servers, logs its workers in and warms both workloads up.
async fn start_scenario(scenario: Scenario, settings: &Settings) -> Option<Running> {
    let database = if scenario.postgres() {
        match TestDatabase::postgres().await {
            Some(database) => database,
            None => {
                println!("SKIPPED {}: TESSERA_TEST_POSTGRES_URL is unset", scenario.label());
                return None;
            }
        }
    } else {
        TestDatabase::sqlite()
    };
    eprintln!("{} ({}):", scenario.label(), scenario.key());
    let mut servers = Vec::new();
    for _ in 0..scenario.instances() {
        let config = RawConfig {
            issuer: Some(ISSUER.into()),
            database_max_connections: settings.connections,
            ..RawConfig::default()
        };
        let server = TestServer::start_on(Arc::clone(&database), config).await;
        assert!(server.base_url.starts_with("http://127.0.0.1:"), "not a loopback target: {}", server.base_url);
        servers.push(server);
    }
    let client = servers[0].client("bench", &[], "read write", false).await;
    servers[0].user(USERNAME, PASSWORD).await;
    let http = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(settings.workers * 2)
        .timeout(Duration::from_secs(60))
        .build()
        .expect("HTTP client");
    let instances = servers.iter().map(|server| server.base_url.clone()).collect();
    let target = Arc::new(Target { http, instances, client });

    progress(&format!("logging in {} workers (password grant, untimed)", settings.workers));
    let argon2_slots = Arc::new(Semaphore::new(2));
    let mut logins = JoinSet::new();
    for index in 0..settings.workers {
        let (target, slots) = (Arc::clone(&target), Arc::clone(&argon2_slots));
        logins.spawn(async move {
            let _slot = slots.acquire_owned().await;
            let instance = &target.instances[index % target.instances.len()];
            (index, target.login(instance).await)
        });
    }
    let mut refresh_tokens = vec![String::new(); settings.workers];
    while let Some(login) = logins.join_next().await {
        let (index, token) = login.expect("a login task panicked");
        refresh_tokens[index] = token.unwrap_or_else(|error| panic!("login failed on {}: {error}", scenario.key()));
    }
    if !settings.warmup.is_zero() {
        progress(&format!("warm-up, {:.1} s per workload (untimed)", settings.warmup.as_secs_f64()));
        for workload in [Workload::Healthz, Workload::Refresh] {
            let warm = measure(&target, workload, &mut refresh_tokens, settings.warmup).await;
            if let Some(error) = warm.first_error {
                progress(&format!("warm-up error ({} failed): {error}", warm.errors));
            }
        }
    }
    Some(Running {
        scenario,
        target,
        refresh_tokens,
        servers,
        database,
        healthz: Totals::default(),
        refresh: Totals::default(),
        round_ratios: Vec::new(),
    })
}

fn ratio(numerator: f64, denominator: f64) -> String {
    if denominator > 0.0 && numerator.is_finite() { format!("{:.2}", numerator / denominator) } else { "n/a".into() }
}

fn spread(values: &[f64], precision: usize) -> String {
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if values.is_empty() { "n/a".into() } else { format!("{min:.precision$}–{max:.precision$}") }
}

fn report(settings: &Settings, results: &[Running]) -> String {
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

#[tokio::main]
async fn main() {
    let settings = Settings::load();
    let cores = std::thread::available_parallelism().map_or(1, |cores| cores.get());
    let postgres = postgres_url();
    println!("Tessera refresh-token load benchmark (crates/tessera-server/benches/refresh_load.rs)");
    println!(
        "  NOTE: the server instances and the load generator run in THIS ONE PROCESS and share its tokio runtime \
         ({cores} worker threads on {cores} cores); every figure includes the load generator's own CPU cost."
    );
    println!("  Targets: in-process servers on 127.0.0.1 only (HTTP/1.1 keep-alive, one connection per worker).");
    println!(
        "  workers {}, {:.1} s per workload per scenario in {} interleaved rounds, {:.1} s warm-up per workload; \
         database pool per instance: {}",
        settings.workers,
        settings.duration.as_secs_f64(),
        settings.rounds,
        settings.warmup.as_secs_f64(),
        settings.connections.map_or_else(|| "server default (10)".into(), |n| n.to_string()),
    );
    println!("  SQLite: WAL, synchronous=FULL, file in {}", std::env::temp_dir().display());
    let postgres_usable = match &postgres {
        Some(url) if is_loopback_database(url) => {
            println!("  PostgreSQL: {} (a fresh database per scenario)", tessera_server::store::redact_url(url));
            true
        }
        Some(url) => {
            println!(
                "SKIPPED PostgreSQL scenarios: TESSERA_TEST_POSTGRES_URL ({}) is not on loopback; this benchmark \
                 only loads 127.0.0.1",
                tessera_server::store::redact_url(url)
            );
            false
        }
        None => {
            println!(
                "SKIPPED PostgreSQL scenarios: TESSERA_TEST_POSTGRES_URL is unset \
                 (e.g. postgres://postgres@127.0.0.1:5432/test; bench/run.sh sets that default)"
            );
            false
        }
    };
    println!();

    let mut running = Vec::new();
    for &scenario in &settings.scenarios {
        if scenario.postgres() && !postgres_usable {
            continue;
        }
        if let Some(started) = start_scenario(scenario, &settings).await {
            running.push(started);
        }
    }
    // Interleaved so that outside load hits every figure alike: each round gives every scenario a slice of each
    // workload, the scenario order rotates from round to round, and the workload order alternates (ABBA).
    let slice = settings.duration / settings.rounds;
    for round in 0..settings.rounds as usize {
        eprintln!("round {}/{}: {:.2} s per workload per scenario", round + 1, settings.rounds, slice.as_secs_f64());
        let count = running.len();
        for offset in 0..count {
            let index = (round + offset) % count;
            running[index].round((round + offset) % 2 == 0, slice).await;
        }
    }
    for result in &mut running {
        result.healthz.sort();
        result.refresh.sort();
        for (workload, totals) in [("healthz", &result.healthz), ("refresh", &result.refresh)] {
            if let Some(error) = &totals.first_error {
                eprintln!("{} {workload}: {} failed, first: {error}", result.scenario.key(), totals.errors);
            }
        }
    }
    print!("{}", report(&settings, &running));
    let errors: u64 = running.iter().map(|result| result.refresh.errors + result.healthz.errors).sum();
    for scenario in running {
        scenario.stop().await;
    }
    if errors > 0 {
        println!("WARNING: {errors} requests failed (expected none); see the first errors above.");
    }
}
