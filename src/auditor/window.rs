//! A time window (`--since`, `--until`) and the batch-mode partitions it needs.
//!
//! A window is closed at both ends: a record stamped exactly at `--since` or `--until` is in
//! it, as a record stamped exactly at `replay --at` counts. The partitions are the UTC
//! `dt=YYYY-MM-DD/hour=HH` folders the function files records under by their approximate
//! creation time (`key::batch_partition`), so the partitions of a window hold every record in
//! it. This module performs no IO and reads no clock: the caller passes `now`.

use crate::timestamp::Timestamp;

/// The accepted form of a time flag, for error messages.
pub const TIME_FORM: &str =
    "an RFC 3339 time, e.g. 2026-11-27T14:00:00Z or 2026-11-27T14:00:00.000+09:00, or now";

/// Objects a command reads without `--yes`; past it, it asks (or points to Athena).
pub const MAX_OBJECTS: usize = 10_000;

/// Why the flags of an investigation are not usable. Each displays as one line naming the
/// flag and the form it accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvestigateError {
    #[error("{flag}: {text:?} is not {TIME_FORM}")]
    Time { flag: &'static str, text: String },
    #[error("--until: {until} is before --since {since}")]
    Reversed { since: String, until: String },
    #[error(
        "--path: {0} (expected an RFC 6901 pointer with * for any one segment, e.g. /status or /lines/*/qty)"
    )]
    Path(#[from] crate::pattern::PatternError),
    #[error(
        "--value: {text:?} is not a typed DynamoDB value ({reason}); expected e.g. '{{\"S\":\"CANCELLED\"}}' or '{{\"N\":\"12.5\"}}'"
    )]
    Value { text: String, reason: String },
    #[error("--event: {0:?} is not INSERT, MODIFY or REMOVE")]
    Event(String),
    #[error(
        "the window needs {count} objects under s3://{bucket}/{prefix} (more than {limit}): add --yes to read them all, narrow --since/--until, or query with Athena (docs/athena.md)"
    )]
    TooMany {
        count: usize,
        limit: usize,
        bucket: String,
        prefix: String,
    },
}

/// A closed time window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub since: Timestamp,
    pub until: Timestamp,
}

/// Parses a time flag: RFC 3339, or `now`.
pub fn parse_time(
    flag: &'static str,
    text: &str,
    now: Timestamp,
) -> Result<Timestamp, InvestigateError> {
    if text.eq_ignore_ascii_case("now") {
        return Ok(now);
    }
    Timestamp::parse_rfc3339(text).ok_or_else(|| InvestigateError::Time {
        flag,
        text: text.to_owned(),
    })
}

impl Window {
    /// `--since` and `--until` (default: now); `--until` must not be before `--since`.
    pub fn parse(
        since: &str,
        until: Option<&str>,
        now: Timestamp,
    ) -> Result<Self, InvestigateError> {
        let since = parse_time("--since", since, now)?;
        let until = until.map_or(Ok(now), |u| parse_time("--until", u, now))?;
        Self::new(since, until)
    }

    /// A window from two instants, refused when reversed.
    pub fn new(since: Timestamp, until: Timestamp) -> Result<Self, InvestigateError> {
        if until < since {
            return Err(InvestigateError::Reversed {
                since: since.to_rfc3339(),
                until: until.to_rfc3339(),
            });
        }
        Ok(Self { since, until })
    }

    /// Whether `time` lies in the window (both ends included).
    pub fn contains(&self, time: Timestamp) -> bool {
        self.since <= time && time <= self.until
    }

    /// The `(dt, hour)` partitions the window needs, oldest first.
    pub fn partitions(&self) -> Vec<(String, String)> {
        const HOUR: i64 = 3_600_000;
        let first = self.since.unix_millis.div_euclid(HOUR);
        let last = self.until.unix_millis.div_euclid(HOUR);
        (first..=last)
            .filter_map(|h| Timestamp::from_unix_millis(h * HOUR))
            .map(|t| t.date_hour())
            .collect()
    }

    /// `since … until`, for messages.
    pub fn describe(&self) -> String {
        format!("{} … {}", self.since.to_rfc3339(), self.until.to_rfc3339())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        Timestamp::parse_rfc3339(text).unwrap()
    }

    // The window's partitions are every UTC hour it touches, across midnight.
    #[test]
    fn partitions_are_the_hours_touched() {
        let w = Window::parse(
            "2026-11-27T22:30:00Z",
            Some("2026-11-28T00:00:00Z"),
            at("2026-12-01T00:00:00Z"),
        )
        .unwrap();
        assert_eq!(
            w.partitions(),
            [
                ("2026-11-27".to_owned(), "22".to_owned()),
                ("2026-11-27".to_owned(), "23".to_owned()),
                ("2026-11-28".to_owned(), "00".to_owned()),
            ]
        );
        // Time zones are converted: 09:10+09:00 is 00:10 UTC.
        let w = Window::parse(
            "2026-11-28T09:10:00+09:00",
            Some("2026-11-28T09:20:00+09:00"),
            at("2026-12-01T00:00:00Z"),
        )
        .unwrap();
        assert_eq!(w.partitions(), [("2026-11-28".to_owned(), "00".to_owned())]);
    }

    // Both ends are in the window, as `replay --at` counts a record at exactly that time.
    #[test]
    fn both_ends_are_included() {
        let w = Window::new(at("2026-11-27T10:00:00Z"), at("2026-11-27T11:00:00Z")).unwrap();
        assert!(w.contains(at("2026-11-27T10:00:00Z")));
        assert!(w.contains(at("2026-11-27T11:00:00Z")));
        assert!(!w.contains(at("2026-11-27T11:00:00.001Z")));
    }

    // Bad and reversed windows name the flag and the accepted form; `now` is the caller's.
    #[test]
    fn bad_windows_say_which_flag() {
        let now = at("2026-11-27T12:00:00Z");
        assert_eq!(
            Window::parse("yesterday", None, now)
                .unwrap_err()
                .to_string(),
            format!("--since: \"yesterday\" is not {TIME_FORM}")
        );
        assert_eq!(
            Window::parse("2026-11-27T11:00:00Z", Some("2026-11-27T10:00:00Z"), now)
                .unwrap_err()
                .to_string(),
            "--until: 2026-11-27T10:00:00.000Z is before --since 2026-11-27T11:00:00.000Z"
        );
        assert_eq!(
            Window::parse("2026-11-27T11:00:00Z", None, now)
                .unwrap()
                .until,
            now
        );
    }
}
