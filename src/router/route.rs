//! The route table: the one list of the kinds of operation a service mounts, with their
//! URLs, methods and labels. Routing ([`Service::route`]), the routes listing
//! ([`Service::routes`]), the counters' slots and the labels of execution records and
//! metrics all read it; a new kind of operation is a row here, an arm in the operation
//! dispatch and its operation module.
//!
//! Paths under `/fs/{name}`:
//!
//! | method | path | kind |
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
//! | POST | `/listener` | listener (services with `listenableEvents`) |

use http::Method;

use super::{RouteInfo, Service};
use crate::error::{Error, Result};

/// A kind of operation a service mounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OperationKind {
    /// Describe, full form.
    Describe,
    /// Describe, install form.
    Install,
    /// Health of the service.
    Health,
    /// A message action.
    Action,
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
    /// Download a stored file.
    FileDownload,
    /// Delete a stored file.
    FileDelete,
    /// Register a Flow listener (`listenableEvents`).
    Listener,
}

/// What the table says of one kind.
struct KindRow {
    kind: OperationKind,
    /// The label of records, metrics and the command protocol's `operation` field.
    label: &'static str,
    /// The name the routes listing gives it.
    title: &'static str,
    /// The index of its counters (kinds of one label share them); actions have theirs
    /// after the fixed ones.
    slot: usize,
    /// Whether a service has it; `None`: every service.
    enabled: Option<fn(&Service) -> bool>,
}

/// How many fixed counter slots a service has; each action's follow.
pub(crate) const FIXED_SLOTS: usize = 10;

/// Every kind, in the order of [`OperationKind`].
const KINDS: [KindRow; 12] = [
    KindRow {
        kind: OperationKind::Describe,
        label: "describe",
        title: "describe",
        slot: 0,
        enabled: None,
    },
    KindRow {
        kind: OperationKind::Install,
        label: "describe",
        title: "describe",
        slot: 0,
        enabled: None,
    },
    KindRow {
        kind: OperationKind::Health,
        label: "health",
        title: "health",
        slot: 1,
        enabled: None,
    },
    KindRow {
        kind: OperationKind::Action,
        label: "action",
        title: "action",
        slot: usize::MAX,
        enabled: None,
    },
    KindRow {
        kind: OperationKind::TableLoad,
        label: "load",
        title: "table load",
        slot: 2,
        enabled: Some(|s| s.has_load),
    },
    KindRow {
        kind: OperationKind::RowUpdate,
        label: "save",
        title: "row update",
        slot: 3,
        enabled: Some(|s| s.has_save),
    },
    KindRow {
        kind: OperationKind::RowDelete,
        label: "delete",
        title: "row delete",
        slot: 4,
        enabled: Some(|s| s.has_delete),
    },
    KindRow {
        kind: OperationKind::FileList,
        label: "list",
        title: "file list",
        slot: 5,
        enabled: Some(|s| s.has_list),
    },
    KindRow {
        kind: OperationKind::FileUpload,
        label: "upload",
        title: "file upload",
        slot: 6,
        enabled: Some(|s| s.has_upload),
    },
    KindRow {
        kind: OperationKind::FileDownload,
        label: "download",
        title: "file download",
        slot: 7,
        enabled: Some(Service::has_files),
    },
    KindRow {
        kind: OperationKind::FileDelete,
        label: "fileDelete",
        title: "file delete",
        slot: 8,
        enabled: Some(Service::has_files),
    },
    KindRow {
        kind: OperationKind::Listener,
        label: "listener",
        title: "listener",
        slot: 9,
        enabled: Some(|s| !s.definition.listenable_events.is_empty()),
    },
];

/// The methods the table uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verb {
    Get,
    Post,
    Put,
}

impl Verb {
    fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "GET",
            Verb::Post => "POST",
            Verb::Put => "PUT",
        }
    }

    fn is(self, m: &Method) -> bool {
        match self {
            Verb::Get => m == Method::GET,
            Verb::Post => m == Method::POST,
            Verb::Put => m == Method::PUT,
        }
    }

    fn bit(self) -> u8 {
        match self {
            Verb::Get => 1,
            Verb::Post => 2,
            Verb::Put => 4,
        }
    }
}

/// The `Allow` header of a set of verbs (bits of [`Verb::bit`]); HEAD is answered
/// wherever GET is.
fn allow_header(bits: u8) -> &'static str {
    match bits {
        1 => "GET, HEAD",
        2 => "POST",
        3 => "GET, HEAD, POST",
        4 => "PUT",
        5 => "GET, HEAD, PUT",
        6 => "POST, PUT",
        _ => "GET, HEAD, POST, PUT",
    }
}

/// One URL of the table. A path ending in `{uri}` or `{id}` takes the rest of the path.
struct RouteRow {
    kind: OperationKind,
    verb: Verb,
    path: &'static str,
    /// Shown in the routes listing (aliases are not).
    listed: bool,
}

const fn row(kind: OperationKind, verb: Verb, path: &'static str, listed: bool) -> RouteRow {
    RouteRow {
        kind,
        verb,
        path,
        listed,
    }
}

/// Every URL a service may answer, in the order of the routes listing.
const ROUTES: [RouteRow; 16] = {
    use OperationKind as K;
    [
        row(K::Describe, Verb::Get, "/metadata", true),
        row(K::Describe, Verb::Post, "/metadata", true),
        row(K::Describe, Verb::Get, "/metadata/", false),
        row(K::Describe, Verb::Post, "/metadata/", false),
        row(K::Install, Verb::Post, "/metadata/install", true),
        row(K::Health, Verb::Get, "/health", true),
        row(K::Action, Verb::Post, "/actions/{uri}", true),
        row(K::TableLoad, Verb::Post, "/data", true),
        row(K::RowUpdate, Verb::Put, "/data", true),
        row(K::RowDelete, Verb::Post, "/data/delete", true),
        row(K::FileList, Verb::Post, "/file", true),
        row(K::FileUpload, Verb::Post, "/file/content", true),
        row(K::FileUpload, Verb::Post, "/files/content", true),
        row(K::FileDelete, Verb::Post, "/file/delete", true),
        row(K::FileDownload, Verb::Get, "/file/content/{id}", true),
        row(K::Listener, Verb::Post, "/listener", true),
    ]
};

impl OperationKind {
    fn row(self) -> &'static KindRow {
        let row = &KINDS[self as usize];
        debug_assert_eq!(row.kind, self, "KINDS is in the order of OperationKind");
        row
    }

    /// The label of records, metrics and the command protocol's `operation` field.
    pub fn label(self) -> &'static str {
        self.row().label
    }

    /// The name the routes listing gives this kind.
    pub fn title(self) -> &'static str {
        self.row().title
    }

    /// Whether requests of this kind are executions (with an id and a record).
    pub fn is_execution(self) -> bool {
        !matches!(
            self,
            OperationKind::Describe | OperationKind::Install | OperationKind::Health
        )
    }
}

/// The labels of the fixed counter slots of a service, in slot order.
pub(crate) fn fixed_labels() -> impl Iterator<Item = &'static str> {
    (0..FIXED_SLOTS).map(|i| {
        KINDS
            .iter()
            .find(|k| k.slot == i)
            .expect("every fixed slot has a kind")
            .label
    })
}

/// What a request path resolves to inside a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The kind of operation.
    pub kind: OperationKind,
    /// The message action's index (actions only).
    pub action: usize,
    /// The file id of a download.
    pub file_id: Option<String>,
}

impl Route {
    /// The route of a kind that has no action and no file id.
    pub(crate) fn of(kind: OperationKind) -> Route {
        Route {
            kind,
            action: 0,
            file_id: None,
        }
    }

    /// The index of this route's counters in [`Service::stats`].
    pub fn slot(&self) -> usize {
        match self.kind {
            OperationKind::Action => FIXED_SLOTS + self.action,
            k => k.row().slot,
        }
    }

    /// The operation label of this route.
    pub fn label(&self) -> &'static str {
        self.kind.label()
    }
}

impl Service {
    /// Whether this service mounts operations of `kind`.
    pub fn has(&self, kind: OperationKind) -> bool {
        kind.row().enabled.is_none_or(|f| f(self))
    }

    /// Resolves the part of the path after `/fs/{name}`.
    ///
    /// # Errors
    ///
    /// 404 when nothing of the service is at `sub`, 405 with `Allow` when it is there for
    /// other methods.
    pub(super) fn route(&self, method: &Method, sub: &str) -> Result<Route> {
        let mut allowed = 0u8;
        for r in ROUTES.iter().filter(|r| self.has(r.kind)) {
            let route = match r.path.strip_suffix("{uri}") {
                Some(prefix) => match sub.strip_prefix(prefix) {
                    Some(uri) => {
                        let action = self.action_index(uri).ok_or_else(|| {
                            Error::not_found("this service has no message action at this path")
                        })?;
                        Route {
                            action,
                            ..Route::of(r.kind)
                        }
                    }
                    None => continue,
                },
                None => match r.path.strip_suffix("{id}") {
                    Some(prefix) => match sub.strip_prefix(prefix) {
                        Some(id) if !id.is_empty() && !id.contains('/') => Route {
                            file_id: Some(id.to_owned()),
                            ..Route::of(r.kind)
                        },
                        _ => continue,
                    },
                    None if r.path == sub => Route::of(r.kind),
                    None => continue,
                },
            };
            if r.verb.is(method) {
                return Ok(route);
            }
            allowed |= r.verb.bit();
        }
        if allowed == 0 {
            return Err(Error::not_found(
                "this service has no operation at this path",
            ));
        }
        Err(Error::MethodNotAllowed {
            allow: allow_header(allowed),
        })
    }

    /// Every URL this service answers, in the table's order.
    pub fn routes(&self) -> Vec<RouteInfo> {
        let base = format!(
            "/fs/{}",
            percent_encoding::utf8_percent_encode(&self.name, PATH_SEGMENT)
        );
        let mut out = Vec::new();
        for r in ROUTES.iter().filter(|r| r.listed && self.has(r.kind)) {
            let mut add = |path: String| {
                out.push(RouteInfo {
                    method: r.verb.as_str(),
                    path,
                    service: self.name.to_string(),
                    kind: r.kind.title(),
                });
            };
            match r.path.strip_suffix("{uri}") {
                Some(prefix) => {
                    for a in &self.actions {
                        add(format!("{base}{prefix}{}", a.uri));
                    }
                }
                None => add(format!("{base}{}", r.path)),
            }
        }
        out
    }
}

/// Characters escaped in a service name used as one path segment.
const PATH_SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}');

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_row_and_labels_share_slots() {
        for (i, k) in KINDS.iter().enumerate() {
            assert_eq!(k.kind as usize, i, "KINDS is in the order of OperationKind");
            if k.kind != OperationKind::Action {
                assert!(k.slot < FIXED_SLOTS);
                let same = KINDS.iter().filter(|o| o.slot == k.slot);
                assert!(same.clone().all(|o| o.label == k.label), "{}", k.label);
            }
        }
        let labels: Vec<_> = fixed_labels().collect();
        assert_eq!(
            labels,
            [
                "describe",
                "health",
                "load",
                "save",
                "delete",
                "list",
                "upload",
                "download",
                "fileDelete",
                "listener"
            ]
        );
    }

    #[test]
    fn allow_headers_list_methods_in_order() {
        assert_eq!(
            allow_header(Verb::Get.bit() | Verb::Post.bit()),
            "GET, HEAD, POST"
        );
        assert_eq!(
            allow_header(Verb::Post.bit() | Verb::Put.bit()),
            "POST, PUT"
        );
    }
}
