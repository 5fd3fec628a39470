//! The token source: hands out a valid access token, refreshing it proactively, once per process
//! (a tokio mutex) and once across processes (the store's exclusive lock), and persisting the
//! rotated refresh token before the new access token is used.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use oauth2::{AccessToken, RefreshToken};
use tokio::sync::Mutex;

use crate::clock::{Clock, SystemClock, unix_seconds};
use crate::dpop::DpopKey;
use crate::dpop::transport::Nonces;
use crate::error::{ClientError, StoreError};
use crate::id_token::jwks::JwksCache;
use crate::oauth::{self, GrantResponse};
use crate::profile::{ClientSettings, Profile, TokenResponse, TokenSet, TokenType};
use crate::store::{CredentialStore, FileStore, StoreLock};

mod dpop;
mod login;
mod logout;
mod oidc;
pub use logout::{LogoutMode, LogoutOutcome, NotRevokedReason};

/// How long one refresh request may take before it counts as lost: well inside the server's
/// grace window (Tessera's default is 30 s), within which the same refresh token presented again
/// returns the same successor.
pub const REFRESH_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Every attempt of one refresh ends within this time from the first attempt's start, so a retry
/// reaches the server while a rotation the first attempt may have caused is still inside the
/// grace window (30 s by default).
pub const REFRESH_BUDGET: Duration = Duration::from_secs(20);
/// The pauses before the second and the third (last) attempt of a refresh whose answer was lost.
const REFRESH_BACKOFF: [Duration; 2] = [Duration::from_millis(250), Duration::from_secs(1)];
/// A retry is not started when less than this remains of [`REFRESH_BUDGET`].
const MIN_ATTEMPT_TIME: Duration = Duration::from_secs(1);

/// The HTTP client this crate uses when none is given: no redirects (oauth2 requires it, and a
/// bearer token must not follow a redirect to another host), bounded timeouts so a hung server
/// cannot hold the store's lock forever. (A refresh attempt is further limited to
/// [`REFRESH_ATTEMPT_TIMEOUT`], whatever the client.)
pub fn http_client() -> Result<reqwest::Client, ClientError> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .user_agent(concat!("tessera-client/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|error| ClientError::Config(format!("cannot build the HTTP client: {error}")))
}

/// What a caller needs from the store.
enum Wanted<'a> {
    /// Any access token that is not due for a refresh.
    Fresh,
    /// A fresh access token other than this one, which the resource server rejected.
    Replacing(&'a AccessToken),
}

/// An access token and the scheme it is presented with.
#[derive(Debug, Clone)]
pub(crate) struct Presentable {
    pub access_token: AccessToken,
    pub token_type: TokenType,
}

impl Presentable {
    fn of(tokens: &TokenSet) -> Self {
        Self { access_token: tokens.access_token.clone(), token_type: tokens.token_type }
    }
}

/// Keeps an access token valid: [`access_token`](Self::access_token) returns the stored token
/// while more than `min(60 s, 10 % of its lifetime)` remains, and refreshes it otherwise.
///
/// - **Single-flight in the process**: clones share one cache and one mutex, so any number of
///   concurrent callers cause one refresh; the others wait for it and get its result.
/// - **Single-flight across processes**: the refresh happens under the store's exclusive lock,
///   after re-reading the store; a process that waited for the lock finds the token another
///   process just stored and uses it instead of presenting a spent refresh token.
/// - **Persistence before use**: the rotated refresh token is saved before the new access token
///   is returned. If saving fails, the call fails and the old refresh token stays stored; the
///   server's grace window hands out the same successor when it is presented again.
/// - **A lost answer is asked again**: when a refresh gets no usable answer (transport error,
///   timeout, 5xx, garbled body), the same refresh token is presented again, at most three times
///   within [`REFRESH_BUDGET`], since the server may already have rotated it and its grace window
///   returns the same successor; keeping the old token would later count as reuse and revoke the
///   family.
/// - **`invalid_grant`**: the store is re-read once (another process may have rotated the token
///   without this one's lock, e.g. a copy of the profile); only if it holds the same dead token
///   does the call fail with [`ClientError::LoginRequired`].
/// - **DPoP** (RFC 9449): when the profile's [`ClientSettings::dpop`] is set, every token request
///   carries a fresh proof by the profile's key (the same key in every process, so a refresh
///   proves the key its refresh token is bound to), and a `use_dpop_nonce` refusal is answered
///   by one more request with the server's nonce.
#[derive(Clone)]
pub struct TokenSource {
    store: Arc<dyn CredentialStore>,
    clock: Arc<dyn Clock>,
    http: reqwest::Client,
    cached: Arc<Mutex<Option<Profile>>>,
    jwks: JwksCache,
    /// The profile's DPoP key once read from the store (it never changes until logout).
    dpop_key: Arc<std::sync::Mutex<Option<DpopKey>>>,
    /// The DPoP nonces servers gave, by origin (the token endpoint's and the resources').
    pub(crate) nonces: Arc<Nonces>,
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSource").finish_non_exhaustive()
    }
}

impl TokenSource {
    /// A token source over `store`, with the system clock and [`http_client`].
    pub fn new(store: Arc<dyn CredentialStore>) -> Result<Self, ClientError> {
        Ok(Self {
            store,
            clock: Arc::new(SystemClock),
            http: http_client()?,
            cached: Arc::new(Mutex::new(None)),
            jwks: JwksCache::default(),
            dpop_key: Arc::default(),
            nonces: Arc::default(),
        })
    }

    /// A token source over the profile `profile` of the default [`FileStore`].
    pub fn for_profile(profile: &str) -> Result<Self, ClientError> {
        Self::new(Arc::new(FileStore::open(profile)?))
    }

    /// Uses `clock` for every freshness decision (tests use a
    /// [`ManualClock`](crate::ManualClock)).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Uses `http` for the token endpoint and the [`ApiClient`](crate::ApiClient). It must not
    /// follow redirects.
    pub fn with_http_client(mut self, http: reqwest::Client) -> Self {
        self.http = http;
        self
    }

    /// The HTTP client in use.
    pub fn http_client(&self) -> &reqwest::Client {
        &self.http
    }

    /// The clock of every freshness decision, in Unix seconds.
    pub(crate) fn unix_now(&self) -> u64 {
        unix_seconds(self.clock.now())
    }

    /// A valid access token, refreshed first if less than `min(60 s, 10 % of its lifetime)`
    /// remains. A DPoP-bound one ([`TokenSet::token_type`]) must be sent with a proof: the
    /// [`ApiClient`](crate::ApiClient) does that.
    pub async fn access_token(&self) -> Result<AccessToken, ClientError> {
        Ok(self.presentable().await?.access_token)
    }

    /// [`access_token`](Self::access_token), with the scheme to present it with.
    pub(crate) async fn presentable(&self) -> Result<Presentable, ClientError> {
        let mut cached = self.cached.lock().await;
        if cached.is_none() {
            // No lock needed to read: the store replaces the file atomically.
            *cached = self.on_store(|store| store.load()).await?;
        }
        match cached.as_ref() {
            None => return Err(ClientError::NotLoggedIn),
            Some(profile) if !profile.tokens.needs_refresh(self.clock.now()) => {
                return Ok(Presentable::of(&profile.tokens));
            }
            Some(_) => {}
        }
        self.renew(&mut cached, Wanted::Fresh).await
    }

    /// A valid access token other than `rejected`, which a resource server refused with
    /// `invalid_token` (RFC 6750 §3.1). When another caller has already replaced it, that
    /// replacement is returned without a new refresh.
    pub async fn refresh_after_rejection(&self, rejected: &AccessToken) -> Result<AccessToken, ClientError> {
        Ok(self.replacement(rejected).await?.access_token)
    }

    /// [`refresh_after_rejection`](Self::refresh_after_rejection), with the scheme.
    pub(crate) async fn replacement(&self, rejected: &AccessToken) -> Result<Presentable, ClientError> {
        let mut cached = self.cached.lock().await;
        if let Some(profile) = cached.as_ref() {
            let tokens = &profile.tokens;
            if tokens.access_token.secret() != rejected.secret() && !tokens.needs_refresh(self.clock.now()) {
                return Ok(Presentable::of(tokens));
            }
        }
        self.renew(&mut cached, Wanted::Replacing(rejected)).await
    }

    /// Refreshes now, whatever the stored token's expiry, and returns the server's response
    /// (after the new tokens are stored).
    pub async fn force_refresh(&self) -> Result<TokenResponse, ClientError> {
        let mut cached = self.cached.lock().await;
        let (lock, stored) = self.lock_and_load(&mut cached).await?;
        let (_, response) = self.refresh_and_save(lock, stored, &mut cached).await?;
        Ok(response)
    }

    /// The stored profile (settings and current tokens).
    pub async fn profile(&self) -> Result<Profile, ClientError> {
        let mut cached = self.cached.lock().await;
        if cached.is_none() {
            *cached = self.on_store(|store| store.load()).await?;
        }
        cached.clone().ok_or(ClientError::NotLoggedIn)
    }

    /// Under the store's lock: re-reads the store, uses what it holds if that satisfies
    /// `wanted`, else refreshes and saves.
    async fn renew(&self, cached: &mut Option<Profile>, wanted: Wanted<'_>) -> Result<Presentable, ClientError> {
        let (lock, stored) = self.lock_and_load(cached).await?;
        let now = self.clock.now();
        let stored_is_enough = !stored.tokens.needs_refresh(now)
            && match wanted {
                Wanted::Fresh => true,
                Wanted::Replacing(rejected) => stored.tokens.access_token.secret() != rejected.secret(),
            };
        if stored_is_enough {
            tracing::debug!("using the access token another process stored");
            let presentable = Presentable::of(&stored.tokens);
            *cached = Some(stored);
            return Ok(presentable);
        }
        let (presentable, _) = self.refresh_and_save(lock, stored, cached).await?;
        Ok(presentable)
    }

    /// Takes the store's lock and reads the profile under it.
    async fn lock_and_load(&self, cached: &mut Option<Profile>) -> Result<(StoreLock, Profile), ClientError> {
        let lock = self.on_store(|store| store.lock()).await?;
        match self.on_store(|store| store.load()).await? {
            Some(stored) => Ok((lock, stored)),
            None => {
                *cached = None;
                Err(ClientError::NotLoggedIn)
            }
        }
    }

    /// Refreshes, saves, and only then updates the cache and releases the lock.
    async fn refresh_and_save(
        &self,
        lock: StoreLock,
        stored: Profile,
        cached: &mut Option<Profile>,
    ) -> Result<(Presentable, TokenResponse), ClientError> {
        let (profile, response) = self.refresh(stored).await?;
        // Persistence before use: if this fails, nobody sees the new tokens, and the stored
        // refresh token is still the one the server's grace window recognizes.
        self.save(&profile).await?;
        drop(lock);
        let presentable = Presentable::of(&profile.tokens);
        *cached = Some(profile);
        Ok((presentable, response))
    }

    /// Presents the stored refresh token; on `invalid_grant`, re-reads the store once and
    /// retries if it now holds a different refresh token.
    async fn refresh(&self, stored: Profile) -> Result<(Profile, TokenResponse), ClientError> {
        let presented = stored.tokens.refresh_token.clone().ok_or(ClientError::LoginRequired { cause: None })?;
        let cause = match self.refresh_with(stored).await {
            Err(ClientError::OAuth(error)) if error.error == "invalid_grant" => error,
            other => return other,
        };
        let reread = self.on_store(|store| store.load()).await?;
        match reread {
            Some(reread) if different(reread.tokens.refresh_token.as_ref(), &presented) => {
                tracing::debug!("the stored refresh token changed meanwhile; retrying with it");
                match self.refresh_with(reread).await {
                    Err(ClientError::OAuth(error)) if error.error == "invalid_grant" => {
                        Err(ClientError::LoginRequired { cause: Some(error) })
                    }
                    other => other,
                }
            }
            _ => Err(ClientError::LoginRequired { cause: Some(cause) }),
        }
    }

    async fn refresh_with(&self, stored: Profile) -> Result<(Profile, TokenResponse), ClientError> {
        let refresh_token = stored.tokens.refresh_token.clone().ok_or(ClientError::LoginRequired { cause: None })?;
        tracing::debug!(token_endpoint = %stored.client.token_endpoint, "refreshing the access token");
        let requested_at = unix_seconds(self.clock.now());
        let response = self.refresh_grant_with_retries(&stored.client, &refresh_token).await?;
        self.check_id_token(&stored.client, &response, None, stored.tokens.id_token.as_ref()).await?;
        let tokens = oauth::token_set(&response, requested_at, Some(&stored.tokens));
        Ok((Profile { client: stored.client, tokens }, oauth::token_response(&response)))
    }

    /// The refresh grant, presented again (the same refresh token) when its answer was lost: a
    /// transport error or a timeout, a server error (5xx, `server_error`,
    /// `temporarily_unavailable`) or a garbled response. The first request may have reached the
    /// server and rotated the token; within the grace window the server hands out the same
    /// successor again, whereas keeping the old token would later present a spent token outside
    /// the window, which revokes the whole family. A well-formed OAuth refusal (`invalid_grant`,
    /// `invalid_client`, …) is final and returned at once.
    ///
    /// At most three attempts, each at most [`REFRESH_ATTEMPT_TIMEOUT`], all within
    /// [`REFRESH_BUDGET`].
    async fn refresh_grant_with_retries(
        &self,
        settings: &ClientSettings,
        refresh_token: &RefreshToken,
    ) -> Result<GrantResponse, ClientError> {
        let deadline = tokio::time::Instant::now() + REFRESH_BUDGET;
        let mut pauses = REFRESH_BACKOFF.iter();
        // The same key as at login: a public client's refresh token is bound to it.
        let transport = self.transport(settings).await?;
        loop {
            let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
            let limit = remaining.min(REFRESH_ATTEMPT_TIMEOUT);
            let attempt = tokio::time::timeout(limit, oauth::refresh_grant(&transport, settings, refresh_token))
                .await
                .unwrap_or_else(|_| {
                    Err(ClientError::Transport {
                        url: settings.token_endpoint.clone(),
                        source: Box::new(std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            format!("no answer within {} ms", limit.as_millis()),
                        )),
                    })
                });
            let error = match attempt {
                Err(error) if answer_was_lost(&error) => error,
                other => return other,
            };
            let Some(&pause) = pauses.next() else { return Err(error) };
            if deadline.saturating_duration_since(tokio::time::Instant::now()) < pause + MIN_ATTEMPT_TIME {
                return Err(error);
            }
            tracing::warn!(
                token_endpoint = %settings.token_endpoint,
                error = %error,
                "the refresh got no usable answer; presenting the same refresh token again"
            );
            tokio::time::sleep(pause).await;
        }
    }

    async fn save(&self, profile: &Profile) -> Result<(), ClientError> {
        let profile = profile.clone();
        self.on_store(move |store| store.save(&profile)).await
    }

    /// Runs a (blocking) store operation on tokio's blocking pool: taking the lock may wait for
    /// another process's whole refresh.
    async fn on_store<T, F>(&self, operation: F) -> Result<T, ClientError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn CredentialStore) -> Result<T, StoreError> + Send + 'static,
    {
        let store = Arc::clone(&self.store);
        tokio::task::spawn_blocking(move || operation(store.as_ref()))
            .await
            .map_err(|error| StoreError::Other(format!("the credential store task failed: {error}")))?
            .map_err(ClientError::from)
    }
}

/// Whether a failed refresh may have rotated the token at the server without this client
/// learning the successor, so presenting the same token again is the way to get it.
fn answer_was_lost(error: &ClientError) -> bool {
    match error {
        ClientError::Transport { .. } | ClientError::Protocol { .. } => true,
        ClientError::OAuth(error) => matches!(error.error.as_str(), "server_error" | "temporarily_unavailable"),
        _ => false,
    }
}

fn different(stored: Option<&RefreshToken>, presented: &RefreshToken) -> bool {
    stored.is_some_and(|stored| stored.secret() != presented.secret())
}
