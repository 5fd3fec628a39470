//! Time as a value: the core never reads the clock, callers pass `now`.

use std::time::Duration;

/// Milliseconds since the Unix epoch. Stored as a 64-bit integer in every backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const fn from_millis(millis: i64) -> Self {
        Timestamp(millis)
    }

    pub const fn from_secs(secs: i64) -> Self {
        Timestamp(secs.saturating_mul(1000))
    }

    pub const fn millis(self) -> i64 {
        self.0
    }

    /// Whole seconds, rounded down, as JWT `iat`/`exp` want (RFC 7519 §2 NumericDate).
    pub const fn secs(self) -> i64 {
        self.0.div_euclid(1000)
    }

    pub fn plus(self, duration: Duration) -> Self {
        Timestamp(self.0.saturating_add(duration_millis(duration)))
    }

    pub fn minus(self, duration: Duration) -> Self {
        Timestamp(self.0.saturating_sub(duration_millis(duration)))
    }

    /// How long ago `earlier` was, as seen from `self`; zero if `earlier` is in the future.
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration::from_millis(u64::try_from(self.0.saturating_sub(earlier.0)).unwrap_or(0))
    }
}

fn duration_millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// Parses the human durations of the configuration: `500ms`, `3s`, `2m`, `1h`, `30d`, `0s`.
///
/// A bare number is refused: `30` could mean seconds or days, and guessing wrong on a
/// token lifetime is a security bug.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("duration {text:?} has no unit (use ms, s, m, h or d, e.g. \"30s\")"))?;
    let (number, unit) = text.split_at(split);
    let value: u64 = number.parse().map_err(|_| format!("duration {text:?} must start with a whole number"))?;
    let millis_per_unit: u64 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(format!("duration {text:?} has unknown unit {unit:?} (use ms, s, m, h or d)")),
    };
    value
        .checked_mul(millis_per_unit)
        .map(Duration::from_millis)
        .ok_or_else(|| format!("duration {text:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_table() {
        let cases: &[(&str, Option<u64>)] = &[
            ("500ms", Some(500)),
            ("3s", Some(3_000)),
            ("2m", Some(120_000)),
            ("1h", Some(3_600_000)),
            ("30d", Some(2_592_000_000)),
            ("0s", Some(0)),
            (" 30s ", Some(30_000)),
            ("30", None),
            ("s", None),
            ("3 s", None),
            ("3w", None),
            ("-3s", None),
            ("99999999999999999999d", None),
        ];
        for (text, expected) in cases {
            let got = parse_duration(text).ok().map(|d| d.as_millis() as u64);
            assert_eq!(got, *expected, "parse_duration({text:?})");
        }
    }

    #[test]
    fn timestamp_arithmetic() {
        let t = Timestamp::from_secs(100);
        assert_eq!(t.plus(Duration::from_millis(1500)).millis(), 101_500);
        assert_eq!(t.since(Timestamp::from_secs(40)), Duration::from_secs(60));
        assert_eq!(Timestamp::from_secs(40).since(t), Duration::ZERO);
        assert_eq!(Timestamp::from_millis(1999).secs(), 1);
    }
}
