//! `GET /api/openapi.json`: OpenAPI 3.1, the mounted services' URLs from the live snapshot
//! (a deployment's appear and go with it), every `$ref` resolving, credentials required;
//! and the admin route table it is built from agreeing with the dispatcher.

mod support;

use std::path::Path;

use fss::admin::openapi::ROUTES;
use http::Method;
use serde_json::{json, Value};
use support::{basic, request, Answer, TestServer};

const ADMIN: &str = "openapi-admin";
const PASSWORD: &str = "openapi-admin-pw-1";

async fn start() -> (TestServer, tempfile::TempDir) {
    let data = tempfile::tempdir().unwrap();
    let ops = Path::new(env!("CARGO_MANIFEST_DIR")).join("operations");
    let s = TestServer::start_admin(&ops, data.path(), ADMIN, PASSWORD).await;
    (s, data)
}

async fn admin(s: &TestServer, method: Method, path: &str) -> Answer {
    let auth = basic(ADMIN, PASSWORD);
    request(method, &s.url(path), &[("authorization", &auth)], "").await
}

async fn document(s: &TestServer) -> Value {
    let a = admin(s, Method::GET, "/api/openapi.json").await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    assert!(a
        .header("content-type")
        .unwrap()
        .starts_with("application/json"));
    a.json()
}

/// Every `$ref` in `v`.
fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("$ref", Value::String(r)) => out.push(r),
                    _ => refs(x, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

#[tokio::test]
async fn describes_the_mounted_services_and_follows_deployments() {
    let (s, _data) = start().await;
    let doc = document(&s).await;
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    let paths = doc["paths"].as_object().unwrap();
    assert!(
        paths["/fs/Sample/actions/echo"]["post"].is_object(),
        "{paths:?}"
    );
    assert!(paths["/fs/Sample/file/content/{id}"]["get"]["parameters"][0]["name"] == "id");
    for route in ROUTES {
        let m = route.method.to_ascii_lowercase();
        assert!(
            paths[route.path][&m].is_object(),
            "{} {}",
            route.method,
            route.path
        );
    }
    assert!(paths["/api/1/action/{service}/{action}/trigger"]["post"].is_object());
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(!all.is_empty());
    for r in all {
        let name = r.strip_prefix("#/components/schemas/").expect(r);
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "{r} resolves"
        );
    }

    let def = serde_json::to_vec(&json!({
        "name": "Described",
        "messageActions": [{"name": "hello", "process": {"builtin": "echo"}}]
    }))
    .unwrap();
    let up = support::deploy::upload(
        &s,
        "/api/repository",
        (ADMIN, PASSWORD),
        "d.json",
        "d.json",
        &def,
    )
    .await;
    assert_eq!(up.status, 201);
    let id = up.json()["id"].as_str().unwrap().to_owned();
    let doc = document(&s).await;
    assert!(doc["paths"]["/fs/Described/actions/hello"]["post"].is_object());
    let gone = admin(
        &s,
        Method::DELETE,
        &format!("/api/repository/deployments/{id}"),
    )
    .await;
    assert_eq!(gone.status, 204);
    let doc = document(&s).await;
    assert!(doc["paths"].get("/fs/Described/actions/hello").is_none());
    s.stop().await;
}

#[tokio::test]
async fn needs_admin_credentials() {
    let (s, _data) = start().await;
    let a = request(Method::GET, &s.url("/api/openapi.json"), &[], "").await;
    assert_eq!(a.status, 401);
    assert!(a.json()["errorMessage"].is_string());
    let a = admin(&s, Method::POST, "/api/openapi.json").await;
    assert_eq!(a.status, 405);
    s.stop().await;
}

#[tokio::test]
async fn every_route_of_the_table_is_answered_by_the_admin_api() {
    let (s, _data) = start().await;
    for route in ROUTES {
        let path = route
            .path
            .split('/')
            .map(|seg| {
                if seg.starts_with('{') {
                    "no-such-id"
                } else {
                    seg
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        let method = Method::from_bytes(route.method.as_bytes()).unwrap();
        // A stream stays open: one second of it is enough.
        let path = match route.answer {
            fss::admin::openapi::Answer::EventStream => format!("{path}?seconds=1"),
            _ => path,
        };
        let a = admin(&s, method, &path).await;
        let text = String::from_utf8_lossy(&a.body);
        assert_ne!(a.status, 405, "{} {path}: {text}", route.method);
        assert!(
            !(a.status == 404 && text.contains("endpoint")),
            "{} {path} is not a route of the admin API: {text}",
            route.method
        );
        assert!(a.status.as_u16() < 500, "{} {path}: {text}", route.method);
    }
    s.stop().await;
}
