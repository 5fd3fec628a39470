//! RFC 3339 rendering of stored timestamps for human-readable CLI output.

use tessera_core::Timestamp;

/// `2026-11-25T17:44:32Z` (UTC, whole seconds).
pub fn rfc3339(timestamp: Timestamp) -> String {
    let secs = timestamp.secs();
    let days = secs.div_euclid(86_400);
    let time = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", time / 3600, time % 3600 / 60, time % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(rfc3339(Timestamp::from_secs(0)), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(Timestamp::from_secs(1_795_628_672)), "2026-11-25T17:44:32Z");
        assert_eq!(rfc3339(Timestamp::from_secs(951_782_400)), "2000-02-29T00:00:00Z");
    }
}
