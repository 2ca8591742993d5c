//! A mounted service: its definition compiled for routing, with processes resolved.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use super::admission::Admission;
use super::route;
use crate::definition::{
    Builtin, DataActionDefinition, FileResourceDefinition, LoadedDefinition,
    MessageActionDefinition, Problem, Problems, ProcessKind, ProcessSpec, ServiceDefinition,
};
use crate::edge::AllowList;
use crate::metrics::OpStats;
use crate::process::{Builtins, CommandProcess, Handler, HttpProcess, Process};

/// A message action ready to run.
#[derive(Debug)]
pub struct MessageAction {
    /// Its index in the definition's `messageActions`.
    pub index: usize,
    /// Its name, shared with every execution record of it.
    pub name: Arc<str>,
    /// The path after `actions/`.
    pub uri: String,
    /// What runs.
    pub process: Process,
    /// Its concurrency and rate limits.
    pub admission: Admission,
}

/// A data action ready to run: the processes it declares.
#[derive(Debug)]
pub struct DataAction {
    /// Its index in the definition's `dataActions`.
    pub index: usize,
    /// Load, if declared.
    pub load: Option<Process>,
    /// Save, if declared.
    pub save: Option<Process>,
    /// Delete, if declared.
    pub delete: Option<Process>,
    /// Its concurrency and rate limits (shared by load, save and delete).
    pub admission: Admission,
}

/// A file resource ready to run.
#[derive(Debug)]
pub struct FileResource {
    /// Its index in the definition's `fileResources`.
    pub index: usize,
    /// List, if declared.
    pub list: Option<Process>,
    /// Upload, if declared.
    pub upload: Option<Process>,
    /// Its concurrency and rate limits (shared by its operations).
    pub admission: Admission,
}

/// A service as mounted.
#[derive(Debug)]
pub struct Service {
    /// The External Name.
    pub name: Arc<str>,
    /// The definition it was built from.
    pub definition: Arc<ServiceDefinition>,
    /// Where the definition came from.
    pub source: String,
    /// The folder relative command paths resolve against.
    pub base_dir: PathBuf,
    /// Message actions, in definition order.
    pub actions: Vec<MessageAction>,
    action_by_uri: HashMap<String, usize>,
    /// Data actions by object type name.
    pub data_actions: HashMap<String, DataAction>,
    /// File resources, in definition order.
    pub file_resources: Vec<FileResource>,
    /// Counters per operation, indexed by [`super::Route::slot`]: the route table's fixed
    /// slots, then one per action. Shared with the mounts' ledger, which hands the same
    /// counters to the next version of the service (`Mounts::keep_counters`).
    pub stats: Vec<Arc<OpStats>>,
    /// Requests need HTTP Basic credentials (`"auth": {"basic": true}`); the one check a
    /// request to a service without authentication pays.
    pub auth_basic: bool,
    /// The client addresses that may call the service (`allowFrom`); empty: any.
    pub allow_from: AllowList,
    pub(super) has_load: bool,
    pub(super) has_save: bool,
    pub(super) has_delete: bool,
    pub(super) has_list: bool,
    pub(super) has_upload: bool,
}

impl Service {
    /// Compiles a validated definition; `handler` resolves handler names, `builtins` is
    /// what the `store` builtin and `http` processes run on.
    ///
    /// An `http` process whose OAuth provider is not loaded yet mounts: its calls are
    /// answered 503 until the provider is loaded.
    ///
    /// # Errors
    ///
    /// A handler name that is not registered, for each place it is used.
    pub fn build(
        loaded: &LoadedDefinition,
        handler: &dyn Fn(&str) -> Option<Arc<dyn Handler>>,
        builtins: &Builtins,
    ) -> Result<Self, Problems> {
        let def = &loaded.definition;
        let mut problems = Vec::new();
        let mut resolve = |spec: &ProcessSpec, at: String| -> Process {
            resolve_process(spec, loaded, handler, builtins).unwrap_or_else(|msg| {
                problems.push(Problem::new(&loaded.source, at, msg));
                Process::Echo
            })
        };

        let actions: Vec<MessageAction> = def
            .message_actions
            .iter()
            .enumerate()
            .map(|(i, a): (usize, &MessageActionDefinition)| MessageAction {
                index: i,
                name: Arc::from(a.name.as_str()),
                uri: a.uri_suffix(),
                process: resolve(&a.process, format!("messageActions[{i}].process")),
                admission: Admission::new(a.limits()),
            })
            .collect();
        let action_by_uri = actions
            .iter()
            .enumerate()
            .map(|(i, a)| (a.uri.clone(), i))
            .collect();

        let mut data_actions = HashMap::new();
        for (i, d) in def.data_actions.iter().enumerate() {
            let d: &DataActionDefinition = d;
            let mut one = |spec: &Option<ProcessSpec>, field: &str| {
                spec.as_ref()
                    .map(|s| resolve(s, format!("dataActions[{i}].{field}")))
            };
            let action = DataAction {
                index: i,
                load: one(&d.load, "load"),
                save: one(&d.save, "save"),
                delete: one(&d.delete, "delete"),
                admission: Admission::new(d.limits()),
            };
            data_actions.insert(d.object_type.clone(), action);
        }

        let file_resources: Vec<FileResource> = def
            .file_resources
            .iter()
            .enumerate()
            .map(|(i, f): (usize, &FileResourceDefinition)| FileResource {
                index: i,
                list: f
                    .list
                    .as_ref()
                    .map(|s| resolve(s, format!("fileResources[{i}].list"))),
                upload: f
                    .upload
                    .as_ref()
                    .map(|s| resolve(s, format!("fileResources[{i}].upload"))),
                admission: Admission::new(f.limits()),
            })
            .collect();

        if !problems.is_empty() {
            return Err(Problems(problems));
        }
        let any = |f: fn(&DataAction) -> bool| data_actions.values().any(f);
        let mut stats: Vec<Arc<OpStats>> = route::fixed_labels()
            .map(|op| Arc::new(OpStats::new(op, String::new())))
            .collect();
        stats.extend(
            def.message_actions
                .iter()
                .map(|a| Arc::new(OpStats::new("action", a.name.clone()))),
        );
        Ok(Service {
            name: Arc::from(def.name.as_str()),
            definition: Arc::new(def.clone()),
            source: loaded.source.clone(),
            base_dir: loaded.base_dir.clone(),
            has_load: any(|d| d.load.is_some()),
            has_save: any(|d| d.save.is_some()),
            has_delete: any(|d| d.delete.is_some()),
            has_list: file_resources.iter().any(|f| f.list.is_some()),
            has_upload: file_resources.iter().any(|f| f.upload.is_some()),
            actions,
            action_by_uri,
            data_actions,
            file_resources,
            stats,
            auth_basic: def.requires_basic_auth(),
            allow_from: def.allow_from.iter().map(String::as_str).collect(),
        })
    }

    /// Whether the service has a file resource: stored files can then be downloaded and
    /// deleted by id, whichever of list and upload the resources declare.
    pub fn has_files(&self) -> bool {
        !self.file_resources.is_empty()
    }

    /// The index of the action mounted at `actions/{uri}`.
    pub fn action_index(&self, uri: &str) -> Option<usize> {
        if let Some(i) = self.action_by_uri.get(uri) {
            return Some(*i);
        }
        let decoded = percent_encoding::percent_decode_str(uri)
            .decode_utf8()
            .ok()?;
        self.action_by_uri
            .get(decoded.trim_end_matches('/'))
            .copied()
    }

    /// The definition of the action at `idx`.
    pub fn action_definition(&self, idx: usize) -> &MessageActionDefinition {
        &self.definition.message_actions[self.actions[idx].index]
    }
}

fn resolve_process(
    spec: &ProcessSpec,
    loaded: &LoadedDefinition,
    handler: &dyn Fn(&str) -> Option<Arc<dyn Handler>>,
    builtins: &Builtins,
) -> Result<Process, String> {
    match spec.kind()? {
        ProcessKind::Builtin(Ok(Builtin::Echo)) => Ok(Process::Echo),
        ProcessKind::Builtin(Ok(Builtin::Store)) => Ok(Process::Store(Arc::clone(&builtins.store))),
        ProcessKind::Builtin(Err(other)) => Err(format!("unknown builtin '{other}'")),
        ProcessKind::Command(argv) => Ok(Process::Command(Arc::new(CommandProcess::new(
            argv,
            &loaded.base_dir,
        )))),
        ProcessKind::Handler(name) => handler(name)
            .map(Process::Handler)
            .ok_or_else(|| format!("no handler named '{name}' is registered")),
        ProcessKind::Http(def) => HttpProcess::new(def, builtins)
            .map(|h| Process::Http(Arc::new(h)))
            .map_err(|msg| format!("http: {msg}")),
    }
}
