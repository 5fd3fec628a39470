//! The issuer's JWK set (RFC 7517) for id-token signatures: fetched from `jwks_uri` on first
//! use, kept for the life of the token source, and fetched again once when a token names a key
//! the cached set lacks (the server rotated its keys, OpenID Connect Core §10.1.1).

use std::sync::Arc;
use std::time::SystemTime;

use jsonwebtoken::jwk::JwkSet;
use tokio::sync::Mutex;

use super::{Expected, IdTokenClaims, IdTokenError, key_id, validate};
use crate::error::ClientError;

/// A JWK set and the URI it came from.
type Fetched = (String, Arc<JwkSet>);

/// The cached JWK set. Clones share the cache.
#[derive(Debug, Clone, Default)]
pub(crate) struct JwksCache {
    cached: Arc<Mutex<Option<Fetched>>>,
}

impl JwksCache {
    /// Validates `token` with the key set at `jwks_uri` (cached, or fetched when missing or when
    /// it lacks the token's key) and `expected` at `now`.
    pub(crate) async fn validate(
        &self,
        http: &reqwest::Client,
        jwks_uri: &str,
        token: &str,
        expected: Expected<'_>,
        now: SystemTime,
    ) -> Result<IdTokenClaims, ClientError> {
        let kid = key_id(token).map_err(ClientError::IdToken)?;
        let mut cached = self.cached.lock().await;
        let usable = cached
            .as_ref()
            .filter(|(uri, set)| uri == jwks_uri && kid.as_deref().is_none_or(|kid| set.find(kid).is_some()));
        let set = match usable {
            Some((_, set)) => Arc::clone(set),
            None => {
                let set = Arc::new(fetch(http, jwks_uri).await?);
                *cached = Some((jwks_uri.to_owned(), Arc::clone(&set)));
                set
            }
        };
        drop(cached);
        validate(token, &set, expected, now).map_err(ClientError::IdToken)
    }
}

async fn fetch(http: &reqwest::Client, jwks_uri: &str) -> Result<JwkSet, ClientError> {
    let transport =
        |source: reqwest::Error| ClientError::Transport { url: jwks_uri.to_owned(), source: Box::new(source) };
    let response =
        http.get(jwks_uri).header(reqwest::header::ACCEPT, "application/json").send().await.map_err(transport)?;
    let status = response.status();
    if !status.is_success() {
        return Err(ClientError::Protocol {
            url: jwks_uri.to_owned(),
            message: format!("the JWK set request answered HTTP {status}"),
        });
    }
    let bytes = response.bytes().await.map_err(transport)?;
    serde_json::from_slice(&bytes).map_err(|error| ClientError::Protocol {
        url: jwks_uri.to_owned(),
        message: format!("not a JWK set ({error})"),
    })
}

/// The claims of an id token this client stored after validating it, read again without
/// checking the signature (it was checked before storing): the `sub` a refreshed id token must
/// repeat (Core §12.2).
pub(crate) fn stored_claims(token: &str) -> Result<IdTokenClaims, IdTokenError> {
    let mut validation = jsonwebtoken::Validation::default();
    validation.insecure_disable_signature_validation();
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    jsonwebtoken::decode::<IdTokenClaims>(token, &jsonwebtoken::DecodingKey::from_secret(&[]), &validation)
        .map(|data| data.claims)
        .map_err(|error| IdTokenError::Malformed(error.to_string()))
}
