//! Hot mount latency: `deploy/first_answer` is the time from sending a deployment to the
//! first answered call of the service it mounts.
//!
//! The runtime, the admin API and the server are built once; one HTTP/1.1 keep-alive
//! connection POSTs a multipart deployment (a new version of the `Hot` service with a new
//! action name each time, so the call can only succeed on the new version), waits for the
//! 201, then POSTs a ServiceRequest to the new action and waits for the 200. The deploy
//! includes what makes it durable: the definition file written and fsynced, the SQLite
//! commit. Before criterion runs, the median of 20 single measurements is printed.

// criterion's macros generate public functions without docs.
#![allow(missing_docs)]

use std::time::{Duration, Instant};

use base64::Engine;
use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion};
use fss::admin::AdminConfig;
use fss::server::{self, ServerConfig};
use fss::{Runtime, RuntimeConfig};
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

const BOUNDARY: &str = "fss-bench-boundary";

fn deployment(n: u64) -> Bytes {
    let def = format!(
        r#"{{"name": "Hot", "messageActions": [{{"name": "Ping {n}",
            "inputs": [{{"name": "In"}}], "outputs": [{{"name": "In"}}],
            "process": {{"builtin": "echo"}}}}]}}"#
    );
    Bytes::from(format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"hot.json\"; \
         filename=\"Hot.json\"\r\nContent-Type: application/json\r\n\r\n{def}\r\n--{BOUNDARY}--\r\n"
    ))
}

const CALL: &str = r#"{"token":"t1","tenantId":"x","inputs":[{"developerName":"In","contentType":"ContentString","contentValue":"hi"}]}"#;

/// One deploy of version `n` and the first call of its action; returns the elapsed time.
async fn deploy_and_call(sender: &mut SendRequest<Full<Bytes>>, auth: &str, n: u64) -> Duration {
    let deploy = Request::post("/api/repository/deployments")
        .header("host", "127.0.0.1")
        .header("authorization", auth)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(Full::new(deployment(n)))
        .expect("deploy request builds");
    let call = Request::post(format!("/fs/Hot/actions/ping-{n}"))
        .header("host", "127.0.0.1")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(CALL.as_bytes())))
        .expect("call request builds");
    let start = Instant::now();
    sender.ready().await.expect("connection ready");
    let resp = sender.send_request(deploy).await.expect("deploy answered");
    let status = resp.status();
    let body = resp.into_body().collect().await.expect("deploy body");
    assert_eq!(status, StatusCode::CREATED, "{:?}", body.to_bytes());
    sender.ready().await.expect("connection ready");
    let resp = sender.send_request(call).await.expect("call answered");
    let status = resp.status();
    let body = resp.into_body().collect().await.expect("call body");
    let elapsed = start.elapsed();
    assert_eq!(status, StatusCode::OK, "{:?}", body.to_bytes());
    elapsed
}

fn first_answer(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let data = tempfile::tempdir().expect("temp data dir");
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("bench:bench-pw")
    );

    let mut sender = rt.block_on(async {
        let runtime = Runtime::new(RuntimeConfig {
            data_dir: data.path().to_path_buf(),
            ..RuntimeConfig::default()
        });
        let cfg = AdminConfig {
            bootstrap_user: Some("bench".into()),
            bootstrap_password: Some("bench-pw".into()),
            ..AdminConfig::default()
        };
        let r = runtime.clone();
        tokio::task::spawn_blocking(move || r.enable_admin(cfg))
            .await
            .expect("enable task")
            .expect("admin API enables");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("local addr");
        tokio::spawn(server::run(
            listener,
            runtime,
            ServerConfig::default(),
            std::future::pending::<()>(),
        ));
        let stream = TcpStream::connect(addr).await.expect("connect");
        let (sender, conn) = http1::handshake(TokioIo::new(stream))
            .await
            .expect("handshake");
        tokio::spawn(conn);
        sender
    });

    // Warm up (the first request verifies the password), then 20 single measurements.
    let mut n = 0u64;
    rt.block_on(async {
        n += 1;
        deploy_and_call(&mut sender, &auth, n).await;
        let mut times = Vec::with_capacity(20);
        for _ in 0..20 {
            n += 1;
            times.push(deploy_and_call(&mut sender, &auth, n).await);
        }
        times.sort();
        println!(
            "deploy -> first answered call, 20 runs: median {:?}, min {:?}, max {:?}",
            times[10], times[0], times[19]
        );
    });

    let mut group = c.benchmark_group("deploy");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("first_answer", |b| {
        b.iter_custom(|iters| {
            let base = n;
            n += iters;
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for i in 0..iters {
                    total += deploy_and_call(&mut sender, &auth, base + i + 1).await;
                }
                total
            })
        });
    });
    group.finish();
}

criterion_group!(benches, first_answer);
criterion_main!(benches);
