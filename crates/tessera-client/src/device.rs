//! The device authorization grant (RFC 8628) for a client without a browser: ask for a device
//! code and a user code, show them, poll the token endpoint at the server's interval (5 s more
//! after each `slow_down`, which the `oauth2` crate handles) and store the tokens.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::oauth::GrantResponse;
use oauth2::url::Url;
use oauth2::{DeviceAuthorizationUrl, Scope, StandardDeviceAuthorizationResponse};

use crate::discovery::metadata_urls;
use crate::error::ClientError;
use crate::oauth::{map_request_error, oauth_client};
use crate::profile::{ClientSettings, TokenResponse};
use crate::source::TokenSource;

/// A device login under way: show [`user_code`](Self::user_code) and
/// [`verification_uri`](Self::verification_uri) to the user, then await [`finish`](Self::finish).
pub struct DeviceLogin {
    source: TokenSource,
    settings: ClientSettings,
    details: StandardDeviceAuthorizationResponse,
}

impl std::fmt::Debug for DeviceLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceLogin").field("verification_uri", &self.verification_uri()).finish_non_exhaustive()
    }
}

impl TokenSource {
    /// Starts a device login (RFC 8628 §3.1) at `device_authorization_endpoint` with the client
    /// and scope of `settings`.
    pub async fn device_login(
        &self,
        settings: ClientSettings,
        device_authorization_endpoint: &str,
    ) -> Result<DeviceLogin, ClientError> {
        let endpoint = device_authorization_endpoint.to_owned();
        let url = DeviceAuthorizationUrl::new(endpoint.clone())
            .map_err(|error| ClientError::Config(format!("device authorization endpoint {endpoint:?}: {error}")))?;
        let client = oauth_client(&settings)?.set_device_authorization_url(url);
        let scopes = settings.scope.as_deref().unwrap_or_default().split_whitespace();
        let details = client
            .exchange_device_code()
            .add_scopes(scopes.map(|scope| Scope::new(scope.to_owned())))
            .request_async(self.http_client())
            .await
            .map_err(|error| map_request_error(&endpoint, error))?;
        Ok(DeviceLogin { source: self.clone(), settings, details })
    }
}

impl DeviceLogin {
    /// The code to type at the verification page, as the server shows it (`WDJB-MJHT`).
    pub fn user_code(&self) -> &str {
        self.details.user_code().secret()
    }

    /// Where to type it.
    pub fn verification_uri(&self) -> &str {
        self.details.verification_uri().as_str()
    }

    /// The verification page with the code filled in, when the server gives one (for a QR code).
    pub fn verification_uri_complete(&self) -> Option<&str> {
        self.details.verification_uri_complete().map(|uri| uri.secret().as_str())
    }

    /// How long the codes live.
    pub fn expires_in(&self) -> Duration {
        self.details.expires_in()
    }

    /// Polls until the user answers or the codes expire, then stores the tokens (replacing any
    /// previous profile). A denial is [`ClientError::OAuth`] with `access_denied`, expiry
    /// `expired_token`.
    pub async fn finish(self) -> Result<TokenResponse, ClientError> {
        let DeviceLogin { source, settings, details } = self;
        let client = oauth_client(&settings)?;
        // When the last poll was sent, for the access token's expiry: each poll follows a sleep.
        let polled_at = Arc::new(AtomicU64::new(source.unix_now()));
        let sleep = {
            let (source, polled_at) = (source.clone(), Arc::clone(&polled_at));
            move |interval: Duration| {
                let (source, polled_at) = (source.clone(), Arc::clone(&polled_at));
                async move {
                    tokio::time::sleep(interval).await;
                    polled_at.store(source.unix_now(), Ordering::Relaxed);
                }
            }
        };
        // Each poll gets its own proof (RFC 9449 §5) when the settings ask for DPoP.
        let transport = source.transport(&settings).await?;
        let response: GrantResponse = client
            .exchange_device_access_token(&details)
            .request_async(&transport, sleep, None)
            .await
            .map_err(|error| map_request_error(&settings.token_endpoint, error))?;
        source.store_login(settings, &response, polled_at.load(Ordering::Relaxed)).await
    }
}

/// The server's device authorization endpoint from its RFC 8414 metadata, or
/// `ISSUER/oauth/device_authorization` when it publishes none.
pub async fn device_authorization_endpoint(http: &reqwest::Client, issuer: &str) -> Result<String, ClientError> {
    let issuer_url =
        Url::parse(issuer).map_err(|error| ClientError::Config(format!("issuer {issuer:?} is not a URL: {error}")))?;
    #[derive(serde::Deserialize)]
    struct Metadata {
        device_authorization_endpoint: Option<String>,
    }
    for url in metadata_urls(&issuer_url) {
        let Ok(response) = http.get(url).send().await else { continue };
        if !response.status().is_success() {
            continue;
        }
        if let Ok(Metadata { device_authorization_endpoint: Some(endpoint) }) = response.json().await {
            return Ok(endpoint);
        }
    }
    Ok(format!("{}/oauth/device_authorization", issuer.trim_end_matches('/')))
}
