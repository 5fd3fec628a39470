//! `tessera user …`: create users.

use super::{open_store, print_json, read_password_line};
use crate::timefmt::rfc3339;
use anyhow::bail;
use clap::{Args, Subcommand};
use serde_json::json;
use tessera_core::Password;
use tessera_server::admin::create_user;
use tessera_server::clock::{Clock, SystemClock};
use tessera_server::config::Config;

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
