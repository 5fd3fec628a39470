//! `tessera user …`: create users and change them (OpenID Connect profile fields included).

use super::{audit, open_store, print_json, read_password_line};
use crate::timefmt::rfc3339;
use anyhow::bail;
use clap::{Args, Subcommand};
use serde_json::json;
use tessera_core::Password;
use tessera_server::admin::{UserChange, UserProfile, create_user_with_profile, update_user};
use tessera_server::clock::{Clock, SystemClock};
use tessera_server::config::Config;
use tessera_server::service::audit::AuditAction;
use tessera_server::store::UserRow;

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create a user (password hashed with Argon2id)
    Create(CreateUser),
    /// Change a user's email, name, verified flag, admin flag, or disable / enable them
    Update(UpdateUser),
}

#[derive(Args)]
pub struct CreateUser {
    #[arg(long)]
    username: String,
    #[arg(long)]
    email: Option<String>,
    /// Full name (the OpenID Connect `name` claim)
    #[arg(long)]
    name: Option<String>,
    /// The email address is known to belong to the user (`email_verified`)
    #[arg(long)]
    email_verified: bool,
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

#[derive(Args)]
pub struct UpdateUser {
    #[arg(long)]
    username: String,
    /// New email address ("" removes it)
    #[arg(long)]
    email: Option<String>,
    /// New full name ("" removes it)
    #[arg(long)]
    name: Option<String>,
    /// Mark the email address verified
    #[arg(long, conflicts_with = "email_unverified")]
    email_verified: bool,
    /// Mark the email address not verified
    #[arg(long)]
    email_unverified: bool,
    /// Make the user an administrator
    #[arg(long, conflicts_with = "no_admin")]
    admin: bool,
    /// Make the user an ordinary user
    #[arg(long)]
    no_admin: bool,
    /// Refuse the user's sign-ins (login page, password grant) and end their browser sessions
    #[arg(long, conflicts_with = "enable")]
    disable: bool,
    /// Let a disabled user sign in again
    #[arg(long)]
    enable: bool,
    /// Print JSON
    #[arg(long)]
    json: bool,
}

/// `--yes` / `--no` flag pairs as a change: neither leaves the field as it is.
fn flag(on: bool, off: bool) -> Option<bool> {
    match (on, off) {
        (true, _) => Some(true),
        (false, true) => Some(false),
        (false, false) => None,
    }
}

fn user_json(user: &UserRow) -> serde_json::Value {
    json!({
        "id": user.user_id, "username": user.username, "email": user.email, "name": user.name,
        "email_verified": user.email_verified, "admin": user.is_admin, "disabled": user.disabled,
        "created_at": rfc3339(user.created_at), "updated_at": user.updated_at.map(rfc3339),
    })
}

pub async fn user(config: &Config, command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Create(args) => create(config, args).await,
        UserCommand::Update(args) => update(config, args).await,
    }
}

async fn create(config: &Config, args: CreateUser) -> anyhow::Result<()> {
    let password = match (args.password_stdin, args.password) {
        (true, _) => read_password_line()?,
        (false, Some(password)) => password,
        (false, None) => bail!("give the password with --password-stdin (preferred) or --password"),
    };
    let store = open_store(config).await?;
    let profile = UserProfile { email: args.email, name: args.name, email_verified: args.email_verified };
    let user = create_user_with_profile(
        &store,
        SystemClock.now(),
        &args.username,
        profile,
        args.admin,
        Password::new(password),
    )
    .await?;
    let detail = if user.is_admin { "with the admin flag" } else { "" };
    audit(&store, AuditAction::UserCreate, &user.username, detail).await?;
    if args.json {
        print_json(&user_json(&user))?;
    } else {
        println!("user {} created (id {})", user.username, user.user_id);
    }
    store.close().await;
    Ok(())
}

async fn update(config: &Config, args: UpdateUser) -> anyhow::Result<()> {
    let change = UserChange {
        email: args.email,
        name: args.name,
        email_verified: flag(args.email_verified, args.email_unverified),
        is_admin: flag(args.admin, args.no_admin),
        disabled: flag(args.disable, args.enable),
    };
    let store = open_store(config).await?;
    let user = update_user(&store, SystemClock.now(), &args.username, change.clone()).await?;
    audit_update(&store, &user.username, &change).await?;
    if args.json {
        print_json(&user_json(&user))?;
    } else {
        println!("user {} updated{}", user.username, if user.disabled { " (disabled)" } else { "" });
    }
    store.close().await;
    Ok(())
}

/// One audit entry per kind of change `tessera user update` made.
async fn audit_update(store: &tessera_server::store::Store, username: &str, change: &UserChange) -> anyhow::Result<()> {
    match change.disabled {
        Some(true) => {
            audit(store, AuditAction::UserDisable, username, "sessions ended, tokens revoked").await?;
            let detail = "every family of the user; reason: user disabled";
            audit(store, AuditAction::FamilyRevoke, username, detail).await?;
        }
        Some(false) => audit(store, AuditAction::UserEnable, username, "").await?,
        None => {}
    }
    match change.is_admin {
        Some(true) => audit(store, AuditAction::UserGrantAdmin, username, "").await?,
        Some(false) => audit(store, AuditAction::UserRevokeAdmin, username, "").await?,
        None => {}
    }
    let profile: Vec<&str> = [
        ("email", change.email.is_some()),
        ("name", change.name.is_some()),
        ("email_verified", change.email_verified.is_some()),
    ]
    .into_iter()
    .filter_map(|(field, given)| given.then_some(field))
    .collect();
    if !profile.is_empty() {
        audit(store, AuditAction::UserUpdate, username, &format!("changed {}", profile.join(", "))).await?;
    }
    Ok(())
}
