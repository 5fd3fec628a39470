//! Rows of the device authorization grant's tables (migration 0010): device codes, and the
//! counters of wrong user codes typed at the verification page.

use std::time::Duration;
use tessera_core::device::{DeviceGrantState, DeviceStatus};
use tessera_core::{ClientId, FamilyId, Scope, Timestamp, TokenHash, UserId};

/// A device code (RFC 8628 §3.2), stored as the hashes of its two codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceCodeRow {
    pub device_code_hash: TokenHash,
    pub user_code_hash: TokenHash,
    pub client_id: ClientId,
    pub scope: Scope,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    /// The interval the client must keep between polls now (grows with each `slow_down`).
    pub interval: Duration,
    pub last_poll_at: Option<Timestamp>,
    pub status: DeviceStatus,
    /// Who approved or denied, when they signed in, and from which browser session.
    pub user_id: Option<UserId>,
    pub auth_time: Option<Timestamp>,
    pub sid: Option<String>,
    pub redeemed_at: Option<Timestamp>,
    pub family_id: Option<FamilyId>,
}

impl DeviceCodeRow {
    /// What core's `decide_poll` needs.
    pub fn state(&self) -> DeviceGrantState<'_> {
        DeviceGrantState {
            client_id: &self.client_id,
            status: self.status,
            expires_at: self.expires_at,
            interval: self.interval,
            last_poll_at: self.last_poll_at,
            redeemed: self.redeemed_at.is_some(),
        }
    }
}

/// The user's answer on the verification page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceDecision {
    pub status: DeviceStatus,
    pub user_id: UserId,
    pub auth_time: Timestamp,
    pub sid: String,
}

/// The columns of `device_codes`, in [`DeviceCodeRow`] order, for both backends.
pub(crate) const DEVICE_COLUMNS: &str = "device_code_hash, user_code_hash, client_id, scope, created_at, expires_at, \
     interval_secs, last_poll_at, status, user_id, auth_time, sid, redeemed_at, family_id";
