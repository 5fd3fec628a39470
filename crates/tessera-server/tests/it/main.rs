//! Integration tests of tessera-server: the real server, in-process on port 0, over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test binary: failing loudly is the point

mod helpers;
mod lifecycle;
mod recipes;
mod resources;
mod token_endpoint;
