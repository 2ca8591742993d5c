//! The echo action over HTTPS beside the same action over plain HTTP, in one sitting:
//! `transport/plain` and `transport/https`. Each uses one HTTP/1.1 keep-alive connection
//! (the TLS handshake happens once, outside the measured loop), so the difference of the
//! two is what TLS costs per request on an open connection: record encryption and
//! decryption of a request of about 1.3 KiB and its answer. Both servers run in the same
//! process with the same runtime settings; the certificate is made at start (rcgen).
//!
//! `cargo bench --bench tls`

// criterion's macros generate public functions without docs.
#![allow(missing_docs)]

mod common;

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use common::{round_trips, serve, ECHO_BODY};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use fss::server::tls::{Tls, TlsConfig};
use fss::server::ServerConfig;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, RootCertStore};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// A CA and a server certificate for 127.0.0.1 and localhost signed by it, written as
/// PEM into `dir`; the CA's roots for the client.
fn certificates(dir: &Path) -> (TlsConfig, RootCertStore) {
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "fss bench CA");
    let ca_cert = ca.self_signed(&ca_key).expect("CA certificate");
    let key = KeyPair::generate().expect("server key");
    let mut params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .expect("server params");
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    let cert = params
        .signed_by(&key, &ca_cert, &ca_key)
        .expect("server certificate");
    let (cert_path, key_path) = (dir.join("server.pem"), dir.join("server.key"));
    std::fs::write(&cert_path, cert.pem()).expect("writes the certificate");
    std::fs::write(&key_path, key.serialize_pem()).expect("writes the key");
    let mut roots = RootCertStore::empty();
    roots.add(ca_cert.der().clone()).expect("CA root");
    (
        TlsConfig {
            cert: cert_path,
            key: key_path,
            client_ca: None,
        },
        roots,
    )
}

fn transport(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let data = tempfile::tempdir().expect("temp data dir");
    let (tls_config, roots) = certificates(data.path());
    let tls = Arc::new(Tls::from_config(tls_config).expect("the certificate serves"));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut client = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    client.alpn_protocols = vec![b"http/1.1".to_vec()];
    let connector = TlsConnector::from(Arc::new(client));

    let (plain_addr, mut plain, https_addr, mut https) = rt.block_on(async {
        let plain_addr = serve(&data.path().join("plain"), ServerConfig::default()).await;
        let https_addr = serve(
            &data.path().join("https"),
            ServerConfig {
                tls: Some(tls),
                ..ServerConfig::default()
            },
        )
        .await;
        let tcp = TcpStream::connect(plain_addr).await.expect("connects");
        tcp.set_nodelay(true).expect("TCP_NODELAY");
        let (plain, conn) = http1::handshake(TokioIo::new(tcp)).await.expect("h1");
        tokio::spawn(conn);
        let tcp = TcpStream::connect(https_addr).await.expect("connects");
        tcp.set_nodelay(true).expect("TCP_NODELAY");
        let stream = connector
            .connect(ServerName::try_from("localhost").expect("name"), tcp)
            .await
            .expect("TLS handshake");
        let (https, conn) = http1::handshake(TokioIo::new(stream)).await.expect("h1");
        tokio::spawn(conn);
        (plain_addr, plain, https_addr, https)
    });

    let body = Bytes::from_static(ECHO_BODY.as_bytes());
    let mut group = c.benchmark_group("transport");
    group.throughput(Throughput::Elements(1));
    group.bench_function("plain", |b| {
        b.iter_custom(|iters| rt.block_on(round_trips(&mut plain, plain_addr, &body, iters)));
    });
    group.bench_function("https", |b| {
        b.iter_custom(|iters| rt.block_on(round_trips(&mut https, https_addr, &body, iters)));
    });
    group.finish();
    drop(rt);
}

criterion_group!(benches, transport);
criterion_main!(benches);
