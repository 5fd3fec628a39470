//! `tessera pat …`: mint, list and revoke personal access tokens.

use super::{IdArgs, audit, open_store, print_json};
use crate::timefmt::rfc3339;
use clap::{Args, Subcommand};
use serde_json::json;
use tessera_server::clock::{Clock, SystemClock};
use tessera_server::config::Config;
use tessera_server::service::audit::AuditAction;

#[derive(Subcommand)]
pub enum PatCommand {
    /// Mint a personal access token for a user (shown once, stored hashed)
    Create(CreatePat),
    /// List personal access tokens (never the tokens themselves)
    List(ListPats),
    /// Revoke a personal access token by its id
    Revoke(IdArgs),
}

#[derive(Args)]
pub struct CreatePat {
    #[arg(long)]
    username: String,
    /// A name to recognise the token by
    #[arg(long)]
    name: String,
    /// Space-separated scopes
    #[arg(long, default_value = "")]
    scope: String,
    /// Lifetime, e.g. 30d [default: until revoked]
    #[arg(long, value_name = "DURATION")]
    expires_in: Option<String>,
    /// Print JSON
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct ListPats {
    /// Only this user's tokens
    #[arg(long)]
    username: Option<String>,
    /// Print JSON
    #[arg(long)]
    json: bool,
}

fn pat_json(pat: &tessera_server::store::PersonalAccessTokenRow, token: Option<&str>) -> serde_json::Value {
    let mut value = json!({
        "id": pat.pat_id, "name": pat.name, "username": pat.username, "scope": pat.scope.to_string(),
        "created_at": rfc3339(pat.created_at), "expires_at": pat.expires_at.map(rfc3339),
        "revoked_at": pat.revoked_at.map(rfc3339),
    });
    if let (Some(token), Some(object)) = (token, value.as_object_mut()) {
        object.insert("token".into(), json!(token));
    }
    value
}

pub async fn pat(config: &Config, command: PatCommand) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    let now = SystemClock.now();
    match command {
        PatCommand::Create(args) => {
            let expires_in = args
                .expires_in
                .as_deref()
                .map(tessera_core::parse_duration)
                .transpose()
                .map_err(|message| anyhow::anyhow!("--expires-in: {message}"))?;
            let (row, token) = tessera_server::admin::create_personal_access_token(
                &store,
                now,
                &args.username,
                &args.name,
                &args.scope,
                expires_in,
            )
            .await?;
            let detail = format!("for {}, name {:?}, scope {:?}", args.username, row.name, args.scope);
            audit(&store, AuditAction::PatCreate, &row.pat_id, &detail).await?;
            if args.json {
                print_json(&pat_json(&row, Some(token.secret())))?;
            } else {
                println!("id:    {}", row.pat_id);
                println!("token: {}", token.secret());
                eprintln!("The token is shown only once: store it now.");
            }
        }
        PatCommand::List(args) => {
            let rows = store.list_personal_access_tokens(args.username.as_deref()).await?;
            if args.json {
                print_json(&json!(rows.iter().map(|row| pat_json(row, None)).collect::<Vec<_>>()))?;
            } else if rows.is_empty() {
                println!("no personal access tokens");
            } else {
                println!("{:<32}  {:<16}  {:<9}  {:<20}  NAME", "ID", "USER", "STATE", "EXPIRES");
                for row in &rows {
                    let state = if row.revoked_at.is_some() {
                        "revoked"
                    } else if row.is_active(now) {
                        "active"
                    } else {
                        "expired"
                    };
                    let expires = row.expires_at.map(rfc3339).unwrap_or_else(|| "never".into());
                    println!("{:<32}  {:<16}  {state:<9}  {expires:<20}  {}", row.pat_id, row.username, row.name);
                }
            }
        }
        PatCommand::Revoke(args) => {
            tessera_server::admin::revoke_personal_access_token(&store, now, &args.id).await?;
            audit(&store, AuditAction::PatRevoke, &args.id, "").await?;
            if args.json {
                print_json(&json!({"id": args.id, "revoked": true}))?;
            } else {
                println!("personal access token {} revoked", args.id);
            }
        }
    }
    store.close().await;
    Ok(())
}
