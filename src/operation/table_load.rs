//! Table load: `POST /fs/{name}/data`, ObjectDataRequest in, ObjectDataResponse out.
//!
//! This module also holds what the three data operations share: decoding the request,
//! picking the data action by `objectDataType.developerName`, refusing an operation the
//! type does not declare, and the plain forms a `command` or handler process reads.
//!
//! A process for a data action reads (besides the common fields) `filter` (load, delete)
//! and `objects` (plain JSON objects, see `process::value`), and answers `objects` (and
//! `hasMoreResults` for load). The plain filter is
//! `{id, comparisonType, where: [{columnName, criteriaType, value, values?}],
//! listFilters: [...], search, searchCriteria: [names], orderBy: [{columnName,
//! direction}], offset, limit}`, with values typed by their property.

use http::request::Parts;
use http::{Request, Response, StatusCode};
use serde_json::{json, Map, Value};

use super::Context;
use crate::admission::Admitted;
use crate::definition::{DataActionDefinition, ServiceDefinition, TypeDefinition};
use crate::error::{Error, Result};
use crate::execution::{passed_authorization, OperationKind, ProcessProperties, ServiceUser};
use crate::http::body::{self, ReqBody, ResBody};
use crate::process::{value, Process, ProcessCall, Reply};
use crate::protocol::{
    ContentType, CriteriaType, ListFilter, ListFilterMinimal, ListFilterWhere, MObject,
    ObjectDataRequest, ObjectDataResponse,
};
use crate::router::{DataAction, Service};
use crate::runtime::Runtime;

/// Creates or extends the table of every type whose data action runs on the store.
///
/// # Errors
///
/// A property whose stored type changed, a name that cannot be a column, or a data
/// folder where the database cannot be opened.
pub(crate) fn prepare(rt: &Runtime, service: &Service) -> Result<()> {
    let def = &service.definition;
    for d in &def.data_actions {
        let on_store = [&d.load, &d.save, &d.delete].iter().any(|p| {
            p.as_ref()
                .is_some_and(|p| p.builtin.as_deref() == Some("store"))
        });
        if !on_store {
            continue;
        }
        let ty = def
            .type_named(&d.object_type)
            .ok_or_else(|| Error::internal(format!("type '{}' is not defined", d.object_type)))?;
        rt.stores()
            .tables
            .prepare(&service.name, ty, d.key.as_deref())?;
    }
    Ok(())
}

/// Answers a table load request.
pub(crate) async fn handle(ctx: &Context<'_>, req: Request<ReqBody>) -> Result<Response<ResBody>> {
    let call = DataCall::decode(ctx, req, OperationKind::TableLoad).await?;
    let filter = call.request.list_filter.as_ref();
    let provided = call.request.object_data.as_deref().unwrap_or_default();
    let (objects, more) = match call.process {
        Process::Store => {
            let page = ctx
                .rt
                .stores()
                .tables
                .load(&ctx.service.name, &call.ty.name, filter, provided)
                .await?;
            return Ok(body::json_bytes_response(StatusCode::OK, page));
        }
        process => {
            let mut extra = Map::new();
            extra.insert("filter".into(), plain_filter(call.ty, filter)?);
            extra.insert("objects".into(), call.plain_objects(provided));
            let reply = process.call(call.process_call(ctx, extra)?).await?;
            let more = reply
                .0
                .get("hasMoreResults")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            (call.reply_objects(&reply).unwrap_or_default(), more)
        }
    };
    Ok(answer(objects, more))
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

/// A decoded data request with the data action it selects.
pub(super) struct DataCall<'a> {
    /// The request as sent.
    pub(super) request: ObjectDataRequest,
    /// The request's head (headers for process properties).
    parts: Parts,
    /// The data action's definition.
    pub(super) def: &'a DataActionDefinition,
    /// The type it stores.
    pub(super) ty: &'a TypeDefinition,
    /// The process of the requested operation.
    pub(super) process: &'a Process,
    /// The definition both come from.
    service: &'a ServiceDefinition,
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
        ctx: &'a Context<'_>,
        req: Request<ReqBody>,
        kind: OperationKind,
    ) -> Result<DataCall<'a>> {
        let service: &'a Service = &ctx.service;
        let (parts, body) = req.into_parts();
        // The type is only known once the body is read: take the largest limit.
        let default = ctx.rt.config().max_request_bytes;
        let limit = service
            .definition
            .data_actions
            .iter()
            .map(|d| d.max_request_bytes.unwrap_or(default))
            .max()
            .unwrap_or(default);
        let bytes = body::read_limited(body, body::content_length(&parts.headers), limit).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(Error::bad_request(
                "request body is empty; an ObjectDataRequest was expected",
            ));
        }
        let request: ObjectDataRequest = serde_json::from_slice(&bytes)?;
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
        ctx.note(|n| n.name = Some(std::sync::Arc::from(type_name)));
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
            service: &service.definition,
            kind,
            _admitted: admitted,
        })
    }

    /// The process document for a `command` or handler process.
    pub(super) fn process_call(
        &self,
        ctx: &Context<'_>,
        extra: Map<String, Value>,
    ) -> Result<ProcessCall> {
        let properties = ProcessProperties {
            token: self.request.token.clone(),
            state_id: self.request.state_id.clone(),
            culture: self.request.culture.clone(),
            authorization: passed_authorization(&self.parts),
            user: ServiceUser::of(&self.parts.extensions),
            ..ProcessProperties::default()
        }
        .with_configuration(
            &ctx.service.definition.configuration_values,
            self.request.configuration_values.as_deref(),
        )?;
        Ok(ProcessCall {
            service: ctx.service.name.clone(),
            operation: self.kind.as_str(),
            name: self.ty.name.clone(),
            execution_id: ctx.exec_id.clone(),
            inputs: Map::new(),
            properties: properties.to_json(),
            tracked: Default::default(),
            extra,
        })
    }

    /// `objects` in plain form.
    pub(super) fn plain_objects(&self, objects: &[MObject]) -> Value {
        Value::Array(
            objects
                .iter()
                .map(|o| value::object_to_plain(o, Some(self.ty), self.service_def()))
                .collect(),
        )
    }

    /// The `objects` a process answered, as objects of the type; `None` when it answered
    /// none. An object without `externalId` takes its key property's value.
    pub(super) fn reply_objects(&self, reply: &Reply) -> Option<Vec<MObject>> {
        let items = reply.0.get("objects")?;
        let items = match items {
            Value::Array(a) => a.as_slice(),
            Value::Null => &[],
            other => std::slice::from_ref(other),
        };
        Some(
            items
                .iter()
                .map(|v| {
                    let mut o = value::plain_to_object(
                        v,
                        Some(&self.ty.name),
                        Some(self.ty),
                        self.service_def(),
                    );
                    if o.external_id.as_deref().is_none_or(str::is_empty) {
                        if let Some(key) = self.def.key.as_deref() {
                            o.external_id = v.get(key).and_then(value::plain_to_scalar);
                        }
                    }
                    o
                })
                .collect(),
        )
    }

    fn service_def(&self) -> &ServiceDefinition {
        self.service
    }
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

/// The plain form of a ListFilter for a process (see the module docs).
fn plain_filter(ty: &TypeDefinition, f: Option<&ListFilter>) -> Result<Value> {
    let Some(f) = f else {
        return Ok(Value::Null);
    };
    let column = |name: Option<&str>, field: &str| -> Result<String> {
        let name =
            name.ok_or_else(|| Error::bad_request(format!("a {field} entry has no columnName")))?;
        if ty.properties.iter().any(|p| p.name == name) {
            Ok(name.to_owned())
        } else {
            Err(Error::bad_request(format!(
                "{field} columnName '{name}' is not a property of type '{}'",
                ty.name
            )))
        }
    };
    let mut order = Vec::new();
    match f.order_by.as_deref().filter(|o| !o.is_empty()) {
        Some(list) => {
            for o in list {
                order.push(json!({
                    "columnName": column(o.column_name.as_deref(), "orderBy")?,
                    "direction": direction(o.direction.as_ref()),
                }));
            }
        }
        None => {
            if let Some(n) = f
                .order_by_property_developer_name
                .as_deref()
                .filter(|n| !n.is_empty())
            {
                order.push(json!({
                    "columnName": column(Some(n), "orderByPropertyDeveloperName")?,
                    "direction": direction(f.order_by_direction_type.as_ref()),
                }));
            }
        }
    }
    let search_criteria = f
        .search_criteria
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(|c| column(c.column_name.as_deref(), "searchCriteria").map(Value::String))
        .collect::<Result<Vec<_>>>()?;
    let mut out = plain_group(
        ty,
        f.comparison_type.as_ref(),
        f.where_.as_deref(),
        f.list_filters.as_deref(),
        0,
    )?;
    out.insert(
        "id".into(),
        f.id.clone()
            .filter(|s| !s.is_empty())
            .map_or(Value::Null, Value::String),
    );
    out.insert(
        "search".into(),
        f.search
            .clone()
            .filter(|s| !s.is_empty())
            .map_or(Value::Null, Value::String),
    );
    out.insert("searchCriteria".into(), Value::Array(search_criteria));
    out.insert("orderBy".into(), Value::Array(order));
    out.insert("offset".into(), json!(f.offset.unwrap_or(0).max(0)));
    out.insert("limit".into(), json!(f.limit.unwrap_or(0).max(0)));
    Ok(Value::Object(out))
}

fn direction(d: Option<&crate::protocol::OrderDirection>) -> &'static str {
    match d {
        Some(crate::protocol::OrderDirection::Desc) => "DESC",
        _ => "ASC",
    }
}

fn plain_group(
    ty: &TypeDefinition,
    comparison: Option<&crate::protocol::ComparisonType>,
    wheres: Option<&[ListFilterWhere]>,
    nested: Option<&[ListFilterMinimal]>,
    depth: usize,
) -> Result<Map<String, Value>> {
    if depth > 32 {
        return Err(Error::bad_request(
            "listFilters are nested deeper than 32 levels",
        ));
    }
    let mut m = Map::new();
    let or = matches!(comparison, Some(crate::protocol::ComparisonType::Or));
    m.insert(
        "comparisonType".into(),
        Value::from(if or { "OR" } else { "AND" }),
    );
    let mut entries = Vec::new();
    for w in wheres.unwrap_or_default() {
        let name = w
            .column_name
            .as_deref()
            .ok_or_else(|| Error::bad_request("a where entry has no columnName"))?;
        let prop = ty
            .properties
            .iter()
            .find(|p| p.name == name)
            .ok_or_else(|| {
                Error::bad_request(format!(
                    "where columnName '{name}' is not a property of type '{}'",
                    ty.name
                ))
            })?;
        let objects = w.object_data.as_deref().unwrap_or_default();
        if w.operand().is_none() && objects.is_empty() {
            continue;
        }
        let criteria = w.criteria_type.as_ref().ok_or_else(|| {
            Error::bad_request(format!("the where entry for '{name}' has no criteriaType"))
        })?;
        let ct = match criteria {
            CriteriaType::Contains | CriteriaType::StartsWith | CriteriaType::EndsWith => {
                ContentType::String
            }
            CriteriaType::IsEmpty => ContentType::Boolean,
            _ => prop.value_type.content_type(),
        };
        let mut e = Map::new();
        e.insert("columnName".into(), Value::from(name));
        e.insert("criteriaType".into(), Value::from(criteria.as_str()));
        e.insert(
            "value".into(),
            value::scalar_to_plain(w.operand(), Some(&ct)),
        );
        if !objects.is_empty() {
            let values = objects
                .iter()
                .filter_map(|o| {
                    o.property(name)
                        .and_then(|p| p.content_value.as_deref())
                        .or(o.external_id.as_deref())
                })
                .map(|v| value::scalar_to_plain(Some(v), Some(&ct)))
                .collect();
            e.insert("values".into(), Value::Array(values));
        }
        entries.push(Value::Object(e));
    }
    m.insert("where".into(), Value::Array(entries));
    let groups = nested
        .unwrap_or_default()
        .iter()
        .map(|g| {
            plain_group(
                ty,
                g.comparison_type.as_ref(),
                g.where_.as_deref(),
                g.list_filters.as_deref(),
                depth + 1,
            )
            .map(Value::Object)
        })
        .collect::<Result<Vec<_>>>()?;
    m.insert("listFilters".into(), Value::Array(groups));
    Ok(m)
}
