//! The `http` process as a definition writes it: one outbound request per execution,
//! templated from the execution's inputs, configuration values and process properties,
//! authenticated from the OAuth provider store or a configuration value, its JSON answer
//! mapped to outputs (message actions) or objects (table loads) by JSON pointer.
//!
//! ```json
//! "process": {"http": {
//!   "method": "POST", "url": "https://erp.example/orders/{Order Id}",
//!   "headers": {"X-Tenant": "{tenantId}"},
//!   "body": {"json": {"id": "{Order Id}", "region": "{Region}"}},
//!   "auth": {"oauth": {"connector": "erp", "provider": "ERP", "grant": "client_credentials",
//!                      "tokenUrl": "https://erp.example/oauth/token", "scope": "orders"}},
//!   "outputs": {"Status": "/status", "Approved At": "/approvedAt"},
//!   "timeoutMs": 10000, "retries": 2
//! }}
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One outbound HTTP request per execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpProcessDefinition {
    /// The request method: `GET`, `POST`, `PUT`, `PATCH`, `DELETE`, `HEAD`. Default `GET`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// An `http://` or `https://` URL; `{name}` placeholders are filled from inputs,
    /// configuration values and process properties, percent-encoded.
    pub url: String,
    /// Request headers; values are templated like the URL (not encoded, but a value
    /// holding a line break is refused when the call is made).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// The request body, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<HttpBodyDefinition>,
    /// How the request authenticates, if it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<HttpAuthDefinition>,
    /// Output name → JSON pointer into the answer (`"/status"`). Message actions.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub outputs: BTreeMap<String, String>,
    /// Where a table load finds its objects in the answer. Table loads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objects: Option<HttpObjectsDefinition>,
    /// The longest the request may take, answer included, in ms. Default: the outbound
    /// client's `--request-timeout`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// How many times a failed attempt is tried again (transport failures, 5xx, 429),
    /// with back-off. Only for idempotent methods unless `retryNonIdempotent`. Default 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
    /// Retry `POST` and `PATCH` too. Default false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub retry_non_idempotent: bool,
    /// The largest answer body read, in bytes; a larger one fails the execution (502).
    /// Default 10 MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_answer_bytes: Option<u64>,
}

/// The body of an `http` request: exactly one of `json`, `text`, `form`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpBodyDefinition {
    /// A JSON document whose string values are templates; each value is JSON-escaped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<Value>,
    /// A text template, sent as it is filled in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Form fields (`application/x-www-form-urlencoded`), values templated and encoded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub form: Option<BTreeMap<String, String>>,
    /// The `Content-Type` of a `text` body. Default `text/plain; charset=utf-8`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
}

/// How an `http` request authenticates: exactly one of the fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpAuthDefinition {
    /// OAuth 2 client credentials of a provider of the OAuth provider store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth: Option<OAuthReference>,
    /// A static bearer token: a template, usually `{Api Token}` naming a Password
    /// configuration value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer: Option<String>,
    /// HTTP Basic: `{"username": "…", "password": "{Password}"}`, both templates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic: Option<BasicAuthDefinition>,
    /// An API key header: `{"header": "X-Api-Key", "value": "{Api Key}"}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<ApiKeyDefinition>,
}

/// HTTP Basic credentials of an `http` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BasicAuthDefinition {
    /// The user name template.
    pub username: String,
    /// The password template.
    pub password: String,
}

/// An API key sent in a header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApiKeyDefinition {
    /// The header name.
    pub header: String,
    /// The value template.
    pub value: String,
}

/// An OAuth provider of the store, and how its token is obtained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OAuthReference {
    /// The connector configuration name (`jira`).
    pub connector: String,
    /// The provider name within it (`JIRA`).
    pub provider: String,
    /// The grant: `client_credentials` (the one supported).
    #[serde(default = "client_credentials")]
    pub grant: String,
    /// The token endpoint, `http://` or `https://`.
    pub token_url: String,
    /// The scope asked for, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// How the client authenticates to the token endpoint: `basic` (HTTP Basic with the
    /// form-urlencoded id and secret, RFC 6749 §2.3.1) or `form` (`client_id` and
    /// `client_secret` in the request body). Default `basic`.
    #[serde(default, skip_serializing_if = "ClientAuth::is_basic")]
    pub client_auth: ClientAuth,
    /// Extra parameters of the provider (its keys besides `CLIENT_ID` and
    /// `CLIENT_SECRET`, such as `audience`) sent as form fields of the token request.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub token_parameters: Vec<String>,
}

fn client_credentials() -> String {
    "client_credentials".to_owned()
}

/// How a client authenticates to an OAuth token endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientAuth {
    /// `Authorization: Basic base64(urlencode(id):urlencode(secret))`.
    #[default]
    Basic,
    /// `client_id` and `client_secret` as form fields of the body.
    Form,
}

impl ClientAuth {
    fn is_basic(&self) -> bool {
        *self == ClientAuth::Basic
    }
}

/// Where a table load finds its objects in an `http` answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpObjectsDefinition {
    /// The JSON pointer of the array of objects (`""` for an answer that is the array).
    pub pointer: String,
    /// Property name → JSON pointer inside each element (`"/name"`).
    pub properties: BTreeMap<String, String>,
    /// The JSON pointer of a boolean saying that more objects follow (the load answers
    /// `hasMoreResults`); default: none follow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_more_results: Option<String>,
}

/// One piece of a template: text sent as it is, or a `{name}` placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplatePart {
    /// Literal text (`{{` and `}}` already turned into `{` and `}`).
    Text(String),
    /// The name between `{` and `}`.
    Name(String),
}

/// Splits a template of an `http` process into text and `{name}` placeholders. `{{` and
/// `}}` stand for literal braces; a `}` on its own is literal too.
///
/// # Errors
///
/// A `{` that is not closed, or an empty placeholder `{}`, in words.
pub fn parse_template(template: &str) -> Result<Vec<TemplatePart>, String> {
    let mut parts = Vec::new();
    let mut text = String::new();
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        text.push_str(&rest[..i]);
        let brace = rest.as_bytes()[i];
        let after = &rest[i + 1..];
        if brace == b'}' {
            text.push('}');
            rest = after.strip_prefix('}').unwrap_or(after);
            continue;
        }
        if let Some(more) = after.strip_prefix('{') {
            text.push('{');
            rest = more;
            continue;
        }
        let Some(end) = after.find('}') else {
            return Err(format!(
                "the '{{' at byte {i} is not closed by '}}' (write '{{{{' for a literal brace)"
            ));
        };
        let name = &after[..end];
        if name.is_empty() {
            return Err("'{}' names nothing (write '{{}}' for literal braces)".into());
        }
        if name.contains('{') {
            return Err(format!(
                "the placeholder '{{{name}}}' holds a '{{' (write '{{{{' for a literal brace)"
            ));
        }
        if !text.is_empty() {
            parts.push(TemplatePart::Text(std::mem::take(&mut text)));
        }
        parts.push(TemplatePart::Name(name.to_owned()));
        rest = &after[end + 1..];
    }
    text.push_str(rest);
    if !text.is_empty() {
        parts.push(TemplatePart::Text(text));
    }
    Ok(parts)
}

/// The request methods an `http` process may use.
pub const HTTP_METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"];

/// Process properties a template of an `http` process may name besides inputs and
/// configuration values (`search`, `limit`, `offset` on table loads only).
pub const TEMPLATE_PROPERTIES: &[&str] = &["token", "tenantId", "stateId", "callbackUri", "user"];

/// The filter fields a template of a table load may name.
pub const LOAD_TEMPLATE_FIELDS: &[&str] = &["search", "limit", "offset"];

/// The longest connector or provider name of the OAuth provider store, in bytes.
pub const MAX_OAUTH_NAME_BYTES: usize = 128;

/// Whether `name` may be a connector or provider name of the OAuth provider store: 1 to
/// [`MAX_OAUTH_NAME_BYTES`] bytes of letters, digits, `_`, `-`, `.` (names appear in
/// URLs of the admin API and in definitions).
pub fn valid_oauth_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_OAUTH_NAME_BYTES
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}
