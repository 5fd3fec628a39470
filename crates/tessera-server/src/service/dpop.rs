//! DPoP proofs (RFC 9449) as the service checks them: the JWS verified with the key in its own
//! header, core's rules on header and claims, the `jti` remembered in the store on every
//! instance (its insert is the replay check), and the stateless server nonces.

use super::{AuthService, InternalError, ServiceError};
use crate::config::DpopNonce;
use crate::store::ClientRow;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use tessera_core::TokenHash;
use tessera_core::dpop::{self, Expected, ProofClaims, ProofError, ProofHeader, Thumbprint};

/// How long one server nonce is handed out; the previous one is still accepted, so a nonce
/// lives between one and two of these.
pub const NONCE_PERIOD_SECS: i64 = 300;

/// A proof refused, or our failure while checking it.
#[derive(Debug)]
pub enum DpopFailure {
    Proof(ProofError),
    Internal(InternalError),
}

impl From<ProofError> for DpopFailure {
    fn from(error: ProofError) -> Self {
        DpopFailure::Proof(error)
    }
}

impl From<DpopFailure> for ServiceError {
    fn from(failure: DpopFailure) -> Self {
        match failure {
            DpopFailure::Proof(error) => ServiceError::oauth(error.error_code(), error.to_string()),
            DpopFailure::Internal(error) => ServiceError::Internal(error),
        }
    }
}

/// The header and claims of a proof whose signature verifies with the key in its header, and
/// that key's thumbprint.
fn decode(proof: &str) -> Result<(Thumbprint, ProofClaims), ProofError> {
    let mut parts = proof.split('.');
    let (Some(header), Some(_), Some(_), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(ProofError::Malformed);
    };
    let header = URL_SAFE_NO_PAD.decode(header).map_err(|_| ProofError::Malformed)?;
    let header: ProofHeader = serde_json::from_slice(&header).map_err(|_| ProofError::Malformed)?;
    let jkt = dpop::check_header(&header)?;
    let jwk = header.jwk.as_ref().ok_or(ProofError::Key)?;
    let (x, y) = (jwk.x.as_deref().unwrap_or(""), jwk.y.as_deref().unwrap_or(""));
    let (algorithm, key) = match header.alg.as_str() {
        "ES256" => (Algorithm::ES256, DecodingKey::from_ec_components(x, y)),
        _ => (Algorithm::EdDSA, DecodingKey::from_ed_components(x)),
    };
    let key = key.map_err(|_| ProofError::Key)?;
    let mut validation = Validation::new(algorithm);
    // A proof has no exp, aud or nbf; iat is core's to judge.
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let data = jsonwebtoken::decode::<ProofClaims>(proof, &key, &validation).map_err(|error| match error.kind() {
        jsonwebtoken::errors::ErrorKind::InvalidSignature => ProofError::Signature,
        _ => ProofError::Malformed,
    })?;
    Ok((jkt, data.claims))
}

impl AuthService {
    /// The nonce to hand out now (`DPoP-Nonce`), when the token endpoint asks for nonces.
    pub fn dpop_nonce(&self) -> Option<String> {
        (self.config.dpop_nonce == DpopNonce::On)
            .then(|| dpop::accepted_nonces(&self.dpop_nonce_key, self.now(), NONCE_PERIOD_SECS)[0].clone())
    }

    /// Checks `proof`, sent with `method` to our `path`, presenting `access_token` at a
    /// resource; remembers its `jti`. The thumbprint of the key it proves.
    pub(crate) async fn check_dpop_proof(
        &self,
        proof: &str,
        method: &str,
        path: &str,
        access_token: Option<&str>,
        nonce: DpopNonce,
    ) -> Result<Thumbprint, DpopFailure> {
        let (jkt, claims) = decode(proof)?;
        let now = self.now();
        let window = self.config.dpop_proof_window;
        let window_secs = i64::try_from(window.as_secs()).unwrap_or(i64::MAX);
        let url = format!("{}{path}", self.issuer);
        let nonces =
            (nonce == DpopNonce::On).then(|| dpop::accepted_nonces(&self.dpop_nonce_key, now, NONCE_PERIOD_SECS));
        let expected = Expected { method, url: &url, now, window_secs, access_token, nonces };
        dpop::check_claims(&claims, &expected)?;
        // RFC 9449 §11.1: a proof is used once. Its iat may be up to a window ahead and is
        // accepted up to a window after, so it is remembered for two windows from now.
        let jti = claims.jti.as_deref().unwrap_or_default();
        let seen = TokenHash::of(&format!("{}.{jti}", jkt.as_str()));
        let expires_at = now.plus(window.saturating_mul(2));
        let fresh = self
            .store
            .remember_dpop_proof(&seen, expires_at, now)
            .await
            .map_err(|error| DpopFailure::Internal(error.into()))?;
        if !fresh {
            return Err(ProofError::Replayed.into());
        }
        Ok(jkt)
    }

    /// The token endpoint's proof (RFC 9449 §5), if the request sent one: the key the tokens
    /// are to be bound to. A client registered with `--require-dpop` must send one.
    pub(super) async fn token_endpoint_proof(
        &self,
        client: &ClientRow,
        proof: Option<&str>,
    ) -> Result<Option<Thumbprint>, ServiceError> {
        match proof {
            Some(proof) => {
                Ok(Some(self.check_dpop_proof(proof, "POST", "/oauth/token", None, self.config.dpop_nonce).await?))
            }
            // RFC 9449 §5: the client is registered as requiring DPoP.
            None if client.require_dpop => Err(DpopFailure::Proof(ProofError::Missing).into()),
            None => Ok(None),
        }
    }
}
