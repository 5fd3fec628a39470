//! Table tests of the device grant's rules: user codes, poll decisions, the attempt limit.

#![allow(clippy::unwrap_used)]

use super::*;

#[test]
fn user_codes_are_normalised_or_refused() {
    let table: &[(&str, Option<&str>)] = &[
        ("WDJB-MJHT", Some("WDJBMJHT")),
        ("wdjb-mjht", Some("WDJBMJHT")),
        ("WDJBMJHT", Some("WDJBMJHT")),
        (" wdjb mjht ", Some("WDJBMJHT")),
        ("W-D-J-B-M-J-H-T", Some("WDJBMJHT")),
        ("WDJB-MJH", None),   // too short
        ("WDJB-MJHTX", None), // too long
        ("WDJB-MJHA", None),  // a vowel is outside the alphabet
        ("WDJB-MJH1", None),  // so is a digit
        ("WDJB-MJHÉ", None),  // and anything not ASCII
        ("", None),
        ("--------", None),
    ];
    for (typed, expected) in table {
        assert_eq!(UserCode::parse(typed).as_ref().map(UserCode::as_str), *expected, "{typed:?}");
    }
}

#[test]
fn user_codes_from_random_bytes_are_in_the_alphabet_and_display_with_a_dash() {
    let table: &[([u8; 16], &str)] = &[([0; 16], "BBBB-BBBB"), ([0xff; 16], "TQLJ-PKCV")];
    for (bytes, shown) in table {
        let code = UserCode::from_random(bytes);
        assert_eq!(code.display(), *shown);
        assert_eq!(UserCode::parse(&code.display()), Some(code.clone()));
    }
    let mut bytes = [0u8; 16];
    for seed in 0..200u8 {
        bytes[15] = seed;
        bytes[7] = seed.wrapping_mul(31);
        let code = UserCode::from_random(&bytes);
        assert_eq!(code.as_str().len(), USER_CODE_LENGTH);
        assert!(code.as_str().bytes().all(|b| USER_CODE_ALPHABET.contains(&b)));
    }
}

#[test]
fn the_alphabet_has_no_look_alikes() {
    for confusable in b"AEIOUY01258" {
        assert!(!USER_CODE_ALPHABET.contains(confusable), "{}", char::from(*confusable));
    }
    let mut sorted = USER_CODE_ALPHABET.to_vec();
    sorted.dedup();
    assert_eq!(sorted.len(), 20);
}

#[test]
fn polls_are_decided_by_status_time_and_client() {
    let client = ClientId::new("cli".to_owned());
    let other = ClientId::new("other".to_owned());
    let t = |secs| Timestamp::from_secs(secs);
    let five = Duration::from_secs(5);
    let state = |status, last_poll_at, redeemed| DeviceGrantState {
        client_id: &client,
        status,
        expires_at: t(1600),
        interval: five,
        last_poll_at,
        redeemed,
    };
    use DeviceStatus::{Approved, Denied, Pending as Open};
    use PollDecision::{Issue, Pending, Reject, SlowDown};
    let ten = Duration::from_secs(10);
    let table: &[(i64, Option<DeviceGrantState<'_>>, &ClientId, PollDecision)] = &[
        (1000, None, &client, Reject(PollRejection::Unknown)),
        (1000, Some(state(Open, None, false)), &other, Reject(PollRejection::Unknown)),
        (1000, Some(state(Approved, None, false)), &other, Reject(PollRejection::Unknown)),
        (1000, Some(state(Open, None, false)), &client, Pending),
        (1000, Some(state(Open, Some(t(995)), false)), &client, Pending),
        (1000, Some(state(Open, Some(t(996)), false)), &client, SlowDown { interval: ten }),
        (1000, Some(state(Open, Some(t(1000)), false)), &client, SlowDown { interval: ten }),
        (1000, Some(state(Approved, Some(t(999)), false)), &client, Issue),
        (1000, Some(state(Denied, Some(t(999)), false)), &client, Reject(PollRejection::Denied)),
        (1000, Some(state(Approved, None, true)), &client, Reject(PollRejection::Redeemed)),
        (1600, Some(state(Open, None, false)), &client, Reject(PollRejection::Expired)),
        (1600, Some(state(Approved, None, false)), &client, Reject(PollRejection::Expired)),
        (1599, Some(state(Approved, None, false)), &client, Issue),
    ];
    for (now, stored, asker, expected) in table {
        assert_eq!(decide_poll(t(*now), stored.as_ref(), asker), *expected, "at {now}: {stored:?} by {asker}");
    }
}

#[test]
fn a_slowed_down_client_must_keep_the_longer_interval() {
    let client = ClientId::new("cli".to_owned());
    let stored = DeviceGrantState {
        client_id: &client,
        status: DeviceStatus::Pending,
        expires_at: Timestamp::from_secs(2000),
        interval: Duration::from_secs(10),
        last_poll_at: Some(Timestamp::from_secs(1000)),
        redeemed: false,
    };
    let at = |secs| decide_poll(Timestamp::from_secs(secs), Some(&stored), &client);
    assert_eq!(at(1009), PollDecision::SlowDown { interval: Duration::from_secs(15) });
    assert_eq!(at(1010), PollDecision::Pending);
}

#[test]
fn rejections_carry_the_rfc_codes() {
    let table = [
        (PollRejection::Unknown, ErrorCode::InvalidGrant),
        (PollRejection::Redeemed, ErrorCode::InvalidGrant),
        (PollRejection::Expired, ErrorCode::ExpiredToken),
        (PollRejection::Denied, ErrorCode::AccessDenied),
    ];
    for (rejection, code) in table {
        assert_eq!(rejection.error_code(), code);
        assert!(!rejection.description().is_empty());
    }
}

#[test]
fn wrong_user_codes_are_limited_per_user_and_per_address() {
    let table = [
        (0, 0, true),
        (USER_CODE_FAILURES_PER_USER - 1, 0, true),
        (USER_CODE_FAILURES_PER_USER, 0, false),
        (0, USER_CODE_FAILURES_PER_ADDRESS - 1, true),
        (0, USER_CODE_FAILURES_PER_ADDRESS, false),
    ];
    for (user, address, allowed) in table {
        assert_eq!(user_code_attempt_allowed(user, address), allowed, "{user} {address}");
    }
}

#[test]
fn statuses_round_trip() {
    for status in [DeviceStatus::Pending, DeviceStatus::Approved, DeviceStatus::Denied] {
        assert_eq!(DeviceStatus::parse(status.as_str()), Some(status));
    }
    assert_eq!(DeviceStatus::parse("maybe"), None);
}
