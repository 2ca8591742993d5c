//! The load document of the OAuth provider store, checked whole: every problem is listed
//! by the keys where it is, no value is ever quoted (a value may be a secret).

use serde_json::{Map, Value};

use super::Credentials;
use crate::error::{Error, Result};

pub use crate::definition::{
    valid_oauth_name as valid_name, MAX_OAUTH_NAME_BYTES as MAX_NAME_BYTES,
};

/// The most parameters of one provider, `CLIENT_ID` and `CLIENT_SECRET` included.
pub const MAX_PARAMETERS: usize = 64;
/// The longest parameter value, in bytes.
pub const MAX_VALUE_BYTES: usize = 8 << 10;
/// The most providers one document loads.
pub const MAX_PROVIDERS: usize = 1000;

/// Whether one provider was new or replaced an earlier one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadStatus {
    /// The provider was not stored before.
    Added,
    /// The provider was stored and is now replaced.
    Updated,
}

impl LoadStatus {
    /// `added` or `updated`.
    pub fn as_str(self) -> &'static str {
        match self {
            LoadStatus::Added => "added",
            LoadStatus::Updated => "updated",
        }
    }
}

/// What a load did, provider by provider, in document order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// `(connector, provider, status)`.
    pub providers: Vec<(String, String, LoadStatus)>,
}

impl LoadReport {
    /// The seed's words: "… completed successfully", then what happened to each
    /// provider (`erp/ERP added, erp/ERP-Sandbox updated`).
    pub fn message(&self, service: &str) -> String {
        let each: Vec<String> = self
            .providers
            .iter()
            .map(|(c, p, s)| format!("{c}/{p} {}", s.as_str()))
            .collect();
        format!("{service} completed successfully: {}", each.join(", "))
    }
}

/// A document's providers, `(connector, provider, credentials)` in document order.
///
/// # Errors
///
/// 400 listing every problem, naming keys only.
pub fn parse(doc: &Value) -> Result<Vec<(String, String, Credentials)>> {
    let mut problems: Vec<String> = Vec::new();
    let mut out = Vec::new();
    let Some(connectors) = doc.as_object() else {
        return Err(invalid(vec![format!(
            "the document must be a JSON object of connector names, not {}",
            kind(doc)
        )]));
    };
    if connectors.is_empty() {
        problems.push("the document holds no connector".into());
    }
    for (connector, providers) in connectors {
        if !valid_name(connector) {
            problems.push(name_problem("connector", connector));
        }
        let Some(providers) = providers.as_object() else {
            problems.push(format!(
                "connector '{}' must be an object of provider names, not {}",
                shown(connector),
                kind(providers)
            ));
            continue;
        };
        if providers.is_empty() {
            problems.push(format!(
                "connector '{}' holds no provider",
                shown(connector)
            ));
        }
        for (provider, params) in providers {
            let at = format!("{}/{}", shown(connector), shown(provider));
            if !valid_name(provider) {
                problems.push(name_problem("provider", provider));
            }
            let Some(params) = params.as_object() else {
                problems.push(format!(
                    "{at} must be an object of parameters, not {}",
                    kind(params)
                ));
                continue;
            };
            let before = problems.len();
            check_parameters(&at, params, &mut problems);
            if problems.len() == before {
                if let Ok(creds) = credentials_of(params) {
                    out.push((connector.clone(), provider.clone(), creds));
                }
            }
        }
    }
    if out.len() > MAX_PROVIDERS {
        problems.push(format!(
            "the document holds {} providers; at most {MAX_PROVIDERS} load at once",
            out.len()
        ));
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(invalid(problems))
    }
}

fn check_parameters(at: &str, params: &Map<String, Value>, problems: &mut Vec<String>) {
    for required in ["CLIENT_ID", "CLIENT_SECRET"] {
        match params.get(required) {
            None => problems.push(format!("{at}: {required} is missing")),
            Some(Value::String(s)) if s.is_empty() => {
                problems.push(format!("{at}: {required} is empty"));
            }
            Some(Value::String(_)) => {}
            Some(other) => problems.push(format!(
                "{at}: {required} must be a string, not {}",
                kind(other)
            )),
        }
    }
    if params.len() > MAX_PARAMETERS {
        problems.push(format!(
            "{at} has {} parameters; at most {MAX_PARAMETERS} are kept",
            params.len()
        ));
    }
    for (name, value) in params {
        if name.is_empty() || name.len() > MAX_NAME_BYTES {
            problems.push(format!(
                "{at}: a parameter name must be 1 to {MAX_NAME_BYTES} bytes"
            ));
            continue;
        }
        let text_len = match value {
            Value::String(s) => s.len(),
            Value::Number(n) => n.to_string().len(),
            Value::Bool(_) => 5,
            other => {
                problems.push(format!(
                    "{at}: parameter '{}' must be a string, number or boolean, not {}",
                    shown(name),
                    kind(other)
                ));
                continue;
            }
        };
        if text_len > MAX_VALUE_BYTES {
            problems.push(format!(
                "{at}: parameter '{}' is longer than {MAX_VALUE_BYTES} bytes",
                shown(name)
            ));
        }
    }
}

/// The credentials of a provider's parameters, which [`parse`] checked.
pub(super) fn credentials_of(params: &Map<String, Value>) -> Result<Credentials, ()> {
    let text = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    let client_id = params.get("CLIENT_ID").and_then(Value::as_str).ok_or(())?;
    let client_secret = params
        .get("CLIENT_SECRET")
        .and_then(Value::as_str)
        .ok_or(())?;
    Ok(Credentials {
        client_id: client_id.to_owned(),
        client_secret: client_secret.to_owned(),
        extra: params
            .iter()
            .filter(|(k, _)| *k != "CLIENT_ID" && *k != "CLIENT_SECRET")
            .filter_map(|(k, v)| Some((k.clone(), text(v)?)))
            .collect(),
    })
}

fn invalid(problems: Vec<String>) -> Error {
    Error::bad_request(format!(
        "the OAuth configuration document is refused, nothing was stored: {}",
        problems.join("; ")
    ))
}

fn name_problem(what: &str, name: &str) -> String {
    format!(
        "{what} name '{}' must be 1 to {MAX_NAME_BYTES} letters, digits, '_', '-' or '.'",
        shown(name)
    )
}

/// A key as quoted in a problem: at most 64 characters of it, control characters
/// replaced (keys are names, not secrets, but may be anything a client sent).
fn shown(key: &str) -> String {
    let mut s: String = key
        .chars()
        .take(64)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if key.chars().count() > 64 {
        s.push('…');
    }
    s
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_valid_document_yields_every_provider() {
        let doc = json!({"jira": {"JIRA": {"CLIENT_ID": "id", "CLIENT_SECRET": "s", "AUDIENCE": "a", "PORT": 8}},
                         "google_gmail": {"Gmail-1": {"CLIENT_ID": "i", "CLIENT_SECRET": "t"}}});
        let got = parse(&doc).unwrap();
        assert_eq!(got.len(), 2);
        let (c, p, creds) = &got[1];
        assert_eq!((c.as_str(), p.as_str()), ("jira", "JIRA"));
        assert_eq!(creds.client_id, "id");
        assert_eq!(creds.extra.get("PORT").map(String::as_str), Some("8"));
        assert_eq!(format!("{creds:?}"), "Credentials { <redacted> }");
    }

    #[test]
    fn every_problem_is_listed_and_no_value_is_quoted() {
        let doc = json!({"jira": {"JIRA": {"CLIENT_ID": "secret-id-1", "extra": {"x": 1}}},
                         "bad name": {"P": {"CLIENT_ID": "x", "CLIENT_SECRET": 7}},
                         "empty": {}});
        let msg = parse(&doc).unwrap_err().to_string();
        for want in [
            "jira/JIRA: CLIENT_SECRET is missing",
            "parameter 'extra' must be a string, number or boolean",
            "connector name 'bad name'",
            "CLIENT_SECRET must be a string, not a number",
            "connector 'empty' holds no provider",
            "nothing was stored",
        ] {
            assert!(msg.contains(want), "{want:?} missing from {msg}");
        }
        assert!(!msg.contains("secret-id-1"), "{msg}");
        assert!(parse(&json!([])).is_err());
        assert!(parse(&json!({})).is_err());
    }
}
