//! The real server in-process on `127.0.0.1:0`, with a fresh database and a manual clock the test
//! controls, and the clients and users a test registers on it.

use std::path::PathBuf;
use std::sync::Arc;

use tessera_core::Password;
use tessera_server::App;
use tessera_server::admin::{NewClient, create_client, create_user};
use tessera_server::clock::{Clock, ManualClock};
use tessera_server::config::RawConfig;
use tessera_server::janitor::Janitor;
use tessera_server::service::AuthService;
use tessera_server::store::{Backend, Store};
use tokio::sync::oneshot;

use crate::database::{TEST_MASTER_KEY, TestDatabase};

/// A registered client, with its secret in clear because the test created it.
#[derive(Debug, Clone)]
pub struct TestClient {
    pub client_id: String,
    pub client_secret: Option<String>,
}

/// A running server. Dropping it tells the server to stop; [`TestServer::stop`] also waits.
pub struct TestServer {
    pub base_url: String,
    pub address: std::net::SocketAddr,
    pub clock: ManualClock,
    pub service: Arc<AuthService>,
    pub database_url: String,
    /// The test's scratch directory (the database's), for files the test writes.
    pub directory: PathBuf,
    /// Kept so the database outlives the server; shared by servers started on it.
    pub database: Arc<TestDatabase>,
    store: Store,
    /// The server's own janitor ([`App::janitor`]), for tests that run a pass on demand.
    janitor: Janitor,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    /// Starts a server on `127.0.0.1:0` with a fresh SQLite database (unless `overrides`
    /// names another `database_url`) and a manual clock starting at the real time.
    pub async fn start(overrides: RawConfig) -> TestServer {
        Self::start_on(TestDatabase::sqlite(), overrides).await
    }

    /// Starts a server on `database`, which other servers may share (scale-out tests).
    pub async fn start_on(database: Arc<TestDatabase>, overrides: RawConfig) -> TestServer {
        let directory = database.directory().to_owned();
        let database_url = overrides.database_url.clone().unwrap_or_else(|| database.url.clone());
        let master_key = match database.backend {
            Backend::Postgres => Some(TEST_MASTER_KEY.to_owned()),
            Backend::Sqlite => None,
        };
        let raw = RawConfig {
            listen: Some("127.0.0.1:0".into()),
            database_url: Some(database_url.clone()),
            master_key,
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
        let store = app.store().clone();
        let janitor = app.janitor();
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
            database,
            store,
            janitor,
            shutdown: Some(sender),
            handle: Some(handle),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The janitor the server runs (same store, clock, batch size and metrics), to run a pass
    /// now rather than wait for its interval.
    pub fn janitor(&self) -> &Janitor {
        &self.janitor
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
            introspection: Default::default(),
            allowed_origins: Vec::new(),
            require_dpop: false,
        };
        match create_client(self.store(), self.clock.now(), new).await {
            Ok((client, secret)) => TestClient {
                client_id: client.client_id.into_string(),
                client_secret: secret.map(|secret| secret.secret().to_owned()),
            },
            Err(error) => panic!("cannot create test client: {error}"),
        }
    }

    pub async fn user(&self, username: &str, password: &str) -> String {
        self.user_with(username, password, false).await
    }

    /// A user with the admin flag (the console's).
    pub async fn admin(&self, username: &str, password: &str) -> String {
        self.user_with(username, password, true).await
    }

    async fn user_with(&self, username: &str, password: &str, is_admin: bool) -> String {
        match create_user(
            self.store(),
            self.clock.now(),
            username,
            Some(format!("{username}@example.test")),
            is_admin,
            Password::new(password.into()),
        )
        .await
        {
            Ok(user) => user.user_id.into_string(),
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
    }
}
