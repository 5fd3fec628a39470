//! Times on the web pages (console, account), always in UTC (the server's instances may sit
//! in any zone).

use tessera_core::Timestamp;
use time::OffsetDateTime;

fn utc(at: Timestamp) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(at.millis()) * 1_000_000).ok()
}

/// `07:31`: a minute on a chart's time axis.
pub fn hour_minute(at: Timestamp) -> String {
    utc(at).map(|at| format!("{:02}:{:02}", at.hour(), at.minute())).unwrap_or_default()
}

/// `2026-12-01 07:31 UTC`: a moment to the minute; `—` for one out of range.
pub fn minute(at: Timestamp) -> String {
    utc(at)
        .map(|at| {
            let date = at.date();
            format!(
                "{}-{:02}-{:02} {:02}:{:02} UTC",
                date.year(),
                u8::from(date.month()),
                date.day(),
                at.hour(),
                at.minute()
            )
        })
        .unwrap_or_else(|| "—".to_owned())
}

/// [`minute`], or `otherwise` for a time that has not come.
pub fn minute_or(at: Option<Timestamp>, otherwise: &str) -> String {
    at.map_or_else(|| otherwise.to_owned(), minute)
}

/// `2026-12-01 07:31:05`: a moment in a table (the column header says UTC).
pub fn date_time(at: Timestamp) -> String {
    utc(at)
        .map(|at| {
            let (date, clock) = (at.date(), at.time());
            format!(
                "{}-{:02}-{:02} {:02}:{:02}:{:02}",
                date.year(),
                u8::from(date.month()),
                date.day(),
                clock.hour(),
                clock.minute(),
                clock.second()
            )
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_in_utc() {
        let at = Timestamp::from_secs(1_796_110_265); // 2026-12-01T07:31:05Z
        assert_eq!(hour_minute(at), "07:31");
        assert_eq!(date_time(at), "2026-12-01 07:31:05");
        assert_eq!(minute(at), "2026-12-01 07:31 UTC");
        assert_eq!(minute(Timestamp::from_secs(1_764_574_859)), "2025-12-01 07:40 UTC");
        assert_eq!(minute_or(None, "never"), "never");
    }
}
