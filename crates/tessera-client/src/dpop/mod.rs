//! DPoP (RFC 9449) on the client: the profile's P-256 key (ES256; generated and used with
//! `ring`, kept as PKCS#8 in PEM), its public JWK and RFC 7638 thumbprint, and the proofs it
//! signs. The private key is never printed: `Debug` shows the thumbprint only.

pub(crate) mod transport;

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use oauth2::url::Url;
use ring::digest::{SHA256, digest};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};

/// The PEM label of the key file (RFC 7468 §10: an unencrypted PKCS#8 private key).
const PEM_TAG: &str = "PRIVATE KEY";

/// Why a DPoP key cannot be made, read or used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DpopKeyError(String);

/// A DPoP key: an ECDSA P-256 key pair that signs proofs with ES256 (RFC 9449 §4.2). Clones
/// share one key. `Debug` prints the thumbprint, never the private key.
#[derive(Clone)]
pub struct DpopKey {
    inner: Arc<Inner>,
}

struct Inner {
    pair: EcdsaKeyPair,
    /// The PKCS#8 document, kept to write the key file.
    pkcs8: Vec<u8>,
    /// The public point's coordinates, base64url (RFC 7518 §6.2.1.2–3).
    x: String,
    y: String,
    thumbprint: String,
}

impl fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpopKey").field("alg", &"ES256").field("jkt", &self.inner.thumbprint).finish_non_exhaustive()
    }
}

impl DpopKey {
    /// A new random key.
    pub fn generate() -> Result<Self, DpopKeyError> {
        let document = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
            .map_err(|_| DpopKeyError("cannot generate a P-256 key".into()))?;
        Self::from_pkcs8(document.as_ref().to_vec())
    }

    /// The key of a PKCS#8 document (DER).
    fn from_pkcs8(pkcs8: Vec<u8>) -> Result<Self, DpopKeyError> {
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8, &SystemRandom::new())
            .map_err(|error| DpopKeyError(format!("not a P-256 private key in PKCS#8 ({error})")))?;
        // An uncompressed point: 0x04, then x and y of 32 bytes each (SEC 1 §2.3.3).
        let point = pair.public_key().as_ref();
        let (Some(&0x04), Some(x), Some(y)) = (point.first(), point.get(1..33), point.get(33..65)) else {
            return Err(DpopKeyError("the public key is not an uncompressed P-256 point".into()));
        };
        let (x, y) = (URL_SAFE_NO_PAD.encode(x), URL_SAFE_NO_PAD.encode(y));
        // RFC 7638 §3.2: the required members only, in lexicographic order, no whitespace.
        let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        let thumbprint = URL_SAFE_NO_PAD.encode(digest(&SHA256, canonical.as_bytes()));
        Ok(Self { inner: Arc::new(Inner { pair, pkcs8, x, y, thumbprint }) })
    }

    /// The key of a PEM file as [`to_pem`](Self::to_pem) writes it (and `openssl genpkey
    /// -algorithm EC -pkeyopt ec_paramgen_curve:P-256` does).
    pub fn from_pem(text: &str) -> Result<Self, DpopKeyError> {
        let parsed = pem::parse(text).map_err(|_| DpopKeyError("not a PEM file".into()))?;
        if parsed.tag() != PEM_TAG {
            return Err(DpopKeyError(format!("a PEM {:?} block, not {PEM_TAG:?}", parsed.tag())));
        }
        Self::from_pkcs8(parsed.into_contents())
    }

    /// The private key as PKCS#8 in PEM: what the key file holds. Keep it as secret as the
    /// refresh token.
    pub fn to_pem(&self) -> String {
        pem::encode(&pem::Pem::new(PEM_TAG, self.inner.pkcs8.clone()))
    }

    /// The JWK SHA-256 thumbprint (RFC 7638), base64url: what a bound token's `cnf.jkt` holds.
    pub fn thumbprint(&self) -> &str {
        &self.inner.thumbprint
    }

    /// The public key as a JWK (RFC 7517), as proofs carry it in their header.
    pub fn public_jwk(&self) -> serde_json::Value {
        serde_json::json!({ "kty": "EC", "crv": "P-256", "x": self.inner.x, "y": self.inner.y })
    }

    /// A DPoP proof (RFC 9449 §4.2) for a request with `method` to `url` at `iat` (Unix
    /// seconds): `htu` is `url` without its query and fragment (§4.3 check 9), `jti` 128 random
    /// bits, `ath` the hash of `access_token` when one is presented to a resource (§7.1), and
    /// `nonce` the server's (§8, §9).
    pub fn proof(
        &self,
        method: &str,
        url: &str,
        iat: u64,
        access_token: Option<&str>,
        nonce: Option<&str>,
    ) -> Result<String, DpopKeyError> {
        let mut htu = Url::parse(url).map_err(|error| DpopKeyError(format!("{url:?} is not a URL: {error}")))?;
        htu.set_query(None);
        htu.set_fragment(None);
        let rng = SystemRandom::new();
        let mut jti = [0u8; 16];
        rng.fill(&mut jti).map_err(|_| DpopKeyError("no randomness for the proof's jti".into()))?;
        let header = serde_json::json!({ "typ": "dpop+jwt", "alg": "ES256", "jwk": self.public_jwk() });
        let mut claims = serde_json::json!({
            "jti": URL_SAFE_NO_PAD.encode(jti),
            "htm": method,
            "htu": htu.as_str(),
            "iat": iat,
        });
        if let Some(access_token) = access_token {
            claims["ath"] = access_token_hash(access_token).into();
        }
        if let Some(nonce) = nonce {
            claims["nonce"] = nonce.into();
        }
        let signing_input =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
        // ES256 in a JWS is R || S, 32 bytes each (RFC 7518 §3.4): ring's "fixed" encoding.
        let signature = self
            .inner
            .pair
            .sign(&rng, signing_input.as_bytes())
            .map_err(|_| DpopKeyError("cannot sign the DPoP proof".into()))?;
        Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref())))
    }
}

/// `ath` (RFC 9449 §4.2): base64url of the SHA-256 of the access token.
pub fn access_token_hash(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest(&SHA256, access_token.as_bytes()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;
