//! The incoming API of a message action as a definition writes it: `"api": {…}` opts the
//! action into `POST /api/1/action/{service}/{action or alias}/trigger`, which any REST
//! client calls with plain JSON.
//!
//! ```json
//! "api": {"mode": "async", "timeoutMs": 500, "allowAnonymous": false, "alias": "run-job",
//!         "signature": {"secretAlias": "github-hook", "header": "X-Hub-Signature-256",
//!                       "algorithm": "sha256", "encoding": "hex", "prefix": "sha256=",
//!                       "timestampHeader": null, "template": "{body}",
//!                       "toleranceSeconds": 300}}
//! ```

use serde::{Deserialize, Serialize};

/// Default wait of a sync trigger before it is aborted (504), in ms.
pub const DEFAULT_SYNC_API_TIMEOUT_MS: u64 = 60_000;
/// Default wait of an async trigger before it answers 202, in ms.
pub const DEFAULT_ASYNC_API_TIMEOUT_MS: u64 = 500;

/// How a trigger answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApiMode {
    /// The answer waits for the execution, up to `timeoutMs` (then 504, or 202 with
    /// `Prefer: respond-async`).
    #[default]
    Sync,
    /// The answer waits up to `timeoutMs` in case the execution ends, else is 202 with a
    /// status URL.
    Async,
}

/// An action's incoming API.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApiDefinition {
    /// `sync` (default) or `async`.
    #[serde(default)]
    pub mode: ApiMode,
    /// How long the trigger waits, in ms; default 60 000 (sync) or 500 (async).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// Callers need no API key (the signature, if any, is then the credential); the
    /// records name "System" as the caller. Default false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_anonymous: bool,
    /// The name in the URL in place of the action's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// An HMAC of the raw body the caller must send.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<SignatureDefinition>,
}

impl ApiDefinition {
    /// How long the trigger waits, in ms.
    pub fn timeout_ms(&self) -> u64 {
        self.timeout_ms.unwrap_or(match self.mode {
            ApiMode::Sync => DEFAULT_SYNC_API_TIMEOUT_MS,
            ApiMode::Async => DEFAULT_ASYNC_API_TIMEOUT_MS,
        })
    }
}

/// The HMAC signature a trigger verifies over the raw body before anything runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignatureDefinition {
    /// The keystore alias holding the shared secret.
    pub secret_alias: String,
    /// The request header carrying the signature (`X-Hub-Signature-256`).
    pub header: String,
    /// `sha256` (default) or `sha1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<String>,
    /// `hex` (default) or `base64`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    /// What precedes the digest in the header (`sha256=`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// The request header carrying the signing time in Unix seconds, when the sender
    /// signs one (`{timestamp}` in the template).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_header: Option<String>,
    /// What is signed: `{body}` (default), or e.g. `{timestamp}.{body}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// How old a signed timestamp may be, in seconds. Default 300.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance_seconds: Option<u64>,
    /// `stripe`: the header is `t=<timestamp>,v1=<hex>[,v1=…]` and signs
    /// `{timestamp}.{body}` (Stripe-Signature).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
}
