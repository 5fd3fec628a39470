//! The claim rules of OpenID Connect Core §3.1.3.7 and §12.2, one row per rule (signatures are
//! tested against real and fake servers in the integration tests).

use super::*;

const NOW: u64 = 1_700_000_000;

fn claims() -> IdTokenClaims {
    IdTokenClaims {
        iss: "http://127.0.0.1:8080".into(),
        sub: "user-1".into(),
        aud: vec!["client-1".into()],
        exp: NOW + 3600,
        iat: NOW,
        auth_time: Some(NOW),
        nonce: Some("n-0S6_WzA2Mj".into()),
        azp: Some("client-1".into()),
        preferred_username: None,
        name: None,
        updated_at: None,
        email: None,
        email_verified: None,
    }
}

fn expected() -> Expected<'static> {
    Expected { issuer: "http://127.0.0.1:8080", client_id: "client-1", nonce: Some("n-0S6_WzA2Mj"), sub: None }
}

#[test]
fn each_claim_rule_refuses_its_own_violation() {
    type Change = fn(&mut IdTokenClaims, &mut Expected<'static>);
    type Check = fn(&IdTokenError) -> bool;
    let cases: &[(&str, Change, Option<Check>)] = &[
        ("as issued", |_, _| {}, None),
        ("issuer with a trailing slash", |c, _| c.iss.push('/'), None),
        (
            "another issuer",
            |c, _| c.iss = "http://evil.example".into(),
            Some(|e| matches!(e, IdTokenError::WrongIssuer { .. })),
        ),
        (
            "another audience",
            |c, _| c.aud = vec!["client-2".into()],
            Some(|e| matches!(e, IdTokenError::WrongAudience { .. })),
        ),
        ("two audiences, azp ours", |c, _| c.aud.push("api".into()), None),
        (
            "two audiences, no azp",
            |c, _| {
                c.aud.push("api".into());
                c.azp = None;
            },
            Some(|e| matches!(e, IdTokenError::WrongAuthorizedParty { .. })),
        ),
        (
            "azp another client",
            |c, _| c.azp = Some("client-2".into()),
            Some(|e| matches!(e, IdTokenError::WrongAuthorizedParty { .. })),
        ),
        ("one audience, no azp", |c, _| c.azp = None, None),
        ("expires now", |c, _| c.exp = NOW, Some(|e| matches!(e, IdTokenError::Expired { .. }))),
        ("expired", |c, _| c.exp = NOW - 1, Some(|e| matches!(e, IdTokenError::Expired { .. }))),
        ("issued within the leeway ahead", |c, _| c.iat = NOW + IAT_LEEWAY_SECONDS, None),
        (
            "issued far in the future",
            |c, _| c.iat = NOW + IAT_LEEWAY_SECONDS + 1,
            Some(|e| matches!(e, IdTokenError::ImplausibleIssueTime { .. })),
        ),
        (
            "issued after it expires",
            |c, _| {
                c.exp = NOW + 10;
                c.iat = NOW + 11;
            },
            Some(|e| matches!(e, IdTokenError::ImplausibleIssueTime { .. })),
        ),
        ("another nonce", |c, _| c.nonce = Some("other".into()), Some(|e| matches!(e, IdTokenError::NonceMismatch))),
        ("no nonce when one was sent", |c, _| c.nonce = None, Some(|e| matches!(e, IdTokenError::NonceMismatch))),
        (
            "no nonce when none was sent (refresh)",
            |c, e| {
                c.nonce = None;
                e.nonce = None;
            },
            None,
        ),
        ("refresh, same sub", |_, e| e.sub = Some("user-1"), None),
        (
            "refresh, another sub",
            |_, e| e.sub = Some("user-0"),
            Some(|e| matches!(e, IdTokenError::SubjectChanged { .. })),
        ),
    ];
    for (name, change, check) in cases {
        let (mut claims, mut expected) = (claims(), expected());
        change(&mut claims, &mut expected);
        match (check_claims(&claims, expected, NOW), check) {
            (Ok(()), None) => {}
            (Err(error), Some(check)) => assert!(check(&error), "{name}: {error:?}"),
            (outcome, _) => panic!("{name}: unexpected {outcome:?}"),
        }
    }
}

#[test]
fn a_single_audience_string_reads_as_a_list_and_the_token_is_redacted() {
    let claims: IdTokenClaims =
        serde_json::from_value(serde_json::json!({"iss": "i", "sub": "s", "aud": "c", "exp": 2, "iat": 1})).unwrap();
    assert_eq!(claims.aud, ["c"]);
    let token = IdToken::new("eyJhbGciOiJFUzI1NiJ9.secret.sig".into());
    assert_eq!(format!("{token:?}"), "IdToken([redacted])");
}

#[test]
fn none_and_hmac_are_refused_before_any_key_is_looked_up() {
    // {"alg":"HS256","kid":"k"} . {} . signature
    let hmac = "eyJhbGciOiJIUzI1NiIsImtpZCI6ImsifQ.e30.c2ln";
    assert!(matches!(key_id(hmac), Err(IdTokenError::UnsupportedAlgorithm(_))));
    // {"alg":"none"}: jsonwebtoken does not even parse it.
    let none = "eyJhbGciOiJub25lIn0.e30.";
    assert!(key_id(none).is_err());
}
