//! Table tests of the DPoP rules (RFC 9449), with the RFC's own examples where it has them.

use super::*;
use crate::Timestamp;

/// RFC 9449 §4.1's example key; §6.1 gives its thumbprint.
fn rfc_jwk() -> ProofJwk {
    ProofJwk {
        kty: "EC".into(),
        crv: Some("P-256".into()),
        x: Some("l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs".into()),
        y: Some("9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA".into()),
        ..ProofJwk::default()
    }
}

fn header() -> ProofHeader {
    ProofHeader { typ: Some("dpop+jwt".into()), alg: "ES256".into(), jwk: Some(rfc_jwk()) }
}

#[test]
fn the_rfc_example_key_has_the_rfc_thumbprint() {
    assert_eq!(
        check_header(&header()).map(Thumbprint::into_string).as_deref(),
        Ok("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I")
    );
}

#[test]
fn dpop_jkt_parsing_table() {
    let rfc = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";
    let rows: &[(&str, String, bool)] = &[
        ("RFC 9449 §6.1's thumbprint", rfc.into(), true),
        ("padded", format!("{rfc}="), false),
        ("one character short", rfc[..42].into(), false),
        ("one character long", format!("{rfc}A"), false),
        ("base64, not base64url", rfc.replace('-', "+"), false),
        ("unused bits not zero", format!("{}J", &rfc[..42]), false),
        ("a space", format!(" {}", &rfc[1..]), false),
        ("empty", String::new(), false),
        ("a SHA-1 digest's length", "2jmj7l5rSw0yVb_vlWAYkK_YBwk".into(), false),
    ];
    for (name, text, ok) in rows {
        let parsed = Thumbprint::parse(text);
        assert_eq!(parsed.is_some(), *ok, "{name}: {text:?}");
        if let Some(parsed) = parsed {
            assert_eq!(parsed.as_str(), text, "{name}: kept as sent");
        }
    }
}

#[test]
fn ath_is_the_rfc_example() {
    assert_eq!(
        access_token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
        "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
    );
}

#[test]
fn header_rules() {
    type Edit = fn(&mut ProofHeader);
    let rows: &[(&str, Edit, Option<ProofError>)] = &[
        ("as given", |_| {}, None),
        ("no typ", |h| h.typ = None, Some(ProofError::WrongType)),
        ("typ JWT", |h| h.typ = Some("JWT".into()), Some(ProofError::WrongType)),
        ("alg none", |h| h.alg = "none".into(), Some(ProofError::Algorithm)),
        ("alg HS256", |h| h.alg = "HS256".into(), Some(ProofError::Algorithm)),
        ("alg RS256", |h| h.alg = "RS256".into(), Some(ProofError::Algorithm)),
        ("no jwk", |h| h.jwk = None, Some(ProofError::Key)),
        ("EC key with EdDSA", |h| h.alg = "EdDSA".into(), Some(ProofError::Key)),
        ("private d", |h| h.jwk.as_mut().map_or((), |k| k.d = Some("AAAA".into())), Some(ProofError::PrivateKey)),
        ("symmetric k", |h| h.jwk.as_mut().map_or((), |k| k.k = Some("AAAA".into())), Some(ProofError::PrivateKey)),
        ("no y", |h| h.jwk.as_mut().map_or((), |k| k.y = None), Some(ProofError::Key)),
        ("x not base64url", |h| h.jwk.as_mut().map_or((), |k| k.x = Some("a\"b".into())), Some(ProofError::Key)),
        ("P-384", |h| h.jwk.as_mut().map_or((), |k| k.crv = Some("P-384".into())), Some(ProofError::Key)),
        (
            "Ed25519 with EdDSA",
            |h| {
                h.alg = "EdDSA".into();
                h.jwk = Some(ProofJwk {
                    kty: "OKP".into(),
                    crv: Some("Ed25519".into()),
                    x: Some("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo".into()),
                    ..ProofJwk::default()
                });
            },
            None,
        ),
    ];
    for (name, edit, expected) in rows {
        let mut h = header();
        edit(&mut h);
        assert_eq!(check_header(&h).err(), *expected, "{name}");
    }
}

#[test]
fn okp_thumbprint_is_rfc_8037_example() {
    // RFC 8037 Appendix A.3: the thumbprint of the example Ed25519 public key.
    let h = ProofHeader {
        typ: Some("dpop+jwt".into()),
        alg: "EdDSA".into(),
        jwk: Some(ProofJwk {
            kty: "OKP".into(),
            crv: Some("Ed25519".into()),
            x: Some("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo".into()),
            ..ProofJwk::default()
        }),
    };
    assert_eq!(
        check_header(&h).map(Thumbprint::into_string).as_deref(),
        Ok("kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k")
    );
}

const URL: &str = "https://server.example.com/oauth/token";
const NOW: i64 = 1_700_000_000;

fn claims() -> ProofClaims {
    ProofClaims {
        jti: Some("e1j3V_bKic8-LAEB".into()),
        htm: Some("POST".into()),
        htu: Some(URL.into()),
        iat: Some(NOW),
        ath: None,
        nonce: None,
    }
}

fn expected() -> Expected<'static> {
    Expected {
        method: "POST",
        url: URL,
        now: Timestamp::from_secs(NOW),
        window_secs: 60,
        access_token: None,
        nonces: None,
    }
}

#[test]
fn claim_rules() {
    type Edit = fn(&mut ProofClaims, &mut Expected<'static>);
    let rows: &[(&str, Edit, Option<ProofError>)] = &[
        ("as given", |_, _| {}, None),
        ("no jti", |c, _| c.jti = None, Some(ProofError::Jti)),
        ("empty jti", |c, _| c.jti = Some(String::new()), Some(ProofError::Jti)),
        ("long jti", |c, _| c.jti = Some("j".repeat(MAX_JTI_LEN + 1)), Some(ProofError::Jti)),
        ("htm GET", |c, _| c.htm = Some("GET".into()), Some(ProofError::Method)),
        ("htm post", |c, _| c.htm = Some("post".into()), Some(ProofError::Method)),
        ("no htm", |c, _| c.htm = None, Some(ProofError::Method)),
        (
            "htu other path",
            |c, _| c.htu = Some("https://server.example.com/oauth/revoke".into()),
            Some(ProofError::Url),
        ),
        ("htu other host", |c, _| c.htu = Some("https://evil.example/oauth/token".into()), Some(ProofError::Url)),
        ("htu http", |c, _| c.htu = Some("http://server.example.com/oauth/token".into()), Some(ProofError::Url)),
        ("htu not a URL", |c, _| c.htu = Some("/oauth/token".into()), Some(ProofError::Url)),
        ("htu with query and fragment", |c, _| c.htu = Some(format!("{URL}?a=b#c")), None),
        (
            "htu upper-case host, default port",
            |c, _| c.htu = Some("https://SERVER.example.com:443/oauth/token".into()),
            None,
        ),
        ("iat 60 s old", |c, _| c.iat = Some(NOW - 60), None),
        ("iat 61 s old", |c, _| c.iat = Some(NOW - 61), Some(ProofError::IssuedAt)),
        ("iat 61 s ahead", |c, _| c.iat = Some(NOW + 61), Some(ProofError::IssuedAt)),
        ("no iat", |c, _| c.iat = None, Some(ProofError::IssuedAt)),
        ("ath required, missing", |_, e| e.access_token = Some("token"), Some(ProofError::AccessTokenHash)),
        (
            "ath of another token",
            |c, e| {
                e.access_token = Some("token");
                c.ath = Some(access_token_hash("other"));
            },
            Some(ProofError::AccessTokenHash),
        ),
        (
            "ath matches",
            |c, e| {
                e.access_token = Some("token");
                c.ath = Some(access_token_hash("token"));
            },
            None,
        ),
        ("nonce required, missing", |_, e| e.nonces = Some(["n1".into(), "n0".into()]), Some(ProofError::UseNonce)),
        (
            "stale nonce",
            |c, e| {
                e.nonces = Some(["n1".into(), "n0".into()]);
                c.nonce = Some("old".into());
            },
            Some(ProofError::UseNonce),
        ),
        (
            "previous slot's nonce",
            |c, e| {
                e.nonces = Some(["n1".into(), "n0".into()]);
                c.nonce = Some("n0".into());
            },
            None,
        ),
    ];
    for (name, edit, error) in rows {
        let (mut c, mut e) = (claims(), expected());
        edit(&mut c, &mut e);
        assert_eq!(check_claims(&c, &e).err(), *error, "{name}");
    }
}

#[test]
fn error_codes() {
    assert_eq!(ProofError::UseNonce.error_code().as_str(), "use_dpop_nonce");
    assert_eq!(ProofError::Replayed.error_code().as_str(), "invalid_dpop_proof");
}

#[test]
fn nonces_rotate_by_slot_and_the_previous_one_is_accepted() {
    let key = [7u8; 32];
    let at = |secs| Timestamp::from_secs(secs);
    let [current, previous] = accepted_nonces(&key, at(1_000), 300);
    assert_ne!(current, previous);
    assert_eq!(accepted_nonces(&key, at(1_199), 300)[0], current, "same slot");
    let next = accepted_nonces(&key, at(1_200), 300);
    assert_eq!(next[1], current, "the previous slot's nonce is still accepted");
    assert_ne!(next[0], current);
    assert_ne!(accepted_nonces(&[8u8; 32], at(1_000), 300)[0], current, "another key, another nonce");
}
