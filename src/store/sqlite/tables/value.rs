//! Values between the wire (strings in `contentValue`) and SQLite, by property type.
//!
//! What is stored, and why:
//! - Number: an SQLite INTEGER when the text is an integer that fits 64 bits, else a REAL
//!   (finite only). Both order numerically; a REAL renders with Rust's shortest round-trip
//!   form, so `"19.99"` comes back as `"19.99"`, never with float noise. More than about
//!   15 significant digits are rounded to the nearest double.
//! - Boolean: INTEGER 0 or 1 (`"true"`/`"false"`, any case).
//! - DateTime: TEXT `YYYY-MM-DDTHH:MM:SS.mmmZ` in UTC. Fixed width, so text order is
//!   chronological order; offsets and fractions are accepted and normalized (fractions to
//!   milliseconds). Rendered as `YYYY-MM-DDTHH:MM:SSZ`, with `.mmm` only when not zero.
//! - Strings as TEXT; Object and List as the JSON text of their `objectData`.
//! - An empty `contentValue` is "no value" (NULL) for Number, Boolean and DateTime.

use std::borrow::Cow;
use std::fmt::Write as _;

use rusqlite::types::{Value as SqlValue, ValueRef};

use crate::protocol::MObject;

/// How a column stores and renders its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// String, Content, Encrypted: TEXT, searchable.
    Text,
    /// Password: TEXT, never rendered, never searched.
    Password,
    /// INTEGER or REAL.
    Number,
    /// INTEGER 0/1.
    Boolean,
    /// Canonical UTC text.
    DateTime,
    /// JSON text of one object.
    Object,
    /// JSON text of a list of objects.
    List,
}

impl Kind {
    /// Whether values are objects (`objectData`) rather than scalars.
    pub(crate) fn is_object(self) -> bool {
        matches!(self, Kind::Object | Kind::List)
    }
}

/// Why a value does not fit its type; the caller names the property.
pub(crate) type Unfit = &'static str;

/// Parses a scalar `contentValue` for a column of `kind`; `None` is NULL.
pub(crate) fn parse(kind: Kind, s: Option<&str>) -> Result<SqlValue, Unfit> {
    let Some(s) = s else {
        return Ok(SqlValue::Null);
    };
    match kind {
        Kind::Text | Kind::Password => Ok(SqlValue::Text(s.to_owned())),
        Kind::Number => parse_number(s),
        Kind::Boolean => parse_bool(s),
        Kind::DateTime => parse_datetime(s).map(|o| o.map_or(SqlValue::Null, SqlValue::Text)),
        Kind::Object | Kind::List => {
            Err("is not a scalar value; Object and List properties take objectData")
        }
    }
}

/// Parses a decimal number: `[+-]digits[.digits][e[+-]digits]`; empty is NULL.
pub(crate) fn parse_number(s: &str) -> Result<SqlValue, Unfit> {
    const NOT_A_NUMBER: Unfit = "is not a number";
    let t = s.trim();
    if t.is_empty() {
        return Ok(SqlValue::Null);
    }
    let b = t.as_bytes();
    let mut i = usize::from(matches!(b[0], b'+' | b'-'));
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let mut digits = i - int_start;
    let mut integral = true;
    if i < b.len() && b[i] == b'.' {
        integral = false;
        i += 1;
        let f = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        digits += i - f;
    }
    if digits == 0 {
        return Err(NOT_A_NUMBER);
    }
    if i < b.len() && matches!(b[i], b'e' | b'E') {
        integral = false;
        i += 1;
        if i < b.len() && matches!(b[i], b'+' | b'-') {
            i += 1;
        }
        let e = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == e {
            return Err(NOT_A_NUMBER);
        }
    }
    if i != b.len() {
        return Err(NOT_A_NUMBER);
    }
    if integral {
        if let Ok(n) = t.parse::<i64>() {
            return Ok(SqlValue::Integer(n));
        }
    }
    match t.parse::<f64>() {
        Ok(f) if f.is_finite() => Ok(SqlValue::Real(f)),
        _ => Err("is not a finite number"),
    }
}

/// Parses `true`/`false` in any case; empty is NULL.
pub(crate) fn parse_bool(s: &str) -> Result<SqlValue, Unfit> {
    let t = s.trim();
    if t.is_empty() {
        Ok(SqlValue::Null)
    } else if t.eq_ignore_ascii_case("true") {
        Ok(SqlValue::Integer(1))
    } else if t.eq_ignore_ascii_case("false") {
        Ok(SqlValue::Integer(0))
    } else {
        Err("is not a boolean (true or false)")
    }
}

/// Parses an ISO-8601 date-time into the canonical stored form; empty is `None`.
///
/// Accepted: `YYYY-MM-DD`, then optionally `T` (or a space) `HH:MM[:SS[.fraction]]`, then
/// optionally `Z` or an offset `±HH[:MM]`. No offset means UTC.
pub(crate) fn parse_datetime(s: &str) -> Result<Option<String>, Unfit> {
    const BAD: Unfit = "is not an ISO-8601 date-time (e.g. 2026-01-21T10:00:00Z)";
    let t = s.trim();
    if t.is_empty() {
        return Ok(None);
    }
    let mut c = Cursor(t.as_bytes(), 0);
    let year = c.digits(4).ok_or(BAD)?;
    c.expect(b'-').ok_or(BAD)?;
    let month = c.digits(2).ok_or(BAD)?;
    c.expect(b'-').ok_or(BAD)?;
    let day = c.digits(2).ok_or(BAD)?;
    let (mut hour, mut minute, mut second, mut millis) = (0, 0, 0, 0);
    let mut offset_minutes: i64 = 0;
    if c.peek().is_some_and(|b| matches!(b, b'T' | b't' | b' ')) {
        c.1 += 1;
        hour = c.digits(2).ok_or(BAD)?;
        c.expect(b':').ok_or(BAD)?;
        minute = c.digits(2).ok_or(BAD)?;
        if c.peek() == Some(b':') {
            c.1 += 1;
            second = c.digits(2).ok_or(BAD)?;
            if matches!(c.peek(), Some(b'.' | b',')) {
                c.1 += 1;
                let start = c.1;
                let mut scale = 100;
                while let Some(d) = c.peek().filter(u8::is_ascii_digit) {
                    millis += i64::from(d - b'0') * scale;
                    scale /= 10;
                    c.1 += 1;
                }
                if c.1 == start {
                    return Err(BAD);
                }
            }
        }
        match c.peek() {
            None => {}
            Some(b'Z' | b'z') => c.1 += 1,
            Some(sign @ (b'+' | b'-')) => {
                c.1 += 1;
                let oh = c.digits(2).ok_or(BAD)?;
                if c.peek() == Some(b':') {
                    c.1 += 1;
                }
                let om = if c.peek().is_some() {
                    c.digits(2).ok_or(BAD)?
                } else {
                    0
                };
                if oh > 23 || om > 59 {
                    return Err(BAD);
                }
                offset_minutes = oh * 60 + om;
                if sign == b'-' {
                    offset_minutes = -offset_minutes;
                }
            }
            Some(_) => return Err(BAD),
        }
    }
    if c.1 != t.len() {
        return Err(BAD);
    }
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return Err("is not a valid calendar date and time");
    }
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    if !(1..=9999).contains(&y) {
        return Err("is outside the years 0001 to 9999");
    }
    Ok(Some(format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )))
}

struct Cursor<'a>(&'a [u8], usize);

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.0.get(self.1).copied()
    }
    fn expect(&mut self, b: u8) -> Option<()> {
        (self.peek() == Some(b)).then(|| self.1 += 1)
    }
    fn digits(&mut self, n: usize) -> Option<i64> {
        let s = self.0.get(self.1..self.1 + n)?;
        if !s.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.1 += n;
        Some(s.iter().fold(0, |a, d| a * 10 + i64::from(d - b'0')))
    }
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (month and day already checked).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    crate::clock::days_from_civil(y, m as u32, d as u32)
}

/// The date of a count of days since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let (y, m, d) = crate::clock::civil_from_days(z);
    (y, i64::from(m), i64::from(d))
}

/// Renders a stored scalar as its `contentValue`; `None` for NULL (and for passwords).
pub(crate) fn render(kind: Kind, v: ValueRef<'_>) -> Option<String> {
    text(kind, v).map(Cow::into_owned)
}

/// [`render`] without copying stored text that is rendered as it is.
pub(crate) fn text(kind: Kind, v: ValueRef<'_>) -> Option<Cow<'_, str>> {
    match (kind, v) {
        (_, ValueRef::Null) | (Kind::Password, _) => None,
        (Kind::Boolean, ValueRef::Integer(i)) => {
            Some(Cow::Borrowed(if i != 0 { "true" } else { "false" }))
        }
        (Kind::DateTime, ValueRef::Text(t)) => {
            let t = String::from_utf8_lossy(t);
            Some(match t.strip_suffix(".000Z") {
                Some(whole) => Cow::Owned(format!("{whole}Z")),
                None => t,
            })
        }
        (_, ValueRef::Integer(i)) => Some(Cow::Owned(i.to_string())),
        (_, ValueRef::Real(f)) => Some(Cow::Owned(format_real(f))),
        (_, ValueRef::Text(t) | ValueRef::Blob(t)) => Some(String::from_utf8_lossy(t)),
    }
}

/// A finite double as a plain decimal string: shortest round-trip digits, no exponent.
fn format_real(f: f64) -> String {
    let mut s = String::new();
    write_real(&mut s, f).expect("writing to a String cannot fail");
    s
}

fn write_real(out: &mut impl std::fmt::Write, f: f64) -> std::fmt::Result {
    if f == 0.0 {
        return out.write_str("0");
    }
    write!(out, "{f}")
}

/// Appends what [`text`] gives for a stored number, as a JSON string, without allocating;
/// `false` (nothing written) when `v` is not a number rendered as digits.
pub(crate) fn write_number_json(kind: Kind, v: ValueRef<'_>, out: &mut Vec<u8>) -> bool {
    /// `fmt::Write` over the byte buffer (digits are ASCII).
    struct Bytes<'a>(&'a mut Vec<u8>);
    impl std::fmt::Write for Bytes<'_> {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            self.0.extend_from_slice(s.as_bytes());
            Ok(())
        }
    }
    if matches!(kind, Kind::Boolean | Kind::Password) {
        return false;
    }
    let written = match v {
        ValueRef::Integer(i) => {
            out.push(b'"');
            write!(Bytes(out), "{i}")
        }
        ValueRef::Real(f) => {
            out.push(b'"');
            write_real(&mut Bytes(out), f)
        }
        _ => return false,
    };
    written.expect("writing to a Vec cannot fail");
    out.push(b'"');
    true
}

/// The objects of a stored Object or List value.
pub(crate) fn render_objects(v: ValueRef<'_>) -> Option<Vec<MObject>> {
    match v {
        ValueRef::Text(t) => serde_json::from_slice(t).ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(s: &str) -> Option<String> {
        parse_datetime(s).unwrap()
    }

    #[test]
    fn numbers_parse_strictly_and_render_without_noise() {
        assert_eq!(parse_number("42"), Ok(SqlValue::Integer(42)));
        assert_eq!(parse_number("-7"), Ok(SqlValue::Integer(-7)));
        assert_eq!(parse_number("19.99"), Ok(SqlValue::Real(19.99)));
        assert_eq!(parse_number(""), Ok(SqlValue::Null));
        for bad in ["abc", "1.2.3", "inf", "NaN", "1e", ".", "-", "0x10", "1,5"] {
            assert!(parse_number(bad).is_err(), "{bad}");
        }
        assert_eq!(format_real(19.99), "19.99");
        assert_eq!(format_real(1e21), "1000000000000000000000");
        assert_eq!(format_real(0.5), "0.5");
        assert_eq!(format_real(-0.0), "0");
    }

    #[test]
    fn datetimes_normalize_to_utc() {
        assert_eq!(
            dt("2026-01-21T00:00:00Z").unwrap(),
            "2026-01-21T00:00:00.000Z"
        );
        assert_eq!(
            dt("2026-01-21T02:30:00+02:00").unwrap(),
            "2026-01-21T00:30:00.000Z"
        );
        assert_eq!(
            dt("2026-01-01T00:30:00+01:00").unwrap(),
            "2025-12-31T23:30:00.000Z"
        );
        assert_eq!(
            dt("2024-02-29T23:00:00-01:30").unwrap(),
            "2024-03-01T00:30:00.000Z"
        );
        assert_eq!(
            dt("2026-01-21T00:00:00.1234567Z").unwrap(),
            "2026-01-21T00:00:00.123Z"
        );
        assert_eq!(dt("2026-01-21").unwrap(), "2026-01-21T00:00:00.000Z");
        assert_eq!(
            dt("2016-06-27T09:23:01+00:00").unwrap(),
            "2016-06-27T09:23:01.000Z"
        );
        assert_eq!(dt(""), None);
        for bad in [
            "2026-13-01",
            "2026-02-30T00:00:00Z",
            "21/01/2026",
            "2026-01-21T25:00",
            "2026-01-21Tx",
            "2026-01-21T10:00:00+2",
        ] {
            assert!(parse_datetime(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn civil_conversion_round_trips() {
        for days in [-719_162, -1, 0, 1, 10_957, 20_474, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn stored_values_render_as_the_wire_wants() {
        let t = "2026-01-21T00:00:00.000Z";
        assert_eq!(
            render(Kind::DateTime, ValueRef::Text(t.as_bytes())).unwrap(),
            "2026-01-21T00:00:00Z"
        );
        assert_eq!(render(Kind::Boolean, ValueRef::Integer(1)).unwrap(), "true");
        assert_eq!(
            render(Kind::Number, ValueRef::Real(19.99)).unwrap(),
            "19.99"
        );
        assert_eq!(render(Kind::Password, ValueRef::Text(b"secret")), None);
    }
}
