//! OpenID Connect id tokens on the client side: the token as stored (redacted in `Debug`), its
//! claims, and their validation (OpenID Connect Core §3.1.3.7 and, after a refresh, §12.2) as a
//! pure function of the token, the issuer's JWK set and `now`. Fetching and caching the JWK set
//! is in [`jwks`].

pub(crate) mod jwks;

use std::fmt;
use std::time::SystemTime;

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Deserializer, Serialize};

use crate::clock::unix_seconds;

/// How far in the future an `iat` may lie before the token is refused: clocks of the client and
/// the server drift, but not by more than this (Core §3.1.3.7 item 10 leaves the bound to the
/// client).
pub const IAT_LEEWAY_SECONDS: u64 = 300;

/// An id token (a signed JWT, OpenID Connect Core §2) as the server issued it. It names the user
/// and is accepted as `id_token_hint` at logout, so `Debug` prints `[redacted]` and the value is
/// reached only through [`secret`](Self::secret).
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct IdToken(String);

impl IdToken {
    /// Wraps the compact JWS the server returned.
    pub fn new(token: String) -> Self {
        Self(token)
    }

    /// The compact JWS.
    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for IdToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IdToken([redacted])")
    }
}

/// The claims of a validated id token (OpenID Connect Core §2, and the §5.1 standard claims
/// that the `profile` and `email` scopes add).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdTokenClaims {
    /// The issuer, equal to the configured one.
    pub iss: String,
    /// The user's stable identifier at the issuer.
    pub sub: String,
    /// The audiences; always contains this client's id (a single string on the wire is read as
    /// a list of one).
    #[serde(deserialize_with = "one_or_many")]
    pub aud: Vec<String>,
    /// Expiry, Unix seconds.
    pub exp: u64,
    /// Issue time, Unix seconds.
    pub iat: u64,
    /// When the user authenticated, Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<u64>,
    /// The `nonce` of the authorization request, echoed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// The authorized party (the client the token was issued to).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azp: Option<String>,
    /// `profile` scope: the username.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    /// `profile` scope: the full name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `profile` scope: when the profile last changed, Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<u64>,
    /// `email` scope: the email address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// `email` scope: whether the server verified the address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
}

fn one_or_many<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(one) => vec![one],
        OneOrMany::Many(many) => many,
    })
}

/// Why an id token was refused. None of them prints the token itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdTokenError {
    /// Not a compact JWS with JSON claims of the expected shape.
    #[error("it is not a well-formed signed JWT ({0})")]
    Malformed(String),
    /// `alg` is not an asymmetric signature algorithm (`none` and HMAC are never accepted: an
    /// HMAC key would be the client's own secret, Core §10.1).
    #[error("it is signed with {0}, which this client does not accept")]
    UnsupportedAlgorithm(String),
    /// No key of the issuer's JWK set has the token's `kid`, even after fetching the set again.
    #[error("it is signed with key {0:?}, which the issuer does not publish")]
    UnknownKey(String),
    /// The signature does not verify with the issuer's key.
    #[error("its signature does not verify with the issuer's key")]
    BadSignature,
    /// `iss` is not the configured issuer (Core §3.1.3.7 item 2).
    #[error("it was issued by {found:?}, not by {expected:?}")]
    WrongIssuer {
        /// The configured issuer.
        expected: String,
        /// The token's `iss`.
        found: String,
    },
    /// `aud` does not contain this client's id (item 3).
    #[error("it is meant for {found:?}, not for client {client_id:?}")]
    WrongAudience {
        /// This client's id.
        client_id: String,
        /// The token's audiences.
        found: Vec<String>,
    },
    /// Several audiences and `azp` is not this client (items 4 and 5).
    #[error("its authorized party (azp) is {found:?}, not client {client_id:?}")]
    WrongAuthorizedParty {
        /// This client's id.
        client_id: String,
        /// The token's `azp`, if any.
        found: Option<String>,
    },
    /// `exp` is not in the future (item 9).
    #[error("it expired at {exp} (Unix time), and it is now {now}")]
    Expired {
        /// The token's `exp`.
        exp: u64,
        /// The client's clock.
        now: u64,
    },
    /// `iat` is after `exp` or too far in the future (item 10).
    #[error("its issue time {iat} (Unix time) is not plausible at {now}")]
    ImplausibleIssueTime {
        /// The token's `iat`.
        iat: u64,
        /// The client's clock.
        now: u64,
    },
    /// The `nonce` is missing or not the one this login sent (item 11): the token may be
    /// replayed from another login.
    #[error("its nonce is not the one this login sent")]
    NonceMismatch,
    /// After a refresh, `sub` (or `iss`) differs from the stored id token's (Core §12.2).
    #[error("it names user {found:?}, but this login is user {expected:?}")]
    SubjectChanged {
        /// The stored id token's `sub`.
        expected: String,
        /// The new token's `sub`.
        found: String,
    },
}

/// What a valid id token must say, besides its signature.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Expected<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    /// The nonce of a browser login; `None` when none was sent (password grant, refresh).
    pub nonce: Option<&'a str>,
    /// After a refresh, the stored id token's `sub`, which the new one must repeat (Core §12.2).
    pub sub: Option<&'a str>,
}

/// The signature algorithms accepted: the asymmetric ones jsonwebtoken verifies.
fn accepted(algorithm: Algorithm) -> bool {
    !matches!(algorithm, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
}

/// The `kid` of `token`'s header, after checking the header is readable and its `alg` accepted.
pub(crate) fn key_id(token: &str) -> Result<Option<String>, IdTokenError> {
    let header = jsonwebtoken::decode_header(token).map_err(|error| IdTokenError::Malformed(error.to_string()))?;
    if !accepted(header.alg) {
        return Err(IdTokenError::UnsupportedAlgorithm(format!("{:?}", header.alg)));
    }
    Ok(header.kid)
}

/// Validates `token` against `jwks` (which must hold its key) and `expected` at `now`
/// (OpenID Connect Core §3.1.3.7; §12.2 when `expected.sub` is set).
pub(crate) fn validate(
    token: &str,
    jwks: &JwkSet,
    expected: Expected<'_>,
    now: SystemTime,
) -> Result<IdTokenClaims, IdTokenError> {
    let header = jsonwebtoken::decode_header(token).map_err(|error| IdTokenError::Malformed(error.to_string()))?;
    if !accepted(header.alg) {
        return Err(IdTokenError::UnsupportedAlgorithm(format!("{:?}", header.alg)));
    }
    let jwk = match &header.kid {
        Some(kid) => jwks.find(kid),
        // Without a `kid`, only a set of one key is unambiguous.
        None if jwks.keys.len() == 1 => jwks.keys.first(),
        None => None,
    }
    .ok_or_else(|| IdTokenError::UnknownKey(header.kid.clone().unwrap_or_default()))?;
    let key = DecodingKey::from_jwk(jwk).map_err(|error| IdTokenError::Malformed(format!("issuer key: {error}")))?;
    // Signature only: the claims are checked below against this crate's clock, not the wall clock
    // that jsonwebtoken would read.
    let mut validation = Validation::new(header.alg);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<IdTokenClaims>(token, &key, &validation)
        .map_err(|error| match error.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature
            | jsonwebtoken::errors::ErrorKind::InvalidAlgorithm
            | jsonwebtoken::errors::ErrorKind::InvalidEcdsaKey
            | jsonwebtoken::errors::ErrorKind::InvalidRsaKey(_) => IdTokenError::BadSignature,
            _ => IdTokenError::Malformed(error.to_string()),
        })?
        .claims;
    check_claims(&claims, expected, unix_seconds(now))?;
    Ok(claims)
}

/// The claim checks of Core §3.1.3.7 items 2–11 and §12.2.
fn check_claims(claims: &IdTokenClaims, expected: Expected<'_>, now: u64) -> Result<(), IdTokenError> {
    // Issuer identifiers compare as strings, a trailing slash aside (as in discovery).
    if claims.iss.trim_end_matches('/') != expected.issuer.trim_end_matches('/') {
        return Err(IdTokenError::WrongIssuer { expected: expected.issuer.to_owned(), found: claims.iss.clone() });
    }
    if !claims.aud.iter().any(|aud| aud == expected.client_id) {
        return Err(IdTokenError::WrongAudience {
            client_id: expected.client_id.to_owned(),
            found: claims.aud.clone(),
        });
    }
    let azp_ok = match &claims.azp {
        Some(azp) => azp == expected.client_id,
        None => claims.aud.len() == 1,
    };
    if !azp_ok {
        return Err(IdTokenError::WrongAuthorizedParty {
            client_id: expected.client_id.to_owned(),
            found: claims.azp.clone(),
        });
    }
    if claims.exp <= now {
        return Err(IdTokenError::Expired { exp: claims.exp, now });
    }
    if claims.iat > claims.exp || claims.iat > now.saturating_add(IAT_LEEWAY_SECONDS) {
        return Err(IdTokenError::ImplausibleIssueTime { iat: claims.iat, now });
    }
    if let Some(nonce) = expected.nonce
        && claims.nonce.as_deref() != Some(nonce)
    {
        return Err(IdTokenError::NonceMismatch);
    }
    if let Some(sub) = expected.sub
        && claims.sub != sub
    {
        return Err(IdTokenError::SubjectChanged { expected: sub.to_owned(), found: claims.sub.clone() });
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;
