//! `tessera keys …`: list, rotate and revoke signing keys.

use super::{JsonFlag, audit, open_store, print_json};
use crate::timefmt::rfc3339;
use clap::{Args, Subcommand};
use serde_json::json;
use tessera_core::{KeyState, retired_key_retention};
use tessera_server::admin::{WhenActive, revoke_signing_key};
use tessera_server::clock::{Clock, SystemClock};
use tessera_server::config::Config;
use tessera_server::service::audit::AuditAction;
use tessera_server::store::SigningKeyRow;

#[derive(Subcommand)]
pub enum KeysCommand {
    /// List signing keys and their state (active, retired, revoked)
    List(JsonFlag),
    /// Add a new active signing key and retire the current ones
    Rotate(JsonFlag),
    /// Remove a key from JWKS and from verification at once (a leaked key)
    Revoke(RevokeArgs),
}

#[derive(Args)]
pub struct RevokeArgs {
    /// The key's id (`kid`), as `tessera keys list` shows it
    kid: String,
    /// If the key is the only active one, rotate a new active key in first (otherwise refused)
    #[arg(long)]
    rotate: bool,
    /// Print JSON
    #[arg(long)]
    json: bool,
}

/// Until when a key verifies tokens and is published in JWKS: always for an active key,
/// never again for a revoked one.
fn verifies_until(config: &Config, key: &SigningKeyRow) -> Option<String> {
    match key.state() {
        KeyState::Retired { at } => {
            Some(rfc3339(at.plus(retired_key_retention(config.access_token_ttl, config.key_refresh_interval))))
        }
        KeyState::Active | KeyState::Revoked { .. } => None,
    }
}

fn list(config: &Config, keys: &[SigningKeyRow], as_json: bool) -> anyhow::Result<()> {
    if as_json {
        let rows: Vec<_> = keys
            .iter()
            .map(|key| {
                json!({
                    "kid": key.kid, "algorithm": key.algorithm, "created_at": rfc3339(key.created_at),
                    "state": key.state().name(), "active": key.state() == KeyState::Active,
                    "retired_at": key.retired_at.map(rfc3339), "revoked_at": key.revoked_at.map(rfc3339),
                    "verifies_until": verifies_until(config, key),
                })
            })
            .collect();
        return print_json(&json!(rows));
    }
    if keys.is_empty() {
        println!("no signing keys yet; `tessera serve` creates the first one");
        return Ok(());
    }
    println!("{:<43}  {:<6}  {:<20}  {:<7}  SINCE", "KID", "ALG", "CREATED", "STATE");
    for key in keys {
        let since = match key.state() {
            KeyState::Active => "-".to_owned(),
            KeyState::Retired { at } => {
                format!("{} (verifies until {})", rfc3339(at), verifies_until(config, key).unwrap_or_default())
            }
            KeyState::Revoked { at } => rfc3339(at),
        };
        println!(
            "{:<43}  {:<6}  {:<20}  {:<7}  {since}",
            key.kid,
            key.algorithm,
            rfc3339(key.created_at),
            key.state().name()
        );
    }
    Ok(())
}

async fn revoke(config: &Config, store: &tessera_server::store::Store, args: RevokeArgs) -> anyhow::Result<()> {
    let master = match args.rotate {
        true => Some(tessera_server::master::resolve(config.master_key.as_ref(), &config.database_url)?),
        false => None,
    };
    let when_active = match &master {
        Some(master) => WhenActive::RotateFirst(master, config.signing_alg),
        None => WhenActive::Refuse,
    };
    let successor = revoke_signing_key(store, SystemClock.now(), &args.kid, when_active).await?;
    if let Some(row) = &successor {
        let detail = format!("new active key ({}), rotated in before revoking {}", row.algorithm, args.kid);
        audit(store, AuditAction::KeyRotate, &row.kid, &detail).await?;
    }
    audit(store, AuditAction::KeyRevoke, &args.kid, "removed from JWKS and verification").await?;
    if args.json {
        return print_json(&json!({"revoked": args.kid, "new_active_kid": successor.map(|row| row.kid)}));
    }
    println!("revoked signing key {}", args.kid);
    if let Some(row) = successor {
        println!("new active signing key {} ({})", row.kid, row.algorithm);
    }
    println!(
        "it is gone from JWKS and verification in the database now; running servers drop it within {}s",
        config.key_refresh_interval.as_secs()
    );
    Ok(())
}

pub async fn keys(config: &Config, command: KeysCommand) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    let result = match command {
        KeysCommand::List(args) => match store.list_signing_keys().await {
            Ok(keys) => list(config, &keys, args.json),
            Err(error) => Err(error.into()),
        },
        KeysCommand::Rotate(args) => rotate(config, &store, args.json).await,
        KeysCommand::Revoke(args) => revoke(config, &store, args).await,
    };
    store.close().await;
    result
}

async fn rotate(config: &Config, store: &tessera_server::store::Store, as_json: bool) -> anyhow::Result<()> {
    let master = tessera_server::master::resolve(config.master_key.as_ref(), &config.database_url)?;
    let row = tessera_server::keys::rotate_keys(store, &master, config.signing_alg, SystemClock.now()).await?;
    let detail = format!("new active key ({}); the previous keys retired", row.algorithm);
    audit(store, AuditAction::KeyRotate, &row.kid, &detail).await?;
    if as_json {
        print_json(&json!({"kid": row.kid, "algorithm": row.algorithm}))
    } else {
        println!("new active signing key {} ({})", row.kid, row.algorithm);
        println!("running servers pick it up within {}s", config.key_refresh_interval.as_secs());
        Ok(())
    }
}
