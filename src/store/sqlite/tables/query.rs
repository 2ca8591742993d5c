//! A ListFilter turned into one SELECT with bound parameters.
//!
//! The filter is checked first, for every backend alike ([`crate::store::table::filter`]:
//! criteria, refusals, limits); this module writes what it keeps as SQLite SQL. Values
//! are always parameters; identifiers come only from the table's columns. Lists of values
//! (of `ANY_EQUAL`/`ALL_EQUAL`, and the ids of `filterByProvidedObjects`) are one JSON
//! parameter read with `json_each`, so that no list meets SQLite's limits on parameters
//! or expression depth. The default order is insertion order (rowid), also the last
//! tie-breaker of any order, so paging is stable.
//!
//! Substring criteria (`CONTAINS`, `STARTS_WITH`, `ENDS_WITH`, `search`) on indexed text
//! columns with a value of at least 3 characters (and no NUL) first ask the table's trigram
//! index for the rows holding the value in any case (Unicode case folding: a superset of
//! what `LIKE` matches), then check `LIKE` on those rows only: the answer is exactly what
//! `LIKE` alone gives, without reading every row. Shorter values have no trigram and use
//! `LIKE` alone.
//!
//! A load with an order is answered in two steps (see [`Shape::Keys`]): the query reads
//! only the rowid and the sort keys of the matching rows, the store keeps the page, and
//! then reads those rows whole. SQLite's own `ORDER BY ... LIMIT` would carry every
//! matching row whole through its sorter.

use rusqlite::types::Value as SqlValue;

use super::schema::{quote, Column, Table, ID_COLUMN};
use crate::store::table::filter::{Cond, Op, Plan, MAX_PAGE_ROWS};
use crate::store::table::value::Kind;

/// The shortest value the trigram index can look up.
const TRIGRAM: usize = 3;

/// A SELECT ready to run.
#[derive(Debug)]
pub(crate) struct Query {
    /// The SQL text.
    pub(crate) sql: String,
    /// Its parameters, in order.
    pub(crate) params: Vec<SqlValue>,
    /// What the SELECT yields.
    pub(crate) shape: Shape,
}

/// What a [`Query`] yields.
#[derive(Debug, PartialEq)]
pub(crate) enum Shape {
    /// Whole rows ([`Table::select`]'s columns) in the order to answer them. `page` rows are
    /// answered; one more is fetched to learn `hasMoreResults`. `None`: one row by id.
    Rows {
        /// The page size.
        page: Option<usize>,
    },
    /// `rowid` then one column per sort key, for every matching row, in no order. The
    /// page is rows `offset..offset + page` in the order of the keys (`true`: descending),
    /// compared as SQLite's `ORDER BY` compares them (see [`super::page`]), ties by rowid.
    Keys {
        /// Per key: descending.
        descending: Vec<bool>,
        /// Rows skipped.
        offset: usize,
        /// The page size.
        page: usize,
    },
}

/// The query of a load checked as `plan` (see [`crate::store::table::filter::plan`]).
pub(crate) fn build(table: &Table, plan: Plan<'_>) -> Query {
    let mut sql = String::with_capacity(512);
    sql.push_str(&table.select);
    let mut params = Vec::new();
    let id_col = format!("{}.{}", table.quoted, quote(ID_COLUMN));
    let rowid = format!("{}.rowid", table.quoted);
    let f = match plan {
        Plan::All => {
            sql.push_str(&format!(" ORDER BY {rowid}"));
            return Query {
                sql,
                params,
                shape: Shape::Rows {
                    page: Some(MAX_PAGE_ROWS as usize),
                },
            };
        }
        Plan::ById(id) => {
            sql.push_str(&format!(" WHERE {id_col} = ?"));
            params.push(SqlValue::Text(id));
            return Query {
                sql,
                params,
                shape: Shape::Rows { page: None },
            };
        }
        Plan::Filtered(f) => f,
    };
    let mut conds = Vec::new();
    // The first substring criterion of the top-level AND that can use the text index
    // drives the query: its index lookup is joined (its `MATCH` query lands here), which
    // reads the candidates in rowid order without collecting them first.
    let mut driver = None;
    if let Some(ids) = &f.provided {
        conds.push(format!("{id_col} IN (SELECT value FROM json_each(?))"));
        params.push(SqlValue::Text(
            serde_json::to_string(ids).expect("strings serialize"),
        ));
    }
    if let Some(g) = &f.group {
        conds.push(render(table, g, &mut params, Some(&mut driver), true));
    }
    if let Some(s) = &f.search {
        conds.push(render(table, s, &mut params, Some(&mut driver), false));
    }
    let (from, rowid) = match (&driver, &table.text_index) {
        (Some(query), Some(fts)) => {
            conds.insert(0, format!("{fts} MATCH ?"));
            params.insert(0, SqlValue::Text(query.clone()));
            (
                format!(
                    "{fts} CROSS JOIN {t} ON {t}.rowid = {fts}.rowid",
                    t = table.quoted
                ),
                // The index yields rowids in order: ordering by its own lets SQLite see it.
                format!("{fts}.rowid"),
            )
        }
        _ => (table.quoted.clone(), rowid),
    };
    sql.truncate(table.select.len() - table.quoted.len());
    sql.push_str(&from);
    let (page, offset) = (f.page, f.offset);
    let filter = |sql: &mut String| {
        if !conds.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&conds.join(" AND "));
        }
    };
    if f.keys.is_empty() {
        filter(&mut sql);
        sql.push_str(&format!(" ORDER BY {rowid} LIMIT ? OFFSET ?"));
        params.push(SqlValue::Integer(page + 1));
        params.push(SqlValue::Integer(offset));
        return Query {
            sql,
            params,
            shape: Shape::Rows {
                page: Some(page as usize),
            },
        };
    }
    let mut sql = format!("SELECT {rowid}");
    for (col, _) in &f.keys {
        sql.push_str(", ");
        sql.push_str(&col.qualified);
    }
    sql.push_str(" FROM ");
    sql.push_str(&from);
    filter(&mut sql);
    Query {
        sql,
        params,
        shape: Shape::Keys {
            descending: f.keys.iter().map(|(_, d)| *d).collect(),
            offset: usize::try_from(offset).unwrap_or(usize::MAX),
            page: page as usize,
        },
    }
}

/// The SQL of one condition, its parameters pushed in order. `driver` is offered to a
/// substring criterion that is a conjunct of the whole query (`top`: `cond` is the
/// top-level group, whose AND parts are such conjuncts).
fn render(
    table: &Table,
    cond: &Cond<'_>,
    params: &mut Vec<SqlValue>,
    driver: Option<&mut Option<String>>,
    top: bool,
) -> String {
    match cond {
        Cond::Compare { col, op, value } => {
            params.push(value.clone());
            let op = match op {
                Op::Is => "IS",
                Op::IsNot => "IS NOT",
                Op::Gt => ">",
                Op::Ge => ">=",
                Op::Lt => "<",
                Op::Le => "<=",
            };
            format!("{} {op} ?", col.qualified)
        }
        Cond::Substring {
            cols,
            needle,
            pattern,
        } => substring(table, cols, needle, pattern, params, driver),
        Cond::Empty { col, empty } => {
            let q = &col.qualified;
            let sql = match col.kind {
                Kind::Text | Kind::Password => format!("({q} IS NULL OR {q} = '')"),
                Kind::Object | Kind::List => format!("({q} IS NULL OR {q} IN ('', '[]'))"),
                _ => format!("{q} IS NULL"),
            };
            if *empty {
                sql
            } else {
                format!("NOT {sql}")
            }
        }
        Cond::Each { col, any, values } => {
            let q = &col.qualified;
            params.push(json_list(values));
            if col.kind.is_object() {
                // Object and List values are stored as a JSON array of objects.
                let held = format!(
                    "SELECT 1 FROM json_each(CASE WHEN json_valid({q}) THEN {q} END) AS h \
                     WHERE json_extract(h.value, '$.externalId')"
                );
                if *any {
                    format!("EXISTS ({held} IN (SELECT value FROM json_each(?)))")
                } else {
                    format!(
                        "NOT EXISTS (SELECT 1 FROM json_each(?) AS w \
                         WHERE NOT EXISTS ({held} = w.value))"
                    )
                }
            } else if *any {
                format!("{q} IN (SELECT value FROM json_each(?))")
            } else {
                format!("NOT EXISTS (SELECT 1 FROM json_each(?) WHERE value IS NOT {q})")
            }
        }
        Cond::Const(b) => if *b { "1" } else { "0" }.into(),
        Cond::Group { and, parts } => {
            // Only a conjunct can narrow the whole query.
            let mut driver = if top && *and { driver } else { None };
            let sql: Vec<String> = parts
                .iter()
                .map(|p| {
                    let d = match p {
                        Cond::Group { .. } => None,
                        _ => driver.as_deref_mut(),
                    };
                    render(table, p, params, d, false)
                })
                .collect();
            format!("({})", sql.join(if *and { " AND " } else { " OR " }))
        }
    }
}

/// A list of values as one JSON array parameter, for `json_each(?)`.
fn json_list(values: &[SqlValue]) -> SqlValue {
    let list: Vec<serde_json::Value> = values
        .iter()
        .map(|v| match v {
            SqlValue::Null => serde_json::Value::Null,
            SqlValue::Integer(i) => (*i).into(),
            SqlValue::Real(f) => serde_json::Number::from_f64(*f)
                .map_or(serde_json::Value::Null, serde_json::Value::Number),
            SqlValue::Text(t) => t.as_str().into(),
            SqlValue::Blob(b) => String::from_utf8_lossy(b).into_owned().into(),
        })
        .collect();
    SqlValue::Text(serde_json::to_string(&list).expect("JSON values serialize"))
}

/// The FTS5 query of rows holding every trigram of `needle` at positions 0, 3, 6, ... and
/// the last one (`"abc" AND "def" AND "efg"` for `abcdefg`): fewer lists to intersect than
/// all of them, a superset of the rows holding the needle all the same (LIKE then decides).
/// An FTS5 string quotes like an SQL identifier.
fn trigrams(needle: &str) -> String {
    let starts: Vec<usize> = needle.char_indices().map(|(i, _)| i).collect();
    let n = starts.len();
    let gram = |k: usize| {
        let end = starts.get(k + TRIGRAM).copied().unwrap_or(needle.len());
        quote(&needle[starts[k]..end])
    };
    let mut terms: Vec<String> = (0..=n - TRIGRAM).step_by(TRIGRAM).map(gram).collect();
    if (n - TRIGRAM) % TRIGRAM != 0 {
        terms.push(gram(n - TRIGRAM));
    }
    terms.dedup();
    terms.join(" AND ")
}

/// Rows where any of `cols` is `LIKE pattern`, `needle` being the literal text the pattern
/// must hold: through the trigram index when every column is indexed and the needle is
/// long enough (see the module docs). An empty `driver` takes the index query instead of a
/// subquery (the caller joins the index).
fn substring(
    table: &Table,
    cols: &[&Column],
    needle: &str,
    pattern: &str,
    params: &mut Vec<SqlValue>,
    driver: Option<&mut Option<String>>,
) -> String {
    let like = cols
        .iter()
        .map(|c| {
            params.push(SqlValue::Text(pattern.to_owned()));
            // `(...) = 1`: SQLite then does not look into the LIKE for its prefix
            // optimization (no index could serve it anyway), which would make it prepare
            // the statement again at every binding of the pattern.
            format!("({} LIKE ? ESCAPE '\\') = 1", c.qualified)
        })
        .collect::<Vec<_>>()
        .join(" OR ");
    let indexed: Option<Vec<&str>> = cols.iter().map(|c| c.indexed.as_deref()).collect();
    let (Some(fts), Some(indexed)) = (&table.text_index, indexed) else {
        return format!("({like})");
    };
    if needle.chars().count() < TRIGRAM || needle.contains('\0') {
        return format!("({like})");
    }
    let query = format!("{{{}}} : ({})", indexed.join(" "), trigrams(needle));
    if let Some(slot @ None) = driver {
        *slot = Some(query);
        return format!("({like})");
    }
    params.insert(params.len() - cols.len(), SqlValue::Text(query));
    format!(
        "({}.rowid IN (SELECT rowid FROM {fts} WHERE {fts} MATCH ?) AND ({like}))",
        table.quoted
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needles_become_trigram_queries() {
        assert_eq!(trigrams("abc"), r#""abc""#);
        assert_eq!(trigrams("blue"), r#""blu" AND "lue""#);
        assert_eq!(trigrams("abcdefg"), r#""abc" AND "def" AND "efg""#);
        assert_eq!(trigrams("abcdef"), r#""abc" AND "def""#);
        assert_eq!(trigrams("say \"hi\""), r#""say" AND " ""h" AND "hi""""#);
        assert_eq!(trigrams("ééé€"), r#""ééé" AND "éé€""#);
    }
}
