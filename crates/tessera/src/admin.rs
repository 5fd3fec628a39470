//! `tessera migrate`, `client …`, `user …`, `keys …`: administration straight on the database.

use crate::timefmt::rfc3339;
use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde_json::json;
use std::io::BufRead;
use tessera_core::Password;
use tessera_server::admin::{NewClient, create_client, create_user, rotate_client_secret};
use tessera_server::clock::{Clock, SystemClock};
use tessera_server::config::Config;
use tessera_server::store::{ClientRow, Store, StoreOptions};

#[derive(Subcommand)]
pub enum ClientCommand {
    /// Register a client application; prints its id and (once) its secret
    Create(CreateClient),
    /// List client applications
    List(JsonFlag),
    /// Show one client application
    Show(ClientId),
    /// Delete a client application and every token issued to it
    Delete(ClientId),
    /// Replace a confidential client's secret; the old one stops working at once
    RotateSecret(ClientId),
}

#[derive(Args)]
pub struct JsonFlag {
    /// Print JSON
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct ClientId {
    /// The client id
    id: String,
    /// Print JSON
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct CreateClient {
    /// Application name
    #[arg(long)]
    name: String,
    /// Allowed redirect URI (repeatable)
    #[arg(long = "redirect-uri", value_name = "URI")]
    redirect_uris: Vec<String>,
    /// Allowed grant type (repeatable) [default: authorization_code password refresh_token]
    #[arg(long = "grant", value_name = "TYPE")]
    grants: Vec<String>,
    /// Space-separated scopes the client may ask for
    #[arg(long, default_value = "")]
    scope: String,
    /// A public client (no secret; e.g. a native or browser app)
    #[arg(long)]
    public: bool,
    /// Print JSON
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create a user (password hashed with Argon2id)
    Create(CreateUser),
}

#[derive(Args)]
pub struct CreateUser {
    #[arg(long)]
    username: String,
    #[arg(long)]
    email: Option<String>,
    /// Make the user an administrator
    #[arg(long)]
    admin: bool,
    /// Read the password from the first line of standard input
    #[arg(long, conflicts_with = "password")]
    password_stdin: bool,
    /// The password (visible in the process list; prefer --password-stdin)
    #[arg(long, hide_env_values = true)]
    password: Option<String>,
    /// Print JSON
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
pub enum PatCommand {
    /// Mint a personal access token for a user (shown once, stored hashed)
    Create(CreatePat),
    /// List personal access tokens (never the tokens themselves)
    List(ListPats),
    /// Revoke a personal access token by its id
    Revoke(ClientId),
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

#[derive(Subcommand)]
pub enum KeysCommand {
    /// List signing keys
    List(JsonFlag),
    /// Add a new active signing key and retire the current ones
    Rotate(JsonFlag),
}

pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    let options = StoreOptions { max_connections: 2, ..StoreOptions::default() };
    let store = Store::connect(config.database_url.expose_secret(), &options)
        .await
        .with_context(|| format!("cannot open {}", config.database_url))?;
    store.migrate().await.context("cannot migrate the database")?;
    Ok(store)
}

fn client_json(client: &ClientRow, secret: Option<&str>) -> serde_json::Value {
    let mut value = json!({
        "client_id": client.client_id,
        "name": client.name,
        "grant_types": client.grant_types,
        "redirect_uris": client.redirect_uris,
        "scope": client.scope.to_string(),
        "public": client.is_public(),
        "created_at": rfc3339(client.created_at),
    });
    if let (Some(secret), Some(object)) = (secret, value.as_object_mut()) {
        object.insert("client_secret".into(), json!(secret));
    }
    value
}

fn print_client(client: &ClientRow) {
    println!("client_id:     {}", client.client_id);
    println!("name:          {}", client.name);
    println!("type:          {}", if client.is_public() { "public" } else { "confidential" });
    println!("grant_types:   {}", grant_names(client));
    println!("redirect_uris: {}", client.redirect_uris.join(" "));
    println!("scope:         {}", client.scope);
    println!("created_at:    {}", rfc3339(client.created_at));
}

fn grant_names(client: &ClientRow) -> String {
    client.grant_types.iter().map(|grant| grant.as_str()).collect::<Vec<_>>().join(" ")
}

fn print_json(value: &serde_json::Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

pub async fn client(config: &Config, command: ClientCommand) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    match command {
        ClientCommand::Create(args) => {
            let new = NewClient {
                name: args.name,
                redirect_uris: args.redirect_uris,
                grant_types: args.grants,
                scope: args.scope,
                public: args.public,
            };
            let (client, secret) = create_client(&store, SystemClock.now(), new).await?;
            let secret = secret.as_ref().map(|secret| secret.secret());
            if args.json {
                print_json(&client_json(&client, secret))?;
            } else {
                print_client(&client);
                if let Some(secret) = secret {
                    println!("client_secret: {secret}");
                    eprintln!("The client secret is shown only once: store it now.");
                }
            }
        }
        ClientCommand::List(args) => {
            let clients = store.list_clients().await?;
            if args.json {
                print_json(&json!(clients.iter().map(|c| client_json(c, None)).collect::<Vec<_>>()))?;
            } else if clients.is_empty() {
                println!("no clients; create one with `tessera client create --name NAME`");
            } else {
                println!("{:<32}  {:<12}  {:<40}  NAME", "CLIENT_ID", "TYPE", "GRANTS");
                for client in &clients {
                    let kind = if client.is_public() { "public" } else { "confidential" };
                    println!("{:<32}  {kind:<12}  {:<40}  {}", client.client_id, grant_names(client), client.name);
                }
            }
        }
        ClientCommand::Show(args) => {
            let Some(client) = store.get_client(&args.id.as_str().into()).await? else {
                bail!("client {} does not exist", args.id)
            };
            if args.json { print_json(&client_json(&client, None))? } else { print_client(&client) }
        }
        ClientCommand::Delete(args) => {
            if !store.delete_client(&args.id.as_str().into()).await? {
                bail!("client {} does not exist", args.id);
            }
            if args.json {
                print_json(&json!({"client_id": args.id, "deleted": true}))?;
            } else {
                println!("client {} deleted, with every token issued to it", args.id);
            }
        }
        ClientCommand::RotateSecret(args) => {
            let secret = rotate_client_secret(&store, &args.id.as_str().into()).await?;
            if args.json {
                print_json(&json!({"client_id": args.id, "client_secret": secret.secret()}))?;
            } else {
                println!("client_secret: {}", secret.secret());
                eprintln!("The new secret is shown only once; the old one no longer works.");
            }
        }
    }
    store.close().await;
    Ok(())
}

fn read_password_line() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).context("cannot read the password from standard input")?;
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}

pub async fn user(config: &Config, command: UserCommand) -> anyhow::Result<()> {
    let UserCommand::Create(args) = command;
    let password = match (args.password_stdin, args.password) {
        (true, _) => read_password_line()?,
        (false, Some(password)) => password,
        (false, None) => bail!("give the password with --password-stdin (preferred) or --password"),
    };
    let store = open_store(config).await?;
    let user =
        create_user(&store, SystemClock.now(), &args.username, args.email, args.admin, Password::new(password)).await?;
    if args.json {
        print_json(&json!({
            "id": user.user_id, "username": user.username, "email": user.email,
            "admin": user.is_admin, "created_at": rfc3339(user.created_at),
        }))?;
    } else {
        println!("user {} created (id {})", user.username, user.user_id);
    }
    store.close().await;
    Ok(())
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
