//! Signing keys: generated on first start, stored encrypted under the master key, shared by
//! every instance on the database, published (public halves only) as a JWK Set.
//!
//! A key is *active* until retired by `tessera keys rotate`; the newest active key signs.
//! A retired key verifies, and stays in JWKS, for one key-refresh interval plus one
//! access-token lifetime after retirement (core's `retired_key_retention`), until every
//! token it signed has expired; then it verifies nothing. `tessera keys revoke` ends both at
//! once. Which keys verify is one rule (core's `KeyState::verifies`), for JWKS and for us.
//!
//! Keys are decrypted and parsed once, when the ring is loaded: an active key is kept as a
//! ready ring key pair (jsonwebtoken would re-parse the PKCS#8 document on every signature,
//! which for P-256 costs as much as the signature itself), and each key's verification half
//! as a jsonwebtoken `DecodingKey`.

use crate::config::SigningAlgorithm;
use crate::store::{SigningKeyRow, Store, StoreError};
use jsonwebtoken::Validation;
use ring::aead::LessSafeKey;
use ring::rand::SystemRandom;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tessera_core::{KeyState, MasterKey, Timestamp};
use tessera_proto::{AccessTokenClaims, JwkSet};

mod id_token;
mod material;
pub use material::generate_key;
use material::{LoadedKey, load_key, seal_key};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("could not generate a signing key")]
    Generate,
    #[error("signing key {0} cannot be decrypted: is TESSERA_MASTER_KEY the one the keys were created with?")]
    Decrypt(String),
    #[error("stored signing key {0} is malformed")]
    Malformed(String),
    #[error("no active signing key")]
    NoActiveKey,
    #[error("could not sign the access token: {0}")]
    Sign(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Random(#[from] crate::random::RandomError),
}

/// Why a presented JWT is not a valid access token of ours. Never shown in detail to clients.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    #[error("token is not a JWT")]
    Malformed,
    /// No key with this `kid` is loaded: it may be new (rotated by the CLI or another
    /// instance), or made up.
    #[error("token is signed by an unknown key")]
    UnknownKey { kid: String },
    /// The key is loaded but verifies nothing any more: revoked, or retired too long ago.
    #[error("token is signed by a key that was revoked or retired too long ago")]
    KeyNotUsable,
    #[error("token is not an access token (typ)")]
    WrongType,
    #[error("signature or claims are invalid")]
    Invalid,
}

/// A token whose signature, `typ`, `iss` and `aud` verified, and the key that signed it.
#[derive(Debug, Clone)]
pub struct VerifiedToken {
    pub kid: String,
    pub claims: AccessTokenClaims,
}

struct KeyRing {
    /// Newest first.
    keys: Vec<LoadedKey>,
}

pub struct KeyManager {
    store: Store,
    seal_key: LessSafeKey,
    /// For the console's rotations (a new key is sealed under it).
    master: MasterKey,
    rng: SystemRandom,
    issuer: String,
    ring: RwLock<Arc<KeyRing>>,
}

impl std::fmt::Debug for KeyManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyManager").field("issuer", &self.issuer).finish_non_exhaustive()
    }
}

impl KeyManager {
    /// Loads the keys, creating the first one if the database has no active key.
    pub async fn load(
        store: Store,
        master: &MasterKey,
        algorithm: SigningAlgorithm,
        issuer: String,
        now: Timestamp,
    ) -> Result<KeyManager, KeyError> {
        let manager = KeyManager {
            store,
            seal_key: seal_key(master)?,
            master: master.clone(),
            rng: SystemRandom::new(),
            issuer,
            ring: RwLock::new(Arc::new(KeyRing { keys: Vec::new() })),
        };
        let rows = manager.store.list_signing_keys().await?;
        if !rows.iter().any(|row| row.state() == KeyState::Active) {
            manager.store.insert_signing_key(&generate_key(master, algorithm, now)?).await?;
        }
        manager.reload().await?;
        Ok(manager)
    }

    /// Re-reads keys from the database (another instance or the CLI may have rotated).
    pub async fn reload(&self) -> Result<(), KeyError> {
        let rows = self.store.list_signing_keys().await?;
        let keys = rows.iter().map(|row| load_key(&self.seal_key, row)).collect::<Result<Vec<_>, _>>()?;
        let ring = Arc::new(KeyRing { keys });
        if let Ok(mut slot) = self.ring.write() {
            *slot = ring;
        }
        Ok(())
    }

    fn ring(&self) -> Arc<KeyRing> {
        self.ring.read().map(|ring| Arc::clone(&ring)).unwrap_or_else(|poisoned| Arc::clone(&poisoned.into_inner()))
    }

    /// The master key new signing keys are sealed under (the console's rotate and revoke).
    pub(crate) fn master_key(&self) -> &MasterKey {
        &self.master
    }

    /// The `kid` that signs new tokens.
    pub fn active_kid(&self) -> Option<String> {
        self.ring().keys.iter().find(|key| key.encoding.is_some()).map(|key| key.kid.clone())
    }

    /// Signs an RFC 9068 access token with the newest active key.
    pub fn sign(&self, claims: &AccessTokenClaims) -> Result<String, KeyError> {
        let ring = self.ring();
        ring.keys.iter().find_map(|key| key.sign(claims, &self.rng)).unwrap_or(Err(KeyError::NoActiveKey))
    }

    /// Whether a key `kid` is loaded, whatever its state.
    pub fn has_key(&self, kid: &str) -> bool {
        self.ring().keys.iter().any(|key| key.kid == kid)
    }

    /// Whether the key `kid` is loaded and still verifies at `now` (`retention`: core's
    /// `retired_key_retention`): what a token verified earlier is checked against again.
    pub fn key_verifies(&self, kid: &str, now: Timestamp, retention: Duration) -> bool {
        self.ring().keys.iter().any(|key| key.kid == kid && key.state.verifies(now, retention))
    }

    /// Checks the key (loaded, and still verifying at `now`), signature, `typ`, `iss` and
    /// `aud`. Times are checked by the caller against its clock (jsonwebtoken would read the
    /// system clock) with core's `check_token_times`.
    pub fn verify(&self, token: &str, now: Timestamp, retention: Duration) -> Result<VerifiedToken, VerifyError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| VerifyError::Malformed)?;
        // RFC 9068 §4: `at+jwt`, or its full media type `application/at+jwt`.
        let typ_ok = header.typ.as_deref().is_some_and(|typ| {
            let typ = typ.strip_prefix("application/").unwrap_or(typ);
            typ.eq_ignore_ascii_case("at+jwt")
        });
        if !typ_ok {
            return Err(VerifyError::WrongType);
        }
        let kid = header.kid.ok_or(VerifyError::Malformed)?;
        let ring = self.ring();
        let Some(key) = ring.keys.iter().find(|key| key.kid == kid) else {
            return Err(VerifyError::UnknownKey { kid });
        };
        if !key.state.verifies(now, retention) {
            return Err(VerifyError::KeyNotUsable);
        }
        if header.alg != key.algorithm {
            return Err(VerifyError::Invalid);
        }
        let mut validation = Validation::new(key.algorithm);
        validation.validate_exp = false;
        validation.required_spec_claims = ["exp", "iss", "sub", "aud"].iter().map(|c| (*c).to_owned()).collect();
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.issuer]);
        jsonwebtoken::decode::<AccessTokenClaims>(token, &key.decoding, &validation)
            .map(|data| VerifiedToken { kid, claims: data.claims })
            .map_err(|_| VerifyError::Invalid)
    }

    /// Public keys that may still have live tokens, the ones [`KeyManager::verify`] accepts:
    /// active ones, and retired ones for `retention` (core's `retired_key_retention`) after
    /// retirement; never revoked ones.
    pub fn jwks(&self, now: Timestamp, retention: Duration) -> JwkSet {
        let ring = self.ring();
        JwkSet {
            keys: ring
                .keys
                .iter()
                .filter(|key| key.state.verifies(now, retention))
                .map(|key| key.jwk.clone())
                .collect(),
        }
    }
}

/// `tessera keys rotate`: a new active key; the previous ones are retired (they keep
/// verifying, and stay in JWKS, until their tokens have expired). Revoking a key is
/// `tessera_server::admin::revoke_signing_key`.
pub async fn rotate_keys(
    store: &Store,
    master: &MasterKey,
    algorithm: SigningAlgorithm,
    now: Timestamp,
) -> Result<SigningKeyRow, KeyError> {
    let row = generate_key(master, algorithm, now)?;
    store.insert_signing_key(&row).await?;
    store.retire_signing_keys_except(&row.kid, now).await?;
    Ok(row)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::Algorithm;
    use tessera_proto::{ClientId, Jti};

    fn claims() -> AccessTokenClaims {
        AccessTokenClaims {
            iss: "http://issuer.test".into(),
            sub: "user".into(),
            aud: "http://issuer.test".into(),
            client_id: ClientId::new("client"),
            scope: "read write".into(),
            iat: 1_000,
            exp: 4_600,
            jti: Jti::new("jti"),
            fid: None,
            cnf: None,
        }
    }

    /// The JWS is written here, from a key pair parsed once at load: jsonwebtoken, an
    /// independent implementation, must accept what it signs, with the RFC 9068 header.
    #[test]
    fn tokens_signed_by_a_loaded_key_verify_with_jsonwebtoken() {
        let master = MasterKey::parse("a master key for the key ring's own tests").unwrap();
        for (algorithm, name) in
            [(SigningAlgorithm::Es256, Algorithm::ES256), (SigningAlgorithm::EdDsa, Algorithm::EdDSA)]
        {
            let row = generate_key(&master, algorithm, Timestamp::from_millis(0)).unwrap();
            let key = load_key(&seal_key(&master).unwrap(), &row).unwrap();
            let rng = SystemRandom::new();
            let first = key.sign(&claims(), &rng).unwrap().unwrap();
            let second = key.sign(&claims(), &rng).unwrap().unwrap();
            for token in [first, second] {
                let header = jsonwebtoken::decode_header(&token).unwrap();
                assert_eq!(
                    (header.alg, header.typ.as_deref(), header.kid.as_deref()),
                    (name, Some("at+jwt"), Some(row.kid.as_str()))
                );
                let mut validation = Validation::new(name);
                validation.validate_exp = false;
                validation.set_audience(&["http://issuer.test"]);
                let decoded = jsonwebtoken::decode::<AccessTokenClaims>(&token, &key.decoding, &validation).unwrap();
                assert_eq!(decoded.claims, claims());
            }
        }
    }

    #[test]
    fn retired_and_revoked_keys_do_not_sign() {
        let master = MasterKey::parse("a master key for the key ring's own tests").unwrap();
        let mut row = generate_key(&master, SigningAlgorithm::Es256, Timestamp::from_millis(0)).unwrap();
        row.retired_at = Some(Timestamp::from_millis(1));
        let key = load_key(&seal_key(&master).unwrap(), &row).unwrap();
        assert!(key.sign(&claims(), &SystemRandom::new()).is_none());
        // Revoked (and so retired): neither signs nor verifies.
        row.revoked_at = Some(Timestamp::from_millis(2));
        let key = load_key(&seal_key(&master).unwrap(), &row).unwrap();
        assert!(key.sign(&claims(), &SystemRandom::new()).is_none());
        assert!(!key.state.verifies(Timestamp::from_millis(2), Duration::from_secs(3660)));
    }
}
