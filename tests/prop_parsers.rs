//! Property tests of the parsers that face clients, called in-process through
//! `Runtime::handle` (no sockets, so thousands of cases run in seconds): multipart framing
//! and Content-Disposition of uploads, ServiceRequest and FileDataRequest JSON, and
//! deployment archives. Every case asserts that nothing panics and nothing answers 5xx;
//! invalid input answers 4xx, and a well-formed upload stores exactly the bytes sent.
//!
//! The default run is short (64 cases per property); `PROPTEST_CASES` sets the count, e.g.
//! `PROPTEST_CASES=100000 cargo test --release --test prop_parsers`.

mod support;

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::OnceLock;

use bytes::Bytes;
use fss::http::body::from_bytes;
use fss::http::request::Connection;
use fss::{Runtime, RuntimeConfig};
use http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use proptest::prelude::*;
use serde_json::{json, Value};
use support::{basic, fixture};

const ADMIN: &str = "prop-admin";
const PASSWORD: &str = "prop-admin-pw";

/// One runtime for every case: the fixtures `files` and `core` mounted, the admin API on.
struct Fixture {
    rt: tokio::runtime::Runtime,
    fss: Runtime,
    _data: tempfile::TempDir,
}

fn fixture_runtime() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let data = tempfile::tempdir().unwrap();
        let fss = Runtime::new(RuntimeConfig {
            data_dir: data.path().to_path_buf(),
            ..RuntimeConfig::default()
        });
        {
            let _entered = rt.enter();
            for case in ["files", "core"] {
                let defs = fss::definition::load_dir(&fixture(case)).unwrap();
                fss.mount(defs).unwrap();
            }
            let mut admin = support::admin_config(ADMIN, PASSWORD);
            admin.max_deployment_bytes = 1 << 20;
            fss.enable_admin(admin).unwrap();
        }
        Fixture {
            rt,
            fss,
            _data: data,
        }
    })
}

/// The answer of one in-process request: status and body.
fn call(
    method: Method,
    path: &str,
    headers: &[(&str, &[u8])],
    body: Vec<u8>,
) -> (StatusCode, Bytes) {
    let f = fixture_runtime();
    let mut req = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        req = req.header(*k, http::HeaderValue::from_bytes(v).unwrap());
    }
    let mut req = req.body(from_bytes(body)).unwrap();
    let loopback: SocketAddr = "127.0.0.1:9".parse().unwrap();
    req.extensions_mut().insert(Connection {
        peer: loopback,
        local: loopback,
        tls: false,
        client_certificate: None,
    });
    f.rt.block_on(async {
        let resp = f.fss.handle(req).await;
        let status = resp.status();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        (status, body)
    })
}

/// `PROPTEST_CASES`, else 64: a short default run, a long one on demand.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64);
    ProptestConfig::with_cases(cases)
}

fn show(body: &[u8]) -> String {
    String::from_utf8_lossy(&body[..body.len().min(500)]).into_owned()
}

// === strategies ===

/// Text with what breaks naive parsers: quotes, backslashes, `;` and `=`, percent escapes,
/// path separators, dots, non-ASCII, and (when `controls`) control characters.
fn tricky_text(controls: bool) -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("\"".to_owned()),
        Just("\\".to_owned()),
        Just(";".to_owned()),
        Just("=".to_owned()),
        Just("/".to_owned()),
        Just("..".to_owned()),
        Just("%".to_owned()),
        Just("%C3%A9".to_owned()),
        Just("%zz".to_owned()),
        Just("*".to_owned()),
        Just("'".to_owned()),
        Just("résumé".to_owned()),
        Just("日本".to_owned()),
        Just("🙂".to_owned()),
        "[a-zA-Z0-9 ._-]{1,8}",
        if controls {
            "[\\x00-\\x1f\\x7f]".boxed()
        } else {
            "[a-z]".boxed()
        },
    ];
    prop::collection::vec(piece, 0..8).prop_map(|v| v.concat())
}

/// A Content-Disposition value of a file part: quoted or bare `filename`, an RFC 5987
/// `filename*`, both, or neither.
fn disposition() -> impl Strategy<Value = String> {
    let quoted = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
    (
        tricky_text(false),
        tricky_text(false),
        tricky_text(false),
        0..5u8,
    )
        .prop_map(move |(name, filename, star, form)| {
            let star =
                percent_encoding::utf8_percent_encode(&star, percent_encoding::NON_ALPHANUMERIC);
            let name = quoted(&name);
            match form {
                0 => format!(
                    "form-data; name=\"{name}\"; filename=\"{}\"",
                    quoted(&filename)
                ),
                1 => format!("form-data; name=\"{name}\"; filename={filename}"),
                2 => format!("form-data; name=\"{name}\"; filename*=UTF-8''{star}"),
                3 => format!(
                    "form-data; name=\"{name}\"; filename=\"{}\"; filename*=utf-8'en'{star}",
                    quoted(&filename)
                ),
                _ => format!("form-data; name=\"{name}\""),
            }
        })
}

/// A multipart boundary: 1 to 70 of RFC 2046's `bchars` (a space only inside).
fn boundary() -> impl Strategy<Value = String> {
    "[0-9A-Za-z'()+_,./:=?-]{1,69}[0-9A-Za-z]"
}

/// A well-formed upload: boundary, request part (first or last), file part.
#[derive(Debug, Clone)]
struct Upload {
    boundary: String,
    disposition: String,
    resource_path: String,
    file: Vec<u8>,
    request_first: bool,
}

fn upload() -> impl Strategy<Value = Upload> {
    (
        boundary(),
        disposition(),
        prop_oneof![
            Just(String::new()),
            Just("/file".to_owned()),
            tricky_text(true)
        ],
        prop::collection::vec(any::<u8>(), 0..2048),
        any::<bool>(),
    )
        .prop_map(
            |(boundary, disposition, resource_path, file, request_first)| Upload {
                boundary,
                disposition,
                resource_path,
                file,
                request_first,
            },
        )
}

impl Upload {
    /// The body, and where its closing delimiter ends.
    fn body(&self) -> (Vec<u8>, usize) {
        let b = &self.boundary;
        let request = serde_json::to_vec(&json!({"resourcePath": self.resource_path})).unwrap();
        let mut request_part = Vec::new();
        write!(
            request_part,
            "--{b}\r\nContent-Disposition: form-data; name=\"FileDataRequest\"\r\n\
             Content-Type: application/json\r\n\r\n"
        )
        .unwrap();
        request_part.extend_from_slice(&request);
        request_part.extend_from_slice(b"\r\n");
        let mut file_part = Vec::new();
        write!(
            file_part,
            "--{b}\r\nContent-Disposition: {}\r\nContent-Type: text/plain\r\n\r\n",
            self.disposition
        )
        .unwrap();
        file_part.extend_from_slice(&self.file);
        file_part.extend_from_slice(b"\r\n");
        let mut body = Vec::new();
        if self.request_first {
            body.extend(request_part);
            body.extend(file_part);
        } else {
            body.extend(file_part);
            body.extend(request_part);
        }
        write!(body, "--{b}--").unwrap();
        let closed = body.len();
        body.extend_from_slice(b"\r\n");
        (body, closed)
    }

    fn content_type(&self) -> String {
        format!("multipart/form-data; boundary=\"{}\"", self.boundary)
    }

    /// Whether the path selects the `/cmd` resource, whose process answers ids that the
    /// store does not hold.
    fn selects_the_command_resource(&self) -> bool {
        let path = self.resource_path.trim();
        path.starts_with('/') && path.split('/').find(|s| !s.is_empty()) == Some("cmd")
    }

    /// Whether the file's bytes could be read as a delimiter (then the framing is the
    /// client's mistake, not a case of this property).
    fn file_holds_delimiter(&self) -> bool {
        let delimiter = format!("\r\n--{}", self.boundary);
        let mut framed = b"\r\n".to_vec();
        framed.extend_from_slice(&self.file);
        framed.extend_from_slice(b"\r\n");
        framed
            .windows(delimiter.len())
            .any(|w| w == delimiter.as_bytes())
    }
}

/// The value of the `$File` property `name` in an ObjectDataResponse.
fn file_property(v: &Value, name: &str) -> String {
    v["objectData"][0]["properties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["developerName"] == name)
        .and_then(|p| p["contentValue"].as_str())
        .unwrap()
        .to_owned()
}

/// A JSON value of any shape, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        tricky_text(true).prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(field_name(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// The field names of ServiceRequest, FileDataRequest and their parts, and some others.
fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("inputs".to_owned()),
        Just("developerName".to_owned()),
        Just("contentValue".to_owned()),
        Just("contentType".to_owned()),
        Just("objectData".to_owned()),
        Just("properties".to_owned()),
        Just("configurationValues".to_owned()),
        Just("culture".to_owned()),
        Just("token".to_owned()),
        Just("stateId".to_owned()),
        Just("resourcePath".to_owned()),
        Just("resourceFile".to_owned()),
        Just("listFilter".to_owned()),
        Just("limit".to_owned()),
        Just("offset".to_owned()),
        Just("search".to_owned()),
        Just("orderByPropertyDeveloperName".to_owned()),
        Just("orderByDirectionType".to_owned()),
        "[a-zA-Z]{1,10}",
    ]
}

/// A zip of `entries`, stored or deflated.
fn zip_of(entries: &[(String, Vec<u8>)], deflate: bool) -> Vec<u8> {
    let method = if deflate {
        zip::CompressionMethod::Deflated
    } else {
        zip::CompressionMethod::Stored
    };
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes) in entries {
        let opts = zip::write::SimpleFileOptions::default().compression_method(method);
        if w.start_file(name.as_str(), opts).is_err() {
            continue;
        }
        w.write_all(bytes).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// Deploys `bytes` as the file `filename`.
fn deploy(filename: &str, bytes: &[u8]) -> (StatusCode, Bytes) {
    let b = "prop-deploy-boundary";
    let mut body = Vec::new();
    write!(
        body,
        "--{b}\r\nContent-Disposition: form-data; name=\"deployment\"; filename=\"{filename}\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .unwrap();
    body.extend_from_slice(bytes);
    write!(body, "\r\n--{b}--\r\n").unwrap();
    let auth = basic(ADMIN, PASSWORD);
    let ct = format!("multipart/form-data; boundary={b}");
    let answer = call(
        Method::POST,
        "/api/repository/deployments",
        &[
            ("authorization", auth.as_bytes()),
            ("content-type", ct.as_bytes()),
        ],
        body,
    );
    if answer.0 == StatusCode::CREATED {
        // Keep the runtime small over long runs: undeploy what was deployed.
        let v: Value = serde_json::from_slice(&answer.1).unwrap();
        let id = v["id"].as_str().unwrap();
        let (status, _) = call(
            Method::DELETE,
            &format!("/api/repository/deployments/{id}"),
            &[("authorization", auth.as_bytes())],
            Vec::new(),
        );
        assert_eq!(status, StatusCode::NO_CONTENT);
    }
    answer
}

fn definition(name: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "name": name,
        "messageActions": [{ "name": "Echo", "process": { "builtin": "echo" } }]
    }))
    .unwrap()
}

/// POSTs a multipart `body` under the Content-Type `ct` to the upload of `Files`.
fn post_upload(ct: &str, body: Vec<u8>) -> (StatusCode, Bytes) {
    let headers: [(&str, &[u8]); 1] = [("content-type", ct.as_bytes())];
    call(Method::POST, UPLOAD, &headers, body)
}

/// POSTs `body` as JSON to `path`.
fn post_json(path: &str, body: Vec<u8>) -> (StatusCode, Bytes) {
    call(
        Method::POST,
        path,
        &[("content-type", b"application/json")],
        body,
    )
}

/// Asserts that an upload answered a `$File` with a clean name whose download is `sent`.
fn assert_stored(answer: &[u8], sent: &[u8]) -> Result<(), TestCaseError> {
    let v: Value = serde_json::from_slice(answer).unwrap();
    let name = file_property(&v, "Name");
    let clean =
        !name.is_empty() && !name.contains(['/', '\\']) && !name.chars().any(char::is_control);
    prop_assert!(clean, "{:?}", name);
    let id = file_property(&v, "Id");
    let path = format!("/fs/Files/file/content/{id}");
    let (status, bytes) = call(Method::GET, &path, &[], Vec::new());
    prop_assert_eq!(status, 200);
    prop_assert_eq!(&bytes[..], sent);
    Ok(())
}

const UPLOAD: &str = "/fs/Files/file/content";
/// The endpoints that read JSON: a ServiceRequest, FileDataRequests of list and delete.
const JSON_PATHS: [&str; 3] = [
    "/fs/Sample/actions/echo",
    "/fs/Files/file",
    "/fs/Files/file/delete",
];

// === properties ===

proptest! {
    #![proptest_config(config())]

    /// A well-formed upload is stored with exactly its bytes under a clean name, or
    /// refused with a 4xx (a resource path that selects nothing, a dot segment).
    #[test]
    fn well_formed_uploads_store_their_bytes_or_are_4xx(up in upload()) {
        prop_assume!(!up.file_holds_delimiter());
        prop_assume!(!up.selects_the_command_resource());
        let (body, _) = up.body();
        let (status, answer) = post_upload(&up.content_type(), body);
        let ok = status == 200 || status.is_client_error();
        prop_assert!(ok, "{}: {}", status, show(&answer));
        if status == 200 {
            assert_stored(&answer, &up.file)?;
        }
    }

    /// A multipart body cut anywhere before its closing delimiter is a 4xx.
    #[test]
    fn truncated_multipart_bodies_are_4xx(
        up in upload(),
        cut in any::<prop::sample::Index>(),
    ) {
        prop_assume!(!up.file_holds_delimiter());
        let (body, closed) = up.body();
        let cut = cut.index(closed);
        let (status, answer) = post_upload(&up.content_type(), body[..cut].to_vec());
        prop_assert!(
            status.is_client_error(),
            "cut at {} of {}: {}: {}", cut, closed, status, show(&answer)
        );
    }

    /// Any bytes under any boundary are a 4xx (they never frame a request and a file).
    #[test]
    fn arbitrary_multipart_bodies_are_4xx(
        b in boundary(),
        body in prop::collection::vec(any::<u8>(), 0..1024),
        prefix in any::<bool>(),
    ) {
        let mut bytes = Vec::new();
        if prefix {
            // A valid opening, so that the parser gets into the part headers.
            write!(bytes, "--{b}\r\n").unwrap();
        }
        bytes.extend(body);
        let ct = format!("multipart/form-data; boundary=\"{b}\"");
        let (status, answer) = post_upload(&ct, bytes);
        prop_assert!(status.is_client_error(), "{}: {}", status, show(&answer));
    }

    /// Any Content-Disposition of a raw upload (any bytes a header value may hold)
    /// stores the file, byte for byte, under a clean, non-empty name.
    #[test]
    fn raw_upload_dispositions_give_clean_names(
        value in prop::collection::vec(
            prop_oneof![0x20u8..0x7f, 0x80u8..=0xff, Just(b'\t')],
            0..200,
        ),
        file in prop::collection::vec(any::<u8>(), 0..256),
    ) {
        let headers: [(&str, &[u8]); 2] = [
            ("content-type", b"application/octet-stream"),
            ("content-disposition", &value),
        ];
        let (status, answer) = call(Method::POST, UPLOAD, &headers, file.clone());
        prop_assert_eq!(status, 200, "{}", show(&answer));
        assert_stored(&answer, &file)?;
    }

    /// Any JSON document as a ServiceRequest, or as a FileDataRequest of a list or a
    /// delete, is answered without a 5xx.
    #[test]
    fn json_requests_are_never_5xx(doc in any_json()) {
        let body = serde_json::to_vec(&doc).unwrap();
        for path in JSON_PATHS {
            let (status, answer) = post_json(path, body.clone());
            prop_assert!(!status.is_server_error(), "{}: {}: {}", path, status, show(&answer));
        }
    }

    /// Bytes that are not JSON are a 400 on every JSON endpoint.
    #[test]
    fn bodies_that_are_not_json_are_400(body in prop::collection::vec(any::<u8>(), 1..512)) {
        prop_assume!(serde_json::from_slice::<Value>(&body).is_err());
        prop_assume!(!body.iter().all(u8::is_ascii_whitespace));
        for path in JSON_PATHS {
            let (status, answer) = post_json(path, body.clone());
            prop_assert_eq!(status, 400, "{}: {}", path, show(&answer));
        }
    }

    /// Random bytes named `.zip` or `.json` are a 4xx deployment.
    #[test]
    fn random_deployment_files_are_4xx(
        bytes in prop::collection::vec(any::<u8>(), 1..2048),
        zip in any::<bool>(),
    ) {
        let (status, answer) = deploy(if zip { "r.zip" } else { "r.json" }, &bytes);
        prop_assert!(status.is_client_error(), "{}: {}", status, show(&answer));
    }

    /// A valid archive cut short is a 4xx.
    #[test]
    fn truncated_archives_are_4xx(
        extra in prop::collection::vec(any::<u8>(), 0..4096),
        deflate in any::<bool>(),
        cut in any::<prop::sample::Index>(),
    ) {
        let entries = [
            ("Prop.json".to_owned(), definition("PropCut")),
            ("data/x.bin".to_owned(), extra),
        ];
        let z = zip_of(&entries, deflate);
        let cut = cut.index(z.len());
        let (status, answer) = deploy("cut.zip", &z[..cut]);
        prop_assert!(
            status.is_client_error(),
            "cut at {} of {}: {}: {}", cut, z.len(), status, show(&answer)
        );
    }

    /// Archives with any entry names deploy (201, then undeployed) or are a 4xx.
    #[test]
    fn archives_with_any_entry_names_are_201_or_4xx(
        names in prop::collection::vec(prop_oneof![
            tricky_text(true),
            Just("../escape.sh".to_owned()),
            Just("/abs/path".to_owned()),
            Just("a//b".to_owned()),
            Just("C:\\win.txt".to_owned()),
            "[a-z]{300}",
            "([a-z]{4}/){300}",
        ], 0..5),
        deflate in any::<bool>(),
    ) {
        let mut entries = vec![("PropNames.json".to_owned(), definition("PropNames"))];
        entries.extend(names.into_iter().map(|n| (n, b"data".to_vec())));
        let z = zip_of(&entries, deflate);
        let (status, answer) = deploy("names.zip", &z);
        let ok = status == StatusCode::CREATED || status.is_client_error();
        prop_assert!(ok, "{}: {}", status, show(&answer));
    }
}
