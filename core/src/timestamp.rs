//! Instants: epoch seconds as DynamoDB sends them (possibly fractional, possibly in exponent
//! form) to and from RFC 3339 UTC with milliseconds.
//!
//! Exact decimal arithmetic (a float would turn `.123` into `.122999…`), no clock.
//! This module performs no IO.

use std::fmt;

use crate::number;

const MILLIS_PER_DAY: i64 = 86_400_000;
/// 0000-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z: what RFC 3339 can spell.
const MIN_MILLIS: i64 = -62_167_219_200_000;
const MAX_MILLIS: i64 = 253_402_300_799_999;

/// A UTC instant with millisecond precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    /// Milliseconds since the Unix epoch.
    pub unix_millis: i64,
}

impl Timestamp {
    /// From milliseconds since the epoch, if RFC 3339 can spell the instant (years 0–9999).
    pub fn from_unix_millis(unix_millis: i64) -> Option<Self> {
        (MIN_MILLIS..=MAX_MILLIS)
            .contains(&unix_millis)
            .then_some(Self { unix_millis })
    }

    /// From decimal epoch-seconds text (`1764210700`, `1764210700.5`, `1.7642107E9`),
    /// truncated to the millisecond (towards the past).
    pub fn from_epoch_seconds_text(text: &str) -> Option<Self> {
        let n = number::canonical(text)?;
        // value = 0.digits × 10^exponent seconds, so the whole milliseconds are the first
        // (exponent + 3) digits, zero-padded on the right.
        let whole_digits = n.exponent().checked_add(3)?;
        if whole_digits > 19 {
            return None;
        }
        let mut millis: i64 = 0;
        let mut rest_nonzero = false;
        for (i, &d) in n.digits().iter().enumerate() {
            if (i as i128) < whole_digits {
                millis = millis.checked_mul(10)?.checked_add(i64::from(d - b'0'))?;
            } else {
                rest_nonzero = true;
                break;
            }
        }
        for _ in n.digits().len() as i128..whole_digits.max(0) {
            millis = millis.checked_mul(10)?;
        }
        if n.is_negative() {
            millis = -millis - i64::from(rest_nonzero);
        }
        Self::from_unix_millis(millis)
    }

    /// `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    pub fn to_rfc3339(&self) -> String {
        self.to_string()
    }

    /// The UTC date (`YYYY-MM-DD`) and hour (`HH`), for time-partitioned layouts.
    pub fn date_hour(&self) -> (String, String) {
        let (y, m, d, hh, _, _, _) = self.fields();
        (format!("{y:04}-{m:02}-{d:02}"), format!("{hh:02}"))
    }

    /// Parses RFC 3339 (`2026-11-27T02:31:40Z`, `…40.5+09:00`; `t`/`z`/space accepted),
    /// truncating fractions past the millisecond.
    pub fn parse_rfc3339(text: &str) -> Option<Self> {
        Self::parse_iso(text, false)
    }

    /// Like [`Timestamp::parse_rfc3339`], but a time without an offset is read as UTC: what
    /// hand-made and emulated stream records carry (moto's streams write
    /// `utcnow().isoformat()`, e.g. `2026-11-27T02:31:40.123456`).
    pub fn parse_stream_time(text: &str) -> Option<Self> {
        Self::parse_iso(text, true)
    }

    fn parse_iso(text: &str, utc_without_offset: bool) -> Option<Self> {
        let b = text.as_bytes();
        let num = |range: std::ops::Range<usize>| -> Option<i64> {
            let s = b.get(range)?;
            s.iter().all(u8::is_ascii_digit).then_some(())?;
            std::str::from_utf8(s).ok()?.parse().ok()
        };
        if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
            return None;
        }
        if !matches!(b[10], b'T' | b't' | b' ') {
            return None;
        }
        let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if !(1..=12).contains(&month)
            || day < 1
            || day > days_in_month(year, month)
            || hour > 23
            || minute > 59
            || second > 60
        {
            return None;
        }
        let mut i = 19;
        let mut millis = 0;
        if b.get(i) == Some(&b'.') {
            let start = i + 1;
            i = start;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if i == start {
                return None;
            }
            let frac = &text[start..i.min(start + 3)];
            millis = frac.parse::<i64>().ok()? * 10_i64.pow(3 - frac.len() as u32);
        }
        let offset_minutes = match b.get(i) {
            None if utc_without_offset => 0,
            Some(b'Z' | b'z') if i + 1 == b.len() => 0,
            Some(sign @ (b'+' | b'-')) if i + 6 == b.len() && b[i + 3] == b':' => {
                let (h, m) = (num(i + 1..i + 3)?, num(i + 4..i + 6)?);
                if h > 23 || m > 59 {
                    return None;
                }
                let minutes = h * 60 + m;
                if *sign == b'+' { minutes } else { -minutes }
            }
            _ => return None,
        };
        let days = days_from_civil(year, month, day);
        let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second - offset_minutes * 60;
        Self::from_unix_millis(seconds * 1_000 + millis)
    }

    fn fields(&self) -> (i64, i64, i64, i64, i64, i64, i64) {
        let days = self.unix_millis.div_euclid(MILLIS_PER_DAY);
        let in_day = self.unix_millis.rem_euclid(MILLIS_PER_DAY);
        let (y, m, d) = civil_from_days(days);
        let secs = in_day / 1_000;
        (
            y,
            m,
            d,
            secs / 3_600,
            secs / 60 % 60,
            secs % 60,
            in_day % 1_000,
        )
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, mo, d, h, mi, s, ms) = self.fields();
        write!(f, "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}Z")
    }
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The inverse of [`civil_from_days`].
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rfc(text: &str) -> String {
        Timestamp::from_epoch_seconds_text(text)
            .expect(text)
            .to_rfc3339()
    }

    // Whole seconds, as a real stream sends them, render with .000.
    #[test]
    fn whole_epoch_seconds_render_with_milliseconds() {
        assert_eq!(rfc("1764210700"), "2025-11-27T02:31:40.000Z");
        assert_eq!(rfc("0"), "1970-01-01T00:00:00.000Z");
    }

    // Fractions are exact: a float would give .122 for .123.
    #[test]
    fn fractional_seconds_are_exact_and_truncated() {
        assert_eq!(rfc("1764210700.123"), "2025-11-27T02:31:40.123Z");
        assert_eq!(rfc("1764210700.1239"), "2025-11-27T02:31:40.123Z");
        assert_eq!(rfc("1764210700.5"), "2025-11-27T02:31:40.500Z");
        assert_eq!(rfc("1.7642107001E9"), "2025-11-27T02:31:40.100Z");
        assert_eq!(rfc("-0.0005"), "1969-12-31T23:59:59.999Z");
    }

    // Instants RFC 3339 cannot spell, or that are not numbers, are refused.
    #[test]
    fn out_of_range_or_invalid_epochs_are_refused() {
        assert!(Timestamp::from_epoch_seconds_text("1e20").is_none());
        assert!(Timestamp::from_epoch_seconds_text("253402300800").is_none());
        assert!(Timestamp::from_epoch_seconds_text("abc").is_none());
        assert!(Timestamp::from_epoch_seconds_text("253402300799.999").is_some());
    }

    // Leap days and month ends round-trip through the civil calendar.
    #[test]
    fn calendar_round_trips() {
        for days in [-719_468, -1, 0, 59, 11_016, 20_513, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(rfc("951782400"), "2000-02-29T00:00:00.000Z");
    }

    // RFC 3339 input with offsets and fractions maps to the same instant.
    #[test]
    fn parses_rfc3339_with_offsets() {
        let t = |s| Timestamp::parse_rfc3339(s).map(|t| t.to_rfc3339());
        assert_eq!(
            t("2025-11-27T02:31:40Z").as_deref(),
            Some("2025-11-27T02:31:40.000Z")
        );
        assert_eq!(
            t("2025-11-27T11:31:40.1234+09:00").as_deref(),
            Some("2025-11-27T02:31:40.123Z")
        );
        assert_eq!(
            t("2025-11-26T21:31:40-05:00").as_deref(),
            Some("2025-11-27T02:31:40.000Z")
        );
        for bad in [
            "2025-11-27",
            "2025-13-01T00:00:00Z",
            "2025-02-30T00:00:00Z",
            "2025-11-27T02:31:40",
            "2025-11-27T02:31:4",
            "2025-11-27T02:31:40.",
            "x025-11-27T02:31:40Z",
        ] {
            assert_eq!(t(bad), None, "{bad}");
        }
    }

    // Creation times are truncated to the millisecond, never rounded, also before 1970 (the
    // floor), from epoch seconds and from moto's microsecond ISO times alike.
    #[test]
    fn microsecond_times_are_truncated_not_rounded() {
        assert_eq!(rfc("1764210700.999999"), "2025-11-27T02:31:40.999Z");
        assert_eq!(rfc("1764210700.123999"), "2025-11-27T02:31:40.123Z");
        assert_eq!(rfc("-0.000001"), "1969-12-31T23:59:59.999Z");
        assert_eq!(rfc("-1.0009"), "1969-12-31T23:59:58.999Z");
        let iso = |s| Timestamp::parse_stream_time(s).map(|t| t.to_rfc3339());
        assert_eq!(
            iso("2026-11-27T02:31:40.123999").as_deref(),
            Some("2026-11-27T02:31:40.123Z")
        );
        assert_eq!(
            iso("2026-11-27T23:59:59.999999Z").as_deref(),
            Some("2026-11-27T23:59:59.999Z")
        );
        assert_eq!(
            iso("2026-11-27T02:31:40").as_deref(),
            Some("2026-11-27T02:31:40.000Z")
        );
        // RFC 3339 proper (the auditor's --at) still wants an offset.
        assert_eq!(Timestamp::parse_rfc3339("2026-11-27T02:31:40"), None);
    }

    // Partitions use the UTC date and hour.
    #[test]
    fn date_hour_is_utc() {
        let ts = Timestamp::from_epoch_seconds_text("1764210700").unwrap();
        assert_eq!(ts.date_hour(), ("2025-11-27".to_string(), "02".to_string()));
    }
}
