//! `tessera token`: print a valid access token (refreshed first when it is about to expire), or
//! force a refresh and print the whole token response.

use std::io::{self, Write};
use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::{ProfileArg, token_source};

#[derive(Debug, Args)]
pub struct TokenArgs {
    #[command(subcommand)]
    action: Option<TokenAction>,
    #[command(flatten)]
    pub(super) profile: ProfileArg,
}

#[derive(Debug, Subcommand)]
pub enum TokenAction {
    /// Refresh now and print the token response as JSON (secrets included)
    Refresh,
}

pub(super) async fn run(args: TokenArgs) -> anyhow::Result<ExitCode> {
    let (source, _) = token_source(&args.profile.profile)?;
    let mut stdout = io::stdout().lock();
    match args.action {
        None => {
            let access_token = source.access_token().await?;
            writeln!(stdout, "{}", access_token.secret())?;
        }
        Some(TokenAction::Refresh) => {
            let response = source.force_refresh().await?;
            // The user's own tokens on the user's own terminal: printing them is the point.
            writeln!(stdout, "{}", serde_json::to_string_pretty(&response)?)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
