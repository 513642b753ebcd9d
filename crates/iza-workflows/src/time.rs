//! RFC 3339 timestamps of both engines (`2026-12-07T04:35:00.123Z`) to and from Unix
//! milliseconds.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds of an RFC 3339 UTC timestamp; `None` when it does not parse.
pub(crate) fn parse(text: &str) -> Option<i64> {
    let at = humantime::parse_rfc3339_weak(text).ok()?;
    Some(at.duration_since(UNIX_EPOCH).ok()?.as_millis() as i64)
}

/// The RFC 3339 text of Unix milliseconds.
pub(crate) fn format(millis: i64) -> String {
    let at = UNIX_EPOCH + Duration::from_millis(millis.max(0) as u64);
    humantime::format_rfc3339_millis(at).to_string()
}

/// Now, in Unix milliseconds.
pub(crate) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trips() {
        let at = super::parse("2026-12-07T04:35:00.123Z").unwrap();
        assert_eq!(super::format(at), "2026-12-07T04:35:00.123Z");
        assert_eq!(super::parse("yesterday"), None);
    }
}
