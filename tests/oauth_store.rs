//! The OAuth provider store over real sockets: load (added, then updated), list (names
//! only), a refused document stores nothing, delete, token deletion, the ThingWorx service
//! names with their coded refusals, and restart with the parameters sealed on disk.

mod support;

use std::path::Path;

use http::Method;
use serde_json::{json, Value};
use support::pg::Backend;
use support::{basic, request, Answer, TestServer};

const USER: &str = "oauth-admin";
const PASSWORD: &str = "oauth-admin-password";
const TWX: &str = "/Thingworx/Subsystems/WorkflowSubsystem/Services/";

/// Values no answer, log or file may hold in clear.
const SECRETS: [&str; 4] = [
    "cid-7Hq2Lm9Xw4",
    "sec-Pz8Vn3Kd6Rt",
    "aud-Jb5Wc1Yf7Gs",
    "sec-Qm4Tx8Nh2Lv",
];

fn document() -> Value {
    json!({"erp": {
        "ERP": {"CLIENT_ID": SECRETS[0], "CLIENT_SECRET": SECRETS[1], "audience": SECRETS[2]},
        "ERP-Sandbox": {"CLIENT_ID": "cid-sandbox", "CLIENT_SECRET": SECRETS[3]}
    }})
}

async fn admin(server: &TestServer, method: Method, path: &str, body: Option<&Value>) -> Answer {
    let auth = basic(USER, PASSWORD);
    let mut headers = vec![("authorization", auth.as_str())];
    let bytes = match body {
        Some(b) => {
            headers.push(("content-type", "application/json"));
            serde_json::to_vec(b).unwrap()
        }
        None => Vec::new(),
    };
    request(method, &server.url(path), &headers, bytes).await
}

fn assert_no_secret(a: &Answer) {
    let text = String::from_utf8_lossy(&a.body);
    let heads = format!("{:?}", a.headers);
    for s in SECRETS {
        assert!(!text.contains(s), "answer holds {s}: {text}");
        assert!(!heads.contains(s), "headers hold {s}: {heads}");
    }
}

async fn start(data: &Path, backend: &Backend) -> TestServer {
    let ops = tempfile::tempdir().unwrap();
    TestServer::start_admin_config(ops.path(), data, USER, PASSWORD, |c| backend.configure(c)).await
}

async fn providers_load_as_added_then_updated_and_list_by_name_only(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let server = start(data.path(), &backend).await;

    let a = admin(
        &server,
        Method::POST,
        "/api/oauth/configurations",
        Some(&document()),
    )
    .await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    assert_no_secret(&a);
    let j = a.json();
    assert_eq!(
        j["providers"],
        json!([{"connector": "erp", "provider": "ERP", "status": "added"},
               {"connector": "erp", "provider": "ERP-Sandbox", "status": "added"}])
    );
    let message = j["message"].as_str().unwrap();
    assert!(message.contains("completed successfully"), "{message}");
    assert!(message.contains("erp/ERP added"), "{message}");

    let a = admin(
        &server,
        Method::POST,
        "/api/oauth/configurations",
        Some(&document()),
    )
    .await;
    assert_eq!(a.status, 200);
    assert_no_secret(&a);
    let j = a.json();
    let statuses: Vec<&str> = j["providers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["updated", "updated"]);

    // Loading another connector never deletes the first.
    let other = json!({"jira": {"JIRA": {"CLIENT_ID": "j", "CLIENT_SECRET": "k"}}});
    let a = admin(
        &server,
        Method::POST,
        "/api/oauth/configurations",
        Some(&other),
    )
    .await;
    assert_eq!(a.status, 200);

    let a = admin(&server, Method::GET, "/api/oauth/configurations", None).await;
    assert_eq!(a.status, 200);
    assert_no_secret(&a);
    assert_eq!(
        a.json(),
        json!({"total": 2, "data": [
            {"connector": "erp", "providers": ["ERP", "ERP-Sandbox"]},
            {"connector": "jira", "providers": ["JIRA"]}
        ]})
    );
    server.stop().await;
}

async fn an_invalid_document_is_refused_whole_with_every_problem(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let server = start(data.path(), &backend).await;
    let doc = json!({
        "erp": {"ERP": {"CLIENT_ID": SECRETS[0], "CLIENT_SECRET": SECRETS[1]}},
        "jira": {"JIRA": {"CLIENT_ID": SECRETS[2]}},
        "box": {"Box": {"CLIENT_ID": "x", "CLIENT_SECRET": 12}},
        "bad/name": {"P": {"CLIENT_ID": "x", "CLIENT_SECRET": "y"}}
    });
    let a = admin(
        &server,
        Method::POST,
        "/api/oauth/configurations",
        Some(&doc),
    )
    .await;
    assert_eq!(a.status, 400);
    assert_no_secret(&a);
    let msg = a.json()["errorMessage"].as_str().unwrap().to_owned();
    for want in [
        "nothing was stored",
        "jira/JIRA: CLIENT_SECRET is missing",
        "box/Box: CLIENT_SECRET must be a string, not a number",
        "connector name 'bad/name'",
    ] {
        assert!(msg.contains(want), "{want:?} not in {msg}");
    }
    let a = admin(&server, Method::GET, "/api/oauth/configurations", None).await;
    assert_eq!(
        a.json(),
        json!({"total": 0, "data": []}),
        "the valid provider was not kept"
    );

    for (body, ctype, status) in [
        (&b"{not json"[..], "application/json", 400),
        (&b"[1, 2]"[..], "application/json", 400),
        (&b""[..], "application/json", 400),
        (&b"{}"[..], "text/plain", 415),
    ] {
        let auth = basic(USER, PASSWORD);
        let a = request(
            Method::POST,
            &server.url("/api/oauth/configurations"),
            &[("authorization", &auth), ("content-type", ctype)],
            body.to_vec(),
        )
        .await;
        assert_eq!(a.status, status, "{}", String::from_utf8_lossy(&a.body));
        assert!(
            !a.json()["errorMessage"].as_str().unwrap().is_empty(),
            "a 4xx says what was wrong"
        );
    }
    let a = request(
        Method::GET,
        &server.url("/api/oauth/configurations"),
        &[],
        Vec::new(),
    )
    .await;
    assert_eq!(a.status, 401, "the store needs admin credentials");
    server.stop().await;
}

async fn providers_and_their_tokens_are_deleted_by_name(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let server = start(data.path(), &backend).await;
    let a = admin(
        &server,
        Method::POST,
        "/api/oauth/configurations",
        Some(&document()),
    )
    .await;
    assert_eq!(a.status, 200);

    let a = admin(&server, Method::DELETE, "/api/oauth/tokens/erp/ERP", None).await;
    assert_eq!(a.status, 204, "{}", String::from_utf8_lossy(&a.body));
    let a = admin(&server, Method::DELETE, "/api/oauth/tokens/erp/Nope", None).await;
    assert_eq!(a.status, 404);

    let a = admin(
        &server,
        Method::DELETE,
        "/api/oauth/configurations/erp/ERP",
        None,
    )
    .await;
    assert_eq!(a.status, 204, "{}", String::from_utf8_lossy(&a.body));
    let a = admin(
        &server,
        Method::DELETE,
        "/api/oauth/configurations/erp/ERP",
        None,
    )
    .await;
    assert_eq!(a.status, 404);
    assert!(a.json()["errorMessage"]
        .as_str()
        .unwrap()
        .contains("erp/ERP"));
    let a = admin(&server, Method::GET, "/api/oauth/configurations", None).await;
    assert_eq!(
        a.json()["data"],
        json!([{"connector": "erp", "providers": ["ERP-Sandbox"]}])
    );
    let a = admin(
        &server,
        Method::PUT,
        "/api/oauth/configurations",
        Some(&json!({})),
    )
    .await;
    assert_eq!(a.status, 405);
    assert_eq!(a.header("allow"), Some("GET, POST"));
    server.stop().await;
}

async fn thingworx_service_names_answer_messages(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let server = start(data.path(), &backend).await;

    // The JSON parameter as its text, as ThingWorx clients send it.
    let text = serde_json::to_string(&document()).unwrap();
    let a = admin(
        &server,
        Method::POST,
        &format!("{TWX}LoadOAuthConfiguration"),
        Some(&json!({"oauthConfigurations": text})),
    )
    .await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    assert_no_secret(&a);
    let m = a.json()["message"].as_str().unwrap().to_owned();
    assert!(
        m.starts_with("LoadOAuthConfiguration completed successfully"),
        "{m}"
    );

    let a = admin(
        &server,
        Method::POST,
        &format!("{TWX}GetOAuthConfiguration"),
        Some(&json!({})),
    )
    .await;
    assert_eq!(a.status, 200);
    assert_no_secret(&a);
    assert_eq!(
        a.json(),
        json!({"message": "GetOAuthConfiguration completed successfully",
               "result": {"erp": ["ERP", "ERP-Sandbox"]}})
    );

    let a = admin(
        &server,
        Method::POST,
        &format!("{TWX}DeleteOAuthAccessTokens"),
        Some(&json!({"oauthProvider": "ERP"})),
    )
    .await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));

    let a = admin(
        &server,
        Method::POST,
        &format!("{TWX}DeleteOAuthConfiguration"),
        Some(&json!({"connectorConfigName": "erp", "oauthProvider": "ERP-Sandbox"})),
    )
    .await;
    assert_eq!(
        a.json(),
        json!({"message": "DeleteOAuthConfiguration completed successfully"})
    );
    let a = admin(
        &server,
        Method::POST,
        &format!("{TWX}DeleteOAuthConfiguration"),
        Some(&json!({"connectorConfigName": "erp"})),
    )
    .await;
    assert_eq!(a.status, 400);
    assert!(a.json()["message"]
        .as_str()
        .unwrap()
        .contains("oauthProvider"));

    let a = admin(
        &server,
        Method::POST,
        &format!("{TWX}TestConnection"),
        Some(&json!({})),
    )
    .await;
    assert_eq!(
        a.json(),
        json!({"message": "TestConnection completed successfully"})
    );
    // The keystore taken away: the coded failure, in the seed's words.
    let keystore = data.path().join("keystore.key");
    let kept = std::fs::read(&keystore).unwrap();
    std::fs::remove_file(&keystore).unwrap();
    let a = admin(
        &server,
        Method::POST,
        &format!("{TWX}TestConnection"),
        Some(&json!({})),
    )
    .await;
    assert_eq!(a.status, 200);
    let m = a.json()["message"].as_str().unwrap().to_owned();
    assert_eq!(
        m,
        "[FLOW-KEY-03] Failed to get ThingWorx Flow keys from the ThingWorx KeyStore."
    );
    std::fs::write(&keystore, kept).unwrap();

    let a = admin(
        &server,
        Method::POST,
        &format!("{TWX}NoSuchService"),
        Some(&json!({})),
    )
    .await;
    assert_eq!(a.status, 404);
    assert!(a.json()["message"]
        .as_str()
        .unwrap()
        .contains("LoadOAuthConfiguration"));
    let a = admin(
        &server,
        Method::GET,
        &format!("{TWX}GetOAuthConfiguration"),
        None,
    )
    .await;
    assert_eq!(a.status, 405);
    assert_eq!(a.header("allow"), Some("POST"));

    // Without credentials: 401, coded; a user without the admin privilege: 403, coded.
    let a = request(
        Method::POST,
        &server.url(&format!("{TWX}GetOAuthConfiguration")),
        &[("content-type", "application/json")],
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(a.status, 401);
    assert!(a.header("www-authenticate").unwrap().starts_with("Basic"));
    assert!(a.json()["message"]
        .as_str()
        .unwrap()
        .starts_with("[FLOW-AUTH-01]"));
    let a = admin(
        &server,
        Method::POST,
        "/api/identity/users",
        Some(&json!({"id": "flow-user", "password": "flow-user-password", "privileges": ["flow-service"]})),
    )
    .await;
    assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
    let auth = basic("flow-user", "flow-user-password");
    let a = request(
        Method::POST,
        &server.url(&format!("{TWX}GetOAuthConfiguration")),
        &[
            ("content-type", "application/json"),
            ("authorization", &auth),
        ],
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(a.status, 403);
    let m = a.json()["message"].as_str().unwrap().to_owned();
    assert!(m.starts_with("[FLOW-AUTH-02]"), "{m}");
    assert!(m.contains("access-rest-api"), "{m}");
    server.stop().await;
}

async fn providers_survive_a_restart_and_are_sealed_on_disk(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let server = start(data.path(), &backend).await;
    let a = admin(
        &server,
        Method::POST,
        "/api/oauth/configurations",
        Some(&document()),
    )
    .await;
    assert_eq!(a.status, 200);
    server.stop().await;

    let mut files = 0;
    for entry in walk(data.path()) {
        let bytes = std::fs::read(&entry).unwrap();
        files += 1;
        for s in SECRETS {
            assert!(
                !bytes.windows(s.len()).any(|w| w == s.as_bytes()),
                "{} holds {s} in clear",
                entry.display()
            );
        }
    }
    match &backend {
        Backend::Sqlite => assert!(files >= 2, "the registry and the keystore are on disk"),
        Backend::Postgres(schema) => {
            assert!(files >= 1, "the keystore is on disk");
            let rows = support::pg::registry_rows(schema).await;
            assert!(
                rows.contains("registry_oauth_providers: (erp,ERP,"),
                "{rows}"
            );
            for s in SECRETS {
                assert!(!rows.contains(s), "the registry holds {s} in clear: {rows}");
            }
        }
    }

    let server = start(data.path(), &backend).await;
    let a = admin(&server, Method::GET, "/api/oauth/configurations", None).await;
    assert_eq!(
        a.json()["data"],
        json!([{"connector": "erp", "providers": ["ERP", "ERP-Sandbox"]}])
    );
    // Loading again after the restart updates what the restart read back.
    let a = admin(
        &server,
        Method::POST,
        "/api/oauth/configurations",
        Some(&document()),
    )
    .await;
    assert_eq!(a.json()["providers"][0]["status"], "updated");
    server.stop().await;
}

/// Every regular file under `dir`.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

crate::both_backends!(
    providers_load_as_added_then_updated_and_list_by_name_only,
    an_invalid_document_is_refused_whole_with_every_problem,
    providers_and_their_tokens_are_deleted_by_name,
    thingworx_service_names_answer_messages,
    providers_survive_a_restart_and_are_sealed_on_disk,
);
