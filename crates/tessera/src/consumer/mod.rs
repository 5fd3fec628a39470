//! The consumer commands, `tessera login | token | api | logout | whoami`: the guide's recipes (get tokens,
//! refresh them, call the API) as a CLI that keeps the access token valid by itself. This file
//! holds what they share (the profile option, the token source, paths under the issuer, the
//! handling of a missing login); each command has its own file.
//!
//! Exit status: 0 on success; 2 when `tessera api` refuses to send the access token to another
//! origin than the profile's API; 3 when the user must run `tessera login` (again); 22 when
//! `tessera api` got HTTP ≥ 400 (as `curl --fail`); any other failure is returned as an error.

mod api;
mod device;
mod login;
mod logout;
mod token;
mod whoami;

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Subcommand};
use tessera_client::{ClientError, FileStore, TokenSource, Url};

use self::api::ApiArgs;
use self::login::LoginArgs;
use self::logout::LogoutArgs;
use self::token::TokenArgs;
use self::whoami::WhoamiArgs;

/// Exit status when no usable login is stored: the user must run `tessera login`.
const EXIT_LOGIN_REQUIRED: u8 = 3;

/// Commands for an API consumer: log in once, then get tokens and call the API without thinking
/// about refresh.
#[derive(Debug, Subcommand)]
pub enum ConsumerCommand {
    /// Log in (password grant, or --browser for the authorization-code flow with PKCE, or
    /// --device) and store the tokens in a profile (never the password); --dpop binds them to a
    /// key of the profile
    Login(LoginArgs),
    /// Print a valid access token, refreshing it first when it is about to expire
    Token(TokenArgs),
    /// Call the API with the access token (curl-like); refreshes and retries once on 401
    Api(ApiArgs),
    /// Revoke the refresh token at the server (RFC 7009) and delete the profile
    Logout(LogoutArgs),
    /// Print who the profile is logged in as: the claims of its id token (OpenID Connect),
    /// validated against the issuer's keys
    Whoami(WhoamiArgs),
}

/// The credential profile a command uses.
#[derive(Debug, Args)]
pub struct ProfileArg {
    /// Credential profile, stored as $XDG_CONFIG_HOME/tessera/NAME.json
    #[arg(long, value_name = "NAME", env = "TESSERA_PROFILE", default_value = "default", global = true)]
    profile: String,
}

/// Runs a consumer command. A missing or dead login is reported here, on stderr, with the exit
/// status [`EXIT_LOGIN_REQUIRED`]; other failures are returned.
pub async fn run(command: ConsumerCommand) -> anyhow::Result<ExitCode> {
    let profile = match &command {
        ConsumerCommand::Login(args) => &args.profile.profile,
        ConsumerCommand::Token(args) => &args.profile.profile,
        ConsumerCommand::Api(args) => &args.profile.profile,
        ConsumerCommand::Logout(args) => &args.profile.profile,
        ConsumerCommand::Whoami(args) => &args.profile.profile,
    }
    .clone();
    let result = match command {
        ConsumerCommand::Login(args) => login::run(args).await,
        ConsumerCommand::Token(args) => token::run(args).await,
        ConsumerCommand::Api(args) => api::run(args).await,
        ConsumerCommand::Logout(args) => logout::run(args).await,
        ConsumerCommand::Whoami(args) => whoami::run(args).await,
    };
    match result {
        Err(error) => match error.downcast_ref::<ClientError>() {
            Some(client_error) if client_error.is_login_required() => {
                eprintln!("error: {client_error}");
                eprintln!("{}", login_hint(&profile));
                Ok(ExitCode::from(EXIT_LOGIN_REQUIRED))
            }
            _ => Err(error),
        },
        ok => ok,
    }
}

fn token_source(profile: &str) -> anyhow::Result<(TokenSource, FileStore)> {
    let store = FileStore::open(profile)?;
    let source = TokenSource::new(Arc::new(store.clone()))?;
    Ok((source, store))
}

/// `path` under `base` (an issuer URL), keeping the issuer's own path: `users/me` and `/users/me`
/// under `https://example.com/tenant` are both `https://example.com/tenant/users/me`.
fn url_under(base: &str, path: &str) -> anyhow::Result<Url> {
    let mut directory = Url::parse(base).with_context(|| format!("the issuer {base:?} is not a URL"))?;
    if !directory.path().ends_with('/') {
        let with_slash = format!("{}/", directory.path());
        directory.set_path(&with_slash);
    }
    // "./" keeps a first segment with a colon (`a:b`) from being read as a scheme.
    directory
        .join(&format!("./{}", path.trim_start_matches('/')))
        .with_context(|| format!("cannot resolve {path:?} under {base}"))
}

/// The `tessera login …` line to run again, filled in from the stored profile when there is one.
fn login_hint(profile: &str) -> String {
    let stored =
        FileStore::open(profile).ok().and_then(|store| tessera_client::CredentialStore::load(&store).ok().flatten());
    let (issuer, client_id, dpop) = match &stored {
        Some(stored) => (
            stored.client.issuer.clone().unwrap_or_else(|| "URL".to_owned()),
            stored.client.client_id.clone(),
            if stored.client.dpop { " --dpop" } else { "" },
        ),
        None => ("URL".to_owned(), "ID".to_owned(), ""),
    };
    let profile_flag = if profile == "default" { String::new() } else { format!(" --profile {profile}") };
    format!(
        "run `tessera login --issuer {issuer} --client-id {client_id} --username USERNAME \
         --password-stdin{dpop}{profile_flag}` (or with --browser instead of the username and password) to log in again"
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_definition_is_valid() {
        use clap::CommandFactory;
        crate::Cli::command().debug_assert();
    }

    /// Parsing only, through the binary's real command line (main.rs): what must be accepted
    /// and what must be refused before anything runs.
    #[test]
    fn consumer_commands_parse_as_issue_5_spells_them() {
        use clap::Parser;
        let parse = |line: &str| crate::Cli::try_parse_from(line.split_whitespace());
        for line in [
            "tessera login --issuer http://x --client-id c --client-secret s --username u --password-stdin",
            "tessera login --issuer http://x --client-id c --username u --password p --scope a --profile w",
            "tessera login --issuer http://x --client-id c --client-secret s --client-auth post --username u --password p",
            "tessera login --browser --issuer http://x --client-id c",
            "tessera login --browser --issuer http://x --client-id c --client-secret s --scope a --profile w",
            "tessera login --browser --issuer http://x --client-id c --authorization-endpoint http://x/authorize",
            "tessera login --dpop --issuer http://x --client-id c --username u --password-stdin",
            "tessera login --dpop --browser --issuer http://x --client-id c",
            "tessera login --device --dpop --issuer http://x --client-id c --scope a",
            "tessera token",
            "tessera token --profile work",
            "tessera token refresh",
            "tessera token refresh --profile work",
            "tessera api /api/1.0/users/me",
            "tessera api -X POST /x -d a=1 -H X-A:1 -H X-B:2 --profile work",
            "tessera api https://other.example/x --allow-other-host",
            "tessera logout",
            "tessera logout --profile work --no-revoke",
            "tessera whoami",
            "tessera whoami --json --profile work",
        ] {
            assert!(parse(line).is_ok(), "{line}: {:?}", parse(line).err().map(|error| error.to_string()));
        }
        for line in [
            // A password source is required, and only one.
            "tessera login --issuer http://x --client-id c --username u",
            "tessera login --issuer http://x --client-id c --username u --password p --password-stdin",
            "tessera login --issuer http://x --client-id c --password-stdin",
            // --browser takes no username or password.
            "tessera login --browser --issuer http://x --client-id c --username u",
            "tessera login --browser --issuer http://x --client-id c --password-stdin",
            "tessera login --browser --issuer http://x --client-id c --password p",
            // --authorization-endpoint is for --browser only.
            "tessera login --issuer http://x --client-id c --username u --password p --authorization-endpoint http://a",
            // --client-auth means nothing without a secret.
            "tessera login --issuer http://x --client-id c --username u --password p --client-auth post",
            "tessera token --profile",
            "tessera api",
        ] {
            assert!(parse(line).is_err(), "{line} should not parse");
        }
    }
}
