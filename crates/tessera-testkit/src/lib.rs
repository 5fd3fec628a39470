//! Test support for the integration tests of every Tessera crate (a dev-dependency only, never
//! published): [`TestServer`] starts the real server in-process on port 0 with a fresh database
//! ([`TestDatabase`], SQLite or PostgreSQL) and a clock the test controls, and
//! [`webdriver::Browser`] drives a headless Chromium through its login and consent pages.
//!
//! It lives apart from `tessera-server` so that the production crate carries no test feature and
//! no test-only dependency (the model is kanidm's testkit and rust-analyzer's test-utils).
#![allow(clippy::panic)] // test support: a broken fixture should stop the test loudly

mod database;
mod server;
pub mod webdriver;

pub use database::{TEST_MASTER_KEY, TestDatabase, postgres_url, report_skipped};
pub use server::{TestClient, TestServer};
