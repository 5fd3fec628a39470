//! The client's proofs checked by the server's own rules (`tessera_core::dpop`) and by
//! `jsonwebtoken`'s ES256 verification, not by this crate's code.

use super::*;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use tessera_core::Timestamp;
use tessera_core::dpop::{self as rules, Expected, ProofClaims, ProofError, ProofHeader};

const NOW: u64 = 1_700_000_000;
const TOKEN_URL: &str = "http://127.0.0.1:8080/oauth/token";

fn decode_part<T: serde::de::DeserializeOwned>(part: &str) -> T {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// The server's checks of `proof`: header (typ, alg, public jwk), signature, claims. The
/// thumbprint the server computes.
fn server_checks(proof: &str, expected: &Expected<'_>) -> Result<String, ProofError> {
    let header: ProofHeader = decode_part(proof.split('.').next().unwrap());
    let jkt = rules::check_header(&header)?;
    let jwk = header.jwk.unwrap();
    let key = DecodingKey::from_ec_components(jwk.x.as_deref().unwrap(), jwk.y.as_deref().unwrap()).unwrap();
    let mut validation = Validation::new(Algorithm::ES256);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims =
        jsonwebtoken::decode::<ProofClaims>(proof, &key, &validation).map_err(|_| ProofError::Signature)?.claims;
    rules::check_claims(&claims, expected)?;
    Ok(jkt.into_string())
}

fn expected<'a>(method: &'a str, url: &'a str) -> Expected<'a> {
    Expected { method, url, now: Timestamp::from_secs(NOW as i64), window_secs: 60, access_token: None, nonces: None }
}

#[test]
fn a_proof_passes_the_servers_checks_and_names_the_keys_thumbprint() {
    let key = DpopKey::generate().unwrap();
    let proof = key.proof("POST", TOKEN_URL, NOW, None, None).unwrap();
    assert_eq!(server_checks(&proof, &expected("POST", TOKEN_URL)).unwrap(), key.thumbprint());
    let header: serde_json::Value = decode_part(proof.split('.').next().unwrap());
    assert_eq!(header["typ"], "dpop+jwt");
    assert_eq!(header["alg"], "ES256");
    assert!(header["jwk"].get("d").is_none(), "no private member in {header}");
}

#[test]
fn htu_drops_query_and_fragment_and_each_proof_has_its_own_jti() {
    let key = DpopKey::generate().unwrap();
    let first = key.proof("GET", "http://127.0.0.1:8080/api/1.0/users/me?x=1#f", NOW, None, None).unwrap();
    let second = key.proof("GET", "http://127.0.0.1:8080/api/1.0/users/me", NOW, None, None).unwrap();
    let (first, second): (serde_json::Value, serde_json::Value) =
        (decode_part(first.split('.').nth(1).unwrap()), decode_part(second.split('.').nth(1).unwrap()));
    assert_eq!(first["htu"], "http://127.0.0.1:8080/api/1.0/users/me");
    assert_ne!(first["jti"], second["jti"]);
    assert!(first.get("ath").is_none() && first.get("nonce").is_none(), "{first}");
}

#[test]
fn ath_and_nonce_are_what_the_server_expects() {
    let key = DpopKey::generate().unwrap();
    let url = "http://127.0.0.1:8080/api/1.0/users/me";
    let proof = key.proof("GET", url, NOW, Some("eyJ.access.token"), Some("n-1")).unwrap();
    let nonces = Some(["n-1".to_owned(), "n-0".to_owned()]);
    let at_resource = Expected { access_token: Some("eyJ.access.token"), nonces, ..expected("GET", url) };
    assert_eq!(server_checks(&proof, &at_resource).unwrap(), key.thumbprint());
    let other_token = Expected { access_token: Some("another"), ..at_resource.clone() };
    assert_eq!(server_checks(&proof, &other_token), Err(ProofError::AccessTokenHash));
    let other_nonce = Expected { nonces: Some(["n-2".to_owned(), "n-3".to_owned()]), ..at_resource };
    assert_eq!(server_checks(&proof, &other_nonce), Err(ProofError::UseNonce));
    assert_eq!(access_token_hash("eyJ.access.token"), rules::access_token_hash("eyJ.access.token"));
}

#[test]
fn the_pem_round_trips_to_the_same_key_and_debug_shows_no_private_key() {
    let key = DpopKey::generate().unwrap();
    let pem = key.to_pem();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "{pem}");
    let again = DpopKey::from_pem(&pem).unwrap();
    assert_eq!(again.thumbprint(), key.thumbprint());
    assert_eq!(again.public_jwk(), key.public_jwk());
    let body: String = pem.lines().filter(|line| !line.starts_with("-----")).collect();
    for debug in [format!("{key:?}"), format!("{key:#?}")] {
        assert!(debug.contains(key.thumbprint()), "{debug}");
        assert!(!debug.contains(&body[..16]) && !debug.contains("pkcs8"), "{debug}");
    }
}

#[test]
fn a_damaged_or_foreign_pem_is_refused_without_quoting_it() {
    let rows = [
        ("not PEM", "tsr_secret"),
        ("another label", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"),
        ("not PKCS#8", "-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----\n"),
    ];
    for (name, text) in rows {
        let error = DpopKey::from_pem(text).unwrap_err().to_string();
        assert!(!error.contains("tsr_secret") && !error.contains("c2VjcmV0"), "{name}: {error}");
    }
}
