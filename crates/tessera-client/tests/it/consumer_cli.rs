//! TEMPORARY, until `tessera`'s main.rs wires the consumer commands: compiles
//! `crates/tessera/src/consumer.rs` into this test binary, checks its command line, and lets
//! `cross_process` run the commands in child processes. Once wired, these tests belong in the
//! binary's own suite, driving `CARGO_BIN_EXE_tessera`.

use std::process::ExitCode;

use clap::Parser;

use crate::consumer::ConsumerCommand;

/// Mirrors how main.rs flattens the consumer commands into the top-level command.
#[derive(Debug, Parser)]
#[command(name = "tessera")]
pub struct Cli {
    #[command(flatten)]
    settings: Settings,
    #[command(subcommand)]
    command: Command,
}

/// Stands in for main.rs's global server settings.
#[derive(Debug, clap::Args)]
struct Settings {
    #[arg(long, env = "TESSERA_ISSUER", global = true)]
    issuer: Option<String>,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    #[command(flatten)]
    Consumer(ConsumerCommand),
    /// Stands in for the server commands.
    Serve,
}

impl Cli {
    pub fn consumer(self) -> ConsumerCommand {
        match self.command {
            Command::Consumer(command) => command,
            Command::Serve => panic!("not a consumer command"),
        }
    }
}

/// The numeric status of an `ExitCode` (which does not expose it).
pub fn exit_status(code: ExitCode) -> i32 {
    (0..=255u8).find(|candidate| ExitCode::from(*candidate) == code).map(i32::from).unwrap_or(-1)
}

#[test]
fn the_cli_definition_is_valid() {
    use clap::CommandFactory;
    Cli::command().debug_assert();
}

#[test]
fn commands_parse_as_the_issue_spells_them() {
    let parse = |line: &str| Cli::try_parse_from(line.split_whitespace());
    for line in [
        "tessera login --issuer http://x --client-id c --client-secret s --username u --password-stdin",
        "tessera login --issuer http://x --client-id c --username u --password p --scope a --profile w",
        "tessera token",
        "tessera token --profile work",
        "tessera token refresh",
        "tessera token refresh --profile work",
        "tessera api /api/1.0/users/me",
        "tessera api -X POST /x -d a=1 -H X-A:1 -H X-B:2 --profile work",
        "tessera logout",
        "tessera logout --profile work --no-revoke",
    ] {
        assert!(parse(line).is_ok(), "{line}: {:?}", parse(line).err());
    }
    for line in [
        "tessera login --issuer http://x --client-id c --username u",
        "tessera login --issuer http://x --client-id c --username u --password p --password-stdin",
        "tessera login --issuer http://x --client-id c --username u --password p --client-auth post",
        "tessera token --profile",
        "tessera api",
    ] {
        assert!(parse(line).is_err(), "{line} should not parse");
    }
}
