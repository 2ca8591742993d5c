//! What the end-to-end benchmarks share: the bench service, an engine-shaped echo
//! ServiceRequest, a server on a loopback port, a keep-alive connection to it, and the
//! measured round-trip loop.

// Each bench uses the part it needs.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
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
pub(crate) const ECHO_BODY: &str = r#"{"token":"5c1b7f3e-9a2d-4c8e-b1f0-6d3e2a9c7b41","tenantId":"0a8f2c4e-3b6d-4e1f-9c7a-5d2b8e6f1a30","stateId":"7e3d9b1a-2c4f-4a6e-8b0d-1f5c3e7a9d62","callbackUri":"https://flow.manywho.com/api/run/1/response","culture":{"id":null,"developerName":null,"developerSummary":null,"brand":null,"language":"EN","country":"USA","variant":null},"executionMode":"","uri":"http://127.0.0.1/fs/Bench/actions/echo","annotations":{"source":"bench"},"configurationValues":[{"valueElementId":null,"developerName":"Region","contentValue":"EU","contentType":null,"objectData":null},{"valueElementId":null,"developerName":"Api Key","contentValue":"k-3f9a1c7e5b2d","contentType":null,"objectData":null}],"inputs":[{"valueElementId":"c3a1e5b7-4d2f-4b8a-9e6c-2f1d7a3b5c90","typeElementId":null,"typeElementPropertyId":null,"developerName":"Name","typeElementDeveloperName":null,"typeElementPropertyDeveloperName":null,"contentValue":"Ada Lovelace","contentType":"ContentString","objectData":null},{"valueElementId":"d4b2f6c8-5e3a-4c9b-8f7d-3a2e8b4c6d01","typeElementId":null,"typeElementPropertyId":null,"developerName":"Count","typeElementDeveloperName":null,"typeElementPropertyDeveloperName":null,"contentValue":"42","contentType":"ContentNumber","objectData":null}],"outcomes":[]}"#;

/// Serves the bench definition on a fresh loopback port with `server_config`.
pub(crate) async fn serve(data: &Path, server_config: ServerConfig) -> SocketAddr {
    serve_definition(DEFINITION, data, data, server_config).await
}

/// Serves the definition `json` on a fresh loopback port: its data folder `data`, its
/// relative command paths resolved in `base_dir`.
pub(crate) async fn serve_definition(
    json: &str,
    data: &Path,
    base_dir: &Path,
    server_config: ServerConfig,
) -> SocketAddr {
    let runtime = Runtime::new(RuntimeConfig {
        data_dir: data.to_path_buf(),
        ..RuntimeConfig::default()
    });
    let loaded = LoadedDefinition {
        definition: parse_definition("bench.json", json.as_bytes()).expect("parses"),
        source: "bench.json".into(),
        base_dir: base_dir.to_path_buf(),
    };
    runtime.mount(vec![loaded]).expect("mounts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("loopback listener");
    let addr = listener.local_addr().expect("bound address");
    tokio::spawn(server::run(
        listener,
        runtime,
        server_config,
        std::future::pending(),
    ));
    addr
}

/// One keep-alive HTTP/1.1 connection to `addr`.
pub(crate) async fn connect(addr: SocketAddr) -> http1::SendRequest<Full<Bytes>> {
    let stream = TcpStream::connect(addr).await.expect("connects");
    stream.set_nodelay(true).expect("TCP_NODELAY");
    let (sender, conn) = http1::handshake(TokioIo::new(stream))
        .await
        .expect("HTTP/1.1 handshake");
    tokio::spawn(conn);
    sender
}

/// `iters` sequential echo round trips on `sender`; the time they took.
pub(crate) async fn round_trips(
    sender: &mut http1::SendRequest<Full<Bytes>>,
    addr: SocketAddr,
    body: &Bytes,
    iters: u64,
) -> Duration {
    posts(sender, addr, "/fs/Bench/actions/echo", body, iters).await
}

/// `iters` sequential POSTs of the JSON `body` to `path`, each answered 200; the time
/// they took.
pub(crate) async fn posts(
    sender: &mut http1::SendRequest<Full<Bytes>>,
    addr: SocketAddr,
    path: &str,
    body: &Bytes,
    iters: u64,
) -> Duration {
    let host = addr.to_string();
    let start = Instant::now();
    for _ in 0..iters {
        sender.ready().await.expect("connection stays open");
        let req = Request::post(path)
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
