//! A ListFilter turned into one SELECT with bound parameters.
//!
//! Values are always parameters; identifiers come only from the table's columns. Criteria
//! (the Flow wire protocol, `protocol`): `EQUAL`, `NOT_EQUAL` (NULL counts as different), the four orderings,
//! `CONTAINS`/`STARTS_WITH`/`ENDS_WITH` (SQL `LIKE` with `\` escaping `%`, `_` and `\`, so
//! they match literally; ASCII case-insensitive), `IS_EMPTY` (`"true"`: NULL or `""`;
//! `"false"`: the opposite), and on lists `ANY_EQUAL`/`ALL_EQUAL`. For those the values
//! are the `objectData` objects (their property of the column's name, else their external
//! id), or the single `contentValue`; a scalar column matches when it equals any / every
//! value, a List or Object column when it holds an object with any / every of those
//! external ids. A `where` entry with no value at all is ignored. Lists of values (these,
//! and the ids of `filterByProvidedObjects`) are one JSON parameter read with `json_each`,
//! so that no list meets SQLite's limits on parameters or expression depth.
//!
//! Refused with 400 (naming the property or the limit): any criterion, `searchCriteria`
//! or sort key on a Password property (a comparison would reveal the secret a character
//! at a time); a NUL character in a substring value or `search` (a LIKE pattern ends at
//! NUL, so it would match every row); more `where` entries, values, sort keys or search
//! characters than the limits of [`crate::store`] (`MAX_WHERE_ENTRIES`, ...).
//!
//! The default order is insertion order (rowid), also the last tie-breaker of any order,
//! so paging is stable.
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
use super::value::{self, Kind};
use crate::error::{Error, Result};
use crate::protocol::{
    ComparisonType, CriteriaType, ListFilter, ListFilterMinimal, ListFilterWhere, MObject,
    OrderDirection,
};
use crate::store::{
    MAX_COLUMN_NAME_BYTES, MAX_CRITERIA_VALUES, MAX_ORDER_KEYS, MAX_SEARCH_CHARS, MAX_WHERE_ENTRIES,
};

/// The most rows one load answers, whatever `limit` says (`hasMoreResults` tells the rest).
pub(crate) const MAX_PAGE_ROWS: i64 = 100_000;
/// The deepest nesting of `listFilters` accepted.
const MAX_FILTER_DEPTH: usize = 32;

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

/// The query of a load with `filter` (and the provided objects, for
/// `filterByProvidedObjects`).
///
/// # Errors
///
/// 400 naming what is wrong: an unknown column, criteria or direction, a value that does
/// not fit its column, a negative offset or limit, filters nested too deep, a Password
/// compared, searched or ordered by, a NUL in a substring value, a limit exceeded.
pub(crate) fn build(
    table: &Table,
    filter: Option<&ListFilter>,
    provided: &[MObject],
) -> Result<Query> {
    let mut sql = String::with_capacity(512);
    sql.push_str(&table.select);
    let mut params = Vec::new();
    let id_col = format!("{}.{}", table.quoted, quote(ID_COLUMN));
    let rowid = format!("{}.rowid", table.quoted);
    let Some(f) = filter else {
        sql.push_str(&format!(" ORDER BY {rowid}"));
        return Ok(Query {
            sql,
            params,
            shape: Shape::Rows {
                page: Some(MAX_PAGE_ROWS as usize),
            },
        });
    };
    if let Some(id) = f.id.as_deref().filter(|id| !id.is_empty()) {
        sql.push_str(&format!(" WHERE {id_col} = ?"));
        params.push(SqlValue::Text(id.to_owned()));
        return Ok(Query {
            sql,
            params,
            shape: Shape::Rows { page: None },
        });
    }

    count_wheres(f.where_.as_deref(), f.list_filters.as_deref(), 0, &mut 0)?;
    let mut conds = Vec::new();
    // The first substring criterion of the top-level AND that can use the text index
    // drives the query: its index lookup is joined (its `MATCH` query lands here), which
    // reads the candidates in rowid order without collecting them first.
    let mut driver = None;
    if f.filter_by_provided_objects == Some(true) {
        let ids: Vec<&str> = provided
            .iter()
            .filter_map(|o| o.external_id.as_deref())
            .collect();
        conds.push(format!("{id_col} IN (SELECT value FROM json_each(?))"));
        params.push(SqlValue::Text(
            serde_json::to_string(&ids).expect("strings serialize"),
        ));
    }
    if let Some(c) = group(
        table,
        f.comparison_type.as_ref(),
        f.where_.as_deref(),
        f.list_filters.as_deref(),
        &mut params,
        0,
        Some(&mut driver),
    )? {
        conds.push(c);
    }
    if let Some(c) = search(table, f, &mut params, &mut driver)? {
        conds.push(c);
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
    let keys = order(table, f)?;
    let limit = f.limit.unwrap_or(0);
    let offset = f.offset.unwrap_or(0);
    if limit < 0 {
        return Err(Error::bad_request(format!(
            "listFilter.limit must not be negative, got {limit}"
        )));
    }
    if offset < 0 {
        return Err(Error::bad_request(format!(
            "listFilter.offset must not be negative, got {offset}"
        )));
    }
    let page = if limit == 0 {
        MAX_PAGE_ROWS
    } else {
        limit.min(MAX_PAGE_ROWS)
    };
    let filter = |sql: &mut String| {
        if !conds.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&conds.join(" AND "));
        }
    };
    if keys.is_empty() {
        filter(&mut sql);
        sql.push_str(&format!(" ORDER BY {rowid} LIMIT ? OFFSET ?"));
        params.push(SqlValue::Integer(page + 1));
        params.push(SqlValue::Integer(offset));
        return Ok(Query {
            sql,
            params,
            shape: Shape::Rows {
                page: Some(page as usize),
            },
        });
    }
    let mut sql = format!("SELECT {rowid}");
    for (col, _) in &keys {
        sql.push_str(", ");
        sql.push_str(&col.qualified);
    }
    sql.push_str(" FROM ");
    sql.push_str(&from);
    filter(&mut sql);
    Ok(Query {
        sql,
        params,
        shape: Shape::Keys {
            descending: keys.iter().map(|(_, d)| *d).collect(),
            offset: usize::try_from(offset).unwrap_or(usize::MAX),
            page: page as usize,
        },
    })
}

/// Counts the `where` entries of a filter and its nested groups into `seen`.
///
/// # Errors
///
/// 400 past [`MAX_WHERE_ENTRIES`] or [`MAX_FILTER_DEPTH`].
fn count_wheres(
    wheres: Option<&[ListFilterWhere]>,
    nested: Option<&[ListFilterMinimal]>,
    depth: usize,
    seen: &mut usize,
) -> Result<()> {
    if depth > MAX_FILTER_DEPTH {
        return Err(Error::bad_request(format!(
            "listFilters are nested deeper than {MAX_FILTER_DEPTH} levels"
        )));
    }
    *seen += wheres.map_or(0, <[_]>::len);
    if *seen > MAX_WHERE_ENTRIES {
        return Err(Error::bad_request(format!(
            "the listFilter has more than {MAX_WHERE_ENTRIES} where entries (those of nested \
             listFilters counted); at most {MAX_WHERE_ENTRIES} are accepted"
        )));
    }
    for g in nested.unwrap_or_default() {
        count_wheres(
            g.where_.as_deref(),
            g.list_filters.as_deref(),
            depth + 1,
            seen,
        )?;
    }
    Ok(())
}

/// `where` entries and nested groups joined by `comparison`; `None` when nothing applies.
fn group(
    table: &Table,
    comparison: Option<&ComparisonType>,
    wheres: Option<&[ListFilterWhere]>,
    nested: Option<&[ListFilterMinimal]>,
    params: &mut Vec<SqlValue>,
    depth: usize,
    mut driver: Option<&mut Option<String>>,
) -> Result<Option<String>> {
    if depth > MAX_FILTER_DEPTH {
        return Err(Error::bad_request(format!(
            "listFilters are nested deeper than {MAX_FILTER_DEPTH} levels"
        )));
    }
    let joiner = match comparison {
        None | Some(ComparisonType::And | ComparisonType::None) => " AND ",
        Some(ComparisonType::Or) => " OR ",
        Some(other) => {
            return Err(Error::bad_request(format!(
                "unknown comparisonType '{other}'; expected AND or OR"
            )))
        }
    };
    if joiner != " AND " {
        driver = None; // only a conjunct can narrow the whole query
    }
    let mut parts = Vec::new();
    for w in wheres.unwrap_or_default() {
        if let Some(c) = condition(table, w, params, driver.as_deref_mut())? {
            parts.push(c);
        }
    }
    for g in nested.unwrap_or_default() {
        if let Some(c) = group(
            table,
            g.comparison_type.as_ref(),
            g.where_.as_deref(),
            g.list_filters.as_deref(),
            params,
            depth + 1,
            None,
        )? {
            parts.push(c);
        }
    }
    Ok(match parts.len() {
        0 => None,
        1 => parts.pop(),
        _ => Some(format!("({})", parts.join(joiner))),
    })
}

/// The column a filter names, or 400 naming it (or, for a name longer than
/// [`MAX_COLUMN_NAME_BYTES`], its length).
fn column<'t>(table: &'t Table, name: Option<&str>, field: &str) -> Result<&'t Column> {
    let name =
        name.ok_or_else(|| Error::bad_request(format!("a {field} entry has no columnName")))?;
    table.column(name).map(|(_, c)| c).ok_or_else(|| {
        if name.len() > MAX_COLUMN_NAME_BYTES {
            return Error::bad_request(format!(
                "a {field} columnName of {} bytes is not a property of type '{}' \
                 (column names in filters are at most {MAX_COLUMN_NAME_BYTES} bytes)",
                name.len(),
                table.type_name
            ));
        }
        Error::bad_request(format!(
            "{field} columnName '{name}' is not a property of type '{}'",
            table.type_name
        ))
    })
}

/// The column a filter names, which must not be a Password; `what` says how the filter
/// uses it.
fn open_column<'t>(
    table: &'t Table,
    name: Option<&str>,
    field: &str,
    what: &str,
) -> Result<&'t Column> {
    let col = column(table, name, field)?;
    if col.kind == Kind::Password {
        return Err(Error::bad_request(format!(
            "property '{}' of type '{}' is a Password: it cannot be {what} \
             (Password values are never compared, searched or ordered by)",
            col.name, table.type_name
        )));
    }
    Ok(col)
}

/// Refuses a substring text (`what` names it) that is too long or holds NUL.
fn substring_text(text: &str, what: impl Fn() -> String) -> Result<()> {
    let chars = text.chars().count();
    if chars > MAX_SEARCH_CHARS {
        return Err(Error::bad_request(format!(
            "{} is {chars} characters long; at most {MAX_SEARCH_CHARS} are accepted",
            what()
        )));
    }
    if text.contains('\0') {
        return Err(Error::bad_request(format!(
            "{} contains a NUL character, which substring matching cannot match",
            what()
        )));
    }
    Ok(())
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

/// A value of a `where` entry parsed for `col`.
fn operand(col: &Column, v: &str) -> Result<SqlValue> {
    value::parse(col.kind, Some(v))
        .map_err(|why| Error::bad_request(format!("where value '{v}' for '{}' {why}", col.name)))
}

/// One `where` entry; `None` when it carries no value and is ignored.
fn condition(
    table: &Table,
    w: &ListFilterWhere,
    params: &mut Vec<SqlValue>,
    driver: Option<&mut Option<String>>,
) -> Result<Option<String>> {
    let col = open_column(table, w.column_name.as_deref(), "where", "filtered")?;
    let objects = w.object_data.as_deref().unwrap_or_default();
    let raw = w.operand();
    if raw.is_none() && objects.is_empty() {
        return Ok(None);
    }
    let criteria = w.criteria_type.as_ref().ok_or_else(|| {
        Error::bad_request(format!(
            "the where entry for '{}' has no criteriaType",
            col.name
        ))
    })?;
    let q = &col.qualified;
    let scalar_only = |c: &CriteriaType| -> Result<()> {
        if col.kind.is_object() {
            Err(Error::bad_request(format!(
                "criteriaType {c} cannot compare Object or List property '{}'; \
                 use IS_EMPTY, ANY_EQUAL or ALL_EQUAL",
                col.name
            )))
        } else {
            Ok(())
        }
    };
    let needs_value = |c: &CriteriaType| {
        Error::bad_request(format!(
            "criteriaType {c} on '{}' needs a contentValue",
            col.name
        ))
    };
    let sql = match criteria {
        CriteriaType::Equal | CriteriaType::NotEqual => {
            scalar_only(criteria)?;
            let v = operand(col, raw.ok_or_else(|| needs_value(criteria))?)?;
            params.push(v);
            if *criteria == CriteriaType::Equal {
                format!("{q} IS ?")
            } else {
                format!("{q} IS NOT ?")
            }
        }
        CriteriaType::GreaterThan
        | CriteriaType::GreaterThanOrEqual
        | CriteriaType::LessThan
        | CriteriaType::LessThanOrEqual => {
            scalar_only(criteria)?;
            let v = operand(col, raw.ok_or_else(|| needs_value(criteria))?)?;
            if v == SqlValue::Null {
                return Err(needs_value(criteria));
            }
            params.push(v);
            let op = match criteria {
                CriteriaType::GreaterThan => ">",
                CriteriaType::GreaterThanOrEqual => ">=",
                CriteriaType::LessThan => "<",
                _ => "<=",
            };
            format!("{q} {op} ?")
        }
        CriteriaType::Contains | CriteriaType::StartsWith | CriteriaType::EndsWith => {
            scalar_only(criteria)?;
            let raw = raw.ok_or_else(|| needs_value(criteria))?;
            substring_text(raw, || format!("the {criteria} value for '{}'", col.name))?;
            let v = like_escape(raw);
            let pattern = match criteria {
                CriteriaType::Contains => format!("%{v}%"),
                CriteriaType::StartsWith => format!("{v}%"),
                _ => format!("%{v}"),
            };
            substring(table, &[col], raw, &pattern, params, driver)
        }
        CriteriaType::IsEmpty => {
            let v = raw.unwrap_or_default().trim();
            let empty = match col.kind {
                Kind::Text | Kind::Password => format!("({q} IS NULL OR {q} = '')"),
                Kind::Object | Kind::List => format!("({q} IS NULL OR {q} IN ('', '[]'))"),
                _ => format!("{q} IS NULL"),
            };
            if v.eq_ignore_ascii_case("true") {
                empty
            } else if v.eq_ignore_ascii_case("false") {
                format!("NOT {empty}")
            } else {
                return Err(Error::bad_request(format!(
                    "IS_EMPTY on '{}' takes \"true\" or \"false\", got '{v}'",
                    col.name
                )));
            }
        }
        CriteriaType::AnyEqual | CriteriaType::AllEqual => {
            let values: Vec<&str> = if objects.is_empty() {
                raw.into_iter().collect()
            } else {
                objects
                    .iter()
                    .filter_map(|o| {
                        o.property(&col.name)
                            .and_then(|p| p.content_value.as_deref())
                            .or(o.external_id.as_deref())
                    })
                    .collect()
            };
            let any = *criteria == CriteriaType::AnyEqual;
            if values.len() > MAX_CRITERIA_VALUES {
                return Err(Error::bad_request(format!(
                    "the {criteria} entry for '{}' compares with {} values; at most \
                     {MAX_CRITERIA_VALUES} are accepted",
                    col.name,
                    values.len()
                )));
            }
            if values.is_empty() {
                // Nothing to match: ANY of nothing is false, ALL of nothing is true.
                return Ok(Some(if any { "0" } else { "1" }.into()));
            }
            if col.kind.is_object() {
                // Object and List values are stored as a JSON array of objects.
                let held = format!(
                    "SELECT 1 FROM json_each(CASE WHEN json_valid({q}) THEN {q} END) AS h \
                     WHERE json_extract(h.value, '$.externalId')"
                );
                let ids: Vec<SqlValue> = values
                    .iter()
                    .map(|v| SqlValue::Text((*v).to_owned()))
                    .collect();
                params.push(json_list(&ids));
                if any {
                    format!("EXISTS ({held} IN (SELECT value FROM json_each(?)))")
                } else {
                    format!(
                        "NOT EXISTS (SELECT 1 FROM json_each(?) AS w \
                         WHERE NOT EXISTS ({held} = w.value))"
                    )
                }
            } else {
                let parsed = values
                    .iter()
                    .map(|v| operand(col, v))
                    .collect::<Result<Vec<_>>>()?;
                params.push(json_list(&parsed));
                if any {
                    format!("{q} IN (SELECT value FROM json_each(?))")
                } else {
                    format!("NOT EXISTS (SELECT 1 FROM json_each(?) WHERE value IS NOT {q})")
                }
            }
        }
        CriteriaType::Other(s) => {
            return Err(Error::bad_request(format!(
                "unknown criteriaType '{s}' for '{}'",
                col.name
            )))
        }
    };
    Ok(Some(sql))
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

/// Escapes `\`, `%` and `_` so that a LIKE pattern matches them literally (`ESCAPE '\'`).
pub(crate) fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    for c in s.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `search`: a case-insensitive substring of any string property, or of the
/// `searchCriteria` columns when given.
fn search(
    table: &Table,
    f: &ListFilter,
    params: &mut Vec<SqlValue>,
    driver: &mut Option<String>,
) -> Result<Option<String>> {
    let Some(text) = f.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    substring_text(text, || "listFilter.search".to_owned())?;
    let criteria = f.search_criteria.as_deref().unwrap_or_default();
    if criteria.len() > table.columns.len().max(1) {
        return Err(Error::bad_request(format!(
            "searchCriteria names {} columns; type '{}' has {} properties",
            criteria.len(),
            table.type_name,
            table.columns.len()
        )));
    }
    let named: Vec<&Column> = criteria
        .iter()
        .map(|c| {
            open_column(
                table,
                c.column_name.as_deref(),
                "searchCriteria",
                "searched",
            )
        })
        .collect::<Result<_>>()?;
    let cols: Vec<&Column> = if named.is_empty() {
        table
            .columns
            .iter()
            .filter(|c| c.kind == Kind::Text)
            .collect()
    } else {
        named
    };
    if cols.is_empty() {
        return Ok(Some("0".into()));
    }
    let pattern = format!("%{}%", like_escape(text));
    Ok(Some(substring(
        table,
        &cols,
        text,
        &pattern,
        params,
        Some(driver),
    )))
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

/// The sort keys: `orderBy[]`, else the legacy single key; `true` means descending.
fn order<'t>(table: &'t Table, f: &ListFilter) -> Result<Vec<(&'t Column, bool)>> {
    let desc = |d: Option<&OrderDirection>| match d {
        None | Some(OrderDirection::Asc | OrderDirection::None) => Ok(false),
        Some(OrderDirection::Desc) => Ok(true),
        Some(other) => Err(Error::bad_request(format!(
            "unknown order direction '{other}'; expected ASC or DESC"
        ))),
    };
    let mut keys = Vec::new();
    match f.order_by.as_deref().filter(|o| !o.is_empty()) {
        Some(list) => {
            if list.len() > MAX_ORDER_KEYS {
                return Err(Error::bad_request(format!(
                    "orderBy has {} keys; at most {MAX_ORDER_KEYS} are accepted",
                    list.len()
                )));
            }
            for o in list {
                keys.push((
                    open_column(table, o.column_name.as_deref(), "orderBy", "ordered by")?,
                    desc(o.direction.as_ref())?,
                ));
            }
        }
        None => {
            if let Some(name) = f
                .order_by_property_developer_name
                .as_deref()
                .filter(|n| !n.is_empty())
            {
                keys.push((
                    open_column(
                        table,
                        Some(name),
                        "orderByPropertyDeveloperName",
                        "ordered by",
                    )?,
                    desc(f.order_by_direction_type.as_ref())?,
                ));
            }
        }
    }
    Ok(keys)
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

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_escape("50%_off\\"), "50\\%\\_off\\\\");
    }
}
