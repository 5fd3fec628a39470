//! Shared fixtures: temporary directories, logged-in token sources, and stores that fail on
//! purpose.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tessera_client::{
    ClientSecret, ClientSettings, CredentialStore, FileStore, ManualClock, Profile, ResourceOwnerPassword, StoreError,
    StoreLock, TokenSource,
};

use crate::fake_server::{self, FakeServer};

/// A fresh directory under the target's temporary directory (`tempfile`), removed on drop,
/// with the profile store the tests keep in it.
pub struct TempDir(tempfile::TempDir);

impl TempDir {
    pub fn new(name: &str) -> Self {
        let prefix = format!("tessera-client-it-{name}-");
        Self(tempfile::Builder::new().prefix(&prefix).tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap())
    }

    pub fn path(&self) -> &Path {
        self.0.path()
    }

    pub fn store(&self) -> FileStore {
        FileStore::in_dir(self.path().join("tessera"), "default").unwrap()
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

/// An HTTP client like [`tessera_client::http_client`] but without connection reuse, so that
/// every request goes through a new connection of a [`LossyProxy`].
pub fn unpooled_http_client() -> tessera_client::reqwest::Client {
    tessera_client::reqwest::Client::builder()
        .redirect(tessera_client::reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

/// A TCP proxy in front of a server that relays every request, except that for the first
/// `drops` refresh-grant requests it closes the client's connection once the server has started
/// to answer: the server processed the refresh (and rotated the token), the client never learns
/// the answer. One request per connection (see [`unpooled_http_client`]).
pub struct LossyProxy {
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    remaining: Arc<AtomicUsize>,
    /// Refresh requests whose answer was dropped.
    pub dropped: Arc<AtomicUsize>,
}

impl LossyProxy {
    pub async fn start(upstream: &str, drops: usize) -> LossyProxy {
        let upstream = upstream.trim_start_matches("http://").trim_end_matches('/').to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = LossyProxy {
            base_url: format!("http://{}", listener.local_addr().unwrap()),
            remaining: Arc::new(AtomicUsize::new(drops)),
            dropped: Arc::new(AtomicUsize::new(0)),
        };
        let (remaining, dropped) = (Arc::clone(&proxy.remaining), Arc::clone(&proxy.dropped));
        tokio::spawn(async move {
            loop {
                let (client, _) = listener.accept().await.unwrap();
                let upstream = upstream.clone();
                let (remaining, dropped) = (Arc::clone(&remaining), Arc::clone(&dropped));
                tokio::spawn(relay(client, upstream, remaining, dropped));
            }
        });
        proxy
    }

    pub fn dropped(&self) -> usize {
        self.dropped.load(Ordering::SeqCst)
    }
}

async fn relay(
    mut client: tokio::net::TcpStream,
    upstream: String,
    remaining: Arc<AtomicUsize>,
    dropped: Arc<AtomicUsize>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Some(request) = read_request(&mut client).await else { return };
    let mut server = tokio::net::TcpStream::connect(upstream.as_str()).await.unwrap();
    server.write_all(&request).await.unwrap();
    let is_refresh = request.windows(24).any(|window| window == b"grant_type=refresh_token");
    if is_refresh && remaining.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
        // Wait until the server answers (it has processed the refresh), then lose the answer.
        let mut first = [0u8; 1];
        let _ = server.read(&mut first).await;
        dropped.fetch_add(1, Ordering::SeqCst);
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
}

/// One request: its head and a `Content-Length` body.
async fn read_request(stream: &mut tokio::net::TcpStream) -> Option<Vec<u8>> {
    use tokio::io::AsyncReadExt;
    let mut request = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = request.windows(4).position(|window| window == b"\r\n\r\n") {
            break at + 4;
        }
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        request.extend_from_slice(&chunk[..read]);
    };
    let head = String::from_utf8_lossy(&request[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .map_or(0, |value| value.trim().parse().unwrap());
    while request.len() < head_end + length {
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        request.extend_from_slice(&chunk[..read]);
    }
    Some(request)
}
