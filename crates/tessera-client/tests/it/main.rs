//! Integration tests of tessera-client through its public API: against the real server
//! in-process (`real_server`, and `browser_login` with a headless Chromium driven over
//! WebDriver), and against a small fake (`fake_server`) for what the real server cannot be made
//! to do on purpose (e.g. refuse a spent token without revoking its family).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod browser_login;
mod cross_process;
mod dpop;
mod fake_oidc;
mod fake_server;
mod id_tokens;
mod real_server;
mod support;
mod token_source;
mod webdriver;
