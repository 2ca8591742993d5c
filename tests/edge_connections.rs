//! Connections and deadlines at the edge, over real sockets: connections that never send a
//! request head, idle HTTP/1 and HTTP/2 connections, the per-IP connection cap, bodies
//! that trickle, and processes that run past their execution deadline.
//!
//! Every timeout is configured short (1–2 s) so the suite stays fast; waits are bounded
//! loops on a condition, and the bounds only catch a broken build.

mod support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use fss::process::{Handler, HandlerFuture, ProcessCall, Reply};
use fss::server::ServerConfig;
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{json, Value};
use support::{fixture, post_json, TestServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::timeout;

/// The header-read timeout of these tests.
const HRT: Duration = Duration::from_secs(1);
/// How much later than its deadline a connection may be closed, for a loaded machine.
const SLACK: Duration = Duration::from_secs(3);
/// Bounds a broken build.
const BOUND: Duration = Duration::from_secs(20);

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// An empty SETTINGS frame on stream 0.
const SETTINGS: &[u8] = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00";

/// Sleeps `Millis`, then answers `Slept`.
struct Nap;

impl Handler for Nap {
    fn call(&self, call: ProcessCall) -> HandlerFuture {
        Box::pin(async move {
            let ms = call.inputs["Millis"].as_u64().unwrap_or(0);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok(Reply::outputs(json!({ "Slept": ms })))
        })
    }
}

async fn edge_server(config: ServerConfig) -> TestServer {
    TestServer::start_with(
        &fixture("deadlines"),
        |rt| {
            rt.register_handler("nap", Nap);
            rt.register_handler("stuck", Stuck::default());
        },
        config,
    )
    .await
}

fn echo_body(name: &str) -> Value {
    json!({"token": "tok-edge", "inputs": [
        {"developerName": "Name", "contentValue": name, "contentType": "ContentString"}]})
}

fn nap_body(ms: u64) -> Value {
    json!({"inputs": [{"developerName": "Millis", "contentValue": ms.to_string(),
                       "contentType": "ContentNumber"}]})
}

/// Connects to `addr` from the loopback address `source` (Linux routes all of 127/8).
async fn connect_from(source: &str, addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
    socket.connect(addr).await.unwrap()
}

/// How long after `since` the server closed `stream` (EOF or reset), reading and
/// dropping whatever it sends; `None` when it is still open after `limit`.
async fn closed_within(
    stream: &mut TcpStream,
    since: Instant,
    limit: Duration,
) -> Option<Duration> {
    let mut chunk = [0u8; 4096];
    let read_to_close = async {
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return since.elapsed(),
                Ok(_) => {}
            }
        }
    };
    timeout(limit.saturating_sub(since.elapsed()), read_to_close)
        .await
        .ok()
}

/// Opens a connection, sends `first`, then trickles `trickle` one byte per 250 ms (4 B/s);
/// answers how long until the server closed it, `None` if still open after `limit`.
async fn probe(
    addr: SocketAddr,
    first: &[u8],
    trickle: &[u8],
    limit: Duration,
) -> Option<Duration> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let since = Instant::now();
    if !first.is_empty() {
        stream.write_all(first).await.unwrap();
    }
    for &b in trickle {
        if stream.write_all(&[b]).await.is_err() {
            return Some(since.elapsed());
        }
        if let Some(t) = closed_within(
            &mut stream,
            since,
            since.elapsed() + Duration::from_millis(250),
        )
        .await
        {
            return Some(t);
        }
        if since.elapsed() > limit {
            return None;
        }
    }
    closed_within(&mut stream, since, limit).await
}

// === item: connections that never complete a request head ===

#[tokio::test]
async fn connections_without_a_request_head_are_closed_within_the_header_read_timeout() {
    let s = edge_server(ServerConfig {
        header_read_timeout: HRT,
        ..ServerConfig::default()
    })
    .await;
    let mut preface_settings = PREFACE.to_vec();
    preface_settings.extend_from_slice(SETTINGS);
    let mut trickled = b"GET /fs/Edge/metadata HTTP/1.1\r\nHost: x\r\nX-Pad: ".to_vec();
    trickled.extend_from_slice(&[b'p'; 200]);
    let cases: Vec<(&str, Vec<u8>, Vec<u8>)> = vec![
        ("silent", vec![], vec![]),
        ("half HTTP/2 preface", PREFACE[..12].to_vec(), vec![]),
        ("HTTP/2 preface", PREFACE.to_vec(), vec![]),
        ("preface + SETTINGS", preface_settings, vec![]),
        ("HTTP/1 head trickled 4 B/s", vec![], trickled),
    ];
    let limit = HRT + SLACK;
    let probes = cases.into_iter().map(|(name, first, trickle)| {
        let addr = s.addr;
        tokio::spawn(async move { (name, probe(addr, &first, &trickle, limit).await) })
    });
    let mut held = Vec::new();
    for p in probes {
        let (name, closed) = p.await.unwrap();
        match closed {
            Some(t) => assert!(
                t >= HRT - Duration::from_millis(100),
                "{name} closed early: {t:?}"
            ),
            None => held.push(name),
        }
    }
    assert!(
        held.is_empty(),
        "still open {limit:?} after connect: {held:?}"
    );
    // The server still serves others.
    let a = post_json(&s.url("/fs/Edge/actions/echo"), &echo_body("after")).await;
    assert_eq!(a.status, 200);
    s.stop().await;
}

#[tokio::test]
async fn normal_client_is_served_while_many_connections_sit_silent() {
    let s = edge_server(ServerConfig {
        header_read_timeout: Duration::from_secs(2),
        ..ServerConfig::default()
    })
    .await;
    let mut silent = Vec::new();
    for _ in 0..200 {
        silent.push(TcpStream::connect(s.addr).await.unwrap());
    }
    let started = Instant::now();
    let mut client = connect_from("127.0.0.2", s.addr).await;
    let body = serde_json::to_vec(&echo_body("served")).unwrap();
    let head = format!(
        "POST /fs/Edge/actions/echo HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    client.write_all(head.as_bytes()).await.unwrap();
    client.write_all(&body).await.unwrap();
    let mut answer = Vec::new();
    timeout(Duration::from_secs(2), client.read_to_end(&mut answer))
        .await
        .expect("answered within 2 s while 200 connections sit silent")
        .unwrap();
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("served"), "{text}");
    assert!(started.elapsed() < Duration::from_secs(2));
    // And the silent ones are closed by the header-read timeout.
    let since = Instant::now();
    for c in &mut silent {
        assert!(
            closed_within(c, since, Duration::from_secs(2) + SLACK)
                .await
                .is_some(),
            "a silent connection is still open"
        );
    }
    s.stop().await;
}

// === item: idle connections ===

#[tokio::test]
async fn idle_http1_keep_alive_connection_is_closed_after_the_idle_timeout() {
    // The header-read timeout stays at its default (30 s): the idle timeout closes it.
    let s = edge_server(ServerConfig {
        idle_timeout: Duration::from_secs(1),
        ..ServerConfig::default()
    })
    .await;
    let mut c = TcpStream::connect(s.addr).await.unwrap();
    c.write_all(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut got = Vec::new();
    let mut chunk = [0u8; 1024];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = c.read(&mut chunk).await.unwrap();
        assert!(n > 0, "closed before the answer");
        got.extend_from_slice(&chunk[..n]);
    }
    assert!(got.starts_with(b"HTTP/1.1 200"));
    let since = Instant::now();
    let closed = closed_within(&mut c, since, Duration::from_secs(1) + SLACK).await;
    assert!(closed.is_some(), "an idle keep-alive connection stays open");
    s.stop().await;
}

/// An HTTP/2 prior-knowledge connection to `addr`: its request sender, and the task
/// driving it, which ends when the server closes the connection.
async fn http2_connection(
    addr: SocketAddr,
) -> (
    hyper::client::conn::http2::SendRequest<Full<Bytes>>,
    tokio::task::JoinHandle<()>,
) {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    let task = tokio::spawn(async move {
        let _ = conn.await;
    });
    (send, task)
}

async fn http2_post(
    send: &mut hyper::client::conn::http2::SendRequest<Full<Bytes>>,
    addr: SocketAddr,
    path: &str,
    body: &Value,
) -> (u16, Value) {
    let req = Request::post(format!("http://{addr}{path}"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(serde_json::to_vec(body).unwrap())))
        .unwrap();
    let resp = send
        .send_request(req)
        .await
        .expect("HTTP/2 request answered");
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&body).unwrap())
}

#[tokio::test]
async fn idle_http2_connection_is_closed_after_the_idle_timeout() {
    let s = edge_server(ServerConfig {
        idle_timeout: Duration::from_secs(1),
        ..ServerConfig::default()
    })
    .await;
    let (mut send, conn) = http2_connection(s.addr).await;
    let (status, v) =
        http2_post(&mut send, s.addr, "/fs/Edge/actions/echo", &echo_body("h2")).await;
    assert_eq!(status, 200);
    assert_eq!(v["outputs"][0]["contentValue"], "h2");
    let since = Instant::now();
    timeout(Duration::from_secs(1) + SLACK, conn)
        .await
        .expect("the server closes an HTTP/2 connection with no open stream")
        .unwrap();
    assert!(
        since.elapsed() >= Duration::from_millis(900),
        "closed early"
    );
    s.stop().await;
}

#[tokio::test]
async fn http2_connection_with_an_open_stream_is_not_idle() {
    let s = edge_server(ServerConfig {
        idle_timeout: Duration::from_secs(1),
        ..ServerConfig::default()
    })
    .await;
    let (mut send, _conn) = http2_connection(s.addr).await;
    // The request runs 2.5 idle timeouts: the connection must stay open for it.
    let (status, v) = timeout(
        BOUND,
        http2_post(&mut send, s.addr, "/fs/Edge/actions/nap", &nap_body(2500)),
    )
    .await
    .expect("the long request is answered");
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["outputs"][0]["contentValue"], "2500");
    s.stop().await;
}

// === item: connections per peer IP ===

/// Sends `GET /health` on `stream` and answers the response head, or `None` when the
/// server closes the connection instead.
async fn health_on(stream: &mut TcpStream) -> Option<String> {
    if stream
        .write_all(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .is_err()
    {
        return None;
    }
    let mut got = Vec::new();
    let mut chunk = [0u8; 1024];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        match timeout(BOUND, stream.read(&mut chunk))
            .await
            .expect("answered or closed")
        {
            Ok(0) | Err(_) => return None,
            Ok(n) => got.extend_from_slice(&chunk[..n]),
        }
    }
    Some(String::from_utf8_lossy(&got).into_owned())
}

#[tokio::test]
async fn connections_over_the_per_ip_cap_are_refused_at_once() {
    let s = edge_server(ServerConfig {
        max_connections_per_ip: 2,
        ..ServerConfig::default()
    })
    .await;
    // Two connections from 127.0.0.1, each answered, so both are counted.
    let mut first = connect_from("127.0.0.1", s.addr).await;
    let mut second = connect_from("127.0.0.1", s.addr).await;
    for c in [&mut first, &mut second] {
        let head = health_on(c).await.expect("under the cap: served");
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    }
    // A third from the same address is closed without an answer.
    let mut third = connect_from("127.0.0.1", s.addr).await;
    let started = Instant::now();
    assert_eq!(
        health_on(&mut third).await,
        None,
        "served over the per-IP cap"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "not refused at once"
    );
    // Another host is not affected.
    let mut other = connect_from("127.0.0.2", s.addr).await;
    let head = health_on(&mut other)
        .await
        .expect("another address is served");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    // Closing one frees its slot for its host.
    drop(first);
    let served = timeout(BOUND, async {
        loop {
            let mut again = connect_from("127.0.0.1", s.addr).await;
            if let Some(head) = health_on(&mut again).await {
                return head;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("a slot frees once a connection of the host closes");
    assert!(served.starts_with("HTTP/1.1 200"), "{served}");
    drop(second);
    s.stop().await;
}

// === item: request bodies that trickle ===

/// Sends the head of an echo request announcing `length` body bytes, then `chunk` every
/// `every` until the server stops reading; answers what the server sent back and after
/// how long (or `None` when it said nothing within `limit`).
async fn trickle_echo(
    addr: SocketAddr,
    length: usize,
    chunk: Vec<u8>,
    every: Duration,
    limit: Duration,
) -> Option<(String, Duration)> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    let head = format!(
        "POST /fs/Edge/actions/echo HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
         content-length: {length}\r\n\r\n"
    );
    write.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let writer = tokio::spawn(async move {
        let mut sent = 0;
        while sent + chunk.len() <= length {
            if write.write_all(&chunk).await.is_err() {
                return;
            }
            sent += chunk.len();
            tokio::time::sleep(every).await;
        }
    });
    let mut got = Vec::new();
    let answered = timeout(limit, read.read_to_end(&mut got)).await;
    writer.abort();
    match answered {
        Ok(_) if !got.is_empty() => Some((
            String::from_utf8_lossy(&got).into_owned(),
            started.elapsed(),
        )),
        _ => None,
    }
}

#[tokio::test]
async fn body_slower_than_the_minimum_rate_is_cut_off_with_408() {
    let s = edge_server(ServerConfig {
        body_min_rate: 1024,
        body_rate_window: Duration::from_secs(1),
        ..ServerConfig::default()
    })
    .await;
    // One byte per 200 ms stays well under the 30 s idle timeout.
    let (answer, after) = trickle_echo(
        s.addr,
        100_000,
        b" ".to_vec(),
        Duration::from_millis(200),
        Duration::from_secs(1) + SLACK,
    )
    .await
    .expect("a trickling body is answered within the rate window");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.contains("\"statusCode\":408"),
        "a ServiceProblem: {answer}"
    );
    assert!(
        answer.contains("1024 bytes/s") && answer.contains("1 s"),
        "names the limit: {answer}"
    );
    assert!(
        after >= Duration::from_millis(900),
        "cut off before the window ended: {after:?}"
    );
    s.stop().await;
}

#[tokio::test]
async fn body_past_its_total_deadline_is_cut_off_with_408() {
    let s = edge_server(ServerConfig {
        body_timeout: Duration::from_secs(2),
        body_min_rate: 0,
        ..ServerConfig::default()
    })
    .await;
    // 500 B/s: never idle, never under a rate, but the body would take 200 s.
    let (answer, after) = trickle_echo(
        s.addr,
        100_000,
        vec![b' '; 50],
        Duration::from_millis(100),
        Duration::from_secs(2) + SLACK,
    )
    .await
    .expect("a body past its deadline is answered");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.contains("\"statusCode\":408"),
        "a ServiceProblem: {answer}"
    );
    assert!(answer.contains("2 s"), "names the deadline: {answer}");
    assert!(
        after >= Duration::from_millis(1900),
        "cut off early: {after:?}"
    );
    s.stop().await;
}

#[tokio::test]
async fn body_at_a_healthy_rate_over_several_windows_is_read_whole() {
    let s = edge_server(ServerConfig {
        body_min_rate: 1024,
        body_rate_window: Duration::from_secs(1),
        ..ServerConfig::default()
    })
    .await;
    // 50 KB/s for 2 s: above the minimum in every window.
    let name = "n".repeat(99_000);
    let mut body = serde_json::to_vec(&echo_body(&name)).unwrap();
    let pad = 100_000 - body.len();
    body.extend(std::iter::repeat_n(b' ', pad));
    let stream = TcpStream::connect(s.addr).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    let head = format!(
        "POST /fs/Edge/actions/echo HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    write.write_all(head.as_bytes()).await.unwrap();
    for part in body.chunks(10_000) {
        write.write_all(part).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut got = Vec::new();
    timeout(BOUND, read.read_to_end(&mut got))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&got);
    assert!(
        text.starts_with("HTTP/1.1 200"),
        "{}",
        &text[..text.len().min(300)]
    );
    assert!(text.contains(&name));
    s.stop().await;
}

// === item: execution deadlines ===

/// Never answers; counts how many of its futures were dropped.
#[derive(Default)]
struct Stuck {
    dropped: Arc<AtomicUsize>,
}

/// Counts a drop.
struct DropCount(Arc<AtomicUsize>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl Handler for Stuck {
    fn call(&self, _call: ProcessCall) -> HandlerFuture {
        let guard = DropCount(Arc::clone(&self.dropped));
        Box::pin(async move {
            let _guard = guard;
            std::future::pending::<()>().await;
            Ok(Reply::default())
        })
    }
}

/// A server whose executions have `execution` (synchronous) and `wait` (after WAIT)
/// deadlines; answers it and the drop counter of the `stuck` handler.
async fn deadline_server(execution: Duration, wait: Duration) -> (TestServer, Arc<AtomicUsize>) {
    let dropped = Arc::new(AtomicUsize::new(0));
    let stuck = Stuck {
        dropped: Arc::clone(&dropped),
    };
    let s = TestServer::start_config(
        &fixture("deadlines"),
        move |c| {
            c.execution_timeout = execution;
            c.wait_timeout = wait;
        },
        move |rt| {
            rt.register_handler("nap", Nap);
            rt.register_handler("stuck", stuck);
        },
        ServerConfig::default(),
    )
    .await;
    (s, dropped)
}

fn hang_body(pid_file: &std::path::Path, callback: Option<&str>) -> Value {
    json!({"token": "tok-hang", "tenantId": "tenant-edge", "callbackUri": callback,
           "inputs": [{"developerName": "PidFile", "contentValue": pid_file.to_str().unwrap(),
                       "contentType": "ContentString"}]})
}

/// The pids the hanging command wrote to `path` (itself and its grandchild).
async fn pids(path: &std::path::Path) -> Vec<u32> {
    for _ in 0..400 {
        if let Ok(text) = std::fs::read_to_string(path) {
            return text
                .split_whitespace()
                .map(|p| p.parse().unwrap())
                .collect();
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the command never wrote {}", path.display());
}

/// Whether `pid` runs: it exists and is not a zombie (a zombie has been killed and
/// waits only for its parent to reap it).
fn running(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // "pid (comm) S ...": the state follows the last ')'.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X'])),
        Err(_) => false,
    }
}

/// Waits (bounded) until none of `pids` runs; panics naming those that still do.
async fn all_gone(pids: &[u32]) {
    for _ in 0..200 {
        if !pids.iter().any(|&p| running(p)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let left: Vec<_> = pids.iter().filter(|&&p| running(p)).collect();
    panic!("still running after the deadline: {left:?}");
}

#[tokio::test]
async fn command_past_the_execution_timeout_answers_504_and_its_process_tree_is_killed() {
    let (s, _) = deadline_server(Duration::from_secs(1), Duration::from_secs(60)).await;
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pids");
    let started = Instant::now();
    let a = timeout(
        BOUND,
        post_json(&s.url("/fs/Edge/actions/hang"), &hang_body(&pid_file, None)),
    )
    .await
    .expect("answered at the execution deadline");
    let message = a.problem(504);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "early: {:?}",
        started.elapsed()
    );
    assert!(
        message.contains("execution timeout of 1 s"),
        "names the deadline: {message}"
    );
    let pids = pids(&pid_file).await;
    assert_eq!(pids.len(), 2, "the command and its grandchild");
    all_gone(&pids).await;
    s.stop().await;
}

/// A fake engine callback endpoint: answers `"SUCCESS"` and keeps each body it got.
async fn engine() -> (String, Arc<Mutex<Vec<Value>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let got: Arc<Mutex<Vec<Value>>> = Arc::default();
    let seen = Arc::clone(&got);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let seen = Arc::clone(&seen);
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                    let seen = Arc::clone(&seen);
                    async move {
                        let body = req.into_body().collect().await.unwrap().to_bytes();
                        seen.lock()
                            .unwrap()
                            .push(serde_json::from_slice(&body).unwrap());
                        Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
                            Bytes::from_static(b"\"SUCCESS\""),
                        )))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    (format!("http://{addr}/api/run/1/response"), got)
}

#[tokio::test]
async fn command_past_the_wait_timeout_is_killed_and_the_callback_gets_root_faults() {
    let (s, _) = deadline_server(Duration::from_secs(30), Duration::from_secs(2)).await;
    let (callback, got) = engine().await;
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pids");
    let started = Instant::now();
    let a = post_json(
        &s.url("/fs/Edge/actions/hang-later"),
        &hang_body(&pid_file, Some(&callback)),
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json()["invokeType"], "WAIT");
    let pids = pids(&pid_file).await;
    let body = timeout(BOUND, async {
        loop {
            if let Some(b) = got.lock().unwrap().first() {
                return b.clone();
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    })
    .await
    .expect("the callback comes at the wait deadline");
    assert!(
        started.elapsed() >= Duration::from_millis(1900),
        "early: {:?}",
        started.elapsed()
    );
    assert_eq!(body["invokeType"], "FORWARD");
    assert_eq!(body["token"], "tok-hang");
    let fault = body["rootFaults"]["Hang Later"]
        .as_str()
        .expect("a root fault for the action");
    assert!(
        fault.contains("wait timeout of 2 s"),
        "names the deadline: {fault}"
    );
    all_gone(&pids).await;
    let id = a.header("x-execution-id").unwrap();
    let record = s.runtime.records().get(id).unwrap();
    assert_eq!(record.status, "failed");
    s.stop().await;
}

/// One request of an operation kind.
struct Call {
    what: &'static str,
    method: http::Method,
    path: &'static str,
    content_type: (&'static str, &'static str),
    body: Vec<u8>,
}

impl Call {
    fn new(
        what: &'static str,
        method: http::Method,
        path: &'static str,
        content_type: (&'static str, &'static str),
        body: Vec<u8>,
    ) -> Self {
        Call {
            what,
            method,
            path,
            content_type,
            body,
        }
    }
}

#[tokio::test]
async fn every_operation_that_runs_a_process_answers_504_at_the_execution_timeout() {
    let (s, _) = deadline_server(Duration::from_secs(1), Duration::from_secs(60)).await;
    let data = json!({"objectDataType": {"developerName": "Hung"},
                      "objectData": [{"developerName": "Hung", "externalId": "1", "properties": []}]});
    let json_type = ("content-type", "application/json");
    let to_json = |v: &Value| serde_json::to_vec(v).unwrap();
    let calls = [
        Call::new(
            "load",
            http::Method::POST,
            "/fs/Edge/data",
            json_type,
            to_json(&data),
        ),
        Call::new(
            "save",
            http::Method::PUT,
            "/fs/Edge/data",
            json_type,
            to_json(&data),
        ),
        Call::new(
            "delete",
            http::Method::POST,
            "/fs/Edge/data/delete",
            json_type,
            to_json(&data),
        ),
        Call::new(
            "file list",
            http::Method::POST,
            "/fs/Edge/file",
            json_type,
            to_json(&json!({"resourcePath": "/hung"})),
        ),
        Call::new(
            "upload",
            http::Method::POST,
            "/fs/Edge/file/content?resourcePath=/hung&name=a.txt",
            ("content-type", "application/octet-stream"),
            b"hello".to_vec(),
        ),
    ];
    let tasks = calls.into_iter().map(|c| {
        let url = s.url(c.path);
        tokio::spawn(async move {
            let a = timeout(
                BOUND,
                support::request(c.method, &url, &[c.content_type], c.body),
            )
            .await
            .unwrap_or_else(|_| panic!("{}: no answer", c.what));
            (c.what, a)
        })
    });
    for t in tasks {
        let (what, a) = t.await.unwrap();
        assert_eq!(
            a.status,
            504,
            "{what}: {}",
            String::from_utf8_lossy(&a.body)
        );
        let message = a.problem(504);
        assert!(
            message.contains("execution timeout of 1 s"),
            "{what}: {message}"
        );
    }
    s.stop().await;
}

#[tokio::test]
async fn handler_past_the_execution_timeout_is_dropped_and_frees_its_slot() {
    let (s, dropped) = deadline_server(Duration::from_secs(1), Duration::from_secs(60)).await;
    let url = s.url("/fs/Edge/actions/stuck");
    let a = timeout(BOUND, post_json(&url, &json!({"inputs": []})))
        .await
        .unwrap();
    assert!(a.problem(504).contains("1 s"));
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        1,
        "the handler future is dropped"
    );
    // The one slot (maxConcurrentExecutions 1) is free again: not a 503.
    let again = timeout(BOUND, post_json(&url, &json!({"inputs": []})))
        .await
        .unwrap();
    assert_eq!(
        again.status,
        504,
        "{}",
        String::from_utf8_lossy(&again.body)
    );
    assert_eq!(dropped.load(Ordering::SeqCst), 2);
    s.stop().await;
}
