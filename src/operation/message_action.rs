//! Message action: `POST /fs/{name}/actions/{uri}`, ServiceRequest in, ServiceResponse out.
//!
//! Inputs are matched by `developerName`; a required input or configuration value that is
//! missing is refused with 400 naming it before the process runs. The answer is `FORWARD`
//! with the outputs, echoing `token` and `tenantId`.

use http::{header, Request, Response, StatusCode};
use serde_json::{Map, Value};

use super::Context;
use crate::definition::{MessageActionDefinition, ValueDefinition};
use crate::error::{Error, Result};
use crate::execution::{Execution, OperationKind, ProcessProperties};
use crate::http::body::{self, ReqBody, ResBody};
use crate::process::{value, Process, ProcessCall};
use crate::protocol::{EngineValue, ServiceRequest, ServiceResponse};

/// Answers a message action request.
pub(crate) async fn handle(
    ctx: &Context<'_>,
    index: usize,
    req: Request<ReqBody>,
) -> Result<Response<ResBody>> {
    let service = &ctx.service;
    let def = service.action_definition(index);
    let (parts, body) = req.into_parts();
    let limit = def
        .max_request_bytes
        .unwrap_or(ctx.rt.config().max_request_bytes);
    let bytes = body::read_limited(body, body::content_length(&parts.headers), limit).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::bad_request(
            "request body is empty; a ServiceRequest was expected",
        ));
    }
    let request: ServiceRequest = serde_json::from_slice(&bytes)?;

    let properties = ProcessProperties {
        token: request.token.clone(),
        tenant_id: request.tenant_id.clone(),
        state_id: request.state_id.clone(),
        callback_uri: request.callback_uri.clone(),
        culture: request.culture.clone(),
        authorization: parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        configuration: Default::default(),
    }
    .with_configuration(
        &service.definition.configuration_values,
        request.configuration_values.as_deref(),
    )?;
    let inputs = request.inputs.as_deref().unwrap_or_default();
    check_required_inputs(def, inputs)?;

    let mut execution = Execution::new(
        ctx.exec_id.clone(),
        service.name.clone(),
        OperationKind::Action,
        def.name.clone(),
    );
    execution.properties = properties;

    let process = &service.actions[index].process;
    let outputs = match process {
        Process::Echo => echo(def, inputs),
        _ => {
            let call = ProcessCall {
                service: service.name.clone(),
                operation: OperationKind::Action.as_str(),
                name: def.name.clone(),
                execution_id: execution.id.clone(),
                inputs: plain_inputs(def, inputs, &service.definition),
                properties: execution.properties.to_json(),
                tracked: execution.tracked.clone(),
                extra: Map::new(),
            };
            let reply = process.call(call).await?;
            let empty = Map::new();
            let outs = reply.outputs_map().unwrap_or(&empty);
            def.outputs
                .iter()
                .filter_map(|o| {
                    outs.get(&o.name)
                        .map(|v| value::plain_to_engine(o, v, &service.definition))
                })
                .collect()
        }
    };
    let response = ServiceResponse::forward(&request, outputs);
    Ok(body::json_response(StatusCode::OK, &response))
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

fn check_required_inputs(def: &MessageActionDefinition, inputs: &[EngineValue]) -> Result<()> {
    for d in def.inputs.iter().filter(|d| d.required) {
        if !find(inputs, &d.name).is_some_and(|v| is_given(v, d)) {
            return Err(Error::bad_request(format!(
                "input '{}' is required",
                d.name
            )));
        }
    }
    Ok(())
}

/// The inputs the definition declares, in plain form; undeclared inputs are dropped.
fn plain_inputs(
    def: &MessageActionDefinition,
    inputs: &[EngineValue],
    service: &crate::definition::ServiceDefinition,
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

/// The echo process: each output takes the input of the same name.
fn echo(def: &MessageActionDefinition, inputs: &[EngineValue]) -> Vec<EngineValue> {
    def.outputs
        .iter()
        .filter_map(|o| {
            let v = find(inputs, &o.name)?;
            Some(EngineValue {
                developer_name: Some(o.name.clone()),
                content_type: Some(o.value_type.content_type()),
                content_value: v.content_value.clone(),
                type_element_developer_name: o.type_name.clone(),
                object_data: v.object_data.clone(),
                ..EngineValue::default()
            })
        })
        .collect()
}
