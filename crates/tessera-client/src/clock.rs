//! The one place that reads the wall clock, and a manual clock for tests.
//!
//! Every freshness decision in this crate takes its `now` from a [`Clock`], so expiry can be
//! tested without sleeping and without a server that issues short-lived tokens.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of the current time.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> SystemTime;
}

/// The operating system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    // This adapter is the only place allowed to read the wall clock (see STYLE.md).
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that only moves when told to, with one-second resolution.
///
/// Tests use it to make a stored access token look expired without waiting for it to expire.
#[derive(Debug, Default)]
pub struct ManualClock {
    unix_seconds: AtomicU64,
}

impl ManualClock {
    /// A clock that reads `unix_seconds` seconds after the Unix epoch.
    pub fn new(unix_seconds: u64) -> Self {
        Self { unix_seconds: AtomicU64::new(unix_seconds) }
    }

    /// A clock that starts at the current wall-clock time (useful against a real server, whose
    /// tokens carry real timestamps).
    pub fn starting_now() -> Self {
        Self::new(unix_seconds(SystemClock.now()))
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        self.unix_seconds.fetch_add(by.as_secs(), Ordering::SeqCst);
    }

    /// Sets the clock to `unix_seconds` seconds after the Unix epoch.
    pub fn set(&self, unix_seconds: u64) {
        self.unix_seconds.store(unix_seconds, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(self.unix_seconds.load(Ordering::SeqCst))
    }
}

/// Whole seconds since the Unix epoch (zero for times before it), the unit the store uses.
pub fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map(|since| since.as_secs()).unwrap_or(0)
}
