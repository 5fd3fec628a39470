//! Logging out: revoke the refresh token at the server (RFC 7009) unless told not to, then
//! forget the profile, under the same locks as a refresh.

use super::TokenSource;
use crate::error::ClientError;
use crate::oauth;

/// Whether [`TokenSource::logout`] tells the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogoutMode {
    /// Revoke the refresh token (RFC 7009), then delete the profile; if revocation fails, keep
    /// the profile so the user can retry.
    RevokeThenForget,
    /// Only delete the profile (e.g. the server is gone for good).
    ForgetOnly,
}

/// What [`TokenSource::logout`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogoutOutcome {
    /// The server revoked the refresh token's family and the profile is deleted.
    Revoked,
    /// The profile is deleted, but nothing was revoked at the server.
    ForgottenWithoutRevocation(NotRevokedReason),
    /// There was no profile.
    NotLoggedIn,
}

/// Why [`LogoutOutcome::ForgottenWithoutRevocation`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotRevokedReason {
    /// [`LogoutMode::ForgetOnly`] was asked for.
    NotAsked,
    /// The server publishes no revocation endpoint.
    NoRevocationEndpoint,
    /// The profile held no refresh token.
    NoRefreshToken,
}

impl TokenSource {
    /// Revokes the refresh token at the server (RFC 7009; at Tessera this ends the whole token
    /// family) unless told not to, then deletes the profile.
    pub async fn logout(&self, mode: LogoutMode) -> Result<LogoutOutcome, ClientError> {
        let mut cached = self.cached.lock().await;
        let lock = self.on_store(|store| store.lock()).await?;
        let Some(profile) = self.on_store(|store| store.load()).await? else {
            *cached = None;
            return Ok(LogoutOutcome::NotLoggedIn);
        };
        let outcome = match (mode, &profile.client.revocation_endpoint, &profile.tokens.refresh_token) {
            (LogoutMode::ForgetOnly, _, _) => LogoutOutcome::ForgottenWithoutRevocation(NotRevokedReason::NotAsked),
            (LogoutMode::RevokeThenForget, None, _) => {
                LogoutOutcome::ForgottenWithoutRevocation(NotRevokedReason::NoRevocationEndpoint)
            }
            (LogoutMode::RevokeThenForget, Some(_), None) => {
                LogoutOutcome::ForgottenWithoutRevocation(NotRevokedReason::NoRefreshToken)
            }
            (LogoutMode::RevokeThenForget, Some(_), Some(refresh_token)) => {
                oauth::revoke_refresh_token(&self.http, &profile.client, refresh_token).await?;
                LogoutOutcome::Revoked
            }
        };
        self.on_store(|store| store.delete()).await?;
        self.forget_dpop_key();
        drop(lock);
        *cached = None;
        Ok(outcome)
    }
}
