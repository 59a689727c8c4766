//! The wall clock as every part of pets reads it: Unix seconds and
//! milliseconds, the current minute, and RFC 3339 text. One place, so a
//! stamp written by one crate reads the same in another.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    unix_seconds(SystemTime::now())
}

/// Milliseconds since the Unix epoch.
pub fn unix_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The current minute, as the login ceiling counts it.
pub fn minute_now() -> u64 {
    unix_now() / 60
}

/// `t` in Unix seconds (0 before the epoch).
pub fn unix_seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The time `seconds` after the Unix epoch.
pub fn from_unix_seconds(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds)
}

/// `t` as RFC 3339 text, in UTC.
pub fn rfc3339(t: SystemTime) -> String {
    time::OffsetDateTime::from(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// `millis` after the Unix epoch as RFC 3339 text, in UTC, to the
/// millisecond.
pub fn rfc3339_millis(millis: u64) -> String {
    rfc3339(UNIX_EPOCH + Duration::from_millis(millis))
}

/// Now, to the second, as RFC 3339 text.
pub fn now_rfc3339() -> String {
    rfc3339(from_unix_seconds(unix_now()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_reads_the_same_every_way() {
        let t = from_unix_seconds(1_800_000_000);
        assert_eq!(unix_seconds(t), 1_800_000_000);
        assert_eq!(rfc3339(t), "2027-01-15T08:00:00Z");
        assert_eq!(rfc3339_millis(1_800_000_000_250), "2027-01-15T08:00:00.25Z");
        assert!(unix_millis() / 1000 >= unix_now() - 1);
        assert_eq!(minute_now(), unix_now() / 60);
    }
}
