//! Id tokens (OpenID Connect Core §2, §3.1.3.7): signed with the same keys as access tokens but
//! typed `JWT`, and read back as `id_token_hint` at logout. Kept apart from the access-token
//! path in `mod.rs` and `material.rs`, which it only borrows the parsed keys from.

use super::material::Signer;
use super::{KeyError, KeyManager};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, Validation};
use tessera_core::oidc::claims::SigningAlgorithm;
use tessera_proto::IdTokenClaims;

#[derive(serde::Serialize)]
struct Header<'a> {
    typ: &'static str,
    alg: &'static str,
    kid: &'a str,
}

impl KeyManager {
    /// Signs the id token that `claims` builds, given the algorithm of the newest active key
    /// (the claims' `at_hash` depends on it).
    pub fn sign_id_token(&self, claims: impl FnOnce(SigningAlgorithm) -> IdTokenClaims) -> Result<String, KeyError> {
        let ring = self.ring();
        let Some((key, signer)) = ring.keys.iter().find_map(|key| key.encoding.as_ref().map(|signer| (key, signer)))
        else {
            return Err(KeyError::NoActiveKey);
        };
        let (alg, algorithm) = match signer {
            Signer::Es256(_) => ("ES256", SigningAlgorithm::Es256),
            Signer::EdDsa(_) => ("EdDSA", SigningAlgorithm::EdDsa),
        };
        let failed = |what: &str| KeyError::Sign(what.to_owned());
        let header = serde_json::to_vec(&Header { typ: "JWT", alg, kid: &key.kid })
            .map_err(|_| failed("cannot encode the header"))?;
        let payload = serde_json::to_vec(&claims(algorithm)).map_err(|_| failed("cannot encode the claims"))?;
        let mut token = URL_SAFE_NO_PAD.encode(header);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(payload, &mut token);
        let signature = match signer {
            Signer::Es256(pair) => {
                pair.sign(&self.rng, token.as_bytes()).map_err(|_| failed("the signature failed"))?.as_ref().to_vec()
            }
            Signer::EdDsa(pair) => pair.sign(token.as_bytes()).as_ref().to_vec(),
        };
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut token);
        Ok(token)
    }

    /// The claims of an id token this server signed, for `id_token_hint` (RP-Initiated Logout
    /// 1.0 §2): signature, `iss` and the id-token type are checked; expiry is not (an expired
    /// id token is still a good hint), and the audience is the caller's to compare.
    pub fn read_id_token_hint(&self, token: &str) -> Option<IdTokenClaims> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        // Never let an access token (`at+jwt`) pass for an id token.
        if header.typ.as_deref().is_some_and(|typ| !typ.eq_ignore_ascii_case("JWT")) {
            return None;
        }
        let kid = header.kid?;
        let ring = self.ring();
        let key = ring.keys.iter().find(|key| key.kid == kid)?;
        if header.alg != key.algorithm || !matches!(key.algorithm, Algorithm::ES256 | Algorithm::EdDSA) {
            return None;
        }
        let mut validation = Validation::new(key.algorithm);
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.required_spec_claims = ["iss", "sub", "aud"].iter().map(|claim| (*claim).to_owned()).collect();
        validation.set_issuer(&[&self.issuer]);
        jsonwebtoken::decode::<IdTokenClaims>(token, &key.decoding, &validation).ok().map(|data| data.claims)
    }
}
