//! Scalar values of the wire by their declared type: every `contentValue` is a string, and
//! these say whether it is a Number, a Boolean or a DateTime, and what it means. Requests
//! are checked against the definition with them before any execution starts, and the
//! table store parses what it keeps with the same rules, so a value accepted at the edge
//! is one the store can hold.

use jiff::{civil, SignedDuration};

use super::ValueType;

/// Why a value does not fit its type, said of the value ("is not a number"); the caller
/// names the input or property.
pub type Unfit = &'static str;

/// A number as the wire means it: an integer when it is one and fits 64 bits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    /// A whole number that fits `i64`.
    Integer(i64),
    /// Any other finite number.
    Real(f64),
}

/// Checks a scalar `contentValue` against the declared type: Number, Boolean and
/// DateTime must parse (empty is "no value"); the other types take any string.
///
/// # Errors
///
/// Why the value does not fit, e.g. "is not a number".
pub fn check(value_type: ValueType, s: &str) -> Result<(), Unfit> {
    match value_type {
        ValueType::Number => number(s).map(drop),
        ValueType::Boolean => boolean(s).map(drop),
        ValueType::DateTime => datetime(s).map(drop),
        _ => Ok(()),
    }
}

/// Parses a decimal number `[+-]digits[.digits][e[+-]digits]`; empty is `None`.
///
/// # Errors
///
/// The text is not a finite decimal number.
pub fn number(s: &str) -> Result<Option<Number>, Unfit> {
    const NOT_A_NUMBER: Unfit = "is not a number";
    let t = s.trim();
    if t.is_empty() {
        return Ok(None);
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
            return Ok(Some(Number::Integer(n)));
        }
    }
    match t.parse::<f64>() {
        Ok(f) if f.is_finite() => Ok(Some(Number::Real(f))),
        _ => Err("is not a finite number"),
    }
}

/// Parses `true`/`false` in any case; empty is `None`.
///
/// # Errors
///
/// Any other text.
pub fn boolean(s: &str) -> Result<Option<bool>, Unfit> {
    let t = s.trim();
    if t.is_empty() {
        Ok(None)
    } else if t.eq_ignore_ascii_case("true") {
        Ok(Some(true))
    } else if t.eq_ignore_ascii_case("false") {
        Ok(Some(false))
    } else {
        Err("is not a boolean (true or false)")
    }
}

/// Parses an ISO-8601 date-time into the canonical stored form; empty is `None`.
///
/// Accepted: `YYYY-MM-DD`, then optionally `T` (or a space) `HH:MM[:SS[.fraction]]`, then
/// optionally `Z` or an offset `±HH[:MM]`. No offset means UTC. The stored form is
/// `YYYY-MM-DDTHH:MM:SS.mmmZ`.
///
/// # Errors
///
/// Not that shape, not a calendar date, or outside the years 0001 to 9999.
pub fn datetime(s: &str) -> Result<Option<String>, Unfit> {
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
    // The calendar and the offset are jiff's: it refuses a day the month lacks and an hour,
    // minute or second out of range, and shifts to UTC across days, months and years.
    let invalid = "is not a valid calendar date and time";
    let field = |v: i64| i8::try_from(v).map_err(|_| invalid);
    let local = civil::DateTime::new(
        i16::try_from(year).map_err(|_| invalid)?,
        field(month)?,
        field(day)?,
        field(hour)?,
        field(minute)?,
        field(second)?,
        0,
    )
    .map_err(|_| invalid)?;
    let outside = "is outside the years 0001 to 9999";
    let utc = local
        .checked_sub(SignedDuration::from_mins(offset_minutes))
        .map_err(|_| outside)?;
    if !(1..=9999).contains(&utc.year()) {
        return Err(outside);
    }
    Ok(Some(format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        utc.year(),
        utc.month(),
        utc.day(),
        utc.hour(),
        utc.minute(),
        utc.second()
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
