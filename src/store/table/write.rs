//! Objects of a save parsed into row values, and stored rows rendered back as objects:
//! what every backend does the same way (see [`crate::store::sqlite::SqliteTables`] for the
//! save semantics).

use rusqlite::types::{Value as SqlValue, ValueRef};

use super::render;
use super::value::{self, Kind};
use super::Table;
use crate::error::{Error, Result};
use crate::protocol::{MObject, Property};

/// One stored row as an object of the table's type.
///
/// `cell(i)` gives the row's values as [`render::object`] reads them.
///
/// # Errors
///
/// A revealed Password value does not open with the keystore; what `cell` answers.
pub(crate) fn object<'v>(
    table: &Table,
    cell: impl Fn(usize) -> Result<ValueRef<'v>>,
) -> Result<MObject> {
    let id = value::render(Kind::Text, cell(0)?).unwrap_or_default();
    let mut properties = Vec::with_capacity(table.columns.len());
    for (i, c) in table.columns.iter().enumerate() {
        let v = cell(i + 1)?;
        let mut p = Property {
            developer_name: Some(c.name.clone()),
            content_type: Some(c.value_type.content_type()),
            ..Property::default()
        };
        if c.kind.is_object() {
            p.object_data = Some(value::render_objects(v).unwrap_or_default());
        } else if c.reveal {
            p.content_value = render::revealed(table, c, v)?;
        } else {
            p.content_value = value::render(c.kind, v);
        }
        properties.push(p);
    }
    Ok(MObject {
        external_id: Some(id),
        developer_name: Some(table.type_name.clone()),
        order: Some(0),
        properties: Some(properties),
        is_selected: Some(false),
        ..MObject::default()
    })
}

/// One object of a save, parsed and ready to write.
#[derive(Debug)]
pub(crate) struct RowWrite {
    /// The external id the row is stored under.
    pub(crate) id: String,
    /// The columns to write, by column index, in ascending order.
    pub(crate) values: Vec<(usize, SqlValue)>,
}

impl RowWrite {
    /// Parses `o` for `table`, resolving its id.
    pub(crate) fn from_object(table: &Table, o: &MObject) -> Result<Self> {
        let mut values: Vec<(usize, SqlValue)> = Vec::new();
        for p in o.properties.as_deref().unwrap_or_default() {
            let name = p.developer_name.as_deref().ok_or_else(|| {
                Error::bad_request(format!(
                    "a property of a '{}' object has no developerName",
                    table.type_name
                ))
            })?;
            let (i, col) = table.column(name).ok_or_else(|| {
                Error::bad_request(format!(
                    "'{name}' is not a property of type '{}'",
                    table.type_name
                ))
            })?;
            let v = if col.kind.is_object() {
                match p.object_data.as_deref() {
                    None => SqlValue::Null,
                    Some(objs) if col.kind == Kind::Object && objs.len() > 1 => {
                        return Err(Error::bad_request(format!(
                            "property '{name}' is an Object and holds at most one object, got {}",
                            objs.len()
                        )))
                    }
                    Some(objs) => {
                        SqlValue::Text(serde_json::to_string(objs).map_err(Error::internal)?)
                    }
                }
            } else {
                value::parse(col.kind, p.content_value.as_deref()).map_err(|why| {
                    Error::bad_request(format!(
                        "property '{name}' of type '{}': '{}' {why}",
                        table.type_name,
                        p.content_value.as_deref().unwrap_or_default()
                    ))
                })?
            };
            let v = match (col.kind, v) {
                // Answers may leave passwords out, so "no value" means "unchanged".
                (Kind::Password, SqlValue::Null) => continue,
                (Kind::Password, SqlValue::Text(clear)) => {
                    SqlValue::Text(table.keystore.seal(clear.as_bytes(), &col.context))
                }
                (_, v) => v,
            };
            match values.iter_mut().find(|(j, _)| *j == i) {
                Some(slot) => slot.1 = v,
                None => values.push((i, v)),
            }
        }
        let key = table.key.map(|k| (k, &table.columns[k]));
        let key_value = key.and_then(|(k, c)| {
            values
                .iter()
                .find(|(j, _)| *j == k)
                .and_then(|(_, v)| value::render(c.kind, ValueRef::from(v)))
        });
        let id = match o.external_id.as_deref().filter(|s| !s.is_empty()) {
            None => match key_value {
                Some(k) if !k.is_empty() => k,
                _ => {
                    let id = uuid::Uuid::new_v4().to_string();
                    if let Some((k, _)) = key {
                        values.retain(|(j, _)| *j != k);
                        values.push((k, SqlValue::Text(id.clone())));
                    }
                    id
                }
            },
            Some(ext) => {
                if let Some((k, c)) = key {
                    match key_value {
                        Some(kv) if kv != ext => {
                            return Err(Error::bad_request(format!(
                            "key property '{}' is '{kv}' but the object's externalId is '{ext}'; \
                                 the key of a stored row cannot change",
                            c.name
                        )))
                        }
                        Some(_) => {}
                        None => {
                            let v = value::parse(c.kind, Some(ext))
                                .ok()
                                .filter(|v| *v != SqlValue::Null)
                                .unwrap_or_else(|| SqlValue::Text(ext.to_owned()));
                            values.retain(|(j, _)| *j != k);
                            values.push((k, v));
                        }
                    }
                }
                ext.to_owned()
            }
        };
        values.sort_by_key(|(i, _)| *i);
        Ok(RowWrite { id, values })
    }
}
