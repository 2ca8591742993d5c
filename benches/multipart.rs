//! Multipart upload, parse to disk: `POST /fs/Bench/file/content` through
//! `Runtime::handle` (no socket), the body arriving in 64 KiB frames as from a connection.
//! Each iteration parses the multipart body, streams the file to its temp file, syncs it,
//! renames it into place and indexes it; the stored file is deleted outside the timing.
//!
//! Scenarios: `file_upload/payload/{4096,1048576,67108864}` with `Throughput::Bytes`.

use std::convert::Infallible;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{criterion_main, BenchmarkId, Criterion, Throughput};
use fss::definition::{parse_definition, LoadedDefinition};
use fss::http::body;
use fss::{Runtime, RuntimeConfig};
use http::{Method, Request};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;

const BOUNDARY: &str = "fss-bench-boundary";
const FRAME: usize = 64 << 10;
const DEFINITION: &str = r#"{
  "name": "Bench",
  "fileResources": [
    { "path": "/file", "maxUploadBytes": 4294967296,
      "list": { "builtin": "store" }, "upload": { "builtin": "store" } }
  ]
}"#;

/// A multipart body: the request part, then `size` bytes of file.
fn multipart(size: usize) -> Bytes {
    let mut b = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"FileDataRequest\"\r\n\
         Content-Type: application/json\r\n\r\n{{\"resourcePath\":\"\"}}\r\n\
         --{BOUNDARY}\r\nContent-Disposition: form-data; name=\"FileData\"; \
         filename=\"payload.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    b.reserve(size + 64);
    for _ in 0..size.div_ceil(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        b.extend_from_slice(&x.to_le_bytes());
    }
    b.truncate(b.len() - (size.div_ceil(8) * 8 - size));
    b.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    Bytes::from(b)
}

fn request(
    method: Method,
    path: &str,
    content_type: &str,
    body: body::ReqBody,
) -> Request<body::ReqBody> {
    Request::builder()
        .method(method)
        .uri(path)
        .header("host", "bench.local")
        .header("content-type", content_type)
        .body(body)
        .expect("a valid request")
}

/// The body as 64 KiB frames sharing `bytes` (no copy).
fn framed(bytes: &Bytes) -> body::ReqBody {
    let frames: Vec<Result<Frame<Bytes>, Infallible>> = (0..bytes.len())
        .step_by(FRAME)
        .map(|i| Ok(Frame::data(bytes.slice(i..(i + FRAME).min(bytes.len())))))
        .collect();
    body::boxed(StreamBody::new(futures_util::stream::iter(frames)))
}

async fn upload_then_delete(rt: &Runtime, payload: &Bytes) -> Duration {
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    let start = Instant::now();
    let resp = rt
        .handle(request(
            Method::POST,
            "/fs/Bench/file/content",
            &content_type,
            framed(payload),
        ))
        .await;
    let took = start.elapsed();
    assert_eq!(resp.status(), 200);
    let answer = resp.into_body().collect().await.unwrap().to_bytes();
    let v: serde_json::Value = serde_json::from_slice(&answer).unwrap();
    let id = v["objectData"][0]["externalId"]
        .as_str()
        .unwrap()
        .to_owned();
    let del = rt
        .handle(request(
            Method::POST,
            "/fs/Bench/file/delete",
            "application/json",
            body::from_bytes(
                serde_json::to_vec(&serde_json::json!({ "resourceFile": id })).unwrap(),
            ),
        ))
        .await;
    assert_eq!(del.status(), 200);
    took
}

fn multipart_to_disk(c: &mut Criterion) {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let data = tempfile::tempdir().unwrap();
    let rt = Runtime::new(RuntimeConfig {
        data_dir: data.path().to_path_buf(),
        ..RuntimeConfig::default()
    });
    let def = parse_definition("Bench.json", DEFINITION.as_bytes()).unwrap();
    rt.mount(vec![LoadedDefinition {
        definition: def,
        source: "Bench.json".into(),
        base_dir: data.path().to_path_buf(),
    }])
    .unwrap();

    let mut group = c.benchmark_group("file_upload");
    for size in [4usize << 10, 1 << 20, 64 << 20] {
        let payload = multipart(size);
        group.throughput(Throughput::Bytes(size as u64));
        if size >= 64 << 20 {
            group
                .sample_size(10)
                .measurement_time(Duration::from_secs(20));
        } else {
            group
                .sample_size(30)
                .measurement_time(Duration::from_secs(10));
        }
        group.bench_with_input(BenchmarkId::new("payload", size), &payload, |b, payload| {
            b.to_async(&tokio).iter_custom(|iters| {
                let rt = rt.clone();
                let payload = payload.clone();
                async move {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        total += upload_then_delete(&rt, &payload).await;
                    }
                    total
                }
            });
        });
    }
    group.finish();
}

// The macro generates an undocumented function.
#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::multipart_to_disk);
}
use group::benches;
criterion_main!(benches);
