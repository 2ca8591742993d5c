//! The shared server's transport: HTTP/2 with prior knowledge on the same port as HTTP/1.1,
//! the header-read timeout, and the connection cap.
//!
//! The timeouts below only bound a broken build; no assertion depends on machine speed.

mod support;

use std::time::Duration;

use bytes::Bytes;
use fss::server::ServerConfig;
use http::{Request, Version};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use support::{fixture, get, TestServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

const BOUND: Duration = Duration::from_secs(10);

fn echo_request(token: &str) -> Value {
    json!({
        "token": token, "tenantId": "0b3b9e57-2d7a-4c55-9e6c-1f4f4c1b8a01",
        "inputs": [{"developerName": "Name", "contentValue": token, "contentType": "ContentString"}]
    })
}

#[tokio::test]
async fn http2_prior_knowledge_is_answered() {
    let server = TestServer::start(&fixture("core")).await;
    let client = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http::<Full<Bytes>>();

    // Several requests at once, multiplexed on the client's one HTTP/2 connection.
    let mut tasks = Vec::new();
    for i in 0..8 {
        let client = client.clone();
        let url = server.url("/fs/Sample/actions/echo");
        tasks.push(tokio::spawn(async move {
            let token = format!("h2-{i}");
            let req = Request::post(url)
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from(
                    serde_json::to_vec(&echo_request(&token)).unwrap(),
                )))
                .unwrap();
            let resp = client
                .request(req)
                .await
                .expect("HTTP/2 request is answered");
            assert_eq!(resp.version(), Version::HTTP_2);
            assert_eq!(resp.status(), 200);
            assert!(resp.headers().contains_key("x-execution-id"));
            let body = resp.into_body().collect().await.unwrap().to_bytes();
            let v: Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(v["token"], token.as_str());
            assert_eq!(v["invokeType"], "FORWARD");
            assert_eq!(v["outputs"][0]["contentValue"], token.as_str());
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }

    // Describe and errors over HTTP/2 too.
    let req = Request::get(server.url("/fs/Sample/metadata"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let resp = client.request(req).await.unwrap();
    assert_eq!(resp.version(), Version::HTTP_2);
    assert_eq!(resp.status(), 200);
    let req = Request::get(server.url("/fs/Sample/actions/echo"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let resp = client.request(req).await.unwrap();
    assert_eq!(resp.status(), 405);
    assert_eq!(resp.headers()["allow"], "POST");
    assert_eq!(resp.headers()["x-manywho-service-problem-kind"], "service");

    // And HTTP/1.1 still on the same port.
    let h1 = get(&server.url("/health")).await;
    assert_eq!(h1.status, 200);
    server.stop().await;
}

/// Reads from `stream` until it closes, returning what arrived.
async fn read_to_close(stream: &mut TcpStream) -> String {
    let mut all = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return String::from_utf8_lossy(&all).into_owned(),
            Ok(n) => all.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Reads one response head (up to the blank line) from `stream`.
async fn read_head(stream: &mut TcpStream) -> String {
    let mut all = Vec::new();
    let mut chunk = [0u8; 1024];
    while !all.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut chunk).await.expect("readable");
        assert!(
            n > 0,
            "closed before a response: {}",
            String::from_utf8_lossy(&all)
        );
        all.extend_from_slice(&chunk[..n]);
    }
    String::from_utf8_lossy(&all).into_owned()
}

#[tokio::test]
async fn client_that_does_not_finish_its_headers_is_dropped() {
    let config = ServerConfig {
        header_read_timeout: Duration::from_millis(200),
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(&fixture("core"), |_| {}, config).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"POST /fs/Sample/actions/echo HTTP/1.1\r\nhost: fss\r\n")
        .await
        .unwrap();
    // The header block never ends: the server must close the connection.
    let got = timeout(BOUND, read_to_close(&mut stream))
        .await
        .expect("the connection is closed after the header-read timeout");
    assert!(
        got.is_empty() || got.starts_with("HTTP/1.1 408"),
        "unexpected answer: {got}"
    );
    // The server still serves others.
    assert_eq!(get(&server.url("/health")).await.status, 200);
    server.stop().await;
}

#[tokio::test]
async fn connections_over_the_cap_wait_for_a_free_slot() {
    let config = ServerConfig {
        max_connections: 1,
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(&fixture("core"), |_| {}, config).await;
    let request = b"GET /health HTTP/1.1\r\nhost: fss\r\n\r\n";

    // The first connection takes the only slot and stays open (keep-alive).
    let mut first = TcpStream::connect(server.addr).await.unwrap();
    first.write_all(request).await.unwrap();
    let head = timeout(BOUND, read_head(&mut first)).await.unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");

    // The second one is accepted by the kernel but not served while the first is open.
    let mut second = TcpStream::connect(server.addr).await.unwrap();
    second.write_all(request).await.unwrap();
    let mut chunk = [0u8; 64];
    let early = timeout(Duration::from_millis(300), second.read(&mut chunk)).await;
    assert!(early.is_err(), "served over the connection cap: {early:?}");

    // Closing the first frees the slot; the waiting request is answered.
    drop(first);
    let head = timeout(BOUND, read_head(&mut second))
        .await
        .expect("the waiting connection is served once a slot frees");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    server.stop().await;
}
