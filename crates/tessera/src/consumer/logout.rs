//! `tessera logout`: revoke the refresh token at the server (RFC 7009) and delete the profile.

use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use tessera_client::{LogoutMode, LogoutOutcome, NotRevokedReason};

use super::{ProfileArg, token_source};

#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// Only delete the local profile; do not revoke the refresh token at the server
    #[arg(long)]
    no_revoke: bool,
    #[command(flatten)]
    pub(super) profile: ProfileArg,
}

pub(super) async fn run(args: LogoutArgs) -> anyhow::Result<ExitCode> {
    let (source, store) = token_source(&args.profile.profile)?;
    let mode = if args.no_revoke { LogoutMode::ForgetOnly } else { LogoutMode::RevokeThenForget };
    let outcome = source
        .logout(mode)
        .await
        .context("cannot revoke the refresh token; the profile is kept (--no-revoke deletes it anyway)")?;
    let profile = store.profile();
    match outcome {
        LogoutOutcome::Revoked => {
            eprintln!("logged out: the refresh token is revoked and profile {profile} is deleted");
        }
        LogoutOutcome::ForgottenWithoutRevocation(reason) => {
            let why = match reason {
                NotRevokedReason::NotAsked => "as asked (--no-revoke)",
                NotRevokedReason::NoRevocationEndpoint => "because the server publishes no revocation endpoint",
                NotRevokedReason::NoRefreshToken => "because the profile held no refresh token",
            };
            eprintln!("profile {profile} is deleted; the refresh token was not revoked at the server {why}");
        }
        LogoutOutcome::NotLoggedIn => {
            eprintln!("profile {profile}: not logged in, nothing to do");
        }
    }
    Ok(ExitCode::SUCCESS)
}
