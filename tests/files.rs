//! Files over real sockets: upload (multipart in any part order and spelling, raw
//! octet-stream), names and types, limits, aborted uploads, concurrency, list, download,
//! delete, command processes, and flat memory for a large upload.

mod support;

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use fss::server::ServerConfig;
use futures_util::StreamExt as _;
use http::{Method, Request};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use support::pg::Backend;
use support::{fixture, get, post_json, request, Answer, TestServer};
use tokio::io::AsyncWriteExt;

/// The large-upload test measures this process's memory: it runs alone (write lock) while
/// the other tests of this file share the read lock.
static GATE: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

const BOUNDARY: &str = "fss-test-boundary-7c1d";

// === helpers ===

/// The server of the `files` fixture on `backend`.
async fn start(backend: &Backend) -> TestServer {
    TestServer::start_config(
        &fixture("files"),
        |c| backend.configure(c),
        |_| {},
        ServerConfig::default(),
    )
    .await
}

/// One multipart part: its whole Content-Disposition value, optional type, and body.
struct Part {
    disposition: Vec<u8>,
    content_type: Option<String>,
    body: Vec<u8>,
}

fn json_part(name: &str, request: &Value) -> Part {
    Part {
        disposition: format!("form-data; name=\"{name}\"").into_bytes(),
        content_type: Some("application/json".into()),
        body: serde_json::to_vec(request).unwrap(),
    }
}

fn file_part(name: &str, filename: &str, content_type: Option<&str>, body: &[u8]) -> Part {
    Part {
        disposition: format!("form-data; name=\"{name}\"; filename=\"{filename}\"").into_bytes(),
        content_type: content_type.map(str::to_owned),
        body: body.to_vec(),
    }
}

fn part_head(p: &Part) -> Vec<u8> {
    let mut out = format!("--{BOUNDARY}\r\nContent-Disposition: ").into_bytes();
    out.extend_from_slice(&p.disposition);
    out.extend_from_slice(b"\r\n");
    if let Some(t) = &p.content_type {
        out.extend_from_slice(format!("Content-Type: {t}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out
}

fn multipart_body(parts: &[Part]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in parts {
        out.extend_from_slice(&part_head(p));
        out.extend_from_slice(&p.body);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    out
}

fn multipart_type() -> String {
    format!("multipart/form-data; boundary={BOUNDARY}")
}

async fn upload(server: &TestServer, service: &str, parts: &[Part]) -> Answer {
    request(
        Method::POST,
        &server.url(&format!("/fs/{service}/file/content")),
        &[("content-type", &multipart_type())],
        multipart_body(parts),
    )
    .await
}

/// The properties of the one `$File` of a 200 answer.
fn only_file(a: &Answer) -> HashMap<String, String> {
    assert_eq!(a.status, 200, "body: {}", String::from_utf8_lossy(&a.body));
    let v = a.json();
    let objs = v["objectData"].as_array().expect("objectData is an array");
    assert_eq!(objs.len(), 1, "one $File: {v}");
    let p = props(&objs[0]);
    assert_eq!(objs[0]["developerName"], "$File");
    assert_eq!(objs[0]["externalId"].as_str(), Some(p["Id"].as_str()));
    p
}

fn props(obj: &Value) -> HashMap<String, String> {
    obj["properties"]
        .as_array()
        .expect("properties")
        .iter()
        .map(|p| {
            (
                p["developerName"].as_str().unwrap().to_owned(),
                p["contentValue"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

async fn list(server: &TestServer, service: &str, request: Value) -> Answer {
    post_json(&server.url(&format!("/fs/{service}/file")), &request).await
}

/// The names of a 200 list answer, in order, and its `hasMoreResults`.
fn names(a: &Answer) -> (Vec<String>, bool) {
    assert_eq!(a.status, 200, "body: {}", String::from_utf8_lossy(&a.body));
    let v = a.json();
    let names = v["objectData"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| props(o)["Name"].clone())
        .collect();
    (names, v["hasMoreResults"].as_bool().unwrap())
}

/// Deterministic pseudo-random bytes (xorshift), different per seed.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

fn sha256(b: &[u8]) -> String {
    format!("{:x}", Sha256::digest(b))
}

/// Every regular file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// The stored files of service `Files` (bytes only, not the index).
fn stored_files(server: &TestServer) -> Vec<PathBuf> {
    files_under(&server.data.path().join("files"))
}

/// How many trigram indexes of file names the schema of `url` has.
async fn trigram_indexes(url: &str) -> i64 {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("the test database answers");
    tokio::spawn(conn);
    client
        .query_one(
            "SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() \
             AND tablename = 'file' AND indexdef LIKE '%gin_trgm_ops%'",
            &[],
        )
        .await
        .expect("pg_indexes answers")
        .get(0)
}

/// Waits (bounded) until `cond` holds.
async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..500 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("still not true after 10 s: {what}");
}

// === upload ===

async fn upload_accepts_every_part_spelling_in_both_orders(backend: Backend) {
    let _g = GATE.read().await;
    let server = start(&backend).await;
    let req = json!({"resourcePath": "", "listFilter": null});
    let mut n = 0;
    for (req_name, req_type) in [
        ("FileDataRequest", Some("application/json")),
        ("filedatarequest", None),
        ("request", Some("application/json; charset=utf-8")),
    ] {
        for file_name in ["FileData", "fileContent", "file"] {
            for json_first in [true, false] {
                n += 1;
                let bytes = noise(n, 1000 + n as usize);
                let mut rp = json_part(req_name, &req);
                rp.content_type = req_type.map(str::to_owned);
                let fp = file_part(file_name, &format!("f{n}.txt"), Some("text/plain"), &bytes);
                let parts = if json_first { [rp, fp] } else { [fp, rp] };
                let a = upload(&server, "Files", &parts).await;
                let p = only_file(&a);
                assert_eq!(p["Name"], format!("f{n}.txt"), "{req_name}/{file_name}");
                assert_eq!(p["Mime Type"], "text/plain");
                assert!(a.header("x-execution-id").is_some());
                let got = get(&p["Download Uri"]).await;
                assert_eq!(got.status, 200);
                assert_eq!(
                    &got.body[..],
                    &bytes[..],
                    "{req_name}/{file_name}/{json_first}"
                );
            }
        }
    }
    let (all, more) = names(&list(&server, "Files", json!({"resourcePath": ""})).await);
    assert_eq!(all.len(), n as usize);
    assert!(!more);
    // Nothing but the stored files is left on disk: no temp file of any order.
    assert_eq!(stored_files(&server).len(), n as usize);
    server.stop().await;
}

async fn upload_also_answers_on_files_content_and_skips_extra_parts(backend: Backend) {
    let _g = GATE.read().await;
    let server = start(&backend).await;
    let extra = Part {
        disposition: b"form-data; name=\"comment\"".to_vec(),
        content_type: None,
        body: b"ignored".to_vec(),
    };
    let parts = [
        json_part("FileDataRequest", &json!({})),
        file_part("FileData", "one.csv", None, b"a,b\n1,2\n"),
        extra,
        file_part("FileData", "two.csv", None, b"second file is not read"),
    ];
    let a = request(
        Method::POST,
        &server.url("/fs/Files/files/content"),
        &[("content-type", &multipart_type())],
        multipart_body(&parts),
    )
    .await;
    let p = only_file(&a);
    assert_eq!(p["Name"], "one.csv");
    assert_eq!(p["Mime Type"], "text/csv");
    assert_eq!(p["Kind"], "File");
    for k in ["Date Created", "Date Modified"] {
        assert!(p[k].ends_with('Z') && p[k].len() == 24, "{k}: {}", p[k]);
    }
    assert_eq!(get(&p["Download Uri"]).await.body, &b"a,b\n1,2\n"[..]);
    assert_eq!(stored_files(&server).len(), 1);
    server.stop().await;
}

async fn octet_stream_upload_takes_its_name_from_disposition_or_query(backend: Backend) {
    let _g = GATE.read().await;
    let server = start(&backend).await;
    let a = request(
        Method::POST,
        &server.url("/fs/Files/file/content"),
        &[
            ("content-type", "application/octet-stream"),
            (
                "content-disposition",
                "attachment; filename=\"x.bin\"; filename*=UTF-8''na%C3%AFve%20report.pdf",
            ),
        ],
        &b"%PDF-1.7 raw"[..],
    )
    .await;
    let p = only_file(&a);
    assert_eq!(p["Name"], "naïve report.pdf");
    assert_eq!(p["Mime Type"], "application/pdf");
    assert_eq!(get(&p["Download Uri"]).await.body, &b"%PDF-1.7 raw"[..]);

    let a = request(
        Method::POST,
        &server.url("/fs/Files/file/content?name=notes%20%C3%A9t%C3%A9.txt&resourcePath=%2Fsmall"),
        &[("content-type", "application/octet-stream")],
        &b"short"[..],
    )
    .await;
    let p = only_file(&a);
    assert_eq!(p["Name"], "notes été.txt");
    assert_eq!(p["Mime Type"], "text/plain");
    let (small, _) = names(&list(&server, "Files", json!({"resourcePath": "/small"})).await);
    assert_eq!(small, ["notes été.txt"]);

    // No name at all: the execution id.
    let a = request(
        Method::POST,
        &server.url("/fs/Files/file/content"),
        &[("content-type", "application/octet-stream")],
        &b"anonymous"[..],
    )
    .await;
    let exec = a.header("x-execution-id").unwrap().to_owned();
    let p = only_file(&a);
    assert_eq!(p["Name"], exec);
    assert_eq!(p["Mime Type"], "application/octet-stream");
    server.stop().await;
}

async fn non_ascii_names_come_back_exact(backend: Backend) {
    let _g = GATE.read().await;
    let server = start(&backend).await;
    let ext = Part {
        disposition: b"form-data; name=\"FileData\"; filename=\"fallback.txt\"; filename*=UTF-8''%E5%A0%B1%E5%91%8A%E6%9B%B8%20r%C3%A9sum%C3%A9.txt".to_vec(),
        content_type: Some("text/plain".into()),
        body: b"ext".to_vec(),
    };
    let raw = Part {
        disposition: "form-data; name=\"FileData\"; filename=\"Ünïcödé ✓ 日本.bin\""
            .as_bytes()
            .to_vec(),
        content_type: Some("application/x-demo".into()),
        body: b"raw".to_vec(),
    };
    let req = json_part("FileDataRequest", &json!({"resourcePath": ""}));
    let a = upload(
        &server,
        "Files",
        &[json_part("FileDataRequest", &json!({})), ext],
    )
    .await;
    let p1 = only_file(&a);
    assert_eq!(p1["Name"], "報告書 résumé.txt");
    let a = upload(&server, "Files", &[raw, req]).await;
    let p2 = only_file(&a);
    assert_eq!(p2["Name"], "Ünïcödé ✓ 日本.bin");
    assert_eq!(p2["Mime Type"], "application/x-demo");

    let (found, _) = names(
        &list(
            &server,
            "Files",
            json!({"listFilter": {"search": "résumé", "limit": 10}}),
        )
        .await,
    );
    assert_eq!(found, ["報告書 résumé.txt"]);
    let got = get(&p2["Download Uri"]).await;
    assert_eq!(got.header("content-type"), Some("application/x-demo"));
    assert_eq!(
        got.header("content-disposition"),
        Some(
            "attachment; filename=\"_n_c_d_ _ __.bin\"; \
             filename*=UTF-8''%C3%9Cn%C3%AFc%C3%B6d%C3%A9%20%E2%9C%93%20%E6%97%A5%E6%9C%AC.bin"
        )
    );
    server.stop().await;
}

async fn path_tricks_become_plain_names_inside_the_data_folder(backend: Backend) {
    let _g = GATE.read().await;
    let server = start(&backend).await;
    let req = || json_part("FileDataRequest", &json!({}));
    let evil = [
        ("../../etc/passwd", "passwd"),
        ("C:\\\\x\\\\y.txt", "y.txt"),
        ("/abs/olute.txt", "olute.txt"),
        ("..", ""),
        ("a\\r\\nb.txt", ""),
    ];
    for (i, (sent, want)) in evil.iter().enumerate() {
        let body = format!("payload {i}");
        let a = upload(
            &server,
            "Files",
            &[req(), file_part("FileData", sent, None, body.as_bytes())],
        )
        .await;
        let exec = a.header("x-execution-id").unwrap().to_owned();
        let p = only_file(&a);
        if want.is_empty() {
            assert!(
                !p["Name"].contains(['/', '\\', '\r', '\n']),
                "{}",
                p["Name"]
            );
        } else {
            assert_eq!(&p["Name"], want);
        }
        if *sent == ".." {
            assert_eq!(p["Name"], exec);
        }
        // The bytes are stored under the data folder, named by id.
        let on_disk = server.data.path().join("files/Files/file").join(&p["Id"]);
        assert_eq!(std::fs::read(&on_disk).unwrap(), body.as_bytes());
    }
    // A CR LF smuggled in a filename* is removed too.
    let crlf = Part {
        disposition: b"form-data; name=\"FileData\"; filename*=UTF-8''bad%0D%0Aname%00.txt"
            .to_vec(),
        content_type: None,
        body: b"x".to_vec(),
    };
    let p = only_file(&upload(&server, "Files", &[req(), crlf]).await);
    assert_eq!(p["Name"], "badname.txt");
    let root = server.data.path().canonicalize().unwrap();
    for f in stored_files(&server) {
        assert!(f.canonicalize().unwrap().starts_with(&root));
    }
    assert_eq!(stored_files(&server).len(), evil.len() + 1);
    server.stop().await;
}

async fn missing_parts_are_the_two_400s(backend: Backend) {
    let _g = GATE.read().await;
    let server = start(&backend).await;
    let a = upload(
        &server,
        "Files",
        &[file_part("FileData", "a.txt", None, b"lonely file")],
    )
    .await;
    assert_eq!(a.problem(400), "No file data request was given");
    let a = upload(
        &server,
        "Files",
        &[json_part("FileDataRequest", &json!({}))],
    )
    .await;
    assert_eq!(a.problem(400), "No file was uploaded");
    let a = upload(&server, "Files", &[]).await;
    assert_eq!(a.problem(400), "No file data request was given");
    // Other refusals say what was wrong.
    let a = request(
        Method::POST,
        &server.url("/fs/Files/file/content"),
        &[("content-type", "text/plain")],
        &b"x"[..],
    )
    .await;
    assert!(a.problem(415).contains("multipart/form-data"));
    let mut bad = json_part("FileDataRequest", &json!({}));
    bad.body = b"{not json".to_vec();
    let a = upload(&server, "Files", &[bad, file_part("f", "a", None, b"x")]).await;
    assert!(a.problem(400).contains("not valid JSON"));
    let a = upload(
        &server,
        "Files",
        &[
            json_part("FileDataRequest", &json!({"resourcePath": "/file/../../x"})),
            file_part("f", "a", None, b"x"),
        ],
    )
    .await;
    assert!(a.problem(400).contains("dot segment"));
    let a = upload(
        &server,
        "Files",
        &[
            json_part("FileDataRequest", &json!({"resourcePath": "/elsewhere"})),
            file_part("f", "a", None, b"x"),
        ],
    )
    .await;
    assert!(a.problem(404).contains("/elsewhere"));
    assert!(stored_files(&server).is_empty());
    server.stop().await;
}

async fn over_the_limit_is_413_and_leaves_nothing(backend: Backend) {
    let _g = GATE.read().await;
    let server = start(&backend).await;
    let small = || json_part("FileDataRequest", &json!({"resourcePath": "/small"}));
    let big = noise(7, 5000);
    // Request first: refused while streaming.
    let a = upload(
        &server,
        "Files",
        &[small(), file_part("FileData", "big", None, &big)],
    )
    .await;
    assert!(a.problem(413).contains("1000 bytes"));
    // File first: streamed under the largest limit, refused when the request arrives.
    let a = upload(
        &server,
        "Files",
        &[file_part("FileData", "big", None, &big), small()],
    )
    .await;
    assert!(a.problem(413).contains("1000 bytes"));
    // Exactly at the limit is fine.
    let ok = upload(
        &server,
        "Files",
        &[small(), file_part("FileData", "fits", None, &big[..1000])],
    )
    .await;
    assert_eq!(only_file(&ok)["Name"], "fits");
    // Raw body: refused from Content-Length, and while streaming without one.
    let a = request(
        Method::POST,
        &server.url("/fs/Files/file/content?resourcePath=/small"),
        &[("content-type", "application/octet-stream")],
        big.clone(),
    )
    .await;
    a.problem(413);
    let chunks = big
        .chunks(512)
        .map(|c| Ok::<_, Infallible>(Frame::data(Bytes::copy_from_slice(c))))
        .collect::<Vec<_>>();
    let a = send_stream(
        &server.url("/fs/Files/file/content?resourcePath=/small"),
        "application/octet-stream",
        None,
        StreamBody::new(futures_util::stream::iter(chunks)),
    )
    .await;
    a.problem(413);
    eventually("only the file that fits is on disk", || {
        stored_files(&server).len() == 1
    })
    .await;
    let (small_files, _) = names(&list(&server, "Files", json!({"resourcePath": "/small"})).await);
    assert_eq!(small_files, ["fits"]);
    server.stop().await;
}

async fn a_client_gone_mid_upload_leaves_nothing_behind(backend: Backend) {
    let _g = GATE.read().await;
    let server = start(&backend).await;
    for json_first in [true, false] {
        let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        let head = format!(
            "POST /fs/Files/file/content HTTP/1.1\r\nHost: {}\r\n\
             Content-Type: {}\r\nContent-Length: {}\r\n\r\n",
            server.addr,
            multipart_type(),
            64 << 20
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let req = json_part("FileDataRequest", &json!({}));
        let file = file_part("FileData", "partial.bin", None, &[]);
        if json_first {
            let mut b = part_head(&req);
            b.extend_from_slice(&req.body);
            b.extend_from_slice(b"\r\n");
            stream.write_all(&b).await.unwrap();
        }
        stream.write_all(&part_head(&file)).await.unwrap();
        stream.write_all(&noise(3, 2 << 20)).await.unwrap();
        stream.flush().await.unwrap();
        eventually("the temp file is being written", || {
            !stored_files(&server).is_empty()
        })
        .await;
        drop(stream);
        eventually("the temp file is removed", || {
            stored_files(&server).is_empty()
        })
        .await;
    }
    let (none, _) = names(&list(&server, "Files", json!({})).await);
    assert!(none.is_empty());
    server.stop().await;
}

async fn twenty_concurrent_uploads_land_intact(backend: Backend) {
    let _g = GATE.read().await;
    let server = Arc::new(start(&backend).await);
    let tasks: Vec<_> = (0..20u64)
        .map(|i| {
            let server = Arc::clone(&server);
            tokio::spawn(async move {
                let bytes = noise(100 + i, 200_000 + i as usize * 7919);
                let a = upload(
                    &server,
                    "Files",
                    &[
                        json_part("FileDataRequest", &json!({})),
                        file_part("FileData", &format!("c{i:02}.bin"), None, &bytes),
                    ],
                )
                .await;
                (only_file(&a), sha256(&bytes))
            })
        })
        .collect();
    let mut ids = Vec::new();
    for t in tasks {
        let (p, want) = t.await.unwrap();
        let got = get(&p["Download Uri"]).await;
        assert_eq!(sha256(&got.body), want, "{}", p["Name"]);
        ids.push(p["Id"].clone());
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 20);
    let (all, more) = names(&list(&server, "Files", json!({"listFilter": {"limit": 50}})).await);
    assert_eq!(all.len(), 20);
    assert!(!more);
    assert_eq!(stored_files(&server).len(), 20);
    let server = Arc::try_unwrap(server)
        .ok()
        .expect("every upload task has ended");
    server.stop().await;
}

// === list ===

async fn list_orders_pages_and_searches(backend: Backend) {
    let _g = GATE.read().await;
    let server = start(&backend).await;
    let names_in_order = [
        "delta.txt",
        "Alpha.txt",
        "charlie.csv",
        "bravo.txt",
        "echo.png",
    ];
    for n in names_in_order {
        let a = upload(
            &server,
            "Files",
            &[
                json_part("FileDataRequest", &json!({})),
                file_part("FileData", n, None, n.as_bytes()),
            ],
        )
        .await;
        only_file(&a);
        // Distinct creation times for the date order.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let page = |filter: Value| {
        list(
            &server,
            "Files",
            json!({"resourcePath": "", "listFilter": filter}),
        )
    };
    let (all, more) = names(&page(json!(null)).await);
    assert_eq!(
        all,
        [
            "Alpha.txt",
            "bravo.txt",
            "charlie.csv",
            "delta.txt",
            "echo.png"
        ]
    );
    assert!(!more);
    let (p1, more) = names(&page(json!({"limit": 2, "offset": 0})).await);
    assert_eq!(p1, ["Alpha.txt", "bravo.txt"]);
    assert!(more);
    let (p3, more) = names(&page(json!({"limit": 2, "offset": 4})).await);
    assert_eq!((p3, more), (vec!["echo.png".to_owned()], false));
    let (p2, more) = names(&page(json!({"limit": 2, "offset": 2})).await);
    assert_eq!((p2.len(), more), (2, true));
    let (exact, more) = names(&page(json!({"limit": 5})).await);
    assert_eq!((exact.len(), more), (5, false));
    let (desc, _) = names(
        &page(json!({"orderByPropertyDeveloperName": "Name", "orderByDirectionType": "DESC"}))
            .await,
    );
    assert_eq!(desc[0], "echo.png");
    let (by_date, _) = names(&page(json!({"orderByPropertyDeveloperName": "Date Created"})).await);
    assert_eq!(by_date, names_in_order);
    let (by_type, _) = names(
        &page(json!({"orderByPropertyDeveloperName": "Mime Type", "orderByDirectionType": "desc"}))
            .await,
    );
    // text/plain (ties in id order), text/csv, image/png.
    assert!(
        by_type[..3].iter().all(|n| n.ends_with(".txt")),
        "{by_type:?}"
    );
    assert_eq!(by_type[3..], ["charlie.csv", "echo.png"]);
    let (found, _) = names(&page(json!({"search": "TXT", "limit": 2})).await);
    assert_eq!(found, ["Alpha.txt", "bravo.txt"]);
    let (found, more) = names(&page(json!({"search": "txt", "limit": 2, "offset": 2})).await);
    assert_eq!((found, more), (vec!["delta.txt".to_owned()], false));
    let (none, _) = names(&page(json!({"search": "%"})).await);
    assert!(none.is_empty());
    if let Some(url) = backend.url() {
        assert_eq!(
            trigram_indexes(url).await,
            1,
            "the name search is indexed with pg_trgm"
        );
    }

    let a = page(json!({"orderByPropertyDeveloperName": "Colour"})).await;
    assert!(a.problem(400).contains("Colour"));
    let a = page(json!({"limit": -1})).await;
    assert!(a.problem(400).contains("limit"));
    // Every listed $File carries the ten properties.
    let v = page(json!({"limit": 1})).await.json();
    let p = props(&v["objectData"][0]);
    assert_eq!(p.len(), 10);
    assert_eq!(
        v["objectData"][0]["externalId"].as_str(),
        Some(p["Id"].as_str())
    );
    server.stop().await;
}

async fn resource_paths_select_resources_and_sub_folders(backend: Backend) {
    let _g = GATE.read().await;
    let server = start(&backend).await;
    let put = |svc: &'static str, rp: &'static str, name: &'static str| {
        let server = &server;
        async move {
            let a = upload(
                server,
                svc,
                &[
                    json_part("FileDataRequest", &json!({"resourcePath": rp})),
                    file_part("FileData", name, None, name.as_bytes()),
                ],
            )
            .await;
            only_file(&a)
        }
    };
    put("Files", "/file/reports/2024", "deep.txt").await;
    put("Files", "/file/", "root.txt").await;
    let in_folder = |svc: &'static str, rp: &'static str| {
        let server = &server;
        async move { names(&list(server, svc, json!({"resourcePath": rp})).await).0 }
    };
    assert_eq!(in_folder("Files", "/file/reports/2024").await, ["deep.txt"]);
    assert_eq!(in_folder("Files", "/file").await, ["root.txt"]);
    assert_eq!(in_folder("Files", "").await, ["root.txt"]);
    assert!(server
        .data
        .path()
        .join("files/Files/file/reports/2024")
        .is_dir());
    // One resource: any path is a sub-folder of it.
    let p = put("Single%20Files", "reports", "single.txt").await;
    assert!(p["Download Uri"].contains("/fs/Single%20Files/file/content/"));
    assert_eq!(
        in_folder("Single%20Files", "/reports").await,
        ["single.txt"]
    );
    assert_eq!(
        in_folder("Single%20Files", "/docs/reports").await,
        ["single.txt"]
    );
    assert!(in_folder("Single%20Files", "").await.is_empty());
    let got = get(&p["Download Uri"]).await;
    assert_eq!(&got.body[..], b"single.txt");
    // Several resources and no match: 404 naming the path.
    let a = list(&server, "Files", json!({"resourcePath": "/nowhere"})).await;
    assert!(a.problem(404).contains("/nowhere"));
    let a = list(&server, "Files", json!({"resourcePath": "file"})).await;
    assert!(a.problem(404).contains("'file'"));
    server.stop().await;
}

// === download ===

async fn download_streams_whole_files_and_ranges(backend: Backend) {
    let _g = GATE.read().await;
    let server = start(&backend).await;
    let bytes = noise(11, 300_000);
    let p = only_file(
        &upload(
            &server,
            "Files",
            &[
                json_part("FileDataRequest", &json!({})),
                file_part("FileData", "data.bin", Some("application/x-thing"), &bytes),
            ],
        )
        .await,
    );
    let url = p["Download Uri"].clone();
    assert!(url.starts_with(&format!("http://{}/fs/Files/file/content/", server.addr)));
    let whole = get(&url).await;
    assert_eq!(whole.status, 200);
    assert_eq!(whole.header("content-length"), Some("300000"));
    assert_eq!(whole.header("content-type"), Some("application/x-thing"));
    assert_eq!(whole.header("accept-ranges"), Some("bytes"));
    assert_eq!(
        whole.header("content-disposition"),
        Some("attachment; filename=\"data.bin\"; filename*=UTF-8''data.bin")
    );
    assert_eq!(&whole.body[..], &bytes[..]);

    let range = |r: &'static str| {
        let url = url.clone();
        async move { request(Method::GET, &url, &[("range", r)], Bytes::new()).await }
    };
    let a = range("bytes=0-9").await;
    assert_eq!(a.status, 206);
    assert_eq!(a.header("content-range"), Some("bytes 0-9/300000"));
    assert_eq!(a.header("content-length"), Some("10"));
    assert_eq!(&a.body[..], &bytes[..10]);
    let a = range("bytes=299990-").await;
    assert_eq!(a.status, 206);
    assert_eq!(&a.body[..], &bytes[299_990..]);
    let a = range("bytes=-100").await;
    assert_eq!(
        a.header("content-range"),
        Some("bytes 299900-299999/300000")
    );
    assert_eq!(&a.body[..], &bytes[299_900..]);
    let a = range("bytes=1000-1999999").await;
    assert_eq!(&a.body[..], &bytes[1000..]);
    let a = range("bytes=300000-").await;
    a.problem(416);
    assert_eq!(a.header("content-range"), Some("bytes */300000"));
    let a = range("bytes=0-1,5-6").await;
    assert_eq!((a.status.as_u16(), a.body.len()), (200, 300_000));

    let inline = get(&p["Embed Uri"]).await;
    assert!(inline
        .header("content-disposition")
        .unwrap()
        .starts_with("inline;"));
    let a = get(&server.url("/fs/Files/file/content/no-such-id")).await;
    assert!(a.problem(404).contains("no-such-id"));
    server.stop().await;
}

async fn download_uri_uses_the_public_base_url(backend: Backend) {
    let _g = GATE.read().await;
    let server = TestServer::start_config(
        &fixture("files"),
        |c| {
            backend.configure(c);
            c.public_base_url = Some("https://flow.example.com/base".into());
        },
        |_| {},
        ServerConfig::default(),
    )
    .await;
    let p = only_file(
        &upload(
            &server,
            "Files",
            &[
                json_part("FileDataRequest", &json!({})),
                file_part("FileData", "a.txt", None, b"a"),
            ],
        )
        .await,
    );
    assert_eq!(
        p["Download Uri"],
        format!(
            "https://flow.example.com/base/fs/Files/file/content/{}",
            p["Id"]
        )
    );
    server.stop().await;
}

// === delete ===

async fn delete_removes_the_file_and_its_row(backend: Backend) {
    let _g = GATE.read().await;
    let server = start(&backend).await;
    let up = |name: &'static str| {
        let server = &server;
        async move {
            only_file(
                &upload(
                    server,
                    "Files",
                    &[
                        json_part("FileDataRequest", &json!({})),
                        file_part("FileData", name, None, b"x"),
                    ],
                )
                .await,
            )
        }
    };
    let keep = up("keep.txt").await;
    let gone = up("gone.txt").await;
    let delete_url = server.url("/fs/Files/file/delete");
    let del = |body: Value| {
        let url = delete_url.clone();
        async move { post_json(&url, &body).await }
    };
    let a = del(json!({"resourceFile": gone["Id"]})).await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    assert_eq!(a.json()["objectData"], json!([]));
    assert!(get(&gone["Download Uri"])
        .await
        .problem(404)
        .contains(&gone["Id"]));
    assert_eq!(
        names(&list(&server, "Files", json!({})).await).0,
        ["keep.txt"]
    );
    assert_eq!(stored_files(&server).len(), 1);
    assert_eq!(get(&keep["Download Uri"]).await.status, 200);
    let a = del(json!({"resourceFile": gone["Id"]})).await;
    assert!(a.problem(404).contains(&gone["Id"]));
    let a = del(json!({"resourcePath": ""})).await;
    assert!(a.problem(400).contains("resourceFile"));
    server.stop().await;
}

// === command processes ===

async fn command_upload_gets_the_temp_file_and_tracked_properties(backend: Backend) {
    let _g = GATE.read().await;
    let server = start(&backend).await;
    let bytes = noise(5, 70_000);
    for json_first in [true, false] {
        let req = json_part("FileDataRequest", &json!({"resourcePath": "/cmd/inbox"}));
        let file = file_part("FileData", "résumé.pdf", None, &bytes);
        let parts = if json_first { [req, file] } else { [file, req] };
        let a = upload(&server, "Files", &parts).await;
        let p = only_file(&a);
        let seen: Value = serde_json::from_str(&p["Description"]).unwrap();
        assert_eq!(seen["sha256"], sha256(&bytes));
        assert_eq!(seen["size"], 70_000);
        assert_eq!(seen["reportedSize"], 70_000);
        assert_eq!(seen["name"], "résumé.pdf");
        assert_eq!(seen["type"], "application/pdf");
        assert_eq!(seen["resourcePath"], "/cmd/inbox");
        assert_eq!(p["Id"], format!("cmd-{}", &sha256(&bytes)[..16]));
        // Fields the command left out come from the tracked properties.
        assert_eq!(p["Name"], "résumé.pdf");
        assert_eq!(p["Mime Type"], "application/pdf");
    }
    eventually("the command's temp files are removed", || {
        stored_files(&server).is_empty()
    })
    .await;
    let a = list(
        &server,
        "Files",
        json!({"resourcePath": "/cmd", "listFilter": {"limit": 3, "search": "x"}}),
    )
    .await;
    let v = a.json();
    assert_eq!(v["hasMoreResults"], true);
    let p = props(&v["objectData"][0]);
    assert_eq!(p["Name"], "from-command.txt");
    let filter: Value = serde_json::from_str(&p["Description"]).unwrap();
    assert_eq!(filter["limit"], 3);
    assert_eq!(filter["search"], "x");
    server.stop().await;
}

// === memory ===

/// A field of /proc/self/status in KiB.
fn status_kib(field: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Sends `body` as a streamed request (no buffering in the client).
async fn send_stream<B>(url: &str, content_type: &str, len: Option<u64>, body: B) -> Answer
where
    B: hyper::body::Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let client = Client::builder(TokioExecutor::new()).build_http::<B>();
    let mut req = Request::builder()
        .method(Method::POST)
        .uri(url)
        .header("content-type", content_type);
    if let Some(n) = len {
        req = req.header("content-length", n);
    }
    let resp = client
        .request(req.body(body).unwrap())
        .await
        .expect("request is answered");
    let (parts, body) = resp.into_parts();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body: body.collect().await.unwrap().to_bytes(),
    }
}

const BIG_CHUNK: usize = 64 << 10;

/// Chunk `i` of the large upload: a fixed random block stamped with its index, so that a
/// lost, doubled or misplaced chunk is caught.
fn big_chunk(block: &[u8], i: u64) -> Vec<u8> {
    let mut c = block.to_vec();
    c[..8].copy_from_slice(&i.to_le_bytes());
    c
}

async fn a_256_mib_upload_streams_with_flat_memory(backend: Backend) {
    let _g = GATE.write().await;
    let server = start(&backend).await;
    // Warm up: index open, blocking pool, connection pool.
    only_file(
        &upload(
            &server,
            "Files",
            &[
                json_part("FileDataRequest", &json!({})),
                file_part("FileData", "w", None, b"w"),
            ],
        )
        .await,
    );
    const CHUNKS: u64 = (256 << 20) / BIG_CHUNK as u64;
    let block = Arc::new(noise(99, BIG_CHUNK));
    let req = json_part("FileDataRequest", &json!({"resourcePath": ""}));
    let file = file_part("FileData", "big.bin", Some("application/x-big"), &[]);
    let mut head = part_head(&req);
    head.extend_from_slice(&req.body);
    head.extend_from_slice(b"\r\n");
    head.extend_from_slice(&part_head(&file));
    let tail = format!("\r\n--{BOUNDARY}--\r\n").into_bytes();
    let len = head.len() as u64 + CHUNKS * BIG_CHUNK as u64 + tail.len() as u64;
    let gen = Arc::clone(&block);
    let frames = futures_util::stream::iter(
        std::iter::once(Bytes::from(head))
            .chain((0..CHUNKS).map(move |i| Bytes::from(big_chunk(&gen, i))))
            .chain(std::iter::once(Bytes::from(tail))),
    )
    .map(|b| Ok::<_, Infallible>(Frame::data(b)));

    let baseline = status_kib("VmRSS:");
    // Reset the peak to the current RSS where the kernel allows it; sample as well.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let peak = Arc::new(AtomicU64::new(baseline));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, done) = (Arc::clone(&peak), Arc::clone(&done));
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(status_kib("VmRSS:"), Ordering::Relaxed);
                std::thread::park_timeout(Duration::from_millis(5));
            }
        })
    };
    let a = send_stream(
        &server.url("/fs/Files/file/content"),
        &multipart_type(),
        Some(len),
        StreamBody::new(frames),
    )
    .await;
    done.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    let hwm = status_kib("VmHWM:");
    let p = only_file(&a);
    assert_eq!(p["Name"], "big.bin");
    let grown_mib = (peak.load(Ordering::Relaxed).max(hwm) - baseline) / 1024;
    eprintln!(
        "256 MiB upload: RSS baseline {} MiB, grew by {grown_mib} MiB",
        baseline / 1024
    );
    assert!(
        grown_mib < 64,
        "RSS grew by {grown_mib} MiB during a 256 MiB upload"
    );

    // The stored bytes are exactly the chunks sent, in order.
    let path = server.data.path().join("files/Files/file").join(&p["Id"]);
    assert_eq!(
        std::fs::metadata(&path).unwrap().len(),
        CHUNKS * BIG_CHUNK as u64
    );
    let mut f = std::fs::File::open(&path).unwrap();
    let mut buf = vec![0u8; BIG_CHUNK];
    for i in 0..CHUNKS {
        std::io::Read::read_exact(&mut f, &mut buf).unwrap();
        assert!(buf == big_chunk(&block, i), "chunk {i} differs");
    }
    server.stop().await;
}

// === several instances ===

/// Two instances on one database and one `--files-dir`: a file uploaded through one is
/// listed, downloaded and deleted through the other, and the second instance's first
/// mount leaves alone what the first may be writing (a fresh temp file) or about to index
/// (a fresh stored file the index does not know yet).
#[tokio::test]
async fn two_instances_share_the_files_folder() {
    let _g = GATE.read().await;
    let Some(schema) = support::pg::schema("files::two_instances_share_the_files_folder").await
    else {
        return;
    };
    let backend = Backend::Postgres(schema);
    let shared = tempfile::tempdir().unwrap();
    let ops = fixture("files");
    let start_on_shared = || {
        TestServer::start_config(
            &ops,
            |c| {
                backend.configure(c);
                c.files_dir = Some(shared.path().to_path_buf());
            },
            |_| {},
            ServerConfig::default(),
        )
    };
    let a = start_on_shared().await;
    let up = upload(
        &a,
        "Files",
        &[
            json_part("FileDataRequest", &json!({})),
            file_part("FileData", "shared.txt", None, b"on both"),
        ],
    )
    .await;
    let file = only_file(&up);
    let stored = files_under(&shared.path().join("files"));
    assert_eq!(stored.len(), 1, "the bytes are in the shared folder");
    assert!(files_under(&a.data.path().join("files")).is_empty());
    let folder = stored[0].parent().unwrap().to_path_buf();
    std::fs::write(folder.join(".upload-live.part"), b"half").unwrap();
    std::fs::write(folder.join("not-indexed-yet"), b"renamed").unwrap();

    let b = start_on_shared().await;
    assert_eq!(names(&list(&b, "Files", json!({})).await).0, ["shared.txt"]);
    let got = get(&b.url(&format!("/fs/Files/file/content/{}", file["Id"]))).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body.as_ref(), b"on both");
    assert!(folder.join(".upload-live.part").exists());
    assert!(folder.join("not-indexed-yet").exists());

    let del = post_json(
        &b.url("/fs/Files/file/delete"),
        &json!({"resourceFile": file["Id"]}),
    )
    .await;
    assert_eq!(del.status, 200, "{}", String::from_utf8_lossy(&del.body));
    assert!(names(&list(&a, "Files", json!({})).await).0.is_empty());
    assert!(!stored[0].exists(), "the bytes are gone for both");
    b.stop().await;
    a.stop().await;
}

crate::both_backends!(
    upload_accepts_every_part_spelling_in_both_orders,
    upload_also_answers_on_files_content_and_skips_extra_parts,
    octet_stream_upload_takes_its_name_from_disposition_or_query,
    non_ascii_names_come_back_exact,
    path_tricks_become_plain_names_inside_the_data_folder,
    missing_parts_are_the_two_400s,
    over_the_limit_is_413_and_leaves_nothing,
    a_client_gone_mid_upload_leaves_nothing_behind,
    twenty_concurrent_uploads_land_intact,
    list_orders_pages_and_searches,
    resource_paths_select_resources_and_sub_folders,
    download_streams_whole_files_and_ranges,
    download_uri_uses_the_public_base_url,
    delete_removes_the_file_and_its_row,
    command_upload_gets_the_temp_file_and_tracked_properties,
    a_256_mib_upload_streams_with_flat_memory,
);
