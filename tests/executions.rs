//! The executions and metrics endpoints of the admin API.

mod support;

use fss::server::ServerConfig;
use http::Method;
use serde_json::json;
use support::{admin_config, basic, fixture, post_json, request, Answer, TestServer};

const ADMIN: &str = "ops-admin";
const PASSWORD: &str = "ops-admin-pw";

async fn start() -> TestServer {
    let server = TestServer::start_with(&fixture("records"), |_| {}, ServerConfig::default()).await;
    server
        .enable_admin(admin_config(ADMIN, PASSWORD))
        .await
        .expect("admin API enables");
    server
}

async fn api(s: &TestServer, path: &str) -> Answer {
    let auth = basic(ADMIN, PASSWORD);
    request(Method::GET, &s.url(path), &[("authorization", &auth)], "").await
}

async fn echo(s: &TestServer, name: Option<&str>) -> Answer {
    let mut inputs = vec![];
    if let Some(n) = name {
        inputs.push(json!({"developerName": "Name", "contentValue": n}));
    }
    post_json(
        &s.url("/fs/Recorded/actions/echo"),
        &json!({"inputs": inputs}),
    )
    .await
}

#[tokio::test]
async fn executions_list_filters_sorts_and_pages() {
    let s = start().await;
    let mut ok_ids = Vec::new();
    for i in 0..5 {
        let a = echo(&s, Some(&format!("n{i}"))).await;
        assert_eq!(a.status, 200);
        ok_ids.push(a.header("x-execution-id").unwrap().to_owned());
    }
    let bad = echo(&s, None).await;
    assert_eq!(bad.status, 400);
    let bad_id = bad.header("x-execution-id").unwrap().to_owned();

    let all = api(&s, "/api/runtime/executions").await;
    assert_eq!(all.status, 200);
    let v = all.json();
    assert_eq!(v["total"], 6);
    assert_eq!(v["sort"], "startTime");
    assert_eq!(v["order"], "asc");
    let ids: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids[..5],
        ok_ids.iter().map(String::as_str).collect::<Vec<_>>()[..]
    );

    let failed = api(&s, "/api/runtime/executions?status=failed")
        .await
        .json();
    assert_eq!(failed["total"], 1);
    assert_eq!(failed["data"][0]["id"], bad_id.as_str());
    assert_eq!(failed["data"][0]["httpStatus"], 400);

    let page = api(
        &s,
        "/api/runtime/executions?status=succeeded&sort=startTime&order=desc&start=1&size=2",
    )
    .await
    .json();
    assert_eq!(page["total"], 5);
    assert_eq!(page["size"], 2);
    assert_eq!(page["data"][0]["id"], ok_ids[3].as_str());
    assert_eq!(page["data"][1]["id"], ok_ids[2].as_str());

    let by_service = api(&s, "/api/runtime/executions?service=Nope").await.json();
    assert_eq!(by_service["total"], 0);
    let by_op = api(
        &s,
        "/api/runtime/executions?operation=action&serviceLike=Rec%25",
    )
    .await
    .json();
    assert_eq!(by_op["total"], 6);

    let one = api(&s, &format!("/api/runtime/executions/{}", ok_ids[0])).await;
    assert_eq!(one.status, 200);
    let r = one.json();
    assert_eq!(r["service"], "Recorded");
    assert_eq!(r["name"], "Echo");
    assert_eq!(r["status"], "succeeded");
    assert!(r["durationMicros"].as_u64().is_some());
    assert!(r.get("debug").is_none(), "no payloads");
    s.stop().await;
}

#[tokio::test]
async fn executions_refuse_bad_parameters_and_unknown_ids() {
    let s = start().await;
    for (q, needle) in [
        ("status=bogus", "status"),
        ("sort=bogus", "sort"),
        ("order=up", "order"),
        ("size=x", "size"),
    ] {
        let a = api(&s, &format!("/api/runtime/executions?{q}")).await;
        assert_eq!(a.status, 400, "{q}");
        let m = a.json()["errorMessage"].as_str().unwrap().to_owned();
        assert!(m.contains(needle), "{q}: {m}");
    }
    let missing = api(&s, "/api/runtime/executions/no-such-id").await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["statusCode"], 404);
    let anonymous = request(Method::GET, &s.url("/api/runtime/executions"), &[], "").await;
    assert_eq!(anonymous.status, 401);
    s.stop().await;
}

#[tokio::test]
async fn metrics_text_parses_and_counts_known_requests() {
    let s = start().await;
    for _ in 0..4 {
        echo(&s, Some("x")).await;
    }
    echo(&s, None).await;
    let a = api(&s, "/api/management/metrics").await;
    assert_eq!(a.status, 200);
    assert!(a
        .header("content-type")
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let text = String::from_utf8(a.body.to_vec()).unwrap();
    // Every line is a comment or `name{labels} value` with a numeric value.
    let mut samples = std::collections::HashMap::new();
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let (series, value) = line.rsplit_once(' ').expect("series and value");
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("numeric value: {line}"));
        assert!(
            series.starts_with("fss_") || series.starts_with("process_"),
            "{line}"
        );
        samples.insert(series.to_owned(), value);
    }
    let key = |status: &str| {
        format!("fss_requests_total{{service=\"Recorded\",operation=\"action\",name=\"Echo\",status=\"{status}\"}}")
    };
    assert_eq!(samples[&key("200")], 4.0);
    assert_eq!(samples[&key("400")], 1.0);
    assert_eq!(
        samples["fss_request_duration_seconds_count{service=\"Recorded\",operation=\"action\",name=\"Echo\"}"],
        5.0
    );
    assert_eq!(samples["fss_shed_total"], 0.0);
    assert_eq!(samples["fss_callbacks_total{outcome=\"delivered\"}"], 0.0);
    s.stop().await;
}
