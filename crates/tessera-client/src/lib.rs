//! A token source that keeps an OAuth 2.0 access token valid: proactive refresh, single-flight in
//! and across processes, crash-safe persistence, and an HTTP helper that retries once on
//! `invalid_token`.
//!
//! The guide ("How to Get a Refresh Token") ends with "store these securely, as you'll need the
//! access token for future API requests and the refresh token for future token refreshes". This
//! crate is that storage and the refresh logic around it:
//!
//! - [`TokenSource::access_token`] returns the stored access token while more than
//!   `min(60 s, 10 % of its lifetime)` of it remains, and refreshes it otherwise.
//! - Concurrent callers in one process share one refresh; processes sharing a [`FileStore`]
//!   serialize refreshes with an exclusive file lock and reuse each other's results, so a server
//!   that rotates refresh tokens with reuse detection never sees a spent token presented twice.
//! - The rotated refresh token is written (temporary file, fsync, rename, fsync of the directory,
//!   mode 0600) before the new access token is handed out.
//! - [`TokenSource::login_with_password`] (RFC 6749 §4.3) or [`TokenSource::login_with_browser`]
//!   (the authorization-code grant with PKCE on a loopback redirect, RFC 7636 and RFC 8252) store
//!   the first tokens.
//! - With [`ClientSettings::dpop`], every token request carries a DPoP proof (RFC 9449) by the
//!   profile's own P-256 key ([`CredentialStore::dpop_key`], a 0600 file beside the tokens), so
//!   the tokens are bound to it; [`ApiClient`] then presents them as `Authorization: DPoP` with a
//!   proof, and both answer a server's `use_dpop_nonce` by asking once more with its nonce.
//! - A dead refresh token ends in [`ClientError::LoginRequired`]; OAuth errors keep the server's
//!   `error` code ([`ClientError::oauth_error`]); secrets print `[redacted]` in `Debug`.
//!
//! # Example
//!
//! The guide's two steps, refresh then call the API, after a one-time login. This example runs
//! as a test against a real Tessera server started in-process (the hidden lines start it and
//! register the application and the user); with your own server, put your issuer URL, client
//! id and secret, username and password in their place.
//!
//! ```
//! use std::sync::Arc;
//! use tessera_client::{
//!     ApiClient, ClientSecret, ClientSettings, FileStore, ResourceOwnerPassword, TokenSource,
//! };
//!
//! # #[tokio::main(flavor = "multi_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let server = tessera_testkit::TestServer::start(Default::default()).await;
//! # let app = server.client("My App", &[], "read write", false).await;
//! # server.user("alice", "correct horse battery staple").await;
//! # let issuer = server.base_url.clone();
//! # let (client_id, client_secret) = (app.client_id.clone(), app.client_secret.clone().unwrap_or_default());
//! # let (username, password) = ("alice", "correct horse battery staple");
//! # let config_dir = server.directory.join("config");
//! // Tokens live in a profile file, ~/.config/tessera/default.json with `FileStore::open("default")`.
//! let source = TokenSource::new(Arc::new(FileStore::in_dir(&config_dir, "default")?))?;
//!
//! // Once: discover the endpoints and log in with the password grant. Only the tokens are
//! // stored, never the password.
//! let settings =
//!     ClientSettings::discover(source.http_client(), &issuer, &client_id, Some(ClientSecret::new(client_secret)))
//!         .await?;
//! let password = ResourceOwnerPassword::new(password.into());
//! source.login_with_password(settings, username, &password).await?;
//!
//! // Step 1 of the guide: trade the refresh token for new tokens (a new access token and a
//! // new refresh token, stored before this returns). Usually unnecessary: `access_token()`
//! // refreshes by itself when the token is about to expire.
//! let response = source.force_refresh().await?;
//! assert!(response.refresh_token.is_some());
//!
//! // Step 2: call the API with the (fresh) access token.
//! let api = ApiClient::new(source.clone());
//! let me = api.send(api.get(&format!("{issuer}/api/1.0/users/me"))).await?;
//! assert_eq!(me.status(), 200);
//! println!("{}", me.text().await?);
//!
//! // Or take the token and use any HTTP client.
//! let access_token = source.access_token().await?;
//! let _header = format!("Bearer {}", access_token.secret());
//! # Ok(())
//! # }
//! ```

mod api;
mod browser;
mod clock;
mod device;
mod discovery;
mod dpop;
mod error;
mod id_token;
mod oauth;
mod profile;
mod source;
mod store;

pub use api::{ApiClient, rejects_token};
pub use browser::{AuthorizationCodeLogin, CALLBACK_PATH, DEFAULT_LOGIN_TIMEOUT};
pub use clock::{Clock, ManualClock, SystemClock, unix_seconds};
pub use device::{DeviceLogin, device_authorization_endpoint};
pub use discovery::{Discovery, OPENID_LOGIN_SCOPES, ServerMetadata, discover, metadata_urls, with_openid_scopes};
pub use dpop::{DpopKey, DpopKeyError, access_token_hash};
pub use error::{ClientError, OAuthError, StoreError};
pub use id_token::{IAT_LEEWAY_SECONDS, IdToken, IdTokenClaims, IdTokenError};
pub use profile::{ClientAuthMethod, ClientSettings, Profile, TokenResponse, TokenSet, TokenType, refresh_margin};
pub use source::{
    LogoutMode, LogoutOutcome, NotRevokedReason, REFRESH_ATTEMPT_TIMEOUT, REFRESH_BUDGET, TokenSource, http_client,
};
pub use store::{CredentialStore, FileStore, MemoryStore, StoreLock, default_dir, dir_from_env, validate_profile_name};

/// The URL type of [`AuthorizationCodeLogin::authorize_url`].
pub use oauth2::url::Url;
/// The secret types, re-exported from `oauth2`: their `Debug` prints `[redacted]`, and the value
/// is reached only through `.secret()`.
pub use oauth2::{AccessToken, ClientSecret, RefreshToken, ResourceOwnerPassword};
/// The HTTP client crate this library's API speaks, re-exported so callers use the same version.
pub use reqwest;
