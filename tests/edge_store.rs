//! The table store at the edge, over real sockets: Password properties (never filtered,
//! encrypted on disk, answered only when the definition says so), NUL in substring
//! filters, property names that collide with the store's own columns or SQL keywords, and
//! the limits of a load filter and of a file-list search.

mod support;

use std::path::Path;

use fss::definition::{load_dir, parse_definition, validate_set, LoadedDefinition};
use fss::server::ServerConfig;
use fss::{Runtime, RuntimeConfig};
use http::Method;
use serde_json::{json, Value};
use support::{fixture, post_json, send_json, Answer, TestServer};

// === helpers ===

async fn edge() -> TestServer {
    TestServer::start(&fixture("edge_store")).await
}

/// A server on `data` serving the fixture folder `case`.
async fn on_data(case: &str, data: &Path) -> TestServer {
    let data = data.to_path_buf();
    TestServer::start_config(
        &fixture(case),
        move |c| c.data_dir = data,
        |_| {},
        ServerConfig::default(),
    )
    .await
}

fn odt(type_name: &str) -> Value {
    json!({ "developerName": type_name, "properties": [] })
}

/// An object of `type_name`: `(property, contentType, value)` triples.
fn object(type_name: &str, props: &[(&str, &str, Option<&str>)]) -> Value {
    let properties: Vec<Value> = props
        .iter()
        .map(|(n, t, v)| json!({ "developerName": n, "contentType": t, "contentValue": v }))
        .collect();
    json!({ "externalId": null, "developerName": type_name, "properties": properties })
}

fn account(id: &str, login: &str, secret: &str) -> Value {
    object(
        "Account",
        &[
            ("Id", "ContentString", Some(id)),
            ("Login", "ContentString", Some(login)),
            ("Secret", "ContentPassword", Some(secret)),
        ],
    )
}

async fn save(s: &TestServer, service: &str, type_name: &str, objects: Vec<Value>) -> Answer {
    send_json(
        Method::PUT,
        &s.url(&format!("/fs/{service}/data")),
        &json!({ "objectDataType": odt(type_name), "objectData": objects }),
    )
    .await
}

async fn load(s: &TestServer, service: &str, type_name: &str, filter: Value) -> Answer {
    post_json(
        &s.url(&format!("/fs/{service}/data")),
        &json!({ "objectDataType": odt(type_name), "listFilter": filter }),
    )
    .await
}

fn body(a: &Answer) -> String {
    String::from_utf8_lossy(&a.body).into_owned()
}

fn external_ids(a: &Answer) -> Vec<String> {
    assert_eq!(a.status, 200, "{}", body(a));
    a.json()["objectData"]
        .as_array()
        .expect("objectData is a list")
        .iter()
        .map(|o| o["externalId"].as_str().expect("externalId").to_owned())
        .collect()
}

/// The contentValue of property `name` of `o`.
fn prop<'a>(o: &'a Value, name: &str) -> &'a Value {
    o["properties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["developerName"] == name)
        .map(|p| &p["contentValue"])
        .unwrap_or_else(|| panic!("no property {name} in {o}"))
}

fn where_(column: &str, criteria: &str, value: Option<&str>) -> Value {
    json!({ "columnName": column, "criteriaType": criteria, "contentValue": value })
}

/// Whether `needle` occurs in `hay`.
fn holds(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Every byte of the tables database as it is on disk (main file, WAL, shared memory).
fn tables_bytes(data: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for f in ["tables.db", "tables.db-wal", "tables.db-shm"] {
        if let Ok(b) = std::fs::read(data.join(f)) {
            all.extend(b);
        }
    }
    assert!(!all.is_empty(), "tables.db exists");
    all
}

fn definitions(name: &str, json: &str) -> Vec<LoadedDefinition> {
    vec![LoadedDefinition {
        definition: parse_definition(name, json.as_bytes()).unwrap(),
        source: name.into(),
        base_dir: ".".into(),
    }]
}

// === item 6: Password properties ===

#[tokio::test]
async fn password_properties_cannot_be_filtered_searched_or_ordered() {
    let s = edge().await;
    let a = save(
        &s,
        "Edge",
        "Account",
        vec![account("acc-1", "ada", "s3cr3t-pw")],
    )
    .await;
    assert_eq!(a.status, 200, "{}", body(&a));
    for (criteria, value) in [
        ("STARTS_WITH", "s"),
        ("EQUAL", "s3cr3t-pw"),
        ("CONTAINS", "3cr"),
        ("ENDS_WITH", "pw"),
        ("NOT_EQUAL", "x"),
        ("GREATER_THAN", "r"),
        ("LESS_THAN_OR_EQUAL", "t"),
        ("IS_EMPTY", "false"),
        ("ANY_EQUAL", "s3cr3t-pw"),
    ] {
        let a = load(
            &s,
            "Edge",
            "Account",
            json!({ "where": [where_("Secret", criteria, Some(value))] }),
        )
        .await;
        let m = a.problem(400);
        assert!(
            m.contains("Secret") && m.contains("Password"),
            "{criteria}: {m}"
        );
    }
    // Nested groups, OR groups, search restricted to it, and ordering by it.
    for filter in [
        json!({ "comparisonType": "OR", "where": [where_("Login", "EQUAL", Some("x"))],
                "listFilters": [{ "where": [where_("Secret", "STARTS_WITH", Some("s"))] }] }),
        json!({ "search": "s3cr", "searchCriteria": [{ "columnName": "Secret" }] }),
        json!({ "orderBy": [{ "columnName": "Secret", "direction": "ASC" }] }),
        json!({ "orderByPropertyDeveloperName": "Secret" }),
    ] {
        let a = load(&s, "Edge", "Account", filter.clone()).await;
        assert!(a.problem(400).contains("Secret"), "{filter}");
    }
    // A search over every string property does not look at it.
    let a = load(&s, "Edge", "Account", json!({ "search": "s3cr3t" })).await;
    assert!(external_ids(&a).is_empty());
    let a = load(&s, "Edge", "Account", json!({ "search": "ada" })).await;
    assert_eq!(external_ids(&a), ["acc-1"]);
    s.stop().await;
}

#[tokio::test]
async fn password_values_are_encrypted_on_disk_and_never_answered() {
    let dir = tempfile::tempdir().unwrap();
    let s = on_data("edge_store", dir.path()).await;
    let marker = "pw-marker-7f3a9c2e";
    let a = save(&s, "Edge", "Account", vec![account("acc-1", "ada", marker)]).await;
    assert_eq!(a.status, 200, "{}", body(&a));
    assert_eq!(prop(&a.json()["objectData"][0], "Secret"), &Value::Null);
    let a = load(&s, "Edge", "Account", json!({})).await;
    assert_eq!(external_ids(&a), ["acc-1"]);
    assert_eq!(prop(&a.json()["objectData"][0], "Secret"), &Value::Null);
    assert!(!holds(&a.body, marker.as_bytes()), "{}", body(&a));
    let data = dir.path();
    s.stop().await;
    let bytes = tables_bytes(data);
    assert!(holds(&bytes, b"ada"), "the row itself is on disk");
    assert!(
        !holds(&bytes, marker.as_bytes()),
        "the Password value is stored in clear in tables.db"
    );
    // The key: the keystore's exchange-admin-key, in a file readable by the owner only.
    let key = data.join("keystore.key");
    let meta = std::fs::metadata(&key).expect("the keystore exists in the data folder");
    let doc: Value = serde_json::from_slice(&std::fs::read(&key).unwrap()).unwrap();
    assert!(doc["aliases"]["exchange-admin-key"].is_string(), "{doc}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    }
}

#[tokio::test]
async fn a_revealed_password_is_answered_decrypted_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let s = on_data("edge_store_reveal", dir.path()).await;
    let vault = |id: &str, secret: Option<&str>| {
        object(
            "Vault",
            &[
                ("Id", "ContentString", Some(id)),
                ("Secret", "ContentPassword", secret),
            ],
        )
    };
    let a = save(
        &s,
        "Reveal",
        "Vault",
        vec![vault("v1", Some("open sesame"))],
    )
    .await;
    assert_eq!(a.status, 200, "{}", body(&a));
    assert_eq!(prop(&a.json()["objectData"][0], "Secret"), "open sesame");
    // Saving it back without a value keeps the stored one.
    let a = save(&s, "Reveal", "Vault", vec![vault("v1", None)]).await;
    assert_eq!(a.status, 200, "{}", body(&a));
    let a = load(&s, "Reveal", "Vault", json!({ "id": "v1" })).await;
    assert_eq!(prop(&a.json()["objectData"][0], "Secret"), "open sesame");
    s.stop().await;
    assert!(!holds(&tables_bytes(dir.path()), b"open sesame"));

    let s = on_data("edge_store_reveal", dir.path()).await;
    let a = load(&s, "Reveal", "Vault", json!({})).await;
    assert_eq!(external_ids(&a), ["v1"]);
    assert_eq!(prop(&a.json()["objectData"][0], "Secret"), "open sesame");
    // Even a revealed Password cannot be filtered.
    let a = load(
        &s,
        "Reveal",
        "Vault",
        json!({ "where": [where_("Secret", "EQUAL", Some("open sesame"))] }),
    )
    .await;
    assert!(a.problem(400).contains("Secret"));
    s.stop().await;
}

#[test]
fn return_on_load_is_only_for_password_properties() {
    let json = r#"{"name":"R","types":[{"name":"T","properties":[
        {"name":"Id"},{"name":"Plain","type":"String","returnOnLoad":true},
        {"name":"Hidden","type":"Password","returnOnLoad":false}]}]}"#;
    let problems = validate_set(&definitions("R.json", json)).to_string();
    assert!(
        problems.contains("types[0].properties[1].returnOnLoad") && problems.contains("Password"),
        "{problems}"
    );
    assert!(!problems.contains("properties[2]"), "{problems}");
}

/// The definitions of the fixture folder `case`.
fn fixture_defs(case: &str) -> Vec<LoadedDefinition> {
    load_dir(&fixture(case)).unwrap_or_else(|p| panic!("fixture invalid:\n{p}"))
}

#[tokio::test]
async fn a_keystore_of_the_wrong_size_or_mode_is_refused_clearly() {
    let data = tempfile::tempdir().unwrap();
    let key = data.path().join("keystore.key");
    std::fs::write(&key, [7u8; 16]).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let runtime = Runtime::new(RuntimeConfig {
        data_dir: data.path().to_path_buf(),
        ..RuntimeConfig::default()
    });
    let problems = runtime
        .mount(fixture_defs("edge_store"))
        .unwrap_err()
        .to_string();
    assert!(
        problems.contains("keystore") && problems.contains("16 bytes") && problems.contains("32"),
        "{problems}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let data = tempfile::tempdir().unwrap();
        let key = data.path().join("keystore.key");
        std::fs::write(&key, [7u8; 32]).unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let runtime = Runtime::new(RuntimeConfig {
            data_dir: data.path().to_path_buf(),
            ..RuntimeConfig::default()
        });
        let problems = runtime
            .mount(fixture_defs("edge_store"))
            .unwrap_err()
            .to_string();
        assert!(
            problems.contains("keystore") && problems.contains("0644") && problems.contains("0600"),
            "{problems}"
        );
        // The key is not replaced behind the operator's back.
        assert_eq!(std::fs::read(&key).unwrap(), [7u8; 32]);
    }
}

// === item 9: NUL in substring filters ===

#[tokio::test]
async fn a_nul_in_a_substring_filter_is_refused() {
    let s = edge().await;
    let a = save(
        &s,
        "Edge",
        "Account",
        vec![account("a1", "ada", "x"), account("a2", "grace", "y")],
    )
    .await;
    assert_eq!(a.status, 200, "{}", body(&a));
    for criteria in ["CONTAINS", "STARTS_WITH", "ENDS_WITH"] {
        for value in ["a\u{0}zzz", "\u{0}", "zz\u{0}"] {
            let a = load(
                &s,
                "Edge",
                "Account",
                json!({ "where": [where_("Login", criteria, Some(value))] }),
            )
            .await;
            let m = a.problem(400);
            assert!(
                m.contains("NUL") && m.contains("Login"),
                "{criteria} {value:?}: {m}"
            );
        }
    }
    let a = load(&s, "Edge", "Account", json!({ "search": "ad\u{0}xyz" })).await;
    assert!(a.problem(400).contains("NUL"));
    // EQUAL compares whole values: a NUL there is just a character that matches nothing.
    let a = load(
        &s,
        "Edge",
        "Account",
        json!({ "where": [where_("Login", "EQUAL", Some("ada\u{0}"))] }),
    )
    .await;
    assert!(external_ids(&a).is_empty());
    // ... and finds a stored value holding one, as ANY_EQUAL does.
    let a = save(
        &s,
        "Edge",
        "Account",
        vec![account("a3", "nul\u{0}in", "z")],
    )
    .await;
    assert_eq!(a.status, 200, "{}", body(&a));
    for filter in [
        json!({ "where": [where_("Login", "EQUAL", Some("nul\u{0}in"))] }),
        json!({ "where": [{ "columnName": "Login", "criteriaType": "ANY_EQUAL",
                            "objectData": [{ "properties": [
                                { "developerName": "Login", "contentValue": "nul\u{0}in" }] }] }] }),
        json!({ "where": [where_("Login", "GREATER_THAN", Some("nul"))] }),
    ] {
        let a = load(&s, "Edge", "Account", filter.clone()).await;
        assert_eq!(external_ids(&a), ["a3"], "{filter}");
    }
    s.stop().await;
}

// === item 10: property names ===

/// Every property of the `Odd` type of the `edge_store_names` fixture, with a value.
fn odd_row(key: &str, n: i64) -> Vec<(String, &'static str, String)> {
    vec![
        ("Key".into(), "ContentString", key.to_owned()),
        ("rowid".into(), "ContentString", format!("rowid text {n}")),
        ("_ROWID_".into(), "ContentNumber", format!("{}", 10 - n)),
        (
            "Oid".into(),
            "ContentDateTime",
            format!("2026-01-0{}T00:00:00Z", n + 1),
        ),
        ("$externalId".into(), "ContentString", format!("ext {n}")),
        ("$p:rowid".into(), "ContentString", format!("escaped {n}")),
        ("select".into(), "ContentString", format!("select {n}")),
        ("order".into(), "ContentNumber", format!("{n}")),
        ("group".into(), "ContentBoolean", (n % 2 == 0).to_string()),
        ("where".into(), "ContentString", format!("where {n}")),
        ("from".into(), "ContentString", format!("from {n}")),
        ("say \"hi\"".into(), "ContentString", format!("quoted {n}")),
        ("with space".into(), "ContentString", format!("spaced {n}")),
        ("ünïcödé 名前".into(), "ContentString", format!("名前 {n}")),
        ("nul\u{0}name".into(), "ContentString", format!("nul {n}")),
        ("it's".into(), "ContentString", format!("apostrophe {n}")),
        ("a]b[c`d".into(), "ContentString", format!("brackets {n}")),
    ]
}

fn odd_object(key: &str, n: i64) -> Value {
    let props: Vec<Value> = odd_row(key, n)
        .into_iter()
        .map(|(p, t, v)| json!({ "developerName": p, "contentType": t, "contentValue": v }))
        .collect();
    json!({ "externalId": null, "developerName": "Odd", "properties": props })
}

#[tokio::test]
async fn property_names_that_collide_with_the_store_or_sql_work() {
    let dir = tempfile::tempdir().unwrap();
    let s = on_data("edge_store_names", dir.path()).await;
    let a = save(
        &s,
        "Names",
        "Odd",
        vec![
            odd_object("k0", 0),
            odd_object("k1", 1),
            odd_object("k2", 2),
        ],
    )
    .await;
    assert_eq!(a.status, 200, "{}", body(&a));
    let saved = a.json();
    for (i, o) in saved["objectData"].as_array().unwrap().iter().enumerate() {
        assert_eq!(o["externalId"], format!("k{i}"));
        for (p, _, v) in odd_row(&format!("k{i}"), i as i64) {
            let want = if p == "Oid" {
                format!("2026-01-0{}T00:00:00Z", i + 1)
            } else {
                v
            };
            assert_eq!(prop(o, &p), &Value::String(want), "{p}");
        }
    }
    // An update of every column keeps the row (and the text index) in step.
    let a = save(&s, "Names", "Odd", vec![odd_object("k1", 5)]).await;
    assert_eq!(a.status, 200, "{}", body(&a));
    let all = load(&s, "Names", "Odd", json!({})).await;
    assert_eq!(external_ids(&all), ["k0", "k1", "k2"], "insertion order");
    // Every name can be filtered (through the text index too), ordered and searched by.
    for (p, _, v) in odd_row("k1", 5) {
        let a = load(
            &s,
            "Names",
            "Odd",
            json!({ "where": [where_(&p, "EQUAL", Some(&v))] }),
        )
        .await;
        assert_eq!(external_ids(&a), ["k1"], "EQUAL on {p:?}");
    }
    for (p, text) in [
        ("rowid", "text 5"),
        ("$externalId", "ext 5"),
        ("$p:rowid", "escaped 5"),
        ("select", "lect 5"),
        ("say \"hi\"", "uoted 5"),
        ("with space", "paced 5"),
        ("ünïcödé 名前", "名前 5"),
        ("nul\u{0}name", "nul 5"),
        ("it's", "strophe 5"),
        ("a]b[c`d", "ckets 5"),
    ] {
        let a = load(
            &s,
            "Names",
            "Odd",
            json!({ "where": [where_(p, "CONTAINS", Some(text))] }),
        )
        .await;
        assert_eq!(external_ids(&a), ["k1"], "CONTAINS on {p:?}");
        let a = load(
            &s,
            "Names",
            "Odd",
            json!({ "search": text, "searchCriteria": [{ "columnName": p }] }),
        )
        .await;
        assert_eq!(external_ids(&a), ["k1"], "search on {p:?}");
    }
    let a = load(&s, "Names", "Odd", json!({ "search": "apostrophe 5" })).await;
    assert_eq!(external_ids(&a), ["k1"]);
    let a = load(
        &s,
        "Names",
        "Odd",
        json!({ "orderBy": [{ "columnName": "_ROWID_", "direction": "ASC" }] }),
    )
    .await;
    assert_eq!(external_ids(&a), ["k1", "k2", "k0"], "10 - n: 5, 8, 10");
    let a = load(
        &s,
        "Names",
        "Odd",
        json!({ "orderBy": [{ "columnName": "rowid", "direction": "DESC" }], "limit": 2 }),
    )
    .await;
    assert_eq!(external_ids(&a), ["k1", "k2"]);
    let a = load(
        &s,
        "Names",
        "Odd",
        json!({ "orderByPropertyDeveloperName": "Oid", "orderByDirectionType": "DESC" }),
    )
    .await;
    assert_eq!(external_ids(&a), ["k1", "k2", "k0"]);
    // Delete, then a restart reads the same table.
    let a = post_json(
        &s.url("/fs/Names/data/delete"),
        &json!({ "objectDataType": odt("Odd"), "objectData": [{ "externalId": "k0" }] }),
    )
    .await;
    assert_eq!(a.status, 200, "{}", body(&a));
    s.stop().await;
    let s = on_data("edge_store_names", dir.path()).await;
    let a = load(
        &s,
        "Names",
        "Odd",
        json!({ "where": [where_("rowid", "STARTS_WITH", Some("rowid text"))] }),
    )
    .await;
    assert_eq!(external_ids(&a), ["k1", "k2"]);
    s.stop().await;
}

// === item 8: limits of a load filter and of a file-list search ===

#[tokio::test]
async fn oversized_filters_are_400_naming_the_limit() {
    let s = edge().await;
    let a = save(&s, "Edge", "Account", vec![account("a1", "ada", "x")]).await;
    assert_eq!(a.status, 200, "{}", body(&a));
    let many = |n: usize| -> Vec<Value> {
        (0..n)
            .map(|i| where_("Login", "NOT_EQUAL", Some(&format!("v{i}"))))
            .collect()
    };
    // At the limit: answered.
    let a = load(&s, "Edge", "Account", json!({ "where": many(100) })).await;
    assert_eq!(external_ids(&a), ["a1"]);
    for n in [101, 1001, 5000] {
        let a = load(&s, "Edge", "Account", json!({ "where": many(n) })).await;
        let m = a.problem(400);
        assert!(m.contains("100") && m.contains("where"), "{n}: {m}");
    }
    // Counted across nested groups too.
    let nested: Vec<Value> = (0..30).map(|_| json!({ "where": many(5) })).collect();
    let a = load(&s, "Edge", "Account", json!({ "listFilters": nested })).await;
    assert!(a.problem(400).contains("100"));
    // Values of one ANY_EQUAL / ALL_EQUAL entry.
    let objects: Vec<Value> = (0..2000)
        .map(|i| json!({ "externalId": format!("id{i}") }))
        .collect();
    for criteria in ["ANY_EQUAL", "ALL_EQUAL"] {
        let a = load(
            &s,
            "Edge",
            "Account",
            json!({ "where": [{ "columnName": "Login", "criteriaType": criteria, "objectData": objects }] }),
        )
        .await;
        let m = a.problem(400);
        assert!(m.contains("1000") && m.contains(criteria), "{m}");
    }
    // orderBy: too many keys, a column name too long.
    let keys: Vec<Value> = (0..3000)
        .map(|_| json!({ "columnName": "Login", "direction": "ASC" }))
        .collect();
    let a = load(&s, "Edge", "Account", json!({ "orderBy": keys })).await;
    let m = a.problem(400);
    assert!(m.contains("orderBy") && m.contains("32"), "{m}");
    let long = "L".repeat(100_000);
    let a = load(
        &s,
        "Edge",
        "Account",
        json!({ "orderBy": [{ "columnName": long, "direction": "ASC" }] }),
    )
    .await;
    let m = a.problem(400);
    assert!(m.contains("255") && m.len() < 1000, "{m}");
    // Search and substring values over 1 024 characters.
    let text = "a".repeat(50_001);
    let a = load(&s, "Edge", "Account", json!({ "search": text })).await;
    let m = a.problem(400);
    assert!(
        m.contains("search") && m.contains("1024") && m.len() < 1000,
        "{m}"
    );
    let a = load(
        &s,
        "Edge",
        "Account",
        json!({ "where": [where_("Login", "CONTAINS", Some(&text))] }),
    )
    .await;
    let m = a.problem(400);
    assert!(
        m.contains("CONTAINS") && m.contains("1024") && m.len() < 1000,
        "{m}"
    );
    let a = load(&s, "Edge", "Account", json!({ "search": "a".repeat(1024) })).await;
    assert!(external_ids(&a).is_empty());
    s.stop().await;
}

#[tokio::test]
async fn reloading_many_provided_objects_is_answered() {
    let s = edge().await;
    let a = save(
        &s,
        "Edge",
        "Account",
        vec![account("a1", "ada", "x"), account("a2", "grace", "y")],
    )
    .await;
    assert_eq!(a.status, 200, "{}", body(&a));
    let mut objects: Vec<Value> = (0..40_000)
        .map(|i| json!({ "externalId": format!("missing-{i}") }))
        .collect();
    objects.push(json!({ "externalId": "a2" }));
    let a = post_json(
        &s.url("/fs/Edge/data"),
        &json!({ "objectDataType": odt("Account"), "objectData": objects,
                 "listFilter": { "filterByProvidedObjects": true } }),
    )
    .await;
    assert_eq!(external_ids(&a), ["a2"]);
    s.stop().await;
}

#[tokio::test]
async fn a_file_list_search_over_the_limit_is_400() {
    let s = edge().await;
    let url = s.url("/fs/Edge/file");
    let list = |search: String| {
        let url = url.clone();
        async move {
            post_json(
                &url,
                &json!({ "resourcePath": "/file", "listFilter": { "search": search } }),
            )
            .await
        }
    };
    let a = list("x".repeat(50_001)).await;
    let m = a.problem(400);
    assert!(
        m.contains("search") && m.contains("1024") && m.len() < 1000,
        "{m}"
    );
    let a = list("x".repeat(1025)).await;
    assert!(a.problem(400).contains("1024"));
    let a = list("x\u{0}y".into()).await;
    assert!(a.problem(400).contains("NUL"));
    let a = list("x".repeat(1024)).await;
    assert_eq!(a.status, 200, "{}", body(&a));
    s.stop().await;
}
