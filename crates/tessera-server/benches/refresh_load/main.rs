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

mod load;
mod report;
mod settings;

use std::sync::Arc;
use std::time::Duration;
use tessera_server::config::RawConfig;
use tessera_testkit::{TestDatabase, TestServer, postgres_url};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::load::{Target, Totals, Workload, measure};
use crate::report::report;
use crate::settings::{Scenario, Settings};

const USERNAME: &str = "bench";
const PASSWORD: &str = "bench password, not a secret";
/// Every instance of a deployment shares the public issuer (as in tests/it/scale_out.rs).
const ISSUER: &str = "http://tessera.test";

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

#[tokio::main]
async fn main() {
    let settings = Settings::load();
    let cores = std::thread::available_parallelism().map_or(1, |cores| cores.get());
    let postgres = postgres_url();
    println!("Tessera refresh-token load benchmark (crates/tessera-server/benches/refresh_load/)");
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
