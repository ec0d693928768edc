//! Timestamps as the portal shows and reads them: always UTC, identical on server and browser.

use chrono::{DateTime, NaiveDateTime, Utc};

/// Formats a timestamp for display, e.g. `2026-11-27 10:40 UTC`.
pub fn display(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// Formats a timestamp for an `<input type="datetime-local">` value (UTC).
pub fn to_input(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M").to_string()
}

/// Reads an `<input type="datetime-local">` value as UTC; seconds are optional.
pub fn parse_input(value: &str) -> Option<DateTime<Utc>> {
    let value = value.trim();
    ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(value, f).ok())
        .map(|naive| naive.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn input_round_trip() {
        let at = Utc.with_ymd_and_hms(2026, 11, 27, 10, 40, 0).unwrap();
        assert_eq!(parse_input(&to_input(at)), Some(at));
        assert_eq!(parse_input("2026-11-27T10:40:00"), Some(at));
        assert_eq!(display(at), "2026-11-27 10:40 UTC");
        for bad in ["", "tomorrow", "2026-13-01T00:00", "2026-11-27T25:00"] {
            assert_eq!(parse_input(bad), None, "{bad}");
        }
    }
}
