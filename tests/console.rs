//! The console at `/console` over real sockets: the page and its assets, login with a
//! session cookie, the admin API through that cookie, CSRF on every change, logout, and a
//! read-only login.

mod support;

use http::Method;
use serde_json::json;
use support::{basic, fixture, request, Answer, TestServer};

const ADMIN: &str = "console-admin";
const PASSWORD: &str = "console-pw-1";

async fn start() -> (TestServer, tempfile::TempDir) {
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start_admin(&fixture("core"), data.path(), ADMIN, PASSWORD).await;
    (server, data)
}

async fn login(s: &TestServer, user: &str, password: &str) -> Answer {
    request(
        Method::POST,
        &s.url("/console/session"),
        &[("content-type", "application/json")],
        serde_json::to_vec(&json!({"user": user, "password": password})).unwrap(),
    )
    .await
}

/// The `fss_console=…` pair of a login's `Set-Cookie`.
fn cookie_of(a: &Answer) -> String {
    let set = a.header("set-cookie").expect("a Set-Cookie");
    set.split(';').next().unwrap().to_owned()
}

#[tokio::test]
async fn the_page_and_its_assets_are_served_small_and_same_origin_only() {
    let (s, _data) = start().await;
    let page = request(Method::GET, &s.url("/console"), &[], "").await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let csp = page.header("content-security-policy").unwrap();
    assert!(csp.contains("default-src 'self'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    let html = String::from_utf8(page.body.to_vec()).unwrap();
    assert!(html.contains("type=\"password\""), "{html}");
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no other host"
    );
    let mut total = page.body.len();
    for (path, kind) in [
        ("/console/console.js", "text/javascript; charset=utf-8"),
        ("/console/console.css", "text/css; charset=utf-8"),
    ] {
        assert!(html.contains(path), "the page references {path}");
        let a = request(Method::GET, &s.url(path), &[], "").await;
        assert_eq!(a.status, 200, "{path}");
        assert_eq!(a.header("content-type"), Some(kind), "{path}");
        total += a.body.len();
    }
    assert!(total < 200_000, "{total} bytes");
    let missing = request(Method::GET, &s.url("/console/nope.js"), &[], "").await;
    assert_eq!(missing.status, 404);
    assert!(missing.json()["errorMessage"]
        .as_str()
        .unwrap()
        .contains("/console/nope.js"));
    let post = request(
        Method::POST,
        &s.url("/console/console.js"),
        &[("content-type", "application/json")],
        "{}",
    )
    .await;
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow"), Some("GET, HEAD"));
}

#[tokio::test]
async fn a_login_gets_a_strict_http_only_cookie_that_the_admin_api_accepts() {
    let (s, _data) = start().await;
    let wrong = login(&s, ADMIN, "not-the-password").await;
    assert_eq!(wrong.status, 401);
    assert_eq!(wrong.json()["errorMessage"], "wrong user or password");
    assert!(
        wrong.header("www-authenticate").is_none(),
        "no browser dialog"
    );
    assert!(wrong.header("set-cookie").is_none());
    let bad = request(
        Method::POST,
        &s.url("/console/session"),
        &[("content-type", "application/json")],
        r#"{"user": "x"}"#,
    )
    .await;
    assert_eq!(bad.status, 400);
    assert!(
        bad.json()["errorMessage"]
            .as_str()
            .unwrap()
            .contains("password"),
        "{:?}",
        bad.json()
    );

    let ok = login(&s, ADMIN, PASSWORD).await;
    assert_eq!(ok.status, 200);
    let set = ok.header("set-cookie").unwrap().to_owned();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set.contains(flag), "{set}");
    }
    assert!(!set.contains("Secure"), "plain HTTP: {set}");
    assert_eq!(ok.header("cache-control"), Some("no-store"));
    let body = ok.json();
    assert_eq!(body["user"], ADMIN);
    let csrf = body["csrfToken"].as_str().unwrap().to_owned();
    assert_eq!(csrf.len(), 43);
    let cookie = cookie_of(&ok);
    assert!(!cookie.contains(&csrf));

    // The cookie reads the admin API like Basic credentials.
    let routes = request(
        Method::GET,
        &s.url("/api/repository/routes"),
        &[("cookie", &cookie)],
        "",
    )
    .await;
    assert_eq!(routes.status, 200);
    assert!(routes.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["service"] == "Sample"));
    let me = request(
        Method::GET,
        &s.url("/console/session"),
        &[("cookie", &cookie)],
        "",
    )
    .await;
    assert_eq!(me.json()["csrfToken"], csrf.as_str());

    // A change without the CSRF token is refused and changes nothing.
    let user = serde_json::to_vec(
        &json!({"id": "made-by-console", "password": "made-pw-12", "privileges": []}),
    )
    .unwrap();
    let json_cookie = [
        ("cookie", cookie.as_str()),
        ("content-type", "application/json"),
    ];
    let refused = request(
        Method::POST,
        &s.url("/api/identity/users"),
        &json_cookie,
        user.clone(),
    )
    .await;
    assert_eq!(refused.status, 403);
    assert!(refused.json()["errorMessage"]
        .as_str()
        .unwrap()
        .contains("X-CSRF-Token"));
    let listed = request(
        Method::GET,
        &s.url("/api/identity/users/made-by-console"),
        &[("cookie", &cookie)],
        "",
    )
    .await;
    assert_eq!(listed.status, 404);
    let wrong_token = [
        ("cookie", cookie.as_str()),
        ("content-type", "application/json"),
        ("x-csrf-token", "nope"),
    ];
    let refused = request(
        Method::POST,
        &s.url("/api/identity/users"),
        &wrong_token,
        user.clone(),
    )
    .await;
    assert_eq!(refused.status, 403);
    // With it, the change is made.
    let with_token = [
        ("cookie", cookie.as_str()),
        ("content-type", "application/json"),
        ("x-csrf-token", csrf.as_str()),
    ];
    let made = request(
        Method::POST,
        &s.url("/api/identity/users"),
        &with_token,
        user,
    )
    .await;
    assert_eq!(made.status, 201, "{:?}", made.json());

    // Logout ends the session: the cookie no longer reads anything.
    let out = request(Method::DELETE, &s.url("/console/session"), &with_token, "").await;
    assert_eq!(out.status, 204);
    assert!(out.header("set-cookie").unwrap().contains("Max-Age=0"));
    let after = request(
        Method::GET,
        &s.url("/api/repository/routes"),
        &[("cookie", &cookie), ("x-requested-with", "fss-console")],
        "",
    )
    .await;
    assert_eq!(after.status, 401);
    assert!(after.json()["errorMessage"]
        .as_str()
        .unwrap()
        .contains("log in again"));
    assert!(after.header("www-authenticate").is_none());
    // Explicit Basic credentials still work beside a dead cookie.
    let auth = basic(ADMIN, PASSWORD);
    let basic_too = request(
        Method::GET,
        &s.url("/api/repository/routes"),
        &[("cookie", &cookie), ("authorization", &auth)],
        "",
    )
    .await;
    assert_eq!(basic_too.status, 200);
}

#[tokio::test]
async fn a_metrics_user_logs_in_read_only_and_others_do_not_log_in() {
    let (s, _data) = start().await;
    let auth = basic(ADMIN, PASSWORD);
    for (id, privileges) in [
        ("scraper", json!(["metrics"])),
        ("flow-bot", json!(["flow-service"])),
    ] {
        let made = request(
            Method::POST,
            &s.url("/api/identity/users"),
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
            ],
            serde_json::to_vec(
                &json!({"id": id, "password": "user-pw-123", "privileges": privileges}),
            )
            .unwrap(),
        )
        .await;
        assert_eq!(made.status, 201);
    }
    let ok = login(&s, "scraper", "user-pw-123").await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.json()["privileges"], json!(["metrics"]));
    let cookie = cookie_of(&ok);
    let metrics = request(
        Method::GET,
        &s.url("/api/management/metrics"),
        &[("cookie", &cookie)],
        "",
    )
    .await;
    assert_eq!(metrics.status, 200);
    let deployments = request(
        Method::GET,
        &s.url("/api/repository/deployments"),
        &[("cookie", &cookie)],
        "",
    )
    .await;
    assert_eq!(deployments.status, 403);
    let refused = login(&s, "flow-bot", "user-pw-123").await;
    assert_eq!(refused.status, 403);
    assert!(refused.header("set-cookie").is_none());
}

/// The `id:` of every `execution` event of a server-sent event stream, with its data.
fn events_of(body: &[u8]) -> Vec<(u64, serde_json::Value)> {
    String::from_utf8_lossy(body)
        .split("\n\n")
        .filter(|e| e.contains("event: execution"))
        .map(|e| {
            let field = |name: &str| {
                e.lines()
                    .find_map(|l| l.strip_prefix(name))
                    .unwrap_or_else(|| panic!("no {name} in {e}"))
                    .to_owned()
            };
            (
                field("id: ").parse().unwrap(),
                serde_json::from_str(&field("data: ")).unwrap(),
            )
        })
        .collect()
}

async fn echo(s: &TestServer) -> String {
    let a = support::post_json(&s.url("/fs/Sample/actions/echo"), &json!({"inputs": []})).await;
    assert_eq!(a.status, 200);
    a.header("x-execution-id").unwrap().to_owned()
}

#[tokio::test]
async fn executions_stream_live_and_resume_after_the_last_event_id() {
    let (s, _data) = start().await;
    let cookie = cookie_of(&login(&s, ADMIN, PASSWORD).await);

    // Live: every execution made while the stream is open arrives on it, in order.
    let url = s.url("/api/runtime/execution-events?seconds=2");
    let watch = {
        let cookie = cookie.clone();
        tokio::spawn(async move { request(Method::GET, &url, &[("cookie", &cookie)], "").await })
    };
    let mut made = Vec::new();
    while !watch.is_finished() {
        made.push(echo(&s).await);
    }
    let streamed = watch.await.unwrap();
    assert_eq!(streamed.status, 200);
    assert_eq!(streamed.header("content-type"), Some("text/event-stream"));
    assert!(streamed.body.starts_with(b"retry: 2000\n\n"));
    let events = events_of(&streamed.body);
    assert!(
        !events.is_empty(),
        "{}",
        String::from_utf8_lossy(&streamed.body)
    );
    let ids: Vec<&str> = events
        .iter()
        .map(|(_, e)| e["id"].as_str().unwrap())
        .collect();
    let at = made
        .iter()
        .position(|m| m == ids[0])
        .expect("a streamed execution is one made");
    assert_eq!(
        ids,
        made[at..at + ids.len()]
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
    );
    assert_eq!(events[0].1["service"], "Sample");
    assert_eq!(events[0].1["status"], "succeeded");
    assert!(
        events.windows(2).all(|w| w[1].0 == w[0].0 + 1),
        "ids count up"
    );

    // Resumed: after the first event's id, the rest are sent again at once.
    let (first, _) = events[0];
    let resumed = request(
        Method::GET,
        &s.url("/api/runtime/execution-events?seconds=1"),
        &[("cookie", &cookie), ("last-event-id", &first.to_string())],
        "",
    )
    .await;
    let again = events_of(&resumed.body);
    assert_eq!(again.first().map(|e| e.0), Some(first + 1));
    assert_eq!(
        again[0].1["id"].as_str(),
        made.get(at + 1).map(String::as_str)
    );

    let bad = request(
        Method::GET,
        &s.url("/api/runtime/execution-events?seconds=0"),
        &[("cookie", &cookie)],
        "",
    )
    .await;
    assert_eq!(bad.status, 400);
    assert!(bad.json()["errorMessage"]
        .as_str()
        .unwrap()
        .contains("seconds"));
    let anonymous = request(
        Method::GET,
        &s.url("/api/runtime/execution-events"),
        &[],
        "",
    )
    .await;
    assert_eq!(anonymous.status, 401);
}
