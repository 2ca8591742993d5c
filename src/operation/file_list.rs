//! File list: `POST /fs/{name}/file`, FileDataRequest in, ObjectDataResponse of `$File` out.
//!
//! Also the helpers every file operation shares: which file resource a `resourcePath`
//! selects (spec/definitions.md), the request's process properties, and the `$File`
//! object with its ten properties (protocol §3.6), whose `Download Uri` is absolute.
//!
//! The store answers a page ordered by `orderByPropertyDeveloperName` (default `Name`),
//! then by id, so pages never overlap; `limit` 0 or absent means [`DEFAULT_PAGE`] files,
//! at most [`MAX_PAGE`]; `search` is a substring of the name (ASCII letters in any case).

use http::request::Parts;
use http::{header, Request, Response, StatusCode};
use serde_json::{json, Map, Value};

use super::Context;
use crate::definition::FileResourceDefinition;
use crate::error::{Error, Result};
use crate::execution::{
    passed_authorization, Execution, OperationKind, ProcessProperties, ServiceUser,
};
use crate::http::body::{self, ReqBody, ResBody};
use crate::process::{value, Process, ProcessCall};
use crate::protocol::{
    ContentType, FileDataRequest, FileListFilter, MObject, ObjectDataResponse, OrderDirection,
    Property,
};
use crate::router::{FileResource, Service};
use crate::store::files::{iso_millis, FileRecord, ListQuery, OrderColumn};

/// Files per page when the request gives no limit.
pub(super) const DEFAULT_PAGE: u32 = 1000;
/// The most files one page may hold.
pub(super) const MAX_PAGE: u32 = 10_000;
/// The system type name of files.
const FILE_TYPE: &str = crate::definition::FILE_TYPE;
/// `Kind` of every stored file.
const KIND_FILE: &str = "File";

/// Answers a file list request.
pub(crate) async fn handle(ctx: &Context<'_>, req: Request<ReqBody>) -> Result<Response<ResBody>> {
    let (parts, body) = req.into_parts();
    let limit = ctx.rt.config().max_request_bytes;
    let bytes = body::read_limited(body, body::content_length(&parts.headers), limit).await?;
    let request: FileDataRequest = if bytes.iter().all(u8::is_ascii_whitespace) {
        FileDataRequest::default()
    } else {
        serde_json::from_slice(&bytes)?
    };
    let service = &ctx.service;
    let selected = select_resource(service, request.resource_path.as_deref())?;
    let Some(process) = &selected.resource.list else {
        return Err(Error::not_found(format!(
            "file resource '{}' has no list operation",
            selected.definition.path
        )));
    };
    let mut execution = Execution::new(
        ctx.exec_id.clone(),
        service.name.clone(),
        OperationKind::FileList,
        selected.resource_path.clone(),
    );
    execution.properties = properties(service, &parts, &request)?;
    ctx.note_execution(&execution);
    let _admitted = selected.resource.admission.admit().await?;
    let filter = request.list_filter.clone().unwrap_or_default();
    let base = base_url(ctx, &parts);

    let (objects, more) = match process {
        Process::Store => {
            let query = list_query(&filter)?;
            let (rows, more) = ctx
                .rt
                .stores()
                .files
                .list(service.name.to_string(), selected.resource_path, query)
                .await?;
            let objects = rows
                .iter()
                .map(|r| FileView::stored(r, &base).into_object());
            (objects.collect(), more)
        }
        _ => {
            let mut extra = Map::new();
            extra.insert("resourcePath".into(), json!(selected.resource_path));
            extra.insert("filter".into(), filter_json(&filter));
            let reply = process
                .call(call(&execution, OperationKind::FileList, extra))
                .await?;
            let files = match reply.0.get("files") {
                Some(Value::Array(a)) => a.as_slice(),
                None | Some(Value::Null) => &[],
                Some(_) => {
                    return Err(Error::Process(
                        "list process answered \"files\" that is not an array".into(),
                    ))
                }
            };
            let objects = files
                .iter()
                .map(|f| FileView::from_reply(f, None, &execution).map(FileView::into_object))
                .collect::<Result<Vec<_>>>()?;
            let more = reply
                .0
                .get("hasMoreResults")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            (objects, more)
        }
    };
    let response = ObjectDataResponse {
        culture: request.culture,
        object_data: objects,
        has_more_results: more,
        offset_token: None,
    };
    Ok(body::json_response(StatusCode::OK, &response))
}

// === resource selection ===

/// The file resource a request addresses, and the folder inside it.
#[derive(Debug)]
pub(super) struct Selected<'a> {
    /// The resource, with its processes.
    pub(super) resource: &'a FileResource,
    /// Its definition.
    pub(super) definition: &'a FileResourceDefinition,
    /// The canonical resource path: the resource's path plus the sub-folder
    /// (`/file/reports`), the key of the index and of the folder on disk.
    pub(super) resource_path: String,
}

/// Selects the file resource for `resource_path` as spec/definitions.md says: empty or
/// absent → the first resource; else the resource whose path equals it or is a prefix of it
/// followed by `/` (the longest such), the rest being a sub-folder; else, when the service
/// has exactly one file resource, the whole path is a sub-folder of it; else 404.
///
/// # Errors
///
/// 400 for a path with a dot segment or a control character; 404 when nothing matches.
pub(super) fn select_resource<'a>(
    service: &'a Service,
    resource_path: Option<&str>,
) -> Result<Selected<'a>> {
    let defs = &service.definition.file_resources;
    let pick = |i: usize, sub: &[&str]| {
        let definition = &defs[service.file_resources[i].index];
        let root = definition.path.trim_end_matches('/');
        let mut canonical = root.to_owned();
        for seg in sub {
            canonical.push('/');
            canonical.push_str(seg);
        }
        if canonical.is_empty() {
            canonical.push('/');
        }
        Selected {
            resource: &service.file_resources[i],
            definition,
            resource_path: canonical,
        }
    };
    if service.file_resources.is_empty() {
        return Err(Error::not_found("this service has no file resource"));
    }
    let raw = resource_path.map(str::trim).unwrap_or_default();
    let segs = segments(raw)?;
    if segs.is_empty() {
        return Ok(pick(0, &[]));
    }
    // Resource paths start with `/`: a relative one can only be a sub-folder.
    let best = service
        .file_resources
        .iter()
        .enumerate()
        .filter(|_| raw.starts_with('/'))
        .filter_map(|(i, r)| {
            let root = segments(&defs[r.index].path).ok()?;
            (segs.len() >= root.len() && segs[..root.len()] == root[..]).then_some((i, root.len()))
        })
        .max_by_key(|(_, n)| *n);
    match best {
        Some((i, n)) => Ok(pick(i, &segs[n..])),
        None if service.file_resources.len() == 1 => Ok(pick(0, &segs)),
        None => Err(Error::not_found(format!(
            "no file resource of this service matches resource path '{raw}'"
        ))),
    }
}

/// The non-empty segments of a resource path, refusing `.`/`..` and control characters.
fn segments(path: &str) -> Result<Vec<&str>> {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    for s in &segs {
        if *s == "." || *s == ".." {
            return Err(Error::bad_request(format!(
                "resource path '{path}' has a dot segment"
            )));
        }
        if s.chars().any(char::is_control) {
            return Err(Error::bad_request("resource path has a control character"));
        }
    }
    Ok(segs)
}

// === request helpers ===

/// The process properties of a file request: its fields, the `Authorization` header and
/// the service's configuration values.
///
/// # Errors
///
/// 400 naming a required configuration value that is missing.
pub(super) fn properties(
    service: &Service,
    parts: &Parts,
    request: &FileDataRequest,
) -> Result<ProcessProperties> {
    ProcessProperties {
        token: request.token.clone(),
        state_id: request.state_id.clone(),
        culture: request.culture.clone(),
        authorization: passed_authorization(parts),
        user: ServiceUser::of(&parts.extensions),
        ..ProcessProperties::default()
    }
    .with_configuration(
        &service.definition.configuration_values,
        request.configuration_values.as_deref(),
    )
}

/// The document a command or handler of a file operation receives.
pub(super) fn call(
    execution: &Execution,
    kind: OperationKind,
    extra: Map<String, Value>,
) -> ProcessCall {
    ProcessCall {
        service: execution.service.clone(),
        operation: kind.as_str(),
        name: execution.name.clone(),
        execution_id: execution.id.clone(),
        inputs: Map::new(),
        properties: execution.properties.to_json(),
        tracked: execution.tracked.clone(),
        extra,
    }
}

/// The base of absolute URLs: the configured public base URL, else `http://` and the
/// request's `Host` (or the authority of an HTTP/2 request).
pub(super) fn base_url(ctx: &Context<'_>, parts: &Parts) -> String {
    if let Some(b) = &ctx.rt.config().public_base_url {
        return b.trim_end_matches('/').to_owned();
    }
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty() && !h.contains(['/', ' ', '@']))
        .or_else(|| parts.uri.authority().map(http::uri::Authority::as_str))
        .unwrap_or("localhost");
    format!("http://{host}")
}

/// The absolute download URL of file `id` of `service`.
pub(super) fn download_uri(base: &str, service: &str, id: &str) -> String {
    const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    format!(
        "{base}/fs/{}/file/content/{}",
        percent_encoding::utf8_percent_encode(service, SEGMENT),
        percent_encoding::utf8_percent_encode(id, SEGMENT)
    )
}

fn list_query(filter: &FileListFilter) -> Result<ListQuery> {
    let order = match filter
        .order_by_property_developer_name
        .as_deref()
        .map(str::trim)
        .unwrap_or_default()
    {
        "" => OrderColumn::Name,
        p => order_column(p).ok_or_else(|| {
            Error::bad_request(format!(
                "cannot order files by '{p}'; $File properties are: Id, Name, Mime Type, \
                 Kind, Description, Download Uri, Embed Uri, Icon Uri, Date Created, \
                 Date Modified"
            ))
        })?,
    };
    let limit = match filter.limit {
        None | Some(0) => DEFAULT_PAGE,
        Some(n) if n < 0 => {
            return Err(Error::bad_request(format!(
                "listFilter.limit must not be negative, got {n}"
            )))
        }
        Some(n) => u32::try_from(n).unwrap_or(MAX_PAGE).min(MAX_PAGE),
    };
    let offset = match filter.offset {
        None => 0,
        Some(n) if n < 0 => {
            return Err(Error::bad_request(format!(
                "listFilter.offset must not be negative, got {n}"
            )))
        }
        Some(n) => n as u64,
    };
    Ok(ListQuery {
        order,
        descending: filter.order_by_direction_type == Some(OrderDirection::Desc),
        limit,
        offset,
        search: filter.search.clone(),
    })
}

/// The store column a `$File` property orders by; properties that are the same for every
/// stored file (Kind, Description, Icon Uri) order by name, the URIs by id.
fn order_column(property: &str) -> Option<OrderColumn> {
    let p = property.to_ascii_lowercase();
    Some(match p.as_str() {
        "name" | "kind" | "description" | "icon uri" => OrderColumn::Name,
        "id" | "download uri" | "embed uri" => OrderColumn::Id,
        "mime type" => OrderColumn::ContentType,
        "date created" => OrderColumn::Created,
        "date modified" => OrderColumn::Modified,
        _ => return None,
    })
}

fn filter_json(f: &FileListFilter) -> Value {
    json!({
        "orderByPropertyDeveloperName": f.order_by_property_developer_name,
        "orderByDirectionType": f.order_by_direction_type.as_ref().map(OrderDirection::as_str),
        "limit": f.limit,
        "offset": f.offset,
        "search": f.search,
    })
}

// === $File ===

/// The ten properties of a `$File`, as strings.
#[derive(Debug, Default, Clone)]
pub(super) struct FileView {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) mime_type: String,
    pub(super) kind: String,
    pub(super) description: String,
    pub(super) download_uri: String,
    pub(super) embed_uri: String,
    pub(super) icon_uri: String,
    pub(super) date_created: String,
    pub(super) date_modified: String,
}

impl FileView {
    /// The view of a stored file; URIs are absolute under `base`.
    pub(super) fn stored(r: &FileRecord, base: &str) -> Self {
        let download = download_uri(base, &r.service, &r.id);
        FileView {
            id: r.id.clone(),
            name: r.name.clone(),
            mime_type: r.content_type.clone(),
            kind: KIND_FILE.to_owned(),
            description: String::new(),
            embed_uri: format!("{download}?disposition=inline"),
            download_uri: download,
            icon_uri: String::new(),
            date_created: iso_millis(r.created),
            date_modified: iso_millis(r.modified),
        }
    }

    /// The view a command or handler answered: `$File` property names (or `externalId`)
    /// to plain values. What it leaves out comes from `defaults`, else from the execution:
    /// `Id` = execution id, `Name` and `Mime Type` = the tracked properties.
    ///
    /// # Errors
    ///
    /// The answer is not an object.
    pub(super) fn from_reply(
        v: &Value,
        defaults: Option<&FileView>,
        execution: &Execution,
    ) -> Result<Self> {
        let Value::Object(m) = v else {
            return Err(Error::Process(
                "process answered a file that is not an object".into(),
            ));
        };
        let get = |key: &str| m.get(key).and_then(value::plain_to_scalar);
        let tracked = |key: &str| execution.tracked.get(key).cloned().unwrap_or_default();
        let d = defaults.cloned().unwrap_or_else(|| FileView {
            id: execution.id.clone(),
            name: tracked(crate::execution::FILE_NAME),
            mime_type: tracked(crate::execution::FILE_CONTENT_TYPE),
            kind: KIND_FILE.to_owned(),
            ..FileView::default()
        });
        Ok(FileView {
            id: get("Id").or_else(|| get("externalId")).unwrap_or(d.id),
            name: get("Name").unwrap_or(d.name),
            mime_type: get("Mime Type").unwrap_or(d.mime_type),
            kind: get("Kind").unwrap_or(d.kind),
            description: get("Description").unwrap_or(d.description),
            download_uri: get("Download Uri").unwrap_or(d.download_uri),
            embed_uri: get("Embed Uri").unwrap_or(d.embed_uri),
            icon_uri: get("Icon Uri").unwrap_or(d.icon_uri),
            date_created: get("Date Created").unwrap_or(d.date_created),
            date_modified: get("Date Modified").unwrap_or(d.date_modified),
        })
    }

    /// The `$File` object, properties in alphabetical order as the Java SDK emits them.
    pub(super) fn into_object(self) -> MObject {
        let prop = |name: &str, ct: ContentType, v: String| Property {
            developer_name: Some(name.to_owned()),
            content_type: Some(ct),
            content_value: Some(v),
            ..Property::default()
        };
        let s = ContentType::String;
        let external_id = self.id.clone();
        MObject {
            external_id: Some(external_id),
            developer_name: Some(FILE_TYPE.to_owned()),
            properties: Some(vec![
                prop("Date Created", ContentType::DateTime, self.date_created),
                prop("Date Modified", ContentType::DateTime, self.date_modified),
                prop("Description", s.clone(), self.description),
                prop("Download Uri", s.clone(), self.download_uri),
                prop("Embed Uri", s.clone(), self.embed_uri),
                prop("Icon Uri", s.clone(), self.icon_uri),
                prop("Id", s.clone(), self.id),
                prop("Kind", s.clone(), self.kind),
                prop("Mime Type", s.clone(), self.mime_type),
                prop("Name", s, self.name),
            ]),
            ..MObject::default()
        }
    }
}
