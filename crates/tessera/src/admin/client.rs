//! `tessera client …`: register, list, show, update, delete clients and rotate their secrets.

use super::{IdArgs, JsonFlag, audit, open_store, print_json};
use crate::timefmt::rfc3339;
use anyhow::bail;
use clap::{Args, Subcommand};
use serde_json::json;
use tessera_core::IntrospectionAccess;
use tessera_server::admin::{ClientUpdate, NewClient, create_client, rotate_client_secret, update_client};
use tessera_server::admin::{check_post_logout_redirect_uris, set_post_logout_redirect_uris};
use tessera_server::clock::{Clock, SystemClock};
use tessera_server::config::Config;
use tessera_server::service::audit::AuditAction;
use tessera_server::store::{ClientRow, Store};

#[derive(Subcommand)]
pub enum ClientCommand {
    /// Register a client application; prints its id and (once) its secret
    Create(CreateClient),
    /// List client applications
    List(JsonFlag),
    /// Show one client application
    Show(IdArgs),
    /// Change a client application: name, scope, grants, redirect URIs, introspection, origins.
    ///
    /// Lists given here replace the registered ones. This writes to the database directly:
    /// running servers see the change within TESSERA_CLIENT_CACHE_TTL (5 s by default). A
    /// narrower scope applies to tokens already issued too: their next refresh carries only
    /// what is left, and is refused (invalid_scope) when nothing is.
    Update(UpdateClient),
    /// Delete a client application and every token issued to it
    Delete(IdArgs),
    /// Replace a confidential client's secret; the old one stops working at once
    RotateSecret(IdArgs),
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
    /// A resource server: may introspect any access token, not only its own
    #[arg(long)]
    introspect: bool,
    /// Where the client may send the browser after logout (OpenID Connect; repeatable)
    #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
    post_logout_redirect_uris: Vec<String>,
    /// Web origin (scheme://host[:port]) whose browser app may call the token, revocation,
    /// userinfo and API endpoints (CORS; repeatable)
    #[arg(long = "allowed-origin", value_name = "ORIGIN")]
    allowed_origins: Vec<String>,
    /// Require DPoP-bound tokens (RFC 9449): token requests without a DPoP proof are refused
    #[arg(long)]
    require_dpop: bool,
    /// Print JSON
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct UpdateClient {
    /// The client's id
    id: String,
    /// New application name
    #[arg(long)]
    name: Option<String>,
    /// Allowed redirect URI (repeatable; replaces the registered ones)
    #[arg(long = "redirect-uri", value_name = "URI")]
    redirect_uris: Vec<String>,
    /// Allowed grant type (repeatable; replaces the registered ones)
    #[arg(long = "grant", value_name = "TYPE")]
    grants: Vec<String>,
    /// Space-separated scopes the client may ask for (replaces them; "" for none)
    #[arg(long)]
    scope: Option<String>,
    /// Make it a resource server: may introspect any access token
    #[arg(long, conflicts_with = "no_introspect")]
    introspect: bool,
    /// May introspect only tokens issued to it
    #[arg(long)]
    no_introspect: bool,
    /// Where the client may send the browser after logout (repeatable; replaces the registered ones)
    #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
    post_logout_redirect_uris: Vec<String>,
    /// Web origin for CORS, scheme://host[:port] (repeatable; replaces the registered ones)
    #[arg(long = "allowed-origin", value_name = "ORIGIN")]
    allowed_origins: Vec<String>,
    /// Remove every allowed origin (no CORS for this client)
    #[arg(long, conflicts_with = "allowed_origins")]
    no_allowed_origins: bool,
    /// Require DPoP-bound tokens (RFC 9449)
    #[arg(long, conflicts_with = "no_require_dpop")]
    require_dpop: bool,
    /// Accept token requests without a DPoP proof again
    #[arg(long)]
    no_require_dpop: bool,
    /// Print JSON (the client, as `show --json` does)
    #[arg(long)]
    json: bool,
}

impl UpdateClient {
    fn changes(&self) -> ClientUpdate {
        let given = |list: &Vec<String>| (!list.is_empty()).then(|| list.clone());
        ClientUpdate {
            name: self.name.clone(),
            redirect_uris: given(&self.redirect_uris),
            grant_types: given(&self.grants),
            scope: self.scope.clone(),
            introspection: match (self.introspect, self.no_introspect) {
                (true, _) => Some(IntrospectionAccess::AnyAccessToken),
                (false, true) => Some(IntrospectionAccess::OwnTokens),
                (false, false) => None,
            },
            post_logout_redirect_uris: given(&self.post_logout_redirect_uris),
            allowed_origins: if self.no_allowed_origins { Some(Vec::new()) } else { given(&self.allowed_origins) },
            require_dpop: match (self.require_dpop, self.no_require_dpop) {
                (true, _) => Some(true),
                (false, true) => Some(false),
                (false, false) => None,
            },
        }
    }
}

fn introspection(access: IntrospectionAccess) -> bool {
    access == IntrospectionAccess::AnyAccessToken
}

/// A client with its post-logout redirect URIs, which live beside its row.
async fn with_logout_uris(store: &Store, client: ClientRow) -> anyhow::Result<(ClientRow, Vec<String>)> {
    let uris = store.client_post_logout_redirect_uris(&client.client_id).await?.unwrap_or_default();
    Ok((client, uris))
}

fn client_json((client, logout_uris): &(ClientRow, Vec<String>), secret: Option<&str>) -> serde_json::Value {
    let mut value = json!({
        "client_id": client.client_id,
        "name": client.name,
        "grant_types": client.grant_types,
        "redirect_uris": client.redirect_uris,
        "scope": client.scope.to_string(),
        "public": client.is_public(),
        "introspect": introspection(client.introspection),
        "post_logout_redirect_uris": logout_uris,
        "allowed_origins": client.allowed_origins.iter().map(|origin| origin.as_str()).collect::<Vec<_>>(),
        "require_dpop": client.require_dpop,
        "created_at": rfc3339(client.created_at),
    });
    if let (Some(secret), Some(object)) = (secret, value.as_object_mut()) {
        object.insert("client_secret".into(), json!(secret));
    }
    value
}

fn print_client((client, logout_uris): &(ClientRow, Vec<String>)) {
    println!("client_id:     {}", client.client_id);
    println!("name:          {}", client.name);
    println!("type:          {}", if client.is_public() { "public" } else { "confidential" });
    println!("grant_types:   {}", grant_names(client));
    println!("redirect_uris: {}", client.redirect_uris.join(" "));
    println!("scope:         {}", client.scope);
    let introspects = if introspection(client.introspection) { "any access token" } else { "its own tokens" };
    println!("introspects:   {introspects}");
    if !logout_uris.is_empty() {
        println!("post_logout_redirect_uris: {}", logout_uris.join(" "));
    }
    if !client.allowed_origins.is_empty() {
        let origins = client.allowed_origins.iter().map(|origin| origin.as_str()).collect::<Vec<_>>();
        println!("allowed_origins: {}", origins.join(" "));
    }
    if client.require_dpop {
        println!("require_dpop:  yes");
    }
    println!("created_at:    {}", rfc3339(client.created_at));
}

fn grant_names(client: &ClientRow) -> String {
    client.grant_types.iter().map(|grant| grant.as_str()).collect::<Vec<_>>().join(" ")
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
                introspection: if args.introspect {
                    IntrospectionAccess::AnyAccessToken
                } else {
                    IntrospectionAccess::OwnTokens
                },
                allowed_origins: args.allowed_origins,
                require_dpop: args.require_dpop,
            };
            check_post_logout_redirect_uris(&args.post_logout_redirect_uris)?;
            let (client, secret) = create_client(&store, SystemClock.now(), new).await?;
            let logout_uris = args.post_logout_redirect_uris;
            if !logout_uris.is_empty() {
                set_post_logout_redirect_uris(&store, &client.client_id, &logout_uris).await?;
            }
            let kind = if client.is_public() { "public" } else { "confidential" };
            let detail = format!(
                "{kind} client {:?}, grants {}, scope {:?}",
                client.name,
                grant_names(&client),
                client.scope.to_string()
            );
            audit(&store, AuditAction::ClientCreate, client.client_id.as_str(), &detail).await?;
            let client = (client, logout_uris);
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
                let mut rows = Vec::with_capacity(clients.len());
                for client in clients {
                    rows.push(client_json(&with_logout_uris(&store, client).await?, None));
                }
                print_json(&json!(rows))?;
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
            let client = with_logout_uris(&store, client).await?;
            if args.json { print_json(&client_json(&client, None))? } else { print_client(&client) }
        }
        ClientCommand::Update(args) => {
            let client = update_client(&store, &args.id.as_str().into(), args.changes()).await?;
            let detail =
                format!("now {:?}, grants {}, scope {:?}", client.name, grant_names(&client), client.scope.to_string());
            audit(&store, AuditAction::ClientUpdate, client.client_id.as_str(), &detail).await?;
            let client = with_logout_uris(&store, client).await?;
            if args.json { print_json(&client_json(&client, None))? } else { print_client(&client) }
        }
        ClientCommand::Delete(args) => {
            if !store.delete_client(&args.id.as_str().into()).await? {
                bail!("client {} does not exist", args.id);
            }
            audit(&store, AuditAction::ClientDelete, &args.id, "with every token and family issued to it").await?;
            if args.json {
                print_json(&json!({"client_id": args.id, "deleted": true}))?;
            } else {
                println!("client {} deleted, with every token issued to it", args.id);
            }
        }
        ClientCommand::RotateSecret(args) => {
            let secret = rotate_client_secret(&store, &args.id.as_str().into()).await?;
            audit(&store, AuditAction::ClientRotateSecret, &args.id, "the old secret no longer works").await?;
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
