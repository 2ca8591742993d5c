//! Hot reload of the operations folder: the watcher remounts edited, added and removed
//! definition files without a restart, an invalid file keeps its old mount (and its
//! problem is logged), deployed names are not taken, and SIGHUP reloads the binary's
//! folder. Real files, real sockets; every wait is a bounded poll of a condition.

mod support;

use std::future::Future;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::json;
use support::{deploy, post_json, Answer, TestServer};

/// How long a condition may take to become true.
const PATIENCE: Duration = Duration::from_secs(10);
/// How often it is looked at.
const POLL: Duration = Duration::from_millis(20);

/// A service `name` with one echo action per name of `actions`.
fn echo_def(name: &str, actions: &[&str]) -> String {
    let actions: Vec<_> = actions
        .iter()
        .map(|a| {
            json!({
                "name": a,
                "inputs": [ { "name": "In", "type": "String" } ],
                "outputs": [ { "name": "In", "type": "String" } ],
                "process": { "builtin": "echo" }
            })
        })
        .collect();
    serde_json::to_string_pretty(&json!({ "name": name, "messageActions": actions })).unwrap()
}

/// Calls the echo action at `path`.
async fn call(s: &TestServer, path: &str) -> Answer {
    let body = json!({ "token": "t", "inputs": [] });
    post_json(&s.url(path), &body).await
}

/// Polls `path` until it answers `status`; panics after [`PATIENCE`] with what it answered.
async fn wait_status(s: &TestServer, path: &str, status: u16) {
    let started = Instant::now();
    loop {
        let a = call(s, path).await;
        if a.status == status {
            return;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "{path} still answers {} (want {status}) after {PATIENCE:?}: {}",
            a.status,
            String::from_utf8_lossy(&a.body)
        );
        tokio::time::sleep(POLL).await;
    }
}

/// Polls `cond` until true; panics after [`PATIENCE`] saying `what`.
async fn wait_for<F: Future<Output = bool>>(what: &str, mut cond: impl FnMut() -> F) {
    let started = Instant::now();
    while !cond().await {
        assert!(
            started.elapsed() < PATIENCE,
            "{what}: not within {PATIENCE:?}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// Writes `text` to `dir/file` as editors do: a temporary file, renamed over.
fn save(dir: &Path, file: &str, text: &str) {
    let tmp = dir.join(format!(".{file}.tmp"));
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, dir.join(file)).unwrap();
}

/// What this test binary logs, captured (installed once, for every test).
fn logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    Arc::clone(LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&buf);
        let writer = move || Capture(Arc::clone(&sink));
        let _ = tracing_subscriber::fmt()
            .with_writer(writer)
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .try_init();
        buf
    }))
}

/// A writer into the captured logs.
struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The captured log lines that contain every one of `parts`.
fn logged(parts: &[&str]) -> Vec<String> {
    let text = String::from_utf8_lossy(&logs().lock().unwrap()).into_owned();
    text.lines()
        .filter(|l| parts.iter().all(|p| l.contains(p)))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn the_watcher_remounts_edits_additions_and_removals_and_keeps_an_invalid_file_s_old_mount() {
    logs();
    let ops = tempfile::tempdir().unwrap();
    let dir = ops.path();
    std::fs::write(dir.join("Hot.json"), echo_def("Hot", &["Ping"])).unwrap();
    let s = TestServer::start(dir).await;
    let watch = s.runtime.watch_operations(dir);
    assert!(watch.is_running());
    assert_eq!(call(&s, "/fs/Hot/actions/ping").await.status, 200);
    assert_eq!(call(&s, "/fs/Hot/actions/pong").await.status, 404);

    // an edit in place: the new action answers, the old one still does
    std::fs::write(dir.join("Hot.json"), echo_def("Hot", &["Ping", "Pong"])).unwrap();
    wait_status(&s, "/fs/Hot/actions/pong", 200).await;
    assert_eq!(call(&s, "/fs/Hot/actions/ping").await.status, 200);

    // an invalid version (truncated JSON): the old mount answers, the problem is logged
    let file = dir.join("Hot.json").display().to_string();
    std::fs::write(
        dir.join("Hot.json"),
        r#"{ "name": "Hot", "messageActions": ["#,
    )
    .unwrap();
    wait_for("the invalid file's problem is logged", || {
        let file = file.clone();
        async move { !logged(&["WARN", &file, "not reloaded"]).is_empty() }
    })
    .await;
    assert_eq!(call(&s, "/fs/Hot/actions/ping").await.status, 200);
    assert_eq!(call(&s, "/fs/Hot/actions/pong").await.status, 200);

    // a second file mounts beside it, and is unmounted when removed
    std::fs::write(dir.join("Second.json"), echo_def("Second", &["Ping"])).unwrap();
    wait_status(&s, "/fs/Second/actions/ping", 200).await;
    assert_eq!(call(&s, "/fs/Hot/actions/pong").await.status, 200);
    std::fs::remove_file(dir.join("Second.json")).unwrap();
    wait_status(&s, "/fs/Second/actions/ping", 404).await;

    // an editor's save (temporary file renamed over) fixes the invalid file
    save(dir, "Hot.json", &echo_def("Hot", &["Renamed"]));
    wait_status(&s, "/fs/Hot/actions/renamed", 200).await;
    assert_eq!(call(&s, "/fs/Hot/actions/pong").await.status, 404);

    let reloads = logged(&["INFO", &dir.display().to_string(), "reloaded"]);
    assert!(
        reloads.iter().any(|l| l.contains("added Second"))
            && reloads.iter().any(|l| l.contains("removed Second"))
            && reloads.iter().any(|l| l.contains("changed Hot")),
        "one info line per reload: {reloads:#?}"
    );

    // dropping the guard stops the watcher: an edit is no longer picked up
    drop(watch);
    save(dir, "Hot.json", &echo_def("Hot", &["After"]));
    let report = s.runtime.reload_operations(dir).await;
    assert_eq!(report.changed, ["Hot"], "{report:?}");
    s.stop().await;
}

#[tokio::test]
async fn reload_operations_reports_what_changed_and_applies_the_valid_files_beside_an_invalid_one()
{
    logs();
    let ops = tempfile::tempdir().unwrap();
    let dir = ops.path();
    std::fs::write(dir.join("A.json"), echo_def("A", &["Ping"])).unwrap();
    std::fs::write(dir.join("B.json"), echo_def("B", &["Ping"])).unwrap();
    let s = TestServer::start(dir).await;

    let report = s.runtime.reload_operations(dir).await;
    assert!(report.is_unchanged(), "{report:?}");
    assert!(report.problems.0.is_empty(), "{report:?}");
    assert_eq!(report.to_string(), "no change");

    // A invalid (an unknown field), B changed, C new: B and C apply, A keeps its mount
    std::fs::write(
        dir.join("A.json"),
        r#"{ "name": "A", "colour": "blue", "messageActions": [] }"#,
    )
    .unwrap();
    std::fs::write(dir.join("B.json"), echo_def("B", &["Ping", "Pong"])).unwrap();
    std::fs::write(dir.join("C.json"), echo_def("C", &["Ping"])).unwrap();
    let report = s.runtime.reload_operations(dir).await;
    assert_eq!(report.added, ["C"], "{report:?}");
    assert_eq!(report.changed, ["B"], "{report:?}");
    assert!(report.removed.is_empty(), "{report:?}");
    let a_file = dir.join("A.json").display().to_string();
    assert!(
        report
            .problems
            .0
            .iter()
            .any(|p| p.file == a_file && p.message.contains("colour")),
        "{:?}",
        report.problems
    );
    assert_eq!(call(&s, "/fs/A/actions/ping").await.status, 200);
    assert_eq!(call(&s, "/fs/B/actions/pong").await.status, 200);
    assert_eq!(call(&s, "/fs/C/actions/ping").await.status, 200);

    // the invalid A cannot be removed by accident, but a deleted one is
    std::fs::remove_file(dir.join("A.json")).unwrap();
    std::fs::remove_file(dir.join("C.json")).unwrap();
    let report = s.runtime.reload_operations(dir).await;
    assert_eq!(report.removed, ["A", "C"], "{report:?}");
    assert!(report.problems.0.is_empty(), "{report:?}");
    assert_eq!(call(&s, "/fs/A/actions/ping").await.status, 404);
    assert_eq!(call(&s, "/fs/B/actions/pong").await.status, 200);

    // a second file taking B's name is refused; B stays as it was
    std::fs::write(dir.join("Z.json"), echo_def("b", &["Other"])).unwrap();
    let report = s.runtime.reload_operations(dir).await;
    assert!(report.is_unchanged(), "{report:?}");
    assert!(
        report
            .problems
            .0
            .iter()
            .any(|p| p.file.ends_with("Z.json") && p.message.contains("already used")),
        "{:?}",
        report.problems
    );
    assert_eq!(call(&s, "/fs/B/actions/pong").await.status, 200);

    // a folder that is gone changes nothing
    std::fs::remove_file(dir.join("Z.json")).unwrap();
    let gone = dir.join("gone");
    let report = s.runtime.reload_operations(&gone).await;
    assert!(
        report.is_unchanged() && !report.problems.0.is_empty(),
        "{report:?}"
    );
    assert_eq!(call(&s, "/fs/B/actions/pong").await.status, 200);
    s.stop().await;
}

#[tokio::test]
async fn a_folder_file_may_not_take_the_name_of_a_deployed_service_and_deployments_stay() {
    logs();
    let ops = tempfile::tempdir().unwrap();
    let dir = ops.path();
    std::fs::write(dir.join("Folder.json"), echo_def("Folder", &["Ping"])).unwrap();
    let data = tempfile::tempdir().unwrap();
    let (user, password) = ("reload-admin", "reload-admin-pw-1");
    let s = TestServer::start_admin(dir, data.path(), user, password).await;
    let a = deploy::upload(
        &s,
        "/api/repository",
        (user, password),
        "file",
        "Deployed.json",
        echo_def("Deployed", &["Ping"]).as_bytes(),
    )
    .await;
    assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));

    // a file naming the deployed service is refused; the deployment answers as before
    std::fs::write(dir.join("Thief.json"), echo_def("deployed", &["Stolen"])).unwrap();
    let report = s.runtime.reload_operations(dir).await;
    assert!(report.is_unchanged(), "{report:?}");
    assert!(
        report
            .problems
            .0
            .iter()
            .any(|p| p.file.ends_with("Thief.json") && p.message.contains("deployed")),
        "{:?}",
        report.problems
    );
    assert_eq!(call(&s, "/fs/Deployed/actions/ping").await.status, 200);
    assert_eq!(call(&s, "/fs/deployed/actions/stolen").await.status, 404);

    // a service the folder adds is the folder's: a deployment may not replace it
    std::fs::remove_file(dir.join("Thief.json")).unwrap();
    std::fs::write(dir.join("New.json"), echo_def("New", &["Ping"])).unwrap();
    let report = s.runtime.reload_operations(dir).await;
    assert_eq!(report.added, ["New"], "{report:?}");
    let a = deploy::upload(
        &s,
        "/api/repository",
        (user, password),
        "file",
        "New.json",
        echo_def("New", &["Replaced"]).as_bytes(),
    )
    .await;
    assert_eq!(a.status, 409, "{}", String::from_utf8_lossy(&a.body));

    // the folder's removal leaves deployments alone
    std::fs::remove_file(dir.join("New.json")).unwrap();
    std::fs::remove_file(dir.join("Folder.json")).unwrap();
    let report = s.runtime.reload_operations(dir).await;
    assert_eq!(report.removed, ["Folder", "New"], "{report:?}");
    assert_eq!(call(&s, "/fs/Deployed/actions/ping").await.status, 200);
    s.stop().await;
}

/// The binary reloads its operations folder on SIGHUP, and keeps serving.
#[cfg(unix)]
#[test]
fn sighup_reloads_the_binary_s_operations_folder() {
    use std::process::{Command, Stdio};

    let tmp = tempfile::tempdir().unwrap();
    let ops = tmp.path().join("ops");
    std::fs::create_dir(&ops).unwrap();
    std::fs::write(ops.join("Hup.json"), echo_def("Hup", &["Ping"])).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_fss"))
        .args(["serve", "--listen", "127.0.0.1:0", "--operations"])
        .arg(&ops)
        .arg("--data")
        .arg(tmp.path().join("data"))
        .env("FSS_LOG", "info")
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Kills the child however the test ends.
    struct Reap(std::process::Child);
    impl Drop for Reap {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let pid = child.id();
    let _reap = Reap(child);

    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    assert!(line.starts_with("listening on http://"), "{line}");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for l in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                break;
            }
        }
    });

    let pid = rustix::process::Pid::from_raw(i32::try_from(pid).unwrap()).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::HUP).unwrap();
    let started = Instant::now();
    let mut seen = Vec::new();
    loop {
        let left = PATIENCE.saturating_sub(started.elapsed());
        match rx.recv_timeout(left) {
            Ok(l) if l.contains("Operations folder reloaded") => {
                assert!(l.contains("no change"), "{l}");
                break;
            }
            Ok(l) => seen.push(l),
            Err(_) => panic!("no reload logged within {PATIENCE:?} of SIGHUP: {seen:#?}"),
        }
    }
    // SIGHUP did not end the process: it still serves.
    let addr = line
        .trim()
        .trim_start_matches("listening on http://")
        .to_owned();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let status = rt.block_on(async {
        let body = json!({ "token": "t", "inputs": [] });
        post_json(&format!("http://{addr}/fs/Hup/actions/ping"), &body)
            .await
            .status
    });
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_deleted_folder_keeps_its_services_and_is_watched_again_when_it_reappears() {
    logs();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ops");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("Kept.json"), echo_def("Kept", &["Ping"])).unwrap();
    let s = TestServer::start(&dir).await;
    let watch = s.runtime.watch_operations(&dir);

    // the watcher's error is logged, the server goes on serving what it had
    std::fs::remove_dir_all(&dir).unwrap();
    let folder = dir.display().to_string();
    wait_for("the unreadable folder is logged", || {
        let folder = folder.clone();
        async move { !logged(&["WARN", &folder, "cannot be read"]).is_empty() }
    })
    .await;
    assert_eq!(call(&s, "/fs/Kept/actions/ping").await.status, 200);
    assert!(watch.is_running());

    // made again: watched again, and what it holds now is what is served
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("Back.json"), echo_def("Back", &["Ping"])).unwrap();
    wait_status(&s, "/fs/Back/actions/ping", 200).await;
    wait_status(&s, "/fs/Kept/actions/ping", 404).await;
    s.stop().await;
}
