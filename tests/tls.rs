//! HTTPS on the shared listener over real sockets, with certificates made at test time:
//! echo over HTTP/1.1 and HTTP/2 chosen by ALPN, a client that does not trust the CA fails
//! its handshake, a reload swaps the certificate for new connections while open ones keep
//! working, unusable certificate files are refused naming the file, a TLS client that
//! never finishes its handshake is dropped at the header-read timeout, and a service with
//! `auth.clientCertificate` admits only the subjects it names, the subject reaching the
//! process as `user`.

mod support;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use fss::process::{Handler, HandlerFuture, ProcessCall, Reply};
use fss::server::tls::{Tls, TlsConfig};
use fss::server::ServerConfig;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    SignatureAlgorithm,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use serde_json::{json, Value};
use support::{fixture, TestServer};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

// === helpers: certificates ===

/// A certificate authority made for one test.
struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

/// A certificate signed by a [`Ca`], with its key.
struct Leaf {
    cert: rcgen::Certificate,
    key: KeyPair,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let cert = params.self_signed(&key).unwrap();
        Ca { cert, key }
    }

    /// A server certificate for `localhost` and 127.0.0.1 with a key of `alg`.
    fn server(&self, alg: &'static SignatureAlgorithm) -> Leaf {
        let key = KeyPair::generate_for(alg).unwrap();
        let mut params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        Leaf { cert, key }
    }

    /// A client certificate with common name `cn` and SAN DNS names `dns`.
    fn client(&self, cn: &str, dns: &[&str]) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(dns.iter().map(|d| (*d).to_owned()).collect::<Vec<_>>())
                .unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        Leaf { cert, key }
    }

    fn roots(&self) -> RootCertStore {
        let mut roots = RootCertStore::empty();
        roots.add(self.cert.der().clone()).unwrap();
        roots
    }
}

impl Leaf {
    fn der(&self) -> CertificateDer<'static> {
        self.cert.der().clone()
    }

    fn key_der(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::try_from(self.key.serialize_der()).unwrap()
    }
}

/// Writes `cert` (with `chain` after it) and the key of `key` as PEM files into `dir`;
/// returns their paths.
fn write_pair(
    dir: &Path,
    name: &str,
    cert: &Leaf,
    chain: &[&Ca],
    key: &Leaf,
) -> (PathBuf, PathBuf) {
    let (c, k) = (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}.key")),
    );
    let mut pem = cert.cert.pem();
    for ca in chain {
        pem.push_str(&ca.cert.pem());
    }
    std::fs::write(&c, pem).unwrap();
    std::fs::write(&k, key.key.serialize_pem()).unwrap();
    (c, k)
}

fn write_ca(dir: &Path, ca: &Ca) -> PathBuf {
    let p = dir.join("client-ca.pem");
    std::fs::write(&p, ca.cert.pem()).unwrap();
    p
}

// === helpers: server and client ===

/// Answers the verified caller (`properties.user`) as output `User`.
struct WhoAmI;

impl Handler for WhoAmI {
    fn call(&self, call: ProcessCall) -> HandlerFuture {
        let user = call.properties.get("user").cloned().unwrap_or(Value::Null);
        Box::pin(async move { Ok(Reply::outputs(json!({ "User": user }))) })
    }
}

/// Serves the `tls` fixture over `tls`, with the given header-read timeout.
async fn serve(tls: &Arc<Tls>, header_read_timeout: Duration) -> TestServer {
    TestServer::start_with(
        &fixture("tls"),
        |rt| rt.register_handler("whoami", WhoAmI),
        ServerConfig {
            tls: Some(Arc::clone(tls)),
            header_read_timeout,
            ..ServerConfig::default()
        },
    )
    .await
}

/// A client configuration trusting `roots`, offering `alpn`, presenting `identity`.
fn client_config(
    roots: RootCertStore,
    alpn: &[&[u8]],
    identity: Option<&Leaf>,
) -> Arc<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let mut config = match identity {
        Some(leaf) => builder
            .with_client_auth_cert(vec![leaf.der()], leaf.key_der())
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

/// A TLS connection to `server` for the name `localhost`.
async fn connect(
    server: &TestServer,
    config: Arc<ClientConfig>,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(server.addr).await?;
    TlsConnector::from(config)
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
}

/// The certificate the server presented on `stream`.
fn presented(stream: &TlsStream<TcpStream>) -> CertificateDer<'static> {
    stream.get_ref().1.peer_certificates().unwrap()[0]
        .clone()
        .into_owned()
}

/// One HTTP connection over TLS, HTTP/1.1 or HTTP/2.
enum Http {
    H1(hyper::client::conn::http1::SendRequest<Full<Bytes>>),
    H2(hyper::client::conn::http2::SendRequest<Full<Bytes>>),
}

impl Http {
    /// HTTP/2 when ALPN chose `h2`, else HTTP/1.1.
    async fn over(stream: TlsStream<TcpStream>) -> Http {
        let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
        let io = TokioIo::new(stream);
        if h2 {
            let (send, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
                .await
                .unwrap();
            tokio::spawn(conn);
            Http::H2(send)
        } else {
            let (send, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
            tokio::spawn(conn);
            Http::H1(send)
        }
    }

    /// POSTs `body` as JSON to `path`; the status and the JSON answer.
    async fn post(&mut self, path: &str, body: &Value) -> (StatusCode, Value) {
        let req = Request::post(format!("https://localhost{path}"))
            .header("content-type", "application/json");
        let req = match self {
            Http::H1(_) => req.header("host", "localhost"),
            Http::H2(_) => req,
        }
        .body(Full::new(Bytes::from(serde_json::to_vec(body).unwrap())))
        .unwrap();
        let resp = match self {
            Http::H1(s) => s.send_request(req).await,
            Http::H2(s) => s.send_request(req).await,
        }
        .expect("request is answered");
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let json = serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&bytes)));
        (status, json)
    }
}

/// A Flow message action request whose input `In` is `value`.
fn action(value: &str) -> Value {
    json!({
        "token": "tok", "tenantId": "0b3b9e57-2d7a-4c55-9e6c-1f4f4c1b8a01", "stateId": null,
        "callbackUri": null, "culture": {"language": "EN", "country": "USA"},
        "configurationValues": null, "authorization": null, "annotations": null,
        "attributes": null,
        "inputs": [{"developerName": "In", "contentType": "ContentString",
                    "contentValue": value, "valueElementId": null, "objectData": null}],
        "outcomes": null
    })
}

/// The `contentValue` of output `name` of a message action answer.
fn output(answer: &Value, name: &str) -> Value {
    answer["outputs"]
        .as_array()
        .and_then(|o| o.iter().find(|o| o["developerName"] == name))
        .map_or(Value::Null, |o| o["contentValue"].clone())
}

/// A PKI, its server certificate files in a temporary folder, and the [`Tls`] of them.
struct Setup {
    ca: Ca,
    dir: tempfile::TempDir,
    tls: Arc<Tls>,
}

fn setup(alg: &'static SignatureAlgorithm, client_ca: bool) -> Setup {
    let ca = Ca::new("fss test CA");
    let dir = tempfile::tempdir().unwrap();
    let leaf = ca.server(alg);
    let (cert, key) = write_pair(dir.path(), "server", &leaf, &[&ca], &leaf);
    let client_ca = client_ca.then(|| write_ca(dir.path(), &ca));
    let tls = Tls::from_config(TlsConfig {
        cert,
        key,
        client_ca,
    })
    .expect("the certificate files are usable");
    Setup {
        ca,
        dir,
        tls: Arc::new(tls),
    }
}

// === tests ===

#[tokio::test]
async fn https_echo_answers_over_http1_and_over_http2_chosen_by_alpn() {
    let s = setup(&rcgen::PKCS_ECDSA_P256_SHA256, false);
    let server = serve(&s.tls, Duration::from_secs(30)).await;
    for (alpn, want_h2) in [(&b"http/1.1"[..], false), (&b"h2"[..], true)] {
        let stream = connect(&server, client_config(s.ca.roots(), &[alpn], None))
            .await
            .expect("the handshake succeeds with the CA trusted");
        assert_eq!(stream.get_ref().1.alpn_protocol(), Some(alpn));
        let mut http = Http::over(stream).await;
        assert_eq!(matches!(http, Http::H2(_)), want_h2);
        for i in 0..2 {
            let (status, answer) = http
                .post("/fs/Open/actions/echo", &action(&format!("v{i}")))
                .await;
            assert_eq!(status, 200, "{answer}");
            assert_eq!(answer["invokeType"], "FORWARD", "{answer}");
            assert_eq!(output(&answer, "In"), format!("v{i}"), "{answer}");
        }
    }
    // A client offering both gets HTTP/2, the server's preference.
    let stream = connect(
        &server,
        client_config(s.ca.roots(), &[b"http/1.1", b"h2"], None),
    )
    .await
    .unwrap();
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    server.stop().await;
}

#[tokio::test]
async fn ed25519_and_p384_keys_serve_https() {
    for alg in [&rcgen::PKCS_ED25519, &rcgen::PKCS_ECDSA_P384_SHA384] {
        let s = setup(alg, false);
        let server = serve(&s.tls, Duration::from_secs(30)).await;
        let stream = connect(&server, client_config(s.ca.roots(), &[b"http/1.1"], None))
            .await
            .expect("the handshake succeeds");
        let (status, answer) = Http::over(stream)
            .await
            .post("/fs/Open/actions/echo", &action("k"))
            .await;
        assert_eq!(status, 200, "{answer}");
        server.stop().await;
    }
}

#[tokio::test]
async fn a_client_that_does_not_trust_the_ca_fails_the_handshake() {
    let s = setup(&rcgen::PKCS_ECDSA_P256_SHA256, false);
    let server = serve(&s.tls, Duration::from_secs(30)).await;
    let other = Ca::new("another CA");
    let Err(err) = connect(&server, client_config(other.roots(), &[b"http/1.1"], None)).await
    else {
        panic!("the handshake fails");
    };
    assert!(
        err.to_string().contains("UnknownIssuer")
            || err.to_string().contains("invalid peer certificate"),
        "{err}"
    );
    // The server is fine afterwards.
    let stream = connect(&server, client_config(s.ca.roots(), &[b"http/1.1"], None)).await;
    assert!(stream.is_ok());
    server.stop().await;
}

#[tokio::test]
async fn reload_gives_new_connections_the_new_certificate_and_keeps_open_ones() {
    let s = setup(&rcgen::PKCS_ECDSA_P256_SHA256, false);
    let server = serve(&s.tls, Duration::from_secs(30)).await;
    let config = client_config(s.ca.roots(), &[b"http/1.1"], None);
    let first = std::fs::read(s.dir.path().join("server.pem")).unwrap();

    let old = connect(&server, Arc::clone(&config)).await.unwrap();
    let old_cert = presented(&old);
    let mut kept = Http::over(old).await;
    assert_eq!(
        kept.post("/fs/Open/actions/echo", &action("a")).await.0,
        200
    );

    // New files at the same paths, with a key of another kind, then the reload SIGHUP makes.
    let next = s.ca.server(&rcgen::PKCS_ED25519);
    write_pair(s.dir.path(), "server", &next, &[&s.ca], &next);
    assert_ne!(
        std::fs::read(s.dir.path().join("server.pem")).unwrap(),
        first
    );
    s.tls.reload().expect("the new pair is usable");

    // A fresh client: one that resumes its TLS session is shown no certificate at all.
    let config = client_config(s.ca.roots(), &[b"http/1.1"], None);
    let new = connect(&server, Arc::clone(&config)).await.unwrap();
    assert_eq!(
        presented(&new),
        next.der(),
        "a new connection sees the new certificate"
    );
    assert_ne!(presented(&new), old_cert);
    assert_eq!(
        Http::over(new)
            .await
            .post("/fs/Open/actions/echo", &action("b"))
            .await
            .0,
        200
    );
    let (status, answer) = kept.post("/fs/Open/actions/echo", &action("c")).await;
    assert_eq!(status, 200, "the open keep-alive connection keeps working");
    assert_eq!(output(&answer, "In"), "c");

    // A bad pair on reload: an error naming the file, and the certificate in use stays.
    let stray = s.ca.server(&rcgen::PKCS_ECDSA_P256_SHA256);
    let (_, key) = write_pair(s.dir.path(), "server", &next, &[&s.ca], &stray);
    let err = s.tls.reload().unwrap_err().to_string();
    assert!(
        err.contains("--tls-key") && err.contains(&key.display().to_string()),
        "{err}"
    );
    let config = client_config(s.ca.roots(), &[b"http/1.1"], None);
    let after = connect(&server, config).await.unwrap();
    assert_eq!(presented(&after), next.der());
    server.stop().await;
}

#[test]
fn unusable_certificate_files_are_refused_naming_the_file() {
    let ca = Ca::new("fss test CA");
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (
        ca.server(&rcgen::PKCS_ECDSA_P256_SHA256),
        ca.server(&rcgen::PKCS_ECDSA_P256_SHA256),
    );
    let (cert, key) = write_pair(dir.path(), "mismatched", &a, &[], &b);
    let config = |cert: &Path, key: &Path| TlsConfig {
        cert: cert.to_owned(),
        key: key.to_owned(),
        client_ca: None,
    };
    let err = Tls::from_config(config(&cert, &key))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("--tls-key")
            && err.contains(&key.display().to_string())
            && err.contains("does not belong to the certificate"),
        "{err}"
    );
    let missing = dir.path().join("missing.pem");
    let err = Tls::from_config(config(&missing, &key))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("--tls-cert") && err.contains("missing.pem"),
        "{err}"
    );
    // The key file given as the certificate: no certificate in it.
    let err = Tls::from_config(config(&key, &key))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("--tls-cert") && err.contains("holds no PEM certificate"),
        "{err}"
    );
    let err = Tls::from_config(config(&cert, &cert))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("--tls-key") && err.contains("holds no PEM private key"),
        "{err}"
    );
    assert!(
        !err.contains("BEGIN CERTIFICATE-----\n"),
        "no file content: {err}"
    );
    let err = Tls::from_config(TlsConfig {
        client_ca: Some(key),
        ..config(&cert, &dir.path().join("mismatched.key"))
    });
    assert!(err.is_err());
}

#[test]
fn the_binary_exits_64_on_a_mismatched_pair_and_announces_https() {
    let ca = Ca::new("fss test CA");
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (
        ca.server(&rcgen::PKCS_ECDSA_P256_SHA256),
        ca.server(&rcgen::PKCS_ECDSA_P256_SHA256),
    );
    let (cert, key) = write_pair(dir.path(), "bad", &a, &[], &b);
    let fss = env!("CARGO_BIN_EXE_fss");
    let ops = fixture("tls");
    let out = std::process::Command::new(fss)
        .args(["serve", "--listen", "127.0.0.1:0", "--operations"])
        .arg(&ops)
        .arg("--data")
        .arg(dir.path().join("data"))
        .arg("--tls-cert")
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--tls-key") && stderr.contains(&key.display().to_string()),
        "{stderr}"
    );

    let out = std::process::Command::new(fss)
        .args(["serve", "--listen", "127.0.0.1:0", "--tls-cert"])
        .arg(&cert)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--tls-key"));

    // A good pair: the first line on stdout says https://. (The binary has no handlers:
    // only the open service is served.)
    let open_only = dir.path().join("ops");
    std::fs::create_dir(&open_only).unwrap();
    std::fs::copy(
        fixture("tls").join("Open.json"),
        open_only.join("Open.json"),
    )
    .unwrap();
    let (cert, key) = write_pair(dir.path(), "good", &a, &[&ca], &a);
    let mut child = std::process::Command::new(fss)
        .args(["serve", "--listen", "127.0.0.1:0", "--operations"])
        .arg(&open_only)
        .arg("--data")
        .arg(dir.path().join("data"))
        .arg("--tls-cert")
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let read = std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    );
    let _ = child.kill();
    let _ = child.wait();
    read.unwrap();
    assert!(
        line.starts_with("listening on https://127.0.0.1:"),
        "{line}"
    );
}

#[tokio::test]
async fn a_tls_client_that_never_finishes_its_handshake_is_dropped_at_the_header_read_timeout() {
    let s = setup(&rcgen::PKCS_ECDSA_P256_SHA256, false);
    let server = serve(&s.tls, Duration::from_secs(1)).await;
    let started = Instant::now();
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(Duration::from_secs(10), silent.read(&mut buf))
        .await
        .expect("the server closes the connection")
        .unwrap_or(0);
    assert_eq!(n, 0, "closed without a byte");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    server.stop().await;
}

#[tokio::test]
async fn a_client_certificate_service_admits_only_the_subjects_it_names() {
    let s = setup(&rcgen::PKCS_ECDSA_P256_SHA256, true);
    assert!(s.tls.requests_client_certificates());
    let server = serve(&s.tls, Duration::from_secs(30)).await;
    let who = "/fs/TenantOnly/actions/who-am-i";
    let post = |identity: Option<Leaf>, path: &'static str| {
        let config = client_config(s.ca.roots(), &[b"http/1.1"], identity.as_ref());
        let server = &server;
        async move {
            let stream = connect(server, config)
                .await
                .expect("the handshake succeeds");
            Http::over(stream).await.post(path, &action("x")).await
        }
    };

    // No certificate: the handshake succeeds (optional at the TLS level), the service says 401.
    let (status, answer) = post(None, who).await;
    assert_eq!(status, 401, "{answer}");
    assert_eq!(answer["kind"], "service");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("client certificate"),
        "{answer}"
    );
    // The open service of the same listener needs none.
    assert_eq!(post(None, "/fs/Open/actions/echo").await.0, 200);

    // A certificate of the CA with another subject: 403, naming it.
    let (status, answer) = post(Some(s.ca.client("intruder", &["intruder"])), who).await;
    assert_eq!(status, 403, "{answer}");
    assert!(
        answer["message"].as_str().unwrap().contains("CN=intruder"),
        "{answer}"
    );

    // The named subjects: 200, the subject as the caller.
    let (status, answer) = post(Some(s.ca.client("flow-tenant-1", &["flow-tenant-1"])), who).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(output(&answer, "User"), "CN=flow-tenant-1");
    let (status, answer) = post(Some(s.ca.client("someone", &["Tenant-2.Example"])), who).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(output(&answer, "User"), "DNS=tenant-2.example");

    // A certificate of another CA fails the handshake: the listener verifies it.
    let other = Ca::new("another CA");
    let config = client_config(
        s.ca.roots(),
        &[b"http/1.1"],
        Some(&other.client("flow-tenant-1", &[])),
    );
    let refused = match connect(&server, config).await {
        Err(_) => true,
        // TLS 1.3: the client learns of the refusal on its first read.
        Ok(stream) => {
            let mut http = Http::over(stream).await;
            let req = Request::post(format!("https://localhost{who}"))
                .header("host", "localhost")
                .body(Full::new(Bytes::new()))
                .unwrap();
            match &mut http {
                Http::H1(send) => send.send_request(req).await.is_err(),
                Http::H2(_) => unreachable!("http/1.1 was offered"),
            }
        }
    };
    assert!(refused, "a certificate of another CA is refused");
    server.stop().await;
}

#[tokio::test]
async fn a_client_certificate_service_refuses_plain_http_with_401() {
    let server = TestServer::start_with(
        &fixture("tls"),
        |rt| rt.register_handler("whoami", WhoAmI),
        ServerConfig::default(),
    )
    .await;
    let a = support::post_json(&server.url("/fs/TenantOnly/actions/who-am-i"), &action("x")).await;
    let message = a.problem(401);
    assert!(message.contains("client certificate"), "{message}");
    server.stop().await;
}
