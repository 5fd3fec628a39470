//! DPoP at the protected resources (RFC 9449 §7): a DPoP-bound access token is accepted only
//! under the `DPoP` scheme with a proof by its key over this request and this token (`ath`);
//! a bound token presented as a bearer token is refused, and so is an unbound one as DPoP.

use super::dpop::DpopFailure;
use super::{AuthService, BearerError, InternalError};
use crate::config::DpopNonce;
use tessera_core::PersonalAccessToken;
use tessera_core::dpop::ProofError;
use tessera_proto::{AccessTokenClaims, Confirmation, UserId};

/// The `Authorization` scheme a token came under (RFC 6750 §2.1, RFC 9449 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Bearer,
    Dpop,
}

/// An access token as a request presents it to a resource, with what a proof must match.
#[derive(Debug, Clone, Copy)]
pub struct PresentedToken<'a> {
    pub scheme: Scheme,
    pub token: &'a str,
    /// The request's `DPoP` header.
    pub proof: Option<&'a str>,
    pub method: &'a str,
    /// The resource's path, appended to the issuer for `htu`.
    pub path: &'a str,
}

/// Why a resource refuses a token on DPoP's grounds (RFC 9449 §7.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DpopRefusal {
    /// `invalid_token`: the scheme does not fit the token.
    InvalidToken(&'static str),
    /// `invalid_dpop_proof`: the proof is missing, wrong, or by another key.
    Proof(ProofError),
}

/// A resource's refusal: the bearer checks', DPoP's, or our failure.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error(transparent)]
    Bearer(#[from] BearerError),
    #[error("DPoP: {0:?}")]
    Dpop(DpopRefusal),
}

impl From<DpopFailure> for AccessError {
    fn from(failure: DpopFailure) -> Self {
        match failure {
            DpopFailure::Proof(error) => AccessError::Dpop(DpopRefusal::Proof(error)),
            DpopFailure::Internal(error) => AccessError::Bearer(BearerError::Internal(error)),
        }
    }
}

impl From<InternalError> for AccessError {
    fn from(error: InternalError) -> Self {
        AccessError::Bearer(BearerError::Internal(error))
    }
}

impl AuthService {
    /// The protected API: a personal access token (bearer only) or a JWT access token, under
    /// the scheme its binding asks for. The user id it acts for.
    pub async fn authenticate_resource(&self, presented: &PresentedToken<'_>) -> Result<UserId, AccessError> {
        if presented.token.starts_with(PersonalAccessToken::PREFIX) {
            self.check_sender(None, presented).await?;
            return Ok(self.authenticate_api(presented.token).await?);
        }
        let claims = self.authenticate_resource_claims(presented).await?;
        Ok(UserId::new(claims.sub.as_str()))
    }

    /// A JWT access token's claims, once it and its binding check out.
    pub async fn authenticate_resource_claims(
        &self,
        presented: &PresentedToken<'_>,
    ) -> Result<AccessTokenClaims, AccessError> {
        let claims = self.authenticate_bearer(presented.token).await?;
        self.check_sender(claims.cnf.as_ref(), presented).await?;
        Ok(claims)
    }

    /// RFC 9449 §7.1 (and §4.3's checks with `ath`): the scheme fits the token's binding, and a
    /// bound token comes with a proof by its key over this request.
    async fn check_sender(
        &self,
        cnf: Option<&Confirmation>,
        presented: &PresentedToken<'_>,
    ) -> Result<(), AccessError> {
        let refuse = |reason| Err(AccessError::Dpop(DpopRefusal::InvalidToken(reason)));
        match (presented.scheme, cnf) {
            (Scheme::Bearer, None) => Ok(()),
            (Scheme::Bearer, Some(_)) => {
                refuse("this access token is DPoP-bound: present it with the DPoP scheme and a DPoP proof")
            }
            (Scheme::Dpop, None) => refuse("this access token is not DPoP-bound: present it as a bearer token"),
            (Scheme::Dpop, Some(cnf)) => {
                let proof = presented.proof.ok_or(AccessError::Dpop(DpopRefusal::Proof(ProofError::Missing)))?;
                let (method, path, token) = (presented.method, presented.path, Some(presented.token));
                let jkt = self.check_dpop_proof(proof, method, path, token, DpopNonce::Off).await?;
                if jkt.as_str() != cnf.jkt {
                    return Err(AccessError::Dpop(DpopRefusal::Proof(ProofError::KeyMismatch)));
                }
                Ok(())
            }
        }
    }
}
