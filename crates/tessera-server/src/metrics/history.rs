//! The last hour of the console's counters, per minute, in memory: a ring of 60 one-minute
//! buckets fed by the same calls that feed the Prometheus counters, the time of each event
//! taken from the service's clock. Per instance: it starts empty when the server starts.

use std::sync::{Mutex, PoisonError};
use tessera_core::{GrantType, Timestamp};

/// Minutes the ring remembers.
pub const MINUTES: usize = 60;
const MINUTE_MILLIS: i64 = 60_000;
const GRANTS: usize = GrantType::ALL.len();
/// Token requests per grant and outcome (ok, refused), then the five single series.
const SERIES: usize = 2 * GRANTS + 5;

/// Something the console charts, counted per minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A token request of a grant type: answered with tokens (`true`) or refused.
    TokenRequest(GrantType, bool),
    Rotated,
    /// A grace-window replay.
    Replayed,
    ReuseDetected,
    FamilyRevoked,
    /// A sign-in page refused a password.
    FailedSignIn,
}

impl Event {
    fn index(self) -> usize {
        match self {
            Event::TokenRequest(grant, ok) => {
                let grant = GrantType::ALL.iter().position(|known| *known == grant).unwrap_or(0);
                2 * grant + usize::from(!ok)
            }
            Event::Rotated => 2 * GRANTS,
            Event::Replayed => 2 * GRANTS + 1,
            Event::ReuseDetected => 2 * GRANTS + 2,
            Event::FamilyRevoked => 2 * GRANTS + 3,
            Event::FailedSignIn => 2 * GRANTS + 4,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Minutes since the epoch this bucket counts; a bucket of an older minute is stale.
    minute: i64,
    counts: [u64; SERIES],
}

/// The ring of buckets. A short lock per event: the counters it shadows are cheap too.
#[derive(Debug)]
pub struct History {
    buckets: Mutex<[Bucket; MINUTES]>,
}

impl Default for History {
    fn default() -> Self {
        History { buckets: Mutex::new([Bucket { minute: i64::MIN, counts: [0; SERIES] }; MINUTES]) }
    }
}

fn minute_of(at: Timestamp) -> i64 {
    at.millis().div_euclid(MINUTE_MILLIS)
}

fn slot_of(minute: i64) -> usize {
    // rem_euclid of a positive modulus is in 0..MINUTES.
    usize::try_from(minute.rem_euclid(MINUTES as i64)).unwrap_or(0)
}

impl History {
    /// Counts `event` in the minute of `at`.
    pub fn record(&self, at: Timestamp, event: Event) {
        let minute = minute_of(at);
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let bucket = &mut buckets[slot_of(minute)];
        if bucket.minute != minute {
            if bucket.minute > minute {
                // An event from over an hour before the newest one: nowhere to put it.
                return;
            }
            *bucket = Bucket { minute, counts: [0; SERIES] };
        }
        bucket.counts[event.index()] += 1;
    }

    /// The hour that ends with the minute of `now`, oldest minute first.
    pub fn last_hour(&self, now: Timestamp) -> LastHour {
        let last = minute_of(now);
        let first = last - (MINUTES as i64 - 1);
        let buckets = *self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let counts = (first..=last)
            .map(|minute| {
                let bucket = buckets[slot_of(minute)];
                if bucket.minute == minute { bucket.counts } else { [0; SERIES] }
            })
            .collect();
        LastHour { first_minute_at: Timestamp::from_millis(first * MINUTE_MILLIS), counts }
    }
}

/// A copy of the last hour, per minute.
#[derive(Debug, Clone)]
pub struct LastHour {
    /// When the first (oldest) minute began.
    pub first_minute_at: Timestamp,
    counts: Vec<[u64; SERIES]>,
}

impl LastHour {
    /// `event`'s count in each minute, oldest first ([`MINUTES`] values).
    pub fn series(&self, event: Event) -> Vec<u64> {
        let index = event.index();
        self.counts.iter().map(|minute| minute[index]).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minute: i64, second: i64) -> Timestamp {
        // 1_800_000_000 is a whole minute.
        Timestamp::from_secs(1_800_000_000 + minute * 60 + second)
    }

    #[test]
    fn counts_each_event_in_its_minute() {
        let history = History::default();
        history.record(at(0, 1), Event::Rotated);
        history.record(at(0, 59), Event::Rotated);
        history.record(at(1, 0), Event::Rotated);
        history.record(at(1, 30), Event::TokenRequest(GrantType::Password, false));
        history.record(at(1, 31), Event::TokenRequest(GrantType::Password, true));
        let hour = history.last_hour(at(1, 45));
        let rotated = hour.series(Event::Rotated);
        assert_eq!(rotated.len(), MINUTES);
        assert_eq!(&rotated[MINUTES - 2..], &[2, 1]);
        assert_eq!(rotated.iter().sum::<u64>(), 3);
        assert_eq!(hour.series(Event::TokenRequest(GrantType::Password, false))[MINUTES - 1], 1);
        assert_eq!(hour.series(Event::TokenRequest(GrantType::Password, true))[MINUTES - 1], 1);
        assert_eq!(hour.series(Event::TokenRequest(GrantType::RefreshToken, true)).iter().sum::<u64>(), 0);
        assert_eq!(hour.first_minute_at, at(-58, 0));
    }

    #[test]
    fn an_hour_later_the_old_minutes_are_gone() {
        let history = History::default();
        history.record(at(0, 0), Event::FailedSignIn);
        history.record(at(30, 0), Event::FailedSignIn);
        // Still within the hour that ends at minute 59.
        assert_eq!(history.last_hour(at(59, 0)).series(Event::FailedSignIn).iter().sum::<u64>(), 2);
        // Minute 0 has left the window; its slot is reused by minute 60 and starts from zero.
        assert_eq!(history.last_hour(at(60, 0)).series(Event::FailedSignIn).iter().sum::<u64>(), 1);
        history.record(at(60, 5), Event::FailedSignIn);
        let hour = history.last_hour(at(60, 10));
        assert_eq!(hour.series(Event::FailedSignIn)[MINUTES - 1], 1, "not 2: the slot was stale");
        assert_eq!(hour.series(Event::FailedSignIn)[MINUTES - 31], 1);
        // Two hours later nothing is left.
        assert_eq!(history.last_hour(at(200, 0)).series(Event::FailedSignIn).iter().sum::<u64>(), 0);
    }

    #[test]
    fn an_event_older_than_the_ring_does_not_erase_a_newer_minute() {
        let history = History::default();
        history.record(at(60, 0), Event::ReuseDetected);
        history.record(at(0, 0), Event::ReuseDetected);
        assert_eq!(history.last_hour(at(60, 0)).series(Event::ReuseDetected)[MINUTES - 1], 1);
    }

    #[test]
    fn series_do_not_share_a_slot() {
        let mut seen = std::collections::HashSet::new();
        let mut events: Vec<Event> = GrantType::ALL
            .iter()
            .flat_map(|grant| [Event::TokenRequest(*grant, true), Event::TokenRequest(*grant, false)])
            .collect();
        events.extend([
            Event::Rotated,
            Event::Replayed,
            Event::ReuseDetected,
            Event::FamilyRevoked,
            Event::FailedSignIn,
        ]);
        for event in events {
            assert!(event.index() < SERIES && seen.insert(event.index()), "{event:?}");
        }
    }
}
