//! A message action end to end over loopback: `message_action/small_json`.
//!
//! The runtime and the server are built once, outside the measured loop; one HTTP/1.1
//! keep-alive connection POSTs the engine-shaped echo ServiceRequest and reads the whole
//! answer, so each iteration is one request/response round trip through hyper, the
//! router, JSON parsing, the echo process and JSON encoding. `small_json_hyper_bare` runs
//! the same round trips against the harness's bare hyper peer, when it is built.

// criterion's macros generate public functions without docs.
#![allow(missing_docs)]

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

use bytes::Bytes;
use common::{round_trips, serve, ECHO_BODY};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use fss::server::ServerConfig;
use http_body_util::Full;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

fn message_action(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let data = tempfile::tempdir().expect("temp data dir");

    let (addr, mut sender) = rt.block_on(async {
        let addr = serve(data.path(), ServerConfig::default()).await;
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
