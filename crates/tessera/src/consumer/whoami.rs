//! `tessera whoami`: who the profile is logged in as, from its id token (OpenID Connect), after
//! validating it again (signature against the issuer's JWK set, issuer, audience, expiry).

use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use tessera_client::IdTokenClaims;
use tessera_core::Timestamp;

use super::{ProfileArg, token_source};
use crate::timefmt::rfc3339;

#[derive(Debug, Args)]
pub struct WhoamiArgs {
    /// Print the validated claims as one JSON object
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    pub(super) profile: ProfileArg,
}

pub(super) async fn run(args: WhoamiArgs) -> anyhow::Result<ExitCode> {
    let (source, _) = token_source(&args.profile.profile)?;
    let claims = source
        .id_token_claims()
        .await
        .with_context(|| format!("cannot tell who profile {} is logged in as", args.profile.profile))?;
    let mut stdout = io::stdout().lock();
    if args.json {
        writeln!(stdout, "{}", serde_json::to_string_pretty(&claims)?)?;
    } else {
        for (name, value) in lines(&claims) {
            writeln!(stdout, "{name:<19}{value}")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The claims as `name value` lines, the ones the token lacks left out.
fn lines(claims: &IdTokenClaims) -> Vec<(&'static str, String)> {
    let time = |secs: u64| rfc3339(Timestamp::from_secs(i64::try_from(secs).unwrap_or(i64::MAX)));
    let mut lines = vec![("sub", claims.sub.clone())];
    let optional = [
        ("preferred_username", claims.preferred_username.clone()),
        ("name", claims.name.clone()),
        ("email", claims.email.clone()),
        ("email_verified", claims.email_verified.map(|verified| verified.to_string())),
        ("auth_time", claims.auth_time.map(time)),
    ];
    lines.extend(optional.into_iter().filter_map(|(name, value)| value.map(|value| (name, value))));
    lines.push(("issuer", claims.iss.clone()));
    lines.push(("expires", time(claims.exp)));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_claims_are_left_out_and_times_are_rfc_3339() {
        let claims: IdTokenClaims = serde_json::from_value(serde_json::json!({
            "iss": "http://127.0.0.1:8080", "sub": "u1", "aud": "c", "exp": 1_795_628_672, "iat": 1_795_625_072,
            "auth_time": 1_795_625_000, "preferred_username": "alice", "email_verified": false,
        }))
        .unwrap_or_else(|error| panic!("{error}"));
        let printed: Vec<String> = lines(&claims).into_iter().map(|(name, value)| format!("{name}={value}")).collect();
        assert_eq!(
            printed,
            [
                "sub=u1",
                "preferred_username=alice",
                "email_verified=false",
                "auth_time=2026-11-25T16:43:20Z",
                "issuer=http://127.0.0.1:8080",
                "expires=2026-11-25T17:44:32Z",
            ]
        );
    }
}
