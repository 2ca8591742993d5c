//! What the three data operations share: decoding the ObjectDataRequest, picking the data
//! action by `objectDataType.developerName`, refusing an operation the type does not
//! declare, and the typed work and process document they hand to the process.

use std::sync::Arc;

use http::request::Parts;
use http::{Request, Response, StatusCode};

use super::Context;
use crate::definition::{DataActionDefinition, TypeDefinition};
use crate::error::{Error, Result};
use crate::execution::{Execution, OperationKind, ProcessProperties, RequestFields};
use crate::http::body::{self, Blank, ReqBody, ResBody};
use crate::process::data::DataWork;
use crate::process::{Process, ProcessCall};
use crate::protocol::{MObject, ObjectDataRequest, ObjectDataResponse};
use crate::router::admission::Admitted;
use crate::router::DataAction;

/// A decoded data request with the data action it selects.
pub(super) struct DataCall<'a> {
    /// The request as sent.
    pub(super) request: ObjectDataRequest,
    /// The request's head (headers for process properties).
    parts: Parts,
    /// The data action's definition.
    def: &'a DataActionDefinition,
    /// The type it stores.
    ty: &'a TypeDefinition,
    /// The process of the requested operation.
    pub(super) process: &'a Process,
    ctx: &'a Context<'a>,
    kind: OperationKind,
    /// The execution slot of the data action, held until the answer is built.
    _admitted: Admitted,
}

impl<'a> DataCall<'a> {
    /// Reads the body, finds the data action of `objectDataType.developerName` and the
    /// process of `kind`.
    ///
    /// # Errors
    ///
    /// 400 for an empty or malformed body or a missing type; 404 for a type without a
    /// data action; 404 or 405 when the type's data action lacks this operation.
    pub(super) async fn decode(
        ctx: &'a Context<'a>,
        req: Request<ReqBody>,
        kind: OperationKind,
    ) -> Result<DataCall<'a>> {
        let service = &*ctx.service;
        let (parts, body) = req.into_parts();
        // The type is only known once the body is read: take the largest limit.
        let default = ctx.max_request_bytes();
        let limit = service
            .definition
            .data_actions
            .iter()
            .map(|d| d.max_request_bytes.unwrap_or(default))
            .max()
            .unwrap_or(default);
        let blank = Blank::Refuse("request body is empty; an ObjectDataRequest was expected");
        let (_, request): (_, ObjectDataRequest) =
            body::read_json(body, &parts.headers, limit, blank).await?;
        let Some(odt) = request.object_data_type.as_ref() else {
            return Err(Error::bad_request(
                "No object data type was given in the request",
            ));
        };
        let Some(type_name) = odt.developer_name.as_deref().filter(|n| !n.is_empty()) else {
            return Err(Error::bad_request(
                "No object data type developer name was given in the request",
            ));
        };
        let action: &DataAction = service.data_actions.get(type_name).ok_or_else(|| {
            Error::not_found(format!(
                "type '{type_name}' has no data action in service '{}'",
                service.name
            ))
        })?;
        let process = operation_process(action, kind, type_name)?;
        ctx.note(|n| n.name = Some(Arc::from(type_name)));
        let admitted = action.admission.admit().await?;
        let def = &service.definition.data_actions[action.index];
        let ty = service
            .definition
            .type_named(&def.object_type)
            .ok_or_else(|| Error::internal(format!("type '{type_name}' is not defined")))?;
        Ok(DataCall {
            request,
            parts,
            def,
            ty,
            process,
            ctx,
            kind,
            _admitted: admitted,
        })
    }

    /// The work the process gets.
    pub(super) fn work(&self) -> DataWork<'_> {
        DataWork {
            service: &self.ctx.service.name,
            definition: &self.ctx.service.definition,
            action: self.def,
            ty: self.ty,
            filter: self.request.list_filter.as_ref(),
            objects: self.request.object_data.as_deref().unwrap_or_default(),
        }
    }

    /// The process document for a `command` or handler process.
    ///
    /// # Errors
    ///
    /// 400 naming a required configuration value that is missing.
    pub(super) fn document(&self) -> Result<ProcessCall> {
        let r = &self.request;
        let mut execution = Execution::new(
            self.ctx.exec_id.clone(),
            Arc::clone(&self.ctx.service.name),
            self.kind,
            self.ty.name.clone(),
        );
        execution.properties = ProcessProperties::of_request(
            RequestFields {
                token: r.token.as_deref(),
                state_id: r.state_id.as_deref(),
                culture: r.culture.as_ref(),
                pass_headers: [
                    &self.ctx.service.definition.pass_headers,
                    &self.def.pass_headers,
                ],
                ..RequestFields::default()
            },
            &self.parts,
            &self.ctx.service.definition.configuration_values,
            r.configuration_values.as_deref(),
        )?;
        Ok(execution.document())
    }
}

/// The ObjectDataResponse of `objects`.
pub(super) fn answer(objects: Vec<MObject>, has_more_results: bool) -> Response<ResBody> {
    body::json_response(
        StatusCode::OK,
        &ObjectDataResponse {
            culture: None,
            object_data: objects,
            has_more_results,
            offset_token: None,
        },
    )
}

/// The process of operation `kind` on `action`, or the 404/405 saying it is not declared.
fn operation_process<'a>(
    action: &'a DataAction,
    kind: OperationKind,
    type_name: &str,
) -> Result<&'a Process> {
    let (declared, what) = match kind {
        OperationKind::TableLoad => (&action.load, "load"),
        OperationKind::RowUpdate => (&action.save, "save"),
        _ => (&action.delete, "delete"),
    };
    if let Some(p) = declared {
        return Ok(p);
    }
    // On `/data`, POST is load and PUT is save: when the type declares the other one, the
    // path answers for this type, just not with this method.
    let other = match kind {
        OperationKind::TableLoad if action.save.is_some() => Some("PUT"),
        OperationKind::RowUpdate if action.load.is_some() => Some("POST"),
        _ => None,
    };
    match other {
        Some(allow) => Err(Error::MethodNotAllowed { allow }),
        None => Err(Error::not_found(format!(
            "type '{type_name}' has no {what} operation in its data action"
        ))),
    }
}
