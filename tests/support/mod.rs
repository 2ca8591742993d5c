//! Test support: a real fss server on 127.0.0.1:0 and a small HTTP client.
//!
//! `TestServer::start(dir)` mounts the definitions of `dir` into a fresh runtime with its
//! own temporary data folder and serves it on a free port in the test's tokio runtime.

#![allow(dead_code, unreachable_pub)]

pub mod deploy;
pub mod pg;
pub mod pki;
pub mod rabbit;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use fss::server::{self, ServerConfig};
use fss::{Runtime, RuntimeConfig};
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The folder of fixture definitions named `case`.
pub fn fixture(case: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/operations")
        .join(case)
}

/// A running server.
pub struct TestServer {
    /// The bound address.
    pub addr: SocketAddr,
    /// The runtime it serves (mount and unmount at will).
    pub runtime: Runtime,
    /// The data folder (removed on drop).
    pub data: tempfile::TempDir,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl TestServer {
    /// Serves the definitions of `ops` with default settings.
    pub async fn start(ops: &Path) -> TestServer {
        Self::start_with(ops, |_| {}, ServerConfig::default()).await
    }

    /// Serves the definitions of `ops`; `setup` may register handlers or change the
    /// runtime config before mounting.
    pub async fn start_with(
        ops: &Path,
        setup: impl FnOnce(&Runtime),
        server_config: ServerConfig,
    ) -> TestServer {
        Self::start_config(ops, |_| {}, setup, server_config).await
    }

    /// Like [`start_with`], with a hook to change the [`RuntimeConfig`] first.
    pub async fn start_config(
        ops: &Path,
        configure: impl FnOnce(&mut RuntimeConfig),
        setup: impl FnOnce(&Runtime),
        server_config: ServerConfig,
    ) -> TestServer {
        let data = tempfile::tempdir().expect("temp data dir");
        let mut config = RuntimeConfig {
            data_dir: data.path().to_path_buf(),
            ..RuntimeConfig::default()
        };
        configure(&mut config);
        let runtime = Runtime::new(config);
        setup(&runtime);
        let defs =
            fss::definition::load_dir(ops).unwrap_or_else(|p| panic!("fixture invalid:\n{p}"));
        runtime
            .mount(defs)
            .unwrap_or_else(|p| panic!("fixture does not mount:\n{p}"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let rt = runtime.clone();
        let task = tokio::spawn(async move {
            server::run(listener, rt, server_config, async {
                let _ = rx.await;
            })
            .await;
        });
        TestServer {
            addr,
            runtime,
            data,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    /// Enables the admin API on this server with the bootstrap admin `user`/`password`
    /// (blocking work, run off the test's workers).
    ///
    /// # Errors
    ///
    /// What [`Runtime::enable_admin`] refuses.
    pub async fn enable_admin(
        &self,
        config: fss::admin::AdminConfig,
    ) -> Result<fss::admin::Enabled, fss::Error> {
        let rt = self.runtime.clone();
        tokio::task::spawn_blocking(move || rt.enable_admin(config))
            .await
            .expect("enabling the admin API does not panic")
    }

    /// Serves the definitions of `ops` on `data` with the admin API enabled, its
    /// bootstrap admin `user`/`password`.
    pub async fn start_admin(ops: &Path, data: &Path, user: &str, password: &str) -> TestServer {
        Self::start_admin_config(ops, data, user, password, |_| {}).await
    }

    /// Like [`start_admin`], with a hook to change the [`RuntimeConfig`] (its data folder
    /// already set to `data`).
    pub async fn start_admin_config(
        ops: &Path,
        data: &Path,
        user: &str,
        password: &str,
        configure: impl FnOnce(&mut RuntimeConfig),
    ) -> TestServer {
        let dir = data.to_path_buf();
        let server = Self::start_config(
            ops,
            move |c| {
                c.data_dir = dir;
                configure(c);
            },
            |_| {},
            ServerConfig::default(),
        )
        .await;
        server
            .enable_admin(admin_config(user, password))
            .await
            .expect("admin API enables");
        server
    }

    /// `http://ADDR{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Starts the graceful shutdown and returns the server task to await.
    pub fn begin_shutdown(&mut self) -> JoinHandle<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.task.take().expect("server task is running")
    }

    /// Shuts down and waits (bounded) for the server to end.
    pub async fn stop(mut self) {
        let task = self.begin_shutdown();
        let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
    }
}

/// The admin settings with bootstrap admin `user`/`password`.
pub fn admin_config(user: &str, password: &str) -> fss::admin::AdminConfig {
    fss::admin::AdminConfig {
        bootstrap_user: Some(user.into()),
        bootstrap_password: Some(password.into()),
        ..fss::admin::AdminConfig::default()
    }
}

/// An answer: status, headers, body bytes.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    /// The body as JSON (panics with the body when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// A header as a string.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the ServiceProblem shape and status, returning its message.
    pub fn problem(&self, status: u16) -> String {
        assert_eq!(
            self.status.as_u16(),
            status,
            "body: {}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(
            self.header("x-manywho-service-problem-kind"),
            Some("service")
        );
        let v = self.json();
        assert_eq!(v["kind"], "service");
        assert_eq!(v["statusCode"], status);
        v["message"]
            .as_str()
            .expect("message is a string")
            .to_owned()
    }
}

/// Sends one request over a fresh HTTP/1.1 client.
pub async fn request(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Answer {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut req = Request::builder().method(method).uri(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(Full::new(body.into())).unwrap();
    let resp = client.request(req).await.expect("request is answered");
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.expect("body is read").to_bytes();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

/// POSTs `body` as JSON.
pub async fn post_json(url: &str, body: &Value) -> Answer {
    request(
        Method::POST,
        url,
        &[("content-type", "application/json")],
        serde_json::to_vec(body).unwrap(),
    )
    .await
}

/// Sends `body` as JSON with `method`.
pub async fn send_json(method: Method, url: &str, body: &Value) -> Answer {
    request(
        method,
        url,
        &[("content-type", "application/json")],
        serde_json::to_vec(body).unwrap(),
    )
    .await
}

/// The `Authorization` value of HTTP Basic credentials.
pub fn basic(user: &str, password: &str) -> String {
    use base64::Engine as _;
    let enc = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {enc}")
}

/// GETs `url`.
pub async fn get(url: &str) -> Answer {
    request(Method::GET, url, &[], Bytes::new()).await
}
