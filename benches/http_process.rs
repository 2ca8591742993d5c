//! An action that calls another system's REST API, made by the `http` process beside the
//! same call made by a `command` process, in one sitting: `outbound/http` and
//! `outbound/command`. Both POST a JSON body templated from an input to the same loopback
//! upstream (a hyper server in this process) with a bearer token from a Password
//! configuration value, and map the upstream's JSON answer to two outputs. The `http`
//! process runs on the connection's task over the pooled outbound client; the command
//! starts one Python process per call, which opens its own connection.
//!
//! Besides criterion's estimates, the bench prints one line per process with requests per
//! second and the p50 and p99 latency of sequential calls over one keep-alive connection,
//! measured alternately in the same run, so that their ratio is what to read.
//!
//! `cargo bench --bench http_process`

// criterion's macros generate public functions without docs.
#![allow(missing_docs)]

mod common;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{connect, serve_definition};
use criterion::{criterion_group, criterion_main, Criterion};
use fss::server::ServerConfig;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;

/// The upstream: `POST /orders/{id}` with a bearer token answers the id back.
async fn upstream(
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let authorized = req
        .headers()
        .get("authorization")
        .is_some_and(|v| v == "Bearer bench-token");
    let id = req.uri().path().trim_start_matches("/orders/").to_owned();
    let _ = req.into_body().collect().await;
    let (status, body) = if authorized {
        (
            StatusCode::OK,
            format!(r#"{{"status":"approved {id}","approvedAt":"2026-01-21T08:00:00Z"}}"#),
        )
    } else {
        (
            StatusCode::UNAUTHORIZED,
            r#"{"error":"invalid_token"}"#.to_owned(),
        )
    };
    Ok(Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .expect("answer builds"))
}

async fn serve_upstream() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("upstream listener");
    let addr = listener.local_addr().expect("bound");
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), hyper::service::service_fn(upstream)),
            );
        }
    });
    addr
}

/// The command's script: the same POST with Python's standard library.
const SCRIPT: &str = r#"
import http.client, json, sys, urllib.parse
doc = json.load(sys.stdin)
order = doc["inputs"]["Order Id"]
host, port = sys.argv[1].split(":")
c = http.client.HTTPConnection(host, int(port), timeout=10)
c.request("POST", "/orders/" + urllib.parse.quote(order, safe=""),
          body=json.dumps({"id": order}),
          headers={"Authorization": "Bearer " + doc["properties"]["Api Token"],
                   "Content-Type": "application/json"})
r = json.loads(c.getresponse().read())
json.dump({"outputs": {"Status": r["status"], "Approved At": r["approvedAt"]}}, sys.stdout)
"#;

fn definition(upstream: SocketAddr) -> String {
    format!(
        r#"{{
  "name": "Outbound",
  "configurationValues": [ {{ "name": "Api Token", "type": "Password" }} ],
  "messageActions": [
    {{ "name": "Via Http",
      "inputs":  [ {{ "name": "Order Id", "type": "String", "required": true }} ],
      "outputs": [ {{ "name": "Status" }}, {{ "name": "Approved At" }} ],
      "process": {{ "http": {{
        "method": "POST", "url": "http://{upstream}/orders/{{Order Id}}",
        "body": {{ "json": {{ "id": "{{Order Id}}" }} }},
        "auth": {{ "bearer": "{{Api Token}}" }},
        "outputs": {{ "Status": "/status", "Approved At": "/approvedAt" }} }} }} }},
    {{ "name": "Via Command",
      "inputs":  [ {{ "name": "Order Id", "type": "String", "required": true }} ],
      "outputs": [ {{ "name": "Status" }}, {{ "name": "Approved At" }} ],
      "process": {{ "command": ["python3", "call.py", "{upstream}"] }} }}
  ]
}}"#
    )
}

const BODY: &str = r#"{"token":"t","tenantId":"0a8f2c4e-3b6d-4e1f-9c7a-5d2b8e6f1a30","configurationValues":[{"developerName":"Api Token","contentValue":"bench-token","contentType":"ContentPassword"}],"inputs":[{"developerName":"Order Id","contentValue":"A-1001","contentType":"ContentString"}]}"#;

async fn serve_fss(data: &Path, upstream: SocketAddr) -> SocketAddr {
    std::fs::write(data.join("call.py"), SCRIPT).expect("writes the script");
    serve_definition(
        &definition(upstream),
        &data.join("data"),
        data,
        ServerConfig::default(),
    )
    .await
}

/// One call of the action at `path`; its latency.
async fn call(
    sender: &mut http1::SendRequest<Full<Bytes>>,
    addr: SocketAddr,
    path: &str,
) -> Duration {
    let start = Instant::now();
    sender.ready().await.expect("connection stays open");
    let req = Request::post(path)
        .header("host", addr.to_string())
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(BODY.as_bytes())))
        .expect("request builds");
    let resp = sender.send_request(req).await.expect("answered");
    let status = resp.status();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    assert!(
        body.windows(16).any(|w| w == b"approved A-1001\""),
        "the output is mapped: {}",
        String::from_utf8_lossy(&body)
    );
    start.elapsed()
}

const HTTP: &str = "/fs/Outbound/actions/via-http";
const COMMAND: &str = "/fs/Outbound/actions/via-command";

/// Sequential calls of both actions, alternating in rounds, for about `budget` each;
/// prints requests per second, p50 and p99 of each.
async fn side_by_side(addr: SocketAddr, budget: Duration) {
    let mut http_sender = connect(addr).await;
    let mut command_sender = connect(addr).await;
    let (mut http, mut command) = (Vec::new(), Vec::new());
    let (mut http_time, mut command_time) = (Duration::ZERO, Duration::ZERO);
    while http_time < budget || command_time < budget {
        let round = Instant::now();
        while round.elapsed() < Duration::from_millis(250) {
            let d = call(&mut http_sender, addr, HTTP).await;
            http_time += d;
            http.push(d);
        }
        let round = Instant::now();
        while round.elapsed() < Duration::from_millis(250) {
            let d = call(&mut command_sender, addr, COMMAND).await;
            command_time += d;
            command.push(d);
        }
    }
    for (name, mut all, total) in [
        ("http", http, http_time),
        ("command", command, command_time),
    ] {
        all.sort();
        let at = |q: f64| all[((all.len() as f64 - 1.0) * q) as usize];
        println!(
            "outbound/{name:<8} {:>8.0} req/s  p50 {:>9.1?}  p99 {:>9.1?}  ({} calls, one connection)",
            all.len() as f64 / total.as_secs_f64(),
            at(0.5),
            at(0.99),
            all.len()
        );
    }
}

fn outbound(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let addr = rt.block_on(async {
        let upstream = serve_upstream().await;
        serve_fss(dir.path(), upstream).await
    });
    rt.block_on(side_by_side(addr, Duration::from_secs(3)));

    let mut group = c.benchmark_group("outbound");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(5));
    for (name, path) in [("http", HTTP), ("command", COMMAND)] {
        group.bench_function(name, |b| {
            b.to_async(&rt).iter_custom(|iters| async move {
                // A connection per sample, opened outside the measured calls.
                let mut sender = connect(addr).await;
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    total += call(&mut sender, addr, path).await;
                }
                total
            });
        });
    }
    group.finish();
}

criterion_group!(benches, outbound);
criterion_main!(benches);
