//! `GET /api/openapi.json`: an OpenAPI 3.1 description of what this server answers, built
//! on each request from the admin API's route table ([`ROUTES`]) and the live routing
//! snapshot, so that it cannot drift from either: a deployment's URLs appear the moment
//! it is mounted. The incoming API is described by its URL forms.
//!
//! [`ROUTES`] is checked against the dispatcher by a test: every method of every path it
//! lists is answered by the admin API (never its "no such path" 404 or a 405).

use http::{Response, StatusCode};
use serde_json::{json, Map, Value};

use super::Ctx;
use crate::http::body::{self, ResBody};

/// What an admin route answers on success.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// 200 with a JSON body.
    Json,
    /// 201 with a JSON body.
    Created,
    /// 204, no body.
    NoContent,
    /// 200 with the bytes of a stored file.
    Bytes,
    /// 200 with the Prometheus text format.
    Text,
    /// 200 with a stream of server-sent events.
    EventStream,
}

/// One method of one admin path: the template (`{id}` for a path parameter), the method,
/// what it does, what it answers, and what its body is (`None`: none; `multipart` for a
/// deployment upload).
#[derive(Debug, Clone, Copy)]
pub struct AdminRoute {
    /// HTTP method, upper case.
    pub method: &'static str,
    /// Path template.
    pub path: &'static str,
    /// One line on what it does.
    pub summary: &'static str,
    /// Its success answer.
    pub answer: Answer,
    /// Its request body's media type, when it takes one.
    pub body: Option<&'static str>,
}

const fn r(
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    answer: Answer,
    body: Option<&'static str>,
) -> AdminRoute {
    AdminRoute {
        method,
        path,
        summary,
        answer,
        body,
    }
}

const JSON: Option<&str> = Some("application/json");
const MULTIPART: Option<&str> = Some("multipart/form-data");

/// Every route of the admin API under `/api/` and Flowable's `/event-registry-api/`.
#[rustfmt::skip]
pub const ROUTES: &[AdminRoute] = &[
    r("GET", "/api/repository/deployments", "List deployments", Answer::Json, None),
    r("POST", "/api/repository/deployments", "Deploy a definition or an archive", Answer::Created, MULTIPART),
    r("GET", "/api/repository/deployments/{id}", "One deployment", Answer::Json, None),
    r("DELETE", "/api/repository/deployments/{id}", "Undeploy: unmount its services", Answer::NoContent, None),
    r("GET", "/api/repository/deployments/{id}/resources", "A deployment's files", Answer::Json, None),
    r("GET", "/api/repository/deployments/{id}/resourcedata/{resourceId}", "A deployment file's bytes", Answer::Bytes, None),
    r("GET", "/api/repository/services", "List service versions", Answer::Json, None),
    r("GET", "/api/repository/services/{id}", "One service version", Answer::Json, None),
    r("GET", "/api/repository/services/{id}/resourcedata", "Its definition file", Answer::Bytes, None),
    r("GET", "/api/repository/services/{id}/model", "Its parsed definition", Answer::Json, None),
    r("GET", "/api/repository/routes", "Every mounted URL", Answer::Json, None),
    r("GET", "/api/management/engine", "Engine name and version", Answer::Json, None),
    r("GET", "/api/management/health", "Data folder and database state", Answer::Json, None),
    r("GET", "/api/management/metrics", "Metrics in the Prometheus text format (privilege metrics or access-rest-api)", Answer::Text, None),
    r("GET", "/api/management/connection-test", "Every dependency checked", Answer::Json, None),
    r("GET", "/api/openapi.json", "This description", Answer::Json, None),
    r("GET", "/api/keystore", "The keystore's aliases, names only", Answer::Json, None),
    r("PUT", "/api/keystore/{alias}", "Store a secret under an alias", Answer::NoContent, JSON),
    r("DELETE", "/api/keystore/{alias}", "Delete an alias", Answer::NoContent, None),
    r("GET", "/api/runtime/executions", "Recent executions", Answer::Json, None),
    r("GET", "/api/runtime/executions/{id}", "One execution record", Answer::Json, None),
    r("GET", "/api/runtime/execution-events", "Server-sent events: each execution as it is recorded", Answer::EventStream, None),
    r("GET", "/api/identity/users", "Users (never their passwords)", Answer::Json, None),
    r("POST", "/api/identity/users", "Create a user", Answer::Created, JSON),
    r("GET", "/api/identity/users/{id}", "One user", Answer::Json, None),
    r("PUT", "/api/identity/users/{id}", "Update a user", Answer::Json, JSON),
    r("DELETE", "/api/identity/users/{id}", "Delete a user", Answer::NoContent, None),
    r("POST", "/api/identity/users/{id}/token", "A new service token, shown once", Answer::Created, None),
    r("DELETE", "/api/identity/users/{id}/token", "Revoke the service token", Answer::NoContent, None),
    r("GET", "/api/identity/users/{id}/api-keys", "The user's API keys (never the key)", Answer::Json, None),
    r("POST", "/api/identity/users/{id}/api-keys", "Issue an API key, shown once", Answer::Created, JSON),
    r("DELETE", "/api/identity/users/{id}/api-keys/{keyId}", "Revoke an API key", Answer::NoContent, None),
    r("GET", "/api/oauth/configurations", "OAuth providers, names only", Answer::Json, None),
    r("POST", "/api/oauth/configurations", "Load (add or update) OAuth providers", Answer::Json, JSON),
    r("DELETE", "/api/oauth/configurations/{connector}/{provider}", "Delete an OAuth provider", Answer::NoContent, None),
    r("DELETE", "/api/oauth/tokens/{connector}/{provider}", "Drop its cached access tokens", Answer::NoContent, None),
    r("GET", "/event-registry-api/event-registry-repository/deployments", "Event Registry view of the deployments", Answer::Json, None),
    r("POST", "/event-registry-api/event-registry-repository/deployments", "Deploy event and channel definitions", Answer::Created, MULTIPART),
    r("GET", "/event-registry-api/event-registry-repository/deployments/{id}", "One deployment", Answer::Json, None),
    r("DELETE", "/event-registry-api/event-registry-repository/deployments/{id}", "Undeploy", Answer::NoContent, None),
    r("GET", "/event-registry-api/event-registry-repository/deployments/{id}/resources", "Its files", Answer::Json, None),
    r("GET", "/event-registry-api/event-registry-repository/deployments/{id}/resources/{resourceId}", "One file", Answer::Json, None),
    r("GET", "/event-registry-api/event-registry-repository/deployments/{id}/resourcedata/{resourceId}", "A file's bytes", Answer::Bytes, None),
    r("GET", "/event-registry-api/event-registry-repository/event-definitions", "Event definition versions", Answer::Json, None),
    r("GET", "/event-registry-api/event-registry-repository/event-definitions/{id}", "One version", Answer::Json, None),
    r("GET", "/event-registry-api/event-registry-repository/event-definitions/{id}/resourcedata", "Its .event file", Answer::Bytes, None),
    r("GET", "/event-registry-api/event-registry-repository/event-definitions/{id}/model", "Its EventModel", Answer::Json, None),
    r("GET", "/event-registry-api/event-registry-repository/channel-definitions", "Channel definition versions", Answer::Json, None),
    r("GET", "/event-registry-api/event-registry-repository/channel-definitions/{id}", "One version", Answer::Json, None),
    r("GET", "/event-registry-api/event-registry-repository/channel-definitions/{id}/resourcedata", "Its .channel file", Answer::Bytes, None),
    r("GET", "/event-registry-api/event-registry-repository/channel-definitions/{id}/model", "Its ChannelModel", Answer::Json, None),
    r("POST", "/event-registry-api/event-registry-runtime/event-instances", "Send an event", Answer::Created, JSON),
    r("GET", "/event-registry-api/event-registry-management/engine", "Event Registry engine info", Answer::Json, None),
];

/// `GET /api/openapi.json`.
pub(super) fn document(ctx: &Ctx) -> Response<ResBody> {
    let mut paths = Map::new();
    for route in ROUTES {
        let op = admin_operation(route);
        add(&mut paths, route.path, route.method, op);
    }
    add(
        &mut paths,
        "/api/1/action/{service}/{action}/trigger",
        "POST",
        incoming_trigger(),
    );
    add(
        &mut paths,
        "/api/1/action/{service}/{action}/trigger/{processId}",
        "GET",
        incoming_poll(),
    );
    let snapshot = ctx.admin.mounts.snapshot();
    for route in snapshot.routes() {
        let op = service_operation(&route.service, route.kind, route.method);
        add(&mut paths, &route.path, route.method, op);
    }
    let doc = json!({
        "openapi": "3.1.0",
        "info": {
            "title": "fss",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "A low-latency Flow Services Server: the Flow endpoints of the \
                mounted services, the incoming API and the admin API.",
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "servers": [{"url": ctx.base_url}],
        "paths": paths,
        "components": components(),
    });
    body::json_response(StatusCode::OK, &doc)
}

/// Adds `op` as `method` of `path`, with a parameter for each `{name}` of the path.
fn add(paths: &mut Map<String, Value>, path: &str, method: &str, mut op: Value) {
    let params: Vec<Value> = path
        .split('/')
        .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect();
    if !params.is_empty() {
        op["parameters"] = Value::Array(params);
    }
    let entry = paths
        .entry(path.to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    entry[method.to_ascii_lowercase()] = op;
}

fn error_ref(name: &str, description: &str) -> Value {
    json!({"description": description,
           "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{name}")}}}})
}

fn admin_operation(route: &AdminRoute) -> Value {
    let mut responses = Map::new();
    let (status, ok) = match route.answer {
        Answer::Json => (
            "200",
            json!({"description": "OK", "content": {"application/json": {"schema": {}}}}),
        ),
        Answer::Created => (
            "201",
            json!({"description": "Created", "content": {"application/json": {"schema": {}}}}),
        ),
        Answer::NoContent => ("204", json!({"description": "Done"})),
        Answer::Bytes => (
            "200",
            json!({"description": "The stored bytes", "content": {"*/*": {"schema": {}}}}),
        ),
        Answer::Text => (
            "200",
            json!({"description": "Prometheus text format",
                                       "content": {"text/plain": {"schema": {"type": "string"}}}}),
        ),
        Answer::EventStream => (
            "200",
            json!({"description": "Server-sent events",
                   "content": {"text/event-stream": {"schema": {"type": "string"}}}}),
        ),
    };
    responses.insert(status.to_owned(), ok);
    for (code, what) in [
        ("400", "The request is invalid: the message says what"),
        ("401", "No valid credentials"),
        ("403", "The user lacks the privilege"),
        ("404", "No such thing"),
        ("405", "Method not allowed (see Allow)"),
        ("409", "In conflict with the current state"),
        ("413", "The body is too large"),
        ("415", "Unsupported media type"),
        ("503", "A dependency is down"),
    ] {
        responses.insert(code.to_owned(), error_ref("AdminError", what));
    }
    let mut op = json!({
        "summary": route.summary,
        "tags": [if route.path.starts_with("/event-registry-api/") { "event-registry" } else { "admin" }],
        "security": [{"basic": []}],
        "responses": responses,
    });
    if let Some(media) = route.body {
        op["requestBody"] = json!({"required": true, "content": {media: {"schema": {}}}});
    }
    op
}

fn incoming_trigger() -> Value {
    json!({
        "summary": "Run an action of the incoming API with plain JSON inputs",
        "tags": ["incoming"],
        "security": [{"apiKey": []}, {}],
        "requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}},
        "responses": {
            "200": {"description": "The run's answer", "content": {"application/json": {"schema": {}}}},
            "202": {"description": "Accepted: poll the status URL", "content": {"application/json": {"schema": {}}}},
            "default": error_ref("IncomingError", "Refused or failed"),
        },
    })
}

fn incoming_poll() -> Value {
    json!({
        "summary": "The state of a run of the incoming API",
        "tags": ["incoming"],
        "security": [{"apiKey": []}, {"basic": []}, {}],
        "responses": {
            "200": {"description": "The run", "content": {"application/json": {"schema": {}}}},
            "default": error_ref("IncomingError", "Refused or not found"),
        },
    })
}

/// The operation of one route of a mounted service, by its kind (as the routes list
/// names them).
fn service_operation(service: &str, kind: &str, method: &str) -> Value {
    let (summary, request) = match kind {
        "action" => ("Run a message action", Some("ServiceRequest")),
        "describe" if method == "GET" => ("Describe the service", None),
        "describe" => (
            "Describe the service (DescribeServiceRequest)",
            Some("Object"),
        ),
        "table load" => ("Load rows (ObjectDataRequest)", Some("ObjectDataRequest")),
        "row update" => ("Save rows (ObjectDataRequest)", Some("ObjectDataRequest")),
        "row delete" => ("Delete rows (ObjectDataRequest)", Some("ObjectDataRequest")),
        "file list" => ("List files (FileDataRequest)", Some("Object")),
        "file upload" => ("Upload a file (multipart/form-data)", None),
        "file download" => ("Download a stored file", None),
        "file delete" => ("Delete a stored file", Some("Object")),
        "health" => ("The service's health", None),
        "listener" => (
            "Register a listener (ListenerServiceRequest)",
            Some("Object"),
        ),
        _ => ("An operation of the service", None),
    };
    let ok = if kind == "file download" {
        json!({"description": "The file's bytes", "content": {"*/*": {"schema": {}}}})
    } else if kind == "listener" {
        json!({"description": "Registered"})
    } else {
        json!({"description": "OK", "content": {"application/json": {"schema": {}}}})
    };
    let ok_status = if kind == "listener" { "204" } else { "200" };
    let mut op = json!({
        "summary": summary,
        "tags": [service],
        "responses": {
            ok_status: ok,
            "default": error_ref("ServiceProblem", "A ServiceProblem: what was wrong"),
        },
    });
    if kind == "file upload" {
        op["requestBody"] =
            json!({"content": {"multipart/form-data": {"schema": {"type": "object"}}}});
    } else if let Some(schema) = request {
        op["requestBody"] = json!({"content": {"application/json": {
            "schema": {"$ref": format!("#/components/schemas/{schema}")}}}});
    }
    op
}

fn components() -> Value {
    json!({
        "securitySchemes": {
            "basic": {"type": "http", "scheme": "basic"},
            "apiKey": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
        },
        "schemas": {
            "AdminError": {
                "type": "object",
                "required": ["statusCode", "errorMessage"],
                "properties": {
                    "statusCode": {"type": "integer"},
                    "errorMessage": {"type": "string"},
                },
            },
            "ServiceProblem": {
                "type": "object",
                "required": ["kind", "statusCode", "message"],
                "properties": {
                    "kind": {"type": "string", "enum": ["service", "api"]},
                    "uri": {"type": "string"},
                    "statusCode": {"type": "integer"},
                    "message": {"type": "string"},
                },
            },
            "IncomingError": {
                "type": "object",
                "properties": {"status": {"type": "string"}, "message": {"type": "string"}},
            },
            "EngineValue": {
                "type": "object",
                "required": ["developerName"],
                "properties": {
                    "developerName": {"type": "string"},
                    "contentType": {"type": "string"},
                    "contentValue": {"type": ["string", "null"]},
                    "objectData": {"type": ["array", "null"]},
                },
            },
            "ServiceRequest": {
                "type": "object",
                "properties": {
                    "token": {"type": ["string", "null"]},
                    "tenantId": {"type": ["string", "null"]},
                    "callbackUri": {"type": ["string", "null"]},
                    "uri": {"type": ["string", "null"]},
                    "configurationValues": {"type": ["array", "null"]},
                    "inputs": {"type": ["array", "null"], "items": {"$ref": "#/components/schemas/EngineValue"}},
                },
            },
            "ObjectDataRequest": {
                "type": "object",
                "properties": {
                    "objectDataType": {"type": ["object", "null"]},
                    "listFilter": {"type": ["object", "null"]},
                    "objectData": {"type": ["array", "null"]},
                    "configurationValues": {"type": ["array", "null"]},
                },
            },
            "Object": {"type": "object"},
        },
    })
}
