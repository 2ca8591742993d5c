//! Tables end to end over loopback: a real fss server and a keep-alive HTTP client, both
//! built once outside the measured loops, on a temporary data folder.
//!
//! - `table_load/10k_rows`: 10 000 rows, `Name CONTAINS "blue"` (1 000 match),
//!   `orderBy Amount DESC`, `offset 200`, `limit 100` (the shared bench's table request).
//! - `row_update`: PUT of one existing row with a changed value.
//! - `row_delete`: POST `/data/delete` of one row (the row is saved before each
//!   measured delete, outside the measured time).

// criterion's macros generate public functions without docs.
#![allow(missing_docs)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion};
use fss::definition::{parse_definition, LoadedDefinition};
use fss::server::{self, ServerConfig};
use fss::{Runtime, RuntimeConfig};
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};

const ROWS: usize = 10_000;
const DEFINITION: &str = r#"{
  "name": "Bench",
  "types": [ { "name": "Row", "properties": [
      { "name": "Id", "type": "String" }, { "name": "Name", "type": "String" },
      { "name": "Category", "type": "String" }, { "name": "Amount", "type": "Number" },
      { "name": "Created", "type": "DateTime" } ] } ],
  "dataActions": [ { "objectType": "Row", "key": "Id",
      "load": { "builtin": "store" }, "save": { "builtin": "store" }, "delete": { "builtin": "store" } } ]
}"#;
const COLOURS: [&str; 10] = [
    "red", "green", "blue", "amber", "white", "black", "pink", "grey", "teal", "gold",
];

struct Bench {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
}

impl Bench {
    async fn send(&self, method: Method, path: &str, body: &Value) -> Value {
        let req = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(serde_json::to_vec(body).unwrap())))
            .unwrap();
        let resp = self.client.request(req).await.unwrap();
        let status = resp.status();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        assert!(
            status.is_success(),
            "{status}: {}",
            String::from_utf8_lossy(&body)
        );
        serde_json::from_slice(&body).unwrap()
    }
}

fn row(i: usize, amount_cents: usize) -> Value {
    let p = |n: &str, t: &str, v: String| json!({ "developerName": n, "contentType": t, "contentValue": v });
    json!({ "externalId": null, "developerName": "Row", "properties": [
        p("Id", "ContentString", format!("r{i}")),
        p("Name", "ContentString", format!("{} {i}", COLOURS[i % COLOURS.len()])),
        p("Category", "ContentString", ["A", "B", "C"][i % 3].to_owned()),
        p("Amount", "ContentNumber", format!("{}.{:02}", amount_cents / 100, amount_cents % 100)),
        p("Created", "ContentDateTime", format!("2026-01-{:02}T10:00:00Z", i % 28 + 1)),
    ] })
}

fn odt() -> Value {
    let props: Vec<Value> = ["Id", "Name", "Category", "Amount", "Created"]
        .iter()
        .map(|n| json!({ "developerName": n }))
        .collect();
    json!({ "developerName": "Row", "properties": props })
}

fn tables(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let data = tempfile::tempdir().unwrap();
    let bench = rt.block_on(async {
        let runtime = Runtime::new(RuntimeConfig {
            data_dir: data.path().to_path_buf(),
            ..RuntimeConfig::default()
        });
        runtime
            .mount(vec![LoadedDefinition {
                definition: parse_definition("Bench.json", DEFINITION.as_bytes()).unwrap(),
                source: "Bench.json".into(),
                base_dir: ".".into(),
            }])
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(server::run(
            listener,
            runtime,
            ServerConfig::default(),
            std::future::pending::<()>(),
        ));
        let bench = Bench {
            client: Client::builder(TokioExecutor::new()).build_http(),
            base: format!("http://{addr}/fs/Bench"),
        };
        for start in (0..ROWS).step_by(500) {
            // Unique amounts: a permutation of 0..ROWS (7919 is prime to 10 000).
            let objs: Vec<Value> = (start..start + 500)
                .map(|i| row(i, (i * 7919) % ROWS * 10 + 1))
                .collect();
            bench
                .send(
                    Method::PUT,
                    "/data",
                    &json!({ "objectDataType": odt(), "objectData": objs }),
                )
                .await;
        }
        bench
    });

    let load = json!({ "objectDataType": odt(), "listFilter": {
        "comparisonType": "AND",
        "where": [ { "columnName": "Name", "criteriaType": "CONTAINS", "contentValue": "blue", "value": "blue" } ],
        "orderBy": [ { "columnName": "Amount", "direction": "DESC" } ], "limit": 100, "offset": 200 } });
    let page = rt.block_on(bench.send(Method::POST, "/data", &load));
    assert_eq!(page["objectData"].as_array().unwrap().len(), 100);
    assert_eq!(page["hasMoreResults"], true);

    let mut g = c.benchmark_group("table_load");
    g.bench_function("10k_rows", |b| {
        b.to_async(&rt)
            .iter(|| bench.send(Method::POST, "/data", &load));
    });
    g.finish();

    let mut n = 0usize;
    c.bench_function("row_update", |b| {
        b.to_async(&rt).iter(|| {
            n += 1;
            let body = json!({ "objectDataType": odt(), "objectData": [ row(n % ROWS, n % 977) ] });
            let bench = &bench;
            async move { bench.send(Method::PUT, "/data", &body).await }
        });
    });

    c.bench_function("row_delete", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let bench = &bench;
            async move {
                let mut measured = Duration::ZERO;
                for i in 0..iters as usize {
                    let id = ROWS + i;
                    let save = json!({ "objectDataType": odt(), "objectData": [ row(id, 0) ] });
                    bench.send(Method::PUT, "/data", &save).await;
                    let del = json!({ "objectDataType": odt(), "objectData": [
                        { "externalId": format!("r{id}"), "developerName": "Row", "properties": [] } ] });
                    let t = Instant::now();
                    bench.send(Method::POST, "/data/delete", &del).await;
                    measured += t.elapsed();
                }
                measured
            }
        });
    });
}

criterion_group!(benches, tables);
criterion_main!(benches);
