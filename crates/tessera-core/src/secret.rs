//! Secrets as types: bearer tokens, client secrets, passwords and the master key.
//!
//! Every secret type prints `[redacted]` in `Debug`, is reached only through `.secret()`,
//! and is stored only as a [`TokenHash`]. Random bytes come from the caller (the core
//! does no I/O); everything else here is pure computation.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::{digest, hkdf, hmac};
use std::fmt;
use subtle::ConstantTimeEq;

macro_rules! redacted_debug {
    ($name:ident) => {
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "([redacted])"))
            }
        }
    };
}

/// SHA-256 of a secret, hex-encoded: the only form in which a token or client secret is stored.
///
/// A fast hash is safe here because every hashed value is server-generated with 256 bits of
/// entropy; user passwords, which are not, use Argon2id instead.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenHash(String);

impl TokenHash {
    pub fn of(secret: &str) -> Self {
        TokenHash(hex::encode(digest::digest(&digest::SHA256, secret.as_bytes())))
    }

    /// Wraps a hash read back from the store.
    pub fn from_stored(hex: String) -> Self {
        TokenHash(hex)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Constant-time comparison, so that response timing does not leak hash prefixes.
    pub fn matches(&self, other: &TokenHash) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

fn encode_random(prefix: &str, random: &[u8; 32]) -> String {
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(random))
}

/// A refresh token: `tsr_` + 43 base64url characters (256 bits). DESIGN.md §4.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshToken(String);
redacted_debug!(RefreshToken);

impl RefreshToken {
    pub const PREFIX: &'static str = "tsr_";

    pub fn from_random(random: &[u8; 32]) -> Self {
        RefreshToken(encode_random(Self::PREFIX, random))
    }

    /// Accepts whatever the client sent; an unknown value simply matches no stored hash.
    pub fn from_presented(text: String) -> Self {
        RefreshToken(text)
    }

    pub fn secret(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.0)
    }

    /// The successor this token rotates into: `HMAC(server key, presented token)`.
    ///
    /// Deterministic, so a retry inside the grace window gets the very same successor and the
    /// family never forks, and nothing recoverable has to be stored (DESIGN.md §4).
    pub fn successor(&self, key: &SuccessorKey) -> RefreshToken {
        let tag = hmac::sign(&key.0, self.0.as_bytes());
        let mut random = [0u8; 32];
        random.copy_from_slice(&tag.as_ref()[..32]);
        RefreshToken::from_random(&random)
    }
}

/// A personal access token: `tsp_` + 43 base64url characters.
#[derive(Clone, PartialEq, Eq)]
pub struct PersonalAccessToken(String);
redacted_debug!(PersonalAccessToken);

impl PersonalAccessToken {
    pub const PREFIX: &'static str = "tsp_";

    pub fn from_random(random: &[u8; 32]) -> Self {
        PersonalAccessToken(encode_random(Self::PREFIX, random))
    }

    pub fn secret(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.0)
    }
}

/// A confidential client's secret: `tsc_` + 43 base64url characters, shown once.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientSecret(String);
redacted_debug!(ClientSecret);

impl ClientSecret {
    pub const PREFIX: &'static str = "tsc_";

    pub fn from_random(random: &[u8; 32]) -> Self {
        ClientSecret(encode_random(Self::PREFIX, random))
    }

    pub fn from_presented(text: String) -> Self {
        ClientSecret(text)
    }

    pub fn secret(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.0)
    }

    pub fn matches(&self, stored: &TokenHash) -> bool {
        self.hash().matches(stored)
    }
}

/// A user's password, as typed. Hashed with Argon2id by the server, never stored.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);
redacted_debug!(Password);

impl Password {
    pub fn new(text: String) -> Self {
        Password(text)
    }

    pub fn secret(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MasterKeyError {
    #[error("the master key must be at least 32 characters (e.g. `openssl rand -base64 32`)")]
    TooShort,
    /// HKDF refused to expand the key. It only refuses lengths past 255 × 32 bytes, so this
    /// cannot happen for the 32-byte keys derived here; it is reported all the same, because
    /// the alternative, a key of zeros, would work silently and protect nothing.
    #[error("cannot derive the {0} key from the master key")]
    Derive(&'static str),
}

/// The operator's master key (`TESSERA_MASTER_KEY` or the key file), stretched with HKDF
/// into one independent key per purpose.
///
/// Every purpose key is derived once, by [`MasterKey::parse`], so that a failure stops the
/// server at start-up instead of handing a key of zeros to whatever asks later.
#[derive(Clone)]
pub struct MasterKey {
    successor: [u8; 32],
    browser_csrf: [u8; 32],
    signing_key_encryption: [u8; 32],
    dpop_nonce: [u8; 32],
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey([redacted])")
    }
}

struct KeyLength(usize);

impl hkdf::KeyType for KeyLength {
    fn len(&self) -> usize {
        self.0
    }
}

/// `N` bytes of HKDF-Expand output for one purpose (RFC 5869 §2.3); different `purpose`
/// strings give independent keys. The purpose strings are part of the key format: changing
/// one changes the key, and what it encrypted can no longer be read.
fn expand<const N: usize>(prk: &hkdf::Prk, purpose: &'static str) -> Result<[u8; N], MasterKeyError> {
    let mut out = [0u8; N];
    let info = [purpose.as_bytes()];
    prk.expand(&info, KeyLength(N)).and_then(|okm| okm.fill(&mut out)).map_err(|_| MasterKeyError::Derive(purpose))?;
    Ok(out)
}

impl MasterKey {
    pub const MIN_LEN: usize = 32;

    pub fn parse(text: &str) -> Result<Self, MasterKeyError> {
        let text = text.trim();
        if text.chars().count() < Self::MIN_LEN {
            return Err(MasterKeyError::TooShort);
        }
        let salt = hkdf::Salt::new(hkdf::HKDF_SHA256, b"tessera master key v1");
        let prk = salt.extract(text.as_bytes());
        Ok(MasterKey {
            successor: expand(&prk, "refresh-token successor")?,
            browser_csrf: expand(&prk, "browser csrf")?,
            signing_key_encryption: expand(&prk, "signing-key encryption")?,
            dpop_nonce: expand(&prk, "dpop nonce")?,
        })
    }

    pub fn successor_key(&self) -> SuccessorKey {
        SuccessorKey(hmac::Key::new(hmac::HMAC_SHA256, &self.successor))
    }

    /// The HMAC key of the login and consent pages' CSRF tokens.
    pub fn browser_csrf_key(&self) -> &[u8; 32] {
        &self.browser_csrf
    }

    /// The HMAC key of the DPoP server nonces (RFC 9449 §8), the same on every instance.
    pub fn dpop_nonce_key(&self) -> &[u8; 32] {
        &self.dpop_nonce
    }

    /// The key that encrypts signing keys at rest in the database.
    pub fn signing_key_encryption_key(&self) -> &[u8; 32] {
        &self.signing_key_encryption
    }
}

/// The HMAC key that derives a refresh token's successor.
pub struct SuccessorKey(hmac::Key);

impl fmt::Debug for SuccessorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SuccessorKey([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn master() -> MasterKey {
        match MasterKey::parse("0123456789abcdef0123456789abcdef") {
            Ok(key) => key,
            Err(error) => unreachable!("{error}"),
        }
    }

    #[test]
    fn refresh_token_format() {
        let token = RefreshToken::from_random(&[7u8; 32]);
        assert!(token.secret().starts_with("tsr_"));
        assert_eq!(token.secret().len(), 4 + 43);
        assert!(token.secret()[4..].bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    }

    #[test]
    fn successor_is_deterministic_and_key_bound() {
        let token = RefreshToken::from_random(&[1u8; 32]);
        let key = master().successor_key();
        assert_eq!(token.successor(&key), token.successor(&key));
        assert_ne!(token.successor(&key), token);
        let other = MasterKey::parse("another master key of enough length!!").map(|k| k.successor_key());
        assert!(matches!(other, Ok(ref k) if token.successor(k) != token.successor(&key)));
    }

    #[test]
    fn debug_never_shows_secrets() {
        let token = RefreshToken::from_random(&[9u8; 32]);
        let secret = ClientSecret::from_random(&[9u8; 32]);
        let password = Password::new("hunter2".into());
        let shown = format!("{token:?} {secret:?} {password:?} {:?}", master());
        assert!(!shown.contains(&token.secret()[4..]));
        assert!(!shown.contains("hunter2"));
        assert!(shown.contains("[redacted]"));
    }

    #[test]
    fn master_key_length() {
        assert_eq!(MasterKey::parse("short").err(), Some(MasterKeyError::TooShort));
        assert_ne!(master().browser_csrf_key(), master().signing_key_encryption_key());
    }

    /// The derived keys are part of the storage format (signing keys are encrypted with one of
    /// them): pinned to the values the previous, derive-on-demand code gave.
    #[test]
    fn derived_keys_are_stable() {
        let hex = |bytes: &[u8; 32]| bytes.iter().map(|byte| format!("{byte:02x}")).collect::<String>();
        let key = master();
        assert_eq!(hex(&key.successor), "436cf54e42cd7c1ca9079f6570be0a57d78f34ccf84f89ced7801e9354ae5f23");
        assert_eq!(hex(key.browser_csrf_key()), "82c4dcee41727a338cf0b73d1234737f33c0a5a27b2a7254417e4d904f1d65b7");
        assert_eq!(
            hex(key.signing_key_encryption_key()),
            "0f65d22609cd4cb782ed616e7c7f641d153e3d18d601513cad9293af46c564c4"
        );
    }

    /// Regression: a failed expansion used to leave the key all zeros. HKDF-SHA256 cannot
    /// expand past 255 blocks of 32 bytes, which forces the failure.
    #[test]
    fn a_failed_derivation_is_an_error_not_a_key_of_zeros() {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"salt").extract(b"input");
        assert_eq!(expand::<{ 255 * 32 + 1 }>(&prk, "probe").err(), Some(MasterKeyError::Derive("probe")));
        assert!(expand::<32>(&prk, "probe").is_ok_and(|key| key != [0u8; 32]));
    }

    #[test]
    fn hash_is_sha256_hex() {
        assert_eq!(TokenHash::of("abc").as_str(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
