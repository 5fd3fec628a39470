//! Test support (feature `testing`): start the real server in-process on port 0 with a fresh
//! database and a clock the test controls. Used by the integration tests of every crate.
#![allow(clippy::panic)] // test support: a broken fixture should stop the test loudly

use crate::App;
use crate::admin::{NewClient, create_client, create_user};
use crate::clock::{Clock, ManualClock};
use crate::config::RawConfig;
use crate::service::AuthService;
use crate::store::{Backend, Store};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use tessera_core::Password;
use tokio::sync::oneshot;

#[path = "testing/webdriver.rs"]
pub mod webdriver;

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
    /// Kept so the database outlives the server; shared by servers started on it.
    pub database: Arc<TestDatabase>,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

/// A fresh scratch directory under the system temp dir, removed when the server is dropped.
pub fn scratch_directory() -> PathBuf {
    let directory = std::env::temp_dir().join(format!("tessera-test-{}", uuid::Uuid::new_v4().simple()));
    let _ = std::fs::create_dir_all(&directory);
    directory
}

/// The master key every PostgreSQL test server shares, as instances of one deployment do.
pub const TEST_MASTER_KEY: &str = "tessera test master key, not a secret";

/// The PostgreSQL server of the PostgreSQL half of the suite, if `TESSERA_TEST_POSTGRES_URL` is set.
pub fn postgres_url() -> Option<String> {
    std::env::var("TESSERA_TEST_POSTGRES_URL").ok().filter(|url| !url.trim().is_empty())
}

/// Says, where `cargo test` shows it even for a passing test, that a PostgreSQL test did not
/// run. (libtest captures `eprintln!`, not direct writes to the stderr handle.)
pub fn report_skipped(test: &str) {
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test} on PostgreSQL: set TESSERA_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test to run it"
    );
}

/// A fresh database for one test: an SQLite file in a scratch directory, or a new PostgreSQL
/// database (`CREATE DATABASE tessera_t_…`) dropped again when the last user lets go.
pub struct TestDatabase {
    pub backend: Backend,
    pub url: String,
    pub directory: PathBuf,
    /// (server URL, database name) to drop on drop.
    postgres: Option<(String, String)>,
}

impl TestDatabase {
    pub fn sqlite() -> Arc<TestDatabase> {
        let directory = scratch_directory();
        let url = format!("sqlite://{}", directory.join("tessera.db").display());
        Arc::new(TestDatabase { backend: Backend::Sqlite, url, directory, postgres: None })
    }

    /// `None` when `TESSERA_TEST_POSTGRES_URL` is unset.
    pub async fn postgres() -> Option<Arc<TestDatabase>> {
        use sqlx::Connection;
        let server_url = postgres_url()?;
        let name = format!("tessera_t_{}", uuid::Uuid::new_v4().simple());
        let mut connection = match sqlx::PgConnection::connect(&server_url).await {
            Ok(connection) => connection,
            Err(error) => panic!("cannot reach TESSERA_TEST_POSTGRES_URL: {error}"),
        };
        if let Err(error) = sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut connection).await {
            panic!("cannot create test database {name}: {error}");
        }
        let _ = connection.close().await;
        let (base, query) = match server_url.split_once('?') {
            Some((base, query)) => (base, format!("?{query}")),
            None => (server_url.as_str(), String::new()),
        };
        let prefix = match base.rfind('/') {
            Some(slash) if slash > base.find("://").map_or(0, |i| i + 2) => &base[..slash],
            _ => base,
        };
        let url = format!("{prefix}/{name}{query}");
        Some(Arc::new(TestDatabase {
            backend: Backend::Postgres,
            url,
            directory: scratch_directory(),
            postgres: Some((server_url, name)),
        }))
    }

    /// `None` (after reporting the skip) when PostgreSQL is asked for but not configured.
    pub async fn on(backend: Backend, test: &str) -> Option<Arc<TestDatabase>> {
        match backend {
            Backend::Sqlite => Some(Self::sqlite()),
            Backend::Postgres => {
                let database = Self::postgres().await;
                if database.is_none() {
                    report_skipped(test);
                }
                database
            }
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.directory);
        let Some((server_url, name)) = self.postgres.take() else { return };
        // Drop runs inside the test's runtime, which cannot block on itself: use a thread
        // with its own small runtime. FORCE ends the stopped server's lingering connections.
        let dropper = std::thread::spawn(move || {
            use sqlx::Connection;
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            runtime.block_on(async {
                if let Ok(mut connection) = sqlx::PgConnection::connect(&server_url).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut connection)
                        .await;
                    let _ = connection.close().await;
                }
            });
        });
        let _ = dropper.join();
    }
}

impl TestServer {
    /// Starts a server on `127.0.0.1:0` with a fresh SQLite database (unless `overrides`
    /// names another `database_url`) and a manual clock starting at the real time.
    pub async fn start(overrides: RawConfig) -> TestServer {
        Self::start_on(TestDatabase::sqlite(), overrides).await
    }

    /// Starts a server on `database`, which other servers may share (scale-out tests).
    pub async fn start_on(database: Arc<TestDatabase>, overrides: RawConfig) -> TestServer {
        let directory = database.directory.clone();
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
            shutdown: Some(sender),
            handle: Some(handle),
        }
    }

    pub fn store(&self) -> &Store {
        self.service.store()
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
                client_id: client.client_id.into_string(),
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
