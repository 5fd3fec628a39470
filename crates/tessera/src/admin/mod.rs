//! `tessera migrate`, `client …`, `user …`, `pat …`, `keys …`, `backup`: administration straight
//! on the database, one file per command group; what they share is here.

mod backup;
mod client;
mod keys;
mod pat;
mod user;

pub use backup::{BackupArgs, backup};
pub use client::{ClientCommand, client};
pub use keys::{KeysCommand, keys};
pub use pat::{PatCommand, pat};
pub use user::{UserCommand, user};

use anyhow::Context;
use clap::Args;
use std::io::BufRead;
use tessera_server::clock::{Clock, SystemClock};
use tessera_server::config::Config;
use tessera_server::service::audit::AuditAction;
use tessera_server::store::{Store, StoreOptions};

#[derive(Args)]
pub struct JsonFlag {
    /// Print JSON
    #[arg(long)]
    json: bool,
}

/// An id argument (a client's, a token's) and `--json`.
#[derive(Args)]
pub struct IdArgs {
    /// The id
    id: String,
    /// Print JSON
    #[arg(long)]
    json: bool,
}

pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    let options = StoreOptions { max_connections: 2, ..StoreOptions::default() };
    let store = Store::connect(config.database_url.expose_secret(), &options)
        .await
        .with_context(|| format!("cannot open {}", config.database_url))?;
    store.migrate().await.context("cannot migrate the database")?;
    Ok(store)
}

/// Writes the command's audit log entry (no actor; "from the command line").
pub(crate) async fn audit(store: &Store, action: AuditAction, target: &str, detail: &str) -> anyhow::Result<()> {
    tessera_server::admin::audit_command_line(store, SystemClock.now(), action, target, detail)
        .await
        .context("the change is made, but the audit log could not record it")
}

pub(crate) fn print_json(value: &serde_json::Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

pub(crate) fn read_password_line() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).context("cannot read the password from standard input")?;
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}
