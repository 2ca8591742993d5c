//! Flowable's Event Registry REST API at its own paths under `/event-registry-api/`, so that
//! a Flowable client finds what it expects where it expects it:
//!
//! - `event-registry-repository/deployments`: the same deployments as
//!   `/api/repository/deployments` (both views list, create and delete the same ones),
//!   their `url` fields under this repository; `/{id}/resources/{resourceId}` describes one
//!   resource;
//! - `event-registry-repository/event-definitions` and `channel-definitions`: every
//!   deployed version, with Flowable's filters (`definitions`);
//! - `event-registry-runtime/event-instances`: sends an event (`instances`);
//! - `event-registry-management/engine`: `{"name": "default", "version": "6.6.0"}`, the
//!   engine a Flowable client expects to talk to.
//!
//! Every endpoint takes HTTP Basic credentials of a user holding `access-rest-api`, as the
//! rest of the admin API does, and answers errors as `{statusCode, errorMessage}`; other
//! methods are 405 with `Allow`, other paths 404. Ids and resource names with `/` arrive
//! as `%2F`.

mod definitions;
mod instances;

use http::{Method, Request, Response, StatusCode};
use serde_json::json;

use super::deployments::{self, enc};
use super::{decode, Ctx};
use crate::error::{Error, Result};
use crate::event::{ChannelDefinition, EventDefinition};
use crate::http::body::{self, ReqBody, ResBody};

/// The URL prefix of the Event Registry REST API.
pub(crate) const PREFIX: &str = "/event-registry-api/";

/// The repository path: deployments and definitions answer with their `url` under it.
const REPOSITORY: &str = "/event-registry-api/event-registry-repository";

/// The engine a Flowable client is told it talks to (F22).
const ENGINE: (&str, &str) = ("default", "6.6.0");

/// Answers one request under [`PREFIX`].
pub(super) async fn route(ctx: &Ctx, req: Request<ReqBody>) -> Result<Response<ResBody>> {
    ctx.admin
        .directory()
        .authenticate_admin(req.headers())
        .await?;

    let path = req.uri().path().to_owned();
    let rest = path.strip_prefix(PREFIX).unwrap_or_default();
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let segs: Vec<&str> = rest.split('/').collect();
    let method = req.method().clone();
    let m = |allow: &'static str| Error::MethodNotAllowed { allow };
    let joined = |parts: &[&str]| -> String {
        parts
            .iter()
            .map(|s| decode(s))
            .collect::<Vec<_>>()
            .join("/")
    };
    match segs.as_slice() {
        ["event-registry-repository", "deployments"] => match method {
            Method::GET => deployments::list(ctx, &req, REPOSITORY),
            Method::POST => deployments::create(ctx, req, REPOSITORY).await,
            _ => Err(m("GET, POST")),
        },
        ["event-registry-repository", "deployments", id] => match method {
            Method::GET => deployments::get(ctx, &decode(id), REPOSITORY),
            Method::DELETE => deployments::delete(ctx, &decode(id)).await,
            _ => Err(m("GET, DELETE")),
        },
        ["event-registry-repository", "deployments", id, "resources"] => match method {
            Method::GET => deployments::resources(ctx, &decode(id), REPOSITORY),
            _ => Err(m("GET")),
        },
        ["event-registry-repository", "deployments", id, "resources", resource @ ..]
            if !resource.is_empty() =>
        {
            match method {
                Method::GET => resource_json(ctx, &decode(id), &joined(resource)),
                _ => Err(m("GET")),
            }
        }
        ["event-registry-repository", "deployments", id, "resourcedata", resource @ ..]
            if !resource.is_empty() =>
        {
            match method {
                Method::GET => {
                    deployments::resource_data(ctx, &decode(id), &joined(resource)).await
                }
                _ => Err(m("GET")),
            }
        }
        ["event-registry-repository", "event-definitions"] => match method {
            Method::GET => definitions::list::<EventDefinition>(ctx, &req),
            _ => Err(m("GET")),
        },
        ["event-registry-repository", "event-definitions", id] => match method {
            Method::GET => definitions::get::<EventDefinition>(ctx, &decode(id)),
            _ => Err(m("GET")),
        },
        ["event-registry-repository", "event-definitions", id, "resourcedata"] => match method {
            Method::GET => definitions::resource_data::<EventDefinition>(ctx, &decode(id)).await,
            _ => Err(m("GET")),
        },
        ["event-registry-repository", "event-definitions", id, "model"] => match method {
            Method::GET => definitions::model::<EventDefinition>(ctx, &decode(id)),
            _ => Err(m("GET")),
        },
        ["event-registry-repository", "channel-definitions"] => match method {
            Method::GET => definitions::list::<ChannelDefinition>(ctx, &req),
            _ => Err(m("GET")),
        },
        ["event-registry-repository", "channel-definitions", id] => match method {
            Method::GET => definitions::get::<ChannelDefinition>(ctx, &decode(id)),
            _ => Err(m("GET")),
        },
        ["event-registry-repository", "channel-definitions", id, "resourcedata"] => match method {
            Method::GET => definitions::resource_data::<ChannelDefinition>(ctx, &decode(id)).await,
            _ => Err(m("GET")),
        },
        ["event-registry-repository", "channel-definitions", id, "model"] => match method {
            Method::GET => definitions::model::<ChannelDefinition>(ctx, &decode(id)),
            _ => Err(m("GET")),
        },
        ["event-registry-runtime", "event-instances"] => match method {
            Method::POST => instances::create(ctx, req).await,
            _ => Err(m("POST")),
        },
        ["event-registry-management", "engine"] => match method {
            Method::GET => Ok(engine()),
            _ => Err(m("GET")),
        },
        _ => Err(Error::not_found(format!(
            "no Event Registry endpoint at {path}; see {REPOSITORY}/deployments, \
             {REPOSITORY}/event-definitions, {REPOSITORY}/channel-definitions, \
             {PREFIX}event-registry-runtime/event-instances, \
             {PREFIX}event-registry-management/engine"
        ))),
    }
}

/// `GET event-registry-management/engine`.
fn engine() -> Response<ResBody> {
    body::json_response(
        StatusCode::OK,
        &json!({"name": ENGINE.0, "version": ENGINE.1}),
    )
}

/// `GET …/deployments/{id}/resources/{resourceId}`: one resource of a deployment, as the
/// resources list shows it. Its `type` says what it defines: `eventDefinition`,
/// `channelDefinition`, `serviceDefinition`, else `resource`.
fn resource_json(ctx: &Ctx, id: &str, resource: &str) -> Result<Response<ResBody>> {
    let catalog = ctx.admin.events.catalog();
    let st = ctx.admin.lock();
    let d = st
        .deployments
        .get(id)
        .ok_or_else(|| Error::not_found(format!("Could not find a deployment with id '{id}'.")))?;
    let r = d
        .resources
        .iter()
        .find(|r| r.name == resource)
        .ok_or_else(|| {
            Error::not_found(format!(
                "Could not find a resource with id '{resource}' in deployment '{id}'."
            ))
        })?;
    let defines = |info: &crate::event::DefinitionInfo| {
        info.deployment_id == d.id && info.resource_name == r.name
    };
    let kind = if catalog.events.iter().any(|e| defines(&e.info)) {
        "eventDefinition"
    } else if catalog.channels.iter().any(|c| defines(&c.info)) {
        "channelDefinition"
    } else if st
        .services
        .values()
        .any(|s| s.deployment_id == d.id && s.resource_name == r.name)
    {
        "serviceDefinition"
    } else {
        "resource"
    };
    let base = format!("{}{REPOSITORY}/deployments/{}", ctx.base_url, enc(&d.id));
    Ok(body::json_response(
        StatusCode::OK,
        &json!({
            "id": r.name,
            "url": format!("{base}/resources/{}", enc(&r.name)),
            "contentUrl": format!("{base}/resourcedata/{}", enc(&r.name)),
            "mediaType": r.mime_type,
            "size": r.size,
            "type": kind,
        }),
    ))
}
