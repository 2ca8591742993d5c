//! The router: an immutable snapshot of mounted services, swapped atomically.
//!
//! A lookup is one hash step on the service name, then a match on the few fixed paths of
//! a service (and one more hash step for action URIs), so its cost does not grow with the
//! number of services. In-flight requests hold the `Arc<Snapshot>` they started with.
//!
//! The table of what a service mounts is in `route`; the mounted set changes only
//! through [`Mounts`].

pub mod admission;
mod mounts;
mod route;
mod service;

use std::collections::HashMap;
use std::sync::Arc;

use http::Method;

use crate::error::{Error, Result};

pub use mounts::Mounts;
pub use route::{OperationKind, Route};
pub use service::{DataAction, FileResource, MessageAction, Service};

/// The URL prefix every service is mounted under.
pub const SERVICE_PREFIX: &str = "/fs/";

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definition::{parse_definition, LoadedDefinition};
    use crate::process::Builtins;

    fn builtins() -> Builtins {
        Builtins::unopened(std::path::Path::new("unused"))
    }

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
            Arc::new(Service::build(&loaded, &|_| None, &builtins()).unwrap())
        });
        Snapshot::new(services)
    }

    #[test]
    fn routes_resolve_by_name_and_path() {
        let s = snapshot(3);
        let (svc, r) = s.route(&Method::POST, "/fs/Svc1/actions/echo").unwrap();
        assert_eq!(&*svc.name, "Svc1");
        assert_eq!(r.kind, OperationKind::Action);
        assert_eq!(r.action, 0);
        assert_eq!(
            s.route(&Method::GET, "/fs/Svc2/metadata").unwrap().1.kind,
            OperationKind::Describe
        );
        assert_eq!(
            s.route(&Method::POST, "/fs/Svc2/data").unwrap().1.kind,
            OperationKind::TableLoad
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
        let s = Snapshot::new([Arc::new(
            Service::build(&loaded, &|_| None, &builtins()).unwrap(),
        )]);
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
