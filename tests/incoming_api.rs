//! The incoming API over real sockets: `POST /api/1/action/{service}/{action}/trigger`
//! and its poll URL, with anonymous actions (API keys have their own tests).

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use fss::server::ServerConfig;
use http::Method;
use serde_json::{json, Value};
use support::pg::Backend;
use support::{basic, get, post_json, request, Answer, TestServer};

const ADMIN: &str = "admin";
const ADMIN_PASSWORD: &str = "admin-password-for-tests";

/// The script of the command actions: appends its Tag to the runs file (argv[1]); Mode
/// "fail" fails with a message, "slow" sleeps 2 s before its side effect "late <Tag>",
/// "out" answers with the output node (statusCode, body).
const WORK: &str = r#"#!/usr/bin/env python3
import json, sys, time
call = json.load(sys.stdin)
inputs = call.get("inputs") or {}
mode, tag = str(inputs.get("Mode") or ""), str(inputs.get("Tag") or "")
with open(sys.argv[1], "a") as f:
    f.write(tag + "\n")
if mode == "fail":
    print(f"record {tag} failed on purpose", file=sys.stderr)
    sys.exit(3)
if mode == "slow":
    time.sleep(2)
    with open(sys.argv[1], "a") as f:
        f.write("late " + tag + "\n")
out = {"Result": "done " + tag, "Caller": (call.get("properties") or {}).get("user")}
if mode == "out":
    out.update({"statusCode": 201, "body": "made " + tag, "contentType": "text/plain"})
json.dump({"outputs": out}, sys.stdout)
"#;

/// A folder with the service "Api Desk" and its script; the runs file is `runs.log`.
fn fixture(dir: &Path) {
    std::fs::create_dir_all(dir.join("scripts")).unwrap();
    std::fs::write(dir.join("scripts/work.py"), WORK).unwrap();
    let runs = dir.join("runs.log");
    std::fs::write(&runs, "").unwrap();
    let runs = runs.to_str().unwrap();
    let command = json!(["python3", "scripts/work.py", runs]);
    let job_outputs = json!([
        {"name": "Result", "type": "String"}, {"name": "Caller", "type": "String"},
        {"name": "statusCode", "type": "Number"}, {"name": "body", "type": "String"},
        {"name": "contentType", "type": "String"}]);
    let job_inputs = json!([{"name": "Mode", "type": "String"}, {"name": "Tag", "type": "String"}]);
    let def = json!({
        "name": "Api Desk",
        "messageActions": [
            {"name": "Echo",
             "inputs": [{"name": "Name", "type": "String"}, {"name": "Count", "type": "Number"}],
             "outputs": [{"name": "Name", "type": "String"}, {"name": "Count", "type": "Number"}],
             "process": {"builtin": "echo"},
             "api": {"allowAnonymous": true, "alias": "echo-it"}},
            {"name": "Run Job", "inputs": job_inputs, "outputs": job_outputs,
             "process": {"command": command},
             "api": {"mode": "sync", "allowAnonymous": true}},
            {"name": "Run Later", "inputs": job_inputs, "outputs": job_outputs,
             "process": {"command": command},
             "api": {"mode": "async", "allowAnonymous": true}},
            {"name": "Keyed Later", "inputs": job_inputs, "outputs": job_outputs,
             "process": {"command": command}, "api": {"mode": "async"}},
            {"name": "Keyed", "inputs": [], "outputs": [],
             "process": {"builtin": "echo"}, "api": {}},
            {"name": "Flow Only", "process": {"builtin": "echo"}}
        ]
    });
    std::fs::write(dir.join("ApiDesk.json"), def.to_string()).unwrap();
}

fn runs_of(dir: &Path, line: &str) -> usize {
    std::fs::read_to_string(dir.join("runs.log"))
        .unwrap()
        .lines()
        .filter(|l| *l == line)
        .count()
}

async fn start(ops: &Path, data: &Path) -> TestServer {
    TestServer::start_admin(ops, data, ADMIN, ADMIN_PASSWORD).await
}

const ECHO: &str = "/api/1/action/Api%20Desk/Echo/trigger";
const JOB: &str = "/api/1/action/Api%20Desk/Run%20Job/trigger";
const LATER: &str = "/api/1/action/Api%20Desk/Run%20Later/trigger";

async fn post_with(url: &str, headers: &[(&str, &str)], body: &Value) -> Answer {
    let mut h = vec![("content-type", "application/json")];
    h.extend_from_slice(headers);
    request(Method::POST, url, &h, serde_json::to_vec(body).unwrap()).await
}

/// Polls `url` until its status is no longer `running` (at most 20 s).
async fn poll_until_done(url: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let a = get(url).await;
        assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
        let v = a.json();
        if v["status"] != "running" || Instant::now() > deadline {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The execution record of answer `a` (its `X-Execution-Id`), read as the admin.
async fn execution_record(s: &TestServer, a: &Answer) -> Answer {
    let xid = a.header("x-execution-id").expect("X-Execution-Id");
    let auth = basic(ADMIN, ADMIN_PASSWORD);
    request(
        Method::GET,
        &s.url(&format!("/api/runtime/executions/{xid}")),
        &[("authorization", &auth)],
        "",
    )
    .await
}

#[tokio::test]
async fn sync_echo_answers_outputs_with_its_execution_record() {
    let ops = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    fixture(ops.path());
    let s = start(ops.path(), data.path()).await;
    let a = post_json(&s.url(ECHO), &json!({"Name": "Ada", "Count": 3})).await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    let v = a.json();
    assert_eq!(v["status"], "Success");
    assert!(
        v["processId"].as_str().is_some_and(|p| p.len() == 36),
        "{v}"
    );
    assert_eq!(v["outputs"], json!({"Name": "Ada", "Count": 3}));
    let r = execution_record(&s, &a).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let rec = r.json();
    let rec = if rec.get("id").is_some() {
        rec
    } else {
        rec["execution"].clone()
    };
    assert_eq!(rec["operation"], "trigger", "{rec}");
    assert_eq!(rec["tracked"]["Caller"], "System");
    assert_eq!(rec["tracked"]["Mode"], "sync");
    assert_eq!(rec["tracked"]["Records"], "Success");
    assert_eq!(rec["tracked"]["Process Id"], v["processId"]);
    // By alias, and by the legacy URL (the name is unique across services).
    let a = post_json(
        &s.url("/api/1/action/Api%20Desk/echo-it/trigger"),
        &json!({"Name": "B"}),
    )
    .await;
    assert_eq!(a.json()["outputs"]["Name"], "B");
    let a = post_json(&s.url("/api/1/action/Echo/trigger"), &json!({"Name": "C"})).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json()["outputs"]["Name"], "C");
}

#[tokio::test]
async fn query_parameters_fill_inputs_the_body_lacks_and_types_are_checked() {
    let ops = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    fixture(ops.path());
    let s = start(ops.path(), data.path()).await;
    let a = post_json(
        &s.url(&format!("{ECHO}?Name=From%20Query&Count=9")),
        &json!({"Count": 2}),
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(
        a.json()["outputs"],
        json!({"Name": "From Query", "Count": 2})
    );

    let a = post_json(&s.url(ECHO), &json!({"Count": "many"})).await;
    assert_eq!(a.status, 400);
    let m = a.json()["message"].as_str().unwrap().to_owned();
    assert!(m.contains("input 'Count'") && m.contains("Number"), "{m}");
    for (body, want) in [(json!("text"), "a string"), (json!(7), "a number")] {
        let a = post_json(&s.url(ECHO), &body).await;
        assert_eq!(a.status, 400);
        assert!(a.json()["message"].as_str().unwrap().contains(want));
    }
    let a = post_json(&s.url(&format!("{ECHO}?timeout=0")), &json!({})).await;
    assert_eq!(a.status, 400);
    assert!(a.json()["message"].as_str().unwrap().contains("?timeout=0"));
}

#[tokio::test]
async fn an_array_body_runs_each_record_and_one_failure_fails_alone() {
    let ops = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    fixture(ops.path());
    let s = start(ops.path(), data.path()).await;
    let body = json!([{"Mode": "ok", "Tag": "a0"}, {"Mode": "fail", "Tag": "a1"}, {"Mode": "ok", "Tag": "a2"}]);
    let a = post_json(&s.url(JOB), &body).await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    let v = a.json();
    assert_eq!(v["status"], "Fail");
    let recs = v["records"].as_array().unwrap();
    assert_eq!(recs.len(), 3);
    assert_eq!(
        (recs[0]["index"].clone(), recs[0]["status"].clone()),
        (json!(0), json!("Success"))
    );
    assert_eq!(recs[0]["outputs"]["Result"], "done a0");
    assert_eq!(recs[1]["status"], "Fail");
    assert!(
        recs[1]["message"]
            .as_str()
            .unwrap()
            .contains("failed on purpose"),
        "{v}"
    );
    assert_eq!(recs[2]["outputs"]["Result"], "done a2");
    // The execution record says which record failed, and why.
    let r = execution_record(&s, &a).await;
    let outcomes = r.json()["tracked"]["Records"].as_str().unwrap().to_owned();
    assert!(outcomes.starts_with("0 Success, 1 Fail: "), "{outcomes}");
    assert!(outcomes.contains("failed on purpose"), "{outcomes}");
    assert!(outcomes.ends_with(", 2 Success"), "{outcomes}");
    for t in ["a0", "a1", "a2"] {
        assert_eq!(runs_of(ops.path(), t), 1, "{t}");
    }
    // One object that fails: 500 with the message.
    let a = post_json(&s.url(JOB), &json!({"Mode": "fail", "Tag": "one"})).await;
    assert_eq!(a.status, 500);
    let v = a.json();
    assert_eq!(v["status"], "Fail");
    assert!(v["processId"].is_string());
    assert!(v["message"].as_str().unwrap().contains("failed on purpose"));
}

#[tokio::test]
async fn async_answers_202_and_the_poll_ends_finished_even_after_a_restart() {
    let ops = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    fixture(ops.path());
    let s = start(ops.path(), data.path()).await;
    let t0 = Instant::now();
    let a = post_json(&s.url(LATER), &json!({"Mode": "slow", "Tag": "later"})).await;
    assert!(t0.elapsed() < Duration::from_millis(1800));
    assert_eq!(a.status, 202, "{}", String::from_utf8_lossy(&a.body));
    let v = a.json();
    let pid = v["processId"].as_str().unwrap().to_owned();
    assert_eq!(v["status"], "running");
    let loc = a.header("location").unwrap().to_owned();
    assert_eq!(loc, format!("{LATER}/{pid}"));
    assert_eq!(a.header("retry-after"), Some("1"));
    let done = poll_until_done(&s.url(&loc)).await;
    assert_eq!(done["status"], "finished", "{done}");
    assert_eq!(done["processId"], pid.as_str());
    assert_eq!(done["outputs"]["Result"], "done later");
    assert!(done["startedAt"].as_str().unwrap().ends_with('Z'));
    assert!(done["finishedAt"].as_str().unwrap().ends_with('Z'));
    // Unknown ids and the wrong methods.
    assert_eq!(get(&s.url(&format!("{LATER}/nope"))).await.status, 404);
    let a = request(Method::POST, &s.url(&loc), &[], "").await;
    assert_eq!((a.status.as_u16(), a.header("allow")), (405, Some("GET")));
    let a = get(&s.url(LATER)).await;
    assert_eq!((a.status.as_u16(), a.header("allow")), (405, Some("POST")));
    // The run survives a restart on the same data folder.
    s.stop().await;
    let s = start(ops.path(), data.path()).await;
    let again = get(&s.url(&loc)).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["status"], "finished");
    assert_eq!(again.json()["outputs"]["Result"], "done later");
}

#[tokio::test]
async fn a_slow_sync_call_with_prefer_respond_async_continues_and_without_it_is_stopped() {
    let ops = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    fixture(ops.path());
    let s = start(ops.path(), data.path()).await;
    let url = s.url(&format!("{JOB}?timeout=300"));
    let a = post_with(
        &url,
        &[("prefer", "respond-async")],
        &json!({"Mode": "slow", "Tag": "pref"}),
    )
    .await;
    assert_eq!(a.status, 202, "{}", String::from_utf8_lossy(&a.body));
    let loc = a.header("location").unwrap().to_owned();
    let done = poll_until_done(&s.url(&loc)).await;
    assert_eq!(done["status"], "finished");
    assert_eq!(runs_of(ops.path(), "late pref"), 1);

    // A second is ample for the script to start and write its tag, even on a busy machine.
    let url = s.url(&format!("{JOB}?timeout=1000"));
    let a = post_json(&url, &json!({"Mode": "slow", "Tag": "cut"})).await;
    assert_eq!(a.status, 504, "{}", String::from_utf8_lossy(&a.body));
    assert!(a.json()["message"].as_str().unwrap().contains("1000 ms"));
    assert_eq!(runs_of(ops.path(), "cut"), 1, "the command started");
    // Had it not been killed, its side effect would be there 1 s later; an absence can
    // only be waited for.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(runs_of(ops.path(), "late cut"), 0, "the command was killed");
}

#[tokio::test]
async fn an_idempotency_key_replays_once_and_refuses_another_body() {
    let ops = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    fixture(ops.path());
    let s = start(ops.path(), data.path()).await;
    let body = json!({"Mode": "ok", "Tag": "idem"});
    let key = [("idempotency-key", "k-1")];
    let first = post_with(&s.url(JOB), &key, &body).await;
    assert_eq!(first.status, 200);
    assert!(first.header("idempotent-replayed").is_none());
    let again = post_with(&s.url(JOB), &key, &body).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.json()["processId"], first.json()["processId"]);
    assert_eq!(again.json()["outputs"], first.json()["outputs"]);
    assert_eq!(runs_of(ops.path(), "idem"), 1);

    let other = post_with(
        &s.url(JOB),
        &key,
        &json!({"Mode": "ok", "Tag": "idem-other"}),
    )
    .await;
    assert_eq!(other.status, 422);
    assert!(other.json()["message"].as_str().unwrap().contains("'k-1'"));
    assert_eq!(runs_of(ops.path(), "idem-other"), 0);

    // Two concurrent calls with one key: one run.
    let url = s.url(JOB);
    let body = json!({"Mode": "slow", "Tag": "twice"});
    let key = [("idempotency-key", "k-2")];
    let (a, b) = tokio::join!(post_with(&url, &key, &body), post_with(&url, &key, &body));
    assert_eq!(a.json()["processId"], b.json()["processId"]);
    assert_eq!(runs_of(ops.path(), "twice"), 1);
}

#[tokio::test]
async fn the_output_node_shapes_the_answer_and_unknown_actions_are_404() {
    let ops = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    fixture(ops.path());
    let s = start(ops.path(), data.path()).await;
    let a = post_json(&s.url(JOB), &json!({"Mode": "out", "Tag": "node"})).await;
    assert_eq!(a.status, 201);
    assert_eq!(a.header("content-type"), Some("text/plain"));
    assert_eq!(&a.body[..], b"made node");
    assert!(a.header("x-process-id").is_some());
    for path in [
        "/api/1/action/Nope/Echo/trigger",
        "/api/1/action/Api%20Desk/Nope/trigger",
        "/api/1/action/Api%20Desk/Flow%20Only/trigger",
        "/api/1/action/Nope/trigger",
    ] {
        let a = post_json(&s.url(path), &json!({})).await;
        assert_eq!(a.status, 404, "{path}");
        assert!(a.json()["message"].as_str().unwrap().contains("Nope") || path.contains("Flow"));
    }
    // An action without allowAnonymous needs a key.
    let a = post_json(&s.url("/api/1/action/Api%20Desk/Keyed/trigger"), &json!({})).await;
    assert_eq!(a.status, 401);
    assert!(a.header("www-authenticate").is_some());
}

/// Creates user `id` with `privileges` and issues it an API key.
async fn user_with_key(s: &TestServer, id: &str, privileges: &[&str]) -> String {
    let auth = basic(ADMIN, ADMIN_PASSWORD);
    let h = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    let body =
        json!({"id": id, "password": format!("{id}-password-123"), "privileges": privileges});
    let a = request(
        Method::POST,
        &s.url("/api/identity/users"),
        &h,
        body.to_string(),
    )
    .await;
    assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
    let url = s.url(&format!("/api/identity/users/{id}/api-keys"));
    let a = request(Method::POST, &url, &h, "{}").await;
    assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
    a.json()["key"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn keyed_runs_are_polled_by_their_user_and_admins_only() {
    let ops = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    fixture(ops.path());
    let s = start(ops.path(), data.path()).await;
    let privileges = ["use-api-key", "run-actions"];
    let ada = format!("Bearer {}", user_with_key(&s, "ada", &privileges).await);
    let bob = format!("Bearer {}", user_with_key(&s, "bob", &privileges).await);
    let weak = format!("Bearer {}", user_with_key(&s, "weak", &[]).await);
    let url = s.url("/api/1/action/Api%20Desk/Keyed%20Later/trigger");
    let body = json!({"Mode": "slow", "Tag": "keyed"});
    let a = post_with(&url, &[("authorization", &weak)], &body).await;
    assert_eq!(a.status, 403, "{}", String::from_utf8_lossy(&a.body));
    let a = post_with(&url, &[("authorization", "Bearer not.a.key")], &body).await;
    assert_eq!(a.status, 401);
    let a = post_with(&url, &[("authorization", &ada)], &body).await;
    assert_eq!(a.status, 202, "{}", String::from_utf8_lossy(&a.body));
    let loc = s.url(a.header("location").unwrap());
    let poll = |who: String| {
        let loc = loc.clone();
        async move { request(Method::GET, &loc, &[("authorization", who.as_str())], "").await }
    };
    let mine = poll(ada.clone()).await;
    assert_eq!(mine.status, 200);
    assert_eq!(mine.json()["status"], "running");
    let other = poll(bob).await;
    assert_eq!(
        other.status,
        404,
        "{}",
        String::from_utf8_lossy(&other.body)
    );
    assert_eq!(request(Method::GET, &loc, &[], "").await.status, 401);
    let admin = poll(basic(ADMIN, ADMIN_PASSWORD)).await;
    assert_eq!(admin.status, 200);
    // The process saw the key's user, never the key.
    let deadline = Instant::now() + Duration::from_secs(20);
    let done = loop {
        let v = poll(ada.clone()).await.json();
        if v["status"] != "running" || Instant::now() > deadline {
            break v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(done["status"], "finished", "{done}");
    assert_eq!(done["outputs"]["Caller"], "ada");
}

// === on both backends ===

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// The server of `ops` on `backend`, its data folder `data`, no admin API (the actions
/// here are anonymous).
async fn start_on(backend: &Backend, ops: &Path, data: &Path) -> TestServer {
    let data = data.to_path_buf();
    TestServer::start_config(
        ops,
        |c| {
            backend.configure(c);
            c.data_dir = data;
        },
        |_| {},
        ServerConfig::default(),
    )
    .await
}

/// The instance that answers after `first` stops: `first`'s data folder started again on
/// SQLite; on PostgreSQL, another instance (its own data folder `other`) of the same
/// database, as behind a load balancer.
async fn next_instance(
    backend: &Backend,
    first: TestServer,
    ops: &Path,
    data: &Path,
    other: &Path,
) -> TestServer {
    first.stop().await;
    match backend {
        Backend::Sqlite => start_on(backend, ops, data).await,
        Backend::Postgres(_) => start_on(backend, ops, other).await,
    }
}

async fn a_run_is_polled_after_a_restart_on_the_same_database(backend: Backend) {
    let (ops, data, other) = (tempdir(), tempdir(), tempdir());
    fixture(ops.path());
    let s = start_on(&backend, ops.path(), data.path()).await;
    // Slow, so that it is still running when the wait for its answer ends.
    let a = post_json(&s.url(LATER), &json!({"Mode": "slow", "Tag": "polled"})).await;
    assert_eq!(a.status, 202, "{}", String::from_utf8_lossy(&a.body));
    let loc = a.header("location").unwrap().to_owned();
    let done = poll_until_done(&s.url(&loc)).await;
    assert_eq!(done["status"], "finished", "{done}");

    s.stop().await;
    let s = start_on(&backend, ops.path(), data.path()).await;
    let again = get(&s.url(&loc)).await;
    assert_eq!(
        again.status,
        200,
        "{}",
        String::from_utf8_lossy(&again.body)
    );
    assert_eq!(again.json()["status"], "finished");
    assert_eq!(again.json()["outputs"]["Result"], "done polled");
    assert_eq!(runs_of(ops.path(), "late polled"), 1);
    let s = next_instance(&backend, s, ops.path(), data.path(), other.path()).await;
    let there = get(&s.url(&loc)).await;
    assert_eq!(
        there.status,
        200,
        "{}",
        String::from_utf8_lossy(&there.body)
    );
    assert_eq!(
        there.json(),
        again.json(),
        "every instance answers the same"
    );
    assert_eq!(get(&s.url(&format!("{LATER}/nope"))).await.status, 404);
    assert_eq!(runs_of(ops.path(), "polled"), 1);
    s.stop().await;
}

async fn an_idempotency_key_replays_on_the_next_instance(backend: Backend) {
    let (ops, data, other) = (tempdir(), tempdir(), tempdir());
    fixture(ops.path());
    let s = start_on(&backend, ops.path(), data.path()).await;
    let body = json!({"Mode": "ok", "Tag": "once"});
    let key = [("idempotency-key", "k-shared")];
    let first = post_with(&s.url(JOB), &key, &body).await;
    assert_eq!(
        first.status,
        200,
        "{}",
        String::from_utf8_lossy(&first.body)
    );
    assert!(first.header("idempotent-replayed").is_none());

    let s = next_instance(&backend, s, ops.path(), data.path(), other.path()).await;
    let again = post_with(&s.url(JOB), &key, &body).await;
    assert_eq!(
        again.status,
        200,
        "{}",
        String::from_utf8_lossy(&again.body)
    );
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.json()["processId"], first.json()["processId"]);
    assert_eq!(again.json()["outputs"], first.json()["outputs"]);
    assert_eq!(runs_of(ops.path(), "once"), 1, "the action ran once");
    let other_body = post_with(&s.url(JOB), &key, &json!({"Mode": "ok", "Tag": "x"})).await;
    assert_eq!(other_body.status, 422);
    assert!(other_body.json()["message"]
        .as_str()
        .unwrap()
        .contains("'k-shared'"));
    s.stop().await;
}

crate::both_backends!(
    a_run_is_polled_after_a_restart_on_the_same_database,
    an_idempotency_key_replays_on_the_next_instance,
);

/// On a shared database, an instance that starts again fails the runs it left running
/// (they cannot end any more), and only those: another instance's may still be running.
#[tokio::test]
async fn a_restarted_instance_fails_only_its_own_lost_runs() {
    let test = "incoming_api::a_restarted_instance_fails_only_its_own_lost_runs";
    let Some(schema) = support::pg::schema(test).await else {
        return;
    };
    let backend = Backend::Postgres(schema);
    let (ops, data) = (tempdir(), tempdir());
    fixture(ops.path());
    std::fs::write(data.path().join("instance.id"), "instance-a").unwrap();
    let s = start_on(&backend, ops.path(), data.path()).await;
    // A stored run: the schema is there, the instance has used its runs.
    let key = [("idempotency-key", "k-t")];
    let a = post_with(&s.url(JOB), &key, &json!({"Mode": "ok", "Tag": "t"})).await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    s.stop().await;

    let (client, conn) = tokio_postgres::connect(backend.url().unwrap(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    for (pid, instance) in [("lost-run", "instance-a"), ("live-run", "instance-b")] {
        client
            .execute(
                "INSERT INTO runs (process_id, service, action, user_id, mode, status, \
                 started_ms, instance) VALUES ($1, 'Api Desk', 'Run Later', 'System', 'async', \
                 'running', 1, $2)",
                &[&pid, &instance],
            )
            .await
            .unwrap();
    }
    let s = start_on(&backend, ops.path(), data.path()).await;
    let lost = get(&s.url(&format!("{LATER}/lost-run"))).await;
    assert_eq!(lost.status, 200, "{}", String::from_utf8_lossy(&lost.body));
    assert_eq!(lost.json()["status"], "failed", "{}", lost.json());
    assert!(
        lost.json().to_string().contains("restarted"),
        "{}",
        lost.json()
    );
    let live = get(&s.url(&format!("{LATER}/live-run"))).await;
    assert_eq!(live.json()["status"], "running", "{}", live.json());
    s.stop().await;
}
