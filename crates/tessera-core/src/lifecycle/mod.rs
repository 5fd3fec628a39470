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
    /// The user changed their password and asked for their applications' tokens to go.
    PasswordChanged,
    /// An admin revoked the family on the console's sessions page.
    RevokedByAdmin,
    /// An admin deleted the client the family was issued to.
    ClientDeleted,
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
            RevocationReason::PasswordChanged => "the user changed their password",
            RevocationReason::RevokedByAdmin => "revoked by an admin",
            RevocationReason::ClientDeleted => "the client was deleted",
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
mod tests;
