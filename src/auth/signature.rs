//! Webhook signatures (of incoming-API actions and inbound HTTP event channels): the HMAC a sender computes over the raw body
//! with a shared secret, verified while the body is read and before anything runs.
//!
//! An action's `"api": {"signature": {…}}` or a channel's `"signature"` ([`SignatureDefinition`]) names the header that
//! carries the signature, the keystore alias of the secret, and how the sender signs:
//!
//! - **Plain** (GitHub `X-Hub-Signature-256: sha256=<hex>`, Shopify, Slack, most senders):
//!   `algorithm` `sha256` (default) or `sha1`, `encoding` `hex` (default, either case) or
//!   `base64`, an optional `prefix` that must lead the header's value, and a `template`
//!   (default `{body}`) saying what is signed; `{timestamp}` in it is the value of
//!   `timestampHeader` exactly as sent (Slack signs `v0:{timestamp}:{body}`).
//! - **Stripe** (`"format": "stripe"`, `Stripe-Signature: t=<ts>,v1=<hex>[,v1=<hex>…]`):
//!   sha256 in hex over `{t}.{body}`; any `v1` that matches accepts (Stripe sends two while
//!   a secret is rolled), other schemes (`v0`) are ignored.
//!
//! Invariants:
//! - A missing or malformed header, a timestamp outside `toleranceSeconds` (default 300, in
//!   either direction, so that a captured request cannot be replayed later nor a forged
//!   one prepared ahead) fail in [`Verifier::new`], before a byte of the body is read.
//! - The body is fed in as it arrives ([`Verifier::update`]); it is never buffered here.
//! - The digest is compared in constant time by the `hmac` crate (`verify_slice`, through
//!   `subtle`), every candidate of a Stripe header is tried, so the answer's timing says
//!   nothing about how much of a forged digest was right.
//! - Every refusal is 401 ([`Error::Unauthorized`]) with a message that names the header
//!   and says what was wrong, but never echoes the header's value or the secret.

use std::borrow::Cow;
use std::fmt;

use base64::Engine;
use hmac::{Hmac, Mac};
use http::HeaderMap;
use sha1::Sha1;
use sha2::Sha256;

use crate::definition::SignatureDefinition;
use crate::error::{Error, Result};

/// Default age a signed timestamp may have, in seconds (Stripe's and Slack's own 5 minutes).
pub(crate) const DEFAULT_TOLERANCE_SECONDS: u64 = 300;
/// Default of `template`: the raw body alone, as GitHub signs.
pub(crate) const DEFAULT_TEMPLATE: &str = "{body}";
/// The placeholder of the raw body in a template.
const BODY: &str = "{body}";
/// The placeholder of the signed timestamp in a template.
const TIMESTAMP: &str = "{timestamp}";
/// The value of `format` for Stripe's `t=…,v1=…` header.
const FORMAT_STRIPE: &str = "stripe";
/// How many `v1` signatures a Stripe header may carry: Stripe sends one, two while a secret
/// is rolled; the cap bounds the work a forged header can ask for.
const MAX_STRIPE_SIGNATURES: usize = 8;

/// The HMAC of a signature, computed while the body streams through.
#[derive(Clone)]
enum Digest {
    Sha256(Hmac<Sha256>),
    Sha1(Hmac<Sha1>),
}

/// The hash under the HMAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Algorithm {
    Sha256,
    Sha1,
}

/// How the digest is written in the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Hex,
    Base64,
}

/// Verifies one request's signature: made from the head, fed the body chunk by chunk,
/// finished once the body has ended.
pub(crate) struct Verifier {
    /// The HMAC so far: keyed with the secret, fed the template's text before `{body}`,
    /// then the body.
    mac: Digest,
    /// The digests the header carries (one, or each `v1` of a Stripe header), decoded and
    /// of the algorithm's length.
    expected: Vec<Vec<u8>>,
    /// The template's text after `{body}` (with `{timestamp}` filled in), fed at the end.
    suffix: Vec<u8>,
}

impl fmt::Debug for Verifier {
    // The MAC state and the digests stay out of logs and panics.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("candidates", &self.expected.len())
            .finish_non_exhaustive()
    }
}

// === impl Verifier ===

impl Verifier {
    /// Reads the signature (and signed timestamp) from the request's head and keys the HMAC
    /// with `secret`. `now_unix` is the current time in Unix seconds.
    ///
    /// # Errors
    ///
    /// [`Error::Unauthorized`] (401) at once when the signature header is missing or
    /// malformed, or the signed timestamp is missing, malformed or outside
    /// `toleranceSeconds` — before the body is read. [`Error::Internal`] when the definition
    /// is one [`check`] refuses or the secret is empty (deployments are checked, so neither
    /// is the caller's fault).
    pub(crate) fn new(
        def: &SignatureDefinition,
        headers: &HeaderMap,
        secret: &[u8],
        now_unix: i64,
    ) -> Result<Verifier> {
        let scheme = Scheme::of(def).map_err(|(field, msg)| {
            Error::internal(format!(
                "the signature definition is invalid: {field}: {msg}"
            ))
        })?;
        if secret.is_empty() {
            return Err(Error::internal(format!(
                "the signature secret (keystore alias '{}') is empty",
                def.secret_alias
            )));
        }
        let header = &def.header;
        let value = single_header(headers, header)?;
        let tolerance = def.tolerance_seconds.unwrap_or(DEFAULT_TOLERANCE_SECONDS);
        let (expected, prefix, suffix) = match &scheme {
            Scheme::Stripe => {
                let (t, v1) = parse_stripe(header, value)?;
                check_fresh(header, t, now_unix, tolerance)?;
                let mut prefix = Vec::with_capacity(t.len() + 1);
                prefix.extend_from_slice(t.as_bytes());
                prefix.push(b'.');
                (v1, prefix, Vec::new())
            }
            Scheme::Plain {
                algorithm,
                encoding,
                prefix,
                timestamp_header,
                before,
                after,
            } => {
                let digest = parse_plain(header, value, *algorithm, *encoding, prefix)?;
                let timestamp = match timestamp_header {
                    Some(name) => {
                        let ts = single_header(headers, name)?;
                        check_fresh(name, ts, now_unix, tolerance)?;
                        ts
                    }
                    None => "",
                };
                (
                    vec![digest],
                    before.replace(TIMESTAMP, timestamp).into_bytes(),
                    after.replace(TIMESTAMP, timestamp).into_bytes(),
                )
            }
        };
        let mut mac = match scheme.algorithm() {
            Algorithm::Sha256 => Digest::Sha256(
                Hmac::new_from_slice(secret).expect("HMAC takes a key of any length"),
            ),
            Algorithm::Sha1 => {
                Digest::Sha1(Hmac::new_from_slice(secret).expect("HMAC takes a key of any length"))
            }
        };
        mac.update(&prefix);
        Ok(Verifier {
            mac,
            expected,
            suffix,
        })
    }

    /// Feeds the next chunk of the raw body, as it is read.
    pub(crate) fn update(&mut self, chunk: &[u8]) {
        self.mac.update(chunk);
    }

    /// Ends the body and compares the HMAC with the header's digest(s) in constant time.
    ///
    /// # Errors
    ///
    /// [`Error::Unauthorized`] (401) when no digest matches.
    pub(crate) fn finish(self) -> Result<()> {
        let Verifier {
            mut mac,
            expected,
            suffix,
        } = self;
        mac.update(&suffix);
        // Every candidate is compared, whether or not an earlier one matched.
        let matched = expected
            .iter()
            .fold(false, |ok, digest| mac.clone().verify(digest) | ok);
        if matched {
            Ok(())
        } else {
            Err(Error::Unauthorized(
                "the request's signature does not match its body".into(),
            ))
        }
    }
}

// === impl Digest ===

impl Digest {
    fn update(&mut self, data: &[u8]) {
        match self {
            Digest::Sha256(m) => m.update(data),
            Digest::Sha1(m) => m.update(data),
        }
    }

    /// Constant-time comparison (`subtle`, inside `verify_slice`); a digest of another
    /// length never matches.
    fn verify(self, digest: &[u8]) -> bool {
        match self {
            Digest::Sha256(m) => m.verify_slice(digest).is_ok(),
            Digest::Sha1(m) => m.verify_slice(digest).is_ok(),
        }
    }
}

impl Algorithm {
    /// The length of its digest in bytes.
    fn len(self) -> usize {
        match self {
            Algorithm::Sha256 => 32,
            Algorithm::Sha1 => 20,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha1 => "sha1",
        }
    }
}

/// A signature definition, checked and resolved to what the verifier does.
enum Scheme<'d> {
    /// `t=<ts>,v1=<hex>…`, sha256 over `{t}.{body}`.
    Stripe,
    /// One digest in the header, over the template.
    Plain {
        algorithm: Algorithm,
        encoding: Encoding,
        /// What must lead the header's value (empty: nothing).
        prefix: &'d str,
        /// The header of `{timestamp}`, when the template signs one.
        timestamp_header: Option<&'d str>,
        /// The template before `{body}`.
        before: &'d str,
        /// The template after `{body}`.
        after: &'d str,
    },
}

/// A refused field of a signature definition: its name (camelCase, as written) and why.
type Refusal = (&'static str, Cow<'static, str>);

impl<'d> Scheme<'d> {
    fn of(def: &'d SignatureDefinition) -> std::result::Result<Scheme<'d>, Refusal> {
        if def.secret_alias.is_empty() {
            return Err(("secretAlias", "names no keystore alias".into()));
        }
        if http::HeaderName::from_bytes(def.header.as_bytes()).is_err() {
            return Err(("header", "is not a header name".into()));
        }
        if let Some(name) = &def.timestamp_header {
            if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                return Err(("timestampHeader", "is not a header name".into()));
            }
        }
        let algorithm = match def.algorithm.as_deref() {
            None => Algorithm::Sha256,
            Some(a) if a.eq_ignore_ascii_case("sha256") => Algorithm::Sha256,
            Some(a) if a.eq_ignore_ascii_case("sha1") => Algorithm::Sha1,
            Some(_) => return Err(("algorithm", "must be \"sha256\" or \"sha1\"".into())),
        };
        let encoding = match def.encoding.as_deref() {
            None => Encoding::Hex,
            Some(e) if e.eq_ignore_ascii_case("hex") => Encoding::Hex,
            Some(e) if e.eq_ignore_ascii_case("base64") => Encoding::Base64,
            Some(_) => return Err(("encoding", "must be \"hex\" or \"base64\"".into())),
        };
        match def.format.as_deref() {
            None => {}
            Some(FORMAT_STRIPE) => {
                // Stripe fixes everything but the header, the secret and the tolerance;
                // a field that says otherwise is a mistake, not a wish.
                if algorithm != Algorithm::Sha256 || encoding != Encoding::Hex {
                    return Err((
                        "format",
                        "\"stripe\" signs with sha256 in hex: leave algorithm and encoding out"
                            .into(),
                    ));
                }
                if def.prefix.as_deref().is_some_and(|p| !p.is_empty()) {
                    return Err(("prefix", "is not used with format \"stripe\"".into()));
                }
                if def.timestamp_header.is_some() {
                    return Err((
                        "timestampHeader",
                        "is not used with format \"stripe\": the timestamp is the header's t="
                            .into(),
                    ));
                }
                if def
                    .template
                    .as_deref()
                    .is_some_and(|t| t != "{timestamp}.{body}")
                {
                    return Err((
                        "template",
                        "is not used with format \"stripe\", which signs {timestamp}.{body}".into(),
                    ));
                }
                return Ok(Scheme::Stripe);
            }
            Some(_) => return Err(("format", "must be \"stripe\" or left out".into())),
        }
        let template = def.template.as_deref().unwrap_or(DEFAULT_TEMPLATE);
        let Some((before, after)) = template.split_once(BODY) else {
            return Err(("template", "must contain {body} once".into()));
        };
        if after.contains(BODY) {
            return Err(("template", "must contain {body} once".into()));
        }
        if let Some(unknown) = unknown_placeholder(before).or_else(|| unknown_placeholder(after)) {
            return Err((
                "template",
                format!("knows only {{body}} and {{timestamp}}, not {{{unknown}}}").into(),
            ));
        }
        let signs_timestamp = template.contains(TIMESTAMP);
        let timestamp_header = match (&def.timestamp_header, signs_timestamp) {
            (Some(name), true) => Some(name.as_str()),
            (None, false) => None,
            (None, true) => {
                return Err((
                    "timestampHeader",
                    "must name the header of {timestamp}, which the template signs".into(),
                ))
            }
            // A timestamp that is not signed can be changed by anyone: checking it would
            // only look like replay protection.
            (Some(_), false) => {
                return Err((
                    "template",
                    "must sign {timestamp} when timestampHeader is set".into(),
                ))
            }
        };
        Ok(Scheme::Plain {
            algorithm,
            encoding,
            prefix: def.prefix.as_deref().unwrap_or(""),
            timestamp_header,
            before,
            after,
        })
    }

    fn algorithm(&self) -> Algorithm {
        match self {
            Scheme::Stripe => Algorithm::Sha256,
            Scheme::Plain { algorithm, .. } => *algorithm,
        }
    }
}

/// The first `{name}` in `text` other than `{timestamp}`, so that a typo such as
/// `{timestmap}` is refused instead of signed literally.
fn unknown_placeholder(text: &str) -> Option<&str> {
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let tail = &rest[open + 1..];
        let close = tail.find('}')?;
        let name = &tail[..close];
        if !name.is_empty()
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && name != "timestamp"
        {
            return Some(name);
        }
        rest = &tail[close + 1..];
    }
    None
}

/// The one value of header `name`, as text.
fn single_header<'h>(headers: &'h HeaderMap, name: &str) -> Result<&'h str> {
    let mut values = headers.get_all(name).iter();
    let Some(value) = values.next() else {
        return Err(Error::Unauthorized(
            format!("the {name} header is missing: this action requires a signed request").into(),
        ));
    };
    if values.next().is_some() {
        return Err(malformed(name, "it is sent more than once"));
    }
    value
        .to_str()
        .map(str::trim)
        .map_err(|_| malformed(name, "it is not visible ASCII"))
}

fn malformed(name: &str, why: &str) -> Error {
    Error::Unauthorized(format!("the {name} header is malformed: {why}").into())
}

/// The digest of a plain header: `prefix` then the digest in `encoding`, of the
/// algorithm's exact length.
fn parse_plain(
    name: &str,
    value: &str,
    algorithm: Algorithm,
    encoding: Encoding,
    prefix: &str,
) -> Result<Vec<u8>> {
    let Some(encoded) = value.strip_prefix(prefix) else {
        return Err(malformed(
            name,
            &format!("it does not start with '{prefix}'"),
        ));
    };
    let digest = match encoding {
        Encoding::Hex => decode_hex(encoded),
        Encoding::Base64 => base64::engine::general_purpose::STANDARD_PAD_INDIFFERENT
            .decode(encoded)
            .ok(),
    };
    match digest {
        Some(d) if d.len() == algorithm.len() => Ok(d),
        _ => {
            let (what, len) = match encoding {
                Encoding::Hex => ("hex digits", algorithm.len() * 2),
                Encoding::Base64 => ("bytes in base64", algorithm.len()),
            };
            Err(malformed(
                name,
                &format!(
                    "expected {prefix}{len} {what} of a {} HMAC",
                    algorithm.name()
                ),
            ))
        }
    }
}

/// The `t` and the `v1` digests of a `Stripe-Signature` header.
fn parse_stripe<'v>(name: &str, value: &'v str) -> Result<(&'v str, Vec<Vec<u8>>)> {
    const SHAPE: &str = "expected t=<unix seconds>,v1=<64 hex digits>";
    let mut t = None;
    let mut v1 = Vec::new();
    for item in value.split(',') {
        let Some((key, val)) = item.split_once('=') else {
            return Err(malformed(name, SHAPE));
        };
        match key.trim() {
            "t" if t.is_none() => t = Some(val.trim()),
            "t" => return Err(malformed(name, "it carries t= more than once")),
            "v1" => {
                if v1.len() == MAX_STRIPE_SIGNATURES {
                    return Err(malformed(name, "it carries too many v1 signatures"));
                }
                match decode_hex(val.trim()) {
                    Some(d) if d.len() == Algorithm::Sha256.len() => v1.push(d),
                    _ => return Err(malformed(name, SHAPE)),
                }
            }
            // Other schemes (v0, Stripe's test-mode digest) are not verified.
            _ => {}
        }
    }
    let Some(t) = t else {
        return Err(malformed(name, "it carries no t= timestamp"));
    };
    if v1.is_empty() {
        return Err(malformed(name, "it carries no v1= signature"));
    }
    Ok((t, v1))
}

/// Whether the signed timestamp `ts` (Unix seconds, decimal digits) of header `name` is
/// within `tolerance` seconds of `now`, in either direction.
fn check_fresh(name: &str, ts: &str, now: i64, tolerance: u64) -> Result<()> {
    let parsed = if !ts.is_empty() && ts.len() <= 18 && ts.bytes().all(|b| b.is_ascii_digit()) {
        ts.parse::<i64>().ok()
    } else {
        None
    };
    let Some(ts) = parsed else {
        return Err(malformed(name, "its timestamp is not Unix seconds"));
    };
    if now.abs_diff(ts) > tolerance {
        return Err(Error::Unauthorized(
            format!(
                "the signed timestamp of {name} is outside the tolerance of {tolerance} s: \
                 the request is stale or its clock is wrong"
            )
            .into(),
        ));
    }
    Ok(())
}

/// Hex digits (either case) to bytes; `None` on anything else or an odd count.
fn decode_hex(text: &str) -> Option<Vec<u8>> {
    fn nibble(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        }
    }
    let bytes = text.as_bytes();
    if bytes.len() % 2 != 0 {
        return None;
    }
    bytes
        .chunks_exact(2)
        .map(|pair| Some(nibble(pair[0])? << 4 | nibble(pair[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use http::{HeaderMap, HeaderValue};

    use super::*;

    /// GitHub's documented example ("Validating webhook deliveries").
    const GITHUB_SECRET: &[u8] = b"It's a Secret to Everybody";
    const GITHUB_BODY: &[u8] = b"Hello, World!";
    const GITHUB_SHA256: &str =
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    /// The same example signed with sha1 (`X-Hub-Signature`), by Python's `hmac`.
    const GITHUB_SHA1: &str = "sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59";
    /// The same example's sha256 in base64, by Python's `hmac` and `base64`.
    const GITHUB_BASE64: &str = "dXEH6g6yUJ/CESIczphLijdXC211hsIsRvQ3nIsEPhc=";

    /// A Stripe-format header made by Python's `hmac` over `1700000000.` + the body.
    const STRIPE_SECRET: &[u8] = b"whsec_test_5ecret";
    const STRIPE_BODY: &[u8] = br#"{"id":"evt_1","object":"event","type":"charge.succeeded"}"#;
    const STRIPE_T: i64 = 1_700_000_000;
    const STRIPE_V1: &str = "379a7f71a0533d7db5ab83b8ca1dafa18273acea093afb110a30bb3572678cb2";
    /// The same payload signed with another secret (`whsec_old`), as during a roll.
    const STRIPE_V1_OLD: &str = "4ac86b053af9428b6165e57621473203ede6cf2d8d7d3069c4230356ab067178";

    /// Slack's documented example ("Verifying requests from Slack"): `v0:{timestamp}:{body}`.
    const SLACK_SECRET: &[u8] = b"8f742231b10e8888abcd99yyyzzz85a5";
    const SLACK_TS: &str = "1531420618";
    const SLACK_BODY: &[u8] = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const SLACK_SIGNATURE: &str =
        "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    const NOW: i64 = 1_700_000_100;

    fn github() -> SignatureDefinition {
        SignatureDefinition {
            secret_alias: "github-hook".into(),
            header: "X-Hub-Signature-256".into(),
            algorithm: Some("sha256".into()),
            encoding: Some("hex".into()),
            prefix: Some("sha256=".into()),
            timestamp_header: None,
            template: Some("{body}".into()),
            tolerance_seconds: Some(300),
            format: None,
        }
    }

    fn stripe() -> SignatureDefinition {
        SignatureDefinition {
            secret_alias: "stripe-hook".into(),
            header: "Stripe-Signature".into(),
            algorithm: None,
            encoding: None,
            prefix: None,
            timestamp_header: None,
            template: None,
            tolerance_seconds: None,
            format: Some("stripe".into()),
        }
    }

    fn slack() -> SignatureDefinition {
        SignatureDefinition {
            secret_alias: "slack".into(),
            header: "X-Slack-Signature".into(),
            prefix: Some("v0=".into()),
            timestamp_header: Some("X-Slack-Request-Timestamp".into()),
            template: Some("v0:{timestamp}:{body}".into()),
            algorithm: None,
            encoding: None,
            tolerance_seconds: None,
            format: None,
        }
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.append(*name, HeaderValue::from_str(value).unwrap());
        }
        h
    }

    /// Verifies `body` in one piece.
    fn verify(
        def: &SignatureDefinition,
        h: &HeaderMap,
        secret: &[u8],
        now: i64,
        body: &[u8],
    ) -> Result<()> {
        let mut v = Verifier::new(def, h, secret, now)?;
        v.update(body);
        v.finish()
    }

    /// The 401 message of a refusal.
    fn refusal(r: Result<impl fmt::Debug>) -> String {
        match r {
            Err(e @ Error::Unauthorized(_)) => e.to_string(),
            other => panic!("expected a 401, got {other:?}"),
        }
    }

    fn stripe_header(t: i64, v1s: &[&str]) -> String {
        let mut s = format!("t={t}");
        for v in v1s {
            s.push_str(",v1=");
            s.push_str(v);
        }
        s
    }

    #[test]
    fn github_documented_example_verifies() {
        let h = headers(&[("x-hub-signature-256", GITHUB_SHA256)]);
        verify(&github(), &h, GITHUB_SECRET, NOW, GITHUB_BODY).unwrap();
        // The defaults (sha256, hex, {body}) are GitHub's too.
        let mut bare = github();
        (
            bare.algorithm,
            bare.encoding,
            bare.template,
            bare.tolerance_seconds,
        ) = (None, None, None, None);
        verify(&bare, &h, GITHUB_SECRET, NOW, GITHUB_BODY).unwrap();
    }

    #[test]
    fn hex_digest_is_case_insensitive() {
        let upper = format!("sha256={}", GITHUB_SHA256["sha256=".len()..].to_uppercase());
        let h = headers(&[("X-Hub-Signature-256", &upper)]);
        verify(&github(), &h, GITHUB_SECRET, NOW, GITHUB_BODY).unwrap();
    }

    #[test]
    fn chunked_update_equals_one_shot() {
        let h = headers(&[("X-Hub-Signature-256", GITHUB_SHA256)]);
        for split in 0..=GITHUB_BODY.len() {
            let mut v = Verifier::new(&github(), &h, GITHUB_SECRET, NOW).unwrap();
            let (a, b) = GITHUB_BODY.split_at(split);
            v.update(a);
            v.update(&[]);
            v.update(b);
            v.finish().unwrap();
        }
        let mut v = Verifier::new(&github(), &h, GITHUB_SECRET, NOW).unwrap();
        for byte in GITHUB_BODY.chunks(1) {
            v.update(byte);
        }
        v.finish().unwrap();
    }

    #[test]
    fn wrong_digest_of_the_right_length_is_a_mismatch() {
        let mut wrong = GITHUB_SHA256.to_owned();
        wrong.pop();
        wrong.push('0'); // the real digest ends in 7
        let h = headers(&[("X-Hub-Signature-256", &wrong)]);
        let v = Verifier::new(&github(), &h, GITHUB_SECRET, NOW).unwrap();
        let msg = refusal(v.finish());
        assert!(msg.contains("does not match"), "{msg}");
        assert!(
            !msg.contains(&wrong[7..]),
            "the digest is not echoed: {msg}"
        );
        // The right digest over another body, or with another secret, is refused too.
        let h = headers(&[("X-Hub-Signature-256", GITHUB_SHA256)]);
        refusal(verify(&github(), &h, GITHUB_SECRET, NOW, b"Hello, World?"));
        refusal(verify(&github(), &h, b"another secret", NOW, GITHUB_BODY));
    }

    #[test]
    fn truncated_digest_is_refused_before_the_body() {
        let truncated = &GITHUB_SHA256[..GITHUB_SHA256.len() - 2];
        let h = headers(&[("X-Hub-Signature-256", truncated)]);
        let msg = refusal(Verifier::new(&github(), &h, GITHUB_SECRET, NOW));
        assert!(
            msg.contains("malformed") && msg.contains("64 hex digits"),
            "{msg}"
        );
        assert!(!msg.contains(&truncated[7..]), "{msg}");
        // An odd count, a non-hex digit, a longer digest: malformed as well.
        for bad in [
            &GITHUB_SHA256[..GITHUB_SHA256.len() - 1],
            &format!("{}zz", &GITHUB_SHA256[..GITHUB_SHA256.len() - 2]),
            &format!("{GITHUB_SHA256}00"),
        ] {
            let h = headers(&[("X-Hub-Signature-256", bad)]);
            refusal(Verifier::new(&github(), &h, GITHUB_SECRET, NOW));
        }
    }

    #[test]
    fn missing_header_prefix_or_duplicate_is_refused_before_the_body() {
        let msg = refusal(Verifier::new(
            &github(),
            &HeaderMap::new(),
            GITHUB_SECRET,
            NOW,
        ));
        assert!(
            msg.contains("X-Hub-Signature-256 header is missing"),
            "{msg}"
        );
        // The digest alone, without the prefix the definition requires.
        let h = headers(&[("X-Hub-Signature-256", &GITHUB_SHA256[7..])]);
        let msg = refusal(Verifier::new(&github(), &h, GITHUB_SECRET, NOW));
        assert!(msg.contains("does not start with 'sha256='"), "{msg}");
        // The sha1 header's value under the sha256 definition.
        let h = headers(&[("X-Hub-Signature-256", GITHUB_SHA1)]);
        refusal(Verifier::new(&github(), &h, GITHUB_SECRET, NOW));
        // Two values: which one is signed is ambiguous.
        let h = headers(&[
            ("X-Hub-Signature-256", GITHUB_SHA256),
            ("X-Hub-Signature-256", GITHUB_SHA256),
        ]);
        let msg = refusal(Verifier::new(&github(), &h, GITHUB_SECRET, NOW));
        assert!(msg.contains("more than once"), "{msg}");
    }

    #[test]
    fn sha1_github_header_verifies() {
        let def = SignatureDefinition {
            header: "X-Hub-Signature".into(),
            algorithm: Some("sha1".into()),
            prefix: Some("sha1=".into()),
            ..github()
        };
        let h = headers(&[("X-Hub-Signature", GITHUB_SHA1)]);
        verify(&def, &h, GITHUB_SECRET, NOW, GITHUB_BODY).unwrap();
        refusal(verify(&def, &h, GITHUB_SECRET, NOW, b"Hello"));
        // A sha256 digest is too long for sha1.
        let h = headers(&[("X-Hub-Signature", &format!("sha1={}", &GITHUB_SHA256[7..]))]);
        let msg = refusal(Verifier::new(&def, &h, GITHUB_SECRET, NOW));
        assert!(msg.contains("40 hex digits of a sha1 HMAC"), "{msg}");
    }

    #[test]
    fn base64_encoding_verifies() {
        let def = SignatureDefinition {
            header: "X-Signature".into(),
            encoding: Some("base64".into()),
            prefix: None,
            ..github()
        };
        let h = headers(&[("X-Signature", GITHUB_BASE64)]);
        verify(&def, &h, GITHUB_SECRET, NOW, GITHUB_BODY).unwrap();
        // Without its padding it is the same digest.
        let h = headers(&[("X-Signature", GITHUB_BASE64.trim_end_matches('='))]);
        verify(&def, &h, GITHUB_SECRET, NOW, GITHUB_BODY).unwrap();
        // The hex form is not base64 of 32 bytes.
        let h = headers(&[("X-Signature", &GITHUB_SHA256[7..])]);
        refusal(Verifier::new(&def, &h, GITHUB_SECRET, NOW));
        refusal(verify(
            &def,
            &headers(&[("X-Signature", GITHUB_BASE64)]),
            GITHUB_SECRET,
            NOW,
            b"x",
        ));
    }

    #[test]
    fn stripe_header_verifies_any_v1_and_ignores_v0() {
        let def = stripe();
        for value in [
            stripe_header(STRIPE_T, &[STRIPE_V1]),
            stripe_header(STRIPE_T, &[STRIPE_V1_OLD, STRIPE_V1]),
            stripe_header(STRIPE_T, &[STRIPE_V1, STRIPE_V1_OLD]),
            format!("t={STRIPE_T},v1={STRIPE_V1},v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39"),
            format!("v1={STRIPE_V1}, t={STRIPE_T}"),
        ] {
            let h = headers(&[("stripe-signature", &value)]);
            verify(&def, &h, STRIPE_SECRET, NOW, STRIPE_BODY)
                .unwrap_or_else(|e| panic!("{value}: {e}"));
        }
        // The old secret's digest alone is refused under the new secret.
        let h = headers(&[(
            "Stripe-Signature",
            &stripe_header(STRIPE_T, &[STRIPE_V1_OLD]),
        )]);
        let msg = refusal(verify(&def, &h, STRIPE_SECRET, NOW, STRIPE_BODY));
        assert!(msg.contains("does not match"), "{msg}");
        // The timestamp is signed: another t with the same v1 does not match.
        let h = headers(&[(
            "Stripe-Signature",
            &stripe_header(STRIPE_T + 1, &[STRIPE_V1]),
        )]);
        refusal(verify(&def, &h, STRIPE_SECRET, NOW, STRIPE_BODY));
        // And the body is: chunked, the same; changed, refused.
        let h = headers(&[("Stripe-Signature", &stripe_header(STRIPE_T, &[STRIPE_V1]))]);
        let mut v = Verifier::new(&def, &h, STRIPE_SECRET, NOW).unwrap();
        for chunk in STRIPE_BODY.chunks(7) {
            v.update(chunk);
        }
        v.finish().unwrap();
        refusal(verify(&def, &h, STRIPE_SECRET, NOW, b"{}"));
    }

    #[test]
    fn malformed_stripe_headers_are_refused_before_the_body() {
        let def = stripe();
        for (value, says) in [
            (format!("v1={STRIPE_V1}"), "no t="),
            (format!("t={STRIPE_T}"), "no v1="),
            (format!("t={STRIPE_T},v0={STRIPE_V1}"), "no v1="),
            (
                format!("t={STRIPE_T},t={STRIPE_T},v1={STRIPE_V1}"),
                "more than once",
            ),
            (
                format!("t={STRIPE_T},v1={}", &STRIPE_V1[..63]),
                "64 hex digits",
            ),
            (format!("t={STRIPE_T},{STRIPE_V1}"), "64 hex digits"),
            (format!("t=soon,v1={STRIPE_V1}"), "not Unix seconds"),
            (format!("t=-5,v1={STRIPE_V1}"), "not Unix seconds"),
            (stripe_header(STRIPE_T, &[STRIPE_V1; 9]), "too many"),
        ] {
            let h = headers(&[("Stripe-Signature", &value)]);
            let msg = refusal(Verifier::new(&def, &h, STRIPE_SECRET, NOW));
            assert!(
                msg.contains("Stripe-Signature header is malformed"),
                "{value}: {msg}"
            );
            assert!(msg.contains(says), "{value}: {msg}");
            assert!(!msg.contains(&STRIPE_V1[..16]), "{msg}");
        }
    }

    #[test]
    fn stale_and_future_timestamps_are_refused() {
        let def = stripe();
        let h = headers(&[("Stripe-Signature", &stripe_header(STRIPE_T, &[STRIPE_V1]))]);
        // Exactly at the tolerance, either way, is still fresh.
        for now in [STRIPE_T - 300, STRIPE_T, STRIPE_T + 300] {
            verify(&def, &h, STRIPE_SECRET, now, STRIPE_BODY).unwrap();
        }
        for now in [
            STRIPE_T + 301,
            STRIPE_T - 301,
            STRIPE_T + 86_400,
            0,
            i64::MAX,
            i64::MIN,
        ] {
            let msg = refusal(Verifier::new(&def, &h, STRIPE_SECRET, now));
            assert!(
                msg.contains("outside the tolerance of 300 s"),
                "{now}: {msg}"
            );
        }
        // toleranceSeconds widens or narrows it.
        let wide = SignatureDefinition {
            tolerance_seconds: Some(3600),
            ..stripe()
        };
        verify(&wide, &h, STRIPE_SECRET, STRIPE_T + 3000, STRIPE_BODY).unwrap();
        let none = SignatureDefinition {
            tolerance_seconds: Some(0),
            ..stripe()
        };
        refusal(Verifier::new(&none, &h, STRIPE_SECRET, STRIPE_T + 1));
    }

    #[test]
    fn slack_documented_example_verifies_with_a_timestamp_template() {
        let now = 1_531_420_618 + 60;
        let h = headers(&[
            ("X-Slack-Signature", SLACK_SIGNATURE),
            ("X-Slack-Request-Timestamp", SLACK_TS),
        ]);
        let mut v = Verifier::new(&slack(), &h, SLACK_SECRET, now).unwrap();
        for chunk in SLACK_BODY.chunks(100) {
            v.update(chunk);
        }
        v.finish().unwrap();
        // Stale.
        let msg = refusal(Verifier::new(&slack(), &h, SLACK_SECRET, now + 600));
        assert!(msg.contains("X-Slack-Request-Timestamp"), "{msg}");
        // Another timestamp, in tolerance, is signed differently.
        let h2 = headers(&[
            ("X-Slack-Signature", SLACK_SIGNATURE),
            ("X-Slack-Request-Timestamp", "1531420619"),
        ]);
        refusal(verify(&slack(), &h2, SLACK_SECRET, now, SLACK_BODY));
        // Without its timestamp header.
        let h3 = headers(&[("X-Slack-Signature", SLACK_SIGNATURE)]);
        let msg = refusal(Verifier::new(&slack(), &h3, SLACK_SECRET, now));
        assert!(
            msg.contains("X-Slack-Request-Timestamp header is missing"),
            "{msg}"
        );
    }

    #[test]
    fn template_text_after_the_body_is_signed_at_the_end() {
        // Python: hmac.new(b"It's a Secret to Everybody", b"<Hello, World!>", sha256).
        let def = SignatureDefinition {
            template: Some("<{body}>".into()),
            ..github()
        };
        let h = headers(&[(
            "X-Hub-Signature-256",
            "sha256=66fae49b945f3d67301193472c45d38d08f6cbf357c095eab1978c192e665359",
        )]);
        verify(&def, &h, GITHUB_SECRET, NOW, GITHUB_BODY).unwrap();
    }

    #[test]
    fn bad_definitions_are_reported_by_field() {
        let problems = |def: SignatureDefinition| {
            let mut found = Vec::new();
            if let Err((field, msg)) = Scheme::of(&def) {
                found.push(format!("{field}: {msg}"));
            }
            found
        };
        assert!(problems(github()).is_empty());
        assert!(problems(stripe()).is_empty());
        assert!(problems(slack()).is_empty());
        for (def, want) in [
            (
                SignatureDefinition {
                    algorithm: Some("md5".into()),
                    ..github()
                },
                "algorithm:",
            ),
            (
                SignatureDefinition {
                    encoding: Some("base32".into()),
                    ..github()
                },
                "encoding:",
            ),
            (
                SignatureDefinition {
                    format: Some("svix".into()),
                    ..github()
                },
                "format:",
            ),
            (
                SignatureDefinition {
                    header: "Bad Header".into(),
                    ..github()
                },
                "header:",
            ),
            (
                SignatureDefinition {
                    secret_alias: String::new(),
                    ..github()
                },
                "secretAlias:",
            ),
            (
                SignatureDefinition {
                    template: Some("{timestamp}".into()),
                    ..github()
                },
                "template: must contain {body}",
            ),
            (
                SignatureDefinition {
                    template: Some("{body}{body}".into()),
                    ..github()
                },
                "template: must contain {body}",
            ),
            (
                SignatureDefinition {
                    template: Some("{timestmap}.{body}".into()),
                    ..github()
                },
                "{timestmap}",
            ),
            (
                SignatureDefinition {
                    template: Some("{timestamp}.{body}".into()),
                    ..github()
                },
                "timestampHeader:",
            ),
            (
                SignatureDefinition {
                    timestamp_header: Some("X-Ts".into()),
                    ..github()
                },
                "template: must sign {timestamp}",
            ),
            (
                SignatureDefinition {
                    algorithm: Some("sha1".into()),
                    ..stripe()
                },
                "format:",
            ),
            (
                SignatureDefinition {
                    prefix: Some("v1=".into()),
                    ..stripe()
                },
                "prefix:",
            ),
            (
                SignatureDefinition {
                    template: Some("{body}".into()),
                    ..stripe()
                },
                "template:",
            ),
        ] {
            let found = problems(def);
            assert!(
                found.len() == 1 && found[0].contains(want),
                "{want}: {found:?}"
            );
        }
        // Literal braces that are no placeholder are signed as they are.
        assert!(problems(SignatureDefinition {
            template: Some("{\"a\": {body}}".into()),
            ..github()
        })
        .is_empty());
        // The verifier refuses a bad definition as fss's fault, not the caller's.
        let h = headers(&[("X-Hub-Signature-256", GITHUB_SHA256)]);
        let bad = SignatureDefinition {
            algorithm: Some("md5".into()),
            ..github()
        };
        let e = Verifier::new(&bad, &h, GITHUB_SECRET, NOW).unwrap_err();
        assert!(e.is_log_only(), "{e:?}");
    }

    #[test]
    fn an_empty_secret_is_refused_as_fss_fault() {
        let h = headers(&[("X-Hub-Signature-256", GITHUB_SHA256)]);
        let e = Verifier::new(&github(), &h, b"", NOW).unwrap_err();
        assert_eq!(e.status(), 500);
        assert!(e.is_log_only());
    }

    #[test]
    fn debug_shows_no_digest() {
        let h = headers(&[("X-Hub-Signature-256", GITHUB_SHA256)]);
        let v = Verifier::new(&github(), &h, GITHUB_SECRET, NOW).unwrap();
        let shown = format!("{v:?}");
        assert_eq!(shown, "Verifier { candidates: 1, .. }");
    }
}
