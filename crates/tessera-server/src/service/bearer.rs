//! Bearer checks at the protected API (RFC 6750): JWT access tokens (signature, remembered
//! per token until evicted by [`super::verified_tokens`]; on every use, whether the signing
//! key still verifies, the token's times against our clock, and family and `jti` revocation
//! through the revocation cache) and personal access tokens (`tsp_…`).

use super::verified_tokens::Remembered;
use super::{AuthService, InternalError};
use crate::keys::{VerifiedToken, VerifyError};
use crate::metrics::BearerResult;
use crate::store::PersonalAccessTokenRow;
use std::sync::Arc;
use std::time::Duration;
use tessera_core::{
    PersonalAccessToken, Timestamp, TokenHash, TokenTimeRejection, UserId, check_token_times, retired_key_retention,
};
use tessera_proto::AccessTokenClaims;

/// The longest `kid` worth looking up in the database: ours are RFC 7638 thumbprints, 43
/// characters of base64url.
const MAX_KID_LENGTH: usize = 64;

/// Why a bearer token is refused. Logged at debug level and counted, never sent: the client
/// only learns `invalid_token`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InvalidToken {
    /// No such personal access token.
    Unknown,
    Revoked,
    Expired,
    /// Not a JWT of ours: malformed, unknown key, wrong type, bad signature or claims.
    Signature,
}

impl InvalidToken {
    pub fn as_str(self) -> &'static str {
        match self {
            InvalidToken::Unknown => "unknown",
            InvalidToken::Revoked => "revoked",
            InvalidToken::Expired => "expired",
            InvalidToken::Signature => "signature",
        }
    }
}

/// Why a bearer token is refused (RFC 6750 §3.1 `invalid_token`), or our failure.
#[derive(Debug, thiserror::Error)]
pub enum BearerError {
    #[error("invalid token: {}", .0.as_str())]
    Invalid(InvalidToken),
    #[error(transparent)]
    Internal(#[from] InternalError),
}

impl AuthService {
    /// The protected API accepts two kinds of bearer token: JWT access tokens and personal
    /// access tokens (`tsp_…`). Returns the user id the token acts for (for a client's own
    /// token, the client id, which names no user).
    pub async fn authenticate_api(&self, token: &str) -> Result<UserId, BearerError> {
        if token.starts_with(PersonalAccessToken::PREFIX) {
            let result = self.check_personal_access_token(token).await;
            self.count_bearer_check(&result);
            return result.map(|pat| pat.user_id);
        }
        let result = self.check_bearer(token).await;
        self.count_bearer_check(&result);
        Ok(UserId::new(result?.sub.as_str()))
    }

    pub(super) async fn check_personal_access_token(&self, token: &str) -> Result<PersonalAccessTokenRow, BearerError> {
        let found = self
            .store
            .find_personal_access_token(&TokenHash::of(token))
            .await
            .map_err(InternalError::from)?
            .ok_or(BearerError::Invalid(InvalidToken::Unknown))?;
        if found.revoked_at.is_some() {
            return Err(BearerError::Invalid(InvalidToken::Revoked));
        }
        if !found.is_active(self.now()) {
            return Err(BearerError::Invalid(InvalidToken::Expired));
        }
        Ok(found)
    }

    /// RFC 6750: checks an access token presented to the protected API.
    pub async fn authenticate_bearer(&self, token: &str) -> Result<AccessTokenClaims, BearerError> {
        let result = self.check_bearer(token).await;
        self.count_bearer_check(&result);
        result.map(Arc::unwrap_or_clone)
    }

    fn count_bearer_check<T>(&self, result: &Result<T, BearerError>) {
        self.metrics.bearer_check(match result {
            Ok(_) => BearerResult::Ok,
            Err(BearerError::Invalid(reason)) => BearerResult::Invalid(*reason),
            Err(BearerError::Internal(_)) => BearerResult::Error,
        });
    }

    async fn check_bearer(&self, token: &str) -> Result<Arc<AccessTokenClaims>, BearerError> {
        let claims = self.verify_jwt(token).await.map_err(|error| {
            tracing::debug!(%error, "bearer token refused");
            BearerError::Invalid(InvalidToken::Signature)
        })?;
        self.check_claims(&claims).await?;
        Ok(claims)
    }

    /// How long a retired key keeps verifying, and stays in JWKS.
    pub(super) fn key_retention(&self) -> Duration {
        retired_key_retention(self.config.access_token_ttl, self.config.key_refresh_interval)
    }

    /// The token's times against our clock (core's `check_token_times`: not expired, not
    /// issued in the future, not living longer than our access tokens do), then revocation
    /// (the family's and the token's own).
    pub(super) async fn check_claims(&self, claims: &AccessTokenClaims) -> Result<(), BearerError> {
        match check_token_times(claims.iat, claims.exp, self.now(), self.config.access_token_ttl) {
            Ok(()) => {}
            Err(TokenTimeRejection::Expired) => return Err(BearerError::Invalid(InvalidToken::Expired)),
            Err(rejection) => {
                tracing::debug!(%rejection, "bearer token refused");
                return Err(BearerError::Invalid(InvalidToken::Signature));
            }
        }
        if !self.revocations.fresh(&claims.jti, claims.fid.as_ref()) {
            let check = self.revocations.start_check();
            let revoked =
                self.store.access_token_revoked(claims.fid.as_ref(), &claims.jti).await.map_err(InternalError::from)?;
            if revoked {
                return Err(BearerError::Invalid(InvalidToken::Revoked));
            }
            self.revocations.remember(check, &claims.jti, claims.fid.as_ref());
        }
        Ok(())
    }

    /// Verifies a JWT's key, signature and claims, or finds that this instance already did
    /// (and that its key still verifies). A token whose times could never pass (issued in
    /// the future, or living longer than our tokens do) is refused here; expiry is left to
    /// [`AuthService::check_claims`], which runs on every use. Only tokens that pass every
    /// time check are remembered.
    pub(super) async fn verify_jwt(&self, token: &str) -> Result<Arc<AccessTokenClaims>, VerifyError> {
        let (now, retention) = (self.now(), self.key_retention());
        if let Some(found) = self.verified_tokens.get(token) {
            if self.keys.key_verifies(&found.kid, now, retention) {
                return Ok(found.claims);
            }
            self.verified_tokens.forget(token);
            return Err(VerifyError::KeyNotUsable);
        }
        let VerifiedToken { kid, claims } = self.verify_signature(token, now, retention).await?;
        let claims = Arc::new(claims);
        match check_token_times(claims.iat, claims.exp, now, self.config.access_token_ttl) {
            Ok(()) => {
                let remembered = Remembered { kid: Arc::from(kid), claims: Arc::clone(&claims) };
                self.verified_tokens.remember(token, remembered);
            }
            Err(TokenTimeRejection::Expired) => {}
            Err(_) => return Err(VerifyError::Invalid),
        }
        Ok(claims)
    }

    /// A `kid` this instance has not loaded (another instance or the CLI rotated keys)
    /// re-reads the key ring, but only if the database holds that key and it verifies: a
    /// forged token with a made-up `kid` costs one lookup by primary key and never a reload,
    /// so no stream of them can delay the pick-up of a genuinely new key. (A backoff on
    /// reloads did: random `kid`s kept it busy, and the next real new key was refused.)
    async fn verify_signature(
        &self,
        token: &str,
        now: Timestamp,
        retention: Duration,
    ) -> Result<VerifiedToken, VerifyError> {
        match self.keys.verify(token, now, retention) {
            Err(VerifyError::UnknownKey { kid }) if self.stored_key_verifies(&kid, now, retention).await => {
                self.reload_keys_for(&kid).await;
                self.keys.verify(token, now, retention)
            }
            other => other,
        }
    }

    async fn stored_key_verifies(&self, kid: &str, now: Timestamp, retention: Duration) -> bool {
        let plausible = !kid.is_empty()
            && kid.len() <= MAX_KID_LENGTH
            && kid.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_');
        if !plausible {
            return false;
        }
        match self.store.find_signing_key(kid).await {
            Ok(found) => found.is_some_and(|row| row.state().verifies(now, retention)),
            Err(error) => {
                tracing::warn!(%error, "could not look up a signing key");
                false
            }
        }
    }

    /// One reload at a time: the requests that brought the same new `kid` wait for the first
    /// one's reload instead of each reading the keys again.
    async fn reload_keys_for(&self, kid: &str) {
        let _one_at_a_time = self.key_reload.lock().await;
        if self.keys.has_key(kid) {
            return;
        }
        if let Err(error) = self.keys.reload().await {
            tracing::warn!(%error, "could not reload signing keys");
        }
    }
}
