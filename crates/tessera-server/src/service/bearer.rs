//! Bearer checks at the protected API (RFC 6750): JWT access tokens (signature, remembered
//! per token until evicted by [`super::verified_tokens`]; expiry against our clock and family
//! and `jti` revocation through the revocation cache, on every use) and personal access
//! tokens (`tsp_…`).

use super::{AuthService, InternalError};
use crate::keys::VerifyError;
use crate::metrics::BearerResult;
use crate::store::PersonalAccessTokenRow;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tessera_core::{PersonalAccessToken, TokenHash, UserId};
use tessera_proto::AccessTokenClaims;

/// How often an unknown `kid` may make an instance re-read the key ring: bounds the database
/// load that a stream of forged tokens with random `kid`s can cause.
pub const KEY_RELOAD_BACKOFF: Duration = Duration::from_secs(5);

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

    /// Expiry against our clock, then revocation (the family's and the token's own).
    pub(super) async fn check_claims(&self, claims: &AccessTokenClaims) -> Result<(), BearerError> {
        if self.now().secs() >= claims.exp {
            return Err(BearerError::Invalid(InvalidToken::Expired));
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

    /// Verifies a JWT's signature and claims, or finds that this instance already did; a `kid`
    /// this instance has not loaded yet (another instance or the CLI rotated keys) triggers
    /// one reload of the key ring, at most once per [`KEY_RELOAD_BACKOFF`].
    pub(super) async fn verify_jwt(&self, token: &str) -> Result<Arc<AccessTokenClaims>, VerifyError> {
        if let Some(claims) = self.verified_tokens.get(token) {
            return Ok(claims);
        }
        let claims = Arc::new(self.verify_signature(token).await?);
        self.verified_tokens.remember(token, Arc::clone(&claims));
        Ok(claims)
    }

    async fn verify_signature(&self, token: &str) -> Result<AccessTokenClaims, VerifyError> {
        match self.keys.verify(token) {
            Err(VerifyError::UnknownKey) if self.may_reload_keys() => {
                if let Err(error) = self.keys.reload().await {
                    tracing::warn!(%error, "could not reload signing keys");
                }
                self.keys.verify(token)
            }
            other => other,
        }
    }

    fn may_reload_keys(&self) -> bool {
        let Ok(mut last) = self.last_key_reload.lock() else { return false };
        if last.is_some_and(|at| at.elapsed() < KEY_RELOAD_BACKOFF) {
            return false;
        }
        *last = Some(Instant::now());
        true
    }
}
