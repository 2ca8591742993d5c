//! Callbacks over HTTPS and the one outbound client: a receiver signed by `--ca-file`'s CA
//! gets the late answer; one with an untrusted certificate gets nothing and the record
//! says why; HTTP/2 by ALPN, HTTP/1.1 in clear; a bad `--ca-file` stops the start.
//! Every certificate is made here, at test time (rcgen).

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use fss::execution::CallbackPolicy;
use fss::http::client::{OutboundClient, OutboundConfig, OutboundError};
use fss::process::{Handler, HandlerFuture, ProcessCall, Reply};
use fss::server::ServerConfig;
use http::{Method, Request, Response, Version};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::crypto::ring;
use rustls::ServerConfig as TlsServerConfig;
use serde_json::{json, Value};
use support::pki::{self_signed, Identity, TestCa, LOOPBACK};
use support::{fixture, post_json, TestServer};
use tokio_rustls::TlsAcceptor;

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

/// A private CA, a server certificate it signed for 127.0.0.1 and localhost, and a
/// self-signed one for the same names; the CA's PEM written to `dir/ca.pem`.
struct Pki {
    ca_file: PathBuf,
    signed: Identity,
    wrong_name: Identity,
    self_signed: Identity,
}

fn clone_pair((cert, key): &Identity) -> Identity {
    (cert.clone(), key.clone_key())
}

fn pki(dir: &Path) -> Pki {
    let ca = TestCa::new(dir, "fss test CA");
    Pki {
        signed: ca.sign(&LOOPBACK),
        wrong_name: ca.sign(&["elsewhere.example"]),
        self_signed: self_signed(&LOOPBACK),
        ca_file: ca.ca_file,
    }
}

/// What a receiver saw.
#[derive(Debug, Default)]
struct Seen {
    /// Requests: HTTP version and JSON body.
    posts: Mutex<Vec<(Version, Value)>>,
    /// Connections whose TLS handshake failed.
    failed_handshakes: AtomicUsize,
}

/// An engine-like callback endpoint, over TLS with `cert` (ALPN `alpn`) or in clear when
/// `cert` is `None`; answers `"SUCCESS"` to every POST. Returns its base URL.
async fn receiver(cert: Option<Identity>, alpn: &[&[u8]]) -> (String, Arc<Seen>) {
    let acceptor = cert.map(|(cert, key)| {
        let mut config = TlsServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .unwrap();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        TlsAcceptor::from(Arc::new(config))
    });
    let scheme = if acceptor.is_some() { "https" } else { "http" };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Seen::default());
    let state = Arc::clone(&seen);
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let (acceptor, seen) = (acceptor.clone(), Arc::clone(&state));
            tokio::spawn(async move {
                let svc = {
                    let seen = Arc::clone(&seen);
                    service_fn(move |req: Request<Incoming>| {
                        let seen = Arc::clone(&seen);
                        async move {
                            let version = req.version();
                            let body = req.into_body().collect().await.unwrap().to_bytes();
                            let doc = serde_json::from_slice(&body).unwrap_or(Value::Null);
                            seen.posts.lock().unwrap().push((version, doc));
                            Ok::<_, std::convert::Infallible>(Response::new(Full::new(
                                Bytes::from_static(b"\"SUCCESS\""),
                            )))
                        }
                    })
                };
                let serve = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                match acceptor {
                    Some(acceptor) => match acceptor.accept(tcp).await {
                        Ok(tls) => {
                            let _ = serve.serve_connection(TokioIo::new(tls), svc).await;
                        }
                        Err(_) => {
                            seen.failed_handshakes.fetch_add(1, Ordering::SeqCst);
                        }
                    },
                    None => {
                        let _ = serve.serve_connection(TokioIo::new(tcp), svc).await;
                    }
                }
            });
        }
    });
    (format!("{scheme}://127.0.0.1:{}", addr.port()), seen)
}

const H2_AND_H1: &[&[u8]] = &[b"h2", b"http/1.1"];
const H1_ONLY: &[&[u8]] = &[b"http/1.1"];

async fn server(ca_file: &Path, policy: CallbackPolicy) -> TestServer {
    let ca_file = ca_file.to_path_buf();
    TestServer::start_config(
        &fixture("wait"),
        move |c| {
            c.callback = policy;
            c.outbound.ca_file = Some(ca_file);
        },
        |rt| {
            rt.register_handler("nap", Nap);
            rt.register_handler("nap-fail", Nap);
        },
        ServerConfig::default(),
    )
    .await
}

fn wait_request(callback: &str) -> Value {
    json!({
        "token": "tok-tls", "tenantId": "tenant-9", "stateId": "state-1",
        "callbackUri": callback,
        "inputs": [{"developerName": "Millis", "contentValue": "1200",
                    "contentType": "ContentNumber"}]
    })
}

/// The callback part of the record of execution `id`, once it is there (bounded).
async fn callback_record(s: &TestServer, id: &str) -> fss::execution::records::CallbackRecord {
    for _ in 0..400 {
        if let Some(cb) = s.runtime.records().get(id).and_then(|r| r.callback) {
            return cb;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no callback outcome recorded for {id}")
}

#[tokio::test]
async fn wait_then_callback_reaches_https_receiver_trusted_by_ca_file() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let (base, seen) = receiver(Some(pki.signed), H1_ONLY).await;
    let s = server(&pki.ca_file, CallbackPolicy::default()).await;

    let a = post_json(
        &s.url("/fs/Slow/actions/nap"),
        &wait_request(&format!("{base}/api/run/1/response")),
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json()["invokeType"], "WAIT");
    let id = a.header("x-execution-id").unwrap().to_owned();

    let cb = callback_record(&s, &id).await;
    assert!(cb.delivered, "{cb:?}");
    assert_eq!(cb.attempts, 1);
    assert_eq!(cb.reason, None);
    let posts = seen.posts.lock().unwrap().clone();
    assert_eq!(posts.len(), 1, "one callback");
    assert_eq!(posts[0].1["invokeType"], "FORWARD");
    assert_eq!(posts[0].1["token"], "tok-tls");
    assert_eq!(posts[0].1["outputs"][0]["contentValue"], "1200");
    assert_eq!(seen.failed_handshakes.load(Ordering::SeqCst), 0);
    s.stop().await;
}

#[tokio::test]
async fn callback_to_untrusted_certificate_is_not_delivered_and_record_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let (base, seen) = receiver(Some(pki.self_signed), H2_AND_H1).await;
    let policy = CallbackPolicy {
        attempts: 3,
        backoff: Duration::from_millis(20),
    };
    let s = server(&pki.ca_file, policy).await;

    let a = post_json(
        &s.url("/fs/Slow/actions/nap"),
        &wait_request(&format!("{base}/api/run/1/response")),
    )
    .await;
    assert_eq!(a.json()["invokeType"], "WAIT");
    let id = a.header("x-execution-id").unwrap().to_owned();

    let cb = callback_record(&s, &id).await;
    assert!(!cb.delivered, "{cb:?}");
    assert_eq!(cb.attempts, 3, "retried per the policy");
    let reason = cb.reason.unwrap_or_default();
    assert_eq!(
        reason,
        "TLS: the certificate of 127.0.0.1 is not trusted (UnknownIssuer)"
    );
    // The receiver counts a failed handshake after fss has given up on it.
    for _ in 0..200 {
        if seen.failed_handshakes.load(Ordering::SeqCst) >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(seen.failed_handshakes.load(Ordering::SeqCst), 3);
    assert!(
        seen.posts.lock().unwrap().is_empty(),
        "no request reached it"
    );
    s.stop().await;
}

fn post(url: &str) -> Request<Full<Bytes>> {
    Request::builder()
        .method(Method::POST)
        .uri(url)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(b"{\"ping\":1}")))
        .unwrap()
}

fn client(ca_file: &Path) -> OutboundClient {
    OutboundClient::new(&OutboundConfig {
        ca_file: Some(ca_file.to_path_buf()),
        ..OutboundConfig::default()
    })
    .unwrap()
}

#[tokio::test]
async fn outbound_client_speaks_h2_by_alpn_and_http1_in_clear() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let c = client(&pki.ca_file);

    let (h2, h2_seen) = receiver(Some(clone_pair(&pki.signed)), H2_AND_H1).await;
    let r = c.send(post(&format!("{h2}/x")), 1024).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.version(), Version::HTTP_2);
    assert_eq!(r.body().as_ref(), b"\"SUCCESS\"");
    assert_eq!(h2_seen.posts.lock().unwrap()[0].0, Version::HTTP_2);

    let (h1, h1_seen) = receiver(Some(pki.signed), H1_ONLY).await;
    let r = c.send(post(&format!("{h1}/x")), 1024).await.unwrap();
    assert_eq!(r.version(), Version::HTTP_11);
    assert_eq!(h1_seen.posts.lock().unwrap()[0].0, Version::HTTP_11);

    let (plain, plain_seen) = receiver(None, &[]).await;
    assert!(plain.starts_with("http://"));
    let r = c.send(post(&format!("{plain}/x")), 1024).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.version(), Version::HTTP_11);
    assert_eq!(plain_seen.posts.lock().unwrap()[0].1["ping"], 1);

    // Pooled: a second request reuses the HTTP/2 connection.
    let r = c.send(post(&format!("{h2}/y")), 1024).await.unwrap();
    assert_eq!(r.version(), Version::HTTP_2);
    assert_eq!(h2_seen.posts.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn outbound_client_failures_say_why() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let c = client(&pki.ca_file);

    let (own, _) = receiver(Some(pki.self_signed), H2_AND_H1).await;
    let e = c.send(post(&format!("{own}/x")), 1024).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "TLS: the certificate of 127.0.0.1 is not trusted (UnknownIssuer)"
    );

    let (wrong, _) = receiver(Some(pki.wrong_name), H2_AND_H1).await;
    let e = c.send(post(&format!("{wrong}/x")), 1024).await.unwrap_err();
    assert!(
        matches!(&e, OutboundError::Tls(t) if t.contains("not valid for that name")),
        "{e}"
    );

    // Without the CA file the CA-signed receiver is not trusted either.
    let (signed, _) = receiver(Some(pki.signed), H2_AND_H1).await;
    let bare = OutboundClient::new(&OutboundConfig::default()).unwrap();
    let e = bare
        .send(post(&format!("{signed}/x")), 1024)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("not trusted"), "{e}");

    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let e = c
        .send(post(&format!("http://127.0.0.1:{port}/x")), 1024)
        .await
        .unwrap_err();
    assert_eq!(e.to_string(), "connection refused by 127.0.0.1");
    assert!(e.is_retryable());

    // A server that accepts and never answers: the total timeout ends the request.
    let mute = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = mute.local_addr().unwrap().port();
    let hold = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((tcp, _)) = mute.accept().await {
            open.push(tcp);
        }
    });
    let quick = OutboundClient::new(&OutboundConfig {
        request_timeout: Duration::from_secs(1),
        ..OutboundConfig::default()
    })
    .unwrap();
    let e = quick
        .send(post(&format!("http://127.0.0.1:{port}/x")), 1024)
        .await
        .unwrap_err();
    assert_eq!(e.to_string(), "no complete answer within 1 s");
    hold.abort();

    let e = c.send(post("ftp://127.0.0.1/x"), 1024).await.unwrap_err();
    assert!(!e.is_retryable(), "{e}");
}

#[test]
fn bad_ca_file_stops_the_start_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("no-certs.pem");
    std::fs::write(
        &empty,
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let missing = dir.path().join("missing.pem");
    // An empty operations folder: the CA file is the only thing wrong.
    let ops = dir.path().join("ops");
    std::fs::create_dir(&ops).unwrap();
    for (file, why) in [(&missing, "cannot be read"), (&empty, "no PEM certificate")] {
        let out = Command::new(env!("CARGO_BIN_EXE_fss"))
            .args(["serve", "--listen", "127.0.0.1:0", "--operations"])
            .arg(&ops)
            .arg("--data")
            .arg(dir.path().join("data"))
            .arg("--ca-file")
            .arg(file)
            .env_remove("FSS_CA_FILE")
            .stdin(Stdio::null())
            .output()
            .expect("fss runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(64), "{err}");
        assert!(
            err.contains("--ca-file")
                && err.contains(&*file.to_string_lossy())
                && err.contains(why),
            "{err}"
        );
    }
}
