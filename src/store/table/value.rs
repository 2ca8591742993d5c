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

use crate::definition::scalar::{self, Number};
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
pub(crate) type Unfit = scalar::Unfit;

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

/// Parses a decimal number (the rules of [`scalar::number`]); empty is NULL.
pub(crate) fn parse_number(s: &str) -> Result<SqlValue, Unfit> {
    Ok(match scalar::number(s)? {
        Some(Number::Integer(n)) => SqlValue::Integer(n),
        Some(Number::Real(f)) => SqlValue::Real(f),
        None => SqlValue::Null,
    })
}

/// Parses `true`/`false` in any case into 1/0; empty is NULL.
pub(crate) fn parse_bool(s: &str) -> Result<SqlValue, Unfit> {
    Ok(scalar::boolean(s)?.map_or(SqlValue::Null, |b| SqlValue::Integer(i64::from(b))))
}

/// Parses an ISO-8601 date-time into the canonical stored form (the rules of
/// [`scalar::datetime`]); empty is `None`.
pub(crate) fn parse_datetime(s: &str) -> Result<Option<String>, Unfit> {
    scalar::datetime(s)
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
    fn datetimes_keep_the_years_0001_to_9999_across_offsets() {
        assert_eq!(
            dt("9999-12-31T23:59:59.999Z").unwrap(),
            "9999-12-31T23:59:59.999Z"
        );
        assert_eq!(
            dt("2026-01-21 10:00+0530").unwrap(),
            "2026-01-21T04:30:00.000Z"
        );
        assert_eq!(
            dt("0001-01-01T23:00:00-01:00").unwrap(),
            "0001-01-02T00:00:00.000Z"
        );
        for (bad, why) in [
            ("9999-12-31T23:00:00-02:00", "outside"),
            ("0001-01-01T00:30:00+01:00", "outside"),
            ("0000-06-01", "outside"),
            ("2026-01-21T23:59:60Z", "calendar"),
            ("2025-02-29", "calendar"),
            ("2026-00-10", "calendar"),
        ] {
            let e = parse_datetime(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn civil_conversion_round_trips() {
        for days in [-719_162, -1, 0, 1, 10_957, 20_474, 2_932_896] {
            let (y, m, d) = crate::clock::civil_from_days(days);
            assert_eq!(crate::clock::days_from_civil(y, m, d), days);
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
