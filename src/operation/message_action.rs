//! Message action: `POST /fs/{name}/actions/{uri}`, ServiceRequest in, ServiceResponse out.
//!
//! Inputs are matched by `developerName`; a required input or configuration value that is
//! missing, or an input whose value does not fit its declared type (a Number that is not
//! a number, an Object with more than one object, a property of an object that does not
//! fit its type), is refused with 400 naming it before the process runs. The answer is `FORWARD`
//! with the outputs, echoing `token` and `tenantId`.
//!
//! Sync budget, then WAIT: a process still running after the action's
//! `syncTimeoutSeconds` (default 30) is answered `WAIT` with a `waitMessage` at once; it
//! keeps running, and its final ServiceResponse (`FORWARD` with the outputs, or `FORWARD`
//! with `rootFaults` `{action name: message}` when it failed) is POSTed to the request's
//! `callbackUri` (the run engine, `execution::engine`). A request without `callbackUri` has nowhere to
//! receive a late answer, so its response waits for the process to end — up to the
//! execution timeout (`--execution-timeout`, default 30 s; then 504), as a run answered
//! `WAIT` runs up to the wait timeout (`--wait-timeout`, default 24 h; then the callback
//! carries `rootFaults` naming it).

use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response, StatusCode};

use super::Context;
use crate::error::Result;
use crate::execution::engine::{self, Deadlines, Late, Outcome, Run};
use crate::execution::inputs::{check_inputs, outputs_of, plain_inputs};
use crate::execution::{
    check_configuration, CallbackTarget, Execution, OperationKind, ProcessProperties, RequestFields,
};
use crate::http::body::{self, Blank, ReqBody, ResBody};
use crate::protocol::{InvokeType, ServiceRequest, ServiceResponse};

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
    let limit = def.max_request_bytes.unwrap_or(ctx.max_request_bytes());
    let blank = Blank::Refuse("request body is empty; a ServiceRequest was expected");
    let (bytes, request): (_, ServiceRequest) =
        body::read_json(body, &parts.headers, limit, blank).await?;

    let inputs = request.inputs.as_deref().unwrap_or_default();
    check_configuration(
        &service.definition.configuration_values,
        request.configuration_values.as_deref(),
    )?;
    check_inputs(def, inputs, &service.definition)?;

    let process = service.actions[index].process.clone();
    // The hot path: a process that needs only the inputs gets no properties built.
    if let Some(outputs) = process.answer_now(def, inputs) {
        let response = ServiceResponse::forward_from(request, outputs);
        return Ok(answer(ctx, &bytes, &response));
    }

    let mut execution = Execution::new(
        ctx.exec_id.clone(),
        Arc::clone(&service.name),
        OperationKind::Action,
        def.name.clone(),
    );
    execution.properties = ProcessProperties::of_request(
        RequestFields {
            token: request.token.as_deref(),
            tenant_id: request.tenant_id.as_deref(),
            state_id: request.state_id.as_deref(),
            callback_uri: request.callback_uri.as_deref(),
            culture: request.culture.as_ref(),
            pass_headers: [&service.definition.pass_headers, &def.pass_headers],
        },
        &parts,
        &service.definition.configuration_values,
        request.configuration_values.as_deref(),
    )?;
    let mut call = execution.document();
    call.inputs = plain_inputs(def, inputs, &service.definition);

    let owner = Arc::clone(service);
    let run: Run = Box::pin(async move {
        let reply = process.call(call).await?;
        Ok(outputs_of(
            owner.action_definition(index),
            &reply,
            &owner.definition,
        ))
    });
    let deadlines = Deadlines {
        budget: Duration::from_secs(def.sync_timeout_seconds()),
        execution: ctx.shared.config.execution_timeout,
        wait: ctx.shared.config.wait_timeout,
    };
    let late = || {
        let uri = request.callback_uri.as_deref().filter(|u| !u.is_empty())?;
        Some(Late {
            target: CallbackTarget {
                uri: uri.to_owned(),
                tenant_id: request.tenant_id.clone(),
                authorization: execution.properties.authorization.clone(),
            },
            template: ServiceResponse::reply_to(&request, InvokeType::Forward),
            action: def.name.clone(),
            execution_id: execution.id.clone(),
            callbacks: Arc::clone(&ctx.shared.callbacks),
            outbox: ctx.shared.outbox.clone(),
            records: Arc::clone(&ctx.shared.records),
        })
    };
    let response = match engine::run(run, deadlines, late, admitted).await? {
        Outcome::Done(outputs) => ServiceResponse::forward(&request, outputs),
        Outcome::Waiting => {
            ctx.note(|n| n.waiting = true);
            ServiceResponse {
                wait_message: Some(def.wait_message.clone().unwrap_or_else(|| {
                    format!("{} is still running; its result will follow.", def.name)
                })),
                ..ServiceResponse::reply_to(&request, InvokeType::Wait)
            }
        }
    };
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
