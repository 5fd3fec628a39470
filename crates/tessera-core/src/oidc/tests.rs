//! Table tests of the OpenID Connect rules: parameters, the next step, remembered consent,
//! claims by scope, `at_hash`, and logout.
#![allow(clippy::unwrap_used, clippy::type_complexity)]

use super::claims::{Profile, SigningAlgorithm, at_hash, claims_for_scope};
use super::logout::{Hint, LogoutDecision, LogoutRequest, decide_logout};
use super::*;
use tessera_proto::{ClientId, UserId};

fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

#[test]
fn parameter_table() {
    let long_nonce = "n".repeat(MAX_NONCE_LENGTH + 1);
    let longest_nonce = "n".repeat(MAX_NONCE_LENGTH);
    let long_hint = "a".repeat(201);
    let refused = [
        (vec![("request", "eyJ...")], ErrorCode::RequestNotSupported),
        (vec![("request_uri", "https://rp.example/r")], ErrorCode::RequestUriNotSupported),
        (vec![("nonce", long_nonce.as_str())], ErrorCode::InvalidRequest),
        (vec![("nonce", "")], ErrorCode::InvalidRequest),
        (vec![("prompt", "none login")], ErrorCode::InvalidRequest),
        (vec![("prompt", "consent none")], ErrorCode::InvalidRequest),
        (vec![("prompt", "sometimes")], ErrorCode::InvalidRequest),
        (vec![("prompt", "")], ErrorCode::InvalidRequest),
        (vec![("max_age", "-1")], ErrorCode::InvalidRequest),
        (vec![("max_age", "+5")], ErrorCode::InvalidRequest),
        (vec![("max_age", "1.5")], ErrorCode::InvalidRequest),
        (vec![("max_age", "")], ErrorCode::InvalidRequest),
        (vec![("max_age", " 5")], ErrorCode::InvalidRequest),
        (vec![("max_age", "99999999999999999999999")], ErrorCode::InvalidRequest),
        (vec![("max_age", "3000000000")], ErrorCode::InvalidRequest),
    ];
    for (pairs, code) in refused {
        assert_eq!(OpenIdParameters::parse(&params(&pairs)).map_err(|(code, _)| code), Err(code), "{pairs:?}");
    }
    let accepted = [
        (vec![], OpenIdParameters::default()),
        (
            vec![("nonce", longest_nonce.as_str())],
            OpenIdParameters { nonce: Some(longest_nonce.clone()), ..Default::default() },
        ),
        (
            vec![("prompt", "none")],
            OpenIdParameters { prompt: Prompt { none: true, ..Default::default() }, ..Default::default() },
        ),
        (
            vec![("prompt", "login consent select_account")],
            OpenIdParameters { prompt: Prompt { login: true, consent: true, none: false }, ..Default::default() },
        ),
        (vec![("max_age", "0")], OpenIdParameters { max_age: Some(0), ..Default::default() }),
        (vec![("max_age", "3600")], OpenIdParameters { max_age: Some(3600), ..Default::default() }),
        (vec![("login_hint", "alice")], OpenIdParameters { login_hint: Some("alice".into()), ..Default::default() }),
        // A hint too long to be a username only pre-fills nothing.
        (vec![("login_hint", long_hint.as_str())], OpenIdParameters::default()),
    ];
    for (pairs, expected) in accepted {
        assert_eq!(OpenIdParameters::parse(&params(&pairs)), Ok(expected), "{pairs:?}");
    }
}

#[test]
fn next_step_table() {
    let now = Timestamp::from_secs(10_000);
    let read = Scope::parse("openid read").unwrap();
    let wide = Scope::parse("openid read write").unwrap();
    let prompt = |text: &str| OpenIdParameters::parse(&params(&[("prompt", text)])).unwrap();
    let max_age = |age: &str| OpenIdParameters::parse(&params(&[("max_age", age)])).unwrap();
    let plain = OpenIdParameters::default();
    let fresh = Session::Existing { auth_time: now };
    let hour_old = Session::Existing { auth_time: Timestamp::from_secs(10_000 - 3600) };
    let cases: Vec<(&str, OpenIdParameters, Session, Option<&Scope>, &Scope, NextStep)> = vec![
        ("no session", plain.clone(), Session::None, None, &read, NextStep::SignIn),
        (
            "no session, none",
            prompt("none"),
            Session::None,
            Some(&read),
            &read,
            NextStep::Refuse(ErrorCode::LoginRequired),
        ),
        ("session, no consent", plain.clone(), fresh, None, &read, NextStep::Consent),
        ("session, consent remembered", plain.clone(), fresh, Some(&read), &read, NextStep::Issue),
        ("narrower than remembered", plain.clone(), fresh, Some(&wide), &read, NextStep::Issue),
        ("wider than remembered", plain.clone(), fresh, Some(&read), &wide, NextStep::Consent),
        ("none, remembered", prompt("none"), fresh, Some(&read), &read, NextStep::Issue),
        ("none, not remembered", prompt("none"), fresh, None, &read, NextStep::Refuse(ErrorCode::ConsentRequired)),
        ("none, wider", prompt("none"), fresh, Some(&read), &wide, NextStep::Refuse(ErrorCode::ConsentRequired)),
        ("prompt=consent", prompt("consent"), fresh, Some(&read), &read, NextStep::Consent),
        ("prompt=login", prompt("login"), fresh, Some(&read), &read, NextStep::SignIn),
        ("prompt=login, just signed in", prompt("login"), Session::JustSignedIn, Some(&read), &read, NextStep::Issue),
        ("max_age=0, existing", max_age("0"), hour_old, Some(&read), &read, NextStep::SignIn),
        ("max_age=0, just signed in", max_age("0"), Session::JustSignedIn, None, &read, NextStep::Consent),
        ("max_age=0, signed in this instant", max_age("0"), fresh, Some(&read), &read, NextStep::Issue),
        ("max_age under the age", max_age("3599"), hour_old, Some(&read), &read, NextStep::SignIn),
        ("max_age at the age", max_age("3600"), hour_old, Some(&read), &read, NextStep::Issue),
        ("prompt=login consent", prompt("login consent"), Session::JustSignedIn, Some(&read), &read, NextStep::Consent),
    ];
    for (name, parameters, session, remembered, requested, expected) in cases {
        assert_eq!(next_step(&parameters, session, now, remembered, requested), expected, "{name}");
    }
    let mut stale_none = max_age("10");
    stale_none.prompt.none = true;
    assert_eq!(next_step(&stale_none, hour_old, now, Some(&read), &read), NextStep::Refuse(ErrorCode::LoginRequired));
}

#[test]
fn remembered_consent_grows() {
    let scope = |text: &str| Scope::parse(text).unwrap();
    let cases = [
        (None, "openid", "openid"),
        (Some("openid read"), "openid", "openid read"),
        (Some("openid"), "openid email", "email openid"),
        (Some(""), "", ""),
    ];
    for (before, approved, expected) in cases {
        let before = before.map(scope);
        assert_eq!(remembered_after_approval(before.as_ref(), &scope(approved)), scope(expected), "{approved}");
    }
}

#[test]
fn claims_by_scope_table() {
    let profile = Profile {
        username: "alice",
        name: Some("Alice Liddell"),
        email: Some("alice@example.test"),
        email_verified: true,
        updated_at: Timestamp::from_millis(1_700_000_000_999),
    };
    let no_email = Profile { email: None, name: None, ..profile };
    let cases = [
        ("openid", profile, serde_json::json!({})),
        (
            "openid profile",
            profile,
            serde_json::json!({"preferred_username": "alice", "name": "Alice Liddell", "updated_at": 1_700_000_000}),
        ),
        ("openid email", profile, serde_json::json!({"email": "alice@example.test", "email_verified": true})),
        (
            "openid profile email",
            no_email,
            serde_json::json!({"preferred_username": "alice", "updated_at": 1_700_000_000}),
        ),
        ("read write", profile, serde_json::json!({})),
    ];
    for (scope, profile, expected) in cases {
        let claims = claims_for_scope(&Scope::parse(scope).unwrap(), &profile);
        assert_eq!(serde_json::to_value(&claims).unwrap(), expected, "{scope}");
    }
}

/// The example of OpenID Connect Core §A.3 (an ES256/RS256 `at_hash` is the left half of a
/// SHA-256), and SHA-512 for EdDSA, checked against independently computed values.
#[test]
fn at_hash_table() {
    let cases = [
        ("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y", SigningAlgorithm::Es256, "77QmUPtjPfzWtF2AnpK9RQ"),
        ("an access token", SigningAlgorithm::Es256, "FPlcM-1UXiivOYozpUrp7Q"),
        ("an access token", SigningAlgorithm::EdDsa, "9UL8Bx6o74X3_A6XW5iK4-LmMHW0iJMLZ2YNNd2z1kc"),
    ];
    for (token, algorithm, expected) in cases {
        assert_eq!(at_hash(token, algorithm), expected, "{token} {algorithm:?}");
    }
}

#[test]
fn logout_table() {
    let app = ClientId::new("app");
    let alice = UserId::new("alice-id");
    let bob = UserId::new("bob-id");
    let registered = ["https://rp.example/bye".to_owned()];
    let valid = Hint::Valid { client_id: app.clone(), subject: alice.clone() };
    let request = |client_id, uri, registered| LogoutRequest { client_id, post_logout_redirect_uri: uri, registered };
    let bye = Some("https://rp.example/bye");
    let redirect = Some("https://rp.example/bye".to_owned());
    let cases: Vec<(&str, &Hint, LogoutRequest<'_>, Option<&UserId>, LogoutDecision)> = vec![
        (
            "valid hint, same user",
            &valid,
            request(None, bye, Some(&registered[..])),
            Some(&alice),
            LogoutDecision::LogOut { redirect: redirect.clone() },
        ),
        (
            "valid hint, no redirect",
            &valid,
            request(None, None, Some(&registered[..])),
            Some(&alice),
            LogoutDecision::LogOut { redirect: None },
        ),
        (
            "valid hint, other user",
            &valid,
            request(None, bye, Some(&registered[..])),
            Some(&bob),
            LogoutDecision::Confirm { redirect: redirect.clone() },
        ),
        (
            "valid hint, nobody signed in",
            &valid,
            request(None, bye, Some(&registered[..])),
            None,
            LogoutDecision::LogOut { redirect: redirect.clone() },
        ),
        (
            "no hint, client_id",
            &Hint::Absent,
            request(Some("app"), bye, Some(&registered[..])),
            Some(&alice),
            LogoutDecision::Confirm { redirect: redirect.clone() },
        ),
        (
            "no hint, nothing",
            &Hint::Absent,
            request(None, None, None),
            Some(&alice),
            LogoutDecision::Confirm { redirect: None },
        ),
    ];
    for (name, hint, request, user, expected) in cases {
        assert_eq!(decide_logout(hint, &request, user), expected, "{name}");
    }
    let refused: Vec<(&str, &Hint, LogoutRequest<'_>)> = vec![
        ("foreign hint", &Hint::Invalid, request(None, None, None)),
        ("hint for another client", &valid, request(Some("other"), None, Some(&registered[..]))),
        ("unregistered uri", &valid, request(None, Some("https://evil.example/"), Some(&registered[..]))),
        ("uri differs by a slash", &valid, request(None, Some("https://rp.example/bye/"), Some(&registered[..]))),
        ("uri without a client", &Hint::Absent, request(None, bye, None)),
        ("uri for an unknown client", &Hint::Absent, request(Some("ghost"), bye, None)),
    ];
    for (name, hint, request) in refused {
        assert!(matches!(decide_logout(hint, &request, Some(&alice)), LogoutDecision::Refuse(_)), "{name}");
    }
}
