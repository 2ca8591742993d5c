//! Converting between Flow values (strings in `contentValue`, objects in `objectData`) and
//! the plain JSON that processes read and write.
//!
//! Plain form: strings, numbers, booleans; an object is `{property: value, "externalId": id}`;
//! a list is an array of objects. Numbers become JSON numbers only when that is exact
//! (`"19.99"` → `19.99`, `"1.50"` stays the string `"1.50"`).

use serde_json::{Map, Number, Value};

use crate::definition::{ServiceDefinition, TypeDefinition, ValueDefinition, ValueType};
use crate::protocol::{ContentType, EngineValue, MObject, Property};

/// The key of an object's external id in plain form.
pub const EXTERNAL_ID: &str = "externalId";

/// The plain form of a scalar `contentValue` of `content_type`.
pub fn scalar_to_plain(value: Option<&str>, content_type: Option<&ContentType>) -> Value {
    let Some(s) = value else {
        return Value::Null;
    };
    match content_type {
        Some(ContentType::Number) => {
            if s.is_empty() {
                return Value::Null;
            }
            if let Ok(i) = s.parse::<i64>() {
                return Value::Number(i.into());
            }
            match s.parse::<f64>().ok().and_then(Number::from_f64) {
                Some(n) if n.to_string() == s => Value::Number(n),
                _ => Value::String(s.to_owned()),
            }
        }
        Some(ContentType::Boolean) if s.eq_ignore_ascii_case("true") => Value::Bool(true),
        Some(ContentType::Boolean) if s.eq_ignore_ascii_case("false") => Value::Bool(false),
        Some(ContentType::Boolean | ContentType::DateTime) if s.is_empty() => Value::Null,
        _ => Value::String(s.to_owned()),
    }
}

/// The `contentValue` string of a plain scalar; `None` for null.
pub fn plain_to_scalar(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(if *b { "true" } else { "false" }.to_owned()),
        Value::Number(n) => Some(n.to_string()),
        other => Some(other.to_string()),
    }
}

/// The plain form of an input or configuration value defined by `def`.
pub fn engine_to_plain(
    v: &EngineValue,
    def: &ValueDefinition,
    service: &ServiceDefinition,
) -> Value {
    let ty = def.type_name.as_deref().and_then(|t| service.type_named(t));
    match def.value_type {
        ValueType::Object => v
            .object_data
            .as_deref()
            .and_then(<[MObject]>::first)
            .map_or(Value::Null, |o| object_to_plain(o, ty, service)),
        ValueType::List => Value::Array(
            v.object_data
                .as_deref()
                .unwrap_or_default()
                .iter()
                .map(|o| object_to_plain(o, ty, service))
                .collect(),
        ),
        scalar => scalar_to_plain(v.content_value.as_deref(), Some(&scalar.content_type())),
    }
}

/// The plain form of an object; property types come from `ty` when known, else from the
/// object's own content types.
pub fn object_to_plain(
    o: &MObject,
    ty: Option<&TypeDefinition>,
    service: &ServiceDefinition,
) -> Value {
    let mut m = Map::new();
    m.insert(
        EXTERNAL_ID.into(),
        o.external_id.clone().map_or(Value::Null, Value::String),
    );
    for p in o.properties.as_deref().unwrap_or_default() {
        let Some(name) = p.developer_name.as_deref() else {
            continue;
        };
        let def = ty.and_then(|t| t.properties.iter().find(|d| d.name == name));
        let content_type = def
            .map(|d| d.value_type.content_type())
            .or_else(|| p.content_type.clone());
        let value = match content_type {
            Some(ContentType::Object | ContentType::List) => {
                let nested = def
                    .and_then(|d| d.type_name.as_deref())
                    .and_then(|t| service.type_named(t));
                let objs = p.object_data.as_deref().unwrap_or_default();
                if content_type == Some(ContentType::List) {
                    Value::Array(
                        objs.iter()
                            .map(|o| object_to_plain(o, nested, service))
                            .collect(),
                    )
                } else {
                    objs.first()
                        .map_or(Value::Null, |o| object_to_plain(o, nested, service))
                }
            }
            ct => scalar_to_plain(p.content_value.as_deref(), ct.as_ref()),
        };
        m.insert(name.to_owned(), value);
    }
    Value::Object(m)
}

/// The Flow value of output `def` from its plain form.
pub fn plain_to_engine(
    def: &ValueDefinition,
    value: &Value,
    service: &ServiceDefinition,
) -> EngineValue {
    let ty = def.type_name.as_deref().and_then(|t| service.type_named(t));
    let mut v = EngineValue {
        developer_name: Some(def.name.clone()),
        content_type: Some(def.value_type.content_type()),
        type_element_developer_name: def.type_name.clone(),
        ..EngineValue::default()
    };
    match def.value_type {
        ValueType::Object => {
            v.object_data = Some(match value {
                Value::Null => Vec::new(),
                o => vec![plain_to_object(o, def.type_name.as_deref(), ty, service)],
            });
        }
        ValueType::List => {
            let items = match value {
                Value::Array(a) => a.as_slice(),
                Value::Null => &[],
                other => std::slice::from_ref(other),
            };
            v.object_data = Some(
                items
                    .iter()
                    .map(|o| plain_to_object(o, def.type_name.as_deref(), ty, service))
                    .collect(),
            );
        }
        _ => v.content_value = plain_to_scalar(value),
    }
    v
}

/// An object of type `ty` (named `type_name`) from its plain form.
pub fn plain_to_object(
    value: &Value,
    type_name: Option<&str>,
    ty: Option<&TypeDefinition>,
    service: &ServiceDefinition,
) -> MObject {
    let empty = Map::new();
    let m = value.as_object().unwrap_or(&empty);
    let external_id = m.get(EXTERNAL_ID).and_then(plain_to_scalar);
    let properties = match ty {
        Some(t) => t
            .properties
            .iter()
            .map(|d| {
                let pv = m.get(&d.name).unwrap_or(&Value::Null);
                property_from_plain(&d.name, d.value_type, d.type_name.as_deref(), pv, service)
            })
            .collect(),
        None => m
            .iter()
            .filter(|(k, _)| k.as_str() != EXTERNAL_ID)
            .map(|(k, v)| Property {
                developer_name: Some(k.clone()),
                content_type: Some(ContentType::String),
                content_value: plain_to_scalar(v),
                ..Property::default()
            })
            .collect(),
    };
    MObject {
        external_id,
        developer_name: type_name.map(str::to_owned),
        order: Some(0),
        properties: Some(properties),
        is_selected: Some(false),
        ..MObject::default()
    }
}

fn property_from_plain(
    name: &str,
    value_type: ValueType,
    type_name: Option<&str>,
    value: &Value,
    service: &ServiceDefinition,
) -> Property {
    let mut p = Property {
        developer_name: Some(name.to_owned()),
        content_type: Some(value_type.content_type()),
        ..Property::default()
    };
    if value_type.is_object() {
        let nested = type_name.and_then(|t| service.type_named(t));
        let items = match value {
            Value::Array(a) => a.as_slice(),
            Value::Null => &[],
            other => std::slice::from_ref(other),
        };
        p.object_data = Some(
            items
                .iter()
                .map(|o| plain_to_object(o, type_name, nested, service))
                .collect(),
        );
    } else {
        p.content_value = plain_to_scalar(value);
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_become_json_numbers_only_when_exact() {
        let n = Some(&ContentType::Number);
        assert_eq!(scalar_to_plain(Some("42"), n), Value::from(42));
        assert_eq!(scalar_to_plain(Some("19.99"), n), serde_json::json!(19.99));
        assert_eq!(scalar_to_plain(Some("1.50"), n), Value::from("1.50"));
        assert_eq!(scalar_to_plain(Some(""), n), Value::Null);
        assert_eq!(
            scalar_to_plain(Some("TRUE"), Some(&ContentType::Boolean)),
            Value::Bool(true)
        );
    }

    #[test]
    fn plain_scalars_become_strings() {
        assert_eq!(
            plain_to_scalar(&serde_json::json!(19.99)).as_deref(),
            Some("19.99")
        );
        assert_eq!(
            plain_to_scalar(&Value::Bool(false)).as_deref(),
            Some("false")
        );
        assert_eq!(plain_to_scalar(&Value::Null), None);
    }
}
