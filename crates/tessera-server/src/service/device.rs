//! The device authorization grant (RFC 8628): device and user codes at
//! `/oauth/device_authorization`, the user's answer at the verification page (wrong user
//! codes counted per user and per address), and the token endpoint's polls (decided by core's
//! `decide_poll`; the tokens issued by compare-and-set, so racing pollers get one set).

use super::id_tokens::Authentication;
use super::{AuthService, Issued, ServiceError};
use crate::random::random_bytes;
use crate::store::{ClientRow, DeviceCodeRow, DeviceDecision, StoreError, UserRow};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::net::IpAddr;
use std::time::Duration;
use tessera_core::device::{
    DeviceStatus, PollDecision, PollRejection, USER_CODE_FAILURE_WINDOW, UserCode, decide_poll,
    user_code_attempt_allowed,
};
use tessera_core::dpop::Thumbprint;
use tessera_core::{ClientCredentials, GrantType, Scope, Timestamp, TokenHash};
use tessera_proto::ErrorCode;

/// How long a device code and its user code live (RFC 8628 §3.2 `expires_in`).
pub const DEVICE_CODE_TTL: Duration = Duration::from_secs(600);
/// The polling interval a device starts with (RFC 8628 §3.2: "a default of 5 seconds").
pub const DEVICE_POLL_INTERVAL: Duration = Duration::from_secs(5);

/// A device code and its user code, shown once: only their hashes are stored.
pub struct DeviceAuthorization {
    pub device_code: String,
    pub user_code: UserCode,
    pub expires_in: Duration,
    pub interval: Duration,
}

/// The request a user code names, for the verification page to show.
pub struct PendingDevice {
    pub user_code: UserCode,
    pub client_name: String,
    pub scope: Scope,
}

/// What a typed user code turned out to be.
pub enum UserCodeCheck {
    Found(PendingDevice),
    /// Unknown, expired, decided already, or not a user code at all; counted.
    Wrong,
    /// Too many wrong codes from this user or address lately; nothing was looked up.
    Throttled,
}

fn rejected(rejection: PollRejection) -> ServiceError {
    ServiceError::oauth(rejection.error_code(), rejection.description())
}

impl AuthService {
    /// `POST /oauth/device_authorization` (RFC 8628 §3.1–3.2): the client authenticates as at
    /// the token endpoint and must be registered for the device grant.
    pub async fn device_authorization(
        &self,
        credentials: &ClientCredentials,
        requested_scope: Option<&Scope>,
    ) -> Result<DeviceAuthorization, ServiceError> {
        let client = self.authenticate_client(credentials).await?;
        Self::require_grant(&client, GrantType::DeviceCode)?;
        let scope = Self::grant_scope(&client, requested_scope)?;
        let device_code = URL_SAFE_NO_PAD.encode(random_bytes::<32>()?);
        let now = self.now();
        // A user code still in the table (live, or expired less than a day ago) is drawn again
        // with a chance of one in 2.56e10 per row; three draws make a failure unthinkable.
        let mut attempts = 0;
        loop {
            let user_code = UserCode::from_random(&random_bytes::<16>()?);
            let row = DeviceCodeRow {
                device_code_hash: TokenHash::of(&device_code),
                user_code_hash: self.user_code_hash(&user_code),
                client_id: client.client_id.clone(),
                scope: scope.clone(),
                created_at: now,
                expires_at: now.plus(DEVICE_CODE_TTL),
                interval: DEVICE_POLL_INTERVAL,
                last_poll_at: None,
                status: DeviceStatus::Pending,
                user_id: None,
                auth_time: None,
                sid: None,
                redeemed_at: None,
                family_id: None,
            };
            match self.store.insert_device_code(&row).await {
                Ok(()) => {
                    return Ok(DeviceAuthorization {
                        device_code,
                        user_code,
                        expires_in: DEVICE_CODE_TTL,
                        interval: DEVICE_POLL_INTERVAL,
                    });
                }
                Err(StoreError::Conflict(_)) if attempts < 2 => attempts += 1,
                Err(error) => return Err(error.into()),
            }
        }
    }

    /// A user code's stored form: keyed, since 20^8 codes could be hashed through in seconds.
    fn user_code_hash(&self, code: &UserCode) -> TokenHash {
        TokenHash::of(&self.csrf_token(&format!("device-user-code:{}", code.as_str())))
    }

    /// The verification page: what `typed` names, for `user` at `address`. A wrong code counts
    /// against both; past the limit nothing is looked up until the window closes.
    pub async fn check_user_code(
        &self,
        typed: &str,
        user: &UserRow,
        address: Option<IpAddr>,
    ) -> Result<UserCodeCheck, ServiceError> {
        let now = self.now();
        let window_opened_after = now.minus(USER_CODE_FAILURE_WINDOW);
        let subjects = failure_subjects(user, address);
        let user_failures = self.store.device_code_failures(&subjects[0], window_opened_after).await?;
        let address_failures = match subjects.get(1) {
            Some(subject) => self.store.device_code_failures(subject, window_opened_after).await?,
            None => 0,
        };
        if !user_code_attempt_allowed(user_failures, address_failures) {
            return Ok(UserCodeCheck::Throttled);
        }
        let found = match UserCode::parse(typed) {
            Some(code) => self.live_device(code, now).await?,
            None => None,
        };
        match found {
            Some(found) => Ok(UserCodeCheck::Found(found)),
            None => {
                for subject in &subjects {
                    self.store.record_device_code_failure(subject, now, window_opened_after).await?;
                }
                Ok(UserCodeCheck::Wrong)
            }
        }
    }

    /// The pending, unexpired request of a user code, with its client's name.
    async fn live_device(&self, code: UserCode, now: Timestamp) -> Result<Option<PendingDevice>, ServiceError> {
        let Some(row) = self.store.find_device_code_by_user_code(&self.user_code_hash(&code)).await? else {
            return Ok(None);
        };
        if row.status != DeviceStatus::Pending || row.expires_at <= now || row.redeemed_at.is_some() {
            return Ok(None);
        }
        let Some(client) = self.client(&row.client_id).await? else { return Ok(None) };
        Ok(Some(PendingDevice { user_code: code, client_name: client.name.clone(), scope: row.scope }))
    }

    /// The user's answer to a pending request (checked with [`AuthService::check_user_code`]
    /// first); false if it was answered, or expired, in the meantime.
    pub async fn decide_device(
        &self,
        code: &UserCode,
        user: &UserRow,
        session: &str,
        auth_time: Timestamp,
        approve: bool,
    ) -> Result<bool, ServiceError> {
        let decision = DeviceDecision {
            status: if approve { DeviceStatus::Approved } else { DeviceStatus::Denied },
            user_id: user.user_id.clone(),
            auth_time,
            sid: self.session_id(session),
        };
        Ok(self.store.decide_device_code(&self.user_code_hash(code), self.now(), &decision).await?)
    }

    /// RFC 8628 §3.4–3.5: one poll of the token endpoint; the tokens are bound to the DPoP
    /// key `dpop` if the poll proved one (RFC 9449), as for the other grants.
    pub async fn device_code_grant(
        &self,
        client: &ClientRow,
        device_code: &str,
        dpop: Option<&Thumbprint>,
    ) -> Result<Issued, ServiceError> {
        Self::require_grant(client, GrantType::DeviceCode)?;
        let hash = TokenHash::of(device_code);
        let stored = self.store.find_device_code(&hash).await?;
        let now = self.now();
        let decision = decide_poll(now, stored.as_ref().map(DeviceCodeRow::state).as_ref(), &client.client_id);
        let stored = match (decision, stored) {
            (PollDecision::Reject(rejection), _) => return Err(rejected(rejection)),
            (_, None) => return Err(rejected(PollRejection::Unknown)),
            (_, Some(stored)) => stored,
        };
        match decision {
            PollDecision::Pending => {
                self.store.record_device_poll(&hash, now, stored.interval).await?;
                Err(ServiceError::oauth(ErrorCode::AuthorizationPending, "the user has not answered yet"))
            }
            PollDecision::SlowDown { interval } => {
                self.store.record_device_poll(&hash, now, interval).await?;
                Err(ServiceError::oauth(
                    ErrorCode::SlowDown,
                    format!("polling too fast: wait {} seconds between polls from now on", interval.as_secs()),
                ))
            }
            PollDecision::Reject(rejection) => Err(rejected(rejection)),
            PollDecision::Issue => self.redeem_device_code(client, &hash, stored, now, dpop).await,
        }
    }

    /// The approved code's tokens: a new family, started by compare-and-set with the code's
    /// redemption, so that of racing pollers exactly one gets them.
    async fn redeem_device_code(
        &self,
        client: &ClientRow,
        hash: &TokenHash,
        stored: DeviceCodeRow,
        now: Timestamp,
        dpop: Option<&Thumbprint>,
    ) -> Result<Issued, ServiceError> {
        let user = match &stored.user_id {
            Some(user_id) => self.store.get_user(user_id).await?,
            None => None,
        };
        let Some(user) = user.filter(|user| !user.disabled) else { return Err(rejected(PollRejection::Unknown)) };
        // A client narrowed since the user approved gets only what it may still ask for.
        let scope = Scope::still_allowed(&stored.scope, &client.scope)
            .ok_or_else(|| ServiceError::oauth(ErrorCode::InvalidScope, "this client may no longer use this scope"))?;
        let (family, refresh_token) = self.new_family(client, &user.user_id, scope, now, dpop)?;
        let first = refresh_token.as_ref().map(|token| (token.hash(), self.config.refresh.idle_expiry(now, &family)));
        let redeemed = self
            .store
            .redeem_device_code(hash, now, &family, first.as_ref().map(|(hash, expiry)| (hash, *expiry)))
            .await?;
        if !redeemed {
            return Err(rejected(PollRejection::Redeemed));
        }
        let authentication =
            Authentication { auth_time: stored.auth_time.unwrap_or(now), nonce: None, sid: stored.sid };
        self.record_family_sign_in(&family, &authentication, false).await?;
        let client_id = family.client_id.clone();
        let issued = self.first_tokens(family, refresh_token, now, dpop)?;
        self.with_id_token(issued, &client_id, &user, &authentication, now)
    }
}

/// Whom a wrong user code counts against: the signed-in user, and the address if known.
fn failure_subjects(user: &UserRow, address: Option<IpAddr>) -> Vec<String> {
    let mut subjects = vec![format!("user:{}", user.user_id)];
    subjects.extend(address.map(|address| format!("addr:{address}")));
    subjects
}
