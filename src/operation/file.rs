//! What the file operations share: which file resource a `resourcePath` selects, and the
//! execution (with its process properties) of a file request.

use std::sync::Arc;

use http::request::Parts;

use super::Context;
use crate::definition::FileResourceDefinition;
use crate::error::{Error, Result};
use crate::execution::{Execution, OperationKind, ProcessProperties, RequestFields};
use crate::protocol::FileDataRequest;
use crate::router::{FileResource, Service};

/// The longest segment of a `resourcePath` (the text between two `/`), in bytes: each
/// segment becomes a folder on disk, and 255 bytes is the longest name common file
/// systems take. A longer one is refused with 400 before any store work.
pub(crate) const MAX_RESOURCE_SEGMENT_BYTES: usize = 255;
/// The longest `resourcePath`, in bytes (Linux's `PATH_MAX`). A longer one is refused
/// with 400 before anything else is done with it, so that no execution, record or folder
/// ever holds a client-sized path.
pub(crate) const MAX_RESOURCE_PATH_BYTES: usize = 4096;
/// The longest file id a download or delete may name, in bytes; stored ids are UUIDs, so
/// a longer one cannot exist and is refused with 400.
pub(crate) const MAX_FILE_ID_BYTES: usize = 255;

/// The execution of a file request of `kind` on `resource_path`: its fields, the
/// `Authorization` header and the service's configuration values as process properties.
///
/// # Errors
///
/// 400 naming a required configuration value that is missing.
pub(super) fn execution(
    ctx: &Context<'_>,
    kind: OperationKind,
    resource_path: String,
    parts: &Parts,
    request: &FileDataRequest,
    pass_headers: &[String],
) -> Result<Execution> {
    let service = &ctx.service;
    let mut execution = Execution::new(
        ctx.exec_id.clone(),
        Arc::clone(&service.name),
        kind,
        resource_path,
    );
    execution.properties = ProcessProperties::of_request(
        RequestFields {
            token: request.token.as_deref(),
            state_id: request.state_id.as_deref(),
            culture: request.culture.as_ref(),
            pass_headers: [&service.definition.pass_headers, pass_headers],
            ..RequestFields::default()
        },
        parts,
        &service.definition.configuration_values,
        request.configuration_values.as_deref(),
    )?;
    Ok(execution)
}

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

/// Selects the file resource for `resource_path` as `definition/definitions.md` says: empty or
/// absent → the first resource; else the resource whose path equals it or is a prefix of it
/// followed by `/` (the longest such), the rest being a sub-folder; else, when the service
/// has exactly one file resource, the whole path is a sub-folder of it; else 404.
///
/// # Errors
///
/// 400 for a path over [`MAX_RESOURCE_PATH_BYTES`], a segment over
/// [`MAX_RESOURCE_SEGMENT_BYTES`], a dot segment or a control character; 404 when nothing
/// matches.
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

/// Refuses a `resourcePath` over [`MAX_RESOURCE_PATH_BYTES`] or with a segment over
/// [`MAX_RESOURCE_SEGMENT_BYTES`] (400 naming the limit). Cheap: called on every path a
/// request carries, as soon as it is decoded.
///
/// # Errors
///
/// 400 naming the limit that was passed.
pub(super) fn check_resource_path(path: &str) -> Result<()> {
    if path.len() > MAX_RESOURCE_PATH_BYTES {
        return Err(Error::bad_request(format!(
            "resourcePath is {} bytes long; at most {MAX_RESOURCE_PATH_BYTES} bytes are accepted",
            path.len()
        )));
    }
    if let Some(long) = path
        .split('/')
        .find(|s| s.len() > MAX_RESOURCE_SEGMENT_BYTES)
    {
        return Err(Error::bad_request(format!(
            "a resourcePath segment is {} bytes long; at most {MAX_RESOURCE_SEGMENT_BYTES} \
             bytes are accepted between two '/'",
            long.len()
        )));
    }
    Ok(())
}

/// Refuses a file id over [`MAX_FILE_ID_BYTES`] (400 naming the limit).
///
/// # Errors
///
/// 400 naming the limit.
pub(super) fn check_file_id(id: &str) -> Result<()> {
    if id.len() > MAX_FILE_ID_BYTES {
        return Err(Error::bad_request(format!(
            "the file id is {} bytes long; at most {MAX_FILE_ID_BYTES} bytes are accepted",
            id.len()
        )));
    }
    Ok(())
}

/// The non-empty segments of a resource path, refusing paths over the limits, `.`/`..`
/// and control characters.
fn segments(path: &str) -> Result<Vec<&str>> {
    check_resource_path(path)?;
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
