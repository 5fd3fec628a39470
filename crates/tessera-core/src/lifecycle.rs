//! The refresh-token lifecycle (DESIGN.md §4): given a presented token's stored state, its
//! family, the requesting client and `now`, decide what happens. The store then applies the
//! decision atomically; the decision itself is a pure function, tested with a fixed clock.

use crate::scope::Scope;
use crate::time::Timestamp;
use std::time::Duration;

/// Lifetimes of the refresh-token lifecycle, from configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshPolicy {
    /// A refresh token unused this long expires (`TESSERA_REFRESH_IDLE_TTL`).
    pub idle_ttl: Duration,
    /// A family expires this long after it began, however active (`TESSERA_REFRESH_MAX_TTL`).
    pub max_ttl: Duration,
    /// How long after a rotation the same token may be presented again and receive the same
    /// successor (`TESSERA_REFRESH_GRACE`); zero turns the window off.
    pub grace: Duration,
}

impl Default for RefreshPolicy {
    fn default() -> Self {
        RefreshPolicy {
            idle_ttl: Duration::from_secs(30 * 86_400),
            max_ttl: Duration::from_secs(90 * 86_400),
            grace: Duration::from_secs(30),
        }
    }
}

impl RefreshPolicy {
    /// When a token issued at `now` into `family` stops being usable for lack of use.
    pub fn idle_expiry(&self, now: Timestamp, family: &Family) -> Timestamp {
        now.plus(self.idle_ttl).min(family.expires_at)
    }

    /// When a family begun at `now` ends, however active.
    pub fn family_expiry(&self, now: Timestamp) -> Timestamp {
        now.plus(self.max_ttl)
    }
}

/// A refresh-token family: every token rotated from one grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Family {
    pub id: String,
    pub client_id: String,
    pub user_id: String,
    /// The scope originally granted; refreshes may narrow their access tokens, never this.
    pub scope: Scope,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

/// What the store knows about one presented refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRefreshToken {
    pub family_id: String,
    pub created_at: Timestamp,
    pub idle_expires_at: Timestamp,
    /// When it was rotated; `None` while it is the family's live token.
    pub used_at: Option<Timestamp>,
    /// Whether its successor has itself been rotated (only meaningful once `used_at` is set).
    pub successor_used: bool,
}

/// Why a refresh is refused. Each maps to `invalid_grant` except [`RefreshRejection::WiderScope`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshRejection {
    UnknownToken,
    OtherClient,
    FamilyRevoked,
    FamilyExpired,
    IdleExpired,
    /// A spent token came back outside the grace window, or after its successor was used.
    Reused,
    /// RFC 6749 §6: the requested scope must not include any scope not originally granted.
    WiderScope,
}

impl RefreshRejection {
    /// The `error_description`: says what happened without saying anything secret.
    pub fn description(self) -> &'static str {
        match self {
            RefreshRejection::UnknownToken => "the refresh token is invalid",
            RefreshRejection::OtherClient => "the refresh token was issued to another client",
            RefreshRejection::FamilyRevoked => "the refresh token has been revoked",
            RefreshRejection::FamilyExpired => "the refresh token has expired (maximum lifetime)",
            RefreshRejection::IdleExpired => "the refresh token has expired (unused too long)",
            RefreshRejection::Reused => "the refresh token was already used; its family has been revoked",
            RefreshRejection::WiderScope => "the requested scope exceeds the scope originally granted",
        }
    }
}

/// The outcome of presenting a refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshDecision {
    /// Mark the token used (compare-and-set) and issue its successor, which stays usable until
    /// `successor_idle_expires_at`. The new access token carries `access_scope`.
    Rotate { successor_idle_expires_at: Timestamp, access_scope: Scope },
    /// The same token again, inside the grace window, successor still unused: answer with the
    /// same successor and a fresh access token. Changes nothing in the store.
    Replay { access_scope: Scope },
    /// Refuse; nothing changes.
    Reject(RefreshRejection),
    /// Reuse detected: revoke the whole family, then refuse.
    RevokeFamily,
}

/// Decides what presenting a refresh token does.
///
/// `requested_scope` is the `scope` parameter of the request, if any (RFC 6749 §6).
pub fn decide_refresh(
    policy: &RefreshPolicy,
    now: Timestamp,
    token: Option<&StoredRefreshToken>,
    family: Option<&Family>,
    client_id: &str,
    requested_scope: Option<&Scope>,
) -> RefreshDecision {
    let (Some(token), Some(family)) = (token, family) else {
        return RefreshDecision::Reject(RefreshRejection::UnknownToken);
    };
    // A token presented by another client is refused without touching it: that client cannot
    // spend, or get revoked, someone else's grant (RFC 6749 §6, "bound to the client").
    if family.client_id != client_id {
        return RefreshDecision::Reject(RefreshRejection::OtherClient);
    }
    if family.revoked_at.is_some() {
        return RefreshDecision::Reject(RefreshRejection::FamilyRevoked);
    }
    if now >= family.expires_at {
        return RefreshDecision::Reject(RefreshRejection::FamilyExpired);
    }
    if let Some(used_at) = token.used_at {
        let in_grace = !policy.grace.is_zero() && now.since(used_at) <= policy.grace;
        if in_grace && !token.successor_used {
            return match access_scope(family, requested_scope) {
                Ok(access_scope) => RefreshDecision::Replay { access_scope },
                Err(rejection) => RefreshDecision::Reject(rejection),
            };
        }
        return RefreshDecision::RevokeFamily;
    }
    if now >= token.idle_expires_at {
        return RefreshDecision::Reject(RefreshRejection::IdleExpired);
    }
    match access_scope(family, requested_scope) {
        Ok(access_scope) => {
            RefreshDecision::Rotate { successor_idle_expires_at: policy.idle_expiry(now, family), access_scope }
        }
        Err(rejection) => RefreshDecision::Reject(rejection),
    }
}

fn access_scope(family: &Family, requested: Option<&Scope>) -> Result<Scope, RefreshRejection> {
    Scope::grant(requested, &family.scope).ok_or(RefreshRejection::WiderScope)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: i64 = 1000;
    const DAY: i64 = 86_400 * SEC;
    const T0: i64 = 1_700_000_000_000;

    fn scope(text: &str) -> Scope {
        Scope::parse(text).unwrap_or_default()
    }

    fn family(revoked: bool) -> Family {
        Family {
            id: "fam".into(),
            client_id: "app".into(),
            user_id: "u1".into(),
            scope: scope("read write"),
            created_at: Timestamp::from_millis(T0),
            expires_at: Timestamp::from_millis(T0 + 90 * DAY),
            revoked_at: revoked.then_some(Timestamp::from_millis(T0 + DAY)),
        }
    }

    fn token(used_at: Option<i64>, successor_used: bool) -> StoredRefreshToken {
        StoredRefreshToken {
            family_id: "fam".into(),
            created_at: Timestamp::from_millis(T0),
            idle_expires_at: Timestamp::from_millis(T0 + 30 * DAY),
            used_at: used_at.map(|offset| Timestamp::from_millis(T0 + offset)),
            successor_used,
        }
    }

    fn rotate(at: i64, access: &str) -> RefreshDecision {
        RefreshDecision::Rotate {
            successor_idle_expires_at: Timestamp::from_millis((T0 + at + 30 * DAY).min(T0 + 90 * DAY)),
            access_scope: scope(access),
        }
    }

    /// (case, token state, family revoked, now offset, client, requested scope, expected decision)
    type Case =
        (&'static str, Option<StoredRefreshToken>, bool, i64, &'static str, Option<&'static str>, RefreshDecision);

    #[test]
    fn decision_table() {
        let policy = RefreshPolicy::default();
        let reject = RefreshDecision::Reject;
        // (case, token state, family revoked, now offset, client, requested scope) → decision
        #[rustfmt::skip]
        let cases: Vec<Case> = vec![
            ("fresh", Some(token(None, false)), false, SEC, "app", None, rotate(SEC, "read write")),
            ("fresh, a day before idle expiry", Some(token(None, false)), false, 29 * DAY, "app", None, rotate(29 * DAY, "read write")),
            ("unknown token", None, false, SEC, "app", None, reject(RefreshRejection::UnknownToken)),
            ("in grace", Some(token(Some(SEC), false)), false, 20 * SEC, "app", None, RefreshDecision::Replay { access_scope: scope("read write") }),
            ("grace edge (exactly 30 s)", Some(token(Some(SEC), false)), false, 31 * SEC, "app", None, RefreshDecision::Replay { access_scope: scope("read write") }),
            ("grace expired", Some(token(Some(SEC), false)), false, 32 * SEC, "app", None, RefreshDecision::RevokeFamily),
            ("successor already used", Some(token(Some(SEC), true)), false, 2 * SEC, "app", None, RefreshDecision::RevokeFamily),
            ("idle-expired", Some(token(None, false)), false, 30 * DAY, "app", None, reject(RefreshRejection::IdleExpired)),
            ("family-expired", Some(token(None, false)), false, 90 * DAY, "app", None, reject(RefreshRejection::FamilyExpired)),
            ("revoked", Some(token(None, false)), true, SEC, "app", None, reject(RefreshRejection::FamilyRevoked)),
            ("revoked, spent token", Some(token(Some(SEC), false)), true, 2 * SEC, "app", None, reject(RefreshRejection::FamilyRevoked)),
            ("other client", Some(token(None, false)), false, SEC, "intruder", None, reject(RefreshRejection::OtherClient)),
            ("other client, spent token", Some(token(Some(SEC), false)), false, DAY, "intruder", None, reject(RefreshRejection::OtherClient)),
            ("narrower scope", Some(token(None, false)), false, SEC, "app", Some("read"), rotate(SEC, "read")),
            ("empty scope keeps grant", Some(token(None, false)), false, SEC, "app", Some(""), rotate(SEC, "read write")),
            ("wider scope", Some(token(None, false)), false, SEC, "app", Some("read admin"), reject(RefreshRejection::WiderScope)),
            ("narrower scope in grace", Some(token(Some(SEC), false)), false, 2 * SEC, "app", Some("write"), RefreshDecision::Replay { access_scope: scope("write") }),
            ("wider scope on reuse still revokes", Some(token(Some(SEC), false)), false, DAY, "app", Some("admin"), RefreshDecision::RevokeFamily),
        ];
        for (case, stored, revoked, at, client, requested, expected) in cases {
            let fam = family(revoked);
            let requested = requested.map(scope);
            let got = decide_refresh(
                &policy,
                Timestamp::from_millis(T0 + at),
                stored.as_ref(),
                stored.as_ref().map(|_| &fam),
                client,
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
        let got = decide_refresh(&policy, Timestamp::from_millis(T0 + SEC), Some(&spent), Some(&fam), "app", None);
        assert_eq!(got, RefreshDecision::RevokeFamily);
    }

    #[test]
    fn successor_idle_expiry_is_capped_by_family() {
        let policy = RefreshPolicy::default();
        let fam = family(false);
        let near_end = Timestamp::from_millis(T0 + 80 * DAY);
        assert_eq!(policy.idle_expiry(near_end, &fam), fam.expires_at);
    }
}
