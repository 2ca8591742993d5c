//! Sync budget, then WAIT: late answers go to the callbackUri, with retry on BUSY.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use fss::execution::CallbackPolicy;
use fss::process::{Handler, HandlerFuture, ProcessCall, Reply};
use fss::server::ServerConfig;
use fss::Error;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use support::{fixture, post_json, TestServer};

/// Sleeps `Millis`, then answers `Slept` (or fails, when `fail`).
struct Nap {
    fail: bool,
}

impl Handler for Nap {
    fn call(&self, call: ProcessCall) -> HandlerFuture {
        let fail = self.fail;
        Box::pin(async move {
            let ms = call.inputs["Millis"].as_u64().unwrap_or(0);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            if fail {
                return Err(Error::Process("the nap went wrong".into()));
            }
            Ok(Reply::outputs(json!({ "Slept": ms })))
        })
    }
}

/// One request the fake engine received.
#[derive(Debug, Clone)]
struct Received {
    tenant: Option<String>,
    authorization: Option<String>,
    content_type: Option<String>,
    body: Value,
}

/// A fake engine callback endpoint: answers each POST with the next of `replies`
/// (the last one repeats) and records what it got.
async fn engine(replies: Vec<(u16, &'static str)>) -> (String, Arc<Mutex<Vec<Received>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let got: Arc<Mutex<Vec<Received>>> = Arc::default();
    let seen = Arc::clone(&got);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let seen = Arc::clone(&seen);
            let replies = replies.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: Request<Incoming>| {
                    let seen = Arc::clone(&seen);
                    let replies = replies.clone();
                    async move {
                        let h = |n: &str| {
                            req.headers()
                                .get(n)
                                .and_then(|v| v.to_str().ok())
                                .map(str::to_owned)
                        };
                        let (tenant, authorization, content_type) =
                            (h("manywhotenant"), h("authorization"), h("content-type"));
                        let body = req.into_body().collect().await.unwrap().to_bytes();
                        let n = {
                            let mut seen = seen.lock().unwrap();
                            seen.push(Received {
                                tenant,
                                authorization,
                                content_type,
                                body: serde_json::from_slice(&body).unwrap(),
                            });
                            seen.len()
                        };
                        let (status, text) = replies[(n - 1).min(replies.len() - 1)];
                        Ok::<_, std::convert::Infallible>(
                            Response::builder()
                                .status(status)
                                .body(Full::new(Bytes::from(text)))
                                .unwrap(),
                        )
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

async fn server(policy: CallbackPolicy) -> TestServer {
    TestServer::start_config(
        &fixture("wait"),
        |c| c.callback = policy,
        |rt| {
            rt.register_handler("nap", Nap { fail: false });
            rt.register_handler("nap-fail", Nap { fail: true });
        },
        ServerConfig::default(),
    )
    .await
}

fn request(millis: u64, callback: Option<&str>) -> Value {
    json!({
        "token": "tok-wait", "tenantId": "tenant-9", "stateId": "state-1",
        "callbackUri": callback,
        "inputs": [{"developerName": "Millis", "contentValue": millis.to_string(),
                    "contentType": "ContentNumber"}]
    })
}

/// Waits (bounded) until the fake engine has `n` requests.
async fn received(got: &Arc<Mutex<Vec<Received>>>, n: usize) -> Vec<Received> {
    for _ in 0..200 {
        if got.lock().unwrap().len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    got.lock().unwrap().clone()
}

#[tokio::test]
async fn action_within_budget_answers_forward() {
    let s = server(CallbackPolicy::default()).await;
    let (cb, got) = engine(vec![(200, "\"SUCCESS\"")]).await;
    let a = post_json(&s.url("/fs/Slow/actions/nap"), &request(10, Some(&cb))).await;
    assert_eq!(a.status, 200);
    let v = a.json();
    assert_eq!(v["invokeType"], "FORWARD");
    assert_eq!(v["outputs"][0]["contentValue"], "10");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        got.lock().unwrap().is_empty(),
        "no callback for a sync answer"
    );
    s.stop().await;
}

#[tokio::test]
async fn action_past_budget_answers_wait_then_calls_back() {
    let s = server(CallbackPolicy::default()).await;
    let (cb, got) = engine(vec![(200, "\"SUCCESS\"")]).await;
    let started = std::time::Instant::now();
    let a = support::request(
        http::Method::POST,
        &s.url("/fs/Slow/actions/nap"),
        &[
            ("content-type", "application/json"),
            ("authorization", "Basic dTpw"),
        ],
        serde_json::to_vec(&request(1500, Some(&cb))).unwrap(),
    )
    .await;
    let waited = started.elapsed();
    assert_eq!(a.status, 200);
    let v = a.json();
    assert_eq!(v["invokeType"], "WAIT");
    assert_eq!(v["waitMessage"], "Still napping");
    assert_eq!(v["token"], "tok-wait");
    assert!(
        waited < Duration::from_millis(1450),
        "WAIT came after {waited:?}"
    );

    let calls = received(&got, 1).await;
    assert_eq!(calls.len(), 1, "one callback");
    let c = &calls[0];
    assert_eq!(c.tenant.as_deref(), Some("tenant-9"));
    assert_eq!(c.authorization.as_deref(), Some("Basic dTpw"));
    assert_eq!(c.content_type.as_deref(), Some("application/json"));
    assert_eq!(c.body["token"], "tok-wait");
    assert_eq!(c.body["invokeType"], "FORWARD");
    assert_eq!(c.body["outputs"][0]["developerName"], "Slept");
    assert_eq!(c.body["outputs"][0]["contentValue"], "1500");
    let id = a.header("x-execution-id").unwrap();
    let mut record = s.runtime.records().get(id).unwrap();
    for _ in 0..100 {
        if record.callback.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        record = s.runtime.records().get(id).unwrap();
    }
    assert_eq!(record.status, "succeeded");
    let cb = record.callback.expect("callback recorded");
    assert!(cb.delivered);
    assert_eq!(cb.attempts, 1);
    s.stop().await;
}

#[tokio::test]
async fn busy_engine_is_retried_until_it_accepts() {
    let policy = CallbackPolicy {
        attempts: 4,
        backoff: Duration::from_millis(20),
    };
    let s = server(policy).await;
    let (cb, got) = engine(vec![(200, "\"BUSY\""), (503, "down"), (200, "\"SUCCESS\"")]).await;
    let a = post_json(&s.url("/fs/Slow/actions/nap"), &request(1100, Some(&cb))).await;
    assert_eq!(a.json()["invokeType"], "WAIT");
    let calls = received(&got, 3).await;
    assert_eq!(calls.len(), 3, "BUSY and 503 are retried, SUCCESS ends it");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(got.lock().unwrap().len(), 3, "no attempt after SUCCESS");
    assert_eq!(s.runtime.callbacks().counts(), (1, 2, 0));
    s.stop().await;
}

#[tokio::test]
async fn unreachable_engine_is_given_up_after_the_last_attempt() {
    let policy = CallbackPolicy {
        attempts: 3,
        backoff: Duration::from_millis(10),
    };
    let s = server(policy).await;
    // A port that was just free: nothing listens there.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/cb", l.local_addr().unwrap())
    };
    let a = post_json(&s.url("/fs/Slow/actions/nap"), &request(1050, Some(&dead))).await;
    assert_eq!(a.json()["invokeType"], "WAIT");
    for _ in 0..200 {
        if s.runtime.callbacks().counts().2 == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(s.runtime.callbacks().counts(), (0, 2, 1));
    s.stop().await;
}

#[tokio::test]
async fn failure_after_wait_is_called_back_as_root_fault() {
    let s = server(CallbackPolicy::default()).await;
    let (cb, got) = engine(vec![(200, "\"SUCCESS\"")]).await;
    let a = post_json(
        &s.url("/fs/Slow/actions/nap-then-fail"),
        &request(1100, Some(&cb)),
    )
    .await;
    assert_eq!(a.json()["invokeType"], "WAIT");
    let calls = received(&got, 1).await;
    assert_eq!(
        calls[0].body["rootFaults"]["Nap Then Fail"],
        "the nap went wrong"
    );
    s.stop().await;
}

#[tokio::test]
async fn without_callback_uri_the_answer_waits_for_the_end() {
    let s = server(CallbackPolicy::default()).await;
    let a = post_json(&s.url("/fs/Slow/actions/nap"), &request(1200, None)).await;
    assert_eq!(a.status, 200);
    let v = a.json();
    assert_eq!(v["invokeType"], "FORWARD");
    assert_eq!(v["outputs"][0]["contentValue"], "1200");
    s.stop().await;
}
