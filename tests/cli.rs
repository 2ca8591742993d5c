//! The `fss` binary: `check`, `serve`, usage errors, the `listening on` line, SIGTERM.

mod support;

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use support::{fixture, get, post_json};

const FSS: &str = env!("CARGO_BIN_EXE_fss");
const EX_USAGE: i32 = 64;

/// Runs `fss args...` to completion with a clean `FSS_*` environment.
fn fss(args: &[&str]) -> Output {
    fss_env(args, &[])
}

fn fss_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(FSS);
    cmd.args(args).stdin(Stdio::null());
    for (k, _) in std::env::vars() {
        if k.starts_with("FSS_") {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.iter().copied());
    cmd.output().expect("fss runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A served `fss` that is killed if the test fails before it ends.
struct Served {
    child: Child,
    stdout: BufReader<std::process::ChildStdout>,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    /// `fss serve` on a free port; returns once the first stdout line is read.
    fn start(ops: &Path, data: &Path) -> (Served, String) {
        Served::start_logging(ops, data, Stdio::null(), &[])
    }

    /// `fss serve` with its log (stderr) going to `log`, `args` added.
    fn start_logging(ops: &Path, data: &Path, log: Stdio, args: &[&str]) -> (Served, String) {
        let mut child = Command::new(FSS)
            .args(["serve", "--listen", "127.0.0.1:0", "--operations"])
            .arg(ops)
            .arg("--data")
            .arg(data)
            .args(args)
            .env("FSS_LOG", "warn")
            .env_remove("FSS_LOG_FORMAT")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("fss serve starts");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        stdout.read_line(&mut first).expect("stdout is readable");
        (Served { child, stdout }, first)
    }

    /// Sends SIGTERM and waits (bounded) for the exit status.
    fn terminate(&mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success());
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "fss did not exit on SIGTERM");
            // A plain thread waiting on a child process: no async runtime to block.
            #[allow(clippy::disallowed_methods)]
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[test]
fn check_lists_every_problem_and_exits_64() {
    let ops = fixture("invalid");
    let out = fss(&["check", "--operations", ops.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(EX_USAGE));
    let err = text(&out.stderr);
    // The file, the JSON path and what is wrong, for every problem in every file.
    let expected = [
        ("a_unknown_field.json", "messageActions[0].process.nope"),
        ("b_many_problems.json", "configurationValues[0].typeName"),
        ("b_many_problems.json", "types[0].properties[0].typeName"),
        ("b_many_problems.json", "messageActions[1].name"),
        ("b_many_problems.json", "messageActions[1].process.builtin"),
        ("b_many_problems.json", "messageActions[2].process"),
        ("b_many_problems.json", "dataActions[0].objectType"),
        ("c_duplicate_name.json", "name"),
        ("d_not_json.json", "messageActions"),
    ];
    for (file, path) in expected {
        assert!(
            err.lines()
                .any(|l| l.contains(file) && l.contains(&format!(": {path}"))),
            "no problem for {file} at '{path}' in:\n{err}"
        );
    }
    // Problems found while reading the text say where: file:line:column.
    assert!(
        err.contains(
            "a_unknown_field.json:2:56: messageActions[0].process.nope: unknown field `nope`"
        ),
        "{err}"
    );
    assert!(
        err.contains("d_not_json.json:3:0: messageActions: EOF while parsing a list"),
        "{err}"
    );
    assert!(err.contains("'Nobody'"), "{err}");
    assert!(err.contains("'Missing'"), "{err}");
    assert!(err.contains("duplicate action name 'Go'"), "{err}");
    assert!(
        !text(&out.stdout).contains("valid"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn check_accepts_valid_definitions() {
    for case in ["core", "desk"] {
        let ops = fixture(case);
        let out = fss(&["check", "--operations", ops.to_str().unwrap()]);
        assert!(out.status.success(), "{case}: {}", text(&out.stderr));
    }
    // The operations folder from the environment.
    let ops = fixture("core");
    let out = fss_env(&["check"], &[("FSS_OPERATIONS", ops.to_str().unwrap())]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn check_of_a_missing_folder_exits_64_naming_it() {
    let out = fss(&["check", "--operations", "/nonexistent/fss-ops"]);
    assert_eq!(out.status.code(), Some(EX_USAGE));
    assert!(
        text(&out.stderr).contains("/nonexistent/fss-ops"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn serve_refuses_invalid_definitions_without_listening() {
    let data = tempfile::tempdir().unwrap();
    let ops = fixture("invalid");
    let out = fss(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--operations",
        ops.to_str().unwrap(),
        "--data",
        data.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(EX_USAGE));
    assert!(
        !text(&out.stdout).contains("listening"),
        "{}",
        text(&out.stdout)
    );
    assert!(
        text(&out.stderr).contains("messageActions[0].process.nope"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn check_refuses_a_handler_that_the_binary_cannot_serve() {
    let out = fss(&[
        "check",
        "--operations",
        fixture("handler").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(EX_USAGE));
    let err = text(&out.stderr);
    assert!(
        err.contains("no handler named 'inspect' is registered"),
        "{err}"
    );
    assert!(err.contains(".process"), "{err}");
}

#[test]
fn serve_refuses_a_handler_that_is_not_registered() {
    // The binary registers no handlers: a definition naming one cannot be served.
    let data = tempfile::tempdir().unwrap();
    let ops = fixture("handler");
    let out = fss(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--operations",
        ops.to_str().unwrap(),
        "--data",
        data.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(EX_USAGE));
    assert!(!text(&out.stdout).contains("listening"));
    assert!(
        text(&out.stderr).contains("inspect"),
        "{}",
        text(&out.stderr)
    );
}

#[tokio::test]
async fn serve_prints_its_address_first_answers_and_ends_on_sigterm() {
    let data = tempfile::tempdir().unwrap();
    let (mut served, first) = Served::start(&fixture("core"), data.path());
    let url = first
        .trim_end()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("first stdout line is '{first}'"))
        .to_owned();
    let port: u16 = url
        .strip_prefix("http://127.0.0.1:")
        .unwrap_or_else(|| panic!("address in '{first}'"))
        .parse()
        .expect("a port number");
    assert_ne!(port, 0);

    let health = get(&format!("{url}/health")).await;
    assert_eq!(health.status, 200);
    let describe = get(&format!("{url}/fs/Sample/metadata")).await;
    assert_eq!(describe.status, 200);
    assert_eq!(describe.json()["providesLogic"], true);
    let echo = post_json(
        &format!("{url}/fs/Sample/actions/echo"),
        &serde_json::json!({"token": "cli", "inputs": [
            {"developerName": "Name", "contentValue": "x", "contentType": "ContentString"}]}),
    )
    .await;
    assert_eq!(echo.status, 200);
    assert_eq!(echo.json()["token"], "cli");
    // The command action finds its script relative to the definition.
    let approve = post_json(
        &format!("{url}/fs/Sample/actions/approve-order"),
        &serde_json::json!({"token": "cli", "inputs": [
            {"developerName": "Order Id", "contentValue": "9", "contentType": "ContentString"}]}),
    )
    .await;
    assert_eq!(
        approve.status,
        200,
        "{}",
        String::from_utf8_lossy(&approve.body)
    );

    let status = served.terminate();
    assert!(status.success(), "exit status after SIGTERM: {status}");
    let mut rest = String::new();
    served.stdout.read_to_string(&mut rest).unwrap();
    assert!(!rest.contains("listening"), "{rest}");
}

#[test]
fn help_exits_0_with_the_usage() {
    for flag in ["--help", "-h"] {
        let out = fss(&[flag]);
        assert!(out.status.success(), "{flag}");
        let usage = text(&out.stdout);
        assert!(usage.contains("check"), "{usage}");
        assert!(usage.contains("Listener:"), "options grouped: {usage}");
        assert!(usage.contains("FSS_LISTEN"), "variables shown: {usage}");
        assert!(usage.contains("--operations"), "{usage}");
        assert!(usage.contains("--listen"), "{usage}");
    }
}

#[test]
fn bad_flag_values_exit_64_naming_them() {
    // (arguments, environment, what the message must name)
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a [&'a str]);
    let cases: &[Case<'_>] = &[
        (&["serve", "--listen", "nope"], &[], &["--listen", "nope"]),
        (&["serve", "--listen=1.2.3"], &[], &["--listen", "1.2.3"]),
        (
            &["serve", "--max-connections", "many"],
            &[],
            &["--max-connections", "many"],
        ),
        (
            &["serve", "--shutdown-grace", "-1"],
            &[],
            &["--shutdown-grace"],
        ),
        (
            &["serve", "--max-request-bytes", "10MB"],
            &[],
            &["--max-request-bytes", "10MB"],
        ),
        (
            &["serve"],
            &[("FSS_LISTEN", "bogus")],
            &["FSS_LISTEN", "bogus"],
        ),
        (&["serve", "--bogus", "1"], &[], &["--bogus"]),
        (&["serve", "--listen"], &[], &["--listen"]),
        (&["serve", "stray"], &[], &["stray"]),
    ];
    for (args, env, named) in cases {
        let out = fss_env(args, env);
        assert_eq!(out.status.code(), Some(EX_USAGE), "{args:?} {env:?}");
        let err = text(&out.stderr);
        for n in *named {
            assert!(err.contains(n), "{args:?} {env:?}: '{n}' not in {err}");
        }
        assert!(!text(&out.stdout).contains("listening"), "{args:?}");
    }
}

/// The log of `path` once a line holds `needle` (bounded: 10 s).
fn log_line_with(path: &Path, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = std::fs::read_to_string(path).unwrap_or_default();
        if let Some(line) = log.lines().find(|l| l.contains(needle)) {
            return line.to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "no log line with {needle} in:\n{log}"
        );
        // A plain thread polling a file the child writes: no async runtime to block.
        #[allow(clippy::disallowed_methods)]
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A failing execution: its 5xx shows the client no more than the process said, and
/// its log line names the execution id, the service and the cause, as text and as JSON.
#[tokio::test]
async fn an_execution_logs_its_id_service_and_cause() {
    for format in ["text", "json"] {
        let data = tempfile::tempdir().unwrap();
        let log_path = data.path().join("fss.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let (served, first) = Served::start_logging(
            &fixture("core"),
            data.path(),
            log.into(),
            &["--log-format", format],
        );
        let url = first
            .trim_end()
            .strip_prefix("listening on ")
            .unwrap()
            .to_owned();
        let failed = post_json(
            &format!("{url}/fs/Sample/actions/approve-order"),
            &serde_json::json!({"inputs": [{"developerName": "Order Id",
                "contentValue": "reject-7", "contentType": "ContentString"}]}),
        )
        .await;
        assert_eq!(failed.status, 500, "{format}");
        let id = failed.headers["x-execution-id"]
            .to_str()
            .unwrap()
            .to_owned();
        let line = log_line_with(&log_path, &id);
        assert!(
            line.contains("order reject-7 cannot be approved"),
            "{format}: {line}"
        );
        match format {
            "text" => {
                let span = format!("execution{{execution_id=\"{id}\" service=\"Sample\"}}");
                assert!(line.contains(&span), "{line}");
                assert!(line.contains("WARN"), "{line}");
            }
            _ => {
                let v: serde_json::Value = serde_json::from_str(&line).expect("one JSON object");
                assert_eq!(v["level"], "WARN", "{line}");
                assert_eq!(v["span"]["name"], "execution", "{line}");
                assert_eq!(v["span"]["execution_id"], id.as_str(), "{line}");
                assert_eq!(v["span"]["service"], "Sample", "{line}");
                assert_eq!(
                    v["fields"]["uri"], "/fs/Sample/actions/approve-order",
                    "{line}"
                );
            }
        }
        drop(served);
    }
}
