//! Signing keys: generated on first start, stored encrypted under the master key, shared by
//! every instance on the database, published (public halves only) as a JWK Set.
//!
//! A key is *active* until retired by `tessera keys rotate`; the newest active key signs.
//! A retired key stays in JWKS for one access-token lifetime after retirement, until every
//! token it signed has expired.
//!
//! Keys are decrypted and parsed once, when the ring is loaded: an active key is kept as a
//! ready ring key pair (jsonwebtoken would re-parse the PKCS#8 document on every signature,
//! which for P-256 costs as much as the signature itself), and each key's verification half
//! as a jsonwebtoken `DecodingKey`.

use crate::config::SigningAlgorithm;
use crate::store::{SigningKeyRow, Store, StoreError};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tessera_core::{MasterKey, Timestamp};
use tessera_proto::{AccessTokenClaims, Jwk, JwkSet};

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
    #[error("token is signed by an unknown key")]
    UnknownKey,
    #[error("token is not an access token (typ)")]
    WrongType,
    #[error("signature or claims are invalid")]
    Invalid,
}

/// The private half of an active key, parsed once.
enum Signer {
    Es256(EcdsaKeyPair),
    EdDsa(Ed25519KeyPair),
}

/// The JOSE header of our access tokens (RFC 9068 §2.1), in jsonwebtoken's member order.
#[derive(serde::Serialize)]
struct JwsHeader<'a> {
    typ: &'static str,
    alg: &'static str,
    kid: &'a str,
}

struct LoadedKey {
    kid: String,
    algorithm: Algorithm,
    /// Present only for active keys: retired keys verify, they never sign.
    encoding: Option<Signer>,
    decoding: DecodingKey,
    jwk: Jwk,
    retired_at: Option<Timestamp>,
}

struct KeyRing {
    /// Newest first.
    keys: Vec<LoadedKey>,
}

pub struct KeyManager {
    store: Store,
    seal_key: LessSafeKey,
    rng: SystemRandom,
    issuer: String,
    ring: RwLock<Arc<KeyRing>>,
}

impl std::fmt::Debug for KeyManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyManager").field("issuer", &self.issuer).finish_non_exhaustive()
    }
}

fn seal_key(master: &MasterKey) -> Result<LessSafeKey, KeyError> {
    let unbound =
        UnboundKey::new(&CHACHA20_POLY1305, master.signing_key_encryption_key()).map_err(|_| KeyError::Generate)?;
    Ok(LessSafeKey::new(unbound))
}

fn thumbprint(canonical_json: &str) -> String {
    URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, canonical_json.as_bytes()))
}

/// Makes a new key pair and returns it as a row ready to store (private half sealed).
pub fn generate_key(
    master: &MasterKey,
    algorithm: SigningAlgorithm,
    now: Timestamp,
) -> Result<SigningKeyRow, KeyError> {
    let rng = SystemRandom::new();
    let (pkcs8, jwk) = match algorithm {
        SigningAlgorithm::Es256 => {
            let pkcs8 =
                EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).map_err(|_| KeyError::Generate)?;
            let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
                .map_err(|_| KeyError::Generate)?;
            // Uncompressed SEC1 point: 0x04 || x (32 bytes) || y (32 bytes).
            let point = pair.public_key().as_ref();
            let x = URL_SAFE_NO_PAD.encode(&point[1..33]);
            let y = URL_SAFE_NO_PAD.encode(&point[33..65]);
            // RFC 7638 §3.2: members in lexicographic order, no whitespace.
            let kid = thumbprint(&format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#));
            let jwk = Jwk {
                kty: "EC".into(),
                kid,
                use_: "sig".into(),
                alg: "ES256".into(),
                crv: Some("P-256".into()),
                x: Some(x),
                y: Some(y),
            };
            (pkcs8.as_ref().to_vec(), jwk)
        }
        SigningAlgorithm::EdDsa => {
            let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| KeyError::Generate)?;
            let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(|_| KeyError::Generate)?;
            let x = URL_SAFE_NO_PAD.encode(pair.public_key().as_ref());
            let kid = thumbprint(&format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#));
            let jwk = Jwk {
                kty: "OKP".into(),
                kid,
                use_: "sig".into(),
                alg: "EdDSA".into(),
                crv: Some("Ed25519".into()),
                x: Some(x),
                y: None,
            };
            (pkcs8.as_ref().to_vec(), jwk)
        }
    };
    let nonce_bytes = crate::random::random_bytes::<12>()?;
    let mut sealed = pkcs8;
    seal_key(master)?
        .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce_bytes), Aad::from(jwk.kid.as_bytes()), &mut sealed)
        .map_err(|_| KeyError::Generate)?;
    let mut stored = nonce_bytes.to_vec();
    stored.extend_from_slice(&sealed);
    Ok(SigningKeyRow {
        kid: jwk.kid.clone(),
        algorithm: algorithm.name().to_owned(),
        encrypted_private_key: stored,
        public_jwk: serde_json::to_string(&jwk).map_err(|_| KeyError::Generate)?,
        created_at: now,
        retired_at: None,
    })
}

fn load_key(seal: &LessSafeKey, row: &SigningKeyRow) -> Result<LoadedKey, KeyError> {
    let malformed = || KeyError::Malformed(row.kid.clone());
    let jwk: Jwk = serde_json::from_str(&row.public_jwk).map_err(|_| malformed())?;
    let (algorithm, decoding) = match row.algorithm.as_str() {
        "ES256" => (
            Algorithm::ES256,
            DecodingKey::from_ec_components(
                jwk.x.as_deref().ok_or_else(malformed)?,
                jwk.y.as_deref().ok_or_else(malformed)?,
            )
            .map_err(|_| malformed())?,
        ),
        "EdDSA" => (
            Algorithm::EdDSA,
            DecodingKey::from_ed_components(jwk.x.as_deref().ok_or_else(malformed)?).map_err(|_| malformed())?,
        ),
        _ => return Err(malformed()),
    };
    let encoding = if row.retired_at.is_none() {
        if row.encrypted_private_key.len() < 12 {
            return Err(malformed());
        }
        let (nonce, sealed) = row.encrypted_private_key.split_at(12);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| malformed())?;
        let mut buffer = sealed.to_vec();
        let pkcs8 = seal
            .open_in_place(nonce, Aad::from(row.kid.as_bytes()), &mut buffer)
            .map_err(|_| KeyError::Decrypt(row.kid.clone()))?;
        Some(match algorithm {
            Algorithm::EdDSA => {
                Signer::EdDsa(Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8).map_err(|_| malformed())?)
            }
            _ => Signer::Es256(
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8, &SystemRandom::new())
                    .map_err(|_| malformed())?,
            ),
        })
    } else {
        None
    };
    Ok(LoadedKey { kid: row.kid.clone(), algorithm, encoding, decoding, jwk, retired_at: row.retired_at })
}

impl LoadedKey {
    /// A compact JWS (RFC 7515 §7.1) of `claims`, typed `at+jwt`; `None` for a retired key.
    fn sign(&self, claims: &AccessTokenClaims, rng: &SystemRandom) -> Option<Result<String, KeyError>> {
        let signer = self.encoding.as_ref()?;
        let alg = match signer {
            Signer::Es256(_) => "ES256",
            Signer::EdDsa(_) => "EdDSA",
        };
        let failed = |what: &str| KeyError::Sign(what.to_owned());
        let signed = (|| {
            let header = serde_json::to_vec(&JwsHeader { typ: "at+jwt", alg, kid: &self.kid })
                .map_err(|_| failed("cannot encode the header"))?;
            let payload = serde_json::to_vec(claims).map_err(|_| failed("cannot encode the claims"))?;
            let mut token = URL_SAFE_NO_PAD.encode(header);
            token.push('.');
            URL_SAFE_NO_PAD.encode_string(payload, &mut token);
            let signature = match signer {
                Signer::Es256(pair) => {
                    pair.sign(rng, token.as_bytes()).map_err(|_| failed("the signature failed"))?.as_ref().to_vec()
                }
                Signer::EdDsa(pair) => pair.sign(token.as_bytes()).as_ref().to_vec(),
            };
            token.push('.');
            URL_SAFE_NO_PAD.encode_string(signature, &mut token);
            Ok(token)
        })();
        Some(signed)
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
            rng: SystemRandom::new(),
            issuer,
            ring: RwLock::new(Arc::new(KeyRing { keys: Vec::new() })),
        };
        let rows = manager.store.list_signing_keys().await?;
        if !rows.iter().any(|row| row.retired_at.is_none()) {
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

    /// The `kid` that signs new tokens.
    pub fn active_kid(&self) -> Option<String> {
        self.ring().keys.iter().find(|key| key.encoding.is_some()).map(|key| key.kid.clone())
    }

    /// Signs an RFC 9068 access token with the newest active key.
    pub fn sign(&self, claims: &AccessTokenClaims) -> Result<String, KeyError> {
        let ring = self.ring();
        ring.keys.iter().find_map(|key| key.sign(claims, &self.rng)).unwrap_or(Err(KeyError::NoActiveKey))
    }

    /// Checks signature, `typ`, `iss` and `aud`. Expiry is checked by the caller against its
    /// clock (jsonwebtoken would read the system clock).
    pub fn verify(&self, token: &str) -> Result<AccessTokenClaims, VerifyError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| VerifyError::Malformed)?;
        // RFC 9068 §4: `at+jwt`, or its full media type `application/at+jwt`.
        let typ_ok = header.typ.as_deref().is_some_and(|typ| {
            let typ = typ.strip_prefix("application/").unwrap_or(typ);
            typ.eq_ignore_ascii_case("at+jwt")
        });
        if !typ_ok {
            return Err(VerifyError::WrongType);
        }
        let kid = header.kid.ok_or(VerifyError::UnknownKey)?;
        let ring = self.ring();
        let key = ring.keys.iter().find(|key| key.kid == kid).ok_or(VerifyError::UnknownKey)?;
        if header.alg != key.algorithm {
            return Err(VerifyError::Invalid);
        }
        let mut validation = Validation::new(key.algorithm);
        validation.validate_exp = false;
        validation.required_spec_claims = ["exp", "iss", "sub", "aud"].iter().map(|c| (*c).to_owned()).collect();
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.issuer]);
        jsonwebtoken::decode::<AccessTokenClaims>(token, &key.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|_| VerifyError::Invalid)
    }

    /// Public keys that may still have live tokens: active ones, and retired ones for one
    /// access-token lifetime after retirement.
    pub fn jwks(&self, now: Timestamp, access_token_ttl: Duration) -> JwkSet {
        let ring = self.ring();
        JwkSet {
            keys: ring
                .keys
                .iter()
                .filter(|key| key.retired_at.is_none_or(|retired| retired.plus(access_token_ttl) > now))
                .map(|key| key.jwk.clone())
                .collect(),
        }
    }
}

/// `tessera keys rotate`: a new active key; the previous ones are retired (they keep
/// verifying, and stay in JWKS, until their tokens have expired).
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
    fn retired_keys_do_not_sign() {
        let master = MasterKey::parse("a master key for the key ring's own tests").unwrap();
        let mut row = generate_key(&master, SigningAlgorithm::Es256, Timestamp::from_millis(0)).unwrap();
        row.retired_at = Some(Timestamp::from_millis(1));
        let key = load_key(&seal_key(&master).unwrap(), &row).unwrap();
        assert!(key.sign(&claims(), &SystemRandom::new()).is_none());
    }
}
