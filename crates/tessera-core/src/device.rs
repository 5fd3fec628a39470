//! The device authorization grant (RFC 8628), sans I/O: user codes (made from random bytes,
//! normalised for comparison, shown with a dash), what a poll of the token endpoint gets
//! (pending, slow_down, denied, expired, tokens), and the limit on wrong user codes.

use crate::time::Timestamp;
use std::time::Duration;
use tessera_proto::{ClientId, ErrorCode};

/// Twenty consonants without look-alikes (no vowels, so no words; no I/O/U/Y/A/E), as RFC 8628
/// §6.1 suggests: `WDJB-MJHT`.
pub const USER_CODE_ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";
/// Characters in a user code: 20^8 ≈ 2.56e10 codes.
pub const USER_CODE_LENGTH: usize = 8;
/// RFC 8628 §3.5: "the client MUST increase the polling interval by 5 seconds".
pub const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);

/// A user code in normal form: eight characters of [`USER_CODE_ALPHABET`], no dash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserCode(String);

impl UserCode {
    /// A code from 16 random bytes: their value modulo 20^8 (the bias, 2.56e10 / 2^128, is nil).
    pub fn from_random(bytes: &[u8; 16]) -> UserCode {
        let mut value = u128::from_be_bytes(*bytes);
        let mut code = String::with_capacity(USER_CODE_LENGTH);
        for _ in 0..USER_CODE_LENGTH {
            let digit = (value % 20) as usize;
            value /= 20;
            code.push(char::from(USER_CODE_ALPHABET[digit]));
        }
        UserCode(code)
    }

    /// What the user typed, compared case-insensitively and without dashes or spaces; `None`
    /// if it cannot be a user code (wrong length or a character outside the alphabet).
    pub fn parse(typed: &str) -> Option<UserCode> {
        let code: String =
            typed.chars().filter(|c| *c != '-' && !c.is_whitespace()).map(|c| c.to_ascii_uppercase()).collect();
        let valid = code.len() == USER_CODE_LENGTH && code.bytes().all(|b| USER_CODE_ALPHABET.contains(&b));
        valid.then_some(UserCode(code))
    }

    /// The normal form, which is what gets hashed.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// As shown to the user: `WDJB-MJHT`.
    pub fn display(&self) -> String {
        let (head, tail) = self.0.split_at(USER_CODE_LENGTH / 2);
        format!("{head}-{tail}")
    }
}

/// Where the user stands on a device code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceStatus {
    Pending,
    Approved,
    Denied,
}

impl DeviceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceStatus::Pending => "pending",
            DeviceStatus::Approved => "approved",
            DeviceStatus::Denied => "denied",
        }
    }

    pub fn parse(text: &str) -> Option<DeviceStatus> {
        [DeviceStatus::Pending, DeviceStatus::Approved, DeviceStatus::Denied]
            .into_iter()
            .find(|status| status.as_str() == text)
    }
}

/// What the store knows about a polled device code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceGrantState<'a> {
    pub client_id: &'a ClientId,
    pub status: DeviceStatus,
    pub expires_at: Timestamp,
    /// The interval the client must keep between polls now (grown by each `slow_down`).
    pub interval: Duration,
    pub last_poll_at: Option<Timestamp>,
    pub redeemed: bool,
}

/// The answer to one poll (RFC 8628 §3.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollDecision {
    /// Approved: issue the tokens (by compare-and-set, so only one poll does).
    Issue,
    /// `authorization_pending`: record the poll.
    Pending,
    /// `slow_down`: record the poll, and from now on the client must wait `interval`.
    SlowDown {
        interval: Duration,
    },
    Reject(PollRejection),
}

/// A poll that gets no tokens and never will.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollRejection {
    /// No such device code, or it was issued to another client: `invalid_grant`.
    Unknown,
    /// Tokens were issued for it already: `invalid_grant`.
    Redeemed,
    /// `expired_token`.
    Expired,
    /// The user said no: `access_denied`.
    Denied,
}

impl PollRejection {
    pub fn error_code(self) -> ErrorCode {
        match self {
            PollRejection::Unknown | PollRejection::Redeemed => ErrorCode::InvalidGrant,
            PollRejection::Expired => ErrorCode::ExpiredToken,
            PollRejection::Denied => ErrorCode::AccessDenied,
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            PollRejection::Unknown => "the device code is unknown or was issued to another client",
            PollRejection::Redeemed => "the device code was used already",
            PollRejection::Expired => "the device code has expired; start again",
            PollRejection::Denied => "the user denied the request",
        }
    }
}

/// RFC 8628 §3.5: what `client_id` gets for polling `stored` at `now`. `slow_down` is a
/// variant of `authorization_pending`, so only a pending code answers it; a decided code
/// answers at once however fast the client polls.
pub fn decide_poll(now: Timestamp, stored: Option<&DeviceGrantState<'_>>, client_id: &ClientId) -> PollDecision {
    let Some(stored) = stored.filter(|stored| stored.client_id == client_id) else {
        return PollDecision::Reject(PollRejection::Unknown);
    };
    if stored.redeemed {
        return PollDecision::Reject(PollRejection::Redeemed);
    }
    if now >= stored.expires_at {
        return PollDecision::Reject(PollRejection::Expired);
    }
    match stored.status {
        DeviceStatus::Denied => PollDecision::Reject(PollRejection::Denied),
        DeviceStatus::Approved => PollDecision::Issue,
        DeviceStatus::Pending => match stored.last_poll_at {
            Some(last) if now < last.plus(stored.interval) => {
                PollDecision::SlowDown { interval: stored.interval + SLOW_DOWN_STEP }
            }
            _ => PollDecision::Pending,
        },
    }
}

/// Wrong user codes allowed per signed-in user, and per address, in [`USER_CODE_FAILURE_WINDOW`].
pub const USER_CODE_FAILURES_PER_USER: i64 = 5;
pub const USER_CODE_FAILURES_PER_ADDRESS: i64 = 20;
pub const USER_CODE_FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);

/// Whether another user code may be tried, given the wrong ones counted in the open window.
pub fn user_code_attempt_allowed(user_failures: i64, address_failures: i64) -> bool {
    user_failures < USER_CODE_FAILURES_PER_USER && address_failures < USER_CODE_FAILURES_PER_ADDRESS
}

#[cfg(test)]
#[path = "device_tests.rs"]
mod tests;
