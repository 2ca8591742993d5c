//! The router: an immutable snapshot of mounted services, swapped atomically.
//!
//! A lookup is one hash step on the service name, then a match on the few fixed paths of
//! a service (and one more hash step for action URIs), so its cost does not grow with the
//! number of services. In-flight requests hold the `Arc<Snapshot>` they started with.
//!
//! Paths under `/fs/{name}`:
//!
//! | method | path | route |
//! | --- | --- | --- |
//! | GET, POST | `/metadata` | describe |
//! | POST | `/metadata/install` | describe (install form) |
//! | GET | `/health` | health |
//! | POST | `/actions/{uri}` | message action |
//! | POST, PUT | `/data` | table load, row update |
//! | POST | `/data/delete` | row delete |
//! | POST | `/file` | file list |
//! | POST | `/file/content`, `/files/content` | file upload |
//! | POST | `/file/delete` | file delete |
//! | GET | `/file/content/{id}` | file download |

mod service;

use std::collections::HashMap;
use std::sync::Arc;

use http::Method;

use crate::error::{Error, Result};

pub use service::{DataAction, FileResource, MessageAction, Service};

/// The URL prefix every service is mounted under.
pub const SERVICE_PREFIX: &str = "/fs/";

/// What a request path resolves to inside a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Describe, full form.
    Describe,
    /// Describe, install form.
    Install,
    /// Health of the service.
    Health,
    /// A message action, by index in the service.
    Action(usize),
    /// Load rows.
    TableLoad,
    /// Save rows.
    RowUpdate,
    /// Delete rows.
    RowDelete,
    /// List files.
    FileList,
    /// Upload a file.
    FileUpload,
    /// Delete a file.
    FileDelete,
    /// Download a file by id.
    FileDownload(String),
}

/// The operation labels of the fixed stats slots of a service; actions follow them.
pub(crate) const FIXED_SLOTS: [&str; 9] = [
    "describe",
    "health",
    "load",
    "save",
    "delete",
    "list",
    "upload",
    "download",
    "fileDelete",
];

impl Route {
    /// The index of this route's counters in [`Service::stats`].
    pub fn slot(&self) -> usize {
        match self {
            Route::Describe | Route::Install => 0,
            Route::Health => 1,
            Route::TableLoad => 2,
            Route::RowUpdate => 3,
            Route::RowDelete => 4,
            Route::FileList => 5,
            Route::FileUpload => 6,
            Route::FileDownload(_) => 7,
            Route::FileDelete => 8,
            Route::Action(i) => FIXED_SLOTS.len() + i,
        }
    }

    /// The operation label of this route.
    pub fn label(&self) -> &'static str {
        match self {
            Route::Action(_) => "action",
            other => FIXED_SLOTS[other.slot()],
        }
    }
}

/// One mounted URL, as the admin API lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RouteInfo {
    /// HTTP method.
    pub method: &'static str,
    /// Full path.
    pub path: String,
    /// Service name.
    pub service: String,
    /// Operation kind.
    pub kind: &'static str,
}

/// The set of mounted services at one moment.
#[derive(Debug, Default)]
pub struct Snapshot {
    services: HashMap<Box<str>, Arc<Service>>,
}

impl Snapshot {
    /// A snapshot of `services`.
    pub fn new(services: impl IntoIterator<Item = Arc<Service>>) -> Self {
        Snapshot {
            services: services
                .into_iter()
                .map(|s| (Box::from(s.name.as_ref()), s))
                .collect(),
        }
    }

    /// The mounted service named `name`.
    pub fn service(&self, name: &str) -> Option<&Arc<Service>> {
        self.services.get(name)
    }

    /// Every mounted service.
    pub fn services(&self) -> impl Iterator<Item = &Arc<Service>> {
        self.services.values()
    }

    /// Every mounted URL, sorted by path then method.
    pub fn routes(&self) -> Vec<RouteInfo> {
        let mut all: Vec<RouteInfo> = self.services.values().flat_map(|s| s.routes()).collect();
        all.sort_by(|a, b| a.path.cmp(&b.path).then(a.method.cmp(b.method)));
        all
    }

    /// Resolves `method` and `path` (which starts with [`SERVICE_PREFIX`]).
    ///
    /// # Errors
    ///
    /// 404 when no service or no route of it matches; 405 with the allowed methods when
    /// the route exists for other methods.
    pub fn route(&self, method: &Method, path: &str) -> Result<(Arc<Service>, Route)> {
        let (service, sub) = self.lookup(path).ok_or_else(not_found)?;
        let route = service.route(method, sub)?;
        Ok((Arc::clone(service), route))
    }

    /// The mounted service a path under [`SERVICE_PREFIX`] names, with the rest of the
    /// path (`/actions/x`), whether or not that rest is one of its routes.
    pub fn lookup<'p>(&self, path: &'p str) -> Option<(&Arc<Service>, &'p str)> {
        let rest = path.strip_prefix(SERVICE_PREFIX)?;
        let (raw_name, sub) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let service = if raw_name.contains('%') {
            let name = percent_encoding::percent_decode_str(raw_name).decode_utf8_lossy();
            self.services.get(name.as_ref())
        } else {
            self.services.get(raw_name)
        }?;
        Some((service, sub))
    }
}

fn not_found() -> Error {
    Error::not_found("no service is mounted at this path")
}

/// Checks `method` against the allowed ones of a route.
fn allow(
    method: &Method,
    allowed: &'static [Method],
    header: &'static str,
    route: Route,
) -> Result<Route> {
    if allowed.contains(method) {
        Ok(route)
    } else {
        Err(Error::MethodNotAllowed { allow: header })
    }
}

impl Service {
    /// Resolves the part of the path after `/fs/{name}`.
    fn route(&self, method: &Method, sub: &str) -> Result<Route> {
        const GET_POST: &[Method] = &[Method::GET, Method::POST];
        const POST: &[Method] = &[Method::POST];
        const GET: &[Method] = &[Method::GET];
        let no_route = || Error::not_found("this service has no operation at this path");
        match sub {
            "/metadata" | "/metadata/" => allow(method, GET_POST, "GET, POST", Route::Describe),
            "/metadata/install" => allow(method, POST, "POST", Route::Install),
            "/health" => allow(method, GET, "GET", Route::Health),
            "/data" => match (self.has_load, self.has_save) {
                (false, false) => Err(no_route()),
                (true, true) => match *method {
                    Method::POST => Ok(Route::TableLoad),
                    Method::PUT => Ok(Route::RowUpdate),
                    _ => Err(Error::MethodNotAllowed { allow: "POST, PUT" }),
                },
                (true, false) => allow(method, POST, "POST", Route::TableLoad),
                (false, true) => allow(method, &[Method::PUT], "PUT", Route::RowUpdate),
            },
            "/data/delete" if self.has_delete => allow(method, POST, "POST", Route::RowDelete),
            "/file" if self.has_list => allow(method, POST, "POST", Route::FileList),
            "/file/content" | "/files/content" if self.has_upload => {
                allow(method, POST, "POST", Route::FileUpload)
            }
            "/file/delete" if self.has_files() => allow(method, POST, "POST", Route::FileDelete),
            _ => {
                if let Some(id) = sub.strip_prefix("/file/content/") {
                    if self.has_files() && !id.is_empty() && !id.contains('/') {
                        return allow(method, GET, "GET", Route::FileDownload(id.to_owned()));
                    }
                } else if let Some(uri) = sub.strip_prefix("/actions/") {
                    let idx = self.action_index(uri).ok_or_else(|| {
                        Error::not_found("this service has no message action at this path")
                    })?;
                    return allow(method, POST, "POST", Route::Action(idx));
                }
                Err(no_route())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definition::{parse_definition, LoadedDefinition};

    fn snapshot(n: usize) -> Snapshot {
        let services = (0..n).map(|i| {
            let json = format!(
                r#"{{"name":"Svc{i}","messageActions":[{{"name":"Echo","process":{{"builtin":"echo"}}}}],
                   "types":[{{"name":"Row","properties":[{{"name":"Id"}}]}}],
                   "dataActions":[{{"objectType":"Row","load":{{"builtin":"store"}}}}]}}"#
            );
            let def = parse_definition("t.json", json.as_bytes()).unwrap();
            let loaded = LoadedDefinition {
                definition: def,
                source: "t.json".into(),
                base_dir: ".".into(),
            };
            Arc::new(Service::build(&loaded, &|_| None).unwrap())
        });
        Snapshot::new(services)
    }

    #[test]
    fn routes_resolve_by_name_and_path() {
        let s = snapshot(3);
        let (svc, r) = s.route(&Method::POST, "/fs/Svc1/actions/echo").unwrap();
        assert_eq!(&*svc.name, "Svc1");
        assert_eq!(r, Route::Action(0));
        assert_eq!(
            s.route(&Method::GET, "/fs/Svc2/metadata").unwrap().1,
            Route::Describe
        );
        assert_eq!(
            s.route(&Method::POST, "/fs/Svc2/data").unwrap().1,
            Route::TableLoad
        );
    }

    #[test]
    fn unknown_paths_are_404_and_wrong_methods_405() {
        let s = snapshot(1);
        assert_eq!(
            s.route(&Method::POST, "/fs/Nope/metadata")
                .unwrap_err()
                .status(),
            404
        );
        assert_eq!(
            s.route(&Method::POST, "/fs/Svc0/actions/nope")
                .unwrap_err()
                .status(),
            404
        );
        assert_eq!(
            s.route(&Method::POST, "/fs/Svc0/file")
                .unwrap_err()
                .status(),
            404
        );
        let e = s.route(&Method::GET, "/fs/Svc0/actions/echo").unwrap_err();
        assert!(matches!(e, Error::MethodNotAllowed { allow: "POST" }));
        let e = s.route(&Method::PUT, "/fs/Svc0/data").unwrap_err();
        assert!(matches!(e, Error::MethodNotAllowed { allow: "POST" }));
    }

    #[test]
    fn percent_encoded_names_resolve() {
        let json =
            r#"{"name":"My Service","messageActions":[{"name":"A","process":{"builtin":"echo"}}]}"#;
        let loaded = LoadedDefinition {
            definition: parse_definition("t.json", json.as_bytes()).unwrap(),
            source: "t.json".into(),
            base_dir: ".".into(),
        };
        let s = Snapshot::new([Arc::new(Service::build(&loaded, &|_| None).unwrap())]);
        assert!(s.route(&Method::POST, "/fs/My%20Service/actions/a").is_ok());
    }

    #[test]
    fn routes_list_matches_what_answers() {
        let s = snapshot(2);
        for r in s.routes() {
            let m = Method::from_bytes(r.method.as_bytes()).unwrap();
            let path = r.path.replace("{id}", "x");
            assert!(s.route(&m, &path).is_ok(), "{} {}", r.method, r.path);
        }
    }
}
