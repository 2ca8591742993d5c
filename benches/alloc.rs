//! Allocations per echo request on the in-process path (`Runtime::handle`, no socket), and
//! the time of that path. A counting global allocator wraps the system one; the count is
//! printed as `allocations/request` before criterion measures the time.
//!
//! `cargo bench --bench alloc`

#![allow(missing_docs, unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion};
use fss::http::body;
use fss::{Runtime, RuntimeConfig};
use http::Request;
use http_body_util::BodyExt;

/// Counts every allocation; everything else is the system allocator's.
struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: delegates every call to `System` unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const ECHO: &str = r#"{"token":"5c1b7f3e-9a2d-4c8e-b1f0-6d3e2a9c7b41","tenantId":"0a8f2c4e-3b6d-4e1f-9c7a-5d2b8e6f1a30","stateId":"7e3d9b1a-2c4f-4a6e-8b0d-1f5c3e7a9d62","callbackUri":"https://flow.example/api/run/1/response","culture":{"id":null,"developerName":null,"developerSummary":null,"brand":null,"language":"EN","country":"USA","variant":null},"executionMode":"","annotations":{"source":"bench"},"configurationValues":[{"developerName":"Region","contentValue":"EU","contentType":null,"objectData":null}],"inputs":[{"valueElementId":"c3a1e5b7-4d2f-4b8a-9e6c-2f1d7a3b5c90","developerName":"Name","contentValue":"Ada Lovelace","contentType":"ContentString","objectData":null},{"valueElementId":"d4b2f6c8-5e3a-4c9b-8f7d-3a2e8b4c6d01","developerName":"Count","contentValue":"42","contentType":"ContentNumber","objectData":null}],"outcomes":[]}"#;

const DEFINITION: &str = r#"{"name":"Bench","messageActions":[{"name":"Echo",
  "inputs":[{"name":"Name","type":"String"},{"name":"Count","type":"Number"}],
  "outputs":[{"name":"Name","type":"String"},{"name":"Count","type":"Number"}],
  "process":{"builtin":"echo"}}]}"#;

fn runtime() -> Runtime {
    let rt = Runtime::new(RuntimeConfig {
        data_dir: std::env::temp_dir().join("fss-bench-alloc"),
        ..RuntimeConfig::default()
    });
    let def = fss::definition::parse_definition("bench.json", DEFINITION.as_bytes()).unwrap();
    rt.mount(vec![fss::definition::LoadedDefinition {
        definition: def,
        source: "bench.json".into(),
        base_dir: ".".into(),
    }])
    .unwrap();
    rt
}

async fn one(rt: &Runtime, body_bytes: &Bytes) -> usize {
    let req = Request::post("/fs/Bench/actions/echo")
        .header("content-type", "application/json")
        .body(body::from_bytes(body_bytes.clone()))
        .unwrap();
    let resp = rt.handle(req).await;
    assert_eq!(resp.status(), 200);
    resp.into_body().collect().await.unwrap().to_bytes().len()
}

fn bench(c: &mut Criterion) {
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let rt = runtime();
    let body_bytes = Bytes::from_static(ECHO.as_bytes());
    // Warm up (lazy statics, first-use allocations), then count.
    tokio.block_on(async {
        for _ in 0..100 {
            one(&rt, &body_bytes).await;
        }
    });
    const N: u64 = 10_000;
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    tokio.block_on(async {
        for _ in 0..N {
            one(&rt, &body_bytes).await;
        }
    });
    let per = (ALLOCATIONS.load(Ordering::Relaxed) - before) as f64 / N as f64;
    println!("message_action/in_process: {per:.1} allocations/request (echo, records on)");

    c.bench_function("message_action/in_process", |b| {
        b.to_async(&tokio).iter(|| one(&rt, &body_bytes));
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
