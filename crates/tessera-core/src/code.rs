//! Redeeming an authorization code at the token endpoint (RFC 6749 §4.1.3, RFC 7636 §4.6):
//! given the stored code, the token request and `now`, decide whether the code is spent,
//! refused, or was replayed. The store applies the decision (a compare-and-set); the decision
//! itself is a pure function, tested with a fixed clock. PKCE's text rules and S256 check live
//! here too, as the authorization endpoint checks a challenge with the same rules.
//!
//! A code whose request named a DPoP key (RFC 9449 §10 `dpop_jkt`) is redeemed only with a
//! proof by that key. Any other request is refused before the code is looked at further: the
//! code is not spent, and a replay without the key revokes nothing (the thief of a bound code
//! can neither use it nor burn it, as with a bound refresh token).

use crate::dpop::Thumbprint;
use crate::time::Timestamp;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq;
use tessera_proto::{ClientId, ErrorCode};

/// RFC 7636 §4.1: 43 to 128 characters of `[A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~"`.
pub fn valid_pkce_text(text: &str) -> bool {
    (43..=128).contains(&text.len())
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// RFC 7636 §4.6 with `S256`: `BASE64URL(SHA256(verifier)) == challenge`, compared in constant time.
pub fn verify_pkce(verifier: &str, challenge: &str) -> bool {
    if !valid_pkce_text(verifier) {
        return false;
    }
    let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
    let computed = URL_SAFE_NO_PAD.encode(digest);
    computed.as_bytes().ct_eq(challenge.as_bytes()).into()
}

/// What the store knows about a presented code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IssuedCode<'a> {
    pub client_id: &'a ClientId,
    pub redirect_uri: &'a str,
    /// Whether the authorization request named `redirect_uri` (then the token request must
    /// repeat it, RFC 6749 §4.1.3).
    pub redirect_uri_given: bool,
    pub code_challenge: Option<&'a str>,
    /// The DPoP key the authorization request bound the code to (`dpop_jkt`).
    pub dpop_jkt: Option<&'a Thumbprint>,
    pub expires_at: Timestamp,
    pub used_at: Option<Timestamp>,
}

/// What the token request says about the code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeRedemption<'a> {
    pub client_id: &'a ClientId,
    pub redirect_uri: Option<&'a str>,
    pub code_verifier: Option<&'a str>,
    /// The thumbprint of the key of the request's DPoP proof, if it sent one.
    pub dpop_jkt: Option<&'a Thumbprint>,
}

/// Why a code is refused. Each is `invalid_grant` (RFC 6749 §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeRejection {
    Unknown,
    OtherClient,
    /// Used before: the tokens it granted are revoked (RFC 6749 §4.1.2).
    Replayed,
    Expired,
    RedirectUriMismatch,
    VerifierMismatch,
    /// A `code_verifier` for a code whose request had no `code_challenge`.
    UnexpectedVerifier,
    /// The code is bound to a DPoP key (`dpop_jkt`) and the request sent no proof.
    DpopProofMissing,
    /// The code is bound to a DPoP key (`dpop_jkt`) and the request's proof is by another.
    DpopKeyMismatch,
}

impl CodeRejection {
    /// The `error_description`: says what happened without echoing the request.
    pub fn description(self) -> &'static str {
        match self {
            CodeRejection::Unknown => "the code is invalid",
            CodeRejection::OtherClient => "the code was issued to another client",
            CodeRejection::Replayed => "the code was already used; the tokens it granted are revoked",
            CodeRejection::Expired => "the code has expired",
            CodeRejection::RedirectUriMismatch => "redirect_uri does not match the authorization request",
            CodeRejection::VerifierMismatch => "code_verifier does not match the code_challenge",
            CodeRejection::UnexpectedVerifier => "code_verifier sent but the authorization request had no PKCE",
            CodeRejection::DpopProofMissing => {
                "the authorization request named a DPoP key (dpop_jkt): send a DPoP proof by it"
            }
            CodeRejection::DpopKeyMismatch => {
                "the DPoP proof's key is not the one the authorization request named (dpop_jkt)"
            }
        }
    }

    pub fn error_code(self) -> ErrorCode {
        ErrorCode::InvalidGrant
    }
}

/// The outcome of presenting a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeDecision {
    /// Spend it (compare-and-set on `used_at`) and start a family.
    Redeem,
    /// Refuse; nothing changes.
    Reject(CodeRejection),
    /// Used before: revoke the family it started, then refuse with [`CodeRejection::Replayed`].
    RevokeFamily,
}

/// Decides what presenting a code does. `stored` is `None` if the store knows no such code.
///
/// The order matters: another client's code is refused before anything else, so that client
/// cannot revoke someone else's grant by replaying it; the same goes for a request without the
/// DPoP key the code is bound to; a replay is recognised even after expiry.
pub fn decide_code_redemption(
    now: Timestamp,
    stored: Option<&IssuedCode<'_>>,
    request: &CodeRedemption<'_>,
) -> CodeDecision {
    let Some(stored) = stored else { return CodeDecision::Reject(CodeRejection::Unknown) };
    if stored.client_id != request.client_id {
        return CodeDecision::Reject(CodeRejection::OtherClient);
    }
    // RFC 9449 §10: refused before anything is spent or revoked.
    if let Some(bound) = stored.dpop_jkt {
        match request.dpop_jkt {
            None => return CodeDecision::Reject(CodeRejection::DpopProofMissing),
            Some(presented) if presented != bound => return CodeDecision::Reject(CodeRejection::DpopKeyMismatch),
            Some(_) => {}
        }
    }
    if stored.used_at.is_some() {
        return CodeDecision::RevokeFamily;
    }
    if now >= stored.expires_at {
        return CodeDecision::Reject(CodeRejection::Expired);
    }
    if stored.redirect_uri_given && request.redirect_uri != Some(stored.redirect_uri) {
        return CodeDecision::Reject(CodeRejection::RedirectUriMismatch);
    }
    match (stored.code_challenge, request.code_verifier) {
        (Some(challenge), Some(verifier)) if verify_pkce(verifier, challenge) => CodeDecision::Redeem,
        (Some(_), _) => CodeDecision::Reject(CodeRejection::VerifierMismatch),
        (None, Some(_)) => CodeDecision::Reject(CodeRejection::UnexpectedVerifier),
        (None, None) => CodeDecision::Redeem,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_700_000_000_000;
    const SEC: i64 = 1000;
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    const URI: &str = "http://127.0.0.1:5555/callback";

    #[test]
    fn pkce_s256_rfc7636_appendix_b() {
        assert!(verify_pkce(VERIFIER, CHALLENGE));
        assert!(!verify_pkce("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXl", CHALLENGE));
        assert!(!verify_pkce("short", CHALLENGE));
    }

    /// (case, stored code: (used, uri given, challenge), now offset, client, redirect_uri, verifier) → decision
    type Case = (
        &'static str,
        Option<(bool, bool, Option<&'static str>)>,
        i64,
        &'static str,
        Option<&'static str>,
        Option<&'static str>,
        CodeDecision,
    );

    #[test]
    fn redemption_table() {
        let reject = CodeDecision::Reject;
        #[rustfmt::skip]
        let cases: Vec<Case> = vec![
            ("fresh, no PKCE, no uri", Some((false, false, None)), SEC, "app", None, None, CodeDecision::Redeem),
            ("fresh, PKCE, uri repeated", Some((false, true, Some(CHALLENGE))), SEC, "app", Some(URI), Some(VERIFIER), CodeDecision::Redeem),
            ("uri not given: any redirect_uri is ignored", Some((false, false, None)), SEC, "app", Some("https://x.example/"), None, CodeDecision::Redeem),
            ("unknown", None, SEC, "app", None, None, reject(CodeRejection::Unknown)),
            ("other client", Some((false, false, None)), SEC, "intruder", None, None, reject(CodeRejection::OtherClient)),
            ("other client replaying", Some((true, false, None)), SEC, "intruder", None, None, reject(CodeRejection::OtherClient)),
            ("replayed", Some((true, false, None)), SEC, "app", None, None, CodeDecision::RevokeFamily),
            ("replayed after expiry", Some((true, false, None)), 120 * SEC, "app", None, None, CodeDecision::RevokeFamily),
            ("expired (exactly at expiry)", Some((false, false, None)), 60 * SEC, "app", None, None, reject(CodeRejection::Expired)),
            ("uri given, missing", Some((false, true, None)), SEC, "app", None, None, reject(CodeRejection::RedirectUriMismatch)),
            ("uri given, different port", Some((false, true, None)), SEC, "app", Some("http://127.0.0.1:5556/callback"), None, reject(CodeRejection::RedirectUriMismatch)),
            ("PKCE, verifier missing", Some((false, false, Some(CHALLENGE))), SEC, "app", None, None, reject(CodeRejection::VerifierMismatch)),
            ("PKCE, wrong verifier", Some((false, false, Some(CHALLENGE))), SEC, "app", None, Some("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXl"), reject(CodeRejection::VerifierMismatch)),
            ("no PKCE, verifier sent", Some((false, false, None)), SEC, "app", None, Some(VERIFIER), reject(CodeRejection::UnexpectedVerifier)),
        ];
        let app = ClientId::new("app");
        for (case, stored, at, client, redirect_uri, code_verifier, expected) in cases {
            let stored = stored.map(|(used, redirect_uri_given, code_challenge)| IssuedCode {
                client_id: &app,
                redirect_uri: URI,
                redirect_uri_given,
                code_challenge,
                dpop_jkt: None,
                expires_at: Timestamp::from_millis(T0 + 60 * SEC),
                used_at: used.then_some(Timestamp::from_millis(T0)),
            });
            let client = ClientId::new(client);
            let request = CodeRedemption { client_id: &client, redirect_uri, code_verifier, dpop_jkt: None };
            let got = decide_code_redemption(Timestamp::from_millis(T0 + at), stored.as_ref(), &request);
            assert_eq!(got, expected, "case {case:?}");
        }
    }

    /// (case, the code's dpop_jkt, used, expired, the proof's key, client) → decision
    type DpopCase = (&'static str, Option<&'static str>, bool, bool, Option<&'static str>, &'static str, CodeDecision);

    /// RFC 9449 §10: a code bound to a key is redeemed only with a proof by that key; other
    /// requests are refused without spending the code, and a replay without the key revokes
    /// nothing. An unbound code takes any proof, or none.
    #[test]
    fn dpop_jkt_table() {
        const KEY: &str = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";
        const OTHER: &str = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";
        let reject = CodeDecision::Reject;
        #[rustfmt::skip]
        let cases: Vec<DpopCase> = vec![
            ("bound, the key", Some(KEY), false, false, Some(KEY), "app", CodeDecision::Redeem),
            ("bound, another key", Some(KEY), false, false, Some(OTHER), "app", reject(CodeRejection::DpopKeyMismatch)),
            ("bound, no proof", Some(KEY), false, false, None, "app", reject(CodeRejection::DpopProofMissing)),
            ("bound, replayed with the key", Some(KEY), true, false, Some(KEY), "app", CodeDecision::RevokeFamily),
            ("bound, replayed with another key: nothing revoked", Some(KEY), true, false, Some(OTHER), "app", reject(CodeRejection::DpopKeyMismatch)),
            ("bound, replayed without a proof: nothing revoked", Some(KEY), true, false, None, "app", reject(CodeRejection::DpopProofMissing)),
            ("bound, expired, the key", Some(KEY), false, true, Some(KEY), "app", reject(CodeRejection::Expired)),
            ("bound, another client", Some(KEY), false, false, Some(KEY), "intruder", reject(CodeRejection::OtherClient)),
            ("unbound, a proof", None, false, false, Some(OTHER), "app", CodeDecision::Redeem),
            ("unbound, no proof", None, false, false, None, "app", CodeDecision::Redeem),
            ("unbound, replayed with a proof", None, true, false, Some(OTHER), "app", CodeDecision::RevokeFamily),
        ];
        let app = ClientId::new("app");
        for (case, bound, used, expired, presented, client, expected) in cases {
            let bound = bound.map(|jkt| Thumbprint::from_stored(jkt.into()));
            let presented = presented.map(|jkt| Thumbprint::from_stored(jkt.into()));
            let stored = IssuedCode {
                client_id: &app,
                redirect_uri: URI,
                redirect_uri_given: true,
                code_challenge: Some(CHALLENGE),
                dpop_jkt: bound.as_ref(),
                expires_at: Timestamp::from_millis(T0 + 60 * SEC),
                used_at: used.then_some(Timestamp::from_millis(T0)),
            };
            let client = ClientId::new(client);
            let request = CodeRedemption {
                client_id: &client,
                redirect_uri: Some(URI),
                code_verifier: Some(VERIFIER),
                dpop_jkt: presented.as_ref(),
            };
            let now = Timestamp::from_millis(T0 + if expired { 60 * SEC } else { SEC });
            assert_eq!(decide_code_redemption(now, Some(&stored), &request), expected, "case {case:?}");
        }
    }

    #[test]
    fn every_rejection_is_invalid_grant() {
        assert_eq!(CodeRejection::Replayed.error_code(), ErrorCode::InvalidGrant);
    }
}
