//! The OAuth provider store through the admin API, and the ThingWorx service names that
//! clients of ThingWorx Flow call for the same things.
//!
//! | method | path | answer |
//! | --- | --- | --- |
//! | POST | `/api/oauth/configurations` | load (add or update, never delete): `{"message", "providers": [{"connector", "provider", "status": "added" \| "updated"}]}` |
//! | GET | `/api/oauth/configurations` | names only: `{"data": [{"connector", "providers": [names]}], "total"}` |
//! | DELETE | `/api/oauth/configurations/{connector}/{provider}` | 204; 409 naming the mounted services that use it; 404 |
//! | DELETE | `/api/oauth/tokens/{connector}/{provider}` | drops its cached access tokens: 204 (also when none was cached); 404 for an unknown provider |
//! | POST | `/Thingworx/Subsystems/WorkflowSubsystem/Services/{name}` | `LoadOAuthConfiguration` (`oauthConfigurations`), `DeleteOAuthConfiguration` (`connectorConfigName`, `oauthProvider`), `GetOAuthConfiguration`, `DeleteOAuthAccessTokens` (`oauthProvider`, `connectorConfigName` optional), `TestConnection`: `{"message": "…"}` |
//!
//! The ThingWorx names answer `{"message": "<service> completed successfully"}` or
//! `{"message": "<the error>"}` with the error's status, as the seed's services do; a
//! caller without credentials gets 401 and one without the privilege `access-rest-api`
//! 403, each with a coded message (`[FLOW-AUTH-01]`, `[FLOW-AUTH-02]`).
//!
//! No answer carries anything of a provider but its names: the load answer says what
//! happened to each name, the list holds names, problems of a refused document name keys.

use http::{header, Method, Request, Response, StatusCode};
use serde_json::{json, Map, Value};

use super::{connection, decode, Ctx};
use crate::error::{Error, Result};
use crate::http::body::{self, ReqBody, ResBody};

/// The largest load document (or ThingWorx service request) read.
const MAX_BODY_BYTES: u64 = 1 << 20;

/// Where the ThingWorx service names live.
pub(crate) const THINGWORX_PREFIX: &str = "/Thingworx/Subsystems/WorkflowSubsystem/Services/";

/// `POST /api/oauth/configurations`.
pub(super) async fn load(ctx: &Ctx, req: Request<ReqBody>) -> Result<Response<ResBody>> {
    let doc = read_document(req).await?;
    let report = load_document(ctx, doc).await?;
    let providers: Vec<Value> = report
        .providers
        .iter()
        .map(|(c, p, s)| json!({"connector": c, "provider": p, "status": s.as_str()}))
        .collect();
    Ok(body::json_response(
        StatusCode::OK,
        &json!({"message": report.message("LoadOAuthConfiguration"), "providers": providers}),
    ))
}

async fn load_document(ctx: &Ctx, doc: Value) -> Result<crate::oauth::LoadReport> {
    let oauth = std::sync::Arc::clone(&ctx.admin.shared.oauth);
    let _changes = ctx.admin.changes.lock().await;
    let report = tokio::task::spawn_blocking(move || oauth.load(&doc))
        .await
        .map_err(Error::internal)??;
    for (c, p, s) in &report.providers {
        tracing::info!(connector = %c, provider = %p, status = s.as_str(), "OAuth provider loaded.");
    }
    Ok(report)
}

/// `GET /api/oauth/configurations`.
pub(super) async fn list(ctx: &Ctx) -> Result<Response<ResBody>> {
    let data: Vec<Value> = listed(ctx)
        .await?
        .into_iter()
        .map(|c| json!({"connector": c.connector, "providers": c.providers}))
        .collect();
    Ok(body::json_response(
        StatusCode::OK,
        &json!({"total": data.len(), "data": data}),
    ))
}

async fn listed(ctx: &Ctx) -> Result<Vec<crate::oauth::ConnectorProviders>> {
    let oauth = std::sync::Arc::clone(&ctx.admin.shared.oauth);
    tokio::task::spawn_blocking(move || oauth.list())
        .await
        .map_err(Error::internal)?
}

/// `DELETE /api/oauth/configurations/{connector}/{provider}`.
pub(super) async fn delete(
    ctx: &Ctx,
    connector: &str,
    provider: &str,
) -> Result<Response<ResBody>> {
    delete_provider(ctx, connector, provider).await?;
    Ok(no_content())
}

/// Deletes a provider unless a mounted service uses it.
async fn delete_provider(ctx: &Ctx, connector: &str, provider: &str) -> Result<()> {
    let _changes = ctx.admin.changes.lock().await;
    let users: Vec<String> = ctx
        .admin
        .mounts
        .snapshot()
        .services()
        .filter(|s| s.definition.uses_oauth_provider(connector, provider))
        .map(|s| s.name.to_string())
        .collect();
    if !users.is_empty() {
        let mut users = users;
        users.sort();
        return Err(Error::conflict(format!(
            "the OAuth provider {connector}/{provider} is in use by the mounted service(s) {}; \
             undeploy them or change their http processes first",
            users.join(", ")
        )));
    }
    let oauth = std::sync::Arc::clone(&ctx.admin.shared.oauth);
    let (c, p) = (connector.to_owned(), provider.to_owned());
    let existed = tokio::task::spawn_blocking(move || oauth.delete(&c, &p))
        .await
        .map_err(Error::internal)??;
    if !existed {
        return Err(unknown(connector, provider));
    }
    tracing::info!(connector = %connector, provider = %provider, "OAuth provider deleted.");
    Ok(())
}

/// `DELETE /api/oauth/tokens/{connector}/{provider}`.
pub(super) async fn delete_tokens(
    ctx: &Ctx,
    connector: &str,
    provider: &str,
) -> Result<Response<ResBody>> {
    drop_tokens(ctx, Some(connector), provider).await?;
    Ok(no_content())
}

/// Drops the cached tokens of `provider` (of `connector`, or of every connector holding
/// a provider of that name); how many cache slots held one.
async fn drop_tokens(ctx: &Ctx, connector: Option<&str>, provider: &str) -> Result<usize> {
    let known: Vec<String> = listed(ctx)
        .await?
        .into_iter()
        .filter(|c| connector.is_none_or(|n| n == c.connector))
        .filter(|c| c.providers.iter().any(|p| p == provider))
        .map(|c| c.connector)
        .collect();
    if known.is_empty() {
        return Err(unknown(connector.unwrap_or("*"), provider));
    }
    let tokens = &ctx.admin.shared.oauth.tokens;
    let dropped = known
        .iter()
        .map(|c| tokens.drop_provider(c, provider))
        .sum();
    tracing::info!(provider = %provider, dropped, "OAuth access tokens deleted.");
    Ok(dropped)
}

/// `POST /Thingworx/Subsystems/WorkflowSubsystem/Services/{name}`: every answer is
/// `{"message": …}`, errors included.
pub(super) async fn thingworx(ctx: &Ctx, req: Request<ReqBody>) -> Response<ResBody> {
    let service = req
        .uri()
        .path()
        .strip_prefix(THINGWORX_PREFIX)
        .unwrap_or_default()
        .trim_end_matches('/')
        .to_owned();
    let answer = if req.method() != Method::POST {
        Err(Error::MethodNotAllowed { allow: "POST" })
    } else {
        thingworx_service(ctx, &service, req).await
    };
    match answer {
        Ok((status, doc)) => body::json_response(status, &doc),
        Err(e) => thingworx_error(&service, &e),
    }
}

async fn thingworx_service(
    ctx: &Ctx,
    service: &str,
    req: Request<ReqBody>,
) -> Result<(StatusCode, Value)> {
    let done = |extra: Map<String, Value>| {
        let mut m = Map::new();
        m.insert(
            "message".into(),
            format!("{service} completed successfully").into(),
        );
        m.extend(extra);
        Ok((StatusCode::OK, Value::Object(m)))
    };
    match service {
        "LoadOAuthConfiguration" => {
            let mut params = read_parameters(req).await?;
            let doc = match params.remove("oauthConfigurations") {
                // ThingWorx passes a JSON parameter as an object or as its text.
                Some(Value::String(text)) => serde_json::from_str(&text).map_err(|e| {
                    Error::bad_request(format!(
                        "the parameter oauthConfigurations is not a JSON document: {e}"
                    ))
                })?,
                Some(v) => v,
                None => {
                    return Err(Error::bad_request(
                        "the parameter oauthConfigurations is required: the JSON of \
                         {\"<connector>\": {\"<provider>\": {\"CLIENT_ID\": …, \"CLIENT_SECRET\": …}}}",
                    ))
                }
            };
            let report = load_document(ctx, doc).await?;
            let message = report.message(service);
            Ok((StatusCode::OK, json!({"message": message})))
        }
        "DeleteOAuthConfiguration" => {
            let params = read_parameters(req).await?;
            let connector = text_parameter(&params, "connectorConfigName")?;
            let provider = text_parameter(&params, "oauthProvider")?;
            delete_provider(ctx, connector, provider).await?;
            done(Map::new())
        }
        "GetOAuthConfiguration" => {
            let listed = listed(ctx).await?;
            let result: Map<String, Value> = listed
                .into_iter()
                .map(|c| (c.connector, json!(c.providers)))
                .collect();
            done(Map::from_iter([(
                "result".to_owned(),
                Value::Object(result),
            )]))
        }
        "DeleteOAuthAccessTokens" => {
            let params = read_parameters(req).await?;
            let provider = text_parameter(&params, "oauthProvider")?;
            let connector = params
                .get("connectorConfigName")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty());
            drop_tokens(ctx, connector, provider).await?;
            done(Map::new())
        }
        "TestConnection" | "ValidateFlowSetup" => {
            let report = connection::report(&ctx.admin).await;
            Ok((StatusCode::OK, json!({"message": report.message()})))
        }
        other => Err(Error::not_found(format!(
            "no ThingWorx service named '{}'; known: LoadOAuthConfiguration, \
             DeleteOAuthConfiguration, GetOAuthConfiguration, DeleteOAuthAccessTokens, \
             TestConnection",
            other.chars().take(64).collect::<String>()
        ))),
    }
}

/// The error answer of a ThingWorx service: `{"message"}`, coded for authentication.
pub(super) fn thingworx_error(service: &str, e: &Error) -> Response<ResBody> {
    let message = match e {
        Error::Unauthorized(m) => format!("[FLOW-AUTH-01] {m}"),
        Error::Forbidden(m) => format!(
            "[FLOW-AUTH-02] The caller is not an administrator: {m}; log in as a user \
             holding it to run {service}"
        ),
        e if e.status().is_server_error() && !e.is_storage_full() => {
            tracing::error!(service = %service, error = %e, "ThingWorx service failed.");
            format!("{service} failed: an internal error occurred; see the server log")
        }
        e => e.to_string(),
    };
    let mut resp = body::json_response(e.status(), &json!({"message": message}));
    match e {
        Error::Unauthorized(_) => {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                http::HeaderValue::from_static(r#"Basic realm="fss admin", charset="UTF-8""#),
            );
        }
        Error::MethodNotAllowed { allow } => {
            resp.headers_mut()
                .insert(header::ALLOW, http::HeaderValue::from_static(allow));
        }
        _ => {}
    }
    resp
}

/// The parameters of a ThingWorx service: a JSON object (a blank body is no parameter).
async fn read_parameters(req: Request<ReqBody>) -> Result<Map<String, Value>> {
    let bytes = read_body(req).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(Error::bad_request(
            "the service parameters must be a JSON object",
        )),
        Err(e) => Err(Error::bad_request(format!(
            "the service parameters are not JSON: {e}"
        ))),
    }
}

fn text_parameter<'a>(params: &'a Map<String, Value>, name: &str) -> Result<&'a str> {
    params
        .get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Error::bad_request(format!("the parameter {name} (a string) is required")))
}

/// The load document of `POST /api/oauth/configurations`.
async fn read_document(req: Request<ReqBody>) -> Result<Value> {
    let bytes = read_body(req).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::bad_request(
            "the body is empty; send {\"<connector>\": {\"<provider>\": {\"CLIENT_ID\": …, \
             \"CLIENT_SECRET\": …}}}",
        ));
    }
    serde_json::from_slice(&bytes)
        .map_err(|e| Error::bad_request(format!("the body is not a JSON document: {e}")))
}

async fn read_body(req: Request<ReqBody>) -> Result<bytes::Bytes> {
    if let Some(ct) = req.headers().get(header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or_default().to_ascii_lowercase();
        if !ct.starts_with("application/json") {
            return Err(Error::UnsupportedMediaType(
                format!("Content-Type '{ct}' is not supported; send application/json").into(),
            ));
        }
    }
    let len = body::content_length(req.headers());
    body::read_limited(req.into_body(), len, MAX_BODY_BYTES).await
}

fn unknown(connector: &str, provider: &str) -> Error {
    Error::not_found(format!(
        "no OAuth provider {connector}/{provider} is loaded; GET /api/oauth/configurations \
         lists them"
    ))
}

fn no_content() -> Response<ResBody> {
    let mut resp = Response::new(body::full(bytes::Bytes::new()));
    *resp.status_mut() = StatusCode::NO_CONTENT;
    resp
}

/// Routes `/api/oauth/…` (`rest` is the path after `/api/oauth/`, split).
pub(super) async fn route(
    ctx: &Ctx,
    segs: &[&str],
    req: Request<ReqBody>,
) -> Result<Response<ResBody>> {
    let method = req.method().clone();
    let m = |allow: &'static str| Error::MethodNotAllowed { allow };
    match segs {
        ["configurations"] => match method {
            Method::GET => list(ctx).await,
            Method::POST => load(ctx, req).await,
            _ => Err(m("GET, POST")),
        },
        ["configurations", c, p] => match method {
            Method::DELETE => delete(ctx, &decode(c), &decode(p)).await,
            _ => Err(m("DELETE")),
        },
        ["tokens", c, p] => match method {
            Method::DELETE => delete_tokens(ctx, &decode(c), &decode(p)).await,
            _ => Err(m("DELETE")),
        },
        _ => Err(Error::not_found(
            "no OAuth endpoint here; see /api/oauth/configurations, \
             /api/oauth/configurations/{connector}/{provider}, \
             /api/oauth/tokens/{connector}/{provider}",
        )),
    }
}
