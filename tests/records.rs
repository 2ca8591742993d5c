//! Execution records and metrics: what a request leaves behind for troubleshooting.

mod support;

use serde_json::json;
use support::{fixture, post_json, request, TestServer};

fn call(name: Option<&str>) -> serde_json::Value {
    let mut inputs = vec![
        json!({"developerName": "Secret", "contentType": "ContentPassword",
                                 "contentValue": "hunter2"}),
    ];
    if let Some(n) = name {
        inputs.push(json!({"developerName": "Name", "contentValue": n}));
    }
    json!({"token": "t", "configurationValues": [
        {"developerName": "Api Key", "contentValue": "k-secret"},
        {"developerName": "Region", "contentValue": "EU"}], "inputs": inputs})
}

#[tokio::test]
async fn every_execution_is_recorded_without_payloads() {
    let s = TestServer::start(&fixture("records")).await;
    let ok = post_json(&s.url("/fs/Recorded/actions/echo"), &call(Some("Ada"))).await;
    assert_eq!(ok.status, 200);
    let id = ok.header("x-execution-id").unwrap().to_owned();
    let bad = post_json(&s.url("/fs/Recorded/actions/echo"), &call(None)).await;
    assert_eq!(bad.status, 400);
    let bad_id = bad.header("x-execution-id").unwrap().to_owned();

    let r = s.runtime.records().get(&id).expect("record kept");
    assert_eq!(&*r.service, "Recorded");
    assert_eq!(r.operation, "action");
    assert_eq!(&*r.name, "Echo");
    assert_eq!(r.status, "succeeded");
    assert_eq!(r.http_status, 200);
    assert!(r.debug.is_none(), "no payloads without debug");
    let b = s.runtime.records().get(&bad_id).unwrap();
    assert_eq!((b.status, b.http_status), ("failed", 400));
    let newest: Vec<String> = s
        .runtime
        .records()
        .list(|_| true)
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(newest, [bad_id, id]);
    s.stop().await;
}

#[tokio::test]
async fn debug_requests_keep_bodies_with_secrets_redacted() {
    let s = TestServer::start(&fixture("records")).await;
    let body = serde_json::to_vec(&call(Some("Ada"))).unwrap();
    for (url, headers) in [
        (
            s.url("/fs/Recorded/actions/echo"),
            vec![("x-boomi-debug", "true")],
        ),
        (s.url("/fs/Recorded/actions/echo?_boomi_debug=true"), vec![]),
    ] {
        let mut h = vec![("content-type", "application/json")];
        h.extend(headers);
        let a = request(http::Method::POST, &url, &h, body.clone()).await;
        assert_eq!(a.status, 200);
        let r = s
            .runtime
            .records()
            .get(a.header("x-execution-id").unwrap())
            .unwrap();
        let d = r.debug.expect("debug capture kept");
        let text = d.request.unwrap().get().to_owned();
        let req: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert!(
            !text.contains("k-secret") && !text.contains("hunter2"),
            "{text}"
        );
        assert_eq!(req["configurationValues"][1]["contentValue"], "EU");
        let resp: serde_json::Value = serde_json::from_str(d.response.unwrap().get()).unwrap();
        assert_eq!(resp["outputs"][0]["contentValue"], "Ada");
    }
    s.stop().await;
}

/// The definition decides what is secret: a Password input sent as `ContentString` or
/// with no `contentType` at all is redacted all the same.
#[tokio::test]
async fn debug_capture_redacts_by_the_definitions_type() {
    let s = TestServer::start(&fixture("records")).await;
    for content_type in [json!("ContentString"), json!(null)] {
        let body = json!({"token": "t", "inputs": [
            {"developerName": "Name", "contentValue": "Ada"},
            {"developerName": "Secret", "contentType": content_type, "contentValue": "plain-hunter2"}]});
        let a = request(
            http::Method::POST,
            &s.url("/fs/Recorded/actions/echo"),
            &[
                ("content-type", "application/json"),
                ("x-boomi-debug", "true"),
            ],
            serde_json::to_vec(&body).unwrap(),
        )
        .await;
        assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
        let r = s
            .runtime
            .records()
            .get(a.header("x-execution-id").unwrap())
            .unwrap();
        let text = r.debug.unwrap().request.unwrap().get().to_owned();
        assert!(!text.contains("plain-hunter2"), "kept in clear: {text}");
        assert!(text.contains("Ada"), "{text}");
    }
    s.stop().await;
}

#[tokio::test]
async fn metrics_count_requests_by_operation_and_status() {
    let s = TestServer::start(&fixture("records")).await;
    for _ in 0..3 {
        post_json(&s.url("/fs/Recorded/actions/echo"), &call(Some("Ada"))).await;
    }
    post_json(&s.url("/fs/Recorded/actions/echo"), &call(None)).await;
    let text = s.runtime.metrics_text();
    let line = |status: &str| {
        format!(
            "fss_requests_total{{service=\"Recorded\",operation=\"action\",name=\"Echo\",status=\"{status}\"}}"
        )
    };
    assert!(text.contains(&format!("{} 3", line("200"))), "{text}");
    assert!(text.contains(&format!("{} 1", line("400"))), "{text}");
    assert!(text.contains("fss_request_duration_seconds_count{service=\"Recorded\",operation=\"action\",name=\"Echo\"} 4"));
    assert!(text.contains("fss_in_flight_requests 0"));
    s.stop().await;
}
