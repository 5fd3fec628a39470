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
}

/// The operator's master key (`TESSERA_MASTER_KEY` or the key file), stretched with HKDF
/// into one independent key per purpose.
pub struct MasterKey {
    prk: hkdf::Prk,
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

impl MasterKey {
    pub const MIN_LEN: usize = 32;

    pub fn parse(text: &str) -> Result<Self, MasterKeyError> {
        let text = text.trim();
        if text.chars().count() < Self::MIN_LEN {
            return Err(MasterKeyError::TooShort);
        }
        let salt = hkdf::Salt::new(hkdf::HKDF_SHA256, b"tessera master key v1");
        Ok(MasterKey { prk: salt.extract(text.as_bytes()) })
    }

    /// 32 bytes of key material for one purpose; different `purpose` strings give independent keys.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        let mut out = [0u8; 32];
        let info = [purpose.as_bytes()];
        // HKDF-Expand only fails when more than 255 blocks are asked for; 32 bytes is one block.
        if let Ok(okm) = self.prk.expand(&info, KeyLength(32)) {
            let _ = okm.fill(&mut out);
        }
        out
    }

    pub fn successor_key(&self) -> SuccessorKey {
        SuccessorKey(hmac::Key::new(hmac::HMAC_SHA256, &self.derive("refresh-token successor")))
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
        assert_ne!(master().derive("a"), master().derive("b"));
    }

    #[test]
    fn hash_is_sha256_hex() {
        assert_eq!(TokenHash::of("abc").as_str(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
