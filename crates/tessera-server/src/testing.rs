//! Test support (feature `testing`): start the real server in-process on port 0 with a fresh
//! database and a clock the test controls. Used by the integration tests of every crate.
#![allow(clippy::panic)] // test support: a broken fixture should stop the test loudly

use crate::App;
use crate::admin::{NewClient, create_client, create_user};
use crate::clock::{Clock, ManualClock};
use crate::config::RawConfig;
use crate::service::AuthService;
use crate::store::Store;
use std::path::PathBuf;
use std::sync::Arc;
use tessera_core::Password;
use tokio::sync::oneshot;

/// A registered client, with its secret in clear because the test created it.
#[derive(Debug, Clone)]
pub struct TestClient {
    pub client_id: String,
    pub client_secret: Option<String>,
}

pub struct TestServer {
    pub base_url: String,
    pub address: std::net::SocketAddr,
    pub clock: ManualClock,
    pub service: Arc<AuthService>,
    pub database_url: String,
    pub directory: PathBuf,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

/// A fresh scratch directory under the system temp dir, removed when the server is dropped.
pub fn scratch_directory() -> PathBuf {
    let directory = std::env::temp_dir().join(format!("tessera-test-{}", uuid::Uuid::new_v4().simple()));
    let _ = std::fs::create_dir_all(&directory);
    directory
}

impl TestServer {
    /// Starts a server on `127.0.0.1:0` with a fresh SQLite database (unless `overrides`
    /// names another `database_url`) and a manual clock starting at the real time.
    pub async fn start(overrides: RawConfig) -> TestServer {
        let directory = scratch_directory();
        let database_url = overrides
            .database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", directory.join("tessera.db").display()));
        let raw = RawConfig {
            listen: Some("127.0.0.1:0".into()),
            database_url: Some(database_url.clone()),
            ..RawConfig::default()
        };
        let config = match overrides.or(raw).resolve() {
            Ok(config) => config,
            Err(error) => panic!("test configuration is invalid: {error}"),
        };
        let clock = ManualClock::starting_now();
        let app = match App::build_with_clock(config, Arc::new(clock.clone())).await {
            Ok(app) => app,
            Err(error) => panic!("test server failed to start: {error}"),
        };
        let address = app.address();
        let service = app.service();
        let (sender, receiver) = oneshot::channel();
        let handle = tokio::spawn(app.run_until_stopped(async move {
            let _ = receiver.await;
        }));
        TestServer {
            base_url: format!("http://{address}"),
            address,
            clock,
            service,
            database_url,
            directory,
            shutdown: Some(sender),
            handle: Some(handle),
        }
    }

    pub fn store(&self) -> &Store {
        &self.service.store
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Registers a client. `grants` empty means the defaults.
    pub async fn client(&self, name: &str, grants: &[&str], scope: &str, public: bool) -> TestClient {
        let new = NewClient {
            name: name.into(),
            redirect_uris: vec!["http://127.0.0.1/callback".into()],
            grant_types: grants.iter().map(|grant| (*grant).to_owned()).collect(),
            scope: scope.into(),
            public,
        };
        match create_client(self.store(), self.clock.now(), new).await {
            Ok((client, secret)) => TestClient {
                client_id: client.client_id,
                client_secret: secret.map(|secret| secret.secret().to_owned()),
            },
            Err(error) => panic!("cannot create test client: {error}"),
        }
    }

    pub async fn user(&self, username: &str, password: &str) -> String {
        match create_user(
            self.store(),
            self.clock.now(),
            username,
            Some(format!("{username}@example.test")),
            false,
            Password::new(password.into()),
        )
        .await
        {
            Ok(user) => user.user_id,
            Err(error) => panic!("cannot create test user: {error}"),
        }
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) {
        if let Some(sender) = self.shutdown.take() {
            let _ = sender.send(());
        }
        if let Some(handle) = self.handle.take() {
            let _ = handle.await;
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(sender) = self.shutdown.take() {
            let _ = sender.send(());
        }
        let _ = std::fs::remove_dir_all(&self.directory);
    }
}
