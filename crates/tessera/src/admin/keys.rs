//! `tessera keys …`: list and rotate signing keys.

use super::{JsonFlag, open_store, print_json};
use crate::timefmt::rfc3339;
use clap::Subcommand;
use serde_json::json;
use tessera_server::clock::{Clock, SystemClock};
use tessera_server::config::Config;

#[derive(Subcommand)]
pub enum KeysCommand {
    /// List signing keys
    List(JsonFlag),
    /// Add a new active signing key and retire the current ones
    Rotate(JsonFlag),
}

pub async fn keys(config: &Config, command: KeysCommand) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    match command {
        KeysCommand::List(args) => {
            let keys = store.list_signing_keys().await?;
            if args.json {
                let rows: Vec<_> = keys
                    .iter()
                    .map(|key| {
                        json!({
                            "kid": key.kid, "algorithm": key.algorithm, "created_at": rfc3339(key.created_at),
                            "active": key.retired_at.is_none(), "retired_at": key.retired_at.map(rfc3339),
                        })
                    })
                    .collect();
                print_json(&json!(rows))?;
            } else if keys.is_empty() {
                println!("no signing keys yet; `tessera serve` creates the first one");
            } else {
                println!("{:<43}  {:<6}  {:<20}  {:<7}  RETIRED", "KID", "ALG", "CREATED", "ACTIVE");
                for key in &keys {
                    let retired = key.retired_at.map(rfc3339).unwrap_or_else(|| "-".into());
                    let active = if key.retired_at.is_none() { "yes" } else { "no" };
                    println!(
                        "{:<43}  {:<6}  {:<20}  {active:<7}  {retired}",
                        key.kid,
                        key.algorithm,
                        rfc3339(key.created_at)
                    );
                }
            }
        }
        KeysCommand::Rotate(args) => {
            let master = tessera_server::master::resolve(config.master_key.as_ref(), &config.database_url)?;
            let row = tessera_server::keys::rotate_keys(&store, &master, config.signing_alg, SystemClock.now()).await?;
            if args.json {
                print_json(&json!({"kid": row.kid, "algorithm": row.algorithm}))?;
            } else {
                println!("new active signing key {} ({})", row.kid, row.algorithm);
                println!("running servers pick it up within {}s", config.key_refresh_interval.as_secs());
            }
        }
    }
    store.close().await;
    Ok(())
}
