//! Message action: `POST /fs/{name}/actions/{uri}`, ServiceRequest in, ServiceResponse out.
//!
//! Inputs are matched by `developerName`; a required input or configuration value that is
//! missing is refused with 400 naming it before the process runs. The answer is `FORWARD`
//! with the outputs, echoing `token` and `tenantId`.
//!
//! Sync budget, then WAIT: a process still running after the action's
//! `syncTimeoutSeconds` (default 30) is answered `WAIT` with a `waitMessage` at once; it
//! keeps running, and its final ServiceResponse (`FORWARD` with the outputs, or `FORWARD`
//! with `rootFaults` `{action name: message}` when it failed) is POSTed to the request's
//! `callbackUri` (see [`crate::callback`]). A request without `callbackUri` has nowhere to
//! receive a late answer, so its response waits for the process to end.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response, StatusCode};
use serde_json::{Map, Value};

use super::Context;
use crate::callback::{CallbackOutcome, CallbackTarget};
use crate::definition::{MessageActionDefinition, ServiceDefinition, ValueDefinition};
use crate::error::{Error, Result};
use crate::execution::{
    passed_authorization, Execution, OperationKind, ProcessProperties, ServiceUser,
};
use crate::http::body::{self, ReqBody, ResBody};
use crate::process::{value, Process, ProcessCall, Reply};
use crate::protocol::{EngineValue, InvokeType, ServiceRequest, ServiceResponse};
use crate::records::CallbackRecord;

/// Answers a message action request.
pub(crate) async fn handle(
    ctx: &Context<'_>,
    index: usize,
    req: Request<ReqBody>,
) -> Result<Response<ResBody>> {
    let service = &ctx.service;
    let def = service.action_definition(index);
    // Admission first: a refused request costs no body read.
    let admitted = service.actions[index].admission.admit().await?;
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

    let inputs = request.inputs.as_deref().unwrap_or_default();
    check_required_configuration(
        &service.definition.configuration_values,
        request.configuration_values.as_deref(),
    )?;
    check_required_inputs(def, inputs)?;

    let process = service.actions[index].process.clone();
    if let Process::Echo = process {
        // The hot path: nothing to hand to a process, so no properties are built.
        let outputs = echo(def, inputs);
        let response = ServiceResponse::forward_from(request, outputs);
        return Ok(answer(ctx, &bytes, &response));
    }

    let properties = ProcessProperties {
        token: request.token.clone(),
        tenant_id: request.tenant_id.clone(),
        state_id: request.state_id.clone(),
        callback_uri: request.callback_uri.clone(),
        culture: request.culture.clone(),
        authorization: passed_authorization(&parts),
        user: ServiceUser::of(&parts.extensions),
        configuration: Default::default(),
    }
    .with_configuration(
        &service.definition.configuration_values,
        request.configuration_values.as_deref(),
    )?;
    let mut execution = Execution::new(
        ctx.exec_id.clone(),
        service.name.clone(),
        OperationKind::Action,
        def.name.clone(),
    );
    execution.properties = properties;

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
    let owner = Arc::clone(service);
    // The process runs on this task; only when it outlives the sync budget is it moved
    // to a task of its own, so the common case costs no spawn and no channel.
    let mut run: Pin<Box<dyn Future<Output = Result<Vec<EngineValue>>> + Send>> =
        Box::pin(async move {
            let reply = process.call(call).await?;
            Ok(outputs_of(
                owner.action_definition(index),
                &reply,
                &owner.definition,
            ))
        });
    let budget = Duration::from_secs(def.sync_timeout_seconds());
    let finished = tokio::select! {
        biased;
        r = &mut run => Some(r),
        () = tokio::time::sleep(budget) => None,
    };
    let outputs = match finished {
        Some(r) => r?,
        None => match request.callback_uri.as_deref().filter(|u| !u.is_empty()) {
            // Nowhere to send a late answer: the caller waits for the end.
            None => run.await?,
            Some(uri) => {
                let target = CallbackTarget {
                    uri: uri.to_owned(),
                    tenant_id: request.tenant_id.clone(),
                    authorization: execution.properties.authorization.clone(),
                };
                let rt = ctx.rt.clone();
                let template = ServiceResponse::reply_to(&request, InvokeType::Forward);
                let action = def.name.clone();
                let exec_id = execution.id.clone();
                tokio::spawn(async move {
                    // The execution keeps its slot until it really ends.
                    let _admitted = admitted;
                    let (response, ok) = match run.await {
                        Ok(outputs) => (
                            ServiceResponse {
                                outputs: Some(outputs),
                                ..template
                            },
                            true,
                        ),
                        Err(e) => (
                            ServiceResponse {
                                root_faults: Some([(action, e.to_string())].into_iter().collect()),
                                ..template
                            },
                            false,
                        ),
                    };
                    let outcome = rt.callbacks().deliver(&target, &response).await;
                    rt.records().update(&exec_id, |r| {
                        r.status = if ok { "succeeded" } else { "failed" };
                        r.callback = Some(match outcome {
                            CallbackOutcome::Delivered { attempts } => CallbackRecord {
                                attempts,
                                delivered: true,
                                reason: None,
                            },
                            CallbackOutcome::GaveUp { attempts, reason } => CallbackRecord {
                                attempts,
                                delivered: false,
                                reason: Some(reason),
                            },
                        });
                    });
                });
                ctx.note(|n| n.waiting = true);
                let wait = ServiceResponse {
                    wait_message: Some(def.wait_message.clone().unwrap_or_else(|| {
                        format!("{} is still running; its result will follow.", def.name)
                    })),
                    ..ServiceResponse::reply_to(&request, InvokeType::Wait)
                };
                return Ok(answer(ctx, &bytes, &wait));
            }
        },
    };
    let response = ServiceResponse::forward(&request, outputs);
    Ok(answer(ctx, &bytes, &response))
}

/// Renders the 200 answer, keeping both bodies when the request asked for debug capture.
fn answer(ctx: &Context<'_>, request: &[u8], response: &ServiceResponse) -> Response<ResBody> {
    // Sized for a typical answer so serialization does not grow the buffer step by step.
    let mut bytes = Vec::with_capacity(1024);
    serde_json::to_writer(&mut bytes, response).expect("wire types serialize to JSON");
    ctx.capture(request, &bytes);
    body::json_bytes_response(StatusCode::OK, bytes.into())
}

/// The outputs the definition declares, from a process reply; undeclared ones are dropped.
fn outputs_of(
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

fn check_required_configuration(
    defined: &[ValueDefinition],
    sent: Option<&[EngineValue]>,
) -> Result<()> {
    for d in defined.iter().filter(|d| d.required) {
        let given = sent.unwrap_or_default().iter().any(|v| {
            v.developer_name.as_deref() == Some(d.name.as_str())
                && v.content_value.as_deref().is_some_and(|s| !s.is_empty())
        });
        if !given {
            return Err(Error::bad_request(format!(
                "configuration value '{}' is required",
                d.name
            )));
        }
    }
    Ok(())
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
