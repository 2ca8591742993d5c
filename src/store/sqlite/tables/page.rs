//! The page of an ordered load, picked from the sort keys of the matching rows.
//!
//! SQLite answers `ORDER BY ... LIMIT n OFFSET m` by pushing every matching row, whole,
//! through a sorter that keeps `n + m` of them. Here the query reads only `rowid` and the
//! keys (see [`super::query::Shape::Keys`]); this module keeps the best `n + m + 1` (the one
//! more tells `hasMoreResults`) and the store then reads the `n` rows of the page whole.
//!
//! Values compare exactly as SQLite's `ORDER BY` compares them with the BINARY collation
//! (the only one fss columns use): NULL first, then numbers (integers and reals by value),
//! then text (bytes), then blobs (bytes); a descending key reverses all of that; rowid
//! breaks ties. A unit test holds this against SQLite's own order.

use std::cmp::Ordering;

use rusqlite::types::{Value as SqlValue, ValueRef};

/// Orders two stored values as SQLite's `ORDER BY` does (see the module docs).
#[inline]
pub(crate) fn compare(a: ValueRef<'_>, b: ValueRef<'_>) -> Ordering {
    fn class(v: ValueRef<'_>) -> u8 {
        match v {
            ValueRef::Null => 0,
            ValueRef::Integer(_) | ValueRef::Real(_) => 1,
            ValueRef::Text(_) => 2,
            ValueRef::Blob(_) => 3,
        }
    }
    match (a, b) {
        (ValueRef::Integer(x), ValueRef::Integer(y)) => x.cmp(&y),
        (ValueRef::Real(x), ValueRef::Real(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
        (ValueRef::Integer(i), ValueRef::Real(r)) => int_real(i, r),
        (ValueRef::Real(r), ValueRef::Integer(i)) => int_real(i, r).reverse(),
        (ValueRef::Text(x), ValueRef::Text(y)) | (ValueRef::Blob(x), ValueRef::Blob(y)) => x.cmp(y),
        _ => class(a).cmp(&class(b)),
    }
}

/// An integer against a real, as SQLite's `sqlite3IntFloatCompare` does it.
fn int_real(i: i64, r: f64) -> Ordering {
    if r.is_nan() {
        return Ordering::Greater; // SQLite stores no NaN (it becomes NULL); for totality
    }
    if r < -9_223_372_036_854_775_808.0 {
        return Ordering::Greater;
    }
    if r >= 9_223_372_036_854_775_808.0 {
        return Ordering::Less;
    }
    // In range, so the truncation is exact in its integral part.
    #[allow(clippy::cast_possible_truncation)]
    let y = r as i64;
    match i.cmp(&y) {
        Ordering::Equal => {
            #[allow(clippy::cast_precision_loss)]
            let s = i as f64;
            s.partial_cmp(&r).unwrap_or(Ordering::Equal)
        }
        o => o,
    }
}

/// A number that orders like [`compare`] where it differs (`compare(a, b) == Less` implies
/// `prefix(a) <= prefix(b)`): the class, then the value as a double or the first 8 bytes.
/// Most comparisons of a page end on it.
fn prefix(v: ValueRef<'_>) -> u128 {
    fn number(f: f64) -> u64 {
        let f = if f == 0.0 { 0.0 } else { f }; // -0.0 equals 0.0
        let bits = f.to_bits();
        if bits >> 63 == 1 {
            !bits
        } else {
            bits | 1 << 63
        }
    }
    fn bytes(b: &[u8]) -> u64 {
        let mut head = [0; 8];
        let n = b.len().min(8);
        head[..n].copy_from_slice(&b[..n]);
        u64::from_be_bytes(head)
    }
    #[allow(clippy::cast_precision_loss)] // rounding keeps the order (ties are compared in full)
    let (class, rest) = match v {
        ValueRef::Null => (0_u8, 0),
        ValueRef::Integer(i) => (1, number(i as f64)),
        ValueRef::Real(f) => (1, number(f)),
        ValueRef::Text(t) => (2, bytes(t)),
        ValueRef::Blob(b) => (3, bytes(b)),
    };
    u128::from(class) << 64 | u128::from(rest)
}

/// One row: its rowid, the [`prefix`] of its first key, and where its keys are kept.
/// Small, so that selecting and sorting move little.
#[derive(Clone, Copy)]
struct Candidate {
    prefix: u128,
    rowid: i64,
    slot: usize,
}

/// The candidates kept so far and their keys (`keys.len()` per candidate, at its slot).
struct Kept<'a> {
    descending: &'a [bool],
    candidates: Vec<Candidate>,
    keys: Vec<SqlValue>,
}

impl Kept<'_> {
    fn keys(&self, c: &Candidate) -> &[SqlValue] {
        let n = self.descending.len();
        &self.keys[c.slot * n..(c.slot + 1) * n]
    }

    /// `o` in the direction of key `i`.
    #[inline]
    fn directed(&self, i: usize, o: Ordering) -> Ordering {
        if self.descending[i] {
            o.reverse()
        } else {
            o
        }
    }

    /// The order of two candidates.
    #[inline]
    fn cmp(&self, a: &Candidate, b: &Candidate) -> Ordering {
        match a.prefix.cmp(&b.prefix) {
            Ordering::Equal => self.cmp_keys(&|i| (&self.keys(a)[i]).into(), a.rowid, b),
            o => self.directed(0, o),
        }
    }

    /// The order of a row (its keys by `key(i)`) and a kept candidate, key by key.
    fn cmp_keys<'v>(
        &self,
        key: &impl Fn(usize) -> ValueRef<'v>,
        rowid: i64,
        b: &Candidate,
    ) -> Ordering {
        let bk = self.keys(b);
        for (i, bv) in bk.iter().enumerate() {
            let o = self.directed(i, compare(key(i), bv.into()));
            if o != Ordering::Equal {
                return o;
            }
        }
        rowid.cmp(&b.rowid)
    }

    /// Keeps the best `keep` candidates (in no particular order) and their keys only.
    fn shrink(&mut self, keep: usize) {
        if self.candidates.len() <= keep {
            return;
        }
        let mut candidates = std::mem::take(&mut self.candidates);
        candidates.select_nth_unstable_by(keep - 1, |a, b| self.cmp(a, b));
        candidates.truncate(keep);
        let n = self.descending.len();
        let mut keys = Vec::with_capacity(keep * n);
        for (slot, c) in candidates.iter_mut().enumerate() {
            keys.extend(
                self.keys[c.slot * n..(c.slot + 1) * n]
                    .iter_mut()
                    .map(|v| std::mem::replace(v, SqlValue::Null)),
            );
            c.slot = slot;
        }
        self.keys = keys;
        self.candidates = candidates;
    }
}

/// The rowids of rows `offset..offset + page` of `rows` (each `rowid` then one value per
/// key of `descending`) in key order, and whether rows follow them.
pub(crate) fn pick(
    mut rows: rusqlite::Rows<'_>,
    descending: &[bool],
    offset: usize,
    page: usize,
) -> rusqlite::Result<(Vec<i64>, bool)> {
    let mut picker = Picker::new(descending, offset, page);
    while let Some(row) = rows.next()? {
        let rowid: i64 = row.get(0)?;
        // In range: the query reads `rowid` then one column per key.
        picker.offer(rowid, |i| row.get_ref_unwrap(i + 1));
    }
    Ok(picker.finish())
}

/// Picks the page of an ordered load from rows offered one at a time, in any order.
///
/// Holds at most about twice `offset + page + 1` candidates: when the buffer fills, the
/// best `offset + page + 1` stay and the last of them becomes the bar a row must beat to
/// be copied at all.
pub(crate) struct Picker<'d> {
    kept: Kept<'d>,
    bar: Option<Candidate>,
    offset: usize,
    page: usize,
    keep: usize,
    flush_at: usize,
}

impl<'d> Picker<'d> {
    /// A picker of rows `offset..offset + page` by keys of these directions.
    pub(crate) fn new(descending: &'d [bool], offset: usize, page: usize) -> Self {
        let keep = offset.saturating_add(page).saturating_add(1);
        Picker {
            kept: Kept {
                descending,
                candidates: Vec::new(),
                keys: Vec::new(),
            },
            bar: None,
            offset,
            page,
            keep,
            flush_at: keep.saturating_mul(2).max(256),
        }
    }

    /// Offers the row `rowid`, whose key `i` is `key(i)`.
    #[inline]
    pub(crate) fn offer<'v>(&mut self, rowid: i64, key: impl Fn(usize) -> ValueRef<'v>) {
        let first = key(0);
        let head = prefix(first);
        if let Some(bar) = &self.bar {
            let o = match head.cmp(&bar.prefix) {
                Ordering::Equal => self.kept.cmp_keys(&key, rowid, bar),
                o => self.kept.directed(0, o),
            };
            if o != Ordering::Less {
                return;
            }
        }
        let kept = &mut self.kept;
        let slot = kept.candidates.len();
        kept.keys.push(first.into());
        for i in 1..kept.descending.len() {
            kept.keys.push(key(i).into());
        }
        kept.candidates.push(Candidate {
            prefix: head,
            rowid,
            slot,
        });
        if kept.candidates.len() >= self.flush_at {
            kept.shrink(self.keep);
            self.bar = kept.candidates.last().copied();
        }
    }

    /// The rowids of the page in key order, and whether rows follow them.
    pub(crate) fn finish(mut self) -> (Vec<i64>, bool) {
        let (offset, page) = (self.offset, self.page);
        let kept = &mut self.kept;
        kept.shrink(self.keep);
        let mut candidates = std::mem::take(&mut kept.candidates);
        let more = candidates.len() > offset.saturating_add(page);
        if offset >= candidates.len() {
            return (Vec::new(), more);
        }
        // Only the page needs sorting: first move the rows before it out of its way.
        if offset > 0 {
            candidates.select_nth_unstable_by(offset, |a, b| kept.cmp(a, b));
        }
        let tail = &mut candidates[offset..];
        tail.sort_unstable_by(|a, b| kept.cmp(a, b));
        let ids = tail.iter().take(page).map(|c| c.rowid).collect();
        (ids, more)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    /// A deterministic mix of every kind of value, with duplicates (ties), integers and
    /// reals that are equal, close, and beyond 2^53.
    fn values(n: usize) -> Vec<SqlValue> {
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let big = 1_i64 << 53;
        (0..n)
            .map(|_| match next() % 12 {
                0 => SqlValue::Null,
                1 => SqlValue::Integer((next() % 7) as i64 - 3),
                2 => SqlValue::Real(((next() % 13) as f64 - 6.0) / 2.0),
                3 => SqlValue::Integer(big + (next() % 3) as i64),
                4 => SqlValue::Real(big as f64 + [0.0, 2.0, 4.0][(next() % 3) as usize]),
                5 => SqlValue::Integer(i64::MAX - (next() % 2) as i64),
                6 => SqlValue::Real([9.3e18, -9.3e18, 1e300, -1e300][(next() % 4) as usize]),
                7 => SqlValue::Integer(i64::MIN + (next() % 2) as i64),
                8 => SqlValue::Text(
                    ["", "a", "B", "b", "ab", "é", "a\u{0}b"][(next() % 7) as usize].into(),
                ),
                9 => SqlValue::Blob(vec![(next() % 3) as u8; (next() % 3) as usize]),
                10 => SqlValue::Text(format!("{}", next() % 5)),
                _ => SqlValue::Real(-0.0),
            })
            .collect()
    }

    #[test]
    fn pages_match_sqlite_order_by() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (a, b)").unwrap();
        let (a, b) = (
            values(600),
            values(600).into_iter().rev().collect::<Vec<_>>(),
        );
        for (x, y) in a.iter().zip(&b) {
            conn.execute("INSERT INTO t (a, b) VALUES (?1, ?2)", [x, y])
                .unwrap();
        }
        let cases: &[(&str, &[bool])] = &[
            ("a ASC", &[false]),
            ("a DESC", &[true]),
            ("a ASC, b DESC", &[false, true]),
            ("b DESC, a DESC", &[true, true]),
        ];
        for (order_by, desc) in cases {
            let cols = if desc.len() == 1 {
                &order_by[..1]
            } else {
                if order_by.starts_with('a') {
                    "a, b"
                } else {
                    "b, a"
                }
            };
            for (offset, page) in [
                (0, 10),
                (0, 1000),
                (37, 100),
                (250, 300),
                (590, 50),
                (700, 5),
            ] {
                let want: Vec<i64> = conn
                    .prepare(&format!(
                        "SELECT rowid FROM t ORDER BY {order_by}, rowid LIMIT {page} OFFSET {offset}"
                    ))
                    .unwrap()
                    .query_map([], |r| r.get(0))
                    .unwrap()
                    .collect::<rusqlite::Result<_>>()
                    .unwrap();
                let total: usize = 600;
                let mut stmt = conn
                    .prepare(&format!("SELECT rowid, {cols} FROM t"))
                    .unwrap();
                let (got, more) = pick(stmt.query([]).unwrap(), desc, offset, page).unwrap();
                assert_eq!(got, want, "{order_by} offset {offset} page {page}");
                assert_eq!(
                    more,
                    total > offset + page,
                    "{order_by} offset {offset} page {page}"
                );
            }
        }
    }
}
