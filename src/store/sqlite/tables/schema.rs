//! One SQLite table per (service, type): its name, its columns, and creating or extending
//! it when a service is mounted.
//!
//! Identifiers come only from the definition and are always double-quoted with embedded
//! quotes doubled. The table is named `{service}/{type}` (a service name cannot contain
//! `/`, so the name is unambiguous). Every table has the hidden column `$externalId`
//! (unique) beside one column per property; its rowid is the stable default order.
//!
//! A property's column is named after it, except where the name could be taken for the
//! store's own (see [`column_name`]): `rowid`, `_rowid_` and `oid` in any case (a column of
//! that name would hide the rowid every query and the text index rely on) and every name
//! starting with `$` (the store's namespace, `$externalId` included) become `$p:{name}`;
//! a name holding NUL (which no SQL identifier can) becomes `$x:{hex of its bytes}`. So
//! every name a definition can hold is a column, and no two names share one. A table
//! stored before this mapping has such columns renamed when it is mounted.
//!
//! Password columns hold values sealed with the data folder's keystore
//! ([`crate::store::keystore`]), bound to the table and the property; mounting seals any
//! value still stored in clear (a table written before encryption). They are not in the
//! text index, and rendered only when the property says `returnOnLoad`.
//!
//! Text index: the String, Content and Encrypted columns of a table are also indexed in a
//! contentless FTS5 table named `/fts/{service}/{type}` (no data table's name starts with
//! `/`), with the trigram tokenizer folding case, one FTS column `p:{column}` per
//! property. Triggers on the data table keep it in step with every insert, update and
//! delete, whoever writes; mounting creates it, and rebuilds it from the rows when the set
//! of indexed columns differs from the definition's (so a table stored before the index
//! existed is backfilled). It is keyed by rowid, like the default order: fss never runs
//! `VACUUM`, which may renumber rowids. Loads use it only to narrow the candidates of
//! substring criteria (see `query`); the criteria themselves are still checked on the row.
//!
//! A column's declared SQL type records the fss property type (`TEXT`, `NUMERIC`,
//! `DATETIME_TEXT`, ...), chosen so that SQLite's affinity rules give the storage wanted.
//! Mounting a definition adds the columns of new properties; a property whose type changed
//! is refused, because the stored values would no longer read back as that type.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use crate::definition::{TypeDefinition, ValueType};
use crate::error::{Error, Result};
use crate::store::keystore::{Keystore, PREFIX as SEALED_PREFIX};
use crate::store::table::render::Template;
use crate::store::table::value::Kind;

/// The hidden column holding each row's external id.
pub(crate) const ID_COLUMN: &str = "$externalId";
/// The prefix of the column of a property whose own name is reserved.
const ESCAPED: &str = "$p:";
/// The prefix of the column of a property whose name holds NUL: the hex of its bytes.
const HEX_ESCAPED: &str = "$x:";

/// The stored column name of property `name` (see the module docs): the name itself, or
/// an escaped form that no property's own column can be.
pub(crate) fn column_name(name: &str) -> String {
    if name.contains('\0') {
        let mut hex = String::with_capacity(HEX_ESCAPED.len() + name.len() * 2);
        hex.push_str(HEX_ESCAPED);
        for b in name.bytes() {
            write!(hex, "{b:02x}").expect("writing to a String cannot fail");
        }
        return hex;
    }
    let reserved = name.starts_with('$')
        || ["rowid", "_rowid_", "oid"]
            .iter()
            .any(|r| name.eq_ignore_ascii_case(r));
    if reserved {
        format!("{ESCAPED}{name}")
    } else {
        name.to_owned()
    }
}

/// A property's column.
#[derive(Debug)]
pub(crate) struct Column {
    /// The property name.
    pub(crate) name: String,
    /// The stored column name ([`column_name`] of the property name).
    pub(crate) column: String,
    /// The quoted identifier of the stored column.
    pub(crate) quoted: String,
    /// The quoted identifier qualified by the quoted table name (for queries that join the
    /// text index).
    pub(crate) qualified: String,
    /// Its column in the text index, quoted (an FTS5 string has the same quoting); `None`
    /// when the column is not indexed.
    pub(crate) indexed: Option<String>,
    /// The fss type.
    pub(crate) value_type: ValueType,
    /// How values are stored and rendered.
    pub(crate) kind: Kind,
    /// A Password the definition lets answers carry (`returnOnLoad`).
    pub(crate) reveal: bool,
    /// What its sealed values are bound to: the table name, NUL, the property name.
    pub(crate) context: Vec<u8>,
}

/// A table as the definition describes it.
#[derive(Debug)]
pub(crate) struct Table {
    /// The type name (`developerName` of each object).
    pub(crate) type_name: String,
    /// The table name, `{service}/{type}`.
    pub(crate) name: String,
    /// The quoted table name.
    pub(crate) quoted: String,
    /// Columns in definition order.
    pub(crate) columns: Vec<Column>,
    /// The column of the key property, if the data action names one.
    pub(crate) key: Option<usize>,
    by_name: HashMap<String, usize>,
    /// `SELECT table."$externalId", table.col, ...`.
    pub(crate) select_list: String,
    /// [`Table::select_list`] `FROM table`.
    pub(crate) select: String,
    /// The quoted name of the text index; `None` when no column is indexed.
    pub(crate) text_index: Option<String>,
    /// The fixed JSON fragments of its objects.
    pub(crate) template: Template,
    /// Seals and opens the values of its Password columns.
    pub(crate) keystore: Arc<Keystore>,
}

/// Quotes an identifier for SQLite: `"` around, embedded `"` doubled.
pub(crate) fn quote(name: &str) -> String {
    let mut q = String::with_capacity(name.len() + 2);
    q.push('"');
    for c in name.chars() {
        if c == '"' {
            q.push('"');
        }
        q.push(c);
    }
    q.push('"');
    q
}

/// The declared SQL type of a property type (see the module docs).
fn declared(t: ValueType) -> &'static str {
    match t {
        ValueType::String => "TEXT",
        ValueType::Content => "CONTENT_TEXT",
        ValueType::Password => "PASSWORD_TEXT",
        ValueType::Encrypted => "ENCRYPTED_TEXT",
        ValueType::Number => "NUMERIC",
        ValueType::Boolean => "BOOLEAN",
        ValueType::DateTime => "DATETIME_TEXT",
        ValueType::Object => "OBJECT_TEXT",
        ValueType::List => "LIST_TEXT",
    }
}

fn kind(t: ValueType) -> Kind {
    match t {
        ValueType::String | ValueType::Content | ValueType::Encrypted => Kind::Text,
        ValueType::Password => Kind::Password,
        ValueType::Number => Kind::Number,
        ValueType::Boolean => Kind::Boolean,
        ValueType::DateTime => Kind::DateTime,
        ValueType::Object => Kind::Object,
        ValueType::List => Kind::List,
    }
}

fn type_of_declared(d: &str) -> Option<ValueType> {
    use ValueType::*;
    [
        String, Content, Password, Encrypted, Number, Boolean, DateTime, Object, List,
    ]
    .into_iter()
    .find(|t| declared(*t).eq_ignore_ascii_case(d))
}

impl Table {
    /// The table of type `ty` of service `service`, with `key` the key property; its
    /// Password values are sealed with `keystore`.
    ///
    /// # Errors
    ///
    /// 400 when the type cannot be stored: a NUL character in the type name, two
    /// properties whose names differ only in ASCII case (SQLite identifiers ignore it), or
    /// a Password key (the key is answered in clear as the external id).
    pub(crate) fn new(
        service: &str,
        ty: &TypeDefinition,
        key: Option<&str>,
        keystore: Arc<Keystore>,
    ) -> Result<Self> {
        let table_name = format!("{service}/{}", ty.name);
        if table_name.contains('\0') {
            return Err(Error::bad_request(format!(
                "type '{}' cannot be stored: its name contains a NUL character",
                ty.name.escape_debug()
            )));
        }
        let mut columns = Vec::with_capacity(ty.properties.len());
        let mut by_name = HashMap::new();
        let mut folded: HashMap<String, &str> = HashMap::new();
        for p in &ty.properties {
            let column = column_name(&p.name);
            if let Some(other) = folded.insert(column.to_ascii_lowercase(), &p.name) {
                return Err(Error::bad_request(format!(
                    "property '{}' of type '{}' cannot be stored beside '{other}': \
                     column names ignore case",
                    p.name, ty.name
                )));
            }
            let kind = kind(p.value_type);
            if kind == Kind::Password && key == Some(p.name.as_str()) {
                return Err(Error::bad_request(format!(
                    "property '{}' of type '{}' is a Password and cannot be the key: \
                     the key is answered in clear as each object's externalId",
                    p.name, ty.name
                )));
            }
            by_name.insert(p.name.clone(), columns.len());
            let mut context = table_name.clone().into_bytes();
            context.push(0);
            context.extend_from_slice(p.name.as_bytes());
            columns.push(Column {
                name: p.name.clone(),
                quoted: quote(&column),
                qualified: format!("{}.{}", quote(&table_name), quote(&column)),
                indexed: (kind == Kind::Text).then(|| quote(&format!("p:{column}"))),
                value_type: p.value_type,
                kind,
                reveal: kind == Kind::Password && p.return_on_load,
                context,
                column,
            });
        }
        let quoted = quote(&table_name);
        let mut select = format!("SELECT {quoted}.{}", quote(ID_COLUMN));
        for c in &columns {
            select.push_str(", ");
            select.push_str(&c.qualified);
        }
        let select_list = select.clone();
        select.push_str(" FROM ");
        select.push_str(&quoted);
        let text_index = columns
            .iter()
            .any(|c| c.indexed.is_some())
            .then(|| quote(&format!("/fts/{table_name}")));
        let template = Template::new(
            &ty.name,
            columns
                .iter()
                .map(|c| (c.name.as_str(), c.value_type.content_type())),
        );
        Ok(Table {
            type_name: ty.name.clone(),
            name: table_name,
            quoted,
            key: key.and_then(|k| by_name.get(k).copied()),
            columns,
            by_name,
            select_list,
            select,
            text_index,
            template,
            keystore,
        })
    }

    /// The column of property `name`.
    pub(crate) fn column(&self, name: &str) -> Option<(usize, &Column)> {
        let i = *self.by_name.get(name)?;
        Some((i, &self.columns[i]))
    }

    /// Creates the table, or adds the columns of new properties (and renames the columns
    /// of a table stored before names were mapped), in one transaction. Answers how many
    /// Password values it found in clear and sealed.
    ///
    /// # Errors
    ///
    /// A property whose stored type differs from the definition's; any SQLite failure.
    pub(crate) fn create_or_extend(&self, conn: &mut Connection) -> Result<usize> {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_error)?;
        let exists: Option<String> = tx
            .query_row(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?1 COLLATE NOCASE",
                [&self.name],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql_error)?;
        match exists {
            None => {
                let mut ddl = format!(
                    "CREATE TABLE {} ({} TEXT NOT NULL UNIQUE",
                    self.quoted,
                    quote(ID_COLUMN)
                );
                for c in &self.columns {
                    ddl.push_str(&format!(", {} {}", c.quoted, declared(c.value_type)));
                }
                ddl.push(')');
                tx.execute_batch(&ddl).map_err(sql_error)?;
            }
            Some(existing) => {
                let have = declared_columns(&tx, &existing)?;
                for c in &self.columns {
                    let stored = c.column.to_ascii_lowercase();
                    let legacy = c.name.to_ascii_lowercase();
                    if stored != legacy && !have.contains_key(&stored) && have.contains_key(&legacy)
                    {
                        // Stored before names were mapped: the column takes its new name.
                        tx.execute_batch(&format!(
                            "ALTER TABLE {} RENAME COLUMN {} TO {}",
                            self.quoted,
                            quote(&c.name),
                            c.quoted
                        ))
                        .map_err(sql_error)?;
                    }
                }
                let have = declared_columns(&tx, &existing)?;
                for c in &self.columns {
                    match have.get(&c.column.to_ascii_lowercase()) {
                        None => {
                            tx.execute_batch(&format!(
                                "ALTER TABLE {} ADD COLUMN {} {}",
                                self.quoted,
                                c.quoted,
                                declared(c.value_type)
                            ))
                            .map_err(sql_error)?;
                        }
                        Some(d) if d.eq_ignore_ascii_case(declared(c.value_type)) => {}
                        Some(d) => {
                            let was = type_of_declared(d)
                                .map_or_else(|| format!("SQL type {d}"), |t| format!("{t:?}"));
                            return Err(Error::bad_request(format!(
                                "property '{}' of type '{}' is stored as {was} and is now {:?}; \
                                 a stored property cannot change its type \
                                 (give the new one another name)",
                                c.name, self.type_name, c.value_type
                            )));
                        }
                    }
                }
            }
        }
        let sealed = self.seal_clear_passwords(&tx)?;
        self.index_text(&tx)?;
        tx.commit().map_err(sql_error)?;
        Ok(sealed)
    }

    /// Seals the Password values still stored in clear (written before encryption);
    /// answers how many were.
    fn seal_clear_passwords(&self, tx: &rusqlite::Transaction<'_>) -> Result<usize> {
        let mut sealed = 0;
        for c in self.columns.iter().filter(|c| c.kind == Kind::Password) {
            let clear: Vec<(i64, String)> = {
                let mut stmt = tx
                    .prepare(&format!(
                        "SELECT rowid, CAST({q} AS TEXT) FROM {t} \
                         WHERE {q} IS NOT NULL AND substr(CAST({q} AS TEXT), 1, ?1) IS NOT ?2",
                        q = c.quoted,
                        t = self.quoted
                    ))
                    .map_err(sql_error)?;
                let rows = stmt
                    .query_map(
                        rusqlite::params![SEALED_PREFIX.len() as i64, SEALED_PREFIX],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .map_err(sql_error)?;
                rows.collect::<rusqlite::Result<_>>().map_err(sql_error)?
            };
            let mut update = tx
                .prepare(&format!(
                    "UPDATE {} SET {} = ?1 WHERE rowid = ?2",
                    self.quoted, c.quoted
                ))
                .map_err(sql_error)?;
            for (rowid, value) in clear {
                let v = SqlValue::Text(self.keystore.seal(value.as_bytes(), &c.context));
                update
                    .execute(rusqlite::params![v, rowid])
                    .map_err(sql_error)?;
                sealed += 1;
            }
        }
        Ok(sealed)
    }

    /// Creates the text index and its triggers, or rebuilds it from the rows when its
    /// columns are not the definition's (see the module docs).
    fn index_text(&self, tx: &rusqlite::Transaction<'_>) -> Result<()> {
        let fts_name = format!("/fts/{}", self.name);
        let trigger = |what: &str| quote(&format!("{fts_name}:{what}"));
        for what in ["insert", "update", "delete"] {
            tx.execute_batch(&format!("DROP TRIGGER IF EXISTS {}", trigger(what)))
                .map_err(sql_error)?;
        }
        let Some(fts) = &self.text_index else {
            return tx
                .execute_batch(&format!("DROP TABLE IF EXISTS {}", quote(&fts_name)))
                .map_err(sql_error);
        };
        let indexed: Vec<(&Column, &str)> = self
            .columns
            .iter()
            .filter_map(|c| Some((c, c.indexed.as_deref()?)))
            .collect();
        let fts_cols = indexed
            .iter()
            .map(|(_, f)| *f)
            .collect::<Vec<_>>()
            .join(", ");
        // detail=column: rows and columns per trigram, no positions (substring lookups AND
        // trigrams; LIKE decides); columnsize=0: no per-row sizes (nothing is ranked).
        let create = format!(
            "CREATE VIRTUAL TABLE {fts} USING fts5({fts_cols}, content='', columnsize=0, \
             detail=column, tokenize='trigram case_sensitive 0')"
        );
        let have: Option<String> = tx
            .query_row(
                "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?1 COLLATE NOCASE",
                [&fts_name],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql_error)?;
        let values = |row: &str| {
            indexed
                .iter()
                .map(|(c, _)| format!("{row}.{}", c.quoted))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if have.as_deref() != Some(create.as_str()) {
            tx.execute_batch(&format!(
                "DROP TABLE IF EXISTS {fts};
                 {create};
                 INSERT INTO {fts}(rowid, {fts_cols}) SELECT rowid, {} FROM {} AS new;",
                values("new"),
                self.quoted
            ))
            .map_err(sql_error)?;
        }
        // A contentless index forgets a row given the values it indexed for it.
        let forget = format!(
            "INSERT INTO {fts}({fts}, rowid, {fts_cols}) VALUES ('delete', old.rowid, {});",
            values("old")
        );
        let add = format!(
            "INSERT INTO {fts}(rowid, {fts_cols}) VALUES (new.rowid, {});",
            values("new")
        );
        let of = indexed
            .iter()
            .map(|(c, _)| c.quoted.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let t = &self.quoted;
        tx.execute_batch(&format!(
            "CREATE TRIGGER {} AFTER INSERT ON {t} BEGIN {add} END;
             CREATE TRIGGER {} AFTER UPDATE OF {of} ON {t} BEGIN {forget} {add} END;
             CREATE TRIGGER {} AFTER DELETE ON {t} BEGIN {forget} END;",
            trigger("insert"),
            trigger("update"),
            trigger("delete"),
        ))
        .map_err(sql_error)
    }
}

/// The columns of table `name`: lower-cased name to declared type.
fn declared_columns(tx: &rusqlite::Transaction<'_>, name: &str) -> Result<HashMap<String, String>> {
    let mut stmt = tx
        .prepare("SELECT name, type FROM pragma_table_info(?1)")
        .map_err(sql_error)?;
    let have = stmt
        .query_map([name], |r| {
            Ok((r.get::<_, String>(0)?.to_ascii_lowercase(), r.get(1)?))
        })
        .map_err(sql_error)?
        .collect::<rusqlite::Result<_>>()
        .map_err(sql_error)?;
    Ok(have)
}

/// An SQLite failure as an internal error.
pub(crate) fn sql_error(e: rusqlite::Error) -> Error {
    Error::internal(format!("table store: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted_with_quotes_doubled() {
        assert_eq!(quote("Name"), "\"Name\"");
        assert_eq!(
            quote("a\"; DROP TABLE x; --"),
            "\"a\"\"; DROP TABLE x; --\""
        );
    }

    #[test]
    fn reserved_property_names_get_columns_of_their_own() {
        for plain in [
            "Name",
            "select",
            "order",
            "with space",
            "say \"hi\"",
            "名前",
            "p:x",
        ] {
            assert_eq!(column_name(plain), plain);
        }
        for reserved in [
            "rowid",
            "ROWID",
            "_rowid_",
            "Oid",
            "$externalId",
            "$p:rowid",
            "$",
        ] {
            assert_eq!(column_name(reserved), format!("$p:{reserved}"));
        }
        assert_eq!(column_name("a\0b"), "$x:610062");
        // No property's column is the id column or another property's column.
        let names = [
            "rowid",
            "$p:rowid",
            "p:rowid",
            "$externalId",
            "$x:610062",
            "a\0b",
        ];
        let columns: std::collections::HashSet<String> = names
            .iter()
            .map(|n| column_name(n).to_ascii_lowercase())
            .collect();
        assert_eq!(columns.len(), names.len());
        assert!(!columns.contains(&ID_COLUMN.to_ascii_lowercase()));
    }

    #[test]
    fn declared_types_give_the_intended_affinity() {
        // SQLite affinity rules: INT → INTEGER; CHAR/CLOB/TEXT → TEXT; else NUMERIC here.
        for t in [
            ValueType::String,
            ValueType::Content,
            ValueType::Password,
            ValueType::Encrypted,
            ValueType::DateTime,
            ValueType::Object,
            ValueType::List,
        ] {
            let d = declared(t);
            assert!(!d.contains("INT") && d.contains("TEXT"), "{d}");
            assert_eq!(type_of_declared(d), Some(t));
        }
        assert_eq!(type_of_declared("NUMERIC"), Some(ValueType::Number));
        assert!(!declared(ValueType::Boolean).contains("INT"));
    }
}
