//! Events over real sockets: a deployment (through `/api/repository/deployments`) of an
//! event, its inbound `http` channels, an outbound `http` channel pointing at a loopback
//! peer that records what it gets, and a service whose action subscribes to the event
//! with a command that writes its stdin to a file.
//!
//! A POST to a webhook `/events/{channelKey}` is answered 202, runs the subscriber with
//! the payload as its inputs (the file appears) and reaches the peer as one flat JSON
//! object. The webhook authenticates as the channel says (admin Basic credentials,
//! anonymous, an HMAC signature of the raw body) and refuses what cannot become an event
//! with the admin error body; an outbound channel that does not take the event makes the
//! webhook a 502 naming the channel.

mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hmac::{Hmac, Mac};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use sha2::Sha256;
use support::deploy::{upload, zip_of};
use support::{basic, request, Answer, TestServer};

const ADMIN: &str = "event-admin";
const PASSWORD: &str = "event-admin-pw-1";
const HOOK_SECRET: &str = "whsec-orders-5d1e";
/// The query of the peer's URL: a secret no error may show.
const PEER_TOKEN: &str = "peer-token-s3cret";
/// The largest webhook body of the test servers.
const MAX_BODY: u64 = 4096;

// === the loopback peer ===

/// One request the peer received.
#[derive(Debug, Clone)]
struct Received {
    method: Method,
    path_and_query: String,
    headers: http::HeaderMap,
    body: Bytes,
}

/// A loopback HTTP server that records every request and answers `status`.
#[derive(Clone)]
struct Peer {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    status: Arc<AtomicU16>,
}

impl Peer {
    async fn start() -> Peer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let peer = Peer {
            addr: listener.local_addr().unwrap(),
            received: Arc::default(),
            status: Arc::new(AtomicU16::new(200)),
        };
        let p = peer.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let p = p.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                        let p = p.clone();
                        async move {
                            let (parts, body) = req.into_parts();
                            let body = body.collect().await?.to_bytes();
                            p.received.lock().unwrap().push(Received {
                                method: parts.method,
                                path_and_query: parts
                                    .uri
                                    .path_and_query()
                                    .map(|p| p.as_str().to_owned())
                                    .unwrap_or_default(),
                                headers: parts.headers,
                                body,
                            });
                            let mut resp = Response::new(Full::new(Bytes::from_static(b"{}")));
                            *resp.status_mut() =
                                StatusCode::from_u16(p.status.load(Ordering::SeqCst)).unwrap();
                            Ok::<_, hyper::Error>(resp)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        peer
    }

    fn url(&self) -> String {
        format!("http://{}/in/orders?token={PEER_TOKEN}", self.addr)
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

// === the deployment ===

/// The event `orderPlaced`: two typed fields, in on three webhooks, out to the peer.
fn event() -> Value {
    json!({
        "key": "orderPlaced",
        "name": "Order placed",
        "inboundChannelKeys": ["orderHook", "openHook", "signedHook"],
        "outboundChannelKeys": ["toPeer", "notDeployed"],
        "payload": [
            {"name": "orderId", "type": "string"},
            {"name": "amount", "type": "double"}
        ]
    })
}

fn inbound(key: &str, extra: Value) -> Value {
    let mut c = json!({
        "key": key,
        "channelType": "inbound",
        "type": "http",
        "deserializerType": "json",
        "channelEventKeyDetection": {"fixedValue": "orderPlaced"}
    });
    for (k, v) in extra.as_object().unwrap() {
        c[k] = v.clone();
    }
    c
}

/// The channels: Basic-authenticated, anonymous (the event key from a field), signed,
/// and the outbound one to `peer`.
fn channels(peer: &Peer) -> Vec<(&'static str, Value)> {
    vec![
        ("orderHook.channel", inbound("orderHook", json!({}))),
        (
            "openHook.channel",
            inbound(
                "openHook",
                json!({"allowAnonymous": true,
                       "channelEventKeyDetection": {"jsonField": "eventKey"}}),
            ),
        ),
        (
            "signedHook.channel",
            inbound(
                "signedHook",
                json!({"signature": {"secretAlias": "order-hook", "header": "X-Hub-Signature-256",
                                     "algorithm": "sha256", "encoding": "hex", "prefix": "sha256=",
                                     "timestampHeader": null, "template": "{body}"}}),
            ),
        ),
        (
            "toPeer.channel",
            json!({"key": "toPeer", "channelType": "outbound", "type": "http",
                   "serializerType": "json", "destination": peer.url()}),
        ),
    ]
}

/// The `Orders` service: `Record` subscribes to `orderPlaced` and writes what it gets on
/// stdin to a file of its own in `runs`.
fn service(runs: &Path) -> Value {
    let script = format!(
        "t=$(mktemp '{dir}/.run.XXXXXX') && cat > \"$t\" && mv \"$t\" \"$t.json\" && \
         printf '{{\"outputs\":{{}}}}'",
        dir = runs.display()
    );
    json!({
        "name": "Orders",
        "messageActions": [{
            "name": "Record",
            "inputs": [{"name": "orderId", "type": "String", "required": true},
                       {"name": "amount", "type": "Number"}],
            "events": ["orderPlaced"],
            "process": {"command": ["sh", "-c", script]}
        }]
    })
}

fn text(a: &Answer) -> String {
    String::from_utf8_lossy(&a.body).into_owned()
}

/// A running server with the deployment, its peer, and the folder the subscriber writes
/// its runs to.
struct Env {
    server: TestServer,
    peer: Peer,
    runs: PathBuf,
    _dirs: (tempfile::TempDir, tempfile::TempDir, tempfile::TempDir),
}

impl Env {
    async fn start() -> Env {
        let (ops, data, runs) = (
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
        );
        let server =
            TestServer::start_admin_config(ops.path(), data.path(), ADMIN, PASSWORD, |c| {
                c.max_request_bytes = MAX_BODY;
            })
            .await;
        let peer = Peer::start().await;
        let env = Env {
            server,
            peer,
            runs: runs.path().to_path_buf(),
            _dirs: (ops, data, runs),
        };
        let mut entries = vec![
            (
                "Orders.json",
                serde_json::to_vec(&service(&env.runs)).unwrap(),
            ),
            (
                "orders/orderPlaced.event",
                serde_json::to_vec(&event()).unwrap(),
            ),
        ];
        for (name, c) in channels(&env.peer) {
            entries.push((name, serde_json::to_vec(&c).unwrap()));
        }
        let entries: Vec<(&str, &[u8])> = entries.iter().map(|(n, b)| (*n, &b[..])).collect();
        let z = zip_of(&entries);
        let auth = basic(ADMIN, PASSWORD);
        let a = upload(
            &env.server,
            "/api/repository",
            (ADMIN, PASSWORD),
            "Orders",
            "orders.zip",
            &z,
        )
        .await;
        assert_eq!(a.status, 201, "deploy: {}", text(&a));
        let put = request(
            Method::PUT,
            &env.server.url("/api/keystore/order-hook"),
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
            ],
            serde_json::to_vec(&json!({"value": HOOK_SECRET})).unwrap(),
        )
        .await;
        assert_eq!(put.status, 204, "keystore: {}", text(&put));
        env
    }

    /// POSTs `body` to the webhook of `channel` with `headers`.
    async fn post(&self, channel: &str, headers: &[(&str, &str)], body: &[u8]) -> Answer {
        let mut h = vec![("content-type", "application/json")];
        h.extend_from_slice(headers);
        request(
            Method::POST,
            &self.server.url(&format!("/events/{channel}")),
            &h,
            body.to_vec(),
        )
        .await
    }

    /// POSTs `body` to `channel` with admin credentials.
    async fn post_admin(&self, channel: &str, body: &Value) -> Answer {
        let auth = basic(ADMIN, PASSWORD);
        self.post(
            channel,
            &[("authorization", &auth)],
            &serde_json::to_vec(body).unwrap(),
        )
        .await
    }

    /// The stdin documents of the subscriber's runs so far.
    fn runs(&self) -> Vec<Value> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&self.runs).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                out.push(serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap());
            }
        }
        out
    }

    /// Waits (at most 15 s) until the subscriber has run `n` times; returns the runs.
    async fn wait_runs(&self, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let runs = self.runs();
            if runs.len() >= n {
                return runs;
            }
            assert!(
                Instant::now() < deadline,
                "the subscriber ran {} times, not {n}",
                runs.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The subscriber's execution records, once there are `n` (at most 15 s).
    async fn wait_records(&self, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(15);
        let auth = basic(ADMIN, PASSWORD);
        loop {
            let a = request(
                Method::GET,
                &self
                    .server
                    .url("/api/runtime/executions?operation=event&service=Orders"),
                &[("authorization", &auth)],
                Bytes::new(),
            )
            .await;
            assert_eq!(a.status, 200, "{}", text(&a));
            let data = a.json()["data"].as_array().cloned().unwrap_or_default();
            if data.len() >= n {
                return data;
            }
            assert!(
                Instant::now() < deadline,
                "{} event records, not {n}",
                data.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn admin_error(a: &Answer, status: u16) -> String {
    assert_eq!(a.status.as_u16(), status, "body: {}", text(a));
    let v = a.json();
    assert_eq!(v["statusCode"], status, "{v}");
    v["errorMessage"].as_str().unwrap().to_owned()
}

fn sign(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(HOOK_SECRET.as_bytes()).unwrap();
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

// === tests ===

#[tokio::test]
async fn webhook_event_runs_the_subscriber_and_reaches_the_outbound_peer() {
    let env = Env::start().await;
    let a = env
        .post_admin(
            "orderHook",
            &json!({"orderId": "o-1", "amount": 19.99, "undeclared": "dropped"}),
        )
        .await;
    assert_eq!(a.status, 202, "{}", text(&a));
    let v = a.json();
    assert_eq!(v["eventDefinitionKey"], "orderPlaced");
    let id = v["eventDefinitionId"].as_str().unwrap().to_owned();
    assert!(!id.is_empty());

    // the outbound channel was awaited: the peer has it when the webhook answers
    let got = env.peer.received();
    assert_eq!(got.len(), 1, "{got:?}");
    let r = &got[0];
    assert_eq!(r.method, Method::POST);
    assert_eq!(r.path_and_query, format!("/in/orders?token={PEER_TOKEN}"));
    assert_eq!(r.headers["content-type"], "application/json");
    assert_eq!(r.headers["x-event-key"], "orderPlaced");
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body, json!({"orderId": "o-1", "amount": 19.99}));

    // the subscriber ran as an execution with the payload as its inputs
    let runs = env.wait_runs(1).await;
    let call = &runs[0];
    assert_eq!(call["service"], "Orders");
    assert_eq!(call["name"], "Record");
    assert_eq!(call["inputs"], json!({"orderId": "o-1", "amount": 19.99}));
    assert_eq!(call["tracked"]["Event"], "orderPlaced");
    assert_eq!(call["tracked"]["Event Definition Id"], id.as_str());
    let records = env.wait_records(1).await;
    let rec = &records[0];
    assert_eq!(rec["name"], "Record");
    assert_eq!(rec["status"], "succeeded", "{rec}");
    assert_eq!(rec["id"], call["executionId"]);
    assert_eq!(rec["tracked"]["Event"], "orderPlaced");
    env.server.stop().await;
}

#[tokio::test]
async fn webhook_needs_admin_credentials_unless_the_channel_is_anonymous() {
    let env = Env::start().await;
    let body = br#"{"orderId": "o-2", "amount": 5}"#;
    let a = env.post("orderHook", &[], body).await;
    assert!(admin_error(&a, 401).contains("credentials are required"));
    assert!(a.header("www-authenticate").is_some());
    let wrong = basic(ADMIN, "not-the-password");
    let a = env
        .post("orderHook", &[("authorization", &wrong)], body)
        .await;
    admin_error(&a, 401);
    assert!(env.peer.received().is_empty(), "nothing was sent");

    // the anonymous channel takes the event key from the field `eventKey`
    let a = env
        .post(
            "openHook",
            &[],
            br#"{"eventKey": "orderPlaced", "orderId": "o-3", "amount": 7.5}"#,
        )
        .await;
    assert_eq!(a.status, 202, "{}", text(&a));
    assert_eq!(a.json()["eventDefinitionKey"], "orderPlaced");
    let runs = env.wait_runs(1).await;
    assert_eq!(runs[0]["inputs"], json!({"orderId": "o-3", "amount": 7.5}));
    assert_eq!(env.peer.received().len(), 1);
    env.server.stop().await;
}

#[tokio::test]
async fn signed_channel_verifies_the_hmac_of_the_raw_body() {
    let env = Env::start().await;
    let body = br#"{"orderId":"o-4","amount":1.25}"#;

    let a = env.post("signedHook", &[], body).await;
    let msg = admin_error(&a, 401);
    assert!(msg.contains("X-Hub-Signature-256"), "{msg}");
    let other = sign(br#"{"orderId":"o-4","amount":99}"#);
    let a = env
        .post("signedHook", &[("x-hub-signature-256", &other)], body)
        .await;
    let msg = admin_error(&a, 401);
    assert!(!msg.contains(HOOK_SECRET) && !msg.contains(&other), "{msg}");
    assert!(env.peer.received().is_empty());

    let good = sign(body);
    let a = env
        .post("signedHook", &[("x-hub-signature-256", &good)], body)
        .await;
    assert_eq!(a.status, 202, "{}", text(&a));
    let runs = env.wait_runs(1).await;
    assert_eq!(runs[0]["inputs"]["orderId"], "o-4");
    env.server.stop().await;
}

#[tokio::test]
async fn webhook_refuses_what_cannot_become_an_event() {
    let env = Env::start().await;
    let auth = basic(ADMIN, PASSWORD);
    let with_auth = [("authorization", auth.as_str())];

    let a = env.post("noSuchHook", &with_auth, b"{}").await;
    assert_eq!(
        admin_error(&a, 404),
        "no inbound http channel 'noSuchHook' is deployed"
    );
    // an outbound channel has no webhook
    let a = env.post("toPeer", &with_auth, b"{}").await;
    assert_eq!(
        admin_error(&a, 404),
        "no inbound http channel 'toPeer' is deployed"
    );

    let a = request(
        Method::GET,
        &env.server.url("/events/orderHook"),
        &with_auth,
        Bytes::new(),
    )
    .await;
    admin_error(&a, 405);
    assert_eq!(a.header("allow"), Some("POST"));

    let a = env.post("orderHook", &with_auth, b"orderId=o-5").await;
    assert!(admin_error(&a, 400).contains("is not JSON"), "{}", text(&a));
    let a = env.post("orderHook", &with_auth, b"[1, 2]").await;
    assert!(admin_error(&a, 400).contains("not a JSON object"));

    let a = env
        .post_admin("orderHook", &json!({"orderId": "o-5", "amount": "a lot"}))
        .await;
    let msg = admin_error(&a, 400);
    assert!(
        msg.contains("'amount' must be of type double but is a string"),
        "{msg}"
    );

    let a = env.post("openHook", &[], br#"{"orderId": "o-6"}"#).await;
    let msg = admin_error(&a, 400);
    assert!(
        msg.contains("names no event") && msg.contains("'eventKey'"),
        "{msg}"
    );
    let a = env
        .post("openHook", &[], br#"{"eventKey": "orderShipped"}"#)
        .await;
    assert_eq!(admin_error(&a, 400), "event 'orderShipped' is not deployed");

    let big = format!(r#"{{"orderId": "{}"}}"#, "x".repeat(MAX_BODY as usize));
    let a = env.post("orderHook", &with_auth, big.as_bytes()).await;
    admin_error(&a, 413);

    assert!(env.peer.received().is_empty(), "nothing was sent");
    assert!(env.runs().is_empty(), "nothing ran");
    env.server.stop().await;
}

#[tokio::test]
async fn an_outbound_channel_answering_500_makes_the_webhook_a_502_naming_it() {
    let env = Env::start().await;
    env.peer.status.store(500, Ordering::SeqCst);
    let a = env
        .post_admin("orderHook", &json!({"orderId": "o-7", "amount": 3}))
        .await;
    let msg = admin_error(&a, 502);
    assert!(msg.contains("channel 'toPeer'"), "{msg}");
    assert!(msg.contains("answered 500"), "{msg}");
    assert!(msg.contains("/in/orders"), "{msg}");
    assert!(
        !msg.contains(PEER_TOKEN),
        "the URL's query stays out: {msg}"
    );
    assert_eq!(env.peer.received().len(), 1);
    // the subscriber gets the event whatever an outbound channel did
    let runs = env.wait_runs(1).await;
    assert_eq!(runs[0]["inputs"]["orderId"], "o-7");
    env.server.stop().await;
}
