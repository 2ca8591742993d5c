//! Subscribers: message actions with `"events": [key]`, run once per event.
//!
//! Each run is an execution of its own, as if the event had called the action: a new
//! execution id, the action's admission (its concurrency and rate limits), the
//! runtime's execution timeout, and an execution record (operation `event`; tracked:
//! `Event`, the event's key, and `Event Definition Id`). The inputs are the payload's
//! fields by name — declared inputs only — converted and checked exactly as the
//! incoming API converts a plain JSON body (`execution::inputs`), so a payload that does
//! not fit an input fails that run with the same 400 a REST caller would get.
//!
//! A subscriber's failure is the subscriber's: it is logged and recorded, and neither
//! fails the event nor stops the other subscribers.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use serde_json::{Map, Value};
use tracing::Instrument;

use super::EventDefinition;
use crate::definition::{MessageActionDefinition, ServiceDefinition};
use crate::error::Result;
use crate::execution::engine::deadline;
use crate::execution::inputs::{check_inputs, plain_inputs};
use crate::execution::records::ExecutionRecord;
use crate::execution::{new_execution_id, Execution, OperationKind};
use crate::process::value;
use crate::router::{Service, Snapshot};
use crate::shared::Shared;

/// The operation of a subscriber's execution records.
pub(super) const OPERATION: &str = "event";
/// Tracked property: the key of the event that ran the action.
pub(super) const TRACKED_EVENT: &str = "Event";
/// Tracked property: the id of that event's definition (its deployed version).
pub(super) const TRACKED_DEFINITION_ID: &str = "Event Definition Id";

/// One subscribing action: a mounted service and the index of its action.
#[derive(Debug, Clone)]
pub(super) struct Subscriber {
    pub(super) service: Arc<Service>,
    pub(super) index: usize,
}

/// Every action of `snapshot` that lists `key` in its `events`, in service-name order
/// (the order subscribers start in; they run concurrently).
pub(super) fn of(snapshot: &Snapshot, key: &str) -> Vec<Subscriber> {
    let mut found: Vec<Subscriber> = snapshot
        .services()
        .flat_map(|s| {
            s.definition
                .message_actions
                .iter()
                .enumerate()
                .filter(|(_, a)| a.events.iter().any(|e| e == key))
                .map(|(index, _)| Subscriber {
                    service: Arc::clone(s),
                    index,
                })
        })
        .collect();
    found.sort_by(|a, b| (&a.service.name, a.index).cmp(&(&b.service.name, b.index)));
    found
}

/// The inputs of action `def` from an event's `payload`: each declared input the payload
/// has a field of that name for, converted as a plain JSON body's inputs are and checked
/// against its type; undeclared fields are dropped.
///
/// # Errors
///
/// 400 naming an input that is required and missing, or that does not fit its type.
pub(super) fn inputs(
    def: &MessageActionDefinition,
    service: &ServiceDefinition,
    payload: &Map<String, Value>,
) -> Result<Map<String, Value>> {
    let engine: Vec<_> = def
        .inputs
        .iter()
        .filter_map(|d| {
            let v = payload.get(&d.name)?;
            Some(value::plain_to_engine(d, v, service))
        })
        .collect();
    check_inputs(def, &engine, service)?;
    Ok(plain_inputs(def, &engine, service))
}

/// Runs `subscriber` for `event` with `payload` from tenant `tenant_id` (`""`: none),
/// and records the run. Never fails: the outcome is in the log and the record.
pub(super) async fn run(
    shared: &Shared,
    subscriber: &Subscriber,
    event: &EventDefinition,
    payload: &Map<String, Value>,
    tenant_id: &str,
) {
    let Subscriber { service, index } = subscriber;
    let def = service.action_definition(*index);
    let exec_id = new_execution_id();
    let started = Instant::now();
    let started_at = SystemTime::now();
    let mut execution = Execution::new(
        exec_id.clone(),
        Arc::clone(&service.name),
        OperationKind::Action,
        def.name.clone(),
    );
    execution.track(TRACKED_EVENT, event.info.key.as_str());
    execution.track(TRACKED_DEFINITION_ID, event.info.id.as_str());
    execution.properties.tenant_id = (!tenant_id.is_empty()).then(|| tenant_id.to_owned());
    // An event carries no configuration values: each is there, without a value.
    execution.properties.configuration = service
        .definition
        .configuration_values
        .iter()
        .map(|d| (d.name.clone(), None))
        .collect();
    let tracked = execution.tracked.clone();
    let outcome = async {
        let inputs = inputs(def, &service.definition, payload)?;
        let _slot = service.actions[*index].admission.admit().await?;
        let mut call = execution.document();
        call.inputs = inputs;
        deadline(
            shared.config.execution_timeout,
            service.actions[*index].process.call(call),
        )
        .await
    }
    .instrument(crate::execution::span(&exec_id, &service.name))
    .await;
    let status = match &outcome {
        Ok(_) => {
            tracing::debug!(
                execution_id = %exec_id, service = %service.name, action = %def.name,
                event = %event.info.key, "Event subscriber ran."
            );
            200
        }
        Err(e) => {
            tracing::warn!(
                execution_id = %exec_id, service = %service.name, action = %def.name,
                event = %event.info.key, error = %e, "Event subscriber failed."
            );
            e.status().as_u16()
        }
    };
    let records = &shared.records;
    if records.is_enabled() {
        let mut record = ExecutionRecord::new(
            exec_id,
            Arc::clone(&service.name),
            OPERATION,
            Arc::clone(&service.actions[*index].name),
            started_at,
            started.elapsed(),
            status,
            false,
        );
        record.tracked = tracked;
        records.push(record);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definition::parse_definition;

    fn service() -> ServiceDefinition {
        parse_definition(
            "Orders.json",
            br#"{"name": "Orders", "messageActions": [{"name": "Record",
                 "inputs": [{"name": "orderId", "type": "String", "required": true},
                            {"name": "amount", "type": "Number"},
                            {"name": "rush", "type": "Boolean"}],
                 "events": ["orderPlaced"],
                 "process": {"builtin": "echo"}}]}"#,
        )
        .unwrap()
    }

    fn payload(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn payload_fields_become_the_declared_inputs_by_name() {
        let s = service();
        let def = &s.message_actions[0];
        let got = inputs(
            def,
            &s,
            &payload(serde_json::json!({"orderId": "o-1", "amount": 19.99, "note": "dropped"})),
        )
        .unwrap();
        assert_eq!(got["orderId"], "o-1");
        assert_eq!(got["amount"], 19.99);
        assert!(!got.contains_key("note"), "{got:?}");
        // a declared input the payload lacks is there, without a value
        assert_eq!(got.get("rush"), Some(&Value::Null));
    }

    #[test]
    fn a_payload_that_does_not_fit_the_inputs_is_a_400_naming_the_input() {
        let s = service();
        let def = &s.message_actions[0];
        let e = inputs(def, &s, &payload(serde_json::json!({"amount": 1}))).unwrap_err();
        assert_eq!(e.status(), 400);
        assert!(e.to_string().contains("input 'orderId' is required"), "{e}");
        let e = inputs(
            def,
            &s,
            &payload(serde_json::json!({"orderId": "o-1", "amount": "lots"})),
        )
        .unwrap_err();
        assert_eq!(e.status(), 400);
        assert!(e.to_string().contains("input 'amount'"), "{e}");
    }
}
