//! A ListFilter checked against a table: every refusal a load can meet, decided once for
//! every backend, and what is left ([`Plan`]) for each backend to write as its own SQL.
//!
//! Criteria (the Flow wire protocol, `protocol`): `EQUAL`, `NOT_EQUAL` (NULL counts as
//! different), the four orderings, `CONTAINS`/`STARTS_WITH`/`ENDS_WITH` (a LIKE pattern
//! with `\` escaping `%`, `_` and `\`, so they match literally; ASCII case-insensitive),
//! `IS_EMPTY` (`"true"`: NULL or `""`; `"false"`: the opposite), and on lists
//! `ANY_EQUAL`/`ALL_EQUAL`. For those the values are the `objectData` objects (their
//! property of the column's name, else their external id), or the single `contentValue`;
//! a scalar column matches when it equals any / every value, a List or Object column when
//! it holds an object with any / every of those external ids. A `where` entry with no
//! value at all is ignored.
//!
//! Refused with 400 (naming the property or the limit): any criterion, `searchCriteria`
//! or sort key on a Password property (a comparison would reveal the secret a character
//! at a time); a NUL character in a substring value or `search`; more `where` entries,
//! values, sort keys or search characters than the limits of [`crate::store`]
//! (`MAX_WHERE_ENTRIES`, ...); a negative offset or limit; filters nested too deep.
//!
//! The default order is insertion order, also the last tie-breaker of any order, so
//! paging is stable.

use rusqlite::types::Value as SqlValue;

use super::value::{self, Kind};
use super::{Column, Table};
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

/// A checked load.
#[derive(Debug)]
pub(crate) enum Plan<'t> {
    /// Every row, in insertion order, at most [`MAX_PAGE_ROWS`] (no filter).
    All,
    /// The one row of this external id (`listFilter.id`): nothing else applies.
    ById(String),
    /// The rows a filter selects.
    Filtered(Filtered<'t>),
}

/// The parts of a filtered load, in the order their conditions are joined by AND.
#[derive(Debug)]
pub(crate) struct Filtered<'t> {
    /// `filterByProvidedObjects`: only rows with these external ids.
    pub(crate) provided: Option<Vec<String>>,
    /// The top-level group of `where` entries and nested `listFilters`.
    pub(crate) group: Option<Cond<'t>>,
    /// `search`.
    pub(crate) search: Option<Cond<'t>>,
    /// Sort keys (`true`: descending); insertion order breaks ties.
    pub(crate) keys: Vec<(&'t Column, bool)>,
    /// Rows skipped.
    pub(crate) offset: i64,
    /// The page size.
    pub(crate) page: i64,
}

/// A comparison of [`Cond::Compare`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    /// Equal, NULL equal to NULL.
    Is,
    /// Not equal, NULL different from any value.
    IsNot,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
}

/// One condition of a filter.
#[derive(Debug)]
pub(crate) enum Cond<'t> {
    /// The column compared with a value parsed for it.
    Compare {
        /// The column.
        col: &'t Column,
        /// How.
        op: Op,
        /// The value (NULL only for `Is`/`IsNot`).
        value: SqlValue,
    },
    /// Any of `cols` matches the LIKE `pattern` (escape `\`, ASCII case-insensitive);
    /// `needle` is the literal text it holds.
    Substring {
        /// The columns.
        cols: Vec<&'t Column>,
        /// The text searched for.
        needle: String,
        /// The LIKE pattern.
        pattern: String,
    },
    /// The column is empty (`empty`) or not.
    Empty {
        /// The column.
        col: &'t Column,
        /// `true`: empty.
        empty: bool,
    },
    /// `ANY_EQUAL` (`any`) or `ALL_EQUAL` of at least one value: for Object and List
    /// columns external ids (text), else values parsed for the column.
    Each {
        /// The column.
        col: &'t Column,
        /// `true`: any.
        any: bool,
        /// The values.
        values: Vec<SqlValue>,
    },
    /// Always true or always false.
    Const(bool),
    /// Conditions joined by AND (`and`) or OR; a `where` entry is never a group.
    Group {
        /// `true`: AND.
        and: bool,
        /// `where` entries first, then nested groups.
        parts: Vec<Cond<'t>>,
    },
}

/// Checks `filter` against `table` (`provided`: the objects of `filterByProvidedObjects`).
///
/// # Errors
///
/// 400 naming what is wrong (see the module docs).
pub(crate) fn plan<'t>(
    table: &'t Table,
    filter: Option<&ListFilter>,
    provided: &[MObject],
) -> Result<Plan<'t>> {
    let Some(f) = filter else {
        return Ok(Plan::All);
    };
    if let Some(id) = f.id.as_deref().filter(|id| !id.is_empty()) {
        return Ok(Plan::ById(id.to_owned()));
    }
    count_wheres(f.where_.as_deref(), f.list_filters.as_deref(), 0, &mut 0)?;
    let provided = (f.filter_by_provided_objects == Some(true)).then(|| {
        provided
            .iter()
            .filter_map(|o| o.external_id.clone())
            .collect()
    });
    let group = group(
        table,
        f.comparison_type.as_ref(),
        f.where_.as_deref(),
        f.list_filters.as_deref(),
        0,
    )?;
    let search = search(table, f)?;
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
    Ok(Plan::Filtered(Filtered {
        provided,
        group,
        search,
        keys,
        offset,
        page,
    }))
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
        return Err(too_deep());
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

fn too_deep() -> Error {
    Error::bad_request(format!(
        "listFilters are nested deeper than {MAX_FILTER_DEPTH} levels"
    ))
}

/// `where` entries and nested groups joined by `comparison`; `None` when nothing applies,
/// the one part itself when there is one.
fn group<'t>(
    table: &'t Table,
    comparison: Option<&ComparisonType>,
    wheres: Option<&[ListFilterWhere]>,
    nested: Option<&[ListFilterMinimal]>,
    depth: usize,
) -> Result<Option<Cond<'t>>> {
    if depth > MAX_FILTER_DEPTH {
        return Err(too_deep());
    }
    let and = match comparison {
        None | Some(ComparisonType::And | ComparisonType::None) => true,
        Some(ComparisonType::Or) => false,
        Some(other) => {
            return Err(Error::bad_request(format!(
                "unknown comparisonType '{other}'; expected AND or OR"
            )))
        }
    };
    let mut parts = Vec::new();
    for w in wheres.unwrap_or_default() {
        if let Some(c) = condition(table, w)? {
            parts.push(c);
        }
    }
    for g in nested.unwrap_or_default() {
        if let Some(c) = group(
            table,
            g.comparison_type.as_ref(),
            g.where_.as_deref(),
            g.list_filters.as_deref(),
            depth + 1,
        )? {
            parts.push(c);
        }
    }
    Ok(match parts.len() {
        0 => None,
        1 => parts.pop(),
        _ => Some(Cond::Group { and, parts }),
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

/// A value of a `where` entry parsed for `col`.
fn operand(col: &Column, v: &str) -> Result<SqlValue> {
    value::parse(col.kind, Some(v))
        .map_err(|why| Error::bad_request(format!("where value '{v}' for '{}' {why}", col.name)))
}

/// One `where` entry; `None` when it carries no value and is ignored.
fn condition<'t>(table: &'t Table, w: &ListFilterWhere) -> Result<Option<Cond<'t>>> {
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
    let cond = match criteria {
        CriteriaType::Equal | CriteriaType::NotEqual => {
            scalar_only(criteria)?;
            let value = operand(col, raw.ok_or_else(|| needs_value(criteria))?)?;
            let op = if *criteria == CriteriaType::Equal {
                Op::Is
            } else {
                Op::IsNot
            };
            Cond::Compare { col, op, value }
        }
        CriteriaType::GreaterThan
        | CriteriaType::GreaterThanOrEqual
        | CriteriaType::LessThan
        | CriteriaType::LessThanOrEqual => {
            scalar_only(criteria)?;
            let value = operand(col, raw.ok_or_else(|| needs_value(criteria))?)?;
            if value == SqlValue::Null {
                return Err(needs_value(criteria));
            }
            let op = match criteria {
                CriteriaType::GreaterThan => Op::Gt,
                CriteriaType::GreaterThanOrEqual => Op::Ge,
                CriteriaType::LessThan => Op::Lt,
                _ => Op::Le,
            };
            Cond::Compare { col, op, value }
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
            Cond::Substring {
                cols: vec![col],
                needle: raw.to_owned(),
                pattern,
            }
        }
        CriteriaType::IsEmpty => {
            let v = raw.unwrap_or_default().trim();
            let empty = if v.eq_ignore_ascii_case("true") {
                true
            } else if v.eq_ignore_ascii_case("false") {
                false
            } else {
                return Err(Error::bad_request(format!(
                    "IS_EMPTY on '{}' takes \"true\" or \"false\", got '{v}'",
                    col.name
                )));
            };
            Cond::Empty { col, empty }
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
                return Ok(Some(Cond::Const(!any)));
            }
            let values = if col.kind.is_object() {
                values
                    .iter()
                    .map(|v| SqlValue::Text((*v).to_owned()))
                    .collect()
            } else {
                values
                    .iter()
                    .map(|v| operand(col, v))
                    .collect::<Result<Vec<_>>>()?
            };
            Cond::Each { col, any, values }
        }
        CriteriaType::Other(s) => {
            return Err(Error::bad_request(format!(
                "unknown criteriaType '{s}' for '{}'",
                col.name
            )))
        }
    };
    Ok(Some(cond))
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
fn search<'t>(table: &'t Table, f: &ListFilter) -> Result<Option<Cond<'t>>> {
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
        return Ok(Some(Cond::Const(false)));
    }
    Ok(Some(Cond::Substring {
        cols,
        needle: text.to_owned(),
        pattern: format!("%{}%", like_escape(text)),
    }))
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
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_escape("50%_off\\"), "50\\%\\_off\\\\");
    }
}
