//! Scale-out: two `fss` binaries on one PostgreSQL schema, behind nginx.
//!
//! Each test spawns the real binary twice — one fresh schema (`--database`), one shared
//! `--files-dir`, a `--data` folder each — and, for the load, Debian's nginx in front of
//! both, from a config and prefix the test writes in a temp folder on a free loopback port.
//! Every child runs in a process group of its own and is killed with it and reaped when its
//! guard drops, so a failing test leaves nothing running.
//!
//! Without PostgreSQL the tests print `SKIPPED (no PostgreSQL)` and pass (unless
//! `FSS_REQUIRE_POSTGRES=1`); without an nginx binary the load test prints
//! `SKIPPED (no nginx)` and passes (unless `FSS_REQUIRE_NGINX=1`). `.ci/run` sets both.

mod support;

use std::collections::HashMap;
use std::convert::Infallible;
use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener};
use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustix::process::{kill_process_group, Pid, Signal};
use serde_json::{json, Value};
use support::pg::{schema, PgSchema};
use support::{basic, deploy, Answer};
use tokio::sync::{oneshot, Notify};

/// The bootstrap admin of both instances.
const ADMIN: (&str, &str) = ("scale-admin", "scale-s3cret-pw");
/// Calls made through nginx while instance 1 is killed.
const CALLS: usize = 1_000;
/// Client tasks sharing the calls, each over its own keep-alive connection.
const CLIENTS: usize = 8;
/// How long a deploy may take to be answered by every instance.
const DEPLOY_REACH: Duration = Duration::from_secs(2);
/// The longest any one HTTP exchange of the test may take.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(15);
/// The lease of a running execution (the binary's default; it is no flag): after it
/// expires without renewal, another instance fails the execution and calls back.
const LEASE: Duration = Duration::from_secs(10);
/// Time beyond the lease a dead instance's callback may take to arrive: the other
/// instance's sweeps (every 250 ms) and one delivery, with room for a loaded machine.
const CALLBACK_MARGIN: Duration = Duration::from_secs(10);
/// How long the receiver must stay quiet after the callback for it to count as the only
/// one: longer than a sweep and a redelivery would take.
const QUIET: Duration = Duration::from_secs(3);

/// A command process that outlives the one-second sync budget: it sleeps until its fss
/// dies (it is then orphaned: its parent changes) or 60 s pass, so nothing it starts
/// outlives the test for long.
const NAPPER: &str = "import os, sys, time\n\
sys.stdin.read()\n\
parent, start = os.getppid(), time.time()\n\
while os.getppid() == parent and time.time() - start < 60:\n    time.sleep(0.05)\n\
print('{\"outputs\": {\"Slept\": \"yes\"}}')\n";

// === child processes ===

/// A spawned child in a process group of its own; dropping it kills the group and reaps
/// the child.
struct Spawned {
    /// What it is, for messages.
    name: &'static str,
    child: Child,
    /// Where its stderr goes.
    log: PathBuf,
}

impl Spawned {
    fn spawn(name: &'static str, mut cmd: Command, log: PathBuf) -> Spawned {
        let err = std::fs::File::create(&log).expect("a log file in the temp folder");
        // A group of its own: one kill reaches nginx's workers with their master, and
        // nothing outside the test.
        cmd.stdin(Stdio::null()).stderr(err).process_group(0);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("{name} does not start: {e}"));
        Spawned { name, child, log }
    }

    /// Whether it is still running.
    fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGKILLs its process group and reaps it; its exit status.
    fn kill(&mut self) -> ExitStatus {
        if self.is_running() {
            let _ = kill_process_group(Pid::from_child(&self.child), Signal::KILL);
        }
        self.child.wait().expect("a killed child is reaped")
    }

    /// The last lines of its log, for failure messages.
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(8)..].join("\n")
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One `fss serve` on the shared schema.
struct Instance {
    proc: Spawned,
    /// The address it printed on its first stdout line.
    addr: SocketAddr,
}

impl Instance {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

/// What both instances share and each keeps apart, on one temp folder.
struct Cluster {
    /// Instance 1 (killed by the tests), then instance 2.
    instances: Vec<Instance>,
    /// The temp folder of data folders, files and logs (removed after the children).
    dir: tempfile::TempDir,
}

impl Cluster {
    /// Spawns two instances at once on `db` — migrations run under an advisory lock, so
    /// they may — and waits for both to listen.
    async fn start(db: &PgSchema) -> Cluster {
        let dir = tempfile::tempdir().expect("a temp folder");
        let (ops, files) = (dir.path().join("operations"), dir.path().join("files"));
        std::fs::create_dir_all(&ops).expect("the operations folder");
        std::fs::create_dir_all(&files).expect("the files folder");
        let spawned: Vec<_> = ["fss instance 1", "fss instance 2"]
            .into_iter()
            .enumerate()
            .map(|(i, name)| {
                let data = dir.path().join(format!("data{}", i + 1));
                let mut cmd = Command::new(env!("CARGO_BIN_EXE_fss"));
                cmd.arg("serve")
                    .arg("--operations")
                    .arg(&ops)
                    .arg("--data")
                    .arg(&data)
                    .arg("--files-dir")
                    .arg(&files)
                    .args(["--listen", "127.0.0.1:0", "--database", &db.url])
                    .env("FSS_ADMIN_USER", ADMIN.0)
                    .env("FSS_ADMIN_PASSWORD", ADMIN.1)
                    .env("FSS_LOG", "warn")
                    .stdout(Stdio::piped());
                let log = dir.path().join(format!("fss{}.log", i + 1));
                let mut proc = Spawned::spawn(name, cmd, log);
                let stdout = proc.child.stdout.take().expect("stdout is piped");
                (proc, first_line(stdout))
            })
            .collect();
        let mut instances = Vec::new();
        for (mut proc, line) in spawned {
            let line = tokio::time::timeout(Duration::from_secs(30), line)
                .await
                .ok()
                .and_then(Result::ok);
            let addr = line
                .as_deref()
                .and_then(|l| l.strip_prefix("listening on http://"))
                .and_then(|a| a.trim().parse().ok());
            let Some(addr) = addr else {
                let state = match proc.child.try_wait() {
                    Ok(Some(status)) => format!("it exited ({status})"),
                    _ => format!("its first line was {line:?}"),
                };
                panic!(
                    "{} did not print 'listening on http://ADDR' within 30 s: {state}; its log:\n{}",
                    proc.name,
                    proc.log_tail()
                );
            };
            instances.push(Instance { proc, addr });
        }
        Cluster { instances, dir }
    }

    fn one(&self) -> &Instance {
        &self.instances[0]
    }

    fn two(&self) -> &Instance {
        &self.instances[1]
    }
}

/// The first line `out` prints, sent once; the rest is read and dropped on the same
/// thread so the child never blocks on a full pipe.
fn first_line(out: impl Read + Send + 'static) -> oneshot::Receiver<String> {
    let (tx, rx) = oneshot::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(out).lines();
        if let Some(Ok(line)) = lines.next() {
            let _ = tx.send(line);
        }
        for _ in lines.by_ref() {}
    });
    rx
}

// === nginx ===

/// The nginx binary: on `PATH`, else where Debian puts it (`/usr/sbin` is not on every
/// user's `PATH`).
fn nginx_binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/usr/local/nginx/sbin"].map(PathBuf::from))
        .map(|d| d.join("nginx"))
        .find(|p| p.is_file())
}

/// The nginx binary, or `None` after saying the test is skipped.
///
/// # Panics
///
/// With none found while `FSS_REQUIRE_NGINX=1`.
fn nginx_or_skip(test: &str) -> Option<PathBuf> {
    let found = nginx_binary();
    if found.is_none() {
        assert!(
            std::env::var("FSS_REQUIRE_NGINX").as_deref() != Ok("1"),
            "{test}: nginx is required (FSS_REQUIRE_NGINX=1) but no nginx binary is installed"
        );
        eprintln!("SKIPPED (no nginx): {test}: install Debian's nginx to run it");
    }
    found
}

/// The nginx config of the balancer: `upstreams` on `port`, every path under `prefix`.
/// Failed and timed-out exchanges — non-idempotent ones too — go to the next instance,
/// and an instance that failed once is left alone for 30 s.
fn nginx_config(prefix: &Path, port: u16, upstreams: &[SocketAddr]) -> String {
    let p = prefix.display();
    let servers: String = upstreams
        .iter()
        .map(|a| format!("    server {a} max_fails=1 fail_timeout=30s;\n"))
        .collect();
    format!(
        "worker_processes 1;\n\
daemon off;\n\
pid {p}/nginx.pid;\n\
error_log {p}/logs/error.log warn;\n\
events {{ worker_connections 512; }}\n\
http {{\n\
  access_log off;\n\
  client_body_temp_path {p}/body; proxy_temp_path {p}/proxy; fastcgi_temp_path {p}/fastcgi;\n\
  uwsgi_temp_path {p}/uwsgi; scgi_temp_path {p}/scgi;\n\
  upstream fss {{\n\
{servers}\
    keepalive 16;\n\
  }}\n\
  server {{\n\
    listen 127.0.0.1:{port};\n\
    client_max_body_size 16m;\n\
    location / {{\n\
      proxy_pass http://fss;\n\
      proxy_http_version 1.1;\n\
      proxy_set_header Connection \"\";\n\
      proxy_set_header Host $http_host;\n\
      proxy_buffering off;\n\
      proxy_request_buffering off;\n\
      proxy_connect_timeout 2s;\n\
      proxy_read_timeout 60s;\n\
      proxy_next_upstream error timeout http_502 http_503 non_idempotent;\n\
      proxy_next_upstream_tries 2;\n\
    }}\n\
  }}\n\
}}\n"
    )
}

/// nginx in front of `upstreams`.
struct Nginx {
    /// The master process (its workers are in its group).
    proc: Spawned,
    port: u16,
}

impl Nginx {
    /// Starts `bin` from a prefix under `dir` on a free loopback port and waits (10 s) for
    /// it to listen. A port taken between choosing and binding is retried with another.
    async fn start(bin: &Path, dir: &Path, upstreams: &[SocketAddr]) -> Nginx {
        let prefix = dir.join("nginx");
        std::fs::create_dir_all(prefix.join("logs")).expect("the nginx prefix");
        let conf = prefix.join("nginx.conf");
        let mut last = String::new();
        for _ in 0..3 {
            let port = free_port();
            std::fs::write(&conf, nginx_config(&prefix, port, upstreams))
                .expect("the nginx config is written");
            let mut cmd = Command::new(bin);
            cmd.arg("-p")
                .arg(format!("{}/", prefix.display()))
                .arg("-c")
                .arg(&conf)
                .arg("-e")
                .arg(prefix.join("logs/error.log"))
                .stdout(Stdio::null());
            let mut proc = Spawned::spawn("nginx", cmd, prefix.join("logs/stderr.log"));
            let deadline = Instant::now() + Duration::from_secs(10);
            while proc.is_running() && Instant::now() < deadline {
                if tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .is_ok()
                {
                    return Nginx { proc, port };
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let log = std::fs::read_to_string(prefix.join("logs/error.log")).unwrap_or_default();
            last = format!("{}\n{log}", proc.log_tail());
        }
        panic!("nginx did not listen on a loopback port in three tries:\n{last}");
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

/// A loopback port that was free a moment ago.
fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
    l.local_addr().expect("a bound address").port()
}

// === HTTP ===

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

/// A client that keeps its connections alive between calls.
fn client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

/// One exchange, bounded by [`EXCHANGE_TIMEOUT`]; `Err` says why there was no answer.
async fn send(
    client: &HttpClient,
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Result<Answer, String> {
    let mut req = Request::builder().method(method).uri(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(Full::new(body.into())).expect("a valid request");
    let exchange = async {
        let resp = client.request(req).await.map_err(|e| format!("{e:?}"))?;
        let (parts, body) = resp.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|e| format!("body: {e}"))?
            .to_bytes();
        Ok(Answer {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    };
    tokio::time::timeout(EXCHANGE_TIMEOUT, exchange)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {EXCHANGE_TIMEOUT:?}")))
}

async fn send_json(
    client: &HttpClient,
    method: Method,
    url: &str,
    v: &Value,
) -> Result<Answer, String> {
    let body = serde_json::to_vec(v).expect("JSON serializes");
    send(
        client,
        method,
        url,
        &[("content-type", "application/json")],
        body,
    )
    .await
}

/// Admin GET with the bootstrap admin's credentials.
async fn admin_get(client: &HttpClient, url: &str) -> Answer {
    let auth = basic(ADMIN.0, ADMIN.1);
    send(
        client,
        Method::GET,
        url,
        &[("authorization", &auth)],
        Bytes::new(),
    )
    .await
    .unwrap_or_else(|e| panic!("GET {url}: {e}"))
}

/// Uploads `definition` as the deployment `scale.json` to `base`.
async fn deploy_definition(client: &HttpClient, base: &str, definition: &Value) -> Answer {
    let auth = basic(ADMIN.0, ADMIN.1);
    let ct = format!("multipart/form-data; boundary={}", deploy::BOUNDARY);
    let bytes = serde_json::to_vec(definition).expect("JSON serializes");
    let url = format!("{base}/api/repository/deployments");
    send(
        client,
        Method::POST,
        &url,
        &[("authorization", &auth), ("content-type", &ct)],
        deploy::file_part("scale.json", "scale.json", &bytes),
    )
    .await
    .unwrap_or_else(|e| panic!("POST {url}: {e}"))
}

/// Whether `url` (an instance's echo action) answers `text` back.
async fn echoes(client: &HttpClient, url: &str, text: &str) -> bool {
    let req = json!({"inputs": [{"developerName": "In", "contentType": "ContentString",
                                 "contentValue": text}]});
    match send_json(client, Method::POST, url, &req).await {
        Ok(a) if a.status == StatusCode::OK => a.json()["outputs"].as_array().is_some_and(|o| {
            o.iter()
                .any(|v| v["developerName"] == "In" && v["contentValue"] == text)
        }),
        _ => false,
    }
}

// === the service ===

/// The service of the WAIT test: an echo action and a message action whose process
/// outlives its one-second sync budget.
fn napping_definition() -> Value {
    json!({
        "name": "Scale",
        "messageActions": [
            {"name": "Echo", "inputs": [{"name": "In", "type": "String"}],
             "outputs": [{"name": "In", "type": "String"}], "process": {"builtin": "echo"}},
            {"name": "Long Nap", "outputs": [{"name": "Slept", "type": "String"}],
             "syncTimeoutSeconds": 1, "waitMessage": "Still napping",
             "process": {"command": ["python3", "-c", NAPPER]}}
        ]
    })
}

/// The service of the load test: [`napping_definition`] with a table of rows (the
/// `store` builtin).
fn table_definition() -> Value {
    let mut d = napping_definition();
    d["types"] = json!([{"name": "Row", "properties": [
        {"name": "Id", "type": "String"}, {"name": "Name", "type": "String"},
        {"name": "Qty", "type": "Number"}]}]);
    d["dataActions"] = json!([{"objectType": "Row", "key": "Id", "load": {"builtin": "store"},
                               "save": {"builtin": "store"}, "delete": {"builtin": "store"}}]);
    d
}

/// Row `i` as Flow sends it: a unique id, a name with `nonce`, `Qty` = `i`.
fn row(i: usize, nonce: &str) -> Value {
    let p = |n: &str, t: &str, v: String| json!({"developerName": n, "contentType": t, "contentValue": v});
    json!({"externalId": null, "developerName": "Row", "properties": [
        p("Id", "ContentString", row_id(i)),
        p("Name", "ContentString", format!("name {i} {nonce}")),
        p("Qty", "ContentNumber", i.to_string())]})
}

fn row_id(i: usize) -> String {
    format!("row-{i:04}")
}

/// Deploys `definition` (of the service `Scale`) through `base` and waits until both
/// instances answer its echo action, at most [`DEPLOY_REACH`] after the deploy was answered.
async fn deploy_and_reach(client: &HttpClient, base: &str, cluster: &Cluster, definition: &Value) {
    let a = deploy_definition(client, base, definition).await;
    assert_eq!(
        a.status,
        StatusCode::CREATED,
        "deploy through {base}: {}",
        String::from_utf8_lossy(&a.body)
    );
    let deployed = Instant::now();
    for (n, inst) in cluster.instances.iter().enumerate() {
        let url = inst.url("/fs/Scale/actions/echo");
        while !echoes(client, &url, "hi").await {
            assert!(
                deployed.elapsed() < DEPLOY_REACH,
                "instance {} does not answer the deployed echo action {DEPLOY_REACH:?} after \
                 the deploy; its log:\n{}",
                n + 1,
                inst.proc.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

// === tests ===

/// One call of the load: when it started and what came of it.
struct Outcome {
    i: usize,
    started: Instant,
    result: Result<(), String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn saves_through_nginx_survive_killing_an_instance() {
    let test = "scale_out::saves_through_nginx_survive_killing_an_instance";
    let Some(nginx_bin) = nginx_or_skip(test) else {
        return;
    };
    let Some(db) = schema(test).await else {
        return;
    };
    let mut cluster = Cluster::start(&db).await;
    let addrs: Vec<SocketAddr> = cluster.instances.iter().map(|i| i.addr).collect();
    let mut nginx = Nginx::start(&nginx_bin, cluster.dir.path(), &addrs).await;
    let http = client();

    // A deploy through the balancer is answered by both instances, and listed by each.
    deploy_and_reach(&http, &nginx.url(""), &cluster, &table_definition()).await;
    for (n, inst) in cluster.instances.iter().enumerate() {
        let a = admin_get(&http, &inst.url("/api/repository/routes")).await;
        assert_eq!(a.status, StatusCode::OK, "routes of instance {}", n + 1);
        let v = a.json();
        let listed = v["data"].as_array().is_some_and(|rs| {
            rs.iter()
                .any(|r| r["method"] == "POST" && r["path"] == "/fs/Scale/actions/echo")
        });
        assert!(
            listed,
            "instance {} does not list the echo action: {v}",
            n + 1
        );
    }

    // CALLS saves through nginx from CLIENTS tasks; instance 1 dies halfway.
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let done = Arc::new(AtomicUsize::new(0));
    let halfway = Arc::new(Notify::new());
    let outcomes: Arc<Mutex<Vec<Outcome>>> = Arc::default();
    let url = nginx.url("/fs/Scale/data");
    let workers: Vec<_> = (0..CLIENTS)
        .map(|k| {
            let (done, halfway, outcomes) = (
                Arc::clone(&done),
                Arc::clone(&halfway),
                Arc::clone(&outcomes),
            );
            let (url, nonce) = (url.clone(), nonce.clone());
            tokio::spawn(async move {
                let http = client();
                for i in (k..CALLS).step_by(CLIENTS) {
                    let body = json!({"objectDataType": {"developerName": "Row", "properties": []},
                                      "objectData": [row(i, &nonce)]});
                    let started = Instant::now();
                    let result = match send_json(&http, Method::PUT, &url, &body).await {
                        Ok(a) if a.status == StatusCode::OK => Ok(()),
                        Ok(a) => Err(format!("{} {}", a.status, String::from_utf8_lossy(&a.body))),
                        Err(e) => Err(e),
                    };
                    outcomes
                        .lock()
                        .unwrap()
                        .push(Outcome { i, started, result });
                    if done.fetch_add(1, Ordering::SeqCst) + 1 == CALLS / 2 {
                        halfway.notify_one();
                    }
                }
            })
        })
        .collect();
    tokio::time::timeout(Duration::from_secs(120), halfway.notified())
        .await
        .expect("half the calls are answered within 120 s");
    let status = cluster.instances[0].proc.kill();
    let killed_at = Instant::now();
    assert_eq!(status.signal(), Some(9), "instance 1 died of SIGKILL");
    for w in workers {
        tokio::time::timeout(Duration::from_secs(120), w)
            .await
            .expect("the calls end within 120 s")
            .expect("a client task does not panic");
    }
    let outcomes = std::mem::take(&mut *outcomes.lock().unwrap());
    assert_eq!(outcomes.len(), CALLS);
    let after: Vec<&Outcome> = outcomes.iter().filter(|o| o.started > killed_at).collect();
    let failed_after: Vec<String> = after
        .iter()
        .filter_map(|o| {
            o.result
                .as_ref()
                .err()
                .map(|e| format!("call {}: {e}", o.i))
        })
        .collect();
    assert!(!after.is_empty(), "calls were made after the kill");
    assert!(
        failed_after.is_empty(),
        "{} of {} calls after the kill failed: {:?}",
        failed_after.len(),
        after.len(),
        &failed_after[..failed_after.len().min(5)]
    );
    let succeeded: Vec<usize> = outcomes
        .iter()
        .filter(|o| o.result.is_ok())
        .map(|o| o.i)
        .collect();
    assert!(
        succeeded.len() * 100 >= CALLS * 95,
        "only {} of {CALLS} calls succeeded: {:?}",
        succeeded.len(),
        outcomes
            .iter()
            .filter_map(|o| o.result.as_ref().err())
            .take(5)
            .collect::<Vec<_>>()
    );

    // Every save the client saw succeed is durable: instance 2 loads it, values intact.
    let load = json!({"objectDataType": {"developerName": "Row", "properties": []},
                      "listFilter": {"orderBy": [{"columnName": "Id", "direction": "ASC"}],
                                     "offset": 0, "limit": CALLS + 1}});
    let a = send_json(
        &http,
        Method::POST,
        &cluster.two().url("/fs/Scale/data"),
        &load,
    )
    .await
    .expect("instance 2 answers the load");
    assert_eq!(
        a.status,
        StatusCode::OK,
        "load: {}",
        String::from_utf8_lossy(&a.body)
    );
    let stored: HashMap<String, (Value, Value)> = a.json()["objectData"]
        .as_array()
        .expect("objectData is an array")
        .iter()
        .map(|o| {
            let prop = |n: &str| {
                o["properties"]
                    .as_array()
                    .and_then(|ps| ps.iter().find(|p| p["developerName"] == n))
                    .map(|p| p["contentValue"].clone())
                    .unwrap_or(Value::Null)
            };
            let id = prop("Id").as_str().unwrap_or_default().to_owned();
            (id, (prop("Name"), prop("Qty")))
        })
        .collect();
    for i in succeeded {
        let (name, qty) = stored
            .get(&row_id(i))
            .unwrap_or_else(|| panic!("row {} was saved (200) but instance 2 lacks it", row_id(i)));
        assert_eq!(
            name,
            &json!(format!("name {i} {nonce}")),
            "Name of {}",
            row_id(i)
        );
        let qty = qty.as_str().and_then(|q| q.parse::<f64>().ok());
        assert_eq!(qty, Some(i as f64), "Qty of {}", row_id(i));
    }
    assert!(nginx.proc.is_running(), "nginx is still serving");
    drop(nginx);
    drop(cluster);
}

/// The callbacks a receiver got.
type Received = Arc<Mutex<Vec<Value>>>;

/// A callback endpoint on a loopback port that answers `"SUCCESS"` and keeps each body;
/// `notify` is signalled per callback.
async fn receiver(notify: Arc<Notify>) -> (String, Received) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let got: Received = Arc::default();
    let seen = Arc::clone(&got);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (seen, notify) = (Arc::clone(&seen), Arc::clone(&notify));
            tokio::spawn(async move {
                let svc = service_fn(move |req: Request<Incoming>| {
                    let (seen, notify) = (Arc::clone(&seen), Arc::clone(&notify));
                    async move {
                        let body = req.into_body().collect().await.map(|b| b.to_bytes());
                        let v = body
                            .ok()
                            .and_then(|b| serde_json::from_slice(&b).ok())
                            .unwrap_or(Value::Null);
                        seen.lock().unwrap().push(v);
                        notify.notify_one();
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(
                            b"\"SUCCESS\"",
                        ))))
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_callback_of_a_killed_instance_is_delivered_once_by_the_other() {
    let test = "scale_out::wait_callback_of_a_killed_instance_is_delivered_once_by_the_other";
    let Some(db) = schema(test).await else {
        return;
    };
    let mut cluster = Cluster::start(&db).await;
    let http = client();
    deploy_and_reach(
        &http,
        &cluster.one().url(""),
        &cluster,
        &napping_definition(),
    )
    .await;

    let notify = Arc::new(Notify::new());
    let (callback_uri, got) = receiver(Arc::clone(&notify)).await;
    let call = json!({"token": "tok-scale", "tenantId": "tenant-s", "stateId": "state-s",
                      "callbackUri": callback_uri, "inputs": []});
    let a = send_json(
        &http,
        Method::POST,
        &cluster.one().url("/fs/Scale/actions/long-nap"),
        &call,
    )
    .await
    .expect("instance 1 answers the long nap");
    assert_eq!(
        a.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&a.body)
    );
    assert_eq!(a.json()["invokeType"], "WAIT", "{}", a.json());

    // Instance 1 dies while the process runs: no callback of its own can follow.
    cluster.instances[0].proc.kill();
    let killed = Instant::now();
    assert!(
        got.lock().unwrap().is_empty(),
        "no callback before the kill"
    );

    let deadline = LEASE + CALLBACK_MARGIN;
    let first = tokio::time::timeout(deadline, notify.notified()).await;
    assert!(
        first.is_ok(),
        "no callback within {deadline:?} of the kill (lease {LEASE:?}); instance 2's log:\n{}",
        cluster.two().proc.log_tail()
    );
    let took = killed.elapsed();
    // Absence can only be shown by waiting: longer than a sweep and a redelivery take.
    tokio::time::sleep(QUIET).await;
    let calls = got.lock().unwrap().clone();
    assert_eq!(
        calls.len(),
        1,
        "exactly one callback (the first after {took:?}): {calls:?}"
    );
    let c = &calls[0];
    assert_eq!(c["token"], "tok-scale", "{c}");
    let fault = &c["rootFaults"]["Long Nap"];
    assert!(
        fault.as_str().is_some_and(|f| !f.is_empty()),
        "the callback carries a fault for the action: {c}"
    );
    drop(cluster);
}
