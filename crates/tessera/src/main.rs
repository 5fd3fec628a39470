//! The `tessera` command: the server, its admin commands, and the token client. This crate
//! alone owns `anyhow`, printing and exit codes.

mod admin;
mod consumer;
mod timefmt;

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use tessera_server::config::RawConfig;

#[derive(Parser)]
#[command(name = "tessera", version, about = "OAuth 2.0 authorization server and token client")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Settings shared by every server-side command. Precedence: flag > environment > `--config` file > default.
#[derive(Args, Clone, Default)]
struct Settings {
    /// TOML configuration file (keys: listen, database_url, issuer, master_key, access_token_ttl, …)
    #[arg(long, env = "TESSERA_CONFIG", global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Every setting, from flags and environment (clap merges the two).
    #[command(flatten)]
    given: RawConfig,
}

impl Settings {
    /// Flags and environment, then the config file, then defaults.
    fn resolve(&self) -> anyhow::Result<tessera_server::config::Config> {
        Ok(self.given.clone().or_file(self.config.as_deref())?.resolve()?)
    }
}

/// A server-side command group: the settings, then its own subcommand.
#[derive(Args)]
struct WithSettings<C: Subcommand> {
    #[command(flatten)]
    settings: Settings,
    #[command(subcommand)]
    command: C,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server
    Serve(Settings),
    /// Apply database migrations and exit
    Migrate(Settings),
    /// Manage client applications
    Client(WithSettings<admin::ClientCommand>),
    /// Manage users
    User(WithSettings<admin::UserCommand>),
    /// Manage personal access tokens
    Pat(WithSettings<admin::PatCommand>),
    /// Manage signing keys
    Keys(WithSettings<admin::KeysCommand>),
    /// Write a consistent snapshot of the SQLite database to FILE while the server runs
    Backup(admin::BackupArgs),
    #[command(flatten)]
    Consumer(consumer::ConsumerCommand),
}

fn init_logging(filter: &str) {
    let filter =
        tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

async fn serve(settings: &Settings) -> anyhow::Result<()> {
    let config = settings.resolve()?;
    init_logging(&config.log);
    let app = tessera_server::App::build(config).await?;
    // Install the signal handlers before announcing the address: a supervisor that stops the
    // server as soon as it has read the line must get a graceful shutdown, not a kill.
    let shutdown = shutdown_signal()?;
    println!(
        "tessera listening on http://{} (issuer {}, store {})",
        app.address(),
        app.issuer(),
        app.store().backend().name()
    );
    use std::io::Write;
    let _ = std::io::stdout().flush();
    app.run_until_stopped(shutdown).await?;
    tracing::info!("tessera stopped");
    Ok(())
}

/// A future that resolves on SIGINT or SIGTERM; the handlers are installed when this returns.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        Ok(async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(settings) => serve(&settings).await?,
        Command::Migrate(settings) => {
            let config = settings.resolve()?;
            let store = admin::open_store(&config).await?;
            println!("database {} is up to date", store.backend().name());
        }
        Command::Client(group) => admin::client(&group.settings.resolve()?, group.command).await?,
        Command::User(group) => admin::user(&group.settings.resolve()?, group.command).await?,
        Command::Pat(group) => admin::pat(&group.settings.resolve()?, group.command).await?,
        Command::Keys(group) => admin::keys(&group.settings.resolve()?, group.command).await?,
        Command::Backup(args) => admin::backup(args).await?,
        // The token client keeps its own exit codes (3: log in again, 22: HTTP error).
        Command::Consumer(command) => return consumer::run(command).await,
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
