//! How a table load's cost grows with the table: the shared bench's request (CONTAINS on
//! `Name`, `orderBy Amount DESC`, `offset 200`, `limit 100`) over 10 000, 100 000 and
//! 1 000 000 rows, once with a selective needle (1 % of the rows hold it) and once with a
//! dense one (50 %). A real fss server over loopback, one client, one request at a time:
//! criterion's time is the single-client latency of a page.
//!
//! The selective load pages from offset 0 (at 10 000 rows only 100 rows match), the dense
//! one from offset 200 like the shared bench.
//!
//! `cargo bench --bench table_scale` (seeding the million rows takes a minute or two;
//! `FSS_SCALE_MAX=100000` stops at that size).

// criterion's macros generate public functions without docs.
#![allow(missing_docs)]

use std::time::Duration;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use fss::definition::{parse_definition, LoadedDefinition};
use fss::server::{self, ServerConfig};
use fss::{Durability, Runtime, RuntimeConfig};
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};

const SIZES: [usize; 3] = [10_000, 100_000, 1_000_000];
const BATCH: usize = 5_000;
const DEFINITION: &str = r#"{
  "name": "Scale",
  "types": [ { "name": "Row", "properties": [
      { "name": "Id", "type": "String" }, { "name": "Name", "type": "String" },
      { "name": "Category", "type": "String" }, { "name": "Amount", "type": "Number" },
      { "name": "Created", "type": "DateTime" } ] } ],
  "dataActions": [ { "objectType": "Row", "key": "Id",
      "load": { "builtin": "store" }, "save": { "builtin": "store" } } ]
}"#;

struct Server {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
    _data: tempfile::TempDir,
}

impl Server {
    async fn start() -> Server {
        let data = tempfile::tempdir().unwrap();
        let runtime = Runtime::new(RuntimeConfig {
            data_dir: data.path().to_path_buf(),
            // Seeding a million rows is setup, not what is measured.
            durability: Durability::Relaxed,
            max_request_bytes: 64 << 20,
            ..RuntimeConfig::default()
        });
        runtime
            .mount(vec![LoadedDefinition {
                definition: parse_definition("Scale.json", DEFINITION.as_bytes()).unwrap(),
                source: "Scale.json".into(),
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
        Server {
            client: Client::builder(TokioExecutor::new()).build_http(),
            base: format!("http://{addr}/fs/Scale"),
            _data: data,
        }
    }

    async fn send(&self, method: Method, body: &Value) -> Value {
        let req = Request::builder()
            .method(method)
            .uri(format!("{}/data", self.base))
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

    /// Rows `from..to`: every other name holds "blue", every hundredth "rare"; amounts
    /// are unique.
    async fn seed(&self, from: usize, to: usize) {
        let p = |n: &str, t: &str, v: String| json!({ "developerName": n, "contentType": t, "contentValue": v });
        for start in (from..to).step_by(BATCH) {
            let objs: Vec<Value> = (start..(start + BATCH).min(to))
                .map(|i| {
                    let colour = if i % 2 == 0 { "blue" } else { "green" };
                    let rare = if i % 100 == 7 { " rare" } else { "" };
                    json!({ "externalId": null, "developerName": "Row", "properties": [
                        p("Id", "ContentString", format!("row-{i:07}")),
                        p("Name", "ContentString", format!("Item {i:07} {colour} parcel{rare}")),
                        p("Category", "ContentString", ["North", "South", "East"][i % 3].to_owned()),
                        p("Amount", "ContentNumber", format!("{}.{:02}", (i * 7919) % 1_000_003 / 100, i % 100)),
                        p("Created", "ContentDateTime", format!("2026-01-{:02}T10:00:00Z", i % 28 + 1)),
                    ] })
                })
                .collect();
            self.send(
                Method::PUT,
                &json!({ "objectDataType": odt(), "objectData": objs }),
            )
            .await;
        }
    }
}

fn odt() -> Value {
    let props: Vec<Value> = ["Id", "Name", "Category", "Amount", "Created"]
        .iter()
        .map(|n| json!({ "developerName": n }))
        .collect();
    json!({ "developerName": "Row", "properties": props })
}

fn load(needle: &str, offset: usize) -> Value {
    json!({ "objectDataType": odt(), "listFilter": {
        "comparisonType": "AND",
        "where": [ { "columnName": "Name", "criteriaType": "CONTAINS", "contentValue": needle } ],
        "orderBy": [ { "columnName": "Amount", "direction": "DESC" } ], "limit": 100, "offset": offset } })
}

fn scale(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let max: usize = std::env::var("FSS_SCALE_MAX")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(usize::MAX);
    let server = rt.block_on(Server::start());
    let mut g = c.benchmark_group("table_scale");
    g.sample_size(20).measurement_time(Duration::from_secs(5));
    let mut seeded = 0;
    for size in SIZES.into_iter().filter(|s| *s <= max) {
        rt.block_on(server.seed(seeded, size));
        seeded = size;
        // The selective needle holds in 100 rows of the smallest table: its page starts at 0.
        for (name, needle, offset, matching) in [
            ("selective_1pct", "rare", 0, size / 100),
            ("dense_50pct", "blue", 200, size / 2),
        ] {
            let body = load(needle, offset);
            // The first load after writes reads the columns it scans; then check the page.
            let page = rt.block_on(server.send(Method::POST, &body));
            assert_eq!(
                page["objectData"].as_array().unwrap().len(),
                100,
                "{name} {size}"
            );
            assert_eq!(
                page["hasMoreResults"],
                matching > offset + 100,
                "{name} {size}"
            );
            g.bench_with_input(BenchmarkId::new(name, size), &body, |b, body| {
                b.to_async(&rt).iter(|| server.send(Method::POST, body));
            });
        }
    }
    g.finish();
}

criterion_group!(benches, scale);
criterion_main!(benches);
