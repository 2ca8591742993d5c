//! A message action end to end over loopback: `message_action/small_json`.
//!
//! The runtime and the server are built once, outside the measured loop; one HTTP/1.1
//! keep-alive connection POSTs the engine-shaped echo ServiceRequest and reads the whole
//! answer, so each iteration is one request/response round trip through hyper, the
//! router, JSON parsing, the echo process and JSON encoding. `small_json_hyper_bare` runs
//! the same round trips against the harness's bare hyper peer, when it is built.

// criterion's macros generate public functions without docs.
#![allow(missing_docs)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use fss::definition::{parse_definition, LoadedDefinition};
use fss::server::{self, ServerConfig};
use fss::{Runtime, RuntimeConfig};
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// The service under test: the echo action of the bench harness's `Bench` service.
const DEFINITION: &str = r#"{
  "name": "Bench",
  "configurationValues": [
    { "name": "Region",  "type": "String", "required": true },
    { "name": "Api Key", "type": "Password" }
  ],
  "messageActions": [
    { "name": "Echo",
      "inputs":  [ { "name": "Name", "type": "String" }, { "name": "Count", "type": "Number" } ],
      "outputs": [ { "name": "Name", "type": "String" }, { "name": "Count", "type": "Number" } ],
      "process": { "builtin": "echo" } }
  ]
}"#;

/// An engine-shaped ServiceRequest (as in the load-test harness's `echo.json`).
const ECHO_BODY: &str = r#"{"token":"5c1b7f3e-9a2d-4c8e-b1f0-6d3e2a9c7b41","tenantId":"0a8f2c4e-3b6d-4e1f-9c7a-5d2b8e6f1a30","stateId":"7e3d9b1a-2c4f-4a6e-8b0d-1f5c3e7a9d62","callbackUri":"https://flow.manywho.com/api/run/1/response","culture":{"id":null,"developerName":null,"developerSummary":null,"brand":null,"language":"EN","country":"USA","variant":null},"executionMode":"","uri":"http://127.0.0.1/fs/Bench/actions/echo","annotations":{"source":"bench"},"configurationValues":[{"valueElementId":null,"developerName":"Region","contentValue":"EU","contentType":null,"objectData":null},{"valueElementId":null,"developerName":"Api Key","contentValue":"k-3f9a1c7e5b2d","contentType":null,"objectData":null}],"inputs":[{"valueElementId":"c3a1e5b7-4d2f-4b8a-9e6c-2f1d7a3b5c90","typeElementId":null,"typeElementPropertyId":null,"developerName":"Name","typeElementDeveloperName":null,"typeElementPropertyDeveloperName":null,"contentValue":"Ada Lovelace","contentType":"ContentString","objectData":null},{"valueElementId":"d4b2f6c8-5e3a-4c9b-8f7d-3a2e8b4c6d01","typeElementId":null,"typeElementPropertyId":null,"developerName":"Count","typeElementDeveloperName":null,"typeElementPropertyDeveloperName":null,"contentValue":"42","contentType":"ContentNumber","objectData":null}],"outcomes":[]}"#;

fn message_action(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let data = tempfile::tempdir().expect("temp data dir");

    let (addr, mut sender) = rt.block_on(async {
        let runtime = Runtime::new(RuntimeConfig {
            data_dir: data.path().to_path_buf(),
            ..RuntimeConfig::default()
        });
        let loaded = LoadedDefinition {
            definition: parse_definition("Bench.json", DEFINITION.as_bytes())
                .expect("bench definition parses"),
            source: "Bench.json".into(),
            base_dir: data.path().to_path_buf(),
        };
        runtime
            .mount(vec![loaded])
            .expect("bench definition mounts");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("loopback listener");
        let addr = listener.local_addr().expect("bound address");
        tokio::spawn(server::run(
            listener,
            runtime,
            ServerConfig::default(),
            std::future::pending(),
        ));
        (addr, connect(addr).await)
    });

    let body = Bytes::from_static(ECHO_BODY.as_bytes());
    let mut group = c.benchmark_group("message_action");
    group.throughput(Throughput::Elements(1));
    group.bench_function("small_json", |b| {
        b.iter_custom(|iters| rt.block_on(round_trips(&mut sender, addr, &body, iters)));
    });

    // The same request against the bare hyper peer of the load-test harness, when it is
    // built (`../shared/bench/setup.sh`), so the two single-connection round trips are
    // measured side by side in one run.
    if let Some(peer) = HyperBare::start() {
        let mut peer_sender = rt.block_on(connect(peer.addr));
        group.bench_function("small_json_hyper_bare", |b| {
            b.iter_custom(|iters| {
                rt.block_on(round_trips(&mut peer_sender, peer.addr, &body, iters))
            });
        });
    } else {
        eprintln!("hyper-bare peer not built; run ../shared/bench/setup.sh to compare");
    }
    group.finish();
    drop(rt);
}

/// One keep-alive HTTP/1.1 connection to `addr`.
async fn connect(addr: SocketAddr) -> http1::SendRequest<Full<Bytes>> {
    let stream = TcpStream::connect(addr).await.expect("connects");
    stream.set_nodelay(true).expect("TCP_NODELAY");
    let (sender, conn) = http1::handshake(TokioIo::new(stream))
        .await
        .expect("HTTP/1.1 handshake");
    tokio::spawn(conn);
    sender
}

/// `iters` sequential echo round trips on `sender`; the time they took.
async fn round_trips(
    sender: &mut http1::SendRequest<Full<Bytes>>,
    addr: SocketAddr,
    body: &Bytes,
    iters: u64,
) -> Duration {
    let host = addr.to_string();
    let start = Instant::now();
    for _ in 0..iters {
        sender.ready().await.expect("connection stays open");
        let req = Request::post("/fs/Bench/actions/echo")
            .header("host", host.as_str())
            .header("content-type", "application/json")
            .body(Full::new(body.clone()))
            .expect("request builds");
        let resp = sender.send_request(req).await.expect("echo is answered");
        assert_eq!(resp.status(), StatusCode::OK);
        let answer = resp.into_body().collect().await.expect("body").to_bytes();
        std::hint::black_box(answer);
    }
    start.elapsed()
}

/// The bare hyper peer, killed on drop.
struct HyperBare {
    child: Child,
    addr: SocketAddr,
}

impl HyperBare {
    fn start() -> Option<HyperBare> {
        let bin = std::env::var_os("FSS_BENCH_HYPER_BARE")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| {
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../shared/bench/peers/hyper-bare/target/release/hyper-bare")
            });
        if !bin.is_file() {
            return None;
        }
        let mut child = Command::new(bin)
            .env("PORT", "0")
            .env("DATA_DIR", std::env::temp_dir())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let mut line = String::new();
        BufReader::new(child.stdout.take()?)
            .read_line(&mut line)
            .ok()?;
        let addr = line
            .trim()
            .strip_prefix("listening on http://")?
            .parse()
            .ok()?;
        Some(HyperBare { child, addr })
    }
}

impl Drop for HyperBare {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

criterion_group!(benches, message_action);
criterion_main!(benches);
