//! The inputs and outputs of a message action, checked and converted the same way
//! whichever door the call came in by: the Flow engine's `POST /fs/{name}/actions/{uri}`
//! (`operation::message_action`) or the incoming API's trigger (`incoming`).
//!
//! A required input that is missing, or an input whose value does not fit its declared
//! type (a Number that is not a number, an Object with more than one object, a property of
//! an object that does not fit its type), is refused with 400 naming it before the process
//! runs.

use serde_json::{Map, Value};

use crate::definition::scalar;
use crate::definition::{
    MessageActionDefinition, ServiceDefinition, TypeDefinition, ValueDefinition, ValueType,
};
use crate::error::{Error, Result};
use crate::process::{value, Reply};
use crate::protocol::{EngineValue, MObject};

/// The outputs the definition declares, from a process reply; undeclared ones are dropped.
pub(crate) fn outputs_of(
    def: &MessageActionDefinition,
    reply: &Reply,
    service: &ServiceDefinition,
) -> Vec<EngineValue> {
    let Some(outs) = reply.outputs_map() else {
        return Vec::new();
    };
    def.outputs
        .iter()
        .filter_map(|o| {
            outs.get(&o.name)
                .map(|v| value::plain_to_engine(o, v, service))
        })
        .collect()
}

/// Whether a value carries something: a non-empty string, or objects for Object/List.
fn is_given(v: &EngineValue, def: &ValueDefinition) -> bool {
    if def.value_type.is_object() {
        v.object_data.as_ref().is_some_and(|o| !o.is_empty())
    } else {
        v.content_value.as_deref().is_some_and(|s| !s.is_empty())
    }
}

fn find<'a>(inputs: &'a [EngineValue], name: &str) -> Option<&'a EngineValue> {
    inputs
        .iter()
        .find(|v| v.developer_name.as_deref() == Some(name))
}

/// Refuses inputs that are required and missing, or that do not fit their declared type.
pub(crate) fn check_inputs(
    def: &MessageActionDefinition,
    inputs: &[EngineValue],
    service: &ServiceDefinition,
) -> Result<()> {
    for d in &def.inputs {
        let Some(v) = find(inputs, &d.name) else {
            if d.required {
                return Err(Error::bad_request(format!(
                    "input '{}' is required",
                    d.name
                )));
            }
            continue;
        };
        if d.required && !is_given(v, d) {
            return Err(Error::bad_request(format!(
                "input '{}' is required",
                d.name
            )));
        }
        let at = || format!("input '{}'", d.name);
        if d.value_type.is_object() {
            let objects = v.object_data.as_deref().unwrap_or_default();
            if d.value_type == ValueType::Object && objects.len() > 1 {
                return Err(Error::bad_request(format!(
                    "{} is an Object and takes at most one object; {} were sent",
                    at(),
                    objects.len()
                )));
            }
            let type_def = d.type_name.as_deref().and_then(|t| service.type_named(t));
            check_objects(objects, type_def, service, &at)?;
        } else if let Some(s) = v.content_value.as_deref() {
            scalar::check(d.value_type, s).map_err(|why| unfit(&at(), d.value_type, s, why))?;
        }
    }
    Ok(())
}

/// Checks the properties of `objects` against `type_def`: scalars by their types, nested
/// objects recursively. Properties the type does not declare are left to the process.
/// The recursion is bounded by the JSON reader, which refuses a body nested more than 128
/// levels deep (about 30 levels of objects) with 400 before this runs.
fn check_objects(
    objects: &[MObject],
    type_def: Option<&TypeDefinition>,
    service: &ServiceDefinition,
    at: &dyn Fn() -> String,
) -> Result<()> {
    let Some(type_def) = type_def else {
        return Ok(());
    };
    for (i, o) in objects.iter().enumerate() {
        for p in o.properties.as_deref().unwrap_or_default() {
            let Some(name) = p.developer_name.as_deref() else {
                continue;
            };
            let Some(pd) = type_def.properties.iter().find(|pd| pd.name == name) else {
                continue;
            };
            let here = || format!("{}, object {}, property '{name}'", at(), i + 1);
            if pd.value_type.is_object() {
                let nested = pd.type_name.as_deref().and_then(|t| service.type_named(t));
                let children = p.object_data.as_deref().unwrap_or_default();
                check_objects(children, nested, service, &here)?;
            } else if let Some(s) = p.content_value.as_deref() {
                scalar::check(pd.value_type, s)
                    .map_err(|why| unfit(&here(), pd.value_type, s, why))?;
            }
        }
    }
    Ok(())
}

/// The 400 of a value that does not fit its type, quoting (the start of) the value.
fn unfit(at: &str, value_type: ValueType, value: &str, why: &str) -> Error {
    const QUOTED: usize = 64;
    let mut end = value.len().min(QUOTED);
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    let more = if end < value.len() { "…" } else { "" };
    Error::bad_request(format!(
        "{at} must be a {value_type:?}: \"{}{more}\" {why}",
        &value[..end]
    ))
}

/// The inputs the definition declares, in plain form; undeclared inputs are dropped.
pub(crate) fn plain_inputs(
    def: &MessageActionDefinition,
    inputs: &[EngineValue],
    service: &ServiceDefinition,
) -> Map<String, Value> {
    def.inputs
        .iter()
        .map(|d| {
            let v = find(inputs, &d.name)
                .map_or(Value::Null, |v| value::engine_to_plain(v, d, service));
            (d.name.clone(), v)
        })
        .collect()
}
