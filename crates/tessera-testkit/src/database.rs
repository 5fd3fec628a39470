//! A fresh database per test: an SQLite file in a scratch directory, or a new PostgreSQL database
//! on the server that `TESSERA_TEST_POSTGRES_URL` names, dropped again when the last user lets go.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use tessera_server::store::Backend;

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

/// A fresh scratch directory under the system temp dir, removed on drop.
fn scratch_directory() -> tempfile::TempDir {
    match tempfile::Builder::new().prefix("tessera-test-").tempdir() {
        Ok(directory) => directory,
        Err(error) => panic!("cannot create a scratch directory: {error}"),
    }
}

/// A fresh database for one test: an SQLite file in a scratch directory, or a new PostgreSQL
/// database (`CREATE DATABASE tessera_t_…`) dropped again when the last user lets go.
pub struct TestDatabase {
    pub backend: Backend,
    pub url: String,
    /// The scratch directory of the test (the SQLite file, files a test writes), removed on drop.
    directory: tempfile::TempDir,
    /// (server URL, database name) to drop on drop.
    postgres: Option<(String, String)>,
}

impl TestDatabase {
    pub fn sqlite() -> Arc<TestDatabase> {
        let directory = scratch_directory();
        let url = format!("sqlite://{}", directory.path().join("tessera.db").display());
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

    /// The test's scratch directory, removed when the database is dropped.
    pub fn directory(&self) -> &Path {
        self.directory.path()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
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
