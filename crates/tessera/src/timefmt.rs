//! RFC 3339 rendering of stored timestamps for human-readable CLI output.

use tessera_core::Timestamp;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// `2026-11-25T17:44:32Z` (UTC, whole seconds). A timestamp that RFC 3339 cannot spell (before
/// year 0 or after 9999) is printed as Unix seconds.
pub fn rfc3339(timestamp: Timestamp) -> String {
    let secs = timestamp.secs();
    OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|datetime| datetime.format(&Rfc3339).ok())
        .unwrap_or_else(|| format!("{secs} (Unix seconds)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(rfc3339(Timestamp::from_secs(0)), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(Timestamp::from_secs(1_795_628_672)), "2026-11-25T17:44:32Z");
        assert_eq!(rfc3339(Timestamp::from_secs(951_782_400)), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(Timestamp::from_secs(-1)), "1969-12-31T23:59:59Z");
        assert_eq!(rfc3339(Timestamp::from_secs(300_000_000_000)), "300000000000 (Unix seconds)");
    }
}
