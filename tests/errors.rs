//! Errors over real sockets: malformed JSON with the parser's position, the ServiceProblem
//! shape and header, 404, 405 with `Allow`, and 413 decided while reading.

mod support;

use std::time::Duration;

use bytes::Bytes;
use fss::server::ServerConfig;
use http::Method;
use serde_json::{json, Value};
use support::{fixture, get, post_json, request, Answer, TestServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const JSON: (&str, &str) = ("content-type", "application/json");

/// POSTs raw bytes as JSON.
async fn post_raw(url: &str, body: &'static [u8]) -> Answer {
    request(Method::POST, url, &[JSON], Bytes::from_static(body)).await
}

/// Asserts the full ServiceProblem body: kind, uri, statusCode, message.
fn assert_problem(a: &Answer, status: u16, path: &str) -> String {
    let msg = a.problem(status);
    assert!(!msg.is_empty());
    assert_eq!(a.header("content-type"), Some("application/json"));
    let v = a.json();
    assert_eq!(v["uri"], path, "{v}");
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    for k in ["kind", "uri", "statusCode", "message"] {
        assert!(keys.contains(&k), "{k} missing in {v}");
    }
    msg
}

// ---------------------------------------------------------------------------------------
// malformed bodies

#[tokio::test]
async fn body_that_is_not_json_is_400_with_the_position() {
    let server = TestServer::start(&fixture("core")).await;
    for path in [
        "/fs/Sample/actions/echo",
        "/fs/Sample/metadata",
        "/fs/Sample/metadata/install",
    ] {
        let a = post_raw(&server.url(path), b"<request token=\"abc\"/>").await;
        let msg = assert_problem(&a, 400, path);
        assert!(msg.contains("JSON"), "{path}: {msg}");
        assert!(msg.contains("line 1 column 1"), "{path}: {msg}");
        let a = post_raw(&server.url(path), b"token=abc&tenant=1").await;
        let msg = assert_problem(&a, 400, path);
        assert!(msg.contains("line 1 column 2"), "{path}: {msg}");
    }
    server.stop().await;
}

#[tokio::test]
async fn malformed_json_is_400_with_line_and_column() {
    let server = TestServer::start(&fixture("core")).await;
    let path = "/fs/Sample/actions/echo";
    // Line 3 has a trailing comma before `]`.
    let body = b"{\n  \"token\": \"t\",\n  \"inputs\": [1,],\n  \"tenantId\": null\n}";
    let a = post_raw(&server.url(path), body).await;
    let msg = assert_problem(&a, 400, path);
    assert!(msg.contains("line 3 column"), "{msg}");

    // Truncated document: the position is where the input ended.
    let a = post_raw(&server.url(path), b"{\"token\": \"t\",\n \"inputs\": [").await;
    let msg = assert_problem(&a, 400, path);
    assert!(msg.contains("line 2 column"), "{msg}");

    // Valid JSON of the wrong shape also names where parsing stopped.
    let a = post_raw(
        &server.url(path),
        b"{\"token\": \"t\",\n\"inputs\": \"not a list\"}",
    )
    .await;
    let msg = assert_problem(&a, 400, path);
    assert!(msg.contains("line 2 column"), "{msg}");

    // The describe body is optional, but when sent it must be JSON.
    let path = "/fs/Sample/metadata";
    let a = post_raw(&server.url(path), b"{\"uri\": \n\n  <nope>}").await;
    let msg = assert_problem(&a, 400, path);
    assert!(msg.contains("line 3 column 3"), "{msg}");
    server.stop().await;
}

// ---------------------------------------------------------------------------------------
// 404 and 405

#[tokio::test]
async fn unknown_service_or_path_is_404_with_a_service_problem() {
    let server = TestServer::start(&fixture("core")).await;
    let body = json!({"token": "t"});
    for path in [
        "/fs/Nope/metadata",
        "/fs/Nope/actions/echo",
        "/fs/sample/metadata",
        "/fs/Sample",
        "/fs/Sample/",
        "/fs/Sample/nothing/here",
        "/fs/Sample/data",
        "/fs/Sample/data/delete",
        "/fs/Sample/file",
        "/fs/Sample/file/content",
        "/fs/",
        "/",
        "/elsewhere",
        "/metadata",
    ] {
        let a = post_json(&server.url(path), &body).await;
        assert_problem(&a, 404, path);
        let a = get(&server.url(path)).await;
        assert_problem(&a, 404, path);
    }
    server.stop().await;
}

#[tokio::test]
async fn wrong_method_is_405_with_allow() {
    let server = TestServer::start(&fixture("desk")).await;
    let cases: &[(Method, &str, &str)] = &[
        (Method::GET, "/fs/Desk/actions/copy-order", "POST"),
        (Method::PUT, "/fs/Desk/actions/copy-order", "POST"),
        (Method::DELETE, "/fs/Desk/metadata", "GET, HEAD, POST"),
        (Method::PUT, "/fs/Desk/metadata", "GET, HEAD, POST"),
        (Method::GET, "/fs/Desk/metadata/install", "POST"),
        (Method::POST, "/fs/Desk/health", "GET, HEAD"),
        (Method::POST, "/health", "GET, HEAD"),
        (Method::DELETE, "/fs/Desk/data", "POST, PUT"),
        (Method::GET, "/fs/Desk/data/delete", "POST"),
        (Method::GET, "/fs/Desk/file", "POST"),
    ];
    for (method, path, allow) in cases {
        let a = request(method.clone(), &server.url(path), &[JSON], Bytes::new()).await;
        let msg = assert_problem(&a, 405, path);
        assert_eq!(a.header("allow"), Some(*allow), "{method} {path}");
        assert!(msg.contains(allow), "{method} {path}: {msg}");
    }
    server.stop().await;
}

#[tokio::test]
async fn every_error_of_an_operation_carries_an_execution_id_and_the_problem_header() {
    let server = TestServer::start(&fixture("core")).await;
    // An operation that fails still names its execution.
    let a = post_raw(&server.url("/fs/Sample/actions/echo"), b"[").await;
    assert_problem(&a, 400, "/fs/Sample/actions/echo");
    assert!(a.header("x-execution-id").is_some());
    // Routing errors happen before any execution.
    let a = post_raw(&server.url("/fs/Sample/actions/nope"), b"{}").await;
    assert_problem(&a, 404, "/fs/Sample/actions/nope");
    server.stop().await;
}

// ---------------------------------------------------------------------------------------
// 413

const LIMIT: u64 = 1024;

async fn start_small() -> TestServer {
    TestServer::start_config(
        &fixture("core"),
        |c| c.max_request_bytes = LIMIT,
        |_| {},
        ServerConfig::default(),
    )
    .await
}

/// A ServiceRequest for echo padded with spaces to exactly `len` bytes.
fn echo_body_of(len: usize) -> Vec<u8> {
    let mut body = serde_json::to_vec(&json!({
        "token": "t",
        "inputs": [{"developerName": "Name", "contentValue": "x", "contentType": "ContentString"}]
    }))
    .unwrap();
    assert!(body.len() <= len);
    body.resize(len, b' ');
    body
}

#[tokio::test]
async fn body_over_the_limit_is_413_and_at_the_limit_is_served() {
    let server = start_small().await;
    let path = "/fs/Sample/actions/echo";
    let at = request(
        Method::POST,
        &server.url(path),
        &[JSON],
        echo_body_of(LIMIT as usize),
    )
    .await;
    assert_eq!(at.status, 200, "{}", String::from_utf8_lossy(&at.body));

    let over = request(
        Method::POST,
        &server.url(path),
        &[JSON],
        echo_body_of(LIMIT as usize + 1),
    )
    .await;
    let msg = assert_problem(&over, 413, path);
    assert!(msg.contains(&LIMIT.to_string()), "{msg}");

    // Describe reads its optional body under the same limit.
    let over = request(
        Method::POST,
        &server.url("/fs/Sample/metadata"),
        &[JSON],
        vec![b' '; 4 * LIMIT as usize],
    )
    .await;
    assert_problem(&over, 413, "/fs/Sample/metadata");
    server.stop().await;
}

/// Reads one HTTP/1.1 response (head and Content-Length body) from `stream`.
async fn read_response(stream: &mut TcpStream) -> (u16, String, Value) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk).await.expect("response is readable");
        assert!(
            n > 0,
            "connection closed before a response: {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let status: u16 = head[9..12].parse().unwrap();
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().unwrap())
        })
        .expect("the answer has a Content-Length");
    while buf.len() < head_end + len {
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed inside the body");
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = serde_json::from_slice(&buf[head_end..head_end + len]).unwrap();
    (status, head, body)
}

#[tokio::test]
async fn chunked_body_over_the_limit_is_413_before_it_ends() {
    let server = start_small().await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let head = "POST /fs/Sample/actions/echo HTTP/1.1\r\nhost: fss\r\n\
                content-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
    stream.write_all(head.as_bytes()).await.unwrap();
    // Three chunks of 400 bytes pass the 1024-byte limit; the body never ends (no final
    // zero-size chunk), so the server must decide while reading.
    let mut data = Vec::new();
    data.extend_from_slice(b"190\r\n");
    let mut first = b"{\"token\":\"t\",\"x\":\"".to_vec();
    first.resize(400, b'a');
    data.extend_from_slice(&first);
    data.extend_from_slice(b"\r\n");
    for _ in 0..2 {
        data.extend_from_slice(b"190\r\n");
        data.extend_from_slice(&[b'a'; 400]);
        data.extend_from_slice(b"\r\n");
    }
    stream.write_all(&data).await.unwrap();
    let (status, head, body) =
        tokio::time::timeout(Duration::from_secs(10), read_response(&mut stream))
            .await
            .expect("413 arrives although the body has not ended");
    assert_eq!(status, 413, "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("x-manywho-service-problem-kind: service"),
        "{head}"
    );
    assert_eq!(body["statusCode"], 413);
    assert_eq!(body["kind"], "service");
    assert_eq!(body["uri"], "/fs/Sample/actions/echo");
    assert!(body["message"].as_str().unwrap().contains("1024"), "{body}");
    server.stop().await;
}

#[tokio::test]
async fn content_length_over_the_limit_is_refused_before_the_body_is_sent() {
    let server = start_small().await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    // Announce 10 MiB and send none of it: the answer must not wait for the body.
    let head = "POST /fs/Sample/actions/echo HTTP/1.1\r\nhost: fss\r\n\
                content-type: application/json\r\ncontent-length: 10485760\r\n\r\n";
    stream.write_all(head.as_bytes()).await.unwrap();
    let (status, head, body) =
        tokio::time::timeout(Duration::from_secs(10), read_response(&mut stream))
            .await
            .expect("413 arrives without the body");
    assert_eq!(status, 413, "{head}");
    assert_eq!(body["statusCode"], 413);
    server.stop().await;
}
