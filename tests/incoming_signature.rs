//! Webhook signatures of the incoming API over real sockets: an anonymous action whose
//! `"api": {"signature": …}` is its only credential, its secret set through
//! `PUT /api/keystore/{alias}`, called the way GitHub (`X-Hub-Signature-256: sha256=<hex>`)
//! and Stripe (`Stripe-Signature: t=<ts>,v1=<hex>`) call. A right signature runs the action
//! (200 with its outputs); a wrong, missing, stale or body-mismatched one is 401, names
//! what was wrong without echoing the signature or the secret, and runs nothing.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use fss::process::{Handler, HandlerFuture, ProcessCall, Reply};
use fss::server::ServerConfig;
use hmac::{Hmac, Mac};
use http::Method;
use serde_json::{json, Map, Value};
use sha2::Sha256;
use support::{admin_config, basic, request, Answer, TestServer};

const ADMIN: &str = "hook-admin";
const PASSWORD: &str = "hook-admin-pw-1";

/// The GitHub hook's secret and body, and their signature made by Python's `hmac`
/// (`hmac.new(secret, body, hashlib.sha256).hexdigest()`), independent of fss's code.
const GITHUB_SECRET: &str = "whsec-fss-e2e-0f3c9a";
const GITHUB_BODY: &[u8] = br#"{"zen":"Keep it logically awesome.","hook_id":42}"#;
const GITHUB_SIGNATURE: &str =
    "sha256=b4ad242db1fbb1b8ab2545dab40555de3314d1678694b0b307c91e0dce085b25";
const GITHUB_URL: &str = "/api/1/action/Hooks/Git%20Hook/trigger";

const STRIPE_SECRET: &str = "whsec_fss_e2e_7b1d52";
const STRIPE_BODY: &[u8] = br#"{"id":"evt_1NG8Du2eZvKYlo2C","type":"charge.succeeded"}"#;
const STRIPE_URL: &str = "/api/1/action/Hooks/Stripe%20Hook/trigger";

/// The headers GitHub sends beside the signature.
const GITHUB_HEADERS: [(&str, &str); 4] = [
    ("content-type", "application/json"),
    ("x-github-event", "ping"),
    ("x-github-delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
    ("user-agent", "GitHub-Hookshot/044aadd"),
];

// === helpers ===

/// Counts its calls and answers its inputs as outputs, so that a test sees whether the
/// action ran.
#[derive(Clone, Default)]
struct Hook {
    calls: Arc<AtomicUsize>,
}

impl Handler for Hook {
    fn call(&self, call: ProcessCall) -> HandlerFuture {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move { Ok(Reply::outputs(Value::Object(call.inputs))) })
    }
}

impl Hook {
    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

/// The `Hooks` service: a GitHub-style and a Stripe-style anonymous signed action, both run
/// by the handler `hook`.
fn definition() -> Value {
    json!({
        "name": "Hooks",
        "description": "Webhooks whose signature is their credential",
        "messageActions": [
            {"name": "Git Hook",
             "inputs": [{"name": "zen", "type": "String"}, {"name": "hook_id", "type": "Number"}],
             "outputs": [{"name": "zen", "type": "String"}, {"name": "hook_id", "type": "Number"}],
             "process": {"handler": "hook"},
             "api": {"allowAnonymous": true,
                     "signature": {"secretAlias": "github-hook", "header": "X-Hub-Signature-256",
                                   "algorithm": "sha256", "encoding": "hex", "prefix": "sha256=",
                                   "timestampHeader": null, "template": "{body}",
                                   "toleranceSeconds": 300}}},
            {"name": "Stripe Hook",
             "inputs": [{"name": "id", "type": "String"}, {"name": "type", "type": "String"}],
             "outputs": [{"name": "type", "type": "String"}],
             "process": {"handler": "hook"},
             "api": {"allowAnonymous": true,
                     "signature": {"secretAlias": "stripe-hook", "header": "Stripe-Signature",
                                   "format": "stripe"}}}
        ]
    })
}

/// A server mounting [`definition`] with `hook` registered, the admin API enabled and the
/// two secrets set through it.
async fn start(hook: &Hook) -> (TestServer, tempfile::TempDir) {
    let ops = tempfile::tempdir().unwrap();
    std::fs::write(
        ops.path().join("Hooks.json"),
        serde_json::to_vec_pretty(&definition()).unwrap(),
    )
    .unwrap();
    let h = hook.clone();
    let server = TestServer::start_config(
        ops.path(),
        |_| {},
        move |rt| rt.register_handler("hook", h),
        ServerConfig::default(),
    )
    .await;
    server
        .enable_admin(admin_config(ADMIN, PASSWORD))
        .await
        .expect("admin API enables");
    for (alias, secret) in [
        ("github-hook", GITHUB_SECRET),
        ("stripe-hook", STRIPE_SECRET),
    ] {
        let auth = basic(ADMIN, PASSWORD);
        let put = request(
            Method::PUT,
            &server.url(&format!("/api/keystore/{alias}")),
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
            ],
            serde_json::to_vec(&json!({"value": secret})).unwrap(),
        )
        .await;
        assert_eq!(put.status, 204, "PUT keystore {alias}: {}", text(&put));
    }
    (server, ops)
}

/// POSTs `body` to `path` with `headers`.
async fn post(server: &TestServer, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Answer {
    request(
        Method::POST,
        &server.url(path),
        headers,
        Bytes::copy_from_slice(body),
    )
    .await
}

/// The GitHub headers plus `X-Hub-Signature-256: signature` (none when `None`).
fn github_headers(signature: Option<&str>) -> Vec<(&str, &str)> {
    let mut h = GITHUB_HEADERS.to_vec();
    if let Some(s) = signature {
        h.push(("x-hub-signature-256", s));
    }
    h
}

fn text(a: &Answer) -> String {
    String::from_utf8_lossy(&a.body).into_owned()
}

/// Hex HMAC-SHA256 of `message` under `secret`, for signatures that carry the current
/// time; checked against GitHub's documented vector in [`the_test_hmac_is_githubs`].
fn hmac_hex(secret: &str, message: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(message);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A `Stripe-Signature` value signed at `t` with `secret`.
fn stripe_signature(secret: &str, t: i64, body: &[u8]) -> String {
    let mut signed = format!("{t}.").into_bytes();
    signed.extend_from_slice(body);
    format!("t={t},v1={}", hmac_hex(secret, &signed))
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The error message of an answer, whichever of the crate's error shapes it has.
fn message(a: &Answer) -> String {
    let v = a.json();
    let found = [&v["message"], &v["errorMessage"], &v["error"]["message"]]
        .into_iter()
        .find_map(Value::as_str)
        .map(str::to_owned);
    found.unwrap_or_else(|| panic!("no message in {v}"))
}

/// Asserts a 401 whose message holds `says` and none of `secrets`.
fn assert_refused(a: &Answer, says: &str, secrets: &[&str]) {
    assert_eq!(a.status, 401, "{}", text(a));
    let msg = message(a);
    assert!(msg.contains(says), "{says:?} not in {msg:?}");
    let body = text(a);
    for s in secrets {
        assert!(!body.contains(s), "the answer echoes {s:?}: {body}");
        for (name, value) in &a.headers {
            assert!(
                !value.as_bytes().windows(s.len()).any(|w| w == s.as_bytes()),
                "header {name} echoes {s:?}"
            );
        }
    }
}

/// The outputs of a 200 Success answer.
fn outputs(a: &Answer) -> Map<String, Value> {
    assert_eq!(a.status, 200, "{}", text(a));
    let v = a.json();
    assert_eq!(v["status"], "Success", "{v}");
    assert!(
        v["processId"].as_str().is_some_and(|p| !p.is_empty()),
        "{v}"
    );
    v["outputs"].as_object().cloned().expect("outputs object")
}

// === tests ===

#[test]
fn the_test_hmac_is_githubs() {
    // GitHub's documented example ("Validating webhook deliveries").
    assert_eq!(
        hmac_hex("It's a Secret to Everybody", b"Hello, World!"),
        "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    );
    assert_eq!(
        format!("sha256={}", hmac_hex(GITHUB_SECRET, GITHUB_BODY)),
        GITHUB_SIGNATURE
    );
}

#[tokio::test]
async fn github_signature_runs_the_action_and_others_are_401() {
    let hook = Hook::default();
    let (server, _ops) = start(&hook).await;
    let digest = &GITHUB_SIGNATURE["sha256=".len()..];

    // Right: 200 with the outputs, the action ran once.
    let ok = post(
        &server,
        GITHUB_URL,
        &github_headers(Some(GITHUB_SIGNATURE)),
        GITHUB_BODY,
    )
    .await;
    let out = outputs(&ok);
    assert_eq!(out["zen"], "Keep it logically awesome.");
    assert_eq!(out["hook_id"], json!(42));
    assert_eq!(hook.calls(), 1);

    // The hex digest in capitals is the same digest.
    let upper = format!("sha256={}", digest.to_uppercase());
    let ok = post(
        &server,
        GITHUB_URL,
        &github_headers(Some(&upper)),
        GITHUB_BODY,
    )
    .await;
    outputs(&ok);
    assert_eq!(hook.calls(), 2);

    // Wrong: the last digit changed (a digest of the right length).
    let wrong = format!("{}{}", &GITHUB_SIGNATURE[..GITHUB_SIGNATURE.len() - 1], "0");
    assert_ne!(wrong, GITHUB_SIGNATURE);
    let a = post(
        &server,
        GITHUB_URL,
        &github_headers(Some(&wrong)),
        GITHUB_BODY,
    )
    .await;
    assert_refused(
        &a,
        "does not match",
        &[GITHUB_SECRET, &wrong["sha256=".len()..]],
    );

    // The right signature over another body.
    let tampered = br#"{"zen":"Keep it logically awesome.","hook_id":43}"#;
    let a = post(
        &server,
        GITHUB_URL,
        &github_headers(Some(GITHUB_SIGNATURE)),
        tampered,
    )
    .await;
    assert_refused(&a, "does not match", &[GITHUB_SECRET, digest]);

    // Missing.
    let a = post(&server, GITHUB_URL, &github_headers(None), GITHUB_BODY).await;
    assert_refused(&a, "X-Hub-Signature-256", &[GITHUB_SECRET]);
    assert!(message(&a).contains("missing"), "{}", text(&a));

    // Malformed: no prefix, truncated.
    let a = post(
        &server,
        GITHUB_URL,
        &github_headers(Some(digest)),
        GITHUB_BODY,
    )
    .await;
    assert_refused(&a, "malformed", &[GITHUB_SECRET, digest]);
    let truncated = &GITHUB_SIGNATURE[..GITHUB_SIGNATURE.len() - 8];
    let a = post(
        &server,
        GITHUB_URL,
        &github_headers(Some(truncated)),
        GITHUB_BODY,
    )
    .await;
    assert_refused(
        &a,
        "malformed",
        &[GITHUB_SECRET, &truncated["sha256=".len()..]],
    );

    // Signed with another secret.
    let other = format!("sha256={}", hmac_hex("not-the-secret", GITHUB_BODY));
    let a = post(
        &server,
        GITHUB_URL,
        &github_headers(Some(&other)),
        GITHUB_BODY,
    )
    .await;
    assert_refused(&a, "does not match", &[GITHUB_SECRET]);

    // None of the refusals ran the action.
    assert_eq!(hook.calls(), 2);
    server.stop().await;
}

#[tokio::test]
async fn stripe_signature_runs_the_action_and_stale_or_wrong_ones_are_401() {
    let hook = Hook::default();
    let (server, _ops) = start(&hook).await;
    let json = [("content-type", "application/json")];

    // Right, signed now.
    let sig = stripe_signature(STRIPE_SECRET, now(), STRIPE_BODY);
    let h = [json[0], ("stripe-signature", sig.as_str())];
    let out = outputs(&post(&server, STRIPE_URL, &h, STRIPE_BODY).await);
    assert_eq!(out["type"], "charge.succeeded");
    assert_eq!(hook.calls(), 1);

    // While a secret is rolled Stripe sends two v1 digests (and a v0 that is ignored): any
    // matching v1 accepts.
    let t = now();
    let old = stripe_signature("whsec_the_old_one", t, STRIPE_BODY);
    let new = stripe_signature(STRIPE_SECRET, t, STRIPE_BODY);
    let both = format!(
        "{old},{},v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39",
        new.split_once(',').unwrap().1
    );
    let h = [json[0], ("stripe-signature", both.as_str())];
    outputs(&post(&server, STRIPE_URL, &h, STRIPE_BODY).await);
    assert_eq!(hook.calls(), 2);

    // Stale (ten minutes ago) and from the future, though rightly signed for their t.
    for t in [now() - 600, now() + 600] {
        let sig = stripe_signature(STRIPE_SECRET, t, STRIPE_BODY);
        let h = [json[0], ("stripe-signature", sig.as_str())];
        let a = post(&server, STRIPE_URL, &h, STRIPE_BODY).await;
        let v1 = sig.split_once("v1=").unwrap().1;
        assert_refused(&a, "outside the tolerance of 300 s", &[STRIPE_SECRET, v1]);
    }

    // The old secret's digest alone; another body.
    let h = [json[0], ("stripe-signature", old.as_str())];
    let a = post(&server, STRIPE_URL, &h, STRIPE_BODY).await;
    assert_refused(&a, "does not match", &[STRIPE_SECRET]);
    let sig = stripe_signature(STRIPE_SECRET, now(), STRIPE_BODY);
    let h = [json[0], ("stripe-signature", sig.as_str())];
    let a = post(
        &server,
        STRIPE_URL,
        &h,
        br#"{"id":"evt_2","type":"charge.failed"}"#,
    )
    .await;
    assert_refused(&a, "does not match", &[STRIPE_SECRET]);

    // Missing, and without its v1.
    let a = post(&server, STRIPE_URL, &json, STRIPE_BODY).await;
    assert_refused(&a, "Stripe-Signature", &[STRIPE_SECRET]);
    let t_only = format!("t={}", now());
    let h = [json[0], ("stripe-signature", t_only.as_str())];
    let a = post(&server, STRIPE_URL, &h, STRIPE_BODY).await;
    assert_refused(&a, "no v1=", &[STRIPE_SECRET]);

    // The GitHub action's signature does not open the Stripe action, nor the reverse.
    let h = [json[0], ("x-hub-signature-256", GITHUB_SIGNATURE)];
    let a = post(&server, STRIPE_URL, &h, GITHUB_BODY).await;
    assert_refused(&a, "Stripe-Signature", &[STRIPE_SECRET]);

    assert_eq!(hook.calls(), 2, "no refusal ran the action");
    server.stop().await;
}

#[tokio::test]
async fn replacing_the_secret_invalidates_old_signatures() {
    let hook = Hook::default();
    let (server, _ops) = start(&hook).await;
    let auth = basic(ADMIN, PASSWORD);
    let put = request(
        Method::PUT,
        &server.url("/api/keystore/github-hook"),
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        serde_json::to_vec(&json!({"value": "whsec-rotated-9e41"})).unwrap(),
    )
    .await;
    assert_eq!(put.status, 204, "{}", text(&put));

    let a = post(
        &server,
        GITHUB_URL,
        &github_headers(Some(GITHUB_SIGNATURE)),
        GITHUB_BODY,
    )
    .await;
    assert_refused(&a, "does not match", &["whsec-rotated-9e41"]);
    let fresh = format!("sha256={}", hmac_hex("whsec-rotated-9e41", GITHUB_BODY));
    let ok = post(
        &server,
        GITHUB_URL,
        &github_headers(Some(&fresh)),
        GITHUB_BODY,
    )
    .await;
    assert_eq!(outputs(&ok)["zen"], "Keep it logically awesome.");
    assert_eq!(hook.calls(), 1);
    server.stop().await;
}
