//! Remembers the claims of access tokens whose signature and claims this instance has already
//! verified, so that a token presented again skips the signature check (an ECDSA verification,
//! the most expensive step of a bearer check). Only verification is remembered, with the key
//! that signed: whether that key still verifies (it may have been revoked, or retired too long
//! ago), the token's times (against the server's clock) and revocation (through the
//! revocation cache, with its own bound) are checked on every use, so a remembered token is
//! refused as soon as it expires, its key stops verifying, or it is revoked. A token that
//! fails the time checks is never remembered.
//!
//! Entries are keyed by the SHA-256 of the token, so the cache holds no bearer token itself,
//! and live in a `quick_cache` of bounded size (S3-FIFO eviction); a token past its expiry is
//! never used again and is soon evicted.

use quick_cache::sync::Cache;
use std::sync::Arc;
use tessera_proto::AccessTokenClaims;

type TokenDigest = [u8; 32];

/// What is remembered of a verified token: the key that signed it and its claims.
#[derive(Clone)]
pub(super) struct Remembered {
    pub kid: Arc<str>,
    pub claims: Arc<AccessTokenClaims>,
}

pub(super) struct VerifiedTokens {
    claims: Cache<TokenDigest, Remembered>,
}

fn digest(token: &str) -> TokenDigest {
    let mut out = [0; 32];
    out.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, token.as_bytes()).as_ref());
    out
}

impl VerifiedTokens {
    /// At most this many tokens are remembered; older entries are evicted.
    pub const CAPACITY: usize = 10_000;

    pub fn new() -> Self {
        VerifiedTokens { claims: Cache::new(Self::CAPACITY) }
    }

    /// The key and claims of `token` if its signature and claims were verified here before.
    pub fn get(&self, token: &str) -> Option<Remembered> {
        self.claims.get(&digest(token))
    }

    /// Records that `token` verified, signed by `kid`, with these claims.
    pub fn remember(&self, token: &str, remembered: Remembered) {
        self.claims.insert(digest(token), remembered);
    }

    /// Forgets `token` (its key no longer verifies).
    pub fn forget(&self, token: &str) {
        self.claims.remove(&digest(token));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_proto::{ClientId, Jti};

    fn claims(jti: &str) -> Remembered {
        let claims = Arc::new(AccessTokenClaims {
            iss: "i".into(),
            sub: "s".into(),
            aud: "i".into(),
            client_id: ClientId::new("c"),
            scope: String::new(),
            iat: 0,
            exp: 1,
            jti: Jti::new(jti),
            fid: None,
            cnf: None,
        });
        Remembered { kid: Arc::from("kid"), claims }
    }

    #[test]
    fn only_the_exact_token_is_recognised() {
        let verified = VerifiedTokens::new();
        assert!(verified.get("a.b.c").is_none());
        verified.remember("a.b.c", claims("one"));
        assert_eq!(verified.get("a.b.c").map(|found| found.claims.jti.clone()), Some(Jti::new("one")));
        assert!(verified.get("a.b.d").is_none(), "one changed character is another token");
        assert!(verified.get("a.b.c ").is_none());
    }

    #[test]
    fn size_is_bounded() {
        let verified = VerifiedTokens::new();
        for i in 0..3 * VerifiedTokens::CAPACITY {
            verified.remember(&i.to_string(), claims("j"));
        }
        let held = verified.claims.len();
        assert!(held <= VerifiedTokens::CAPACITY + VerifiedTokens::CAPACITY / 10, "{held} entries");
    }
}
