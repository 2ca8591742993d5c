//! Router lookup cost as the number of mounted services grows: `route_match/{10,100,1000}`.
//!
//! Each service has a few message actions, a data action and a file resource, like a real
//! definition; the lookup resolves an action of a service in the middle of the set.

// criterion's macros generate public functions without docs.
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use fss::definition::{parse_definition, LoadedDefinition};
use fss::router::Snapshot;
use fss::{Runtime, RuntimeConfig};
use http::Method;

/// A definition named `Service{i}` with four actions, a bound type and a file resource.
fn service(i: usize) -> LoadedDefinition {
    let json = format!(
        r#"{{"name": "Service{i}",
            "types": [{{"name": "Order", "properties": [{{"name": "Id"}}, {{"name": "Total", "type": "Number"}}]}}],
            "messageActions": [
              {{"name": "Echo", "process": {{"builtin": "echo"}}}},
              {{"name": "Approve Order", "process": {{"builtin": "echo"}}}},
              {{"name": "Reject Order", "process": {{"builtin": "echo"}}}},
              {{"name": "Ship", "uri": "orders/ship", "process": {{"builtin": "echo"}}}}
            ],
            "dataActions": [{{"objectType": "Order", "key": "Id",
              "load": {{"command": ["true"]}}, "save": {{"command": ["true"]}}, "delete": {{"command": ["true"]}}}}],
            "fileResources": [{{"path": "/file", "list": {{"command": ["true"]}}, "upload": {{"command": ["true"]}}}}]
        }}"#
    );
    let source = format!("Service{i}.json");
    LoadedDefinition {
        definition: parse_definition(&source, json.as_bytes()).expect("bench definition parses"),
        source,
        base_dir: ".".into(),
    }
}

/// The snapshot of `n` mounted services (on a throwaway data folder).
fn snapshot(n: usize, data: &std::path::Path) -> Arc<Snapshot> {
    let rt = Runtime::new(RuntimeConfig {
        data_dir: data.to_path_buf(),
        ..RuntimeConfig::default()
    });
    rt.mount((0..n).map(service).collect())
        .expect("bench definitions mount");
    rt.snapshot()
}

fn route_match(c: &mut Criterion) {
    let mut group = c.benchmark_group("route_match");
    let data = tempfile::tempdir().expect("temp data folder");
    for n in [10usize, 100, 1000] {
        let snapshot = snapshot(n, data.path());
        let path = format!("/fs/Service{}/actions/approve-order", n / 2);
        // The lookup must succeed, or the bench measures the error path.
        snapshot
            .route(&Method::POST, &path)
            .expect("bench path routes");
        group.bench_with_input(BenchmarkId::from_parameter(n), &path, |b, path| {
            b.iter(|| snapshot.route(black_box(&Method::POST), black_box(path.as_str())));
        });
    }
    group.finish();
}

criterion_group!(benches, route_match);
criterion_main!(benches);
