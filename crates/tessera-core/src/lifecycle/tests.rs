//! Table tests of the refresh-token decision and the liveness rule.

use super::*;

const SEC: i64 = 1000;
const DAY: i64 = 86_400 * SEC;
const T0: i64 = 1_700_000_000_000;

fn scope(text: &str) -> Scope {
    Scope::parse(text).unwrap_or_default()
}

fn family(revoked: bool) -> Family {
    Family {
        id: FamilyId::new("fam"),
        client_id: ClientId::new("app"),
        user_id: UserId::new("u1"),
        scope: scope("read write"),
        created_at: Timestamp::from_millis(T0),
        expires_at: Timestamp::from_millis(T0 + 90 * DAY),
        revoked_at: revoked.then_some(Timestamp::from_millis(T0 + DAY)),
        jkt: None,
    }
}

fn token(used_at: Option<i64>, successor_used: bool) -> StoredRefreshToken {
    StoredRefreshToken {
        family_id: FamilyId::new("fam"),
        created_at: Timestamp::from_millis(T0),
        idle_expires_at: Timestamp::from_millis(T0 + 30 * DAY),
        used_at: used_at.map(|offset| Timestamp::from_millis(T0 + offset)),
        successor_used,
    }
}

fn rotate<'a>(family: &'a Family, at: i64, access: &str) -> RefreshDecision<'a> {
    RefreshDecision::Rotate {
        family,
        successor_idle_expires_at: Timestamp::from_millis((T0 + at + 30 * DAY).min(T0 + 90 * DAY)),
        access_scope: scope(access),
    }
}

/// (case, token state, family revoked, now offset, client, requested scope, expected decision)
type Case<'a> =
    (&'static str, Option<StoredRefreshToken>, bool, i64, &'static str, Option<&'static str>, RefreshDecision<'a>);

#[test]
fn decision_table() {
    let policy = RefreshPolicy::default();
    let reject = RefreshDecision::Reject;
    let live = family(false);
    let fam = &live;
    let replay = |access: &str| RefreshDecision::Replay { family: fam, access_scope: scope(access) };
    let revoke = RefreshDecision::RevokeFamily(fam);
    // (case, token state, family revoked, now offset, client, requested scope) → decision
    #[rustfmt::skip]
    let cases: Vec<Case> = vec![
        ("fresh", Some(token(None, false)), false, SEC, "app", None, rotate(fam, SEC, "read write")),
        ("fresh, a day before idle expiry", Some(token(None, false)), false, 29 * DAY, "app", None, rotate(fam, 29 * DAY, "read write")),
        ("unknown token", None, false, SEC, "app", None, reject(RefreshRejection::UnknownToken)),
        ("in grace", Some(token(Some(SEC), false)), false, 20 * SEC, "app", None, replay("read write")),
        ("grace edge (exactly 30 s)", Some(token(Some(SEC), false)), false, 31 * SEC, "app", None, replay("read write")),
        ("grace expired", Some(token(Some(SEC), false)), false, 32 * SEC, "app", None, revoke.clone()),
        ("successor already used", Some(token(Some(SEC), true)), false, 2 * SEC, "app", None, revoke.clone()),
        ("idle-expired", Some(token(None, false)), false, 30 * DAY, "app", None, reject(RefreshRejection::IdleExpired)),
        ("family-expired", Some(token(None, false)), false, 90 * DAY, "app", None, reject(RefreshRejection::FamilyExpired)),
        ("revoked", Some(token(None, false)), true, SEC, "app", None, reject(RefreshRejection::FamilyRevoked)),
        ("revoked, spent token", Some(token(Some(SEC), false)), true, 2 * SEC, "app", None, reject(RefreshRejection::FamilyRevoked)),
        ("other client", Some(token(None, false)), false, SEC, "intruder", None, reject(RefreshRejection::OtherClient)),
        ("other client, spent token", Some(token(Some(SEC), false)), false, DAY, "intruder", None, reject(RefreshRejection::OtherClient)),
        ("narrower scope", Some(token(None, false)), false, SEC, "app", Some("read"), rotate(fam, SEC, "read")),
        ("empty scope keeps grant", Some(token(None, false)), false, SEC, "app", Some(""), rotate(fam, SEC, "read write")),
        ("wider scope", Some(token(None, false)), false, SEC, "app", Some("read admin"), reject(RefreshRejection::WiderScope)),
        ("narrower scope in grace", Some(token(Some(SEC), false)), false, 2 * SEC, "app", Some("write"), replay("write")),
        ("wider scope on reuse still revokes", Some(token(Some(SEC), false)), false, DAY, "app", Some("admin"), revoke.clone()),
    ];
    let revoked_family = family(true);
    for (case, stored, revoked, at, client, requested, expected) in cases {
        let family = if revoked { &revoked_family } else { fam };
        let requested = requested.map(scope);
        let got = decide_refresh(
            &policy,
            Timestamp::from_millis(T0 + at),
            stored.as_ref().map(|token| (token, family)),
            &ClientId::new(client),
            requested.as_ref(),
        );
        assert_eq!(got, expected, "case {case:?}");
    }
}

#[test]
fn zero_grace_turns_replay_into_reuse() {
    let policy = RefreshPolicy { grace: Duration::ZERO, ..RefreshPolicy::default() };
    let fam = family(false);
    let spent = token(Some(SEC), false);
    let got =
        decide_refresh(&policy, Timestamp::from_millis(T0 + SEC), Some((&spent, &fam)), &ClientId::new("app"), None);
    assert_eq!(got, RefreshDecision::RevokeFamily(&fam));
}

#[test]
fn rejection_error_codes() {
    assert_eq!(RefreshRejection::WiderScope.error_code(), ErrorCode::InvalidScope);
    assert_eq!(RefreshRejection::Reused.error_code(), ErrorCode::InvalidGrant);
    assert_eq!(RefreshRejection::UnknownToken.error_code(), ErrorCode::InvalidGrant);
}

/// Introspection's `active` and refresh's decision come from the same state: a token is
/// active exactly when presenting it by its own client, without a scope, would rotate it.
#[test]
fn active_exactly_when_refresh_would_rotate() {
    let policy = RefreshPolicy::default();
    let live = family(false);
    let revoked = family(true);
    let app = ClientId::new("app");
    for (stored, fam) in [(token(None, false), &live), (token(None, false), &revoked), (token(Some(SEC), false), &live)]
    {
        for at in [SEC, 2 * SEC, 29 * DAY, 30 * DAY, 90 * DAY] {
            let now = Timestamp::from_millis(T0 + at);
            let rotates = matches!(
                decide_refresh(&policy, now, Some((&stored, fam)), &app, None),
                RefreshDecision::Rotate { .. }
            );
            assert_eq!(stored.is_active(fam, now), rotates, "{stored:?} at {at}");
        }
    }
    assert_eq!(token(None, false).expires_at(&live), Timestamp::from_millis(T0 + 30 * DAY));
}

#[test]
fn successor_idle_expiry_is_capped_by_family() {
    let policy = RefreshPolicy::default();
    let fam = family(false);
    let near_end = Timestamp::from_millis(T0 + 80 * DAY);
    assert_eq!(policy.idle_expiry(near_end, &fam), fam.expires_at);
}
