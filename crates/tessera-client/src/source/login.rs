//! How a profile begins: each login (password, authorization code, device) validates the id
//! token its response carries, then stores the first tokens, replacing any previous profile.

use super::TokenSource;
use crate::clock::unix_seconds;
use crate::error::ClientError;
use crate::oauth::{self, GrantResponse};
use crate::profile::{ClientSettings, Profile, TokenResponse};
use crate::store::StoreLock;
use oauth2::{AuthorizationCode, CsrfToken, PkceCodeVerifier, RedirectUrl, ResourceOwnerPassword};

impl TokenSource {
    /// Logs in with the resource owner's password (RFC 6749 §4.3) and stores the resulting
    /// profile, replacing any previous one. The password is sent once and never stored. An id
    /// token in the response is validated first ([`ClientError::IdToken`], nothing stored).
    pub async fn login_with_password(
        &self,
        settings: ClientSettings,
        username: &str,
        password: &ResourceOwnerPassword,
    ) -> Result<TokenResponse, ClientError> {
        let mut cached = self.cached.lock().await;
        let lock = self.on_store(|store| store.lock()).await?;
        let requested_at = unix_seconds(self.clock.now());
        let transport = self.transport(&settings).await?;
        let response = oauth::password_grant(&transport, &settings, username, password).await?;
        self.check_id_token(&settings, &response, None, None).await?;
        self.keep(&mut cached, lock, settings, &response, requested_at).await
    }

    /// Trades an authorization code for tokens (RFC 6749 §4.1.3, with the PKCE verifier of
    /// RFC 7636 §4.5) and stores the resulting profile, replacing any previous one. An id token
    /// must echo `nonce` (OpenID Connect Core §3.1.3.7 item 11).
    pub(crate) async fn login_with_authorization_code(
        &self,
        settings: ClientSettings,
        code: AuthorizationCode,
        pkce_verifier: PkceCodeVerifier,
        redirect_uri: &RedirectUrl,
        nonce: &CsrfToken,
    ) -> Result<TokenResponse, ClientError> {
        let mut cached = self.cached.lock().await;
        let lock = self.on_store(|store| store.lock()).await?;
        let requested_at = unix_seconds(self.clock.now());
        let transport = self.transport(&settings).await?;
        let response =
            oauth::authorization_code_grant(&transport, &settings, code, pkce_verifier, redirect_uri).await?;
        self.check_id_token(&settings, &response, Some(nonce.secret()), None).await?;
        self.keep(&mut cached, lock, settings, &response, requested_at).await
    }

    /// Stores the first tokens of a login that was done without the store's lock (the device
    /// grant, whose polling may last minutes), replacing any previous profile.
    pub(crate) async fn store_login(
        &self,
        settings: ClientSettings,
        response: &GrantResponse,
        requested_at: u64,
    ) -> Result<TokenResponse, ClientError> {
        // Checked before anything is stored, like every login's (no nonce: the device grant
        // has no authorization request to carry one).
        self.check_id_token(&settings, response, None, None).await?;
        let mut cached = self.cached.lock().await;
        let lock = self.on_store(|store| store.lock()).await?;
        self.keep(&mut cached, lock, settings, response, requested_at).await
    }

    /// Saves the profile a login's `response` starts, with both locks held (the caller's),
    /// and keeps it as this process's cached profile.
    async fn keep(
        &self,
        cached: &mut Option<Profile>,
        lock: StoreLock,
        settings: ClientSettings,
        response: &GrantResponse,
        requested_at: u64,
    ) -> Result<TokenResponse, ClientError> {
        let profile = Profile { client: settings, tokens: oauth::token_set(response, requested_at, None) };
        self.save(&profile).await?;
        drop(lock);
        *cached = Some(profile);
        Ok(oauth::token_response(response))
    }
}
