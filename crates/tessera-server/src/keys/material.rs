//! Key material: generating a key pair (its private half sealed under the master key), opening
//! and parsing a stored key once, and signing an access token with it.

use super::KeyError;
use crate::config::SigningAlgorithm;
use crate::store::SigningKeyRow;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey};
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair};
use tessera_core::{KeyState, MasterKey, Timestamp};
use tessera_proto::{AccessTokenClaims, Jwk};

/// The private half of an active key, parsed once.
pub(super) enum Signer {
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

pub(super) struct LoadedKey {
    pub(super) kid: String,
    pub(super) algorithm: Algorithm,
    /// Present only for active keys: retired keys verify (for a while), they never sign.
    pub(super) encoding: Option<Signer>,
    pub(super) decoding: DecodingKey,
    pub(super) jwk: Jwk,
    pub(super) state: KeyState,
}

pub(super) fn seal_key(master: &MasterKey) -> Result<LessSafeKey, KeyError> {
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
        revoked_at: None,
    })
}

pub(super) fn load_key(seal: &LessSafeKey, row: &SigningKeyRow) -> Result<LoadedKey, KeyError> {
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
    let encoding = if row.state() == KeyState::Active {
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
    Ok(LoadedKey { kid: row.kid.clone(), algorithm, encoding, decoding, jwk, state: row.state() })
}

impl LoadedKey {
    /// A compact JWS (RFC 7515 §7.1) of `claims`, typed `at+jwt`; `None` for a retired key.
    pub(super) fn sign(&self, claims: &AccessTokenClaims, rng: &SystemRandom) -> Option<Result<String, KeyError>> {
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
