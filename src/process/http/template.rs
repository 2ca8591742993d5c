//! The templates of an `http` process, compiled at mount: text with `{name}` placeholders
//! filled from the execution's document.
//!
//! A name is looked up in the inputs, then (table loads) the filter's `search`, `limit`
//! and `offset`, then the process properties — the request fields, which win over
//! configuration values of the same name, then the configuration values. A string is
//! used as it is, a number or boolean as its JSON text, null or absent as nothing, an
//! object or array as its JSON text. Where the text goes decides its encoding: every
//! byte but the unreserved `A-Za-z0-9-._~` percent-encoded in a URL (so a value cannot
//! add a path segment, a query parameter or a fragment), form encoding in a form body,
//! none in a header (the caller refuses control characters there) or a text body. In a
//! JSON body each string leaf is a template whose text becomes a JSON string: values are
//! escaped by the serializer, never spliced into JSON text.

use std::borrow::Cow;
use std::fmt::Write as _;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::{Map, Value};

use crate::definition::{parse_template, TemplatePart, LOAD_TEMPLATE_FIELDS};
use crate::process::ProcessCall;

/// Everything but the unreserved characters of RFC 3986 (`A-Za-z0-9-._~`).
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// How filled-in values are written where they go (the template's own text never is).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Encoding {
    /// As they are (headers, text bodies, JSON strings).
    Plain,
    /// Percent-encoded as a URL path segment or query component.
    Url,
}

/// A compiled template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Template(Vec<TemplatePart>);

impl Template {
    /// Compiles `text`.
    ///
    /// # Errors
    ///
    /// An unclosed or empty placeholder, in words.
    pub(super) fn parse(text: &str) -> Result<Self, String> {
        parse_template(text).map(Template)
    }

    /// The text with every placeholder filled in from `values`, written with `encoding`.
    pub(super) fn render(&self, values: &Values<'_>, encoding: Encoding) -> String {
        let mut out = String::new();
        for part in &self.0 {
            match part {
                TemplatePart::Text(t) => out.push_str(t),
                TemplatePart::Name(n) => {
                    let text = values.text(n);
                    match encoding {
                        Encoding::Plain => out.push_str(&text),
                        Encoding::Url => out.extend(utf8_percent_encode(&text, COMPONENT)),
                    }
                }
            }
        }
        out
    }

    /// The template's text with placeholders filled by `fill` (validation, origins).
    pub(super) fn with_each_name(&self, fill: &str) -> String {
        self.0
            .iter()
            .map(|p| match p {
                TemplatePart::Text(t) => t.as_str(),
                TemplatePart::Name(_) => fill,
            })
            .collect()
    }
}

/// A JSON body whose string leaves are templates.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum JsonTemplate {
    /// A number, boolean or null, sent as it is.
    Literal(Value),
    /// A string template.
    Text(Template),
    /// An array of templates.
    Array(Vec<JsonTemplate>),
    /// An object whose values are templates (keys are literal).
    Object(Vec<(String, JsonTemplate)>),
}

impl JsonTemplate {
    /// Compiles the JSON body `v`.
    ///
    /// # Errors
    ///
    /// A string leaf that is not a valid template.
    pub(super) fn parse(v: &Value) -> Result<Self, String> {
        Ok(match v {
            Value::String(s) => JsonTemplate::Text(Template::parse(s)?),
            Value::Array(items) => JsonTemplate::Array(
                items
                    .iter()
                    .map(JsonTemplate::parse)
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(m) => JsonTemplate::Object(
                m.iter()
                    .map(|(k, v)| Ok((k.clone(), JsonTemplate::parse(v)?)))
                    .collect::<Result<_, String>>()?,
            ),
            other => JsonTemplate::Literal(other.clone()),
        })
    }

    /// The document, every string leaf filled in.
    pub(super) fn render(&self, values: &Values<'_>) -> Value {
        match self {
            JsonTemplate::Literal(v) => v.clone(),
            JsonTemplate::Text(t) => Value::String(t.render(values, Encoding::Plain)),
            JsonTemplate::Array(items) => {
                Value::Array(items.iter().map(|t| t.render(values)).collect())
            }
            JsonTemplate::Object(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(k, t)| (k.clone(), t.render(values)))
                    .collect(),
            ),
        }
    }
}

/// What templates are filled from: one execution's document.
#[derive(Debug, Clone, Copy)]
pub(super) struct Values<'a> {
    inputs: &'a Map<String, Value>,
    /// The plain filter of a table load.
    filter: Option<&'a Map<String, Value>>,
    properties: &'a Map<String, Value>,
}

impl<'a> Values<'a> {
    /// The values of `call`.
    pub(super) fn of(call: &'a ProcessCall) -> Self {
        Values {
            inputs: &call.inputs,
            filter: call.extra.get("filter").and_then(Value::as_object),
            properties: &call.properties,
        }
    }

    /// The value `name` stands for, if the document has one.
    fn get(&self, name: &str) -> Option<&'a Value> {
        if let Some(v) = self.inputs.get(name) {
            return Some(v);
        }
        if let Some(filter) = self.filter {
            if LOAD_TEMPLATE_FIELDS.contains(&name) {
                return filter.get(name);
            }
        }
        self.properties.get(name)
    }

    /// The text `name` stands for (see the module docs).
    pub(super) fn text(&self, name: &str) -> Cow<'a, str> {
        match self.get(name) {
            Some(Value::String(s)) => Cow::Borrowed(s),
            None | Some(Value::Null) => Cow::Borrowed(""),
            Some(other) => Cow::Owned(other.to_string()),
        }
    }
}

/// Appends `s` form-urlencoded (the WHATWG `application/x-www-form-urlencoded` byte
/// serializer: `A-Za-z0-9*-._` kept, space as `+`, every other byte as `%XX`).
pub(super) fn form_encode(s: &str, out: &mut String) {
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
}

/// `pairs` as an `application/x-www-form-urlencoded` body.
pub(super) fn form_body<'p>(pairs: impl IntoIterator<Item = (&'p str, &'p str)>) -> String {
    let mut out = String::new();
    for (k, v) in pairs {
        if !out.is_empty() {
            out.push('&');
        }
        form_encode(k, &mut out);
        out.push('=');
        form_encode(v, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;

    fn call(inputs: Value, properties: Value) -> ProcessCall {
        ProcessCall {
            service: Arc::from("S"),
            operation: "action",
            name: "A".into(),
            execution_id: "e".into(),
            inputs: inputs.as_object().cloned().unwrap_or_default(),
            properties: properties.as_object().cloned().unwrap_or_default(),
            tracked: Default::default(),
            extra: Map::new(),
        }
    }

    #[test]
    fn url_values_cannot_change_the_path_or_query() {
        let c = call(
            json!({"Id": "a/b?c#d%e&f=g+h \"i\"\nj", "N": 12.5, "B": true, "Nil": null}),
            json!({"tenantId": "t 1"}),
        );
        let v = Values::of(&c);
        let t =
            Template::parse("https://x.example/o/{Id}?n={N}&b={B}&z={Nil}&t={tenantId}").unwrap();
        assert_eq!(
            t.render(&v, Encoding::Url),
            "https://x.example/o/a%2Fb%3Fc%23d%25e%26f%3Dg%2Bh%20%22i%22%0Aj\
             ?n=12.5&b=true&z=&t=t%201"
        );
        assert_eq!(
            Template::parse("é{Id}~").unwrap().render(
                &Values::of(&call(json!({"Id": "ü-._~"}), json!({}))),
                Encoding::Url
            ),
            "é%C3%BC-._~~"
        );
    }

    #[test]
    fn braces_double_to_stay_literal() {
        let c = call(json!({"A": "1"}), json!({}));
        let v = Values::of(&c);
        let t = Template::parse("{{{A}}} }").unwrap();
        assert_eq!(t.render(&v, Encoding::Plain), "{1} }");
        assert!(Template::parse("a{b").unwrap_err().contains("not closed"));
        assert!(Template::parse("{}").is_err());
        assert!(Template::parse("{a{b}").is_err());
    }

    #[test]
    fn inputs_then_load_fields_then_properties() {
        let mut c = call(
            json!({"token": "input wins"}),
            json!({"token": "t", "limit": "a configuration value", "Region": "EU"}),
        );
        c.extra
            .insert("filter".into(), json!({"limit": 20, "search": null}));
        let v = Values::of(&c);
        assert_eq!(v.text("token"), "input wins");
        assert_eq!(v.text("limit"), "20");
        assert_eq!(v.text("search"), "");
        assert_eq!(v.text("Region"), "EU");
        assert_eq!(v.text("Nope"), "");
    }

    #[test]
    fn json_bodies_escape_values_and_keep_structure() {
        let c = call(
            json!({"Id": "1\", \"admin\": true, \"x\": \"", "Obj": {"a": [1]}}),
            json!({}),
        );
        let t = JsonTemplate::parse(
            &json!({"id": "{Id}", "n": 3, "list": ["{Obj}", null], "{Id}": "k"}),
        )
        .unwrap();
        let body = t.render(&Values::of(&c));
        assert_eq!(
            body,
            json!({"id": "1\", \"admin\": true, \"x\": \"", "n": 3,
                   "list": ["{\"a\":[1]}", null], "{Id}": "k"})
        );
    }

    #[test]
    fn form_encoding_follows_whatwg() {
        assert_eq!(
            form_body([("a b", "c&d=e+f/é*~"), ("g", "")]),
            "a+b=c%26d%3De%2Bf%2F%C3%A9*%7E&g="
        );
    }
}
