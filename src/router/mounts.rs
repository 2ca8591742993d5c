//! The mounted services: the routing snapshot, swapped whole on every change, and the
//! registry of Rust handlers that definitions name.
//!
//! Mounting builds the new services from the definitions (processes resolved, the `store`
//! builtin's tables and folders prepared) before it takes the lock, then swaps in a new
//! snapshot made from the current one; requests in flight keep the snapshot they started
//! with. Mounts are serialized so that two concurrent deploys cannot lose each other's
//! services; reads never wait.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use arc_swap::ArcSwap;

use super::{Service, Snapshot};
use crate::definition::{validate_set, LoadedDefinition, Problem, Problems};
use crate::metrics::OpStats;
use crate::process::{Builtins, Handler};

/// The mounted services of one runtime.
pub struct Mounts {
    snapshot: ArcSwap<Snapshot>,
    handlers: RwLock<HashMap<String, Arc<dyn Handler>>>,
    /// What `store` and `http` processes run on.
    builtins: Builtins,
    /// Serializes changes of the snapshot.
    mount_lock: Mutex<()>,
    /// The counters of every service ever built here, by service name, operation and
    /// action name: a redeploy or a hot reload carries them on, so Prometheus never sees a
    /// counter reset for a service that stayed.
    counters: Mutex<HashMap<CounterKey, Arc<OpStats>>>,
}

/// Service name, operation kind label, action name.
type CounterKey = (Arc<str>, &'static str, String);

impl std::fmt::Debug for Mounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mounts")
            .field("services", &self.snapshot.load().services().count())
            .finish_non_exhaustive()
    }
}

impl Mounts {
    /// Nothing mounted; `store` and `http` processes will run on `builtins`.
    pub fn new(builtins: Builtins) -> Self {
        Mounts {
            snapshot: ArcSwap::from_pointee(Snapshot::default()),
            handlers: RwLock::new(HashMap::new()),
            builtins,
            mount_lock: Mutex::new(()),
            counters: Mutex::new(HashMap::new()),
        }
    }

    /// The snapshot of mounted services right now.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    /// Registers a Rust handler under `name`, for definitions that say
    /// `"process": {"handler": name}`. Register before mounting those definitions.
    pub fn register_handler(&self, name: String, handler: Arc<dyn Handler>) {
        self.handlers
            .write()
            .expect("handler registry lock is never poisoned: no code panics under it")
            .insert(name, handler);
    }

    /// Compiles `defs` without mounting them: every problem of the set, handlers and the
    /// store's preparation included.
    ///
    /// # Errors
    ///
    /// The definitions are invalid as a set, name a handler that is not registered, or
    /// cannot be served on this data folder.
    pub fn build(&self, defs: &[LoadedDefinition]) -> Result<Vec<Arc<Service>>, Problems> {
        let problems = validate_set(defs);
        if !problems.0.is_empty() {
            return Err(problems);
        }
        let handlers = self
            .handlers
            .read()
            .expect("handler registry lock is never poisoned")
            .clone();
        let resolve = |name: &str| handlers.get(name).cloned();
        let mut built = Vec::with_capacity(defs.len());
        let mut all = Vec::new();
        for d in defs {
            match Service::build(d, &resolve, &self.builtins) {
                Ok(s) => built.push(Arc::new(self.keep_counters(s))),
                Err(p) => all.extend(p.0),
            }
        }
        for s in &built {
            if let Err(e) = self.builtins.store.prepare(&s.definition) {
                all.push(Problem::new(&s.source, ".", e.to_string()));
            }
        }
        if all.is_empty() {
            Ok(built)
        } else {
            Err(Problems(all))
        }
    }

    /// `service` with the counters of its earlier versions, where there were any; its
    /// own become the ledger's for the operations that are new.
    fn keep_counters(&self, mut service: Service) -> Service {
        let mut ledger = self
            .counters
            .lock()
            .expect("counter ledger lock is never poisoned");
        for stats in &mut service.stats {
            let key = (
                Arc::clone(&service.name),
                stats.operation,
                stats.name.clone(),
            );
            *stats = Arc::clone(ledger.entry(key).or_insert_with(|| Arc::clone(stats)));
        }
        service
    }

    /// Mounts `defs` atomically: either every service answers afterwards, or none of them
    /// does and every problem is returned. A service of the same name is replaced.
    ///
    /// # Errors
    ///
    /// As [`Mounts::build`].
    pub fn mount(&self, defs: Vec<LoadedDefinition>) -> Result<(), Problems> {
        let built = self.build(&defs)?;
        let _guard = self
            .mount_lock
            .lock()
            .expect("mount lock is never poisoned");
        let current = self.snapshot.load();
        let mut services: HashMap<Arc<str>, Arc<Service>> = current
            .services()
            .map(|s| (Arc::clone(&s.name), Arc::clone(s)))
            .collect();
        for s in built {
            tracing::info!(service = %s.name, "Service mounted.");
            services.insert(Arc::clone(&s.name), s);
        }
        self.snapshot
            .store(Arc::new(Snapshot::new(services.into_values())));
        Ok(())
    }

    /// Unmounts the services named `names`; returns the names that were mounted.
    /// Requests in flight on them finish; new requests get 404.
    pub fn unmount(&self, names: &[&str]) -> Vec<String> {
        let _guard = self
            .mount_lock
            .lock()
            .expect("mount lock is never poisoned");
        let current = self.snapshot.load();
        let mut removed = Vec::new();
        let kept: Vec<Arc<Service>> = current
            .services()
            .filter(|s| {
                let gone = names.contains(&s.name.as_ref());
                if gone {
                    removed.push(s.name.to_string());
                }
                !gone
            })
            .cloned()
            .collect();
        self.snapshot.store(Arc::new(Snapshot::new(kept)));
        removed
    }
}
