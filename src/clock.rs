//! Wall-clock time as the wire wants it: milliseconds since the epoch, and ISO-8601 UTC
//! text. The civil-calendar arithmetic is jiff's; this module only fixes the wire forms.

use std::time::{SystemTime, UNIX_EPOCH};

use jiff::civil::{self, Date};
use jiff::tz::Offset;
use jiff::{Span, Timestamp};

/// The day that day counts start from.
const EPOCH: Date = civil::date(1970, 1, 1);

/// Milliseconds since 1970-01-01T00:00:00Z, now.
pub fn now_millis() -> i64 {
    millis_of(SystemTime::now())
}

/// Milliseconds since the epoch of `t` (0 before the epoch).
pub fn millis_of(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// `ms` since the epoch as `yyyy-MM-ddTHH:mm:ss.SSS` followed by `zone` (`Z` for the form
/// Flow and Boomi profiles accept, `+00:00` for Flowable's). Instants past what jiff holds
/// (the years -9999 to 9999) are shown as its first or last one rather than failing: a
/// record's time is never worth an error.
pub fn format_millis(ms: i64, zone: &str) -> String {
    let ts = Timestamp::from_millisecond(ms).unwrap_or(if ms < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    });
    let t = Offset::UTC.to_datetime(ts);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}{zone}",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian. Counts past jiff's
/// range (the years -9999 to 9999) give its first or last day.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let date = Span::new()
        .try_days(z)
        .and_then(|days| EPOCH.checked_add(days))
        .unwrap_or(if z < 0 { Date::MIN } else { Date::MAX });
    (
        i64::from(date.year()),
        u32::from(date.month().unsigned_abs()),
        u32::from(date.day().unsigned_abs()),
    )
}

/// (year, month, day) to days since 1970-01-01. As the arithmetic it replaced, a day past
/// the month's end runs on into the next month (February 30 is March 1 or 2) and a month
/// past 12 into the next year; years are held to -9999 to 9999.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let months = y.saturating_mul(12).saturating_add(i64::from(m) - 1);
    let (year, month) = (months.div_euclid(12), months.rem_euclid(12) + 1);
    let year = i16::try_from(year.clamp(-9999, 9999)).unwrap_or_default();
    let month = i8::try_from(month).unwrap_or(1);
    let first = civil::date(year, month, 1);
    i64::from((first - EPOCH).get_days()) + i64::from(d) - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_with_millis() {
        assert_eq!(
            format_millis(1_768_953_600_123, "Z"),
            "2026-01-21T00:00:00.123Z"
        );
        assert_eq!(format_millis(0, "+00:00"), "1970-01-01T00:00:00.000+00:00");
        assert_eq!(
            format_millis(951_782_400_000, "Z"),
            "2000-02-29T00:00:00.000Z"
        );
    }

    #[test]
    fn formats_before_the_epoch_and_past_the_range() {
        assert_eq!(format_millis(-1, "Z"), "1969-12-31T23:59:59.999Z");
        assert!(format_millis(i64::MAX, "Z").starts_with("9999-12-"));
        assert!(format_millis(i64::MIN, "Z").starts_with("-9999-01-"));
    }

    #[test]
    fn days_past_the_month_run_on_as_before() {
        assert_eq!(days_from_civil(2026, 2, 29), days_from_civil(2026, 3, 1));
        assert_eq!(days_from_civil(2025, 13, 1), days_from_civil(2026, 1, 1));
        assert_eq!(civil_from_days(20_474), (2026, 1, 21));
        assert_eq!(civil_from_days(i64::MAX), (9999, 12, 31));
    }

    #[test]
    fn civil_days_round_trip() {
        for days in [-719_468, -1, 0, 59, 11_016, 20_474, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
    }
}
