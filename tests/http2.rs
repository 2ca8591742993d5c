//! HTTP/2 with prior knowledge on the same port as HTTP/1.1.

mod support;

use bytes::Bytes;
use http::{Request, Version};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use support::{fixture, get, TestServer};

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
