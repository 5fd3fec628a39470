//! The benchmark's settings: its scenarios, and the flags (or `TESSERA_BENCH_*` variables) that choose them
//! and size the load.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Scenario {
    #[value(name = "sqlite-1")]
    Sqlite1,
    #[value(name = "pg-1")]
    Postgres1,
    #[value(name = "pg-2")]
    Postgres2,
}

impl Scenario {
    pub(crate) const ALL: [Scenario; 3] = [Scenario::Sqlite1, Scenario::Postgres1, Scenario::Postgres2];

    pub(crate) fn key(self) -> &'static str {
        match self {
            Scenario::Sqlite1 => "sqlite-1",
            Scenario::Postgres1 => "pg-1",
            Scenario::Postgres2 => "pg-2",
        }
    }

    pub(crate) fn label(self) -> &'static str {
        match self {
            Scenario::Sqlite1 => "SQLite, 1 instance",
            Scenario::Postgres1 => "PostgreSQL, 1 instance",
            Scenario::Postgres2 => "PostgreSQL, 2 instances",
        }
    }

    pub(crate) fn instances(self) -> usize {
        match self {
            Scenario::Sqlite1 | Scenario::Postgres1 => 1,
            Scenario::Postgres2 => 2,
        }
    }

    pub(crate) fn postgres(self) -> bool {
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
pub(crate) struct Settings {
    /// Concurrent workers per measurement
    #[arg(long, env = "TESSERA_BENCH_WORKERS", value_name = "N", default_value_t = 16, value_parser = positive_count)]
    pub(crate) workers: usize,
    /// Time per workload per scenario (fractions allowed)
    #[arg(long, env = "TESSERA_BENCH_DURATION", value_name = "SECONDS", default_value = "10", value_parser = positive_seconds)]
    pub(crate) duration: Duration,
    /// Interleaved slices the duration is split into
    #[arg(long, env = "TESSERA_BENCH_ROUNDS", value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) rounds: u32,
    /// Untimed warm-up of each workload per scenario (0 = none)
    #[arg(long, env = "TESSERA_BENCH_WARMUP", value_name = "SECONDS", default_value = "1", value_parser = seconds)]
    pub(crate) warmup: Duration,
    /// Database pool size per instance; the server's own (10) when unset
    #[arg(long, env = "TESSERA_BENCH_DB_CONNECTIONS", value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) connections: Option<u32>,
    /// Comma-separated subset of the scenarios; all when unset
    #[arg(long, env = "TESSERA_BENCH_SCENARIOS", value_name = "LIST", value_enum, value_delimiter = ',')]
    pub(crate) scenarios: Vec<Scenario>,
    /// Added by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

impl Settings {
    /// Arguments win over the environment (clap's `env`); the scenarios are run once each, in
    /// their fixed order.
    pub(crate) fn load() -> Settings {
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
