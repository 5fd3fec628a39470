//! Tessera's server: the only crate that knows axum and sqlx. [`App::build`] binds the
//! listener, opens and migrates the store and loads the keys; [`App::run_until_stopped`]
//! serves until told to stop, so tests start the real server on port 0.

pub mod admin;
pub mod clock;
pub mod config;
pub mod http;
pub mod janitor;
pub mod keys;
pub mod master;
pub mod metrics;
pub mod passwords;
pub mod random;
pub mod serve;
pub mod service;
pub mod store;

use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::janitor::Janitor;
use crate::keys::{KeyError, KeyManager};
use crate::service::AuthService;
use crate::store::{Store, StoreError, StoreOptions};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::watch;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {address}: {source}")]
    Bind { address: SocketAddr, source: std::io::Error },
    #[error("cannot open the database: {0}")]
    Store(StoreError),
    #[error(transparent)]
    MasterKey(#[from] master::MasterKeySourceError),
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error("cannot open the access log {target:?}: {source}")]
    AccessLog { target: config::AccessLogTarget, source: std::io::Error },
    #[error("cannot compute the dummy password hash that makes unknown usernames as slow to check as known ones: {0}")]
    DummyPasswordHash(passwords::PasswordError),
}

impl From<StoreError> for StartError {
    fn from(error: StoreError) -> Self {
        StartError::Store(error)
    }
}

pub struct App {
    listener: tokio::net::TcpListener,
    address: SocketAddr,
    service: Arc<AuthService>,
    access_log: Option<(http::AccessLog, http::AccessLogWriter)>,
}

impl App {
    pub async fn build(config: Config) -> Result<App, StartError> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    pub async fn build_with_clock(config: Config, clock: Arc<dyn Clock>) -> Result<App, StartError> {
        // Both fail loudly here rather than yield a silently weaker server later: a master key
        // whose purpose keys cannot be derived, and an unknown-username check that is faster.
        let master_key = master::resolve(config.master_key.as_ref(), &config.database_url)?;
        passwords::prepare_dummy_hash().map_err(StartError::DummyPasswordHash)?;
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| StartError::Bind { address: config.listen, source })?;
        let address = listener.local_addr().map_err(|source| StartError::Bind { address: config.listen, source })?;
        let options = StoreOptions { max_connections: config.max_connections.get(), ..StoreOptions::default() };
        let store = Store::connect(config.database_url.expose_secret(), &options).await?;
        store.migrate().await?;
        let issuer = config.issuer.clone().unwrap_or_else(|| format!("http://{address}"));
        let keys = Arc::new(
            KeyManager::load(store.clone(), &master_key, config.signing_alg, issuer.clone(), clock.now()).await?,
        );
        let access_log_target = config.access_log.clone();
        let service = Arc::new(AuthService::new(store, keys, clock, config, issuer, &master_key));
        let access_log = http::AccessLog::open(&access_log_target, Arc::clone(service.metrics()))
            .map_err(|source| StartError::AccessLog { target: access_log_target, source })?;
        Ok(App { listener, address, service, access_log })
    }

    /// The bound address (the real port when the configuration asked for port 0).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn issuer(&self) -> &str {
        self.service.issuer()
    }

    pub fn service(&self) -> Arc<AuthService> {
        Arc::clone(&self.service)
    }

    /// The store: the binary names its backend at start-up, tests inspect it. Handlers reach
    /// it only through the service's use cases.
    pub fn store(&self) -> &Store {
        self.service.store()
    }

    pub fn janitor(&self) -> Janitor {
        let config = self.service.config();
        Janitor::new(
            self.service.store().clone(),
            self.service.clock(),
            config.access_token_ttl,
            config.janitor_batch,
            config.janitor_interval,
        )
        .with_metrics(Arc::clone(self.service.metrics()))
        .with_audit_retention(config.audit_retention)
    }

    /// Serves until `shutdown` completes, then stops background work, drains requests (for at
    /// most the shutdown timeout), and writes out the access log.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let (stop_sender, stop) = watch::channel(false);
        let janitor = tokio::spawn(self.janitor().run_until_stopped(stop.clone()));
        let key_refresher = tokio::spawn(refresh_keys_until_stopped(Arc::clone(&self.service), stop));
        let (access_log, access_log_writer) = self.access_log.unzip();
        let router = http::router(Arc::clone(&self.service), access_log);
        let config = self.service.config();
        let limits = serve::ConnectionLimits {
            header_read_timeout: config.header_read_timeout,
            shutdown_timeout: config.shutdown_timeout,
        };
        let served = serve::serve(self.listener, router, limits, shutdown).await;
        let _ = stop_sender.send(true);
        if let Some(writer) = access_log_writer {
            let _ = tokio::task::spawn_blocking(move || writer.finish()).await;
        }
        let _ = janitor.await;
        let _ = key_refresher.await;
        self.service.store().close().await;
        served
    }
}

/// Re-reads signing keys periodically so a rotation made by the CLI or another instance is
/// picked up without restart, within `key_refresh_interval`.
async fn refresh_keys_until_stopped(service: Arc<AuthService>, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(service.config().key_refresh_interval) => {}
            _ = stop.wait_for(|stopped| *stopped) => return,
        }
        if let Err(error) = service.reload_keys().await {
            tracing::warn!(%error, "could not reload signing keys; keeping the current ones");
        }
    }
}
