//! DPoP (RFC 9449) as pure rules: a proof's header and claims checked against the request at
//! `now`, the JWK thumbprint a token is bound to (RFC 7638), `htu` normalisation, `ath`, and
//! the stateless server nonce of a time slot.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::{digest, hmac};
use serde::Deserialize;

/// The JWS algorithms accepted in proofs (RFC 9449 §5.1 `dpop_signing_alg_values_supported`).
pub const SIGNING_ALGORITHMS: [&str; 2] = ["ES256", "EdDSA"];

/// The longest `jti` accepted: it is remembered for the window, so its size is bounded.
pub const MAX_JTI_LEN: usize = 256;

/// The public key of a proof (RFC 9449 §4.2 `jwk`). The private members are read only to
/// refuse a header that carries them.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ProofJwk {
    pub kty: String,
    pub crv: Option<String>,
    pub x: Option<String>,
    pub y: Option<String>,
    /// Private members (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2): a proof must not carry any.
    pub d: Option<String>,
    pub p: Option<String>,
    pub q: Option<String>,
    pub k: Option<String>,
}

/// A proof's JOSE header, as decoded by the caller.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ProofHeader {
    pub typ: Option<String>,
    pub alg: String,
    pub jwk: Option<ProofJwk>,
}

/// A proof's claims (RFC 9449 §4.2), as decoded by the caller.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ProofClaims {
    pub jti: Option<String>,
    pub htm: Option<String>,
    pub htu: Option<String>,
    pub iat: Option<i64>,
    pub ath: Option<String>,
    pub nonce: Option<String>,
}

/// Why a proof is refused; each maps to the RFC 9449 error code `error_code` names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("a DPoP proof (the DPoP header) is required")]
    Missing,
    #[error("the DPoP proof is not a signed JWT")]
    Malformed,
    #[error("the DPoP proof's typ must be dpop+jwt")]
    WrongType,
    #[error("the DPoP proof's alg must be one of ES256, EdDSA")]
    Algorithm,
    #[error("the DPoP proof's jwk is missing or is not a P-256 or Ed25519 public key matching alg")]
    Key,
    #[error("the DPoP proof's jwk must not contain a private key")]
    PrivateKey,
    #[error("the DPoP proof's signature does not verify")]
    Signature,
    #[error("the DPoP proof has no usable jti")]
    Jti,
    #[error("the DPoP proof's jti was already used")]
    Replayed,
    #[error("the DPoP proof's htm does not match the request method")]
    Method,
    #[error("the DPoP proof's htu does not match the request URL")]
    Url,
    #[error("the DPoP proof's iat is missing or too far from the server's time")]
    IssuedAt,
    #[error("the DPoP proof's ath is missing or does not match the access token")]
    AccessTokenHash,
    #[error("the DPoP proof's key is not the key the token is bound to")]
    KeyMismatch,
    #[error("a DPoP proof with the server's nonce is required")]
    UseNonce,
}

impl ProofError {
    /// RFC 9449 §7.1 and §8: `use_dpop_nonce` for a missing or stale nonce, otherwise
    /// `invalid_dpop_proof`.
    pub fn error_code(&self) -> tessera_proto::ErrorCode {
        match self {
            ProofError::UseNonce => tessera_proto::ErrorCode::UseDpopNonce,
            _ => tessera_proto::ErrorCode::InvalidDpopProof,
        }
    }
}

/// A JWK SHA-256 thumbprint (RFC 7638), base64url: what `cnf.jkt` holds.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Thumbprint(String);

impl Thumbprint {
    pub fn from_stored(text: String) -> Self {
        Thumbprint(text)
    }

    /// A thumbprint a client sent (RFC 9449 §10 `dpop_jkt`): base64url without padding of a
    /// SHA-256 digest, so exactly 43 characters that decode to 32 bytes (the last one's unused
    /// bits zero). `None` for anything else.
    pub fn parse(text: &str) -> Option<Thumbprint> {
        let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
        (text.len() == 43 && bytes.len() == 32).then(|| Thumbprint(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

fn is_base64url(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// RFC 9449 §4.3 checks 4–6 on the header: `typ`, an asymmetric `alg` we support, and a
/// public `jwk` of that algorithm. Returns the key's thumbprint (RFC 7638 §3.2: the required
/// members only, in lexicographic order, no whitespace).
pub fn check_header(header: &ProofHeader) -> Result<Thumbprint, ProofError> {
    if header.typ.as_deref() != Some("dpop+jwt") {
        return Err(ProofError::WrongType);
    }
    if !SIGNING_ALGORITHMS.contains(&header.alg.as_str()) {
        return Err(ProofError::Algorithm);
    }
    let jwk = header.jwk.as_ref().ok_or(ProofError::Key)?;
    if [&jwk.d, &jwk.p, &jwk.q, &jwk.k].iter().any(|member| member.is_some()) {
        return Err(ProofError::PrivateKey);
    }
    let x = jwk.x.as_deref().filter(|x| is_base64url(x)).ok_or(ProofError::Key)?;
    let canonical = match (header.alg.as_str(), jwk.kty.as_str(), jwk.crv.as_deref()) {
        ("ES256", "EC", Some("P-256")) => {
            let y = jwk.y.as_deref().filter(|y| is_base64url(y)).ok_or(ProofError::Key)?;
            format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#)
        }
        ("EdDSA", "OKP", Some("Ed25519")) => format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#),
        _ => return Err(ProofError::Key),
    };
    Ok(Thumbprint(URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, canonical.as_bytes()))))
}

/// `ath` (RFC 9449 §4.2): base64url of the SHA-256 of the access token.
pub fn access_token_hash(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, access_token.as_bytes()))
}

/// RFC 9449 §4.3 check 9: `htu` compared without its query and fragment; `None` if not a URL.
pub fn normalise_htu(text: &str) -> Option<String> {
    let mut url = url::Url::parse(text).ok()?;
    url.set_query(None);
    url.set_fragment(None);
    Some(url.into())
}

/// What the request a proof came with requires of it.
#[derive(Debug, Clone)]
pub struct Expected<'a> {
    /// The request's method, e.g. `POST`.
    pub method: &'a str,
    /// The endpoint's URL as the issuer names it (normalised by [`normalise_htu`]).
    pub url: &'a str,
    pub now: crate::Timestamp,
    /// How far `iat` may be from `now`, either way, in seconds.
    pub window_secs: i64,
    /// At a resource: the access token presented, whose hash `ath` must be.
    pub access_token: Option<&'a str>,
    /// The nonces the server accepts now (current and previous slot), when it requires one.
    pub nonces: Option<[String; 2]>,
}

/// RFC 9449 §4.3 checks 7–12 on the claims (the caller checks the signature first and the
/// `jti` replay after).
pub fn check_claims(claims: &ProofClaims, expected: &Expected<'_>) -> Result<(), ProofError> {
    let jti = claims.jti.as_deref().unwrap_or("");
    if jti.is_empty() || jti.len() > MAX_JTI_LEN {
        return Err(ProofError::Jti);
    }
    if claims.htm.as_deref() != Some(expected.method) {
        return Err(ProofError::Method);
    }
    match claims.htu.as_deref().and_then(normalise_htu) {
        Some(htu) if normalise_htu(expected.url).as_deref() == Some(htu.as_str()) => {}
        _ => return Err(ProofError::Url),
    }
    let iat = claims.iat.ok_or(ProofError::IssuedAt)?;
    if iat.abs_diff(expected.now.secs()) > expected.window_secs.unsigned_abs() {
        return Err(ProofError::IssuedAt);
    }
    if let Some(access_token) = expected.access_token
        && claims.ath.as_deref() != Some(access_token_hash(access_token).as_str())
    {
        return Err(ProofError::AccessTokenHash);
    }
    if let Some(nonces) = &expected.nonces
        && !claims.nonce.as_ref().is_some_and(|nonce| nonces.contains(nonce))
    {
        return Err(ProofError::UseNonce);
    }
    Ok(())
}

/// RFC 9449 §5: whether a refresh of `family` proved the key it is bound to (`presented`,
/// the thumbprint of the request's proof); a family bound to no key takes any request.
pub fn holds_family_key(family: &crate::Family, presented: Option<&Thumbprint>) -> bool {
    family.jkt.as_ref().is_none_or(|bound| presented == Some(bound))
}

/// The time slot a server nonce belongs to: `now` in whole `period_secs`.
pub fn nonce_slot(now: crate::Timestamp, period_secs: i64) -> i64 {
    now.secs().div_euclid(period_secs.max(1))
}

/// The server nonce of `slot`: HMAC-SHA256 of the slot under the nonce key, base64url. Every
/// instance derives the same key from the master key, so any of them accepts any one's nonce
/// with no shared state.
pub fn nonce_for(key: &[u8; 32], slot: i64) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    URL_SAFE_NO_PAD.encode(hmac::sign(&key, &slot.to_be_bytes()))
}

/// The nonces accepted at `now`: the current slot's (also the one to hand out) and the
/// previous one's, so a nonce handed out just before a slot ends still works.
pub fn accepted_nonces(key: &[u8; 32], now: crate::Timestamp, period_secs: i64) -> [String; 2] {
    let slot = nonce_slot(now, period_secs);
    [nonce_for(key, slot), nonce_for(key, slot - 1)]
}

#[cfg(test)]
#[path = "dpop_tests.rs"]
mod tests;
