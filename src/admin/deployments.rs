//! Deployments: a multipart upload of one service definition (`.json`), one event or
//! channel definition of Flowable's Event Registry (`.event`, `.channel`), or an archive
//! (`.zip`, `.bar`) of several of them, validated as a whole and mounted atomically;
//! listed, read, and deleted (unmounted).
//!
//! Upload rules (after Flowable's deployment resource, with its quirks decided):
//! - not `multipart/form-data` → 400 "Multipart request is required";
//! - the first part with a filename is the file; other files are ignored; no file → 400;
//! - the deployment name is the `deploymentName` query parameter, else the file field's
//!   name; `category` is a query parameter, `tenantId` a form field;
//! - the type comes from the original filename's extension, else the field name's (D7):
//!   `.json` (one service definition), `.event` (one EventModel), `.channel` (one
//!   ChannelModel), or `.zip`/`.bar`: its top-level `*.json` files are service
//!   definitions, its `*.event` and `*.channel` files anywhere are event and channel
//!   definitions (named by their path), everything else — scripts, data — is extracted
//!   beside them; an archive with none of the three is refused (400);
//! - every resource is parsed (`definition::parse_definition`, `event::model::parse_event`,
//!   `parse_channel`) and every problem of every resource is listed in the one 400; two
//!   events, or two channels, of one key in one deployment are a problem. An event may
//!   name channels that are not deployed (yet);
//! - the body is bounded while it streams (413), and so is what an archive unpacks to: the
//!   entries it may list ([`MAX_ZIP_ENTRIES`], counted before the archive is parsed), the
//!   bytes they inflate to (4 × the upload limit, counted while inflating, whatever sizes
//!   the archive declares), and the bytes of its definitions of every kind, the only files
//!   held in memory (the upload limit); every other file streams to disk as it inflates;
//! - a file or folder name of a deployment is at most [`MAX_RESOURCE_SEGMENT_BYTES`], a
//!   zip entry's path at most [`MAX_RESOURCE_NAME_BYTES`] (400);
//! - a full disk is `507` saying so.
//!
//! A deployment is written to `<data>/deployments/<id>/` (so `command` paths resolve
//! there), then mounted, then recorded; a failure at any step undoes the steps before it,
//! so either every service of the deployment answers or none does. Redeploying a service
//! name makes a new version, which is mounted; deleting the deployment of the newest
//! version mounts the newest remaining one. The folder of a deleted deployment is removed
//! once the requests that were running on its services have finished.
//!
//! Event and channel definitions get versions the same way, per key and separately for
//! events and channels; each takes the deployment's tenant. After every deploy and delete
//! the Event Registry's catalog is rebuilt from the state and installed (`Admin::
//! install_catalog`), so that the newest remaining version of a key is the latest.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use futures_util::TryStreamExt;
use http::{header, HeaderValue, Request, Response, StatusCode};
use http_body_util::BodyStream;
use serde_json::{json, Value};

use super::paging::{like, Page, Query};
use super::{iso8601, now_ms, Ctx};
use crate::definition::{
    parse_definition, validate_set, LoadedDefinition, Problem, Problems, ServiceDefinition,
};
use crate::error::{Error, Result};
use crate::event::model::{parse_channel, parse_event, ChannelModel, EventModel};
use crate::http::body::{self, ReqBody, ResBody};
use crate::http::header::content_disposition;
use crate::router::Service;
use crate::store::deployments::{self as store, Staging};
use crate::store::registry::{
    DefinitionKind, Deployment, EventRegistryDefinition, Resource, ServiceVersion,
};

/// The most entries a `.zip` deployment may hold. Checked before the archive is parsed
/// (the parser keeps every entry of the central directory in memory).
const MAX_ZIP_ENTRIES: usize = 10_000;
/// The longest name of one file or folder of a deployment — the `.json` file name, each
/// `/`-separated part of a zip entry's path — in bytes: the longest name common file
/// systems take.
const MAX_RESOURCE_SEGMENT_BYTES: usize = 255;
/// The longest path of a zip entry inside the deployment, in bytes.
const MAX_RESOURCE_NAME_BYTES: usize = 1024;
/// A `.zip` may unpack to at most this many times the upload limit (on disk).
const UNPACK_FACTOR: u64 = 4;
/// The bytes inflated at once from a zip entry into its file: the only buffer an entry
/// that is not a definition takes, whatever its size.
const UNPACK_CHUNK: usize = 64 << 10;
/// The largest `tenantId` form field, in bytes.
const MAX_FORM_FIELD_BYTES: u64 = 4 << 10;
/// The longest name, category or tenant id, in characters.
const MAX_NAME_CHARS: usize = 255;
/// How long a deleted deployment's folder waits for requests still using it.
const MAX_FOLDER_DRAIN: Duration = Duration::from_secs(3600);

/// The path of fss's own repository API: deployments answer with their `url` under it.
pub(super) const REPOSITORY: &str = "/api/repository";

/// `GET {repo}/deployments`: `repo` is [`REPOSITORY`] or the Event Registry's repository
/// path; both list the same deployments, each with its `url` under `repo`.
pub(super) fn list(ctx: &Ctx, req: &Request<ReqBody>, repo: &str) -> Result<Response<ResBody>> {
    let q = Query::parse(req.uri().query());
    let page = Page::from_query(
        &q,
        &["id", "name", "deployTime", "tenantId"],
        &[("deploytime", "deployTime")],
        "id",
    )?;
    let without_tenant = q.boolean("withoutTenantId")?.unwrap_or(false);
    let st = ctx.admin.lock();
    let items: Vec<&Deployment> = st
        .deployments
        .values()
        .filter(|d| q.get("name").is_none_or(|v| d.name == v))
        .filter(|d| q.get("nameLike").is_none_or(|v| like(v, &d.name)))
        .filter(|d| {
            q.get("category")
                .is_none_or(|v| d.category.as_deref() == Some(v))
        })
        .filter(|d| {
            q.get("categoryNotEquals")
                .is_none_or(|v| d.category.as_deref() != Some(v))
        })
        .filter(|d| q.get("tenantId").is_none_or(|v| d.tenant_id == v))
        .filter(|d| q.get("tenantIdLike").is_none_or(|v| like(v, &d.tenant_id)))
        .filter(|d| !without_tenant || d.tenant_id.is_empty())
        .collect();
    let answer = page.envelope(
        items,
        |a, b, sort| {
            let o = match sort {
                "name" => a.name.cmp(&b.name),
                "deployTime" => a.deploy_time_ms.cmp(&b.deploy_time_ms),
                "tenantId" => a.tenant_id.cmp(&b.tenant_id),
                _ => Ordering::Equal,
            };
            o.then_with(|| a.id.cmp(&b.id))
        },
        |d| render(ctx, &st, d, repo),
    );
    Ok(body::json_response(StatusCode::OK, &answer))
}

/// `GET {repo}/deployments/{id}`.
pub(super) fn get(ctx: &Ctx, id: &str, repo: &str) -> Result<Response<ResBody>> {
    let st = ctx.admin.lock();
    let d = st.deployments.get(id).ok_or_else(|| no_deployment(id))?;
    Ok(body::json_response(
        StatusCode::OK,
        &render(ctx, &st, d, repo),
    ))
}

/// `GET {repo}/deployments/{id}/resources`.
pub(super) fn resources(ctx: &Ctx, id: &str, repo: &str) -> Result<Response<ResBody>> {
    let st = ctx.admin.lock();
    let d = st.deployments.get(id).ok_or_else(|| no_deployment(id))?;
    let base = format!("{}{repo}/deployments/{}", ctx.base_url, enc(&d.id));
    let list: Vec<Value> = d
        .resources
        .iter()
        .map(|r| {
            let service = st
                .services
                .values()
                .any(|s| s.deployment_id == d.id && s.resource_name == r.name);
            let registered = st
                .definitions
                .values()
                .find(|e| e.deployment_id == d.id && e.resource_name == r.name)
                .map(|e| e.kind);
            let kind = match (service, registered) {
                (true, _) => "serviceDefinition",
                (false, Some(DefinitionKind::Event)) => "eventDefinition",
                (false, Some(DefinitionKind::Channel)) => "channelDefinition",
                (false, None) => "resource",
            };
            json!({
                "id": r.name,
                "url": format!("{base}/resources/{}", enc(&r.name)),
                "contentUrl": format!("{base}/resourcedata/{}", enc(&r.name)),
                "mediaType": r.mime_type,
                "size": r.size,
                "type": kind,
            })
        })
        .collect();
    Ok(body::json_response(StatusCode::OK, &list))
}

/// `GET /api/repository/deployments/{id}/resourcedata/{resourceId}`.
pub(super) async fn resource_data(
    ctx: &Ctx,
    id: &str,
    resource: &str,
) -> Result<Response<ResBody>> {
    let mime = {
        let st = ctx.admin.lock();
        let d = st.deployments.get(id).ok_or_else(|| no_deployment(id))?;
        d.resources
            .iter()
            .find(|r| r.name == resource)
            .map(|r| r.mime_type.clone())
            .ok_or_else(|| {
                Error::not_found(format!(
                    "Could not find a resource with id '{resource}' in deployment '{id}'."
                ))
            })?
    };
    let path = store::deployment_dir(ctx.admin.data_dir(), id).join(resource);
    resource_response(path, resource, &mime).await
}

/// The bytes of a resource file, with its media type and a download disposition.
pub(super) async fn resource_response(
    path: PathBuf,
    name: &str,
    mime: &str,
) -> Result<Response<ResBody>> {
    let bytes = tokio::fs::read(&path)
        .await
        .map_err(|e| Error::internal(format!("{}: {e}", path.display())))?;
    let mut resp = Response::new(body::full(bytes));
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(mime).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    let file = name.rsplit('/').next().unwrap_or(name);
    headers.insert(
        header::CONTENT_DISPOSITION,
        content_disposition("attachment", file),
    );
    Ok(resp)
}

/// `DELETE /api/repository/deployments/{id}`: unmounts its services (the newest remaining
/// version of each is mounted instead), forgets it and its event and channel definitions
/// (the newest remaining version of each key becomes the latest), and removes its folder
/// once unused.
pub(super) async fn delete(ctx: &Ctx, id: &str) -> Result<Response<ResBody>> {
    let admin = &ctx.admin;
    if !admin.lock().deployments.contains_key(id) && admin.registry.watch().is_some() {
        // Another instance may have made it a moment ago: follow the registry first.
        admin.sync().await?;
    }
    let _changes = admin.changes.lock().await;
    if !admin.lock().deployments.contains_key(id) {
        return Err(no_deployment(id));
    }
    let owned = id.to_owned();
    admin.db(move |r| r.delete_deployment(&owned)).await?;
    let (keys, in_use) = forget(admin, id);
    let a = Arc::clone(admin);
    tokio::task::spawn_blocking(move || a.reconcile(&keys))
        .await
        .map_err(Error::internal)?;
    // Under the change lock: the newest remaining version of each key is the latest now.
    admin.install_catalog();
    tracing::info!(deployment = %id, "Deployment deleted.");
    remove_when_unused(admin.data_dir().to_path_buf(), id.to_owned(), in_use);
    let mut resp = Response::new(body::full(Bytes::new()));
    *resp.status_mut() = StatusCode::NO_CONTENT;
    Ok(resp)
}

/// Forgets deployment `id` in memory: it, its service versions and its definitions.
/// Answers the keys of its services (to mount their newest remaining versions) and the
/// services running in its folder now (to remove it once they are done). Callers hold
/// the change lock.
pub(super) fn forget(admin: &super::Admin, id: &str) -> (Vec<String>, Vec<Weak<Service>>) {
    let keys: Vec<String> = {
        let mut st = admin.lock();
        st.deployments.remove(id);
        let keys: HashSet<String> = st
            .services
            .values()
            .filter(|s| s.deployment_id == id)
            .map(|s| s.key.clone())
            .collect();
        st.services.retain(|_, s| s.deployment_id != id);
        st.remove_definitions_of(id);
        keys.into_iter().collect()
    };
    let dir = store::deployment_dir(admin.data_dir(), id);
    let in_use: Vec<Weak<Service>> = admin
        .mounts
        .snapshot()
        .services()
        .filter(|s| s.base_dir == dir)
        .map(Arc::downgrade)
        .collect();
    (keys, in_use)
}

/// Removes a deleted deployment's folder once no request runs on its services any more
/// (a `command` runs inside it). What is still in use after [`MAX_FOLDER_DRAIN`] is left
/// for the next start, which removes folders of unknown deployments.
pub(super) fn remove_when_unused(data_dir: PathBuf, id: String, in_use: Vec<Weak<Service>>) {
    tokio::spawn(async move {
        let started = tokio::time::Instant::now();
        while in_use.iter().any(|w| w.strong_count() > 0) {
            if started.elapsed() > MAX_FOLDER_DRAIN {
                tracing::warn!(deployment = %id,
                    "Deleted deployment still in use; its folder is removed at the next start.");
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let removed =
            tokio::task::spawn_blocking(move || store::remove_deployment_dir(&data_dir, &id)).await;
        if let Ok(Err(e)) = removed {
            tracing::warn!(error = %e, "Deleted deployment folder not removed.");
        }
    });
}

// === upload ===

/// The file part of the upload and the form fields that go with it.
#[derive(Debug)]
struct Upload {
    field_name: String,
    file_name: Option<String>,
    bytes: Bytes,
    tenant_id: Option<String>,
}

/// A file of a deployment, written to its staging folder.
#[derive(Debug)]
struct UnpackedFile {
    name: String,
    size: u64,
}

/// A parsed and validated upload, its files written to a staging folder.
#[derive(Debug)]
struct Unpacked {
    /// The folder holding the files, renamed into place on commit; removed when dropped.
    staging: Staging,
    files: Vec<UnpackedFile>,
    /// The service definitions, by the resource that holds them.
    definitions: Vec<(String, ServiceDefinition)>,
    /// The event definitions, by the resource that holds them.
    events: Vec<(String, EventModel)>,
    /// The channel definitions, by the resource that holds them.
    channels: Vec<(String, ChannelModel)>,
}

/// `POST {repo}/deployments`.
pub(super) async fn create(
    ctx: &Ctx,
    req: Request<ReqBody>,
    repo: &str,
) -> Result<Response<ResBody>> {
    let q = Query::parse(req.uri().query());
    let boundary = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/")
        })
        .and_then(|v| multer::parse_boundary(v).ok())
        .ok_or_else(|| {
            Error::bad_request(
                "Multipart request is required: send multipart/form-data with the \
                 definition (.json, .event, .channel) or archive (.zip, .bar) as a file part",
            )
        })?;
    let limit = ctx.admin.max_deployment_bytes;
    // The file may use the whole limit; the other parts and the framing get a margin.
    let whole = limit + (64 << 10);
    if body::content_length(req.headers()).is_some_and(|n| n > whole) {
        return Err(Error::PayloadTooLarge { limit: whole });
    }
    let upload = read_upload(req.into_body(), boundary, limit, whole).await?;
    let deployment_name = q
        .get("deploymentName")
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .unwrap_or_else(|| {
            if upload.field_name.is_empty() {
                upload.file_name.clone().unwrap_or_default()
            } else {
                upload.field_name.clone()
            }
        });
    let category = q
        .get("category")
        .filter(|c| !c.is_empty())
        .map(str::to_owned);
    let tenant_id = upload.tenant_id.clone().unwrap_or_default();
    for (what, v) in [
        ("deployment name", Some(&deployment_name)),
        ("category", category.as_ref()),
        ("tenantId", Some(&tenant_id)),
    ] {
        if v.is_some_and(|v| v.chars().count() > MAX_NAME_CHARS) {
            return Err(Error::bad_request(format!(
                "the {what} is longer than {MAX_NAME_CHARS} characters"
            )));
        }
    }
    let budget = Budget {
        unpacked: limit.saturating_mul(UNPACK_FACTOR),
        definitions: limit,
    };
    let id = uuid::Uuid::new_v4().to_string();
    let data_dir = ctx.admin.data_dir().to_path_buf();
    let staged_id = id.clone();
    let unpacked =
        tokio::task::spawn_blocking(move || unpack(upload, &data_dir, &staged_id, budget))
            .await
            .map_err(Error::internal)?;
    let unpacked = match unpacked {
        Ok(u) => u,
        Err(Refused::Error(e)) => return Err(e),
        Err(Refused::Problems(p)) => return Ok(problems_response(&p)),
    };

    let admin = &ctx.admin;
    let _changes = admin.changes.lock().await;
    if let Err(e) = check_names(ctx, &unpacked) {
        // Dropping the staging folder removes it: blocking work.
        let _ = tokio::task::spawn_blocking(move || drop(unpacked)).await;
        return Err(e);
    }
    let deployment = Deployment {
        id: id.clone(),
        name: deployment_name,
        category,
        tenant_id,
        deploy_time_ms: now_ms(),
        resources: unpacked
            .files
            .iter()
            .map(|f| Resource {
                name: f.name.clone(),
                mime_type: media_type(&f.name),
                size: f.size,
            })
            .collect(),
    };
    let (versions, registered): (Vec<ServiceVersion>, Vec<EventRegistryDefinition>) = {
        let st = admin.lock();
        let versions = unpacked
            .definitions
            .iter()
            .map(|(resource, def)| ServiceVersion {
                id: uuid::Uuid::new_v4().to_string(),
                key: def.name.clone(),
                version: st.newest(&def.name).map_or(1, |s| s.version + 1),
                description: def.description.clone(),
                deployment_id: id.clone(),
                resource_name: resource.clone(),
            })
            .collect();
        let event_docs = unpacked
            .events
            .iter()
            .map(|(r, m)| (DefinitionKind::Event, r, &m.key, &m.document));
        let channel_docs = unpacked
            .channels
            .iter()
            .map(|(r, m)| (DefinitionKind::Channel, r, &m.key, &m.document));
        let registered = event_docs
            .chain(channel_docs)
            .map(|(kind, resource, key, doc)| EventRegistryDefinition {
                id: uuid::Uuid::new_v4().to_string(),
                kind,
                key: key.clone(),
                version: st.newest_definition(kind, key).map_or(1, |v| v + 1),
                name: doc_text(doc, "name"),
                category: doc_text(doc, "category"),
                description: doc_text(doc, "description"),
                deployment_id: id.clone(),
                resource_name: resource.clone(),
            })
            .collect();
        (versions, registered)
    };

    // 1. the folder
    let (staging, files, definitions) =
        (unpacked.staging, unpacked.files.len(), unpacked.definitions);
    let models = unpacked
        .events
        .into_iter()
        .map(|(_, m)| super::Model::Event(m))
        .chain(
            unpacked
                .channels
                .into_iter()
                .map(|(_, m)| super::Model::Channel(Box::new(m))),
        );
    let dir = tokio::task::spawn_blocking(move || staging.commit())
        .await
        .map_err(Error::internal)?
        .map_err(|e| Error::io(WRITE_FILES, &e))?;
    let discard = |admin: Arc<super::Admin>, id: String| async move {
        let dir = admin.data_dir().to_path_buf();
        let _ = tokio::task::spawn_blocking(move || store::remove_deployment_dir(&dir, &id)).await;
    };

    // 2. the mount (a deployment of event registry definitions alone mounts nothing)
    let defs: Vec<LoadedDefinition> = definitions
        .into_iter()
        .map(|(resource, definition)| LoadedDefinition {
            definition,
            source: resource,
            base_dir: dir.clone(),
        })
        .collect();
    if !defs.is_empty() {
        let mounts = Arc::clone(&admin.mounts);
        let mounted = tokio::task::spawn_blocking(move || mounts.mount(defs))
            .await
            .map_err(Error::internal)?;
        if let Err(p) = mounted {
            discard(Arc::clone(admin), id).await;
            return Ok(problems_response(&p));
        }
    }

    // 3. the record
    let (d, mut v, mut e) = (deployment.clone(), versions.clone(), registered.clone());
    let inserted = admin
        .db(move |r| r.insert_deployment(&d, &mut v, &mut e).map(|()| (v, e)))
        .await;
    let (versions, registered) = match inserted {
        Ok(numbered) => numbered,
        Err(e) => {
            let keys: Vec<String> = versions.iter().map(|s| s.key.clone()).collect();
            let a = Arc::clone(admin);
            let _ = tokio::task::spawn_blocking(move || a.reconcile(&keys)).await;
            discard(Arc::clone(admin), id).await;
            return Err(e);
        }
    };
    let definitions = registered.len();
    {
        let mut st = admin.lock();
        for s in &versions {
            st.services.insert(s.id.clone(), s.clone());
        }
        for (d, model) in registered.into_iter().zip(models) {
            st.add_definition(d, model, &deployment.tenant_id);
        }
        st.deployments.insert(id.clone(), deployment);
    }
    // 4. the event registry (still under the change lock: installs are ordered)
    admin.install_catalog();
    tracing::info!(deployment = %id, services = versions.len(), definitions, files,
        "Deployment mounted.");
    let st = admin.lock();
    let d = st
        .deployments
        .get(&id)
        .expect("the deployment was inserted just above, under the change lock");
    let answer = render(ctx, &st, d, repo);
    let mut resp = body::json_response(StatusCode::CREATED, &answer);
    if let Some(Ok(v)) = answer["url"].as_str().map(HeaderValue::from_str) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

/// Refuses names that would clash with what is mounted: a service of the operations
/// folder, or a deployed service whose name differs only in case (names are unique).
fn check_names(ctx: &Ctx, unpacked: &Unpacked) -> Result<()> {
    let st = ctx.admin.lock();
    for (resource, def) in &unpacked.definitions {
        let lower = def.name.to_lowercase();
        if let Some(s) = st.static_names.iter().find(|s| s.to_lowercase() == lower) {
            return Err(Error::conflict(format!(
                "{resource}: service '{}' clashes with service '{s}' of the operations folder, \
                 which a deployment cannot replace",
                def.name
            )));
        }
        if let Some(s) = st
            .services
            .values()
            .find(|s| s.key != def.name && s.key.to_lowercase() == lower)
        {
            return Err(Error::conflict(format!(
                "{resource}: service '{}' clashes with the deployed service '{}' \
                 (names differ only in case); deploy it as '{}' to make a new version",
                def.name, s.key, s.key
            )));
        }
    }
    Ok(())
}

/// Reads the multipart body: the first file part and the `tenantId` field.
async fn read_upload(body: ReqBody, boundary: String, limit: u64, whole: u64) -> Result<Upload> {
    let stream = BodyStream::new(body)
        .try_filter_map(|frame| futures_util::future::ready(Ok(frame.into_data().ok())));
    let constraints = multer::Constraints::new().size_limit(
        multer::SizeLimit::new()
            .whole_stream(whole)
            .per_field(limit)
            .for_field("tenantId", MAX_FORM_FIELD_BYTES),
    );
    let mut mp = multer::Multipart::with_constraints(stream, boundary, constraints);
    let mut file: Option<(String, Option<String>, Bytes)> = None;
    let mut tenant_id = None;
    while let Some(field) = mp.next_field().await.map_err(body::multer_error)? {
        let name = field.name().unwrap_or_default().to_owned();
        if field.file_name().is_some() {
            if file.is_none() {
                let file_name = field.file_name().map(str::to_owned);
                let bytes = field.bytes().await.map_err(body::multer_error)?;
                file = Some((name, file_name, bytes));
            }
        } else if name == "tenantId" {
            tenant_id = Some(
                field
                    .text()
                    .await
                    .map_err(body::multer_error)?
                    .trim()
                    .to_owned(),
            );
        }
    }
    let (field_name, file_name, bytes) = file.ok_or_else(|| {
        Error::bad_request(
            "Multipart request with file content is required: no part carries a filename \
             (with curl: -F 'name.json=@file.json')",
        )
    })?;
    if bytes.is_empty() {
        return Err(Error::bad_request(format!(
            "the uploaded file '{}' is empty",
            file_name.as_deref().unwrap_or(&field_name)
        )));
    }
    Ok(Upload {
        field_name,
        file_name,
        bytes,
        tenant_id,
    })
}

/// Why an upload was refused: a plain error, or the definitions' problems.
enum Refused {
    Error(Error),
    Problems(Problems),
}

impl From<Error> for Refused {
    fn from(e: Error) -> Self {
        Refused::Error(e)
    }
}

/// What a failed write of a deployment's files says (507 on a full disk).
const WRITE_FILES: &str = "the deployment's files cannot be written";

/// A definition's resource name, kind and bytes, held in memory until parsed.
#[derive(Debug)]
struct Source {
    name: String,
    kind: SourceKind,
    bytes: Bytes,
}

/// What a resource held in memory defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SourceKind {
    /// A service definition: a `.json` (at the top level of an archive).
    Service,
    /// An EventModel: a `.event`, anywhere in an archive.
    Event,
    /// A ChannelModel: a `.channel`, anywhere in an archive.
    Channel,
}

impl SourceKind {
    /// What the zip entry `name` (a `/`-separated path) defines, if anything. Hidden files
    /// (`._x.event`, as archivers of some systems add) define nothing.
    fn of_entry(name: &str) -> Option<SourceKind> {
        let file = name.rsplit('/').next().unwrap_or(name);
        if file.starts_with('.') {
            return None;
        }
        let lower = file.to_ascii_lowercase();
        if lower.ends_with(".json") && !name.contains('/') {
            Some(SourceKind::Service)
        } else if lower.ends_with(".event") {
            Some(SourceKind::Event)
        } else if lower.ends_with(".channel") {
            Some(SourceKind::Channel)
        } else {
            None
        }
    }
}

/// What unpacking an upload may take.
#[derive(Debug, Clone, Copy)]
struct Budget {
    /// The bytes a `.zip` may inflate to, in all (on disk).
    unpacked: u64,
    /// The bytes of the definitions of a `.zip`, in all: the only files held in memory.
    definitions: u64,
}

/// Turns the upload into files in the staging folder of deployment `id` and parsed,
/// validated definitions (blocking). On any refusal the staging folder is removed.
fn unpack(upload: Upload, data_dir: &Path, id: &str, budget: Budget) -> Result<Unpacked, Refused> {
    let kind = [
        upload.file_name.as_deref(),
        Some(upload.field_name.as_str()),
    ]
    .into_iter()
    .flatten()
    .find_map(|n| Kind::of_name(&n.to_ascii_lowercase()))
    .ok_or_else(|| {
        Error::bad_request(format!(
            "File must be of type .event, .channel, .json, .zip or .bar; got '{}'",
            shown(upload.file_name.as_deref().unwrap_or(&upload.field_name))
        ))
    })?;
    // Names are checked before anything touches the disk.
    let single = match kind {
        Kind::Single(k) => Some((resource_name(&upload, k.default_name())?, k)),
        Kind::Archive => None,
    };
    let staging = Staging::new(data_dir, id).map_err(|e| Error::io(WRITE_FILES, &e))?;
    let (files, sources): (Vec<UnpackedFile>, Vec<Source>) = match single {
        Some((name, kind)) => {
            let mut f = staging
                .create(&name, None)
                .map_err(|e| Error::io(WRITE_FILES, &e))?;
            f.write_all(&upload.bytes)
                .and_then(|()| f.finish())
                .map_err(|e| Error::io(WRITE_FILES, &e))?;
            let file = UnpackedFile {
                name: name.clone(),
                size: upload.bytes.len() as u64,
            };
            let source = Source {
                name,
                kind,
                bytes: upload.bytes,
            };
            (vec![file], vec![source])
        }
        None => {
            let (files, defs) = unzip(&upload.bytes, &staging, budget)?;
            if defs.is_empty() {
                return Err(Error::bad_request(
                    "the archive holds no service definition (*.json at the top level), no \
                     event definition (*.event) and no channel definition (*.channel)",
                )
                .into());
            }
            (files, defs)
        }
    };
    let parsed = parse_sources(sources).map_err(Refused::Problems)?;
    Ok(Unpacked {
        staging,
        files,
        definitions: parsed.services,
        events: parsed.events,
        channels: parsed.channels,
    })
}

/// The definitions of an upload, parsed.
#[derive(Debug, Default)]
struct Parsed {
    services: Vec<(String, ServiceDefinition)>,
    events: Vec<(String, EventModel)>,
    channels: Vec<(String, ChannelModel)>,
}

/// Parses every source by its kind and checks them as one set: the services together
/// (`validate_set`), and each event and channel key defined once.
///
/// # Errors
///
/// Every problem of every source.
fn parse_sources(sources: Vec<Source>) -> Result<Parsed, Problems> {
    let mut problems = Vec::new();
    let mut loaded = Vec::new();
    let mut parsed = Parsed::default();
    for Source { name, kind, bytes } in sources {
        match kind {
            SourceKind::Service => match parse_definition(&name, &bytes) {
                Ok(definition) => loaded.push(LoadedDefinition {
                    definition,
                    source: name,
                    base_dir: PathBuf::new(),
                }),
                Err(p) => problems.extend(p.0),
            },
            SourceKind::Event => match parse_event(&name, &bytes) {
                Ok(m) => {
                    let first = parsed.events.iter().find(|(_, e)| e.key == m.key);
                    if let Some((other, _)) = first {
                        problems.push(twice("event", &name, &m.key, other));
                    } else {
                        parsed.events.push((name, m));
                    }
                }
                Err(p) => problems.extend(p),
            },
            SourceKind::Channel => match parse_channel(&name, &bytes) {
                Ok(m) => {
                    let first = parsed.channels.iter().find(|(_, c)| c.key == m.key);
                    if let Some((other, _)) = first {
                        problems.push(twice("channel", &name, &m.key, other));
                    } else {
                        parsed.channels.push((name, m));
                    }
                }
                Err(p) => problems.extend(p),
            },
        }
    }
    problems.extend(validate_set(&loaded).0);
    if !problems.is_empty() {
        return Err(Problems(problems));
    }
    parsed.services = loaded
        .into_iter()
        .map(|l| (l.source, l.definition))
        .collect();
    Ok(parsed)
}

/// The problem of a `what` key that resource `name` defines again after `first`.
fn twice(what: &str, name: &str, key: &str, first: &str) -> Problem {
    Problem::new(
        name,
        "/key",
        format!(
            "{what} key '{key}' is already defined by '{first}' of this deployment; a \
             deployment defines each key once"
        ),
    )
}

/// The type of an upload, from its file (or field) name.
#[derive(Clone, Copy)]
enum Kind {
    /// One definition, written as uploaded.
    Single(SourceKind),
    /// A `.zip` or `.bar`.
    Archive,
}

impl Kind {
    /// The type named by the lower-case name `lower`.
    fn of_name(lower: &str) -> Option<Kind> {
        Some(if lower.ends_with(".json") {
            Kind::Single(SourceKind::Service)
        } else if lower.ends_with(".event") {
            Kind::Single(SourceKind::Event)
        } else if lower.ends_with(".channel") {
            Kind::Single(SourceKind::Channel)
        } else if lower.ends_with(".zip") || lower.ends_with(".bar") {
            Kind::Archive
        } else {
            return None;
        })
    }
}

impl SourceKind {
    /// The resource name of an upload of this kind that names no usable file.
    fn default_name(self) -> &'static str {
        match self {
            SourceKind::Service => "definition.json",
            SourceKind::Event => "definition.event",
            SourceKind::Channel => "definition.channel",
        }
    }
}

/// The resource name of a single-file upload: the original file name without any folder
/// part or control characters, else the field name, else `default`.
///
/// # Errors
///
/// 400 when the name is longer than [`MAX_RESOURCE_SEGMENT_BYTES`].
fn resource_name(upload: &Upload, default: &str) -> Result<String> {
    let clean = |n: &str| -> Option<String> {
        let base = n.rsplit(['/', '\\']).next().unwrap_or(n);
        let s: String = base.chars().filter(|c| !c.is_control()).collect();
        let s = s.trim().to_owned();
        (!s.is_empty() && s != "." && s != ".." && !s.starts_with('.')).then_some(s)
    };
    let name = upload
        .file_name
        .as_deref()
        .and_then(clean)
        .or_else(|| clean(&upload.field_name))
        .unwrap_or_else(|| default.to_owned());
    if name.len() > MAX_RESOURCE_SEGMENT_BYTES {
        return Err(Error::bad_request(format!(
            "the file name '{}' is {} bytes long; at most {MAX_RESOURCE_SEGMENT_BYTES} bytes \
             are accepted",
            shown(&name),
            name.len()
        )));
    }
    Ok(name)
}

/// A name as a message shows it: at most 64 characters, so that a refusal of a long name
/// stays short.
fn shown(name: &str) -> Cow<'_, str> {
    match name.char_indices().nth(64) {
        Some((i, _)) => Cow::Owned(format!("{}…", &name[..i])),
        None => Cow::Borrowed(name),
    }
}

/// Refuses a `.zip` that may list more than [`MAX_ZIP_ENTRIES`] entries, before it is
/// parsed: every entry the parser reads starts with the central directory header
/// signature, so the signatures in the bytes bound the entries it would keep in memory,
/// whatever count the archive declares.
fn check_entry_count(bytes: &[u8]) -> Result<()> {
    const CENTRAL_HEADER: &[u8; 4] = b"PK\x01\x02";
    let mut count = 0usize;
    let mut rest = bytes;
    while let Some(i) = rest.iter().position(|&b| b == b'P') {
        if rest[i..].starts_with(CENTRAL_HEADER) {
            count += 1;
            if count > MAX_ZIP_ENTRIES {
                return Err(Error::bad_request(format!(
                    "the .zip has more than {MAX_ZIP_ENTRIES} entries; at most \
                     {MAX_ZIP_ENTRIES} are accepted"
                )));
            }
        }
        rest = &rest[i + 1..];
    }
    Ok(())
}

/// Checks the path of a zip entry: each part at most [`MAX_RESOURCE_SEGMENT_BYTES`], the
/// whole at most [`MAX_RESOURCE_NAME_BYTES`].
fn check_entry_name(name: &str) -> Result<()> {
    if name.len() > MAX_RESOURCE_NAME_BYTES {
        return Err(Error::bad_request(format!(
            "zip entry '{}' has a path of {} bytes; at most {MAX_RESOURCE_NAME_BYTES} bytes \
             are accepted",
            shown(name),
            name.len()
        )));
    }
    if let Some(part) = name
        .split('/')
        .find(|p| p.len() > MAX_RESOURCE_SEGMENT_BYTES)
    {
        return Err(Error::bad_request(format!(
            "zip entry '{}' has a file or folder name of {} bytes; at most \
             {MAX_RESOURCE_SEGMENT_BYTES} bytes are accepted",
            shown(name),
            part.len()
        )));
    }
    Ok(())
}

/// A reader that yields at most what is left of a shared budget, and fails as soon as its
/// source has more: the only way an entry's bytes are read, so that no declared size is
/// ever trusted and nothing is inflated past the limit.
struct Bounded<'a, R> {
    inner: R,
    left: &'a mut u64,
    exceeded: bool,
}

impl<'a, R: Read> Bounded<'a, R> {
    fn new(inner: R, left: &'a mut u64) -> Self {
        Bounded {
            inner,
            left,
            exceeded: false,
        }
    }
}

impl<R: Read> Read for Bounded<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if *self.left == 0 {
            // One byte more than the budget says that the source goes on.
            let mut probe = [0u8; 1];
            let n = self.inner.read(&mut probe)?;
            if n > 0 {
                self.exceeded = true;
                return Err(std::io::Error::other("the unpack budget is exceeded"));
            }
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(*self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        *self.left -= n as u64;
        Ok(n)
    }
}

/// Reads every file entry of a zip into `staging`, refusing entries that would leave the
/// folder, links, duplicates, names over the limits, and archives that inflate past
/// `budget` (checked while inflating, never from the sizes the archive declares). Answers
/// the files and, held in memory, the bytes of the definitions (the top-level `*.json`
/// files, the `*.event` and `*.channel` files anywhere).
fn unzip(
    bytes: &[u8],
    staging: &Staging,
    budget: Budget,
) -> Result<(Vec<UnpackedFile>, Vec<Source>)> {
    let bad = |msg: String| Error::bad_request(msg);
    check_entry_count(bytes)?;
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| bad(format!("the file is not a valid .zip archive: {e}")))?;
    if archive.len() > MAX_ZIP_ENTRIES {
        return Err(bad(format!(
            "the archive has {} entries; at most {MAX_ZIP_ENTRIES} are accepted",
            archive.len()
        )));
    }
    let mut unpacked_left = budget.unpacked;
    let mut definitions_left = budget.definitions;
    let mut seen = HashSet::new();
    let mut files = Vec::new();
    let mut definitions = Vec::new();
    let mut chunk = vec![0u8; UNPACK_CHUNK];
    for i in 0..archive.len() {
        let mut entry = archive
            .by_index(i)
            .map_err(|e| bad(format!("zip entry {i} cannot be read: {e}")))?;
        let raw = entry.name().to_owned();
        if raw.starts_with("__MACOSX/") || entry.is_dir() {
            continue;
        }
        if entry.is_symlink() {
            return Err(bad(format!(
                "zip entry '{}' is a symbolic link; only files and folders are accepted",
                shown(&raw)
            )));
        }
        let path = entry.enclosed_name().ok_or_else(|| {
            bad(format!(
                "zip entry '{}' points outside the deployment",
                shown(&raw)
            ))
        })?;
        let parts: Option<Vec<&str>> = path.components().map(|c| c.as_os_str().to_str()).collect();
        let name = parts
            .ok_or_else(|| {
                bad(format!(
                    "zip entry '{}' has a name that is not UTF-8",
                    shown(&raw)
                ))
            })?
            .join("/");
        if name.is_empty() {
            continue;
        }
        check_entry_name(&name)?;
        if !seen.insert(name.clone()) {
            return Err(bad(format!("zip entry '{}' appears twice", shown(&name))));
        }
        let held_as = SourceKind::of_entry(&name);
        let is_definition = held_as.is_some();
        let mode = entry.unix_mode();
        let mut file = staging
            .create(&name, mode)
            .map_err(|e| Error::io(WRITE_FILES, &e))?;
        let mut held = Vec::new();
        let before = unpacked_left;
        {
            let mut reader = Bounded::new(&mut entry, &mut unpacked_left);
            loop {
                let n = match reader.read(&mut chunk) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(_) if reader.exceeded => {
                        return Err(Error::TooLarge(
                            format!(
                                "the .zip unpacks to more than {} bytes ({UNPACK_FACTOR} times \
                                 the deployment upload limit)",
                                budget.unpacked
                            )
                            .into(),
                        ))
                    }
                    Err(e) => {
                        return Err(bad(format!(
                            "zip entry '{}' cannot be unpacked: {e}",
                            shown(&name)
                        )))
                    }
                };
                if is_definition {
                    if n as u64 > definitions_left {
                        return Err(Error::TooLarge(
                            format!(
                                "the definitions of the .zip take more than {} bytes (the \
                                 deployment upload limit)",
                                budget.definitions
                            )
                            .into(),
                        ));
                    }
                    definitions_left -= n as u64;
                    held.extend_from_slice(&chunk[..n]);
                }
                file.write_all(&chunk[..n])
                    .map_err(|e| Error::io(WRITE_FILES, &e))?;
            }
        }
        file.finish().map_err(|e| Error::io(WRITE_FILES, &e))?;
        files.push(UnpackedFile {
            name: name.clone(),
            size: before - unpacked_left,
        });
        if let Some(kind) = held_as {
            definitions.push(Source {
                name,
                kind,
                bytes: Bytes::from(held),
            });
        }
    }
    Ok((files, definitions))
}

/// The 400 answer of an invalid deployment: every problem, in the message and as a list.
fn problems_response(p: &Problems) -> Response<ResBody> {
    let listed: Vec<String> = p.0.iter().map(Problem::to_string).collect();
    body::json_response(
        StatusCode::BAD_REQUEST,
        &json!({
            "statusCode": 400,
            "errorMessage": format!(
                "the deployment is invalid and nothing of it was mounted ({} problem{}): {}",
                listed.len(),
                if listed.len() == 1 { "" } else { "s" },
                listed.join("; ")
            ),
            "problems": p.0.iter().map(|p| {
                let mut one = json!({"resource": p.file, "path": p.path, "message": p.message});
                if let Some((line, column)) = p.at {
                    one["line"] = json!(line);
                    one["column"] = json!(column);
                }
                one
            }).collect::<Vec<_>>(),
        }),
    )
}

// === rendering ===

/// The deployment JSON (Flowable's fields, plus the service versions and the event and
/// channel definitions it made, each as `{id, key, version}`), its `url` under `repo`.
fn render(ctx: &Ctx, st: &super::State, d: &Deployment, repo: &str) -> Value {
    let mut services: Vec<&ServiceVersion> = st
        .services
        .values()
        .filter(|s| s.deployment_id == d.id)
        .collect();
    services.sort_by(|a, b| a.key.cmp(&b.key));
    let registered = st.definitions_of(&d.id);
    let listed = |kind: DefinitionKind| {
        registered
            .iter()
            .filter(|e| e.kind == kind)
            .map(|e| json!({"id": e.id, "key": e.key, "version": e.version}))
            .collect::<Vec<_>>()
    };
    json!({
        "id": d.id,
        "name": d.name,
        "deploymentTime": iso8601(d.deploy_time_ms),
        "category": d.category,
        "url": format!("{}{repo}/deployments/{}", ctx.base_url, enc(&d.id)),
        "parentDeploymentId": null,
        "tenantId": d.tenant_id,
        "services": services.iter().map(|s| json!({
            "id": s.id,
            "key": s.key,
            "version": s.version,
            "path": super::services::service_path(&s.key),
        })).collect::<Vec<_>>(),
        "eventDefinitions": listed(DefinitionKind::Event),
        "channelDefinitions": listed(DefinitionKind::Channel),
    })
}

/// The media type of resource `name`: `.event` and `.channel` files are JSON documents,
/// the rest goes by its extension.
fn media_type(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".event") || lower.ends_with(".channel") {
        return "application/json".to_owned();
    }
    mime_guess::from_path(name)
        .first_or_octet_stream()
        .essence_str()
        .to_owned()
}

/// The text of `field` of a definition document, when it is a non-empty string.
fn doc_text(doc: &Value, field: &str) -> Option<String> {
    doc.get(field)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn no_deployment(id: &str) -> Error {
    Error::not_found(format!("Could not find a deployment with id '{id}'."))
}

/// A path segment, percent-encoded (`/` too).
pub(super) fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC)
        .to_string()
        .replace("%2D", "-")
        .replace("%2E", ".")
        .replace("%5F", "_")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, bytes) in entries {
            w.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            std::io::Write::write_all(&mut w, bytes).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    const BUDGET: Budget = Budget {
        unpacked: 1 << 20,
        definitions: 1 << 20,
    };

    /// Unzips into a fresh staging folder; the folder lives as long as the answer.
    fn unzip_in(z: &[u8], budget: Budget) -> (tempfile::TempDir, Result<Vec<String>>) {
        let dir = tempfile::tempdir().unwrap();
        let staging = Staging::new(dir.path(), "t").unwrap();
        let out = unzip(z, &staging, budget)
            .map(|(files, _)| files.into_iter().map(|f| f.name).collect());
        if out.is_ok() {
            staging.commit().unwrap();
        }
        (dir, out)
    }

    #[test]
    fn unzip_reads_files_and_refuses_escapes() {
        let z = zip_of(&[("a.json", b"{}"), ("scripts/x.sh", b"echo")]);
        let (dir, names) = unzip_in(&z, BUDGET);
        assert_eq!(names.unwrap(), ["a.json", "scripts/x.sh"]);
        let on_disk = dir.path().join("deployments/t/scripts/x.sh");
        assert_eq!(std::fs::read(on_disk).unwrap(), b"echo");
        let z = zip_of(&[("../evil.json", b"{}")]);
        let e = unzip_in(&z, BUDGET).1.unwrap_err().to_string();
        assert!(e.contains("outside"), "{e}");
        assert!(unzip_in(b"not a zip", BUDGET).1.is_err());
    }

    #[test]
    fn unzip_stops_at_the_unpacked_limit() {
        let big = vec![b'x'; 10_000];
        let z = zip_of(&[("data/a.bin", &big)]);
        let tight = Budget {
            unpacked: 9_999,
            ..BUDGET
        };
        let e = unzip_in(&z, tight).1.unwrap_err();
        assert_eq!(e.status(), 413);
        assert!(e.to_string().contains("9999 bytes"), "{e}");
        let exact = Budget {
            unpacked: 10_000,
            ..BUDGET
        };
        assert_eq!(unzip_in(&z, exact).1.unwrap().len(), 1);
        // Definitions, the only files held in memory, have a budget of their own.
        let z = zip_of(&[("a.json", &big)]);
        let held = Budget {
            definitions: 9_999,
            ..BUDGET
        };
        assert_eq!(unzip_in(&z, held).1.unwrap_err().status(), 413);
    }

    #[test]
    fn a_zip_bomb_is_refused_at_the_budget_and_leaves_nothing() {
        // 8 MiB of zeros deflate to about 8 KiB; the budget is 1 MiB.
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(true);
        w.start_file("bomb.bin", opts).unwrap();
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..8 {
            std::io::Write::write_all(&mut w, &zeros).unwrap();
        }
        let z = w.finish().unwrap().into_inner();
        assert!(z.len() < 1 << 20, "{}", z.len());
        let dir = tempfile::tempdir().unwrap();
        let staging = Staging::new(dir.path(), "bomb").unwrap();
        let e = unzip(&z, &staging, BUDGET).unwrap_err();
        assert_eq!(e.status(), 413);
        // What was written before the refusal is at most the budget.
        let part = dir.path().join("deployments/.tmp-bomb/bomb.bin");
        assert!(std::fs::metadata(&part).unwrap().len() <= BUDGET.unpacked);
        drop(staging);
        assert!(!dir.path().join("deployments/.tmp-bomb").exists());
    }

    #[test]
    fn the_bounded_reader_never_yields_past_its_budget() {
        let mut left = 1000u64;
        let mut reader = Bounded::new(std::io::repeat(b'x'), &mut left);
        let mut buf = vec![0u8; 64 << 10];
        let mut total = 0usize;
        let err = loop {
            match reader.read(&mut buf) {
                Ok(n) => {
                    assert!(n > 0, "an endless source never ends");
                    total += n;
                }
                Err(e) => break e,
            }
        };
        assert_eq!(total, 1000);
        assert!(reader.exceeded, "{err}");
        // A source that ends exactly at the budget is read whole, without error.
        let mut left = 3u64;
        let mut reader = Bounded::new(&b"abc"[..], &mut left);
        let mut out = Vec::new();
        reader.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"abc");
    }

    #[test]
    fn entry_counts_are_bounded_before_parsing() {
        let mut bytes = Vec::new();
        for _ in 0..=MAX_ZIP_ENTRIES {
            bytes.extend_from_slice(b"PK\x01\x02");
        }
        let e = check_entry_count(&bytes).unwrap_err();
        assert_eq!(e.status(), 400);
        assert!(e.to_string().contains("10000"), "{e}");
        assert!(check_entry_count(&bytes[4..]).is_ok());
    }

    #[test]
    fn long_entry_names_are_400_naming_the_limit() {
        let long = format!("{}.json", "a".repeat(300));
        let z = zip_of(&[(long.as_str(), b"{}")]);
        let e = unzip_in(&z, BUDGET).1.unwrap_err();
        assert_eq!(e.status(), 400);
        assert!(e.to_string().contains("255 bytes"), "{e}");
        assert!(e.to_string().len() < 300, "{e}");
        let deep = format!("{}x.sh", "abcdefgh/".repeat(120));
        let z = zip_of(&[("a.json", b"{}"), (deep.as_str(), b"echo")]);
        let e = unzip_in(&z, BUDGET).1.unwrap_err();
        assert_eq!(e.status(), 400);
        assert!(e.to_string().contains("1024 bytes"), "{e}");
    }

    #[test]
    fn resource_names_drop_folders_and_controls() {
        let up = |file: Option<&str>, field: &str| Upload {
            field_name: field.into(),
            file_name: file.map(Into::into),
            bytes: Bytes::new(),
            tenant_id: None,
        };
        let name = |file, field| resource_name(&up(file, field), "definition.json").unwrap();
        assert_eq!(name(Some("../../x/Hot.json"), "f"), "Hot.json");
        assert_eq!(name(Some("C:\\a\\b.json"), "f"), "b.json");
        assert_eq!(name(Some(".."), "hot.json"), "hot.json");
        assert_eq!(name(None, ""), "definition.json");
        let long = format!("{}.json", "d".repeat(300));
        let e = resource_name(&up(Some(&long), "f"), "definition.json").unwrap_err();
        assert_eq!(e.status(), 400);
        assert!(e.to_string().contains("255 bytes"), "{e}");
    }

    #[test]
    fn archives_hold_event_and_channel_definitions_anywhere() {
        assert_eq!(SourceKind::of_entry("a.json"), Some(SourceKind::Service));
        assert_eq!(SourceKind::of_entry("sub/a.json"), None);
        assert_eq!(
            SourceKind::of_entry("orders/o.EVENT"),
            Some(SourceKind::Event)
        );
        assert_eq!(
            SourceKind::of_entry("a/b/hook.channel"),
            Some(SourceKind::Channel)
        );
        assert_eq!(SourceKind::of_entry("orders/._o.event"), None);
        assert_eq!(SourceKind::of_entry("notes.txt"), None);
        let z = zip_of(&[("orders/o.event", b"{}"), ("c.channel", b"[]")]);
        let dir = tempfile::tempdir().unwrap();
        let staging = Staging::new(dir.path(), "t").unwrap();
        let (_, held) = unzip(&z, &staging, BUDGET).unwrap();
        let held: Vec<(&str, SourceKind)> =
            held.iter().map(|s| (s.name.as_str(), s.kind)).collect();
        assert_eq!(
            held,
            [
                ("orders/o.event", SourceKind::Event),
                ("c.channel", SourceKind::Channel)
            ]
        );
    }

    #[test]
    fn every_problem_of_every_source_is_listed_and_keys_are_defined_once() {
        let src = |name: &str, kind, v: Value| Source {
            name: name.into(),
            kind,
            bytes: Bytes::from(v.to_string()),
        };
        let event = json!({"key": "orderPlaced", "payload": []});
        let hook = json!({"key": "hook", "channelType": "inbound", "type": "http",
            "channelEventKeyDetection": {"fixedValue": "orderPlaced"}});
        let parsed = parse_sources(vec![
            src("a.event", SourceKind::Event, event.clone()),
            src("h.channel", SourceKind::Channel, hook.clone()),
        ])
        .unwrap();
        assert_eq!(parsed.events.len(), 1);
        assert_eq!(parsed.channels[0].0, "h.channel");
        let p = parse_sources(vec![
            src("a.event", SourceKind::Event, event.clone()),
            src("b/a.event", SourceKind::Event, event),
            src("h.channel", SourceKind::Channel, hook.clone()),
            src("h2.channel", SourceKind::Channel, hook),
            src("bad.event", SourceKind::Event, json!({"payload": 3})),
        ])
        .unwrap_err();
        let at: Vec<(&str, &str)> =
            p.0.iter()
                .map(|p| (p.file.as_str(), p.path.as_str()))
                .collect();
        assert_eq!(
            at,
            [
                ("b/a.event", "/key"),
                ("h2.channel", "/key"),
                ("bad.event", "/key"),
                ("bad.event", "/payload")
            ],
            "{p}"
        );
        assert!(p.0[0].message.contains("'a.event'"), "{p}");
    }
}
