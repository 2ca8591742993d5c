//! Running a trigger and keeping its run: the records execute one after the other on the
//! action's process, each under the action's admission limits, as one run with one
//! process id; the run's row in the [`RunStore`] is what the poll URL and idempotent
//! repeats read.
//!
//! A run is a boxed future. The caller waits for it up to the trigger's timeout; past it
//! the future is either dropped — which stops the process (a command's process group is
//! killed) — or moved to a task of its own that ends it within the wait timeout
//! (`--wait-timeout`) and writes its end to the store.
//!
//! Idempotency: calls carrying one `Idempotency-Key` (per user and action) pass one at a
//! time through the key's lock ([`KeysInFlight`]) while they look the key up and write
//! their own row, so two concurrent calls with one key run once.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};

use super::answer::{failure_message, Outcome, RecordOutcome};
use crate::error::{Error, Result};
use crate::execution::inputs::outputs_of;
use crate::execution::{Execution, OperationKind, ProcessProperties};
use crate::process::value;
use crate::router::admission::Admitted;
use crate::router::Service;
use crate::store::runs::{RunRow, RunStore};

/// A running trigger: its outcome.
pub(crate) type RunFuture = Pin<Box<dyn Future<Output = Outcome> + Send>>;

/// Builds the run of `records` (plain inputs, checked) on action `index` of `service`.
/// `first` is the admission slot the caller already holds for the first record.
pub(crate) fn start(
    service: Arc<Service>,
    index: usize,
    records: Vec<Map<String, Value>>,
    is_array: bool,
    properties: ProcessProperties,
    execution_id: String,
    first: Admitted,
) -> RunFuture {
    Box::pin(async move {
        let mut first = Some(first);
        let mut outcomes = Vec::with_capacity(records.len());
        for inputs in records {
            let slot = match first.take() {
                Some(slot) => Ok(slot),
                None => service.actions[index].admission.admit().await,
            };
            let outcome = match slot {
                Ok(slot) => {
                    let r = run_one(&service, index, inputs, &properties, &execution_id).await;
                    drop(slot);
                    r
                }
                Err(e) => Err(failure_message(&e, &execution_id)),
            };
            outcomes.push(outcome);
        }
        if is_array {
            Outcome::Array(outcomes)
        } else {
            Outcome::Single(outcomes.pop().unwrap_or_else(|| Err("no record".into())))
        }
    })
}

/// One record through the action's process: a [`ProcessCall`](crate::process::ProcessCall)
/// built as message actions build it, the declared outputs back in plain form.
async fn run_one(
    service: &Service,
    index: usize,
    inputs: Map<String, Value>,
    properties: &ProcessProperties,
    execution_id: &str,
) -> RecordOutcome {
    let def = service.action_definition(index);
    let mut execution = Execution::new(
        execution_id.to_owned(),
        Arc::clone(&service.name),
        OperationKind::Action,
        def.name.clone(),
    );
    execution.properties = properties.clone();
    let mut call = execution.document();
    call.inputs = inputs;
    let reply = service.actions[index]
        .process
        .call(call)
        .await
        .map_err(|e| failure_message(&e, execution_id))?;
    let engine = outputs_of(def, &reply, &service.definition);
    let mut outputs = Map::new();
    for o in &def.outputs {
        if let Some(v) = engine
            .iter()
            .find(|v| v.developer_name.as_deref() == Some(o.name.as_str()))
        {
            outputs.insert(
                o.name.clone(),
                value::engine_to_plain(v, o, &service.definition),
            );
        }
    }
    Ok(outputs)
}

/// Runs blocking store work off the async workers.
///
/// # Errors
///
/// What `f` fails with; an internal error when the blocking task panicked.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::internal(format!("a runs task failed: {e}")))?
}

/// Writes the end of run `process_id` (`outcome`) into the store.
pub(crate) async fn record_end(store: Arc<dyn RunStore>, process_id: String, outcome: &Outcome) {
    let status = outcome.run_status();
    let answer = outcome.to_json().to_string();
    let ended = crate::clock::now_millis();
    let r = blocking(move || store.finish(&process_id, status, ended, &answer)).await;
    if let Err(e) = r {
        tracing::error!(error = %e, "The end of a run could not be stored.");
    }
}

/// Writes a new run row.
///
/// # Errors
///
/// The store cannot be written.
pub(crate) async fn record_start(store: Arc<dyn RunStore>, row: RunRow) -> Result<()> {
    blocking(move || store.insert(&row)).await
}

/// The keys of idempotent calls being looked up or started right now, each with its
/// lock. Entries live only while some call holds or waits for the lock.
#[derive(Debug, Default)]
pub(crate) struct KeysInFlight {
    /// Held briefly, never across `.await`.
    keys: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// The lock of one key, held while the call looks the key up and writes its row.
#[derive(Debug)]
pub(crate) struct KeyGuard<'a> {
    owner: &'a KeysInFlight,
    key: String,
    lock: Option<Arc<tokio::sync::Mutex<()>>>,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl KeysInFlight {
    /// Waits for the lock of `key` (already scoped by user and action).
    pub(crate) async fn lock(&self, key: String) -> KeyGuard<'_> {
        let lock = {
            let mut keys = self.keys.lock().expect("keys lock is never poisoned");
            Arc::clone(keys.entry(key.clone()).or_default())
        };
        let guard = Arc::clone(&lock).lock_owned().await;
        KeyGuard {
            owner: self,
            key,
            lock: Some(lock),
            guard: Some(guard),
        }
    }

    /// How many keys are in flight (tests).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.keys.lock().expect("keys lock is never poisoned").len()
    }
}

impl Drop for KeyGuard<'_> {
    fn drop(&mut self) {
        drop(self.guard.take());
        let Some(lock) = self.lock.take() else { return };
        let mut keys = self.owner.keys.lock().expect("keys lock is never poisoned");
        // The map's handle and ours: nobody else waits for this key.
        if Arc::strong_count(&lock) == 2 {
            keys.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_key_is_held_by_one_call_at_a_time_and_forgotten_after() {
        let keys = Arc::new(KeysInFlight::default());
        let first = keys.lock("u/a/k".into()).await;
        let k2 = Arc::clone(&keys);
        let (tx, mut rx) = tokio::sync::oneshot::channel();
        let waiter = tokio::spawn(async move {
            let _g = k2.lock("u/a/k".into()).await;
            let _ = tx.send(());
        });
        tokio::task::yield_now().await;
        assert!(rx.try_recv().is_err(), "the second call waits");
        drop(first);
        waiter.await.unwrap();
        assert_eq!(keys.len(), 0);
    }
}
