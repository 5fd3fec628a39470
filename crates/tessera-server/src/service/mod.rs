//! The application layer: one method per use case, gluing core's decisions to the store and
//! the keys. It knows nothing of HTTP; handlers call these methods and never the store.
//!
//! One file per use case: [`clients`] (client authentication and what a client may ask for),
//! [`grants`] (the token endpoint and the first tokens of a grant), [`refresh`] (rotation),
//! [`authorization`] (browser sessions and codes), [`bearer`] (access checks at the API),
//! [`revocation`] (RFC 7009 and family revocation), [`introspection`] (RFC 7662) and
//! [`throttle`] (password checks and their limits per username and address); [`error`] holds the errors.
//! The caches that spare requests work live beside their users: [`client_cache`],
//! [`revocation_cache`], [`verified_tokens`].

pub mod account;
mod allowed_origins;
pub mod audit;
pub mod authorization;
mod bearer;
mod client_cache;
mod clients;
mod consent;
mod console;
mod console_directory;
pub mod device;
pub mod dpop;
pub mod dpop_access;
mod error;
mod grants;
mod id_tokens;
mod introspection;
pub mod pages;
mod refresh;
mod revocation;
mod revocation_cache;
mod throttle;
pub mod userinfo;
mod verified_tokens;

pub use bearer::{BearerError, InvalidToken};
pub use error::{InternalError, ServiceError};
pub use grants::Issued;
pub use throttle::{PasswordCheck, describe_wait};

use crate::clock::Clock;
use crate::config::Config;
use crate::keys::{KeyError, KeyManager};
use crate::metrics::Metrics;
use crate::store::{ClientRow, Store, StoreError, UserRow};
use client_cache::ClientCache;
use revocation_cache::RevocationCache;
use std::sync::Arc;
use tessera_core::{ClientId, SuccessorKey, Timestamp, UserId};
use tessera_proto::JwkSet;
use verified_tokens::VerifiedTokens;

pub struct AuthService {
    store: Store,
    keys: Arc<KeyManager>,
    clock: Arc<dyn Clock>,
    config: Config,
    issuer: String,
    successor_key: SuccessorKey,
    csrf_key: ring::hmac::Key,
    /// The HMAC key of DPoP server nonces, derived from the master key: the same everywhere.
    dpop_nonce_key: [u8; 32],
    revocations: RevocationCache,
    clients: ClientCache,
    /// The web origins of browser apps (CORS), see [`allowed_origins`].
    origins: allowed_origins::OriginCache,
    verified_tokens: VerifiedTokens,
    /// Held while an unknown but genuine `kid` makes this instance re-read its keys.
    key_reload: tokio::sync::Mutex<()>,
    metrics: Arc<Metrics>,
    /// Argon2 costs ~19 MiB and tens of milliseconds of CPU per check, and the password grant
    /// and the login page are open to anyone who knows a public client id: at most one check
    /// per CPU runs at a time; at most `max_queued_password_checks` others wait their turn
    /// (past that, `503`) instead of exhausting memory. Each running check reuses one of as
    /// many kept buffers, so memory stays flat after the first.
    password_memory: crate::passwords::PasswordMemory,
}

impl AuthService {
    pub fn new(
        store: Store,
        keys: Arc<KeyManager>,
        clock: Arc<dyn Clock>,
        config: Config,
        issuer: String,
        master_key: &tessera_core::MasterKey,
    ) -> Self {
        let revocations = RevocationCache::new(config.revocation_cache_ttl);
        let clients = ClientCache::new(config.client_cache_ttl);
        let origins = allowed_origins::OriginCache::new(config.client_cache_ttl);
        let queued_password_checks = usize::try_from(config.max_queued_password_checks).unwrap_or(usize::MAX);
        let metrics = Arc::new(Metrics::with_clock(Arc::clone(&clock)));
        AuthService {
            store,
            keys,
            clock,
            config,
            issuer,
            successor_key: master_key.successor_key(),
            csrf_key: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, master_key.browser_csrf_key()),
            dpop_nonce_key: *master_key.dpop_nonce_key(),
            revocations,
            clients,
            origins,
            verified_tokens: VerifiedTokens::new(),
            key_reload: tokio::sync::Mutex::new(()),
            metrics,
            password_memory: crate::passwords::PasswordMemory::new(
                std::thread::available_parallelism().map(std::num::NonZeroUsize::get).unwrap_or(2),
                queued_password_checks,
            ),
        }
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    pub fn clock(&self) -> Arc<dyn Clock> {
        Arc::clone(&self.clock)
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The store, for the server's own background work and for tests. HTTP handlers go
    /// through the use-case methods instead.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The key ring, for the periodic reload and for tests. Handlers use [`AuthService::jwks`].
    pub fn keys(&self) -> &KeyManager {
        &self.keys
    }

    /// The counters; clone the `Arc` to keep them (the janitor, the access log).
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Whether the database answers (`/healthz`).
    pub async fn health(&self) -> Result<(), StoreError> {
        self.store.ping().await
    }

    /// The public keys resource servers need (`/oauth/jwks`): those we verify with. A retired
    /// key may still sign for up to one key-refresh interval on instances that have not
    /// re-read the keys yet, and its tokens live one access-token lifetime after that.
    pub fn jwks(&self) -> JwkSet {
        self.keys.jwks(self.now(), self.key_retention())
    }

    /// The counters in Prometheus text (`/metrics`).
    pub fn render_metrics(&self) -> String {
        self.metrics.store_stats(self.store.writer_stats(), self.store.pool_stats());
        self.metrics.render()
    }

    /// Re-reads the signing keys (another instance or the CLI may have rotated them).
    pub async fn reload_keys(&self) -> Result<(), KeyError> {
        self.keys.reload().await
    }

    pub async fn find_user(&self, user_id: &UserId) -> Result<Option<UserRow>, ServiceError> {
        Ok(self.store.get_user(user_id).await?)
    }

    pub async fn find_client(&self, client_id: &ClientId) -> Result<Option<ClientRow>, ServiceError> {
        Ok(self.client(client_id).await?.map(Arc::unwrap_or_clone))
    }
}
