//! Substring and ordered loads answered from columns kept in memory.
//!
//! The load a Flow list asks most — `CONTAINS` on a name, ordered by another column, one
//! page — costs SQLite a lookup per candidate row even with the trigram index: the
//! candidates' sort keys live in the rows. Here the columns such a load reads (the
//! searched text, ASCII-lowercased as `LIKE` compares it, and the sort keys as stored)
//! are kept in memory, one vector per column in rowid order; a load scans them, picks the
//! page's rowids ([`super::page::Picker`]) and reads only those rows from SQLite. A load
//! whose matches are many times its page walks instead an order of all rows by its sort
//! keys (sorted once per generation, [`Columns::order`]) and stops at the page's end: at a
//! million rows and half of them matching, picking compares half a million keys per load.
//!
//! Exactness: every write transaction of the store bumps the table's generation in
//! [`CHANGES`], in the same transaction. A load reads the generation inside its read
//! snapshot and uses the columns only when they were read at that same generation, so
//! they hold exactly the rows its snapshot sees; the page's rows are then read in that
//! snapshot too. Columns of an older generation are read again (by one load at a time:
//! the others meanwhile take the SQL path, [`super::query`]), so a table that is written
//! between every two loads gains nothing but loses no correctness. Only fss writes the
//! tables (the data folder is locked), which is what makes the generation complete.
//!
//! What is answered here: a filter whose conditions are substring criteria joined by AND
//! (`CONTAINS`, `STARTS_WITH`, `ENDS_WITH` on text columns, and `search`), with or without
//! sort keys, or sort keys alone. Everything else — comparisons, OR groups, provided
//! objects — takes the SQL path. `LIKE` folds ASCII letters only, and so does this scan;
//! a text column holding a value that is not text (written by another program) is left
//! to SQL as well.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use memchr::memmem;
use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::{Connection, OptionalExtension};

use super::page::{compare, Picker};
use super::schema::{quote, sql_error, Table};
use crate::error::Result;
use crate::store::table::filter::{Cond, Filtered, Plan};
use crate::store::table::value::Kind;

/// The table of generations: one row per data table, bumped by every write transaction.
pub(crate) const CHANGES: &str = "$changes";
/// The most rows a table may have for its columns to be kept in memory; a larger table
/// is answered by SQL alone.
pub(crate) const MAX_ROWS: usize = 4_000_000;
/// Tables with fewer rows than this (or loads with fewer matches) always go through the
/// picker: sorting the whole table would cost more than it saves.
const ORDER_MIN_ROWS: usize = 4096;
/// A load walks the key order when it has at least this many matches per row of its page
/// and offset: the walk then meets the page's rows within a few times their number.
const DENSE_MATCHES: usize = 4;
/// The most bytes of text one kept column may hold (offsets are 32-bit).
const MAX_TEXT_BYTES: usize = 1 << 31;

/// The SQL creating [`CHANGES`].
pub(crate) fn changes_ddl() -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {} (name TEXT PRIMARY KEY, generation INTEGER NOT NULL) \
         WITHOUT ROWID",
        quote(CHANGES)
    )
}

/// The SQL bumping a table's generation (its one parameter: the table's name).
pub(crate) fn bump_sql() -> String {
    format!(
        "INSERT INTO {} (name, generation) VALUES (?1, 1) \
         ON CONFLICT(name) DO UPDATE SET generation = generation + 1",
        quote(CHANGES)
    )
}

/// Where a substring must stand in the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Anchor {
    Anywhere,
    Start,
    End,
}

/// One substring criterion, owned.
#[derive(Debug)]
struct Needle {
    /// Column indexes of the table; any of them may hold it.
    cols: Vec<usize>,
    /// The text, ASCII-lowercased.
    text: Vec<u8>,
    anchor: Anchor,
}

/// A load this module can answer.
#[derive(Debug)]
pub(crate) struct ScanQuery {
    needles: Vec<Needle>,
    /// Sort keys: column index, descending.
    keys: Vec<(usize, bool)>,
    descending: Vec<bool>,
    offset: usize,
    page: usize,
}

impl ScanQuery {
    /// The scan of `plan`, when it is one this module answers (see the module docs).
    pub(crate) fn of(table: &Table, plan: &Plan<'_>) -> Option<ScanQuery> {
        let Plan::Filtered(f) = plan else {
            return None;
        };
        let Filtered {
            provided: None,
            group,
            search,
            keys,
            offset,
            page,
        } = f
        else {
            return None;
        };
        let mut needles = Vec::new();
        if let Some(g) = group {
            collect(table, g, &mut needles)?;
        }
        if let Some(s) = search {
            collect(table, s, &mut needles)?;
        }
        if needles.is_empty() && keys.is_empty() {
            // Plain paging in rowid order: SQL walks the rowids as fast.
            return None;
        }
        let keys: Vec<(usize, bool)> = keys
            .iter()
            .map(|(c, d)| table.column(&c.name).map(|(i, _)| (i, *d)))
            .collect::<Option<_>>()?;
        Some(ScanQuery {
            descending: keys.iter().map(|(_, d)| *d).collect(),
            keys,
            needles,
            offset: usize::try_from(*offset).ok()?,
            page: usize::try_from(*page).ok()?,
        })
    }

    /// The columns to keep: searched text, then sort keys.
    fn wants(&self) -> (Vec<usize>, Vec<usize>) {
        let mut texts: Vec<usize> = self.needles.iter().flat_map(|n| n.cols.clone()).collect();
        texts.sort_unstable();
        texts.dedup();
        let mut keys: Vec<usize> = self.keys.iter().map(|(i, _)| *i).collect();
        keys.sort_unstable();
        keys.dedup();
        (texts, keys)
    }
}

/// Adds the substring criteria of `cond` (which must hold nothing else, joined by AND).
fn collect(table: &Table, cond: &Cond<'_>, out: &mut Vec<Needle>) -> Option<()> {
    match cond {
        Cond::Substring {
            cols,
            needle,
            pattern,
        } => {
            let anchor = match (pattern.starts_with('%'), pattern.ends_with('%')) {
                (true, true) if pattern.len() >= 2 => Anchor::Anywhere,
                (false, true) => Anchor::Start,
                (true, false) => Anchor::End,
                _ => return None,
            };
            // The pattern must be exactly the needle, escaped, between its wildcards.
            let escaped = crate::store::table::filter::like_escape(needle);
            let inner = match anchor {
                Anchor::Anywhere => &pattern[1..pattern.len() - 1],
                Anchor::Start => &pattern[..pattern.len() - 1],
                Anchor::End => &pattern[1..],
            };
            if inner != escaped {
                return None;
            }
            let cols = cols
                .iter()
                .map(|c| {
                    let (i, col) = table.column(&c.name)?;
                    (col.kind == Kind::Text).then_some(i)
                })
                .collect::<Option<Vec<_>>>()?;
            out.push(Needle {
                cols,
                text: needle.as_bytes().to_ascii_lowercase(),
                anchor,
            });
            Some(())
        }
        Cond::Group { and: true, parts } => {
            for p in parts {
                collect(table, p, out)?;
            }
            Some(())
        }
        Cond::Const(true) => Some(()),
        _ => None,
    }
}

/// One text column in memory: every row's value, ASCII-lowercased, end to end.
#[derive(Debug)]
struct Text {
    bytes: Vec<u8>,
    /// Row `i` is `bytes[starts[i]..starts[i + 1]]`.
    starts: Vec<u32>,
    /// Rows holding NULL (which no `LIKE` matches), one bit each.
    nulls: Vec<u64>,
}

impl Text {
    fn is_null(&self, i: usize) -> bool {
        self.nulls[i / 64] >> (i % 64) & 1 == 1
    }

    fn value(&self, i: usize) -> &[u8] {
        &self.bytes[self.starts[i] as usize..self.starts[i + 1] as usize]
    }

    /// Whether row `i` holds `needle` where it must stand.
    fn holds(&self, i: usize, needle: &[u8], anchor: Anchor, finder: &memmem::Finder<'_>) -> bool {
        if self.is_null(i) {
            return false;
        }
        let v = self.value(i);
        match anchor {
            Anchor::Anywhere => finder.find(v).is_some(),
            Anchor::Start => v.starts_with(needle),
            Anchor::End => v.ends_with(needle),
        }
    }

    /// The rows holding `needle` anywhere, ascending: one pass of the searcher over the
    /// whole column, each hit mapped to its row.
    fn rows_holding(&self, finder: &memmem::Finder<'_>, out: &mut Vec<u32>) {
        let n = self.starts.len() - 1;
        let len = finder.needle().len();
        let mut pos = 0;
        let mut row = 0;
        while let Some(hit) = finder.find(&self.bytes[pos..]) {
            let at = pos + hit;
            // The row whose value holds byte `at`: the last start at or before it.
            row += self.starts[row + 1..=n].partition_point(|&s| s as usize <= at);
            if row >= n {
                break;
            }
            let end = self.starts[row + 1] as usize;
            if at + len <= end && !self.is_null(row) {
                out.push(u32::try_from(row).expect("rows fit in u32"));
                pos = end;
                row += 1;
                if row >= n {
                    break;
                }
            } else {
                pos = at + 1;
            }
        }
    }
}

/// Row indexes in key order, by the sort keys (column index, descending).
type Orders = HashMap<Vec<(usize, bool)>, Arc<Vec<u32>>>;

/// The kept columns of one table, as of one generation.
#[derive(Debug)]
struct Columns {
    generation: i64,
    rowids: Arc<Vec<i64>>,
    texts: HashMap<usize, Arc<Text>>,
    keys: HashMap<usize, Arc<Vec<SqlValue>>>,
    /// The table had more rows than [`MAX_ROWS`] at this generation.
    too_large: bool,
    /// Row indexes in the order of a list of sort keys, made on demand ([`Columns::order`]).
    orders: Mutex<Orders>,
    /// Held by the one load sorting.
    sorting: Mutex<()>,
}

impl Columns {
    fn new(generation: i64, rowids: Arc<Vec<i64>>, too_large: bool) -> Columns {
        Columns {
            generation,
            rowids,
            texts: HashMap::new(),
            keys: HashMap::new(),
            too_large,
            orders: Mutex::new(HashMap::new()),
            sorting: Mutex::new(()),
        }
    }

    /// Every row index in the order of `keys` (then rowid), as `ORDER BY` sorts them;
    /// sorted by the first load that asks, `None` for the others while it sorts.
    fn order(&self, keys: &[(usize, bool)]) -> Option<Arc<Vec<u32>>> {
        let kept = |c: &Columns| {
            c.orders
                .lock()
                .expect("scan order lock is never poisoned")
                .get(keys)
                .cloned()
        };
        if let Some(o) = kept(self) {
            return Some(o);
        }
        let _sorting = self.sorting.try_lock().ok()?;
        if let Some(o) = kept(self) {
            return Some(o);
        }
        let cols: Vec<&[SqlValue]> = keys.iter().map(|(c, _)| self.keys[c].as_slice()).collect();
        let n = u32::try_from(self.rowids.len()).expect("rows fit in u32");
        let mut order: Vec<u32> = (0..n).collect();
        order.sort_unstable_by(|&a, &b| {
            let (a, b) = (a as usize, b as usize);
            for (k, (_, descending)) in keys.iter().enumerate() {
                let o = compare((&cols[k][a]).into(), (&cols[k][b]).into());
                let o = if *descending { o.reverse() } else { o };
                if o != std::cmp::Ordering::Equal {
                    return o;
                }
            }
            self.rowids[a].cmp(&self.rowids[b])
        });
        let order = Arc::new(order);
        self.orders
            .lock()
            .expect("scan order lock is never poisoned")
            .insert(keys.to_vec(), Arc::clone(&order));
        Some(order)
    }

    fn holds(&self, texts: &[usize], keys: &[usize]) -> bool {
        texts.iter().all(|c| self.texts.contains_key(c))
            && keys.iter().all(|c| self.keys.contains_key(c))
    }
}

/// The kept columns of one mounted table.
#[derive(Debug, Default)]
pub(crate) struct ScanCache {
    current: Mutex<Option<Arc<Columns>>>,
    /// Held by the one load reading columns.
    reading: Mutex<()>,
}

impl ScanCache {
    /// The generation of the columns kept (tests).
    #[cfg(test)]
    pub(crate) fn generation(&self) -> Option<i64> {
        self.current
            .lock()
            .expect("scan cache lock is never poisoned")
            .as_ref()
            .map(|c| c.generation)
    }

    /// The page of `q` in the snapshot `conn` is in (a read transaction must be open),
    /// or `None` when the columns cannot answer it now: the SQL path answers then.
    ///
    /// # Errors
    ///
    /// SQLite failures reading the generation or the columns.
    pub(crate) fn pick(
        &self,
        conn: &Connection,
        table: &Table,
        q: &ScanQuery,
    ) -> Result<Option<(Vec<i64>, bool)>> {
        let generation = generation(conn, table)?;
        let (texts, keys) = q.wants();
        let Some(cols) = self.columns(conn, table, generation, &texts, &keys)? else {
            return Ok(None);
        };
        Ok(Some(answer(&cols, q)))
    }

    /// Columns `texts` and `keys` as of `generation`, read from `conn` when they are not
    /// kept yet; `None` when another load is reading them or they cannot be kept.
    fn columns(
        &self,
        conn: &Connection,
        table: &Table,
        generation: i64,
        texts: &[usize],
        keys: &[usize],
    ) -> Result<Option<Arc<Columns>>> {
        let kept = self
            .current
            .lock()
            .expect("scan cache lock is never poisoned")
            .clone();
        if let Some(c) = &kept {
            if c.generation == generation && (c.too_large || c.holds(texts, keys)) {
                return Ok((!c.too_large).then(|| Arc::clone(c)));
            }
            if c.generation > generation {
                // This snapshot is older than what is kept.
                return Ok(None);
            }
        }
        let Ok(_reading) = self.reading.try_lock() else {
            return Ok(None);
        };
        // Keep what this generation already holds; read only what is missing.
        let mut next = match kept.filter(|c| c.generation == generation) {
            Some(c) => {
                let mut next = Columns::new(generation, Arc::clone(&c.rowids), false);
                next.texts = c.texts.clone();
                next.keys = c.keys.clone();
                // Orders depend on the keys only, which are kept as they were.
                next.orders = Mutex::new(
                    c.orders
                        .lock()
                        .expect("scan order lock is never poisoned")
                        .clone(),
                );
                next
            }
            None => {
                let rowids = read_rowids(conn, table)?;
                let too_large = rowids.is_none();
                Columns::new(generation, Arc::new(rowids.unwrap_or_default()), too_large)
            }
        };
        if !next.too_large {
            for &c in texts {
                if next.texts.contains_key(&c) {
                    continue;
                }
                match read_text(conn, table, c, next.rowids.len())? {
                    Some(t) => {
                        next.texts.insert(c, Arc::new(t));
                    }
                    // A value that is not text: this column is SQL's.
                    None => return Ok(None),
                }
            }
            for &c in keys {
                if !next.keys.contains_key(&c) {
                    let values = read_values(conn, table, c, next.rowids.len())?;
                    next.keys.insert(c, Arc::new(values));
                }
            }
        }
        let next = Arc::new(next);
        *self
            .current
            .lock()
            .expect("scan cache lock is never poisoned") = Some(Arc::clone(&next));
        Ok((!next.too_large).then_some(next))
    }
}

/// The generation of `table` in the open snapshot of `conn` (0: never written).
fn generation(conn: &Connection, table: &Table) -> Result<i64> {
    let sql = format!("SELECT generation FROM {} WHERE name = ?1", quote(CHANGES));
    let g = conn
        .prepare_cached(&sql)
        .and_then(|mut s| s.query_row([&table.name], |r| r.get(0)).optional())
        .map_err(sql_error)?;
    Ok(g.unwrap_or(0))
}

/// Every rowid in order; `None` past [`MAX_ROWS`].
fn read_rowids(conn: &Connection, table: &Table) -> Result<Option<Vec<i64>>> {
    let sql = format!("SELECT rowid FROM {} ORDER BY rowid", table.quoted);
    let mut stmt = conn.prepare(&sql).map_err(sql_error)?;
    let mut rows = stmt.query([]).map_err(sql_error)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(sql_error)? {
        if out.len() == MAX_ROWS {
            return Ok(None);
        }
        out.push(row.get(0).map_err(sql_error)?);
    }
    Ok(Some(out))
}

/// Column `c` of every row, in rowid order.
fn read_column(
    conn: &Connection,
    table: &Table,
    c: usize,
    n: usize,
    mut each: impl FnMut(ValueRef<'_>) -> bool,
) -> Result<bool> {
    let sql = format!(
        "SELECT {} FROM {} ORDER BY rowid",
        table.columns[c].qualified, table.quoted
    );
    let mut stmt = conn.prepare(&sql).map_err(sql_error)?;
    let mut rows = stmt.query([]).map_err(sql_error)?;
    let mut seen = 0;
    while let Some(row) = rows.next().map_err(sql_error)? {
        seen += 1;
        if seen > n || !each(row.get_ref(0).map_err(sql_error)?) {
            return Ok(false);
        }
    }
    Ok(seen == n)
}

/// Text column `c`, lowercased; `None` when a value is not text or the column is too big.
fn read_text(conn: &Connection, table: &Table, c: usize, n: usize) -> Result<Option<Text>> {
    let mut t = Text {
        bytes: Vec::new(),
        starts: Vec::with_capacity(n + 1),
        nulls: vec![0; n.div_ceil(64)],
    };
    t.starts.push(0);
    let mut i = 0;
    let whole = read_column(conn, table, c, n, |v| {
        match v {
            ValueRef::Text(b) => {
                t.bytes.extend(b.iter().map(u8::to_ascii_lowercase));
            }
            ValueRef::Null => t.nulls[i / 64] |= 1 << (i % 64),
            _ => return false,
        }
        i += 1;
        match u32::try_from(t.bytes.len()) {
            Ok(end) if t.bytes.len() <= MAX_TEXT_BYTES => {
                t.starts.push(end);
                true
            }
            _ => false,
        }
    })?;
    t.bytes.shrink_to_fit();
    Ok(whole.then_some(t))
}

/// Column `c` of every row as stored (sort keys).
fn read_values(conn: &Connection, table: &Table, c: usize, n: usize) -> Result<Vec<SqlValue>> {
    let mut out = Vec::with_capacity(n);
    read_column(conn, table, c, n, |v| {
        out.push(v.into());
        true
    })?;
    Ok(out)
}

/// The page of `q` from `cols`.
fn answer(cols: &Columns, q: &ScanQuery) -> (Vec<i64>, bool) {
    let n = cols.rowids.len();
    // Rows holding every needle, ascending.
    let mut rows: Option<Vec<u32>> = None;
    for needle in &q.needles {
        let finder = memmem::Finder::new(&needle.text);
        let texts: Vec<&Text> = needle.cols.iter().map(|c| &*cols.texts[c]).collect();
        let holds = |i: usize| {
            texts
                .iter()
                .any(|t| t.holds(i, &needle.text, needle.anchor, &finder))
        };
        rows = Some(match rows {
            Some(mut r) => {
                r.retain(|&i| holds(i as usize));
                r
            }
            None if texts.len() == 1
                && needle.anchor == Anchor::Anywhere
                && !needle.text.is_empty() =>
            {
                let mut r = Vec::new();
                texts[0].rows_holding(&finder, &mut r);
                r
            }
            None => (0..n)
                .filter(|&i| holds(i))
                .map(|i| u32::try_from(i).expect("rows fit in u32"))
                .collect(),
        });
    }
    let rowid = |i: u32| cols.rowids[i as usize];
    if q.keys.is_empty() {
        let rows = rows.unwrap_or_default();
        let end = q.offset.saturating_add(q.page).min(rows.len());
        let ids = rows
            .get(q.offset..end)
            .unwrap_or_default()
            .iter()
            .map(|&i| rowid(i))
            .collect();
        return (ids, rows.len() > q.offset.saturating_add(q.page));
    }
    let keys: Vec<&[SqlValue]> = q
        .keys
        .iter()
        .map(|(c, _)| cols.keys[c].as_slice())
        .collect();
    // Many matches, or all rows: walking the rows in key order stops after the page,
    // where offering every match to the picker costs a comparison per match.
    let wanted = q.offset.saturating_add(q.page);
    let many = rows.as_ref().map_or(n, Vec::len);
    if many >= ORDER_MIN_ROWS && many / DENSE_MATCHES >= wanted {
        if let Some(order) = cols.order(&q.keys) {
            return walk(&order, rows.as_deref(), n, q.offset, wanted, rowid);
        }
    }
    let mut picker = Picker::new(&q.descending, q.offset, q.page);
    let mut offer = |i: usize| picker.offer(cols.rowids[i], |k| (&keys[k][i]).into());
    match &rows {
        Some(r) => r.iter().for_each(|&i| offer(i as usize)),
        None => (0..n).for_each(offer),
    }
    picker.finish()
}

/// The page `offset..wanted` of the rows in `order` that are among `rows` (all rows when
/// `None`), and whether more follow.
fn walk(
    order: &[u32],
    rows: Option<&[u32]>,
    n: usize,
    offset: usize,
    wanted: usize,
    rowid: impl Fn(u32) -> i64,
) -> (Vec<i64>, bool) {
    let Some(rows) = rows else {
        let end = wanted.min(n);
        let ids = order.get(offset..end).unwrap_or_default();
        return (ids.iter().map(|&i| rowid(i)).collect(), n > wanted);
    };
    let mut matches = vec![0u64; n.div_ceil(64)];
    for &i in rows {
        matches[i as usize / 64] |= 1 << (i % 64);
    }
    let mut ids = Vec::with_capacity(wanted.saturating_sub(offset));
    let mut seen = 0;
    for &i in order {
        if matches[i as usize / 64] >> (i % 64) & 1 == 0 {
            continue;
        }
        if seen == wanted {
            return (ids, true);
        }
        if seen >= offset {
            ids.push(rowid(i));
        }
        seen += 1;
    }
    (ids, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(values: &[Option<&str>]) -> Text {
        let mut t = Text {
            bytes: Vec::new(),
            starts: vec![0],
            nulls: vec![0; values.len().div_ceil(64)],
        };
        for (i, v) in values.iter().enumerate() {
            match v {
                Some(s) => t.bytes.extend(s.as_bytes().to_ascii_lowercase()),
                None => t.nulls[i / 64] |= 1 << (i % 64),
            }
            t.starts.push(t.bytes.len() as u32);
        }
        t
    }

    #[test]
    fn one_pass_finds_each_row_once_and_no_match_across_rows() {
        let t = text(&[
            Some("blue blue"),
            Some("bl"),
            Some("ue"),
            None,
            Some(""),
            Some("x BLUE"),
            Some("blu"),
            Some("eblue"),
        ]);
        let finder = memmem::Finder::new(b"blue");
        let mut got = Vec::new();
        t.rows_holding(&finder, &mut got);
        assert_eq!(got, vec![0, 5, 7]);
        let each: Vec<u32> = (0..8)
            .filter(|&i| t.holds(i, b"blue", Anchor::Anywhere, &finder))
            .map(|i| i as u32)
            .collect();
        assert_eq!(got, each);
    }

    /// Rows with few distinct keys (ties, NULLs, integers beside reals) and a needle in
    /// every other name: every page, in both directions, with and without the needle,
    /// equals a plain sort of the matches, whichever way `answer` takes.
    #[test]
    fn walks_in_key_order_answer_as_a_full_sort_does() {
        let n = 3 * ORDER_MIN_ROWS;
        let names: Vec<String> = (0..n)
            .map(|i| format!("row {i} {}", if i % 2 == 0 { "Blue" } else { "red" }))
            .collect();
        let key = |i: usize| match i % 5 {
            0 => SqlValue::Null,
            1 => SqlValue::Integer((i % 7) as i64),
            2 => SqlValue::Real((i % 7) as f64 + 0.5),
            3 => SqlValue::Text(format!("t{}", i % 3)),
            _ => SqlValue::Integer(3),
        };
        // Rowids out of step with row indexes: ties must break by rowid, not index.
        let rowids: Vec<i64> = (0..n as i64).map(|i| i * 3 + 7).collect();
        let mut cols = Columns::new(1, Arc::new(rowids.clone()), false);
        let named: Vec<Option<&str>> = names.iter().map(|s| Some(s.as_str())).collect();
        cols.texts.insert(1, Arc::new(text(&named)));
        cols.keys.insert(3, Arc::new((0..n).map(key).collect()));
        for descending in [false, true] {
            for needle in [None, Some("blue")] {
                let mut expected: Vec<usize> = (0..n)
                    .filter(|&i| needle.is_none_or(|_| i % 2 == 0))
                    .collect();
                expected.sort_by(|&a, &b| {
                    let o = compare((&key(a)).into(), (&key(b)).into());
                    let o = if descending { o.reverse() } else { o };
                    o.then(rowids[a].cmp(&rowids[b]))
                });
                for (offset, page) in [(0, 100), (200, 100), (n / 2 - 50, 100), (n - 10, 100)] {
                    let q = ScanQuery {
                        needles: needle
                            .map(|t| Needle {
                                cols: vec![1],
                                text: t.as_bytes().to_vec(),
                                anchor: Anchor::Anywhere,
                            })
                            .into_iter()
                            .collect(),
                        keys: vec![(3, descending)],
                        descending: vec![descending],
                        offset,
                        page,
                    };
                    let end = (offset + page).min(expected.len());
                    let want: Vec<i64> = expected[offset.min(end)..end]
                        .iter()
                        .map(|&i| rowids[i])
                        .collect();
                    let got = answer(&cols, &q);
                    assert_eq!(got.0, want, "{needle:?} desc={descending} at {offset}");
                    assert_eq!(got.1, expected.len() > offset + page);
                }
            }
        }
        assert!(
            !cols.orders.lock().unwrap().is_empty(),
            "no load walked the key order"
        );
    }
}
