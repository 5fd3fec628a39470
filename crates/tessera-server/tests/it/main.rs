//! Integration tests of tessera-server: the real server, in-process on port 0, over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test binary: failing loudly is the point

/// Runs each named `async fn(Backend)` twice, as `sqlite::NAME` and `postgres::NAME`: the one
/// conformance suite of DESIGN.md §6. Without `TESSERA_TEST_POSTGRES_URL` the PostgreSQL
/// variants report that they were skipped.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(tessera_server::store::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    if tessera_testkit::postgres_url().is_none() {
                        tessera_testkit::report_skipped(concat!(module_path!(), "::", stringify!($name)));
                        return;
                    }
                    super::$name(tessera_server::store::Backend::Postgres).await
                }
            )*
        }
    };
}

mod account;
mod account_browser;
mod authorize;
mod bounds;
mod client_update;
mod clients;
mod console_chromium;
mod console_clients;
mod console_ops;
mod console_ops_browser;
mod console_sessions;
mod console_users;
mod cors;
mod device;
mod device_python;
mod device_store;
mod dpop;
mod group_commit;
mod helpers;
mod introspection_access;
mod keys;
mod lifecycle;
mod limits;
mod logs;
mod memory;
mod no_echo;
mod oidc;
mod oidc_flow;
mod oidc_rp;
mod oidc_store;
mod openapi;
mod pats;
mod postman;
mod properties;
mod recipes;
mod resources;
mod scale_out;
mod spa;
mod throttle;
mod token_endpoint;
mod web;
mod web_browser;
