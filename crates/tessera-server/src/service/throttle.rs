//! Password checks and their throttle: at most [`LOGIN_FAILURE_LIMIT`] failures per username
//! in [`LOGIN_FAILURE_WINDOW`], counted in the database so that every instance agrees.

use super::{AuthService, InternalError, ServiceError};
use crate::passwords;
use crate::store::UserRow;
use std::time::Duration;
use tessera_core::Password;

/// Failed password checks per username that are tolerated within [`LOGIN_FAILURE_WINDOW`].
pub const LOGIN_FAILURE_LIMIT: i64 = 10;
/// The throttling window: after the limit, the username is refused until its window ends.
pub const LOGIN_FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);

/// The outcome of a username and password check.
pub enum PasswordCheck {
    Correct(UserRow),
    Wrong,
    /// Too many recent failures for this username: not checked at all.
    Throttled,
}

impl PasswordCheck {
    pub const THROTTLED_MESSAGE: &'static str = "too many failed sign-ins for this user; try again in 15 minutes";
}

impl AuthService {
    /// Checks a username and password. Unknown usernames are checked against a dummy hash, so
    /// they cost the same time as wrong passwords; Argon2 runs off the async threads. After
    /// [`LOGIN_FAILURE_LIMIT`] failures in [`LOGIN_FAILURE_WINDOW`], the username is refused
    /// without a check until the window ends (counted in the database: all instances agree).
    pub(crate) async fn check_password(
        &self,
        username: &str,
        password: Password,
    ) -> Result<PasswordCheck, ServiceError> {
        let now = self.now();
        let window_opened_after = now.minus(LOGIN_FAILURE_WINDOW);
        // Counters are keyed by at most 200 characters: usernames are no longer than that.
        let key: String = username.chars().take(200).collect();
        if self.store.login_failures(&key, window_opened_after).await? >= LOGIN_FAILURE_LIMIT {
            return Ok(PasswordCheck::Throttled);
        }
        let user = self.store.get_user_by_username(username).await?;
        let stored_hash = user.as_ref().map(|user| user.password_hash.clone());
        // The lease (a permit and its Argon2 memory) moves into the blocking task: it is held
        // until the check ends, even if this request is dropped meanwhile.
        let mut lease = self.password_memory.lease().await.map_err(|_| InternalError::PasswordTask)?;
        let verified = tokio::task::spawn_blocking(move || {
            passwords::verify_password(&password, stored_hash.as_deref(), lease.blocks())
        })
        .await
        .map_err(|_| InternalError::PasswordTask)?;
        match user.filter(|_| verified) {
            Some(user) => {
                self.store.clear_login_failures(&key).await?;
                Ok(PasswordCheck::Correct(user))
            }
            None => {
                self.store.record_login_failure(&key, now, window_opened_after).await?;
                Ok(PasswordCheck::Wrong)
            }
        }
    }
}
