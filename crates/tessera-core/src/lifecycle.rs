//! The refresh-token lifecycle (DESIGN.md §4): given a presented token's stored state, its
//! family, the requesting client and `now`, decide what happens. The store then applies the
//! decision atomically; the decision itself is a pure function, tested with a fixed clock.

use crate::scope::Scope;
use crate::time::Timestamp;
use std::time::Duration;
use tessera_proto::{ClientId, ErrorCode, FamilyId, UserId};

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
    pub id: FamilyId,
    pub client_id: ClientId,
    pub user_id: UserId,
    /// The scope originally granted; refreshes may narrow their access tokens, never this.
    pub scope: Scope,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
    /// RFC 9449 §5: the DPoP key a public client's family is bound to; its refreshes need a
    /// proof by that key.
    pub jkt: Option<crate::dpop::Thumbprint>,
}

/// What the store knows about one presented refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRefreshToken {
    pub family_id: FamilyId,
    pub created_at: Timestamp,
    pub idle_expires_at: Timestamp,
    /// When it was rotated; `None` while it is the family's live token.
    pub used_at: Option<Timestamp>,
    /// Whether its successor has itself been rotated (only meaningful once `used_at` is set).
    pub successor_used: bool,
}

/// Where a stored refresh token stands at a given moment, judged on the token and its family
/// alone (not on who presents it). Refresh and introspection both ask this, so they cannot
/// disagree about which tokens are alive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenState {
    /// It may be spent now.
    Active,
    FamilyRevoked,
    /// The family reached its maximum lifetime.
    FamilyExpired,
    /// It was rotated at `used_at`; presenting it again is a replay or a reuse.
    Spent {
        used_at: Timestamp,
    },
    /// It went unused past its idle expiry.
    IdleExpired,
}

impl StoredRefreshToken {
    /// The token's state at `now`. The order matters: a revoked family wins over everything,
    /// then the family's end, then the token's own use and idle expiry.
    pub fn state(&self, family: &Family, now: Timestamp) -> TokenState {
        if family.revoked_at.is_some() {
            TokenState::FamilyRevoked
        } else if now >= family.expires_at {
            TokenState::FamilyExpired
        } else if let Some(used_at) = self.used_at {
            TokenState::Spent { used_at }
        } else if now >= self.idle_expires_at {
            TokenState::IdleExpired
        } else {
            TokenState::Active
        }
    }

    /// Whether the token may be spent at `now` (RFC 7662 §2.2 `active`).
    pub fn is_active(&self, family: &Family, now: Timestamp) -> bool {
        self.state(family, now) == TokenState::Active
    }

    /// When the token stops being usable if nothing else happens: its idle expiry or the
    /// family's end, whichever comes first.
    pub fn expires_at(&self, family: &Family) -> Timestamp {
        self.idle_expires_at.min(family.expires_at)
    }
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
    /// The client was narrowed since the grant, and none of the scope it was granted is left
    /// (see `client_access::within_client_scope`).
    ClientScopeNarrowed,
    /// RFC 9449 §5: the family is bound to a DPoP key and the request has no proof by it.
    DpopKeyMismatch,
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
            RefreshRejection::ClientScopeNarrowed => "this client may no longer use any of the scope that was granted",
            RefreshRejection::DpopKeyMismatch => {
                "the refresh token is bound to a DPoP key, and no proof by that key was sent"
            }
        }
    }

    /// The RFC 6749 §5.2 error code: `invalid_scope` for a scope that cannot be given (§6),
    /// else `invalid_grant`.
    pub fn error_code(self) -> ErrorCode {
        match self {
            RefreshRejection::WiderScope | RefreshRejection::ClientScopeNarrowed => ErrorCode::InvalidScope,
            _ => ErrorCode::InvalidGrant,
        }
    }
}

/// Why a family was revoked: recorded with the family (`revoked_reason`), logged and counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RevocationReason {
    /// A spent refresh token came back outside the grace window (DESIGN.md §4).
    ReuseDetected,
    /// The client revoked one of the family's tokens (RFC 7009).
    RevokedByClient,
    /// An authorization code was redeemed twice (RFC 6749 §4.1.2).
    CodeReplayed,
    /// The user withdrew the consent the family was granted under.
    ConsentRevoked,
    /// An admin disabled the user (`tessera user update --disable`).
    UserDisabled,
}

impl RevocationReason {
    /// The text stored in the database and used as the metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            RevocationReason::ReuseDetected => "refresh token reuse detected",
            RevocationReason::RevokedByClient => "revoked by the client",
            RevocationReason::CodeReplayed => "authorization code replayed",
            RevocationReason::ConsentRevoked => "consent revoked by the user",
            RevocationReason::UserDisabled => "the user was disabled",
        }
    }
}

impl std::fmt::Display for RevocationReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The outcome of presenting a refresh token. Every outcome that acts on a family names it,
/// so the caller never has to look for a family that may not be there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshDecision<'a> {
    /// Mark the token used (compare-and-set) and issue its successor, which stays usable until
    /// `successor_idle_expires_at`. The new access token carries `access_scope`.
    Rotate { family: &'a Family, successor_idle_expires_at: Timestamp, access_scope: Scope },
    /// The same token again, inside the grace window, successor still unused: answer with the
    /// same successor and a fresh access token. Changes nothing in the store.
    Replay { family: &'a Family, access_scope: Scope },
    /// Refuse; nothing changes.
    Reject(RefreshRejection),
    /// Reuse detected: revoke the whole family, then refuse.
    RevokeFamily(&'a Family),
}

/// Decides what presenting a refresh token does. `found` is the presented token's stored
/// state and its family, `None` if the store knows no such token.
///
/// `requested_scope` is the `scope` parameter of the request, if any (RFC 6749 §6).
pub fn decide_refresh<'a>(
    policy: &RefreshPolicy,
    now: Timestamp,
    found: Option<(&StoredRefreshToken, &'a Family)>,
    client_id: &ClientId,
    requested_scope: Option<&Scope>,
) -> RefreshDecision<'a> {
    let Some((token, family)) = found else {
        return RefreshDecision::Reject(RefreshRejection::UnknownToken);
    };
    // A token presented by another client is refused without touching it: that client cannot
    // spend, or get revoked, someone else's grant (RFC 6749 §6, "bound to the client").
    if family.client_id != *client_id {
        return RefreshDecision::Reject(RefreshRejection::OtherClient);
    }
    match token.state(family, now) {
        TokenState::FamilyRevoked => RefreshDecision::Reject(RefreshRejection::FamilyRevoked),
        TokenState::FamilyExpired => RefreshDecision::Reject(RefreshRejection::FamilyExpired),
        TokenState::IdleExpired => RefreshDecision::Reject(RefreshRejection::IdleExpired),
        TokenState::Spent { used_at } => {
            let in_grace = !policy.grace.is_zero() && now.since(used_at) <= policy.grace;
            if !in_grace || token.successor_used {
                return RefreshDecision::RevokeFamily(family);
            }
            match access_scope(family, requested_scope) {
                Ok(access_scope) => RefreshDecision::Replay { family, access_scope },
                Err(rejection) => RefreshDecision::Reject(rejection),
            }
        }
        TokenState::Active => match access_scope(family, requested_scope) {
            Ok(access_scope) => RefreshDecision::Rotate {
                family,
                successor_idle_expires_at: policy.idle_expiry(now, family),
                access_scope,
            },
            Err(rejection) => RefreshDecision::Reject(rejection),
        },
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
        let got = decide_refresh(
            &policy,
            Timestamp::from_millis(T0 + SEC),
            Some((&spent, &fam)),
            &ClientId::new("app"),
            None,
        );
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
        for (stored, fam) in
            [(token(None, false), &live), (token(None, false), &revoked), (token(Some(SEC), false), &live)]
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
}
