//! Validation of definitions as a set: names unique, types resolve, processes well formed.

use std::collections::HashSet;

use super::{
    AuthDefinition, Builtin, LoadedDefinition, Problem, Problems, ProcessKind, ProcessSpec,
    ServiceDefinition, ValueDefinition, ValueType, FILE_TYPE,
};

/// The builtin processes a message action may name.
const ACTION_BUILTINS: &[Builtin] = &[Builtin::Echo];
/// The builtin processes a data action or file resource may name.
const STORE_BUILTINS: &[Builtin] = &[Builtin::Store];

/// The slug of an action name: lower case, runs of non-alphanumerics turned into `-`,
/// no leading or trailing `-` (`Say Hello, World!` → `say-hello-world`).
pub fn slugify(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut dash = false;
    for c in name.chars() {
        if c.is_alphanumeric() {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.extend(c.to_lowercase());
        } else {
            dash = true;
        }
    }
    out
}

/// `auth` names a way to authenticate, and its certificate subjects are well formed.
fn check_auth(auth: &AuthDefinition, push: &mut impl FnMut(String, String)) {
    let Some(cert) = &auth.client_certificate else {
        if auth.basic.is_none() {
            push(
                "auth".into(),
                "names no way to authenticate: give \"basic\": true or \"clientCertificate\""
                    .into(),
            );
        }
        return;
    };
    if cert.subjects.is_empty() {
        push(
            "auth.clientCertificate.subjects".into(),
            "must name at least one subject, such as \"CN=flow-tenant-1\"".into(),
        );
    }
    for (i, subject) in cert.subjects.iter().enumerate() {
        let name = subject
            .strip_prefix("CN=")
            .or_else(|| subject.strip_prefix("DNS="));
        if name.is_none_or(|n| n.trim().is_empty()) {
            push(
                format!("auth.clientCertificate.subjects[{i}]"),
                format!(
                    "'{subject}' is not CN=name (the certificate's common name) or DNS=name \
                     (a DNS name of its subject alternative names)"
                ),
            );
        }
    }
}

/// Validates each definition and the set as a whole (service names unique).
pub fn validate_set(defs: &[LoadedDefinition]) -> Problems {
    let mut problems = Vec::new();
    let mut names: HashSet<String> = HashSet::new();
    for d in defs {
        validate_one(&d.source, &d.definition, &mut problems);
        if !names.insert(d.definition.name.to_lowercase()) {
            problems.push(Problem::new(
                &d.source,
                "name",
                format!(
                    "service name '{}' is already used by another definition",
                    d.definition.name
                ),
            ));
        }
    }
    Problems(problems)
}

fn validate_one(file: &str, def: &ServiceDefinition, problems: &mut Vec<Problem>) {
    let mut push = |path: String, msg: String| problems.push(Problem::new(file, path, msg));

    if def.name.trim().is_empty() {
        push("name".into(), "the service name must not be empty".into());
    } else if def.name.contains('/') || def.name.chars().any(char::is_control) {
        push(
            "name".into(),
            format!(
                "service name '{}' must not contain '/' or control characters",
                def.name
            ),
        );
    }

    for (i, range) in def.allow_from.iter().enumerate() {
        let r = range.trim();
        if r.parse::<ipnet::IpNet>().is_err() && r.parse::<std::net::IpAddr>().is_err() {
            push(
                format!("allowFrom[{i}]"),
                format!("'{range}' is not an address or a CIDR range such as 10.0.0.0/8"),
            );
        }
    }
    if let Some(auth) = &def.auth {
        check_auth(auth, &mut push);
    }
    check_pass_headers("passHeaders", &def.pass_headers, &mut push);
    for (i, a) in def.message_actions.iter().enumerate() {
        check_pass_headers(
            &format!("messageActions[{i}].passHeaders"),
            &a.pass_headers,
            &mut push,
        );
    }
    for (i, d) in def.data_actions.iter().enumerate() {
        check_pass_headers(
            &format!("dataActions[{i}].passHeaders"),
            &d.pass_headers,
            &mut push,
        );
    }
    for (i, f) in def.file_resources.iter().enumerate() {
        check_pass_headers(
            &format!("fileResources[{i}].passHeaders"),
            &f.pass_headers,
            &mut push,
        );
    }

    let type_names: HashSet<&str> = def.types.iter().map(|t| t.name.as_str()).collect();
    let resolves = |t: &str| type_names.contains(t) || t == FILE_TYPE;

    let mut seen = HashSet::new();
    for (i, t) in def.types.iter().enumerate() {
        if t.name.trim().is_empty() {
            push(
                format!("types[{i}].name"),
                "a type name must not be empty".into(),
            );
        }
        if !seen.insert(t.name.as_str()) {
            push(
                format!("types[{i}].name"),
                format!("duplicate type name '{}'", t.name),
            );
        }
        let mut props = HashSet::new();
        for (j, p) in t.properties.iter().enumerate() {
            let at = format!("types[{i}].properties[{j}]");
            if p.name.trim().is_empty() {
                push(
                    format!("{at}.name"),
                    "a property name must not be empty".into(),
                );
            }
            if !props.insert(p.name.as_str()) {
                push(
                    format!("{at}.name"),
                    format!("duplicate property name '{}'", p.name),
                );
            }
            check_type_name(
                &at,
                p.value_type.is_object(),
                p.type_name.as_deref(),
                &resolves,
                &mut push,
            );
            if p.return_on_load && p.value_type != ValueType::Password {
                push(
                    format!("{at}.returnOnLoad"),
                    format!(
                        "returnOnLoad is only for Password properties; '{}' is a {:?}, \
                         which loads always answer",
                        p.name, p.value_type
                    ),
                );
            }
        }
    }

    check_values(
        "configurationValues",
        &def.configuration_values,
        &resolves,
        &mut push,
    );

    let mut action_names = HashSet::new();
    let mut uris = HashSet::new();
    for (i, a) in def.message_actions.iter().enumerate() {
        let at = format!("messageActions[{i}]");
        if a.name.trim().is_empty() {
            push(
                format!("{at}.name"),
                "an action name must not be empty".into(),
            );
        }
        if !action_names.insert(a.name.as_str()) {
            push(
                format!("{at}.name"),
                format!("duplicate action name '{}'", a.name),
            );
        }
        let uri = a.uri_suffix();
        if uri.is_empty() {
            push(
                format!("{at}.name"),
                format!(
                    "action name '{}' gives an empty URI part; set \"uri\"",
                    a.name
                ),
            );
        } else if uri
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..")
        {
            push(
                format!("{at}.uri"),
                format!("URI part '{uri}' has an empty or dot segment"),
            );
        } else if !uris.insert(uri.clone()) {
            push(
                format!("{at}.name"),
                format!("URI part 'actions/{uri}' is used by another action"),
            );
        }
        check_values(&format!("{at}.inputs"), &a.inputs, &resolves, &mut push);
        check_values(&format!("{at}.outputs"), &a.outputs, &resolves, &mut push);
        if a.sync_timeout_seconds == Some(0) {
            push(
                format!("{at}.syncTimeoutSeconds"),
                "must be at least 1".into(),
            );
        }
        if a.max_request_bytes == Some(0) {
            push(format!("{at}.maxRequestBytes"), "must be at least 1".into());
        }
        check_process(
            &format!("{at}.process"),
            &a.process,
            ACTION_BUILTINS,
            &mut push,
        );
    }

    let mut object_types = HashSet::new();
    for (i, d) in def.data_actions.iter().enumerate() {
        let at = format!("dataActions[{i}]");
        match def.type_named(&d.object_type) {
            None => push(
                format!("{at}.objectType"),
                format!("type '{}' is not defined in types", d.object_type),
            ),
            Some(t) => {
                if let Some(key) = &d.key {
                    if !t.properties.iter().any(|p| &p.name == key) {
                        push(
                            format!("{at}.key"),
                            format!("key '{key}' is not a property of type '{}'", t.name),
                        );
                    }
                }
            }
        }
        if !object_types.insert(d.object_type.as_str()) {
            push(
                format!("{at}.objectType"),
                format!("type '{}' already has a data action", d.object_type),
            );
        }
        check_limits(
            &at,
            d.max_concurrent_executions,
            d.max_requests_per_second,
            &mut push,
        );
        if d.load.is_none() && d.save.is_none() && d.delete.is_none() {
            push(
                at.clone(),
                "a data action needs at least one of load, save, delete".into(),
            );
        }
        for (field, spec) in [("load", &d.load), ("save", &d.save), ("delete", &d.delete)] {
            if let Some(spec) = spec {
                check_process(&format!("{at}.{field}"), spec, STORE_BUILTINS, &mut push);
            }
        }
    }

    let mut paths = HashSet::new();
    for (i, f) in def.file_resources.iter().enumerate() {
        let at = format!("fileResources[{i}]");
        if !f.path.starts_with('/') {
            push(
                format!("{at}.path"),
                format!("resource path '{}' must start with '/'", f.path),
            );
        } else if f.path.split('/').any(|s| s == "." || s == "..") {
            push(
                format!("{at}.path"),
                format!("resource path '{}' has a dot segment", f.path),
            );
        }
        if !paths.insert(f.path.trim_end_matches('/')) {
            push(
                format!("{at}.path"),
                format!("duplicate resource path '{}'", f.path),
            );
        }
        if f.max_upload_bytes == Some(0) {
            push(format!("{at}.maxUploadBytes"), "must be at least 1".into());
        }
        check_limits(
            &at,
            f.max_concurrent_executions,
            f.max_requests_per_second,
            &mut push,
        );
        if f.list.is_none() && f.upload.is_none() {
            push(
                at.clone(),
                "a file resource needs list, upload or both".into(),
            );
        }
        for (field, spec) in [("list", &f.list), ("upload", &f.upload)] {
            if let Some(spec) = spec {
                check_process(&format!("{at}.{field}"), spec, STORE_BUILTINS, &mut push);
            }
        }
    }
}

fn check_limits(
    at: &str,
    max_concurrent: Option<usize>,
    max_per_second: Option<f64>,
    push: &mut impl FnMut(String, String),
) {
    if max_concurrent == Some(0) {
        push(
            format!("{at}.maxConcurrentExecutions"),
            "must be at least 1".into(),
        );
    }
    if max_per_second.is_some_and(|r| !(r > 0.0 && r.is_finite())) {
        push(
            format!("{at}.maxRequestsPerSecond"),
            "must be a positive number".into(),
        );
    }
}

fn check_type_name(
    at: &str,
    is_object: bool,
    type_name: Option<&str>,
    resolves: &impl Fn(&str) -> bool,
    push: &mut impl FnMut(String, String),
) {
    match (is_object, type_name) {
        (true, None) => push(
            format!("{at}.typeName"),
            "Object and List need a typeName".into(),
        ),
        (true, Some(t)) if !resolves(t) => push(
            format!("{at}.typeName"),
            format!("type '{t}' is not defined in types"),
        ),
        (false, Some(_)) => push(
            format!("{at}.typeName"),
            "typeName is only for Object and List".into(),
        ),
        _ => {}
    }
}

fn check_values(
    at: &str,
    values: &[ValueDefinition],
    resolves: &impl Fn(&str) -> bool,
    push: &mut impl FnMut(String, String),
) {
    let mut seen = HashSet::new();
    for (i, v) in values.iter().enumerate() {
        let here = format!("{at}[{i}]");
        if v.name.trim().is_empty() {
            push(
                format!("{here}.name"),
                "a value name must not be empty".into(),
            );
        }
        if !seen.insert(v.name.as_str()) {
            push(
                format!("{here}.name"),
                format!("duplicate name '{}'", v.name),
            );
        }
        check_type_name(
            &here,
            v.value_type.is_object(),
            v.type_name.as_deref(),
            resolves,
            push,
        );
    }
}

/// Headers a definition may pass to processes: valid header names, and none that carry
/// credentials (`Authorization` reaches processes as its own property, and only when fss
/// did not verify it; cookies never do).
fn check_pass_headers(at: &str, names: &[String], push: &mut impl FnMut(String, String)) {
    const WITHHELD: &[&str] = &["authorization", "proxy-authorization", "cookie"];
    for (i, n) in names.iter().enumerate() {
        if http::HeaderName::from_bytes(n.as_bytes()).is_err() {
            push(format!("{at}[{i}]"), format!("'{n}' is not a header name"));
        } else if WITHHELD.iter().any(|w| n.eq_ignore_ascii_case(w)) {
            push(
                format!("{at}[{i}]"),
                format!("the header '{n}' carries credentials and is never passed to processes"),
            );
        }
    }
}

fn check_process(
    at: &str,
    spec: &ProcessSpec,
    builtins: &[Builtin],
    push: &mut impl FnMut(String, String),
) {
    let kind = match spec.kind() {
        Ok(k) => k,
        Err(msg) => {
            push(at.to_owned(), msg.into());
            return;
        }
    };
    if let ProcessKind::Builtin(b) = kind {
        if !b.is_ok_and(|b| builtins.contains(&b)) {
            let names: Vec<&str> = builtins.iter().map(|b| b.as_str()).collect();
            push(
                format!("{at}.builtin"),
                format!(
                    "unknown builtin '{}' here; expected one of: {}",
                    spec.builtin.as_deref().unwrap_or_default(),
                    names.join(", ")
                ),
            );
        }
    }
    if let Some(argv) = &spec.command {
        if argv.first().is_none_or(|p| p.trim().is_empty()) {
            push(
                format!("{at}.command"),
                "the command needs a program name".into(),
            );
        }
    }
    if let Some(h) = &spec.handler {
        if h.trim().is_empty() {
            push(
                format!("{at}.handler"),
                "the handler name must not be empty".into(),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definition::parse_definition;

    fn problems_of(json: &str) -> Vec<String> {
        let def = parse_definition("t.json", json.as_bytes()).unwrap();
        let loaded = LoadedDefinition {
            definition: def,
            source: "t.json".into(),
            base_dir: ".".into(),
        };
        validate_set(&[loaded])
            .0
            .into_iter()
            .map(|p| p.to_string())
            .collect()
    }

    #[test]
    fn slugs_follow_the_spec() {
        assert_eq!(slugify("Approve Order"), "approve-order");
        assert_eq!(slugify("Say Hello, World!"), "say-hello-world");
        assert_eq!(slugify("  --Echo--  "), "echo");
    }

    #[test]
    fn unknown_fields_are_refused_with_their_path() {
        let err = parse_definition(
            "b.json",
            br#"{"name":"B","messageActions":[{"name":"X","process":{"nope":1}}]}"#,
        )
        .unwrap_err();
        assert_eq!(err.path, "messageActions[0].process.nope");
        assert!(err.message.contains("nope"), "{}", err.message);
    }

    #[test]
    fn every_problem_is_listed() {
        let p = problems_of(
            r#"{"name":"S","types":[{"name":"T","properties":[{"name":"o","type":"Object","typeName":"Nope"}]}],
               "messageActions":[{"name":"A","process":{}},{"name":"A","process":{"builtin":"store"}}],
               "dataActions":[{"objectType":"Missing","load":{"builtin":"store"}}]}"#,
        );
        let all = p.join("\n");
        assert!(all.contains("types[0].properties[0].typeName"), "{all}");
        assert!(
            all.contains("messageActions[0].process: a process needs exactly one"),
            "{all}"
        );
        assert!(
            all.contains("messageActions[1].name: duplicate action name 'A'"),
            "{all}"
        );
        assert!(all.contains("messageActions[1].process.builtin"), "{all}");
        assert!(all.contains("dataActions[0].objectType"), "{all}");
    }

    #[test]
    fn auth_is_checked_with_its_path() {
        let p = problems_of(r#"{"name":"A","auth":{}}"#);
        assert!(
            p.len() == 1 && p[0].contains("auth: names no way to authenticate"),
            "{p:?}"
        );
        let err = parse_definition(
            "a.json",
            br#"{"name":"A","auth":{"basic":true,"bearer":1}}"#,
        )
        .unwrap_err();
        assert_eq!(err.path, "auth.bearer");
        let err =
            parse_definition("a.json", br#"{"name":"A","auth":{"basic":"yes"}}"#).unwrap_err();
        assert_eq!(err.path, "auth.basic");
        let def = parse_definition("a.json", br#"{"name":"A","auth":{"basic":true}}"#).unwrap();
        assert!(def.requires_basic_auth());
        let def = parse_definition("a.json", br#"{"name":"A","auth":{"basic":false}}"#).unwrap();
        assert!(!def.requires_basic_auth());
        assert!(problems_of(r#"{"name":"A","auth":{"basic":true}}"#).is_empty());
    }

    #[test]
    fn client_certificate_subjects_are_cn_or_dns_entries() {
        let def = parse_definition(
            "a.json",
            br#"{"name":"A","auth":{"clientCertificate":{"subjects":["CN=t1","DNS=t.example"]}}}"#,
        )
        .unwrap();
        assert!(!def.requires_basic_auth());
        assert_eq!(
            def.client_certificate_subjects(),
            Some(&["CN=t1".to_owned(), "DNS=t.example".to_owned()][..])
        );
        assert!(problems_of(
            r#"{"name":"A","auth":{"basic":true,"clientCertificate":{"subjects":["CN=t1"]}}}"#
        )
        .is_empty());
        let p = problems_of(
            r#"{"name":"A","auth":{"clientCertificate":{"subjects":["t1","CN=","OU=x"]}}}"#,
        );
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(
            p[0].contains("auth.clientCertificate.subjects[0]") && p[0].contains("CN=name"),
            "{p:?}"
        );
        let p = problems_of(r#"{"name":"A","auth":{"clientCertificate":{"subjects":[]}}}"#);
        assert!(p[0].contains("at least one subject"), "{p:?}");
        let err = parse_definition(
            "a.json",
            br#"{"name":"A","auth":{"clientCertificate":{"subject":["CN=t1"]}}}"#,
        )
        .unwrap_err();
        assert_eq!(err.path, "auth.clientCertificate.subject");
    }

    #[test]
    fn return_on_load_is_for_passwords_only() {
        let p = problems_of(
            r#"{"name":"S","types":[{"name":"T","properties":[
                {"name":"A","type":"Password","returnOnLoad":true},
                {"name":"B","type":"Number","returnOnLoad":true}]}]}"#,
        );
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].contains("types[0].properties[1].returnOnLoad") && p[0].contains("Password"),
            "{p:?}"
        );
    }

    #[test]
    fn a_valid_definition_has_no_problems() {
        assert!(problems_of(
            r#"{"name":"S","messageActions":[{"name":"Echo","process":{"builtin":"echo"}}]}"#
        )
        .is_empty());
    }
}
