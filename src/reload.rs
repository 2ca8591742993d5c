//! Hot reload of the operations folder: a file watcher with a debounce, and the reload it
//! runs, which remounts only what changed.
//!
//! A reload reads the whole folder with the loader `serve` uses at start
//! ([`definition::load_dir`]) and compares it with what the folder has mounted now: the
//! services of the routing snapshot whose `base_dir` is the folder. Services of
//! deployments (the admin API) or of an embedder's own [`Runtime::mount`] calls are never
//! touched, and a file of the folder may not take the name of one of them.
//!
//! - A new service is mounted; a changed one (its definition or its file differ) is
//!   remounted, by the same atomic swap of the routing snapshot as a deployment: requests
//!   in flight finish on the old one. A service whose file is gone is unmounted.
//! - A file with any problem (JSON syntax, shape, validation, a handler that is not
//!   registered, a name that is taken) changes nothing: the service it mounted before stays
//!   as it was, and every problem is logged (warn) with its file. The other files' changes
//!   still apply.
//! - A folder that cannot be read (deleted, unmounted) changes nothing at all.
//!
//! Each reload logs one info line: the services added, changed and removed, or no change.
//! Reloads of one runtime are serialized by the caller (`Runtime::reload_operations`).
//!
//! The watcher ([`watch`]) is `notify`'s recommended one, not recursive, on the folder.
//! Reads of the folder are not changes (reloading reads every file): only creations,
//! writes, renames and removals of `*.json` files, or of the folder itself, count. A
//! reload runs [`DEBOUNCE`] after the last such event, so that an editor's write, rename
//! and attribute changes of one save are one reload. A watcher that fails (the folder
//! deleted, the inotify limit reached) is logged, never fatal, and is set up again every
//! [`REARM_EVERY`] until it works, reloading then; `SIGHUP` reloads in any case.
//!
//! [`Runtime::mount`]: crate::Runtime::mount

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::definition::{
    self, parse_definition, validate_set, LoadedDefinition, Problem, Problems,
};
use crate::router::{Mounts, Service, Snapshot};

/// How long the folder must be quiet after an event before it is reloaded: one editor
/// save (write a temporary file, rename it over, set attributes) is one reload.
pub const DEBOUNCE: Duration = Duration::from_millis(250);

/// How often a watcher that could not be set up (the folder missing, the inotify limit
/// reached) is tried again.
pub const REARM_EVERY: Duration = Duration::from_secs(2);

/// Events queued between the watcher's thread and the reload task. Any one event reloads
/// the whole folder, so events past a full queue are dropped, not lost: the queued ones
/// already make the reload that covers them.
const EVENT_QUEUE: usize = 256;

/// What one reload of the operations folder did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReloadReport {
    /// Services mounted that the folder did not serve before.
    pub added: Vec<String>,
    /// Services remounted from a changed definition.
    pub changed: Vec<String>,
    /// Services unmounted: their file is gone (or names another service now).
    pub removed: Vec<String>,
    /// Every problem found; the files they name changed nothing.
    pub problems: Problems,
}

impl ReloadReport {
    /// Nothing was mounted or unmounted.
    pub fn is_unchanged(&self) -> bool {
        self.added.is_empty() && self.changed.is_empty() && self.removed.is_empty()
    }

    /// Logs every problem (warn, with its file) and one info line for the reload.
    pub(crate) fn log(&self, dir: &Path) {
        for p in &self.problems.0 {
            tracing::warn!(file = %p.file, path = %p.path, problem = %p.message,
                "Operations folder: definition not reloaded; what it mounted before stays.");
        }
        let folder = dir.display();
        if self.is_unchanged() {
            tracing::info!(%folder, problems = self.problems.0.len(),
                "Operations folder reloaded: no change.");
        } else {
            tracing::info!(%folder, added = ?self.added, changed = ?self.changed,
                removed = ?self.removed, problems = self.problems.0.len(),
                "Operations folder reloaded: {self}.");
        }
    }
}

impl fmt::Display for ReloadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_unchanged() {
            return f.write_str("no change");
        }
        let mut first = true;
        for (what, names) in [
            ("added", &self.added),
            ("changed", &self.changed),
            ("removed", &self.removed),
        ] {
            if names.is_empty() {
                continue;
            }
            if !first {
                f.write_str("; ")?;
            }
            first = false;
            write!(f, "{what} {}", names.join(", "))?;
        }
        Ok(())
    }
}

// === the reload ===

/// Reloads `dir` into `mounts` (blocking: reads files, prepares stores). `taken` holds the
/// lower-case names of services that are not the folder's (deployed ones, even when not
/// mounted): a file may not take one, unless the folder already serves that name.
pub(crate) fn reload(dir: &Path, mounts: &Mounts, taken: &HashSet<String>) -> ReloadReport {
    let snapshot = mounts.snapshot();
    let current: HashMap<String, Arc<Service>> = served_from(&snapshot, dir)
        .into_iter()
        .map(|s| (s.name.to_string(), s))
        .collect();
    let mut taken = taken.clone();
    taken.extend(
        snapshot
            .services()
            .filter(|s| !current.contains_key(s.name.as_ref()))
            .map(|s| s.name.to_lowercase()),
    );

    let mut report = ReloadReport::default();
    let (defs, mut bad) = match load(dir) {
        Ok(loaded) => loaded,
        Err(problems) => {
            report.problems = problems;
            return report;
        }
    };
    let mut found: Vec<Problem> = bad.values().flatten().cloned().collect();
    found.sort_by(|a, b| a.file.cmp(&b.file));
    report.problems = Problems(found);
    let mut refuse = |bad: &mut ByFile, d: &LoadedDefinition, msg: String| {
        let p = Problem::new(&d.source, "name", msg);
        report.problems.0.push(p.clone());
        bad.entry(d.source.clone()).or_default().push(p);
    };

    // What changes: a file's old mount stays while the file has problems, so a name it
    // still holds is not free for another file.
    let mut wanted = Vec::new();
    let mut unchanged = HashSet::new();
    for d in defs {
        let name = &d.definition.name;
        let old = current.get(name);
        if old.is_none() && taken.contains(&name.to_lowercase()) {
            let msg = format!(
                "service '{name}' is deployed or mounted by other means; a file of the \
                 operations folder cannot take its name"
            );
            refuse(&mut bad, &d, msg);
            continue;
        }
        if let Some(held) = current.values().find(|s| {
            s.name.to_lowercase() == name.to_lowercase()
                && s.source != d.source
                && bad.contains_key(&s.source)
        }) {
            let msg = format!(
                "service '{name}' is still served from {}, which has problems; fix or \
                 remove that file first",
                held.source
            );
            refuse(&mut bad, &d, msg);
            continue;
        }
        match old {
            Some(s) if *s.definition == d.definition && s.source == d.source => {
                unchanged.insert(name.clone());
            }
            _ => wanted.push(d),
        }
    }

    // All at once when they mount together (one swap); else each on its own, so that one
    // failing file does not hold back the others.
    let mounted: Vec<LoadedDefinition> = if wanted.is_empty() {
        Vec::new()
    } else if mounts.mount(wanted.clone()).is_ok() {
        wanted
    } else {
        let mut ok = Vec::new();
        for d in wanted {
            match mounts.mount(vec![d.clone()]) {
                Ok(()) => ok.push(d),
                Err(p) => {
                    report.problems.0.extend(p.0.iter().cloned());
                    bad.entry(d.source.clone()).or_default().extend(p.0);
                }
            }
        }
        ok
    };
    for d in &mounted {
        let name = d.definition.name.clone();
        if current.contains_key(&name) {
            report.changed.push(name);
        } else {
            report.added.push(name);
        }
    }

    let serving: HashSet<&str> = mounted
        .iter()
        .map(|d| d.definition.name.as_str())
        .chain(unchanged.iter().map(String::as_str))
        .collect();
    let mut gone: Vec<&str> = current
        .values()
        .filter(|s| !serving.contains(s.name.as_ref()) && !bad.contains_key(&s.source))
        .map(|s| s.name.as_ref())
        .collect();
    gone.sort_unstable();
    if !gone.is_empty() {
        report.removed = mounts.unmount(&gone);
        report.removed.sort_unstable();
    }
    report
}

/// The services of `snapshot` that the operations folder `dir` mounted.
pub(crate) fn served_from(snapshot: &Snapshot, dir: &Path) -> Vec<Arc<Service>> {
    let canonical = dir.canonicalize().ok();
    snapshot
        .services()
        .filter(|s| {
            s.base_dir == dir
                || canonical
                    .as_ref()
                    .is_some_and(|c| s.base_dir.canonicalize().is_ok_and(|b| b == *c))
        })
        .cloned()
        .collect()
}

/// Problems by the file they name.
type ByFile = HashMap<String, Vec<Problem>>;

/// The valid definitions of `dir` and, by file, the problems of the others.
///
/// # Errors
///
/// The folder cannot be read: then nothing is known of any file.
fn load(dir: &Path) -> Result<(Vec<LoadedDefinition>, ByFile), Problems> {
    let problems = match definition::load_dir(dir) {
        Ok(defs) => return Ok((defs, HashMap::new())),
        Err(p) => p,
    };
    // `load_dir` is all or nothing: the files it found no problem in are read again, one
    // by one, as it reads them.
    let files = definition_files(dir).map_err(|e| {
        let dir = dir.display().to_string();
        let msg = format!("operations folder cannot be read: {e}");
        Problems(vec![Problem::new(&dir, ".", msg)])
    })?;
    let mut bad = ByFile::new();
    for p in problems.0 {
        bad.entry(p.file.clone()).or_default().push(p);
    }
    let mut defs = Vec::new();
    for path in files {
        let file = path.display().to_string();
        if bad.contains_key(&file) {
            continue;
        }
        let parsed = std::fs::read(&path)
            .map_err(|e| {
                Problems(vec![Problem::new(
                    &file,
                    ".",
                    format!("cannot be read: {e}"),
                )])
            })
            .and_then(|bytes| parse_definition(&file, &bytes));
        match parsed {
            Ok(definition) => defs.push(LoadedDefinition {
                definition,
                source: file,
                base_dir: dir.to_path_buf(),
            }),
            // Changed since `load_dir` read it: the next event reloads it again.
            Err(p) => bad.entry(file).or_default().extend(p.0),
        }
    }
    // The set rules again, on what is left (a file may have been valid only beside one
    // that is now left out, or changed in between); each round drops a file.
    loop {
        let problems = validate_set(&defs).0;
        if problems.is_empty() {
            return Ok((defs, bad));
        }
        for p in problems {
            bad.entry(p.file.clone()).or_default().push(p);
        }
        defs.retain(|d| !bad.contains_key(&d.source));
    }
}

/// The files [`definition::load_dir`] reads: every `*.json` of `dir` that is not a
/// dotfile, sorted.
fn definition_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|x| x == "json")
                && !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
                && p.is_file()
        })
        .collect();
    paths.sort();
    Ok(paths)
}

// === the watcher ===

/// The file watcher of an operations folder, from [`crate::Runtime::watch_operations`].
/// Dropping it stops the watcher and its reloads (a reload under way finishes).
#[derive(Debug)]
pub struct OperationsWatch {
    /// The task that owns the watcher and runs the reloads; `None` outside a tokio
    /// runtime.
    task: Option<JoinHandle<()>>,
}

impl OperationsWatch {
    /// Whether the watcher task still runs (it ends only when dropped or its runtime
    /// shuts down).
    pub fn is_running(&self) -> bool {
        self.task.as_ref().is_some_and(|t| !t.is_finished())
    }
}

impl Drop for OperationsWatch {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// What the watcher's thread tells the reload task.
#[derive(Debug)]
enum Signal {
    /// A definition file changed; `folder` when the folder itself was removed or moved
    /// (its watch must be set up again).
    Changed { folder: bool },
    /// The watcher failed.
    Failed(String),
}

/// Watches `dir` on the current tokio runtime and calls `reload` [`DEBOUNCE`] after the
/// last change, until the returned guard is dropped.
pub(crate) fn watch<F, Fut>(dir: PathBuf, reload: F) -> OperationsWatch
where
    F: FnMut(PathBuf) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    match tokio::runtime::Handle::try_current() {
        Ok(rt) => {
            // Set up before returning: a change made right after this call is seen.
            let (tx, rx) = mpsc::channel(EVENT_QUEUE);
            let mut failures = 0;
            let watcher = arm(&dir, &tx, &mut failures);
            let events = Events {
                tx,
                rx,
                watcher,
                failures,
            };
            OperationsWatch {
                task: Some(rt.spawn(run(dir, events, reload))),
            }
        }
        Err(_) => {
            tracing::warn!(folder = %dir.display(),
                "The operations folder is watched only inside a tokio runtime; it is not watched.");
            OperationsWatch { task: None }
        }
    }
}

/// The watcher of the reload task and the queue of its events.
struct Events {
    /// Cloned into each watcher set up: the queue outlives them.
    tx: mpsc::Sender<Signal>,
    rx: mpsc::Receiver<Signal>,
    /// `None` while the folder cannot be watched.
    watcher: Option<RecommendedWatcher>,
    /// Failures to set up the watcher in a row.
    failures: u32,
}

/// The reload task: wait for a change, let it settle, reload.
async fn run<F, Fut>(dir: PathBuf, events: Events, mut reload: F)
where
    F: FnMut(PathBuf) -> Fut,
    Fut: Future<Output = ()>,
{
    let Events {
        tx,
        mut rx,
        mut watcher,
        mut failures,
    } = events;
    loop {
        // A change, or (while not watching) the time to try again.
        let mut rearm = match &watcher {
            Some(_) => match rx.recv().await {
                Some(s) => note(&dir, s),
                None => return,
            },
            None => tokio::select! {
                s = rx.recv() => match s { Some(s) => note(&dir, s), None => return },
                () = tokio::time::sleep(REARM_EVERY) => {
                    watcher = arm(&dir, &tx, &mut failures);
                    if watcher.is_none() {
                        continue;
                    }
                    // Watching again: what appeared meanwhile is reloaded.
                    false
                }
            },
        };
        let mut quiet_at = Instant::now() + DEBOUNCE;
        loop {
            match tokio::time::timeout_at(quiet_at, rx.recv()).await {
                Ok(Some(s)) => {
                    rearm |= note(&dir, s);
                    quiet_at = Instant::now() + DEBOUNCE;
                }
                Ok(None) => return,
                Err(_) => break,
            }
        }
        if rearm || !dir.is_dir() {
            // A folder removed, or removed and made again, has lost its watch.
            drop(watcher.take());
            watcher = arm(&dir, &tx, &mut failures);
        }
        reload(dir.clone()).await;
    }
}

/// Logs a failure; whether the watch must be set up again.
fn note(dir: &Path, s: Signal) -> bool {
    match s {
        Signal::Changed { folder } => folder,
        Signal::Failed(e) => {
            tracing::warn!(folder = %dir.display(), error = %e,
                "Operations folder watcher error; the folder is reloaded and watched again.");
            true
        }
    }
}

/// A watcher on `dir` that sends its events to `tx`; `None` (logged) when it cannot be
/// set up. `failures` counts the failures in a row: only the first is a warning.
fn arm(dir: &Path, tx: &mpsc::Sender<Signal>, failures: &mut u32) -> Option<RecommendedWatcher> {
    let tx = tx.clone();
    let folder = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let watched = folder.clone();
    let armed = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let s = match res {
            Ok(ev) => match relevant(&ev, &watched) {
                Some(folder) => Signal::Changed { folder },
                None => return,
            },
            Err(e) => Signal::Failed(e.to_string()),
        };
        // A full queue already holds a change: the reload it makes covers this one.
        let _ = tx.try_send(s);
    })
    .and_then(|mut w| w.watch(&folder, RecursiveMode::NonRecursive).map(|()| w));
    match armed {
        Ok(w) => {
            if *failures > 0 {
                tracing::info!(folder = %dir.display(), "Operations folder watched again.");
            }
            *failures = 0;
            Some(w)
        }
        Err(e) => {
            if *failures == 0 {
                tracing::warn!(folder = %dir.display(), error = %e,
                    "Operations folder not watched; it is tried again every {}s, and SIGHUP reloads it.",
                    REARM_EVERY.as_secs());
            } else {
                tracing::debug!(folder = %dir.display(), error = %e, "Operations folder still not watched.");
            }
            *failures = failures.saturating_add(1);
            None
        }
    }
}

/// Whether `ev` may change what the folder `watched` defines: `Some(true)` when it
/// concerns the folder itself, `Some(false)` for a definition file, `None` otherwise
/// (reads, files of other extensions).
fn relevant(ev: &notify::Event, watched: &Path) -> Option<bool> {
    if matches!(ev.kind, EventKind::Access(_)) {
        return None;
    }
    if ev.need_rescan() || ev.paths.is_empty() {
        return Some(true);
    }
    if ev.paths.iter().any(|p| p == watched) {
        return Some(true);
    }
    ev.paths
        .iter()
        .any(|p| p.extension().is_some_and(|x| x == "json"))
        .then_some(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{AccessKind, CreateKind, ModifyKind, RemoveKind, RenameMode};

    fn event(kind: EventKind, path: &str) -> notify::Event {
        notify::Event::new(kind).add_path(PathBuf::from(path))
    }

    #[test]
    fn reads_and_other_files_are_not_changes() {
        let dir = Path::new("/ops");
        let open = EventKind::Access(AccessKind::Open(notify::event::AccessMode::Read));
        assert_eq!(relevant(&event(open, "/ops/A.json"), dir), None);
        let tmp = EventKind::Create(CreateKind::File);
        assert_eq!(relevant(&event(tmp, "/ops/A.json.swp"), dir), None);
        let renamed = EventKind::Modify(ModifyKind::Name(RenameMode::To));
        assert_eq!(relevant(&event(renamed, "/ops/A.json"), dir), Some(false));
        let removed = EventKind::Remove(RemoveKind::File);
        assert_eq!(relevant(&event(removed, "/ops/B.json"), dir), Some(false));
        let gone = EventKind::Remove(RemoveKind::Folder);
        assert_eq!(relevant(&event(gone, "/ops"), dir), Some(true));
    }

    #[test]
    fn the_report_names_what_changed() {
        let mut r = ReloadReport::default();
        assert_eq!(r.to_string(), "no change");
        r.added = vec!["A".into(), "B".into()];
        r.removed = vec!["C".into()];
        assert_eq!(r.to_string(), "added A, B; removed C");
        assert!(!r.is_unchanged());
    }
}
