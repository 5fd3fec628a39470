//! Integration tests of the `tessera` binary: the real executable (`CARGO_BIN_EXE_tessera`) run
//! as child processes, each test with its own temporary directory, SQLite database and
//! `XDG_CONFIG_HOME`. Where a test needs a server it starts the real one in-process on port 0
//! (`tessera_testkit`), or runs `tessera serve` itself.
//!
//! Children are spawned with `tokio::process` on multi-threaded runtimes: the in-process
//! server runs on the test's runtime, so a blocking wait for a child would starve it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod admin;
mod admin_oidc;
mod admin_origins;
mod backup;
mod browser_login;
mod consumer;
mod device_login;
mod dpop_login;
mod durability;
mod faults;
mod serve;
mod settings;
mod support;
mod whoami;
