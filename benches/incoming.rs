//! The incoming API's sync trigger of the echo action beside the Flow path of the same
//! action, in one run, each over one keep-alive HTTP/1.1 connection:
//! `incoming/trigger_echo` (`POST /api/1/action/Bench/Echo/trigger`, plain JSON, anonymous)
//! and `incoming/flow_echo` (`POST /fs/Bench/actions/echo`, a ServiceRequest). The issue
//! asks the trigger to cost within 1.2× of the Flow path.
//!
//! Criterion measures one group after the other, so on a busy machine the two estimates
//! drift apart; the bench first prints the p50 of each path measured alternately, 200 calls
//! at a time for about 3 s each, and their ratio, which is the figure to read.

#![allow(missing_docs)]

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{connect, posts, serve_definition};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use fss::server::ServerConfig;
use http_body_util::Full;
use hyper::client::conn::http1;

/// The echo action, open to the incoming API without a key.
const DEFINITION: &str = r#"{
  "name": "Bench",
  "messageActions": [
    { "name": "Echo",
      "inputs":  [ { "name": "Name", "type": "String" }, { "name": "Count", "type": "Number" } ],
      "outputs": [ { "name": "Name", "type": "String" }, { "name": "Count", "type": "Number" } ],
      "process": { "builtin": "echo" },
      "api": { "allowAnonymous": true } }
  ]
}"#;

/// The Flow request: the same two inputs in engine shape.
const FLOW_BODY: &str = r#"{"token":"5c1b7f3e-9a2d-4c8e-b1f0-6d3e2a9c7b41","tenantId":"0a8f2c4e-3b6d-4e1f-9c7a-5d2b8e6f1a30","inputs":[{"developerName":"Name","contentValue":"Ada Lovelace","contentType":"ContentString"},{"developerName":"Count","contentValue":"42","contentType":"ContentNumber"}]}"#;
/// The trigger request: plain JSON.
const TRIGGER_BODY: &str = r#"{"Name":"Ada Lovelace","Count":42}"#;

async fn serve(data: &std::path::Path) -> SocketAddr {
    serve_definition(DEFINITION, data, data, ServerConfig::default()).await
}

/// The latency of each call of `iters` sequential POSTs of `body` to `path`.
async fn latencies(
    sender: &mut http1::SendRequest<Full<Bytes>>,
    addr: SocketAddr,
    path: &str,
    body: &Bytes,
    iters: u64,
    into: &mut Vec<Duration>,
) {
    for _ in 0..iters {
        into.push(posts(sender, addr, path, body, 1).await);
    }
}

/// The p50 of both paths, measured in alternating rounds; printed with their ratio.
async fn side_by_side(
    flow: &mut http1::SendRequest<Full<Bytes>>,
    trigger: &mut http1::SendRequest<Full<Bytes>>,
    addr: SocketAddr,
) {
    let flow_body = Bytes::from_static(FLOW_BODY.as_bytes());
    let trigger_body = Bytes::from_static(TRIGGER_BODY.as_bytes());
    let (mut f, mut t) = (Vec::new(), Vec::new());
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(6) {
        latencies(
            flow,
            addr,
            "/fs/Bench/actions/echo",
            &flow_body,
            200,
            &mut f,
        )
        .await;
        let trigger_path = "/api/1/action/Bench/Echo/trigger";
        latencies(trigger, addr, trigger_path, &trigger_body, 200, &mut t).await;
    }
    let p50 = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let (pf, pt) = (p50(&mut f), p50(&mut t));
    println!(
        "side by side: flow_echo p50 {pf:.1?}, trigger_echo p50 {pt:.1?} ({} calls each): \
         trigger / flow = {:.2}",
        f.len(),
        pt.as_secs_f64() / pf.as_secs_f64()
    );
}

fn incoming(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let data = tempfile::tempdir().expect("temp data dir");
    let (addr, mut flow, mut trigger) = rt.block_on(async {
        let addr = serve(data.path()).await;
        (addr, connect(addr).await, connect(addr).await)
    });
    rt.block_on(side_by_side(&mut flow, &mut trigger, addr));
    let flow_body = Bytes::from_static(FLOW_BODY.as_bytes());
    let trigger_body = Bytes::from_static(TRIGGER_BODY.as_bytes());
    let mut group = c.benchmark_group("incoming");
    group.throughput(Throughput::Elements(1));
    group.bench_function("flow_echo", |b| {
        b.iter_custom(|iters| {
            rt.block_on(posts(
                &mut flow,
                addr,
                "/fs/Bench/actions/echo",
                &flow_body,
                iters,
            ))
        });
    });
    group.bench_function("trigger_echo", |b| {
        b.iter_custom(|iters| {
            rt.block_on(posts(
                &mut trigger,
                addr,
                "/api/1/action/Bench/Echo/trigger",
                &trigger_body,
                iters,
            ))
        });
    });
    group.finish();
    drop(rt);
}

criterion_group!(benches, incoming);
criterion_main!(benches);
