//! The PostgreSQL [`TableStore`]: the tables of data actions, shared by every instance.
//!
//! It answers what [`crate::store::sqlite::SqliteTables`] answers (same save semantics,
//! same filter checks and refusals — both take them from [`crate::store::table`] — and
//! the same JSON, rendered by the same code from the rows); only the SQL is its own.
//!
//! Schema: one table per (service, type). Its name is `{service}/{type}`, and a column's
//! the SQLite store's column name of the property, except PostgreSQL's system column
//! names (`ctid`, `xmin`, ...), which get the `$p:` prefix too. An identifier longer than
//! PostgreSQL's 63 bytes is derived deterministically: its first bytes, `~`, and 16 hex
//! digits of its SHA-256 (see [`ident`]), so every instance finds the same name without a
//! lookup. Hidden columns: `$externalId` (unique) and `$row`, an identity column giving
//! insertion order (the default order and the last tie-breaker, as SQLite's rowid is).
//! Text-like values (String, Content, Encrypted, Password, DateTime, Object, List) are
//! `text COLLATE "C"`, so that they compare and order by bytes as SQLite's BINARY does;
//! Numbers are `numeric` (integers and reals exactly, compared by value); Booleans
//! `boolean`. The fss type of each column is recorded in `fss_table_columns` (this
//! store's migration), because several fss types share `text`: a property whose type
//! changed is refused as SQLite refuses it. `prepare` creates or extends a table in one
//! transaction under a transaction-level advisory lock keyed by the table name, so
//! instances mounting the same service at once do not race.
//!
//! Substring criteria and `search` are `ILIKE` with escaped patterns on columns collated
//! `"C"`, which folds ASCII letters only: exactly SQLite's `LIKE`. Text columns carry a
//! trigram GIN index when `pg_trgm` is installed, which PostgreSQL uses for them.
//!
//! Every instance sees the others' rows at once: rows are never cached. What an instance
//! keeps is its own definition of each table, replaced at every mount; its statements
//! name only the columns of that definition, which its own `prepare` made sure exist, so
//! a column another instance adds cannot make it answer wrongly.
//!
//! PostgreSQL text cannot hold NUL: a save whose value holds one is refused with 400
//! naming the property (the SQLite store keeps such values).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use rusqlite::types::{Value as SqlValue, ValueRef};
use sha2::{Digest, Sha256};
use tokio_postgres::types::ToSql;

use crate::definition::TypeDefinition;
use crate::error::{Error, Result};
use crate::protocol::{ListFilter, MObject};
use crate::store::keystore::{KeystoreFile, EXCHANGE_ADMIN_KEY};
use crate::store::table::filter::{self, Cond, Op, Plan, MAX_PAGE_ROWS};
use crate::store::table::value::{self, Kind};
use crate::store::table::{render, write, Column, Table};
use crate::store::{StoreFuture, TableStore};

use super::{db_error, schema, Pg};

/// The statements of this store's migration: the fss type of every stored column.
pub(super) const MIGRATION: &str = r#"
CREATE TABLE IF NOT EXISTS fss_table_columns (
    table_name text NOT NULL,
    column_name text NOT NULL,
    value_type text NOT NULL,
    PRIMARY KEY (table_name, column_name)
);
"#;

/// The longest identifier PostgreSQL keeps whole, in bytes.
const MAX_IDENT_BYTES: usize = 63;
/// The first key of the advisory locks of `prepare` (the second is the table's).
const PREPARE_LOCK: i32 = 0x0F55_0005;
/// The hidden column of insertion order.
const ROW_COLUMN: &str = "$row";
/// PostgreSQL's system column names, which no user column may take.
const SYSTEM_COLUMNS: [&str; 6] = ["ctid", "xmin", "xmax", "cmin", "cmax", "tableoid"];

/// The tables in PostgreSQL.
#[derive(Debug)]
pub(crate) struct PgTables {
    pg: Arc<Pg>,
    keystore: Arc<KeystoreFile>,
    /// Tables by service, then type; replaced when a service is mounted again.
    tables: RwLock<HashMap<String, HashMap<String, Arc<PgTable>>>>,
}

/// A table as this instance's definition describes it, with its PostgreSQL identifiers.
#[derive(Debug)]
struct PgTable {
    /// The backend-neutral description (columns, key, keystore, JSON fragments).
    table: Table,
    /// The stored table name (see [`ident`]).
    name: String,
    /// The quoted table name.
    quoted: String,
    /// Per column of `table`: its quoted stored name.
    columns: Vec<String>,
    /// `SELECT t."$externalId", t.c::text, ... FROM t`.
    select: String,
}

impl PgTables {
    /// The tables in `pg`, Password values sealed with `keystore`'s `exchange-admin-key`.
    pub(crate) fn new(pg: Arc<Pg>, keystore: Arc<KeystoreFile>) -> Self {
        PgTables {
            pg,
            keystore,
            tables: RwLock::new(HashMap::new()),
        }
    }

    fn get(&self, service: &str, type_name: &str) -> Result<Arc<PgTable>> {
        self.tables
            .read()
            .expect("tables map lock is never poisoned: no code panics under it")
            .get(service)
            .and_then(|t| t.get(type_name))
            .cloned()
            .ok_or_else(|| Error::internal(format!("no table was prepared for type '{type_name}'")))
    }

    /// Creates or extends the table (see the module docs).
    fn prepare_table(&self, service: &str, ty: &TypeDefinition, key: Option<&str>) -> Result<()> {
        let keystore = Arc::new(self.keystore.key(EXCHANGE_ADMIN_KEY)?);
        let table = Arc::new(PgTable::new(Table::new(service, ty, key, keystore)?));
        let pg = Arc::clone(&self.pg);
        let t = Arc::clone(&table);
        self.pg.block(async move {
            let mut c = pg.client().await?;
            let opclass = schema::trigram_opclass(&c).await?;
            let tx = c
                .transaction()
                .await
                .map_err(|e| db_error("beginning a table's creation", &e))?;
            tx.execute(
                "SELECT pg_advisory_xact_lock($1, hashtext($2))",
                &[&PREPARE_LOCK, &t.name],
            )
            .await
            .map_err(|e| db_error("locking a table's creation", &e))?;
            tx.batch_execute(&format!(
                "CREATE TABLE IF NOT EXISTS {} ({} text COLLATE \"C\" NOT NULL UNIQUE, \
                 {} bigint GENERATED ALWAYS AS IDENTITY)",
                t.quoted,
                quote(ID_COLUMN),
                quote(ROW_COLUMN)
            ))
            .await
            .map_err(|e| db_error("creating a table", &e))?;
            let recorded: HashMap<String, String> = tx
                .query(
                    "SELECT column_name, value_type FROM fss_table_columns WHERE table_name = $1",
                    &[&t.name],
                )
                .await
                .map_err(|e| db_error("reading a table's columns", &e))?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect();
            for (c, quoted) in t.table.columns.iter().zip(&t.columns) {
                let stored = unquoted(quoted);
                let now = format!("{:?}", c.value_type);
                match recorded.get(&stored) {
                    Some(was) if *was == now => {}
                    Some(was) => {
                        return Err(Error::bad_request(format!(
                            "property '{}' of type '{}' is stored as {was} and is now {now}; \
                             a stored property cannot change its type \
                             (give the new one another name)",
                            c.name, t.table.type_name
                        )))
                    }
                    None => {
                        tx.batch_execute(&format!(
                            "ALTER TABLE {} ADD COLUMN IF NOT EXISTS {quoted} {}",
                            t.quoted,
                            declared(c.kind)
                        ))
                        .await
                        .map_err(|e| db_error("adding a column", &e))?;
                        tx.execute(
                            "INSERT INTO fss_table_columns (table_name, column_name, value_type) \
                             VALUES ($1, $2, $3)",
                            &[&t.name, &stored, &now],
                        )
                        .await
                        .map_err(|e| db_error("recording a column", &e))?;
                    }
                }
                if let (Some(ops), Kind::Text) = (&opclass, c.kind) {
                    let index = quote(&ident(&format!("{}:trgm:{stored}", t.name)));
                    tx.batch_execute(&format!(
                        "CREATE INDEX IF NOT EXISTS {index} ON {} USING gin ({quoted} {ops})",
                        t.quoted
                    ))
                    .await
                    .map_err(|e| db_error("indexing a column", &e))?;
                }
            }
            tx.commit()
                .await
                .map_err(|e| db_error("committing a table's creation", &e))
        })?;
        self.tables
            .write()
            .expect("tables map lock is never poisoned: no code panics under it")
            .entry(service.to_owned())
            .or_default()
            .insert(ty.name.clone(), table);
        Ok(())
    }

    async fn load_page(
        &self,
        service: &str,
        type_name: &str,
        filter: Option<&ListFilter>,
        provided: &[MObject],
    ) -> Result<Bytes> {
        let t = self.get(service, type_name)?;
        let (sql, params, cap) = t.query(filter, provided)?;
        let pg = Arc::clone(&self.pg);
        self.pg
            .run(async move {
                let c = pg.client().await?;
                let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(Param::as_sql).collect();
                let rows = c
                    .query(&sql, &refs)
                    .await
                    .map_err(|e| db_error("loading rows", &e))?;
                let mut out = Vec::with_capacity(
                    render::HEAD.len() + rows.len().min(128) * t.table.template.estimate() + 64,
                );
                out.extend_from_slice(render::HEAD);
                for (n, row) in rows.iter().take(cap).enumerate() {
                    render::object(&mut out, &t.table, |i| cell(row, i), n == 0)?;
                }
                render::finish(&mut out, rows.len() > cap);
                Ok(Bytes::from(out))
            })
            .await
    }

    async fn save_rows(
        &self,
        service: &str,
        type_name: &str,
        objects: &[MObject],
    ) -> Result<Vec<MObject>> {
        let t = self.get(service, type_name)?;
        let rows = objects
            .iter()
            .map(|o| write::RowWrite::from_object(&t.table, o))
            .collect::<Result<Vec<_>>>()?;
        for r in &rows {
            if r.id.contains('\0') {
                return Err(Error::bad_request(format!(
                    "an externalId of type '{}' contains a NUL character, which the \
                     database cannot store",
                    t.table.type_name
                )));
            }
            for (i, v) in &r.values {
                if matches!(v, SqlValue::Text(s) if s.contains('\0')) {
                    return Err(Error::bad_request(format!(
                        "property '{}' of type '{}' contains a NUL character, which the \
                         database cannot store",
                        t.table.columns[*i].name, t.table.type_name
                    )));
                }
            }
        }
        let pg = Arc::clone(&self.pg);
        self.pg
            .run(async move {
                let mut c = pg.client().await?;
                let tx = c
                    .transaction()
                    .await
                    .map_err(|e| db_error("beginning a save", &e))?;
                for r in &rows {
                    let (sql, params) = t.upsert(r);
                    let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(Param::as_sql).collect();
                    tx.execute(&sql, &refs)
                        .await
                        .map_err(|e| db_error("saving a row", &e))?;
                }
                let by_id = format!("{} WHERE {}.{} = $1", t.select, t.quoted, quote(ID_COLUMN));
                let stmt = tx
                    .prepare(&by_id)
                    .await
                    .map_err(|e| db_error("reading saved rows", &e))?;
                let mut saved = Vec::with_capacity(rows.len());
                for r in &rows {
                    let row = tx
                        .query_one(&stmt, &[&r.id])
                        .await
                        .map_err(|e| db_error("reading a saved row", &e))?;
                    saved.push(write::object(&t.table, |i| cell(&row, i))?);
                }
                tx.commit()
                    .await
                    .map_err(|e| db_error("committing a save", &e))?;
                Ok(saved)
            })
            .await
    }

    async fn delete_rows(&self, service: &str, type_name: &str, ids: Vec<String>) -> Result<()> {
        let t = self.get(service, type_name)?;
        if ids.is_empty() {
            return Ok(());
        }
        let pg = Arc::clone(&self.pg);
        self.pg
            .run(async move {
                let c = pg.client().await?;
                c.execute(
                    &format!(
                        "DELETE FROM {} WHERE {} = ANY($1::text[])",
                        t.quoted,
                        quote(ID_COLUMN)
                    ),
                    &[&ids],
                )
                .await
                .map_err(|e| db_error("deleting rows", &e))?;
                Ok(())
            })
            .await
    }
}

impl TableStore for PgTables {
    fn prepare(&self, service: &str, ty: &TypeDefinition, key: Option<&str>) -> Result<()> {
        self.prepare_table(service, ty, key)
    }

    fn load<'a>(
        &'a self,
        service: &'a str,
        type_name: &'a str,
        filter: Option<&'a ListFilter>,
        provided: &'a [MObject],
    ) -> StoreFuture<'a, Bytes> {
        Box::pin(self.load_page(service, type_name, filter, provided))
    }

    fn save<'a>(
        &'a self,
        service: &'a str,
        type_name: &'a str,
        objects: &'a [MObject],
    ) -> StoreFuture<'a, Vec<MObject>> {
        Box::pin(self.save_rows(service, type_name, objects))
    }

    fn delete<'a>(
        &'a self,
        service: &'a str,
        type_name: &'a str,
        ids: Vec<String>,
    ) -> StoreFuture<'a, ()> {
        Box::pin(self.delete_rows(service, type_name, ids))
    }
}

// === impl PgTable ===

impl PgTable {
    fn new(table: Table) -> Self {
        let name = ident(&table.name);
        let quoted = quote(&name);
        let columns: Vec<String> = table
            .columns
            .iter()
            .map(|c| quote(&ident(&pg_column(&c.name))))
            .collect();
        let mut select = format!("SELECT {quoted}.{}", quote(ID_COLUMN));
        for (c, q) in table.columns.iter().zip(&columns) {
            write!(select, ", {quoted}.{q}").expect("writing to a String cannot fail");
            if matches!(c.kind, Kind::Number | Kind::Boolean) {
                select.push_str("::text");
            }
        }
        write!(select, " FROM {quoted}").expect("writing to a String cannot fail");
        PgTable {
            table,
            name,
            quoted,
            columns,
            select,
        }
    }

    /// The qualified column of `col`.
    fn col(&self, col: &Column) -> String {
        let (i, _) = self
            .table
            .column(&col.name)
            .expect("filter columns are the table's");
        format!("{}.{}", self.quoted, self.columns[i])
    }

    /// The SELECT of a load, its parameters, and how many rows it answers (one more is
    /// read to tell `hasMoreResults`).
    fn query(
        &self,
        filter: Option<&ListFilter>,
        provided: &[MObject],
    ) -> Result<(String, Vec<Param>, usize)> {
        let mut sql = self.select.clone();
        let mut params = Vec::new();
        let id_col = format!("{}.{}", self.quoted, quote(ID_COLUMN));
        let row_col = format!("{}.{}", self.quoted, quote(ROW_COLUMN));
        let f = match filter::plan(&self.table, filter, provided)? {
            Plan::All => {
                write!(sql, " ORDER BY {row_col} LIMIT {}", MAX_PAGE_ROWS + 1)
                    .expect("writing to a String cannot fail");
                return Ok((sql, params, MAX_PAGE_ROWS as usize));
            }
            Plan::ById(id) => {
                params.push(Param::Text(Some(id)));
                write!(sql, " WHERE {id_col} = $1").expect("writing to a String cannot fail");
                return Ok((sql, params, 1));
            }
            Plan::Filtered(f) => f,
        };
        let mut conds = Vec::new();
        if let Some(ids) = f.provided {
            params.push(Param::Texts(ids.into_iter().map(Some).collect()));
            conds.push(format!("{id_col} = ANY(${}::text[])", params.len()));
        }
        for c in [&f.group, &f.search].into_iter().flatten() {
            conds.push(self.cond(c, &mut params));
        }
        if !conds.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&conds.join(" AND "));
        }
        sql.push_str(" ORDER BY ");
        for (col, desc) in &f.keys {
            let dir = if *desc {
                "DESC NULLS LAST"
            } else {
                "ASC NULLS FIRST"
            };
            write!(sql, "{} {dir}, ", self.col(col)).expect("writing to a String cannot fail");
        }
        params.push(Param::Int(f.page + 1));
        params.push(Param::Int(f.offset));
        write!(
            sql,
            "{row_col} LIMIT ${} OFFSET ${}",
            params.len() - 1,
            params.len()
        )
        .expect("writing to a String cannot fail");
        Ok((sql, params, f.page as usize))
    }

    /// The SQL of one condition, its parameters pushed.
    fn cond(&self, cond: &Cond<'_>, params: &mut Vec<Param>) -> String {
        match cond {
            Cond::Compare { col, op, value } => {
                params.push(Param::Text(text(col.kind, value)));
                let op = match op {
                    Op::Is => "IS NOT DISTINCT FROM",
                    Op::IsNot => "IS DISTINCT FROM",
                    Op::Gt => ">",
                    Op::Ge => ">=",
                    Op::Lt => "<",
                    Op::Le => "<=",
                };
                format!(
                    "{} {op} ${}::text{}",
                    self.col(col),
                    params.len(),
                    cast(col.kind)
                )
            }
            Cond::Substring { cols, pattern, .. } => {
                let like: Vec<String> = cols
                    .iter()
                    .map(|c| {
                        params.push(Param::Text(Some(pattern.clone())));
                        let q = self.col(c);
                        let q = match c.kind {
                            Kind::Boolean => {
                                format!("(CASE WHEN {q} THEN '1' WHEN NOT {q} THEN '0' END)")
                            }
                            Kind::Number => format!("({q}::text COLLATE \"C\")"),
                            _ => q,
                        };
                        format!("{q} ILIKE ${} ESCAPE '\\'", params.len())
                    })
                    .collect();
                format!("({})", like.join(" OR "))
            }
            Cond::Empty { col, empty } => {
                let q = self.col(col);
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
                let q = self.col(col);
                params.push(Param::Texts(
                    values.iter().map(|v| text(col.kind, v)).collect(),
                ));
                let n = params.len();
                if col.kind.is_object() {
                    // Object and List values are stored as the JSON text of an array of
                    // objects.
                    let held = format!(
                        "SELECT 1 FROM jsonb_array_elements(CASE WHEN {q} <> '' AND \
                         jsonb_typeof({q}::jsonb) = 'array' THEN {q}::jsonb ELSE '[]' END) AS h \
                         WHERE h.value->>'externalId'"
                    );
                    if *any {
                        format!("EXISTS ({held} = ANY(${n}::text[]))")
                    } else {
                        format!(
                            "NOT EXISTS (SELECT 1 FROM unnest(${n}::text[]) AS w(v) \
                             WHERE NOT EXISTS ({held} = w.v))"
                        )
                    }
                } else {
                    let list = format!("${n}::text[]{}", array_cast(col.kind));
                    if *any {
                        format!("{q} = ANY({list})")
                    } else {
                        format!(
                            "NOT EXISTS (SELECT 1 FROM unnest({list}) AS w(v) \
                             WHERE w.v IS DISTINCT FROM {q})"
                        )
                    }
                }
            }
            Cond::Const(b) => if *b { "TRUE" } else { "FALSE" }.into(),
            Cond::Group { and, parts } => {
                let sql: Vec<String> = parts.iter().map(|p| self.cond(p, params)).collect();
                format!("({})", sql.join(if *and { " AND " } else { " OR " }))
            }
        }
    }

    /// `INSERT ... ON CONFLICT ("$externalId") DO UPDATE SET` the columns carried.
    fn upsert(&self, r: &write::RowWrite) -> (String, Vec<Param>) {
        let id = quote(ID_COLUMN);
        let mut cols = id.clone();
        let mut marks = String::from("$1");
        let mut set = Vec::new();
        let mut params = vec![Param::Text(Some(r.id.clone()))];
        for (i, v) in &r.values {
            let c = &self.table.columns[*i];
            let q = &self.columns[*i];
            params.push(Param::Text(text(c.kind, v)));
            write!(cols, ", {q}").expect("writing to a String cannot fail");
            write!(marks, ", ${}::text{}", params.len(), cast(c.kind))
                .expect("writing to a String cannot fail");
            set.push(format!("{q} = EXCLUDED.{q}"));
        }
        let action = if set.is_empty() {
            "NOTHING".to_owned()
        } else {
            format!("UPDATE SET {}", set.join(", "))
        };
        (
            format!(
                "INSERT INTO {} ({cols}) VALUES ({marks}) ON CONFLICT ({id}) DO {action}",
                self.quoted
            ),
            params,
        )
    }
}

/// A statement parameter: everything travels as text, cast in the SQL.
#[derive(Debug)]
enum Param {
    Text(Option<String>),
    Texts(Vec<Option<String>>),
    Int(i64),
}

impl Param {
    fn as_sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Param::Text(t) => t,
            Param::Texts(t) => t,
            Param::Int(i) => i,
        }
    }
}

/// Value `i` of a row read by [`PgTable::select`]: every column is read as text.
fn cell(row: &tokio_postgres::Row, i: usize) -> Result<ValueRef<'_>> {
    let v: Option<&str> = row.try_get(i).map_err(|e| db_error("reading a row", &e))?;
    Ok(v.map_or(ValueRef::Null, |s| ValueRef::Text(s.as_bytes())))
}

/// A parsed value as the text PostgreSQL casts to the column's type: numbers in their
/// shortest exact form, booleans as `true`/`false`, date-times in their stored form.
fn text(kind: Kind, v: &SqlValue) -> Option<String> {
    match (kind, v) {
        (_, SqlValue::Null) => None,
        (Kind::Boolean, SqlValue::Integer(i)) => Some((*i != 0).to_string()),
        (_, SqlValue::Text(t)) => Some(t.clone()),
        (_, v) => value::render(Kind::Number, ValueRef::from(v)),
    }
}

/// The SQL type of a column of `kind`.
fn declared(kind: Kind) -> &'static str {
    match kind {
        Kind::Number => "numeric",
        Kind::Boolean => "boolean",
        _ => "text COLLATE \"C\"",
    }
}

/// The cast of a text parameter to a column of `kind`.
fn cast(kind: Kind) -> &'static str {
    match kind {
        Kind::Number => "::numeric",
        Kind::Boolean => "::boolean",
        _ => "",
    }
}

/// The cast of a text array parameter to an array of the column's type.
fn array_cast(kind: Kind) -> &'static str {
    match kind {
        Kind::Number => "::numeric[]",
        Kind::Boolean => "::boolean[]",
        _ => "",
    }
}

/// The stored column name of property `name`: the SQLite store's, with PostgreSQL's
/// system column names escaped as well.
fn pg_column(name: &str) -> String {
    if SYSTEM_COLUMNS.iter().any(|s| name.eq_ignore_ascii_case(s)) {
        return format!("$p:{name}");
    }
    crate::store::sqlite::tables::schema::column_name(name)
}

/// `name` as a PostgreSQL identifier: itself when it fits 63 bytes, else its first bytes
/// (whole characters), `~`, and 16 hex digits of its SHA-256.
fn ident(name: &str) -> String {
    if name.len() <= MAX_IDENT_BYTES {
        return name.to_owned();
    }
    let digest = Sha256::digest(name.as_bytes());
    let mut keep = MAX_IDENT_BYTES - 17;
    while !name.is_char_boundary(keep) {
        keep -= 1;
    }
    let mut out = format!("{}~", &name[..keep]);
    for b in &digest[..8] {
        write!(out, "{b:02x}").expect("writing to a String cannot fail");
    }
    out
}

/// Quotes an identifier: `"` around, embedded `"` doubled.
fn quote(name: &str) -> String {
    crate::store::sqlite::tables::schema::quote(name)
}

/// The name inside a quoted identifier.
fn unquoted(quoted: &str) -> String {
    quoted[1..quoted.len() - 1].replace("\"\"", "\"")
}

/// The hidden column of external ids.
const ID_COLUMN: &str = crate::store::table::ID_COLUMN;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_identifiers_are_shortened_deterministically() {
        assert_eq!(ident("Shop/Item"), "Shop/Item");
        let long = "é".repeat(40);
        let a = ident(&long);
        assert!(a.len() <= MAX_IDENT_BYTES, "{a}");
        assert_eq!(a, ident(&long));
        assert_ne!(a, ident(&format!("{long}x")));
        assert_eq!(pg_column("CTID"), "$p:CTID");
        assert_eq!(pg_column("$x"), "$p:$x");
    }
}
