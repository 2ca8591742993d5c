//! Graceful shutdown over real sockets: in-flight requests finish, new connections are
//! refused, idle connections do not hold the drain, and the grace period bounds it.
//!
//! The slow handler blocks until the test releases it, so no assertion depends on how
//! fast the machine is; the timeouts below only bound a broken build.

mod support;

use std::time::Duration;

use bytes::Bytes;
use fss::process::{Handler, HandlerFuture, ProcessCall, Reply};
use fss::server::ServerConfig;
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::json;
use support::{fixture, post_json, Answer, TestServer};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::timeout;

const BOUND: Duration = Duration::from_secs(10);

/// Reports that it started, then waits until released.
struct Slow {
    started: mpsc::UnboundedSender<String>,
    release: watch::Receiver<bool>,
}

impl Handler for Slow {
    fn call(&self, call: ProcessCall) -> HandlerFuture {
        let _ = self.started.send(call.execution_id);
        let mut release = self.release.clone();
        Box::pin(async move {
            release
                .wait_for(|r| *r)
                .await
                .map_err(|_| fss::Error::Process("the test ended".into()))?;
            Ok(Reply::outputs(json!({"Done": true})))
        })
    }
}

struct Fixture {
    server: TestServer,
    started: mpsc::UnboundedReceiver<String>,
    release: watch::Sender<bool>,
}

async fn start(config: ServerConfig) -> Fixture {
    let (started_tx, started) = mpsc::unbounded_channel();
    let (release, release_rx) = watch::channel(false);
    let slow = Slow {
        started: started_tx,
        release: release_rx,
    };
    let server = TestServer::start_with(
        &fixture("slow"),
        move |rt| rt.register_handler("slow", slow),
        config,
    )
    .await;
    Fixture {
        server,
        started,
        release,
    }
}

/// Starts the slow action in the background and waits until its handler runs.
async fn slow_request_in_flight(f: &mut Fixture) -> JoinHandle<Answer> {
    let url = f.server.url("/fs/Waits/actions/slow");
    let request = tokio::spawn(async move { post_json(&url, &json!({"token": "slow-1"})).await });
    timeout(BOUND, f.started.recv())
        .await
        .expect("the handler starts")
        .expect("the handler reports");
    request
}

/// Waits until connecting to the server's address is refused.
async fn until_refused(addr: std::net::SocketAddr) {
    timeout(BOUND, async {
        loop {
            if tokio::net::TcpStream::connect(addr).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("new connections are refused once shutdown starts");
}

#[tokio::test]
async fn in_flight_request_completes_and_new_connections_are_refused() {
    let mut f = start(ServerConfig::default()).await;
    let addr = f.server.addr;
    let request = slow_request_in_flight(&mut f).await;

    let server_task = f.server.begin_shutdown();
    until_refused(addr).await;
    assert!(!request.is_finished(), "the slow request is still running");
    assert!(
        !server_task.is_finished(),
        "the server waits for the in-flight request"
    );

    f.release.send(true).unwrap();
    let answer = timeout(BOUND, request)
        .await
        .expect("the in-flight request completes")
        .unwrap();
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let r = answer.json();
    assert_eq!(r["token"], "slow-1");
    assert_eq!(r["invokeType"], "FORWARD");
    assert_eq!(r["outputs"][0]["developerName"], "Done");
    assert_eq!(r["outputs"][0]["contentValue"], "true");
    assert!(answer.header("x-execution-id").is_some());

    timeout(BOUND, server_task)
        .await
        .expect("the server ends once the request is answered")
        .unwrap();
}

#[tokio::test]
async fn grace_period_bounds_the_drain() {
    let config = ServerConfig {
        shutdown_grace: Duration::from_millis(200),
        ..ServerConfig::default()
    };
    let mut f = start(config).await;
    let request = slow_request_in_flight(&mut f).await;

    let server_task = f.server.begin_shutdown();
    // The handler is never released: only the grace period can end the server.
    timeout(BOUND, server_task)
        .await
        .expect("the server gives up after the grace period")
        .unwrap();
    assert!(
        !request.is_finished(),
        "the request was abandoned, not answered"
    );
    request.abort();
    drop(f.release);
}

#[tokio::test]
async fn idle_keep_alive_connections_do_not_hold_the_drain() {
    // Default grace (30 s): an idle connection must be closed, not waited for.
    let mut f = start(ServerConfig::default()).await;
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let req = Request::get(f.server.url("/fs/Waits/metadata"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let resp = client.request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    resp.into_body().collect().await.unwrap();
    // The client keeps its connection open in its pool.

    let server_task = f.server.begin_shutdown();
    timeout(BOUND, server_task)
        .await
        .expect("idle connections are closed on shutdown")
        .unwrap();
    drop(client);
    drop(f.release);
}
