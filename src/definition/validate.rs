//! Validation of definitions as a set: names unique, types resolve, processes well formed.

use std::collections::HashSet;

use serde_json::Value;

use super::{
    parse_template, valid_oauth_name, AuthDefinition, Builtin, DataActionDefinition,
    HttpProcessDefinition, LoadedDefinition, MessageActionDefinition, Problem, Problems,
    ProcessKind, ProcessSpec, ServiceDefinition, TemplatePart, TypeDefinition, ValueDefinition,
    ValueType, FILE_TYPE, HTTP_METHODS, LOAD_TEMPLATE_FIELDS, MAX_EVENT_KEY_CHARS,
    TEMPLATE_PROPERTIES,
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
    check_api(def, &mut push);
    for (i, a) in def.message_actions.iter().enumerate() {
        check_event_keys(&format!("messageActions[{i}].events"), &a.events, &mut push);
    }
    check_event_keys("listenableEvents", &def.listenable_events, &mut push);
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
            Place::Action(a),
            def,
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
                let place = match field {
                    "load" => Place::Load(d, def.type_named(&d.object_type)),
                    _ => Place::Elsewhere("a data action's save or delete"),
                };
                check_process(
                    &format!("{at}.{field}"),
                    spec,
                    STORE_BUILTINS,
                    place,
                    def,
                    &mut push,
                );
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
                check_process(
                    &format!("{at}.{field}"),
                    spec,
                    STORE_BUILTINS,
                    Place::Elsewhere("a file resource"),
                    def,
                    &mut push,
                );
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

/// Event keys an action subscribes to (`events`) or a service lets Flow listen for
/// (`listenableEvents`): each names an event definition's `key`, so it is what such a key
/// may be — not empty, without surrounding spaces (a key never matches them), within
/// [`MAX_EVENT_KEY_CHARS`] — and listed once.
fn check_event_keys(at: &str, keys: &[String], push: &mut impl FnMut(String, String)) {
    let mut seen = HashSet::new();
    for (i, k) in keys.iter().enumerate() {
        let here = format!("{at}[{i}]");
        if k.trim().is_empty() {
            push(here, "an event key must not be empty".into());
        } else if k.trim() != k {
            push(
                here,
                format!(
                    "event key '{k}' has leading or trailing spaces; write it as '{}'",
                    k.trim()
                ),
            );
        } else if k.chars().count() > MAX_EVENT_KEY_CHARS {
            push(
                here,
                format!("an event key is at most {MAX_EVENT_KEY_CHARS} characters"),
            );
        } else if !seen.insert(k.as_str()) {
            push(here, format!("event key '{k}' is listed twice"));
        }
    }
}

/// Where a process runs, for the rules of the `http` process.
#[derive(Clone, Copy)]
enum Place<'a> {
    /// A message action.
    Action(&'a MessageActionDefinition),
    /// A data action's load, with its type when it is defined.
    Load(&'a DataActionDefinition, Option<&'a TypeDefinition>),
    /// Anywhere else, in words.
    Elsewhere(&'static str),
}

fn check_process(
    at: &str,
    spec: &ProcessSpec,
    builtins: &[Builtin],
    place: Place<'_>,
    service: &ServiceDefinition,
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
    if let ProcessKind::Http(http) = kind {
        check_http(&format!("{at}.http"), http, place, service, push);
    }
}

/// Headers an `http` process may not set: the client sets them from the URL and body.
const MANAGED_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "upgrade",
];
/// The longest wait of one attempt of an `http` process: 5 minutes.
const MAX_HTTP_TIMEOUT_MS: u64 = 300_000;
/// The most retries of an `http` process.
const MAX_HTTP_RETRIES: u32 = 10;
/// The largest answer an `http` process may read: 1 GiB.
const MAX_HTTP_ANSWER_BYTES: u64 = 1 << 30;

/// The `http` process `http` at `at` is well formed for `place`: method, URL, headers,
/// body, auth, the names its templates use, and the mapping of its answer.
fn check_http(
    at: &str,
    http: &HttpProcessDefinition,
    place: Place<'_>,
    service: &ServiceDefinition,
    push: &mut impl FnMut(String, String),
) {
    let (action, load) = match place {
        Place::Action(a) => (Some(a), None),
        Place::Load(d, ty) => (None, Some((d, ty))),
        Place::Elsewhere(what) => {
            push(
                at.to_owned(),
                format!(
                    "the http process runs message actions and data actions' load only, \
                     not {what}"
                ),
            );
            return;
        }
    };
    let names = TemplateNames {
        inputs: action.map(|a| a.inputs.as_slice()).unwrap_or_default(),
        configuration: &service.configuration_values,
        load: load.is_some(),
    };
    // Every template, checked at the end: (JSON path, template).
    let mut templates: Vec<(String, &str)> = Vec::new();
    let mut template = |path: String, t| templates.push((path, t));

    let method = http.method.as_deref().unwrap_or("GET");
    let method_ok = HTTP_METHODS.contains(&method);
    if !method_ok {
        push(
            format!("{at}.method"),
            format!(
                "'{method}' is not a method of the http process; expected one of: {}",
                HTTP_METHODS.join(", ")
            ),
        );
    }

    template(format!("{at}.url"), &http.url);
    if let Err(msg) = check_url(&http.url, true) {
        push(format!("{at}.url"), msg);
    }

    let mut seen = HashSet::new();
    for (name, value) in &http.headers {
        let here = format!("{at}.headers.{name}");
        if let Err(msg) = check_header_name(name) {
            push(here.clone(), msg);
        } else if !seen.insert(name.to_ascii_lowercase()) {
            push(
                here.clone(),
                format!("the header '{name}' is given twice (names ignore case)"),
            );
        }
        template(here, value);
    }

    if let Some(body) = &http.body {
        let here = format!("{at}.body");
        let given = [
            body.json.is_some(),
            body.text.is_some(),
            body.form.is_some(),
        ];
        if given.iter().filter(|g| **g).count() != 1 {
            push(
                here.clone(),
                "a body needs exactly one of \"json\", \"text\", \"form\"".into(),
            );
        }
        if matches!(method, "GET" | "HEAD") {
            push(
                here.clone(),
                format!("a {method} request carries no body; use POST, PUT, PATCH or DELETE"),
            );
        }
        if let Some(ct) = &body.content_type {
            if body.text.is_none() {
                push(
                    format!("{here}.contentType"),
                    "contentType is for text bodies; json and form bodies set their own".into(),
                );
            } else if http::HeaderValue::from_str(ct).is_err() {
                push(
                    format!("{here}.contentType"),
                    format!("'{ct}' is not a valid header value"),
                );
            }
        }
        if let Some(json) = &body.json {
            each_json_string(json, &format!("{here}.json"), &mut |path, s| {
                template(path, s);
            });
        }
        if let Some(text) = &body.text {
            template(format!("{here}.text"), text);
        }
        for (field, value) in body.form.iter().flatten() {
            template(format!("{here}.form.{field}"), value);
        }
    }

    if let Some(auth) = &http.auth {
        let here = format!("{at}.auth");
        let given = [
            auth.oauth.is_some(),
            auth.bearer.is_some(),
            auth.basic.is_some(),
            auth.api_key.is_some(),
        ];
        if given.iter().filter(|g| **g).count() != 1 {
            push(
                here.clone(),
                "auth needs exactly one of \"oauth\", \"bearer\", \"basic\", \"apiKey\"".into(),
            );
        }
        if let Some(o) = &auth.oauth {
            for (field, name) in [("connector", &o.connector), ("provider", &o.provider)] {
                if !valid_oauth_name(name) {
                    push(
                        format!("{here}.oauth.{field}"),
                        format!(
                            "'{name}' is not a {field} name: 1 to {} letters, digits, '_', '-', '.'",
                            super::MAX_OAUTH_NAME_BYTES
                        ),
                    );
                }
            }
            if o.grant != "client_credentials" {
                push(
                    format!("{here}.oauth.grant"),
                    format!(
                        "grant '{}' is not supported; the one grant is \"client_credentials\"",
                        o.grant
                    ),
                );
            }
            if let Err(msg) = check_url(&o.token_url, false) {
                push(format!("{here}.oauth.tokenUrl"), msg);
            }
            const RESERVED: &[&str] = &[
                "grant_type",
                "scope",
                "client_id",
                "client_secret",
                "CLIENT_ID",
                "CLIENT_SECRET",
            ];
            for (i, p) in o.token_parameters.iter().enumerate() {
                if p.trim().is_empty() {
                    push(
                        format!("{here}.oauth.tokenParameters[{i}]"),
                        "a parameter name must not be empty".into(),
                    );
                } else if RESERVED.contains(&p.as_str()) {
                    push(
                        format!("{here}.oauth.tokenParameters[{i}]"),
                        format!("'{p}' is sent by fss itself and cannot be a token parameter"),
                    );
                }
            }
        }
        if let Some(b) = &auth.bearer {
            template(format!("{here}.bearer"), b);
        }
        if let Some(b) = &auth.basic {
            template(format!("{here}.basic.username"), &b.username);
            template(format!("{here}.basic.password"), &b.password);
        }
        if let Some(k) = &auth.api_key {
            if let Err(msg) = check_header_name(&k.header) {
                push(format!("{here}.apiKey.header"), msg);
            }
            template(format!("{here}.apiKey.value"), &k.value);
        }
    }

    let pointer = |p: &str| p.is_empty() || p.starts_with('/');
    const POINTER: &str = "is not a JSON pointer: \"\" (the whole answer) or starting with '/'";
    if !http.outputs.is_empty() {
        match action {
            None => push(
                format!("{at}.outputs"),
                "outputs are for message actions; a load maps its answer with \"objects\"".into(),
            ),
            Some(a) => {
                for (name, p) in &http.outputs {
                    if !a.outputs.iter().any(|o| &o.name == name) {
                        push(
                            format!("{at}.outputs.{name}"),
                            format!("'{name}' is not an output of action '{}'", a.name),
                        );
                    }
                    if !pointer(p) {
                        push(format!("{at}.outputs.{name}"), format!("'{p}' {POINTER}"));
                    }
                }
            }
        }
    }
    match (&http.objects, load) {
        (Some(_), None) => push(
            format!("{at}.objects"),
            "objects are for data actions' load; a message action maps its answer with \
             \"outputs\""
                .into(),
        ),
        (None, Some(_)) => push(
            at.to_owned(),
            "a load needs \"objects\": where the answer holds the objects and their properties"
                .into(),
        ),
        (Some(objects), Some((_, ty))) => {
            if !pointer(&objects.pointer) {
                let p = &objects.pointer;
                push(format!("{at}.objects.pointer"), format!("'{p}' {POINTER}"));
            }
            if let Some(p) = objects.has_more_results.as_deref().filter(|p| !pointer(p)) {
                push(
                    format!("{at}.objects.hasMoreResults"),
                    format!("'{p}' {POINTER}"),
                );
            }
            if objects.properties.is_empty() {
                push(
                    format!("{at}.objects.properties"),
                    "must map at least one property of the type".into(),
                );
            }
            for (name, p) in &objects.properties {
                let here = format!("{at}.objects.properties.{name}");
                if let Some(ty) = ty {
                    if !ty.properties.iter().any(|q| &q.name == name) {
                        push(
                            here.clone(),
                            format!("'{name}' is not a property of type '{}'", ty.name),
                        );
                    }
                }
                if !pointer(p) {
                    push(here, format!("'{p}' {POINTER}"));
                }
            }
        }
        (None, None) => {}
    }

    for (path, t) in templates {
        if let Err(msg) = names.check(t) {
            push(path, msg);
        }
    }
    if let Some(ms) = http.timeout_ms {
        if !(1..=MAX_HTTP_TIMEOUT_MS).contains(&ms) {
            push(
                format!("{at}.timeoutMs"),
                format!("must be 1 to {MAX_HTTP_TIMEOUT_MS} (5 minutes)"),
            );
        }
    }
    if http.retries.is_some_and(|r| r > MAX_HTTP_RETRIES) {
        push(
            format!("{at}.retries"),
            format!("must be at most {MAX_HTTP_RETRIES}"),
        );
    }
    if let Some(n) = http.max_answer_bytes {
        if !(1..=MAX_HTTP_ANSWER_BYTES).contains(&n) {
            push(
                format!("{at}.maxAnswerBytes"),
                format!("must be 1 to {MAX_HTTP_ANSWER_BYTES} (1 GiB)"),
            );
        }
    }
}

/// What the templates of one `http` process may name.
struct TemplateNames<'a> {
    /// The action's inputs (none for a load).
    inputs: &'a [ValueDefinition],
    /// The service's configuration values.
    configuration: &'a [ValueDefinition],
    /// A table load: `search`, `limit`, `offset` too.
    load: bool,
}

impl TemplateNames<'_> {
    /// Whether every placeholder of `template` names something the call will have.
    fn check(&self, template: &str) -> Result<(), String> {
        // Process properties that exist but that templates may not use: the caller's
        // `Authorization` is not forwarded by a template, and the others are structured.
        const WITHHELD: &[&str] = &["authorization", "culture", "headers"];
        for part in parse_template(template)? {
            let TemplatePart::Name(name) = part else {
                continue;
            };
            let n = name.as_str();
            if self.inputs.iter().any(|v| v.name == n) {
                continue;
            }
            if WITHHELD.contains(&n) {
                return Err(format!(
                    "'{{{n}}}' is a process property that templates cannot use"
                ));
            }
            if TEMPLATE_PROPERTIES.contains(&n)
                || (self.load && LOAD_TEMPLATE_FIELDS.contains(&n))
                || self.configuration.iter().any(|v| v.name == n)
            {
                continue;
            }
            let loads = if self.load {
                ", search, limit, offset"
            } else {
                ""
            };
            return Err(format!(
                "'{{{n}}}' names no input, configuration value or process property \
                 (token, tenantId, stateId, callbackUri, user{loads})"
            ));
        }
        Ok(())
    }
}

/// The longest `timeoutMs` of an action's `api`: one hour.
const MAX_API_TIMEOUT_MS: u64 = 3_600_000;
/// The longest keystore alias, in bytes (the keystore's own rule, which a definition may
/// not import).
const MAX_ALIAS_BYTES: usize = 128;

/// Whether `alias` is a keystore alias name: 1 to 128 bytes of ASCII letters, digits,
/// `.`, `_` and `-` (the keystore's rule).
fn valid_keystore_alias(alias: &str) -> bool {
    !alias.is_empty()
        && alias.len() <= MAX_ALIAS_BYTES
        && alias
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The `api` of each action: an alias unique within the service among the names and
/// aliases of its API actions, a `timeoutMs` in 1..=3 600 000, and a signature whose
/// fields fss can verify.
fn check_api(def: &ServiceDefinition, push: &mut impl FnMut(String, String)) {
    let mut names: HashSet<&str> = HashSet::new();
    for a in def.message_actions.iter().filter(|a| a.api.is_some()) {
        names.insert(a.name.as_str());
    }
    let mut aliases: HashSet<&str> = HashSet::new();
    for (i, a) in def.message_actions.iter().enumerate() {
        let Some(api) = &a.api else { continue };
        let at = format!("messageActions[{i}].api");
        if let Some(alias) = &api.alias {
            if alias.trim().is_empty() || alias.contains('/') {
                push(
                    format!("{at}.alias"),
                    "an alias must not be empty nor contain '/'".into(),
                );
            } else if (names.contains(alias.as_str()) && alias != &a.name)
                || !aliases.insert(alias.as_str())
            {
                push(
                    format!("{at}.alias"),
                    format!(
                        "alias '{alias}' is already the name or alias of another API action                          of this service"
                    ),
                );
            }
        }
        if let Some(ms) = api.timeout_ms {
            if !(1..=MAX_API_TIMEOUT_MS).contains(&ms) {
                push(
                    format!("{at}.timeoutMs"),
                    format!("{ms} is not between 1 and {MAX_API_TIMEOUT_MS} ms"),
                );
            }
        }
        let Some(sig) = &api.signature else { continue };
        let at = format!("{at}.signature");
        if !valid_keystore_alias(&sig.secret_alias) {
            push(
                format!("{at}.secretAlias"),
                format!(
                    "'{}' is not a keystore alias: 1 to {MAX_ALIAS_BYTES} letters, digits, '.', \
                     '_' or '-'",
                    sig.secret_alias
                ),
            );
        }
        if http::HeaderName::from_bytes(sig.header.as_bytes()).is_err() {
            push(
                format!("{at}.header"),
                format!("'{}' is not a header name", sig.header),
            );
        }
        if let Some(h) = &sig.timestamp_header {
            if http::HeaderName::from_bytes(h.as_bytes()).is_err() {
                push(
                    format!("{at}.timestampHeader"),
                    format!("'{h}' is not a header name"),
                );
            }
        }
        let one_of = |v: &Option<String>, allowed: &[&str]| {
            v.as_deref().is_none_or(|v| allowed.contains(&v))
        };
        if !one_of(&sig.algorithm, &["sha256", "sha1"]) {
            push(
                format!("{at}.algorithm"),
                "the algorithm must be sha256 or sha1".into(),
            );
        }
        if !one_of(&sig.encoding, &["hex", "base64"]) {
            push(
                format!("{at}.encoding"),
                "the encoding must be hex or base64".into(),
            );
        }
        let stripe = sig.format.as_deref() == Some("stripe");
        if !one_of(&sig.format, &["stripe"]) {
            push(
                format!("{at}.format"),
                "the format must be stripe (or left out)".into(),
            );
        }
        if let Some(t) = &sig.template {
            let rest = t.replace("{body}", "").replace("{timestamp}", "");
            if rest.contains('{') || rest.contains('}') {
                push(
                    format!("{at}.template"),
                    format!("'{t}' may hold only the placeholders {{body}} and {{timestamp}}"),
                );
            }
            if t.contains("{timestamp}") && sig.timestamp_header.is_none() && !stripe {
                push(
                    format!("{at}.template"),
                    "{timestamp} needs a timestampHeader to read it from (or format stripe)".into(),
                );
            }
            if t.matches("{body}").count() != 1 {
                push(
                    format!("{at}.template"),
                    format!("'{t}' must sign the body: it holds {{body}} exactly once"),
                );
            }
        }
        let signs_timestamp = sig
            .template
            .as_deref()
            .is_some_and(|t| t.contains("{timestamp}"));
        if sig.timestamp_header.is_some() && !signs_timestamp && !stripe {
            push(
                format!("{at}.timestampHeader"),
                "a timestampHeader is read only when the template signs {timestamp}".into(),
            );
        }
        if stripe {
            // The Stripe-Signature form fixes everything but the header and the secret.
            let fixed = [
                (
                    "algorithm",
                    sig.algorithm.as_deref().is_some_and(|a| a != "sha256"),
                ),
                (
                    "encoding",
                    sig.encoding.as_deref().is_some_and(|e| e != "hex"),
                ),
                ("prefix", sig.prefix.is_some()),
                ("timestampHeader", sig.timestamp_header.is_some()),
                (
                    "template",
                    sig.template
                        .as_deref()
                        .is_some_and(|t| t != "{timestamp}.{body}"),
                ),
            ];
            for (field, set) in fixed {
                if set {
                    push(
                        format!("{at}.{field}"),
                        format!(
                            "format stripe fixes {field} (sha256, hex, t=…,v1=… signing \
                             {{timestamp}}.{{body}}); leave it out"
                        ),
                    );
                }
            }
        }
    }
}

/// `name` is a header an `http` process may set.
fn check_header_name(name: &str) -> Result<(), String> {
    if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
        return Err(format!("'{name}' is not a header name"));
    }
    if MANAGED_HEADERS.iter().any(|m| name.eq_ignore_ascii_case(m)) {
        return Err(format!(
            "the header '{name}' is set by fss from the URL and the body"
        ));
    }
    Ok(())
}

/// `url` is an absolute `http://` or `https://` URL; with `templated`, once its
/// placeholders are filled in (placeholders may stand in its path and query only).
fn check_url(url: &str, templated: bool) -> Result<(), String> {
    let Some(rest) = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
    else {
        return Err(format!("'{url}' does not start with http:// or https://"));
    };
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    if authority.contains(['{', '}']) {
        return Err(format!(
            "the host of '{url}' must be written out: placeholders may stand in the path and \
             query only"
        ));
    }
    if url.contains('#') {
        return Err(format!("'{url}' has a fragment ('#'), which is never sent"));
    }
    let filled: String = if templated {
        match parse_template(url) {
            Ok(parts) => parts
                .into_iter()
                .map(|p| match p {
                    TemplatePart::Text(t) => t,
                    TemplatePart::Name(_) => "x".to_owned(),
                })
                .collect(),
            // The template check names the problem.
            Err(_) => return Ok(()),
        }
    } else {
        url.to_owned()
    };
    match filled.parse::<http::Uri>() {
        Ok(uri) if uri.host().is_some_and(|h| !h.is_empty()) => Ok(()),
        Ok(_) => Err(format!("'{url}' names no host")),
        Err(e) => Err(format!("'{url}' is not a valid URL: {e}")),
    }
}

/// Calls `f` with the JSON path and the text of every string in `v` (object keys are not
/// templates).
fn each_json_string<'v>(v: &'v Value, path: &str, f: &mut impl FnMut(String, &'v str)) {
    match v {
        Value::String(s) => f(path.to_owned(), s),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                each_json_string(item, &format!("{path}[{i}]"), f);
            }
        }
        Value::Object(m) => {
            for (k, item) in m {
                each_json_string(item, &format!("{path}.{k}"), f);
            }
        }
        _ => {}
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
    fn event_keys_are_non_empty_trimmed_and_unique() {
        let long = "k".repeat(256);
        let p = problems_of(&format!(
            r#"{{"name":"S","listenableEvents":["orderPlaced","orderPlaced",""],
                "messageActions":[
                {{"name":"A","process":{{"builtin":"echo"}},
                  "events":["orderPlaced"," padded ","","{long}","orderPlaced"]}},
                {{"name":"B","process":{{"builtin":"echo"}},"events":["orderPlaced"]}}]}}"#
        ));
        let all = p.join("\n");
        for want in [
            "messageActions[0].events[1]: event key ' padded ' has leading or trailing spaces",
            "messageActions[0].events[2]: an event key must not be empty",
            "messageActions[0].events[3]: an event key is at most 255 characters",
            "messageActions[0].events[4]: event key 'orderPlaced' is listed twice",
            "listenableEvents[1]: event key 'orderPlaced' is listed twice",
            "listenableEvents[2]: an event key must not be empty",
        ] {
            assert!(all.contains(want), "missing {want} in:\n{all}");
        }
        assert_eq!(p.len(), 6, "{all}");
        // one key in two actions, or in an action and listenableEvents, is fine
        assert!(problems_of(
            r#"{"name":"S","listenableEvents":["e"],"messageActions":[
                {"name":"A","process":{"builtin":"echo"},"events":["e"]},
                {"name":"B","process":{"builtin":"echo"},"events":["e"]}]}"#
        )
        .is_empty());
    }

    #[test]
    fn api_fields_are_checked() {
        let p = problems_of(
            r#"{"name":"S","messageActions":[
                {"name":"A","process":{"builtin":"echo"},"api":{"alias":"B","timeoutMs":0}},
                {"name":"B","process":{"builtin":"echo"},"api":{"alias":""}},
                {"name":"C","process":{"builtin":"echo"},"api":{"signature":{
                    "secretAlias":"no such/alias","header":"bad header","algorithm":"md5",
                    "encoding":"hex32","format":"slack","template":"{timestamp}.{body}{x}"}}},
                {"name":"D","process":{"builtin":"echo"},"api":{"signature":{
                    "secretAlias":"github-hook","header":"X-Hub-Signature-256",
                    "algorithm":"sha256","encoding":"hex","prefix":"sha256=",
                    "timestampHeader":null,"template":"{body}","toleranceSeconds":300}}}]}"#,
        );
        let all = p.join("\n");
        for want in [
            "messageActions[0].api.alias",
            "messageActions[0].api.timeoutMs",
            "messageActions[1].api.alias",
            "messageActions[2].api.signature.secretAlias",
            "messageActions[2].api.signature.header",
            "messageActions[2].api.signature.algorithm",
            "messageActions[2].api.signature.encoding",
            "messageActions[2].api.signature.format",
            "messageActions[2].api.signature.template",
        ] {
            assert!(all.contains(want), "{want} missing in:\n{all}");
        }
        assert!(!all.contains("messageActions[3]"), "{all}");
    }

    #[test]
    fn signatures_that_could_never_verify_are_refused() {
        let p = problems_of(
            r#"{"name":"S","messageActions":[
                {"name":"A","process":{"builtin":"echo"},"api":{"signature":{
                    "secretAlias":"k","header":"X-Sig","template":"{timestamp}"}}},
                {"name":"B","process":{"builtin":"echo"},"api":{"signature":{
                    "secretAlias":"k","header":"X-Sig","timestampHeader":"X-Ts"}}},
                {"name":"C","process":{"builtin":"echo"},"api":{"signature":{
                    "secretAlias":"k","header":"Stripe-Signature","format":"stripe",
                    "algorithm":"sha1","prefix":"v1=","template":"{body}"}}},
                {"name":"D","process":{"builtin":"echo"},"api":{"signature":{
                    "secretAlias":"k","header":"Stripe-Signature","format":"stripe"}}},
                {"name":"E","process":{"builtin":"echo"},"api":{"signature":{
                    "secretAlias":"k","header":"X-Slack-Signature","prefix":"v0=",
                    "timestampHeader":"X-Slack-Request-Timestamp","template":"v0:{timestamp}:{body}"}}}]}"#,
        );
        let all = p.join("\n");
        for want in [
            "messageActions[0].api.signature.template",
            "messageActions[1].api.signature.timestampHeader",
            "messageActions[2].api.signature.algorithm",
            "messageActions[2].api.signature.prefix",
            "messageActions[2].api.signature.template",
        ] {
            assert!(all.contains(want), "{want} missing in:\n{all}");
        }
        assert!(!all.contains("messageActions[3]"), "{all}");
        assert!(!all.contains("messageActions[4]"), "{all}");
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
        .unwrap_err()
        .0
        .remove(0);
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
        .unwrap_err()
        .0
        .remove(0);
        assert_eq!(err.path, "auth.bearer");
        let err = parse_definition("a.json", br#"{"name":"A","auth":{"basic":"yes"}}"#)
            .unwrap_err()
            .0
            .remove(0);
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
        .unwrap_err()
        .0
        .remove(0);
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

    /// A service with one message action and one load, both `http`, with `action` and
    /// `load` merged into their http processes.
    fn http_service(action: serde_json::Value, load: serde_json::Value) -> Vec<String> {
        let mut a = serde_json::json!({"url": "https://erp.example/orders/{Order Id}"});
        a.as_object_mut()
            .unwrap()
            .extend(action.as_object().unwrap().clone());
        let mut l = serde_json::json!({"url": "https://erp.example/people?q={search}",
            "objects": {"pointer": "/items", "properties": {"Id": "/id"}}});
        l.as_object_mut()
            .unwrap()
            .extend(load.as_object().unwrap().clone());
        problems_of(
            &serde_json::json!({
                "name": "Orders",
                "configurationValues": [{"name": "Region"}, {"name": "Api Token", "type": "Password"}],
                "types": [{"name": "Person", "properties": [{"name": "Id"}]}],
                "messageActions": [{"name": "Approve",
                    "inputs": [{"name": "Order Id", "required": true}],
                    "outputs": [{"name": "Status"}, {"name": "Approved At", "type": "DateTime"}],
                    "process": {"http": a}}],
                "dataActions": [{"objectType": "Person", "load": {"http": l}}]
            })
            .to_string(),
        )
    }

    #[test]
    fn the_issue_shape_of_the_http_process_is_valid() {
        let p = http_service(
            serde_json::json!({
                "method": "POST", "url": "https://erp.example/orders/{Order Id}",
                "headers": {"X-Tenant": "{tenantId}"},
                "body": {"json": {"id": "{Order Id}", "region": "{Region}"}},
                "auth": {"oauth": {"connector": "erp", "provider": "ERP",
                    "grant": "client_credentials",
                    "tokenUrl": "https://erp.example/oauth/token", "scope": "orders"}},
                "outputs": {"Status": "/status", "Approved At": "/approvedAt"},
                "timeoutMs": 10000, "retries": 2}),
            serde_json::json!({"auth": {"bearer": "{Api Token}"}, "method": "GET"}),
        );
        assert!(p.is_empty(), "{p:?}");
    }

    #[test]
    fn http_processes_are_checked_field_by_field() {
        let at = "t.json: messageActions[0].process.http";
        for (action, path, says) in [
            (
                serde_json::json!({"method": "TRACE"}),
                "method",
                "expected one of",
            ),
            (
                serde_json::json!({"url": "ftp://x/"}),
                "url",
                "http:// or https://",
            ),
            (
                serde_json::json!({"url": "https://{Order Id}/x"}),
                "url",
                "host",
            ),
            (
                serde_json::json!({"url": "https://x/{Nope}"}),
                "url",
                "'{Nope}' names no input",
            ),
            (
                serde_json::json!({"url": "https://x/{Order Id"}),
                "url",
                "not closed",
            ),
            (
                serde_json::json!({"url": "https://x/{authorization}"}),
                "url",
                "cannot use",
            ),
            (
                serde_json::json!({"url": "https://x/{search}"}),
                "url",
                "names no input",
            ),
            (
                serde_json::json!({"headers": {"Host": "x"}}),
                "headers.Host",
                "set by fss",
            ),
            (
                serde_json::json!({"headers": {"Bad Name": "x"}}),
                "headers.Bad Name",
                "not a header name",
            ),
            (
                serde_json::json!({"headers": {"X-A": "{Who}"}}),
                "headers.X-A",
                "names no input",
            ),
            (
                serde_json::json!({"method": "POST", "body": {}}),
                "body",
                "exactly one",
            ),
            (
                serde_json::json!({"body": {"text": "x"}}),
                "body",
                "carries no body",
            ),
            (
                serde_json::json!({"method": "POST", "body": {"json": {"a": ["{X}"]}}}),
                "body.json.a[0]",
                "names no input",
            ),
            (
                serde_json::json!({"method": "POST", "body": {"json": {}, "contentType": "text/x"}}),
                "body.contentType",
                "text bodies",
            ),
            (serde_json::json!({"auth": {}}), "auth", "exactly one"),
            (
                serde_json::json!({"auth": {"bearer": "a", "basic": {"username": "u", "password": "p"}}}),
                "auth",
                "exactly one",
            ),
            (
                serde_json::json!({"auth": {"oauth": {"connector": "e r p", "provider": "ERP",
                "tokenUrl": "https://x/t"}}}),
                "auth.oauth.connector",
                "not a connector name",
            ),
            (
                serde_json::json!({"auth": {"oauth": {"connector": "erp", "provider": "ERP",
                "grant": "password", "tokenUrl": "https://x/t"}}}),
                "auth.oauth.grant",
                "client_credentials",
            ),
            (
                serde_json::json!({"auth": {"oauth": {"connector": "erp", "provider": "ERP",
                "tokenUrl": "x/t"}}}),
                "auth.oauth.tokenUrl",
                "http:// or https://",
            ),
            (
                serde_json::json!({"auth": {"oauth": {"connector": "erp", "provider": "ERP",
                "tokenUrl": "https://x/t", "tokenParameters": ["scope"]}}}),
                "auth.oauth.tokenParameters[0]",
                "sent by fss",
            ),
            (
                serde_json::json!({"auth": {"apiKey": {"header": "Content-Length", "value": "v"}}}),
                "auth.apiKey.header",
                "set by fss",
            ),
            (
                serde_json::json!({"outputs": {"Nope": "/a"}}),
                "outputs.Nope",
                "not an output",
            ),
            (
                serde_json::json!({"outputs": {"Status": "a"}}),
                "outputs.Status",
                "JSON pointer",
            ),
            (
                serde_json::json!({"objects": {"pointer": "", "properties": {"Id": "/id"}}}),
                "objects",
                "for data actions' load",
            ),
            (
                serde_json::json!({"timeoutMs": 0}),
                "timeoutMs",
                "1 to 300000",
            ),
            (
                serde_json::json!({"timeoutMs": 300001}),
                "timeoutMs",
                "1 to 300000",
            ),
            (serde_json::json!({"retries": 11}), "retries", "at most 10"),
            (
                serde_json::json!({"maxAnswerBytes": 0}),
                "maxAnswerBytes",
                "must be 1",
            ),
        ] {
            let p = http_service(action.clone(), serde_json::json!({}));
            let want = if path.is_empty() {
                at.to_owned()
            } else {
                format!("{at}.{path}: ")
            };
            assert!(
                p.len() == 1 && p[0].starts_with(&want) && p[0].contains(says),
                "{action}: {p:?}"
            );
        }
        let at = "t.json: dataActions[0].load.http";
        for (load, path, says) in [
            (
                serde_json::json!({"objects": null}),
                "",
                "needs \"objects\"",
            ),
            (
                serde_json::json!({"objects": {"pointer": "items", "properties": {"Id": "/id"}}}),
                ".objects.pointer",
                "JSON pointer",
            ),
            (
                serde_json::json!({"objects": {"pointer": "", "properties": {"Nope": "/id"}}}),
                ".objects.properties.Nope",
                "not a property of type 'Person'",
            ),
            (
                serde_json::json!({"outputs": {"Status": "/s"}}),
                ".outputs",
                "for message actions",
            ),
            (
                serde_json::json!({"url": "https://x/{Order Id}"}),
                ".url",
                "names no input",
            ),
        ] {
            let p = http_service(serde_json::json!({}), load.clone());
            assert!(
                p.len() == 1 && p[0].starts_with(&format!("{at}{path}: ")) && p[0].contains(says),
                "{load}: {p:?}"
            );
        }
        // {{ and }} are literal braces, and a load may name its filter's fields.
        let p = http_service(
            serde_json::json!({"url": "https://x/{{literal}}/{Order Id}?t={token}"}),
            serde_json::json!({"url": "https://x/p?q={search}&l={limit}&o={offset}&r={Region}"}),
        );
        assert!(p.is_empty(), "{p:?}");
    }

    #[test]
    fn http_is_refused_where_it_cannot_run() {
        let p = problems_of(
            r#"{"name":"S","types":[{"name":"T","properties":[{"name":"Id"}]}],
               "dataActions":[{"objectType":"T","save":{"http":{"url":"https://x/"}}}],
               "fileResources":[{"path":"/file","list":{"http":{"url":"https://x/"}}}]}"#,
        );
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].contains("dataActions[0].save.http: the http process runs message actions and data actions' load only"), "{p:?}");
        assert!(
            p[1].contains("fileResources[0].list.http") && p[1].contains("file resource"),
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
