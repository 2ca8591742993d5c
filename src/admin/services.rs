//! Service definitions (every deployed version of every service) and the routes list.
//!
//! A service version is one definition file of one deployment; its `key` (and `name`) is
//! the service name, its `version` counts deployments of that name. The newest version is
//! the mounted one; `mounted` in the JSON says what the live routing snapshot holds.
//! Services of the operations folder are not versions: they appear in the routes list
//! only, with `version: null`.

use std::path::Path;

use http::{Request, Response, StatusCode};
use serde_json::{json, Value};

use super::deployments::{enc, resource_response};
use super::paging::{cmp_opt, like, Page, Query};
use super::{Ctx, State};
use crate::definition::parse_definition;
use crate::error::{Error, Result};
use crate::http::body::{self, ReqBody, ResBody};
use crate::router::SERVICE_PREFIX;
use crate::store::deployments as store;
use crate::store::registry::ServiceVersion;

/// `GET /api/repository/services`.
pub(super) fn list(ctx: &Ctx, req: &Request<ReqBody>) -> Result<Response<ResBody>> {
    let q = Query::parse(req.uri().query());
    let page = Page::from_query(
        &q,
        &[
            "name",
            "id",
            "key",
            "version",
            "category",
            "deploymentId",
            "tenantId",
        ],
        &[],
        "name",
    )?;
    let version = q.integer("version")?;
    let latest = q.boolean("latest")?.unwrap_or(false);
    if q.get("latest").is_some() && q.get("key").is_none() && q.get("keyLike").is_none() {
        return Err(Error::bad_request(
            "Value for param 'latest' can only be used together with 'key' or 'keyLike'",
        ));
    }
    let snapshot = ctx.admin.mounts.snapshot();
    let st = ctx.admin.lock();
    let tenant = |s: &ServiceVersion| -> (&str, Option<&str>) {
        st.deployments
            .get(&s.deployment_id)
            .map_or(("", None), |d| {
                (d.tenant_id.as_str(), d.category.as_deref())
            })
    };
    let items: Vec<&ServiceVersion> = st
        .services
        .values()
        .filter(|s| q.get("key").is_none_or(|v| s.key == v))
        .filter(|s| q.get("keyLike").is_none_or(|v| like(v, &s.key)))
        .filter(|s| q.get("name").is_none_or(|v| s.key == v))
        .filter(|s| q.get("nameLike").is_none_or(|v| like(v, &s.key)))
        .filter(|s| version.is_none_or(|v| s.version == i64::from(v)))
        .filter(|s| q.get("deploymentId").is_none_or(|v| s.deployment_id == v))
        .filter(|s| q.get("resourceName").is_none_or(|v| s.resource_name == v))
        .filter(|s| {
            q.get("resourceNameLike")
                .is_none_or(|v| like(v, &s.resource_name))
        })
        .filter(|s| q.get("tenantId").is_none_or(|v| tenant(s).0 == v))
        .filter(|s| q.get("tenantIdLike").is_none_or(|v| like(v, tenant(s).0)))
        .filter(|s| q.get("category").is_none_or(|v| tenant(s).1 == Some(v)))
        .filter(|s| {
            q.get("categoryLike")
                .is_none_or(|v| tenant(s).1.is_some_and(|c| like(v, c)))
        })
        .filter(|s| {
            q.get("categoryNotEquals")
                .is_none_or(|v| tenant(s).1 != Some(v))
        })
        .filter(|s| !latest || st.newest(&s.key).is_some_and(|n| n.id == s.id))
        .collect();
    let answer = page.envelope(
        items,
        |a, b, sort| {
            let o = match sort {
                "id" => a.id.cmp(&b.id),
                "version" => a.version.cmp(&b.version),
                "category" => cmp_opt(tenant(a).1, tenant(b).1),
                "deploymentId" => a.deployment_id.cmp(&b.deployment_id),
                "tenantId" => tenant(a).0.cmp(tenant(b).0),
                // name and key are both the service name
                _ => a.key.cmp(&b.key),
            };
            o.then_with(|| a.key.cmp(&b.key))
                .then_with(|| a.version.cmp(&b.version))
                .then_with(|| a.id.cmp(&b.id))
        },
        |s| render(ctx, &st, &snapshot, s),
    );
    Ok(body::json_response(StatusCode::OK, &answer))
}

/// `GET /api/repository/services/{id}`.
pub(super) fn get(ctx: &Ctx, id: &str) -> Result<Response<ResBody>> {
    let snapshot = ctx.admin.mounts.snapshot();
    let st = ctx.admin.lock();
    let s = st.services.get(id).ok_or_else(|| no_service(id))?;
    Ok(body::json_response(
        StatusCode::OK,
        &render(ctx, &st, &snapshot, s),
    ))
}

/// `GET /api/repository/services/{id}/resourcedata`: the definition file as deployed.
pub(super) async fn resource_data(ctx: &Ctx, id: &str) -> Result<Response<ResBody>> {
    let s = find(ctx, id)?;
    let path = store::deployment_dir(ctx.admin.data_dir(), &s.deployment_id).join(&s.resource_name);
    resource_response(path, &s.resource_name, "application/json").await
}

/// `GET /api/repository/services/{id}/model`: the parsed definition.
pub(super) async fn model(ctx: &Ctx, id: &str) -> Result<Response<ResBody>> {
    let s = find(ctx, id)?;
    let path = store::deployment_dir(ctx.admin.data_dir(), &s.deployment_id).join(&s.resource_name);
    let bytes = tokio::fs::read(&path)
        .await
        .map_err(|e| Error::internal(format!("{}: {e}", path.display())))?;
    let def = parse_definition(&s.resource_name, &bytes)
        .map_err(|p| Error::internal(format!("deployed definition no longer parses: {p}")))?;
    Ok(body::json_response(StatusCode::OK, &def))
}

/// `GET /api/repository/routes`: every URL the live snapshot answers, with the service
/// version behind it, in the envelope and with the paging of the other lists; `sort` is
/// `path` (default, then the method), `method`, `service` or `kind`.
///
/// Unlike the other lists, `size` defaults to every route: the listing is how an operator
/// (and a check) sees whether a URL is mounted, and a first page of ten would hide most of
/// them without saying so. `size` and `start` cut it as anywhere else.
pub(super) fn routes(ctx: &Ctx, req: &Request<ReqBody>) -> Result<Response<ResBody>> {
    let q = Query::parse(req.uri().query());
    let mut page = Page::from_query(&q, &["path", "method", "service", "kind"], &[], "path")?;
    if q.get("size").is_none() {
        page.size = usize::MAX;
    }
    let snapshot = ctx.admin.mounts.snapshot();
    let st = ctx.admin.lock();
    let deployments_dir = ctx.admin.data_dir().join(store::DEPLOYMENTS_DIR);
    // The snapshot lists them by path, then method: a stable sort keeps that within ties.
    let v = page.envelope(
        snapshot.routes(),
        |a, b, sort| match sort {
            "method" => a.method.cmp(b.method),
            "service" => a.service.cmp(&b.service),
            "kind" => a.kind.cmp(b.kind),
            _ => a.path.cmp(&b.path).then(a.method.cmp(b.method)),
        },
        |r| {
            let version = snapshot
                .service(&r.service)
                .and_then(|svc| mounted_version(&st, &deployments_dir, &r.service, &svc.base_dir));
            json!({
                "method": r.method,
                "path": r.path,
                "service": r.service,
                "kind": r.kind,
                "version": version.map(|s| s.version),
                "serviceId": version.map(|s| s.id.as_str()),
                "deploymentId": version.map(|s| s.deployment_id.as_str()),
            })
        },
    );
    Ok(body::json_response(StatusCode::OK, &v))
}

/// The deployed version a mounted service comes from, by the folder it was mounted from;
/// `None` for services of the operations folder.
fn mounted_version<'a>(
    st: &'a State,
    deployments_dir: &Path,
    key: &str,
    base_dir: &Path,
) -> Option<&'a ServiceVersion> {
    if base_dir.parent() != Some(deployments_dir) {
        return None;
    }
    let dep = base_dir.file_name()?.to_str()?;
    st.services
        .values()
        .find(|s| s.key == key && s.deployment_id == dep)
}

/// `/fs/{name}`, percent-encoded.
pub(super) fn service_path(key: &str) -> String {
    format!("{SERVICE_PREFIX}{}", enc(key))
}

fn find(ctx: &Ctx, id: &str) -> Result<ServiceVersion> {
    ctx.admin
        .lock()
        .services
        .get(id)
        .cloned()
        .ok_or_else(|| no_service(id))
}

fn no_service(id: &str) -> Error {
    Error::not_found(format!(
        "Could not find a service definition with id '{id}'."
    ))
}

/// The service version JSON (Flowable's definition fields, plus where it is mounted).
fn render(ctx: &Ctx, st: &State, snapshot: &crate::router::Snapshot, s: &ServiceVersion) -> Value {
    let d = st.deployments.get(&s.deployment_id);
    let dir = store::deployment_dir(ctx.admin.data_dir(), &s.deployment_id);
    let mounted = snapshot
        .service(&s.key)
        .is_some_and(|svc| svc.base_dir == dir);
    json!({
        "id": s.id,
        "url": format!("{}/api/repository/services/{}", ctx.base_url, enc(&s.id)),
        "key": s.key,
        "name": s.key,
        "description": s.description,
        "version": s.version,
        "category": d.and_then(|d| d.category.as_deref()),
        "resourceName": s.resource_name,
        "deploymentId": s.deployment_id,
        "parentDeploymentId": null,
        "tenantId": d.map_or("", |d| d.tenant_id.as_str()),
        "path": service_path(&s.key),
        "mounted": mounted,
    })
}
