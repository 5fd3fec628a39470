//! Shared fixtures: temporary directories, logged-in token sources, and stores that fail on
//! purpose.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use tessera_client::{
    ClientSecret, ClientSettings, CredentialStore, FileStore, ManualClock, Profile, ResourceOwnerPassword, StoreError,
    StoreLock, TokenSource,
};

use crate::fake_server::{self, FakeServer};

/// A fresh directory under the target's temporary directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> Self {
        static UNIQUE: AtomicU64 = AtomicU64::new(0);
        let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "tessera-client-it-{name}-{}-{}",
            std::process::id(),
            UNIQUE.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        Self(path)
    }

    pub fn store(&self) -> FileStore {
        FileStore::in_dir(self.0.join("tessera"), "default").unwrap()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A token source over `store` whose clock starts now and only moves when the test says so.
pub fn source(store: Arc<dyn CredentialStore>, clock: &Arc<ManualClock>) -> TokenSource {
    TokenSource::new(store).unwrap().with_clock(Arc::clone(clock) as Arc<dyn tessera_client::Clock>)
}

pub fn settings(server: &FakeServer) -> ClientSettings {
    let mut settings = ClientSettings::new(
        server.token_endpoint(),
        fake_server::CLIENT_ID,
        Some(ClientSecret::new(fake_server::CLIENT_SECRET.into())),
    );
    settings.issuer = Some(server.issuer.clone());
    settings.revocation_endpoint = Some(format!("{}/oauth/revoke", server.issuer));
    settings
}

pub async fn login(source: &TokenSource, server: &FakeServer) {
    source
        .login_with_password(
            settings(server),
            fake_server::USERNAME,
            &ResourceOwnerPassword::new(fake_server::PASSWORD.into()),
        )
        .await
        .unwrap();
}

pub fn stored_refresh_token(store: &dyn CredentialStore) -> String {
    store.load().unwrap().unwrap().tokens.refresh_token.unwrap().secret().clone()
}

/// A store whose `save` fails once armed: the process "crashes" after the refresh response
/// arrived and before the rotated refresh token reached the disk.
pub struct CrashBeforeWrite<S> {
    pub inner: S,
    pub armed: AtomicBool,
    pub failed_saves: AtomicUsize,
}

impl<S> CrashBeforeWrite<S> {
    pub fn new(inner: S) -> Self {
        Self { inner, armed: AtomicBool::new(false), failed_saves: AtomicUsize::new(0) }
    }
}

impl<S: CredentialStore> CredentialStore for CrashBeforeWrite<S> {
    fn lock(&self) -> Result<StoreLock, StoreError> {
        self.inner.lock()
    }
    fn load(&self) -> Result<Option<Profile>, StoreError> {
        self.inner.load()
    }
    fn save(&self, profile: &Profile) -> Result<(), StoreError> {
        if self.armed.load(Ordering::SeqCst) {
            self.failed_saves.fetch_add(1, Ordering::SeqCst);
            return Err(StoreError::Other("injected crash before the write".into()));
        }
        self.inner.save(profile)
    }
    fn delete(&self) -> Result<(), StoreError> {
        self.inner.delete()
    }
}

/// A store that returns a stale copy of the profile for the first `stale_loads` reads, as if
/// another writer (one that does not take this store's lock) had rotated the token meanwhile.
pub struct StaleReads<S> {
    pub inner: S,
    pub stale: Profile,
    pub stale_loads: AtomicUsize,
}

impl<S: CredentialStore> CredentialStore for StaleReads<S> {
    fn lock(&self) -> Result<StoreLock, StoreError> {
        self.inner.lock()
    }
    fn load(&self) -> Result<Option<Profile>, StoreError> {
        let remaining = self.stale_loads.load(Ordering::SeqCst);
        if remaining > 0 {
            self.stale_loads.store(remaining - 1, Ordering::SeqCst);
            return Ok(Some(self.stale.clone()));
        }
        self.inner.load()
    }
    fn save(&self, profile: &Profile) -> Result<(), StoreError> {
        self.inner.save(profile)
    }
    fn delete(&self) -> Result<(), StoreError> {
        self.inner.delete()
    }
}
