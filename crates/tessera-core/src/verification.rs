//! What a verifier accepts at `now`: which signing keys still verify (and are published in
//! JWKS), and whether an access token's times (`iat`, `exp`) are ones we could have issued.

use crate::time::Timestamp;
use std::time::Duration;

/// How far in the future an access token's `iat` may lie: clocks of instances sharing a
/// database drift a little, never a minute.
pub const IAT_SKEW: Duration = Duration::from_secs(60);

/// The life of a signing key. A revoked key is also retired; revocation wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Signs new tokens (the newest active key) and verifies.
    Active,
    /// Replaced by `tessera keys rotate` at `at`: verifies for [`retired_key_retention`] more.
    Retired { at: Timestamp },
    /// Removed by `tessera keys revoke` at `at`: verifies nothing, published nowhere.
    Revoked { at: Timestamp },
}

impl KeyState {
    /// The state a stored key is in, from its two timestamps.
    pub fn of(retired_at: Option<Timestamp>, revoked_at: Option<Timestamp>) -> KeyState {
        match (revoked_at, retired_at) {
            (Some(at), _) => KeyState::Revoked { at },
            (None, Some(at)) => KeyState::Retired { at },
            (None, None) => KeyState::Active,
        }
    }

    /// `active`, `retired` or `revoked`, as `tessera keys list` shows it.
    pub fn name(self) -> &'static str {
        match self {
            KeyState::Active => "active",
            KeyState::Retired { .. } => "retired",
            KeyState::Revoked { .. } => "revoked",
        }
    }

    /// Whether a token signed by this key may still be accepted at `now`, which is also
    /// whether the key is published in JWKS: a resource server that verifies with our JWKS
    /// and we ourselves accept the same keys. `retention` is [`retired_key_retention`].
    pub fn verifies(self, now: Timestamp, retention: Duration) -> bool {
        match self {
            KeyState::Active => true,
            KeyState::Retired { at } => now < at.plus(retention),
            KeyState::Revoked { .. } => false,
        }
    }
}

/// How long a retired key keeps verifying after its retirement: an instance that has not
/// re-read the keys yet may still sign with it for one key-refresh interval, and the last
/// token it signs lives one access-token lifetime. After that no genuine token can need it,
/// so a token that does is forged (with a leaked key) and is refused.
pub fn retired_key_retention(access_token_ttl: Duration, key_refresh_interval: Duration) -> Duration {
    access_token_ttl.saturating_add(key_refresh_interval)
}

/// Why an access token's times are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenTimeRejection {
    #[error("the token has expired")]
    Expired,
    #[error("the token was issued in the future")]
    IssuedInFuture,
    #[error("the token lives longer than the access-token lifetime")]
    LifetimeTooLong,
    #[error("the token expires before it was issued")]
    ExpiresBeforeIssued,
}

/// Checks `iat` and `exp` (JWT NumericDates, in seconds) at `now` for a server whose
/// access tokens live `lifetime`:
/// - `exp` must be in the future (RFC 7519 §4.1.4);
/// - `iat` may be at most [`IAT_SKEW`] ahead of `now`;
/// - `exp − iat` may not exceed `lifetime`, rounded up to a whole second (tokens are minted
///   with `iat` and `exp` each rounded down from milliseconds). A token with a lifetime we
///   never issue was forged, or minted under a longer lifetime the operator has since cut;
/// - `exp` must come after `iat`.
pub fn check_token_times(iat: i64, exp: i64, now: Timestamp, lifetime: Duration) -> Result<(), TokenTimeRejection> {
    let now_secs = now.secs();
    if now_secs >= exp {
        return Err(TokenTimeRejection::Expired);
    }
    let skew = i64::try_from(IAT_SKEW.as_secs()).unwrap_or(i64::MAX);
    if iat > now_secs.saturating_add(skew) {
        return Err(TokenTimeRejection::IssuedInFuture);
    }
    let whole_seconds = lifetime.as_secs().saturating_add(u64::from(lifetime.subsec_nanos() > 0));
    let longest = i64::try_from(whole_seconds).unwrap_or(i64::MAX);
    match exp.saturating_sub(iat) {
        lived if lived > longest => Err(TokenTimeRejection::LifetimeTooLong),
        lived if lived <= 0 => Err(TokenTimeRejection::ExpiresBeforeIssued),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);
    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn key_states_table() {
        let t = |secs| Timestamp::from_secs(secs);
        let retention = retired_key_retention(HOUR, MINUTE);
        assert_eq!(retention, Duration::from_secs(3660));
        /// (retired_at, revoked_at, now, state name, verifies)
        type Case = (Option<i64>, Option<i64>, i64, &'static str, bool);
        let cases: &[Case] = &[
            (None, None, 0, "active", true),
            (None, None, 1_000_000, "active", true),
            (Some(100), None, 100, "retired", true),
            (Some(100), None, 100 + 3659, "retired", true),
            (Some(100), None, 100 + 3660, "retired", false),
            (Some(100), None, 100 + 86_400, "retired", false),
            (None, Some(100), 100, "revoked", false),
            (Some(50), Some(100), 60, "revoked", false),
            (None, Some(100), 0, "revoked", false),
        ];
        for &(retired, revoked, now, name, verifies) in cases {
            let state = KeyState::of(retired.map(t), revoked.map(t));
            assert_eq!(state.name(), name, "{retired:?} {revoked:?}");
            assert_eq!(state.verifies(t(now), retention), verifies, "{state:?} at {now}");
        }
    }

    #[test]
    fn token_times_table() {
        use TokenTimeRejection::*;
        let now = Timestamp::from_millis(10_000_500);
        // (iat, exp, lifetime, expected)
        let cases: &[(i64, i64, Duration, Result<(), TokenTimeRejection>)] = &[
            (10_000, 10_000 + 3600, HOUR, Ok(())),
            (10_000 - 3599, 10_001, HOUR, Ok(())),
            (10_000, 10_000, HOUR, Err(Expired)),
            (10_000 - 3600, 10_000, HOUR, Err(Expired)),
            (10_000 - 7200, 9_000, HOUR, Err(Expired)),
            (10_000, 10_000 + 3601, HOUR, Err(LifetimeTooLong)),
            (10_000, 10_000 + 86_400 * 365, HOUR, Err(LifetimeTooLong)),
            (0, i64::MAX, HOUR, Err(LifetimeTooLong)),
            (i64::MIN, 10_001, HOUR, Err(LifetimeTooLong)),
            (10_060, 10_060 + 3600, HOUR, Ok(())),
            (10_061, 10_061 + 3600, HOUR, Err(IssuedInFuture)),
            (i64::MAX - 10, i64::MAX, HOUR, Err(IssuedInFuture)),
            // A 1.5 s lifetime: iat and exp are rounded down, so 2 s apart is possible.
            (10_000, 10_002, Duration::from_millis(1500), Ok(())),
            (10_000, 10_003, Duration::from_millis(1500), Err(LifetimeTooLong)),
            // exp before iat (or equal): never minted, refused even while exp is ahead.
            (10_040, 10_020, HOUR, Err(ExpiresBeforeIssued)),
            (10_020, 10_020, HOUR, Err(ExpiresBeforeIssued)),
        ];
        for &(iat, exp, lifetime, expected) in cases {
            assert_eq!(check_token_times(iat, exp, now, lifetime), expected, "iat {iat} exp {exp} {lifetime:?}");
        }
    }
}
