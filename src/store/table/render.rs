//! Stored rows written straight into the JSON of an ObjectDataResponse.
//!
//! A page of 100 rows is about 100 KB of JSON, most of it the same keys and type names on
//! every object. Building `MObject`s first cost one allocation per field and a serializer
//! pass over every key; here each table keeps its fixed fragments pre-rendered and a row
//! only writes its values (escaped by `serde_json`, so the bytes are exactly what
//! serializing the `MObject` would give: a unit test holds the two side by side).

use rusqlite::types::ValueRef;

use super::value::{self, Kind};
use super::{Column, Table};
use crate::error::{Error, Result};

/// What precedes the objects of a response.
pub(crate) const HEAD: &[u8] = br#"{"culture":null,"objectData":["#;

/// The fixed fragments of one table's objects.
#[derive(Debug)]
pub(crate) struct Template {
    /// From after the external id to the opening of `properties`.
    after_id: String,
    /// Per column: the property up to its `contentValue`.
    heads: Vec<String>,
}

/// `{"internalId":null,"externalId":` — what opens each object.
const OBJECT_OPEN: &[u8] = br#"{"internalId":null,"externalId":"#;
/// What closes each object after its properties.
const OBJECT_CLOSE: &[u8] = br#"],"typeElementBindingDeveloperName":null,"isSelected":false}"#;
/// What closes a scalar property after its value.
const SCALAR_CLOSE: &[u8] = br#","contentFormat":null,"objectData":null}"#;
/// What follows the (null) value of an Object or List property, before its objects.
const OBJECTS_OPEN: &[u8] = br#","contentFormat":null,"objectData":"#;

impl Template {
    /// The fragments of objects of type `type_name` with these columns.
    pub(crate) fn new<'a>(
        type_name: &str,
        columns: impl Iterator<Item = (&'a str, crate::protocol::ContentType)>,
    ) -> Self {
        Template {
            after_id: format!(
                r#","developerName":{},"typeElementId":null,"order":0,"properties":["#,
                json(type_name)
            ),
            heads: columns
                .map(|(name, ct)| {
                    format!(
                        r#"{{"typeElementPropertyId":null,"developerName":{},"contentType":{},"contentValue":"#,
                        json(name),
                        json(&ct)
                    )
                })
                .collect(),
        }
    }

    /// A rough size of one rendered object, to size buffers.
    pub(crate) fn estimate(&self) -> usize {
        OBJECT_OPEN.len()
            + self.after_id.len()
            + OBJECT_CLOSE.len()
            + self
                .heads
                .iter()
                .map(|h| h.len() + SCALAR_CLOSE.len() + 24)
                .sum::<usize>()
            + 40
    }
}

/// `v` as JSON text (template building only).
fn json<T: serde::Serialize + ?Sized>(v: &T) -> String {
    serde_json::to_string(v).expect("names and content types serialize")
}

/// Appends `s` as a JSON string.
fn string(out: &mut Vec<u8>, s: &str) {
    serde_json::to_writer(&mut *out, s).expect("writing to a Vec cannot fail");
}

/// The clear text of a stored value of `col`, a Password with `returnOnLoad`; `None` when
/// it holds none.
///
/// # Errors
///
/// The value does not open with the table's keystore (another key, or altered).
pub(crate) fn revealed(table: &Table, col: &Column, v: ValueRef<'_>) -> Result<Option<String>> {
    let sealed = match v {
        ValueRef::Null => return Ok(None),
        ValueRef::Text(t) | ValueRef::Blob(t) => String::from_utf8_lossy(t),
        _ => return Err(unreadable(table, col)),
    };
    let clear = table
        .keystore
        .open(&sealed, &col.context)
        .map_err(|_| unreadable(table, col))?;
    String::from_utf8(clear)
        .map(Some)
        .map_err(|_| unreadable(table, col))
}

fn unreadable(table: &Table, col: &Column) -> Error {
    Error::internal(format!(
        "table store: a stored value of Password property '{}' of type '{}' does not open \
         with the data folder's keystore",
        col.name, table.type_name
    ))
}

/// Appends the object of a row whose values `cell(i)` gives (`$externalId` at 0, then the
/// table's columns, as [`Table::select`] reads them), preceded by a comma unless it is the
/// first.
///
/// # Errors
///
/// A revealed Password value does not open with the keystore; what `cell` answers.
pub(crate) fn object<'v>(
    out: &mut Vec<u8>,
    table: &Table,
    cell: impl Fn(usize) -> Result<ValueRef<'v>>,
    first: bool,
) -> Result<()> {
    if !first {
        out.push(b',');
    }
    out.extend_from_slice(OBJECT_OPEN);
    match cell(0)? {
        ValueRef::Null => out.extend_from_slice(b"null"),
        v => string(out, &value::text(Kind::Text, v).unwrap_or_default()),
    }
    out.extend_from_slice(table.template.after_id.as_bytes());
    for (i, (c, head)) in table.columns.iter().zip(&table.template.heads).enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(head.as_bytes());
        let v = cell(i + 1)?;
        if c.kind.is_object() {
            out.extend_from_slice(b"null");
            out.extend_from_slice(OBJECTS_OPEN);
            let objects = value::render_objects(v).unwrap_or_default();
            serde_json::to_writer(&mut *out, &objects).expect("objects serialize");
            out.push(b'}');
        } else if value::write_number_json(c.kind, v, out) {
            out.extend_from_slice(SCALAR_CLOSE);
        } else if c.reveal {
            match revealed(table, c, v)? {
                Some(t) => string(out, &t),
                None => out.extend_from_slice(b"null"),
            }
            out.extend_from_slice(SCALAR_CLOSE);
        } else {
            match value::text(c.kind, v) {
                Some(t) => string(out, &t),
                None => out.extend_from_slice(b"null"),
            }
            out.extend_from_slice(SCALAR_CLOSE);
        }
    }
    out.extend_from_slice(OBJECT_CLOSE);
    Ok(())
}

/// Closes a response opened with [`HEAD`].
pub(crate) fn finish(out: &mut Vec<u8>, has_more_results: bool) {
    out.extend_from_slice(if has_more_results {
        br#"],"hasMoreResults":true,"offsetToken":null}"#
    } else {
        br#"],"hasMoreResults":false,"offsetToken":null}"#
    });
}
