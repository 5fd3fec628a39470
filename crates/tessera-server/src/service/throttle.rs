//! Password checks and their throttle (issue 10): attempts are counted per username and client
//! address, and per username from all addresses with a higher ceiling, in the database so that
//! every instance agrees; each attempt is reserved before its password is checked.

use super::{AuthService, InternalError, ServiceError};
use crate::passwords;
use crate::store::{Reservation, UserRow};
use std::net::IpAddr;
use std::time::Duration;
use tessera_core::{Password, Timestamp, address_key};

/// The outcome of a username and password check.
pub enum PasswordCheck {
    Correct(UserRow),
    Wrong,
    /// Too many attempts for this username (from this address, or from everywhere): not
    /// checked. The window ends in `retry_after`.
    Throttled {
        retry_after: Duration,
    },
    /// Too many checks are waiting for a CPU on this instance: not checked, nothing counted.
    Busy,
}

/// The two counters an attempt is reserved on: the username from this client address, and the
/// username from everywhere (`*`: no address contains one).
struct Counters {
    per_address: String,
    per_username: String,
}

impl Counters {
    fn new(username: &str, client: IpAddr) -> Self {
        // Counters are keyed by at most 200 characters of the username: no username is longer.
        let username: String = username.chars().take(200).collect();
        Counters { per_address: format!("{} {username}", address_key(client)), per_username: format!("* {username}") }
    }
}

/// How long until a window that began at `started_at` ends: whole seconds, at least one.
fn wait_until_window_ends(started_at: Timestamp, window: Duration, now: Timestamp) -> Duration {
    let remaining_ms = started_at.plus(window).millis().saturating_sub(now.millis()).max(0);
    let seconds = u64::try_from(remaining_ms).unwrap_or(0).div_ceil(1000).max(1);
    Duration::from_secs(seconds)
}

/// A wait as people say it: "40 seconds", "1 minute", "15 minutes" (rounded up).
pub fn describe_wait(wait: Duration) -> String {
    let seconds = wait.as_secs().max(1);
    match seconds {
        1 => "1 second".into(),
        2..=90 => format!("{seconds} seconds"),
        _ => format!("{} minutes", seconds.div_ceil(60)),
    }
}

impl AuthService {
    /// Checks a username and password typed by the client at `client`. Unknown usernames are
    /// checked against a dummy hash, so they cost the same time as wrong passwords; Argon2
    /// runs off the async threads, at most one check per CPU, with a bounded queue.
    ///
    /// The throttle: before the check, one attempt is reserved on the username-and-address
    /// counter, then on the username's own counter, each by one conditional upsert that counts
    /// it only while the window holds fewer than its limit. A burst of concurrent guesses
    /// therefore gets at most the limit checked, on any number of instances, and a refused
    /// guess costs no Argon2 and no place in the queue. Because the reservation itself is the
    /// check against the limit, nothing read earlier decides anything: once admitted, the
    /// attempt holds its place under both limits while it waits for its permit.
    ///
    /// Outcomes: a wrong password keeps its reservations (they are the failures counted). A
    /// correct one clears the username-and-address counter (the failures from there were the
    /// user's own typing) and gives its attempt back to the username's counter, whose earlier
    /// failures stay counted: a user who signs in often never reaches the ceiling, and an
    /// attacker sharing the user's address cannot reset it. A check that does not happen (the
    /// queue is full) gives both back.
    pub(crate) async fn check_password(
        &self,
        username: &str,
        password: Password,
        client: IpAddr,
    ) -> Result<PasswordCheck, ServiceError> {
        let limits = self.config.login_limits;
        let now = self.now();
        let opened_after = now.minus(limits.window);
        let counters = Counters::new(username, client);
        let throttled = |started_at| PasswordCheck::Throttled {
            retry_after: wait_until_window_ends(started_at, limits.window, now),
        };
        // A read first, so that a flood of guesses that are refused anyway costs no write.
        for (counter, limit) in
            [(&counters.per_address, limits.per_address), (&counters.per_username, limits.per_username)]
        {
            match self.store.sign_in_attempts(counter, opened_after).await? {
                Some(window) if window.attempts >= limit => return Ok(throttled(window.started_at)),
                _ => {}
            }
        }
        let reserve = |counter, limit| self.store.reserve_sign_in_attempt(counter, now, opened_after, limit);
        if let Reservation::Refused { window_started_at } = reserve(&counters.per_address, limits.per_address).await? {
            return Ok(throttled(window_started_at));
        }
        if let Reservation::Refused { window_started_at } = reserve(&counters.per_username, limits.per_username).await?
        {
            self.store.release_sign_in_attempt(&counters.per_address, opened_after).await?;
            return Ok(throttled(window_started_at));
        }
        let Ok(admission) = self.password_memory.admit() else {
            self.store.release_sign_in_attempt(&counters.per_address, opened_after).await?;
            self.store.release_sign_in_attempt(&counters.per_username, opened_after).await?;
            return Ok(PasswordCheck::Busy);
        };
        let user = self.store.get_user_by_username(username).await?;
        let stored_hash = user.as_ref().map(|user| user.password_hash.clone());
        // The lease (a permit and its Argon2 memory) moves into the blocking task: it is held
        // until the check ends, even if this request is dropped meanwhile.
        let mut lease = admission.lease().await.map_err(|_| InternalError::PasswordTask)?;
        let verified = tokio::task::spawn_blocking(move || {
            passwords::verify_password(&password, stored_hash.as_deref(), lease.blocks())
        })
        .await
        .map_err(|_| InternalError::PasswordTask)?;
        match user.filter(|_| verified) {
            Some(user) => {
                self.store.clear_sign_in_attempts(&counters.per_address).await?;
                self.store.release_sign_in_attempt(&counters.per_username, opened_after).await?;
                Ok(PasswordCheck::Correct(user))
            }
            None => Ok(PasswordCheck::Wrong),
        }
    }

    /// Tests: the Argon2 queue, to fill it.
    #[cfg(feature = "fault-injection")]
    pub fn password_memory(&self) -> &passwords::PasswordMemory {
        &self.password_memory
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_until_the_window_ends() {
        let window = Duration::from_secs(15 * 60);
        let start = Timestamp::from_millis(1_000_000);
        let rows = [(0, 900), (1, 900), (999, 900), (1_000, 899), (899_001, 1), (900_000, 1), (2_000_000, 1)];
        for (elapsed_ms, seconds) in rows {
            let now = Timestamp::from_millis(1_000_000 + elapsed_ms);
            assert_eq!(wait_until_window_ends(start, window, now), Duration::from_secs(seconds), "{elapsed_ms}");
        }
    }

    #[test]
    fn waits_are_said_as_people_say_them() {
        for (seconds, said) in
            [(0, "1 second"), (1, "1 second"), (40, "40 seconds"), (91, "2 minutes"), (900, "15 minutes")]
        {
            assert_eq!(describe_wait(Duration::from_secs(seconds)), said);
        }
    }

    #[test]
    fn counters_are_per_address_and_per_username() {
        let counters = Counters::new("alice", "2001:db8::1".parse().unwrap());
        assert_eq!((counters.per_address.as_str(), counters.per_username.as_str()), ("2001:db8::/64 alice", "* alice"));
        let long = "x".repeat(300);
        assert_eq!(Counters::new(&long, "192.0.2.1".parse().unwrap()).per_username.len(), 202);
    }
}
