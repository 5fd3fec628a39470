//! What the sign-in throttle's counters answer (`sign_in_attempts`, migration 0005): the
//! backends' `throttle.rs` hold the statements, `service::throttle` the rules.

use tessera_core::Timestamp;

/// A counter's open window: how many attempts it holds and when it began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignInWindow {
    pub attempts: i64,
    pub started_at: Timestamp,
}

/// The answer to a reservation: counted, or refused because the open window is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// Counted; the window now holds `attempts` (this one included).
    Reserved { attempts: i64 },
    /// Not counted: the window that began at `window_started_at` already holds the limit.
    Refused { window_started_at: Timestamp },
}

/// The one statement both backends reserve with: open a window with one attempt, or count one
/// more in the open window only while it holds fewer than `$4`, or open a new window at `$2`
/// over a closed one (it began at or before `$3`). A full window matches the `WHERE` of
/// `DO UPDATE`, so no row changes and none is returned. Concurrent reservations queue on the
/// row: of any number at once, exactly as many as the limit allows succeed.
pub(crate) const RESERVE_SQL: &str = "INSERT INTO sign_in_attempts (counter, window_started_at, attempts) \
     VALUES ($1, $2, 1) \
     ON CONFLICT (counter) DO UPDATE SET \
       attempts = CASE WHEN sign_in_attempts.window_started_at > $3 THEN sign_in_attempts.attempts + 1 ELSE 1 END, \
       window_started_at = CASE WHEN sign_in_attempts.window_started_at > $3 \
                                THEN sign_in_attempts.window_started_at ELSE $2 END \
     WHERE sign_in_attempts.window_started_at <= $3 OR sign_in_attempts.attempts < $4 \
     RETURNING attempts";

/// The open window of a counter.
pub(crate) const WINDOW_SQL: &str =
    "SELECT attempts, window_started_at FROM sign_in_attempts WHERE counter = $1 AND window_started_at > $2";

/// Gives one attempt back to the open window.
pub(crate) const RELEASE_SQL: &str = "UPDATE sign_in_attempts SET attempts = attempts - 1 \
     WHERE counter = $1 AND window_started_at > $2 AND attempts > 0";

pub(crate) const CLEAR_SQL: &str = "DELETE FROM sign_in_attempts WHERE counter = $1";
