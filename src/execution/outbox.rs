//! The durable outbox of WAIT callbacks, for a runtime on a shared database
//! (`--database`): a callback survives the death of the instance that ran the process, and
//! a flow never waits forever for an instance that died mid-run.
//!
//! - When a run is answered `WAIT`, a **lease** of its execution is written (this
//!   instance's id, `lease_until`, the callback target and the fault callback that stands
//!   for the run if this instance dies). This instance renews the leases of its running
//!   executions every [`OutboxTiming::renew_every`] by [`OutboxTiming::lease_for`].
//! - When the run ends, one transaction deletes the lease and writes the callback into the
//!   **outbox**; this instance tries it at once.
//! - Every instance **sweeps** every [`OutboxTiming::sweep_every`]: leases past
//!   `lease_until` (their instance stopped renewing them) become their fault callbacks
//!   (`rootFaults` naming that the instance stopped), and due callbacks are claimed
//!   (`FOR UPDATE SKIP LOCKED`, so two sweepers never take one row) for
//!   [`OutboxTiming::claim_for`], POSTed through [`Callbacks`] — the same headers and retry
//!   policy as the in-memory path, each attempt counted in the row — then marked
//!   delivered, scheduled again or given up. A delivered row is never sent again; a
//!   claimer that dies mid-POST leaves its row to be claimed again when its claim expires.
//!
//! The statements live with the database (`store::postgres::outbox`); this module keeps
//! what does not depend on it, behind [`OutboxStore`]. Without a database nothing here
//! runs: callbacks go from memory as before ([`Callbacks::deliver`]).

use std::collections::HashSet;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::Semaphore;

use super::callback::{Attempt, CallbackTarget, Callbacks};
use super::records::{CallbackRecord, Records};
use crate::error::Result;
use crate::protocol::ServiceResponse;

/// Default period of lease renewal: 2 s.
pub(crate) const DEFAULT_RENEW_EVERY: Duration = Duration::from_secs(2);
/// Default length of a lease: 10 s, five renewals, so that a slow database round trip
/// or two do not fail a live execution.
pub(crate) const DEFAULT_LEASE_FOR: Duration = Duration::from_secs(10);
/// Default period of the sweep for due callbacks and expired leases: 250 ms.
pub(crate) const DEFAULT_SWEEP_EVERY: Duration = Duration::from_millis(250);
/// Default length of a delivery claim: 60 s. It must outlast one attempt, so at start it
/// is raised to twice the outbound request timeout when that is longer.
pub(crate) const DEFAULT_CLAIM_FOR: Duration = Duration::from_secs(60);
/// The fault of a run whose instance stopped before it ended, in `rootFaults`.
pub(crate) const INSTANCE_STOPPED: &str =
    "the fss instance running it stopped before it ended (its lease expired)";
/// The most deliveries one instance runs at once; a sweep claims no more than are free.
const MAX_DELIVERIES: usize = 32;
/// The most expired leases one sweep turns into fault callbacks.
const MAX_EXPIRED: i64 = 100;
/// How long a delivered or given-up callback is kept, for operators to look at.
const KEEP_SETTLED: Duration = Duration::from_secs(24 * 60 * 60);
/// Sweeps between two purges of settled callbacks.
const PURGE_EVERY: u64 = 240;
/// The longest pause of a sweeper whose database does not answer.
const MAX_PAUSE: Duration = Duration::from_secs(5);

/// The timing of leases and sweeps. Not a flag: the defaults suit production; tests
/// shorten them so that an instance's death is noticed in a second.
#[derive(Debug, Clone, Copy)]
pub struct OutboxTiming {
    /// How often an instance renews the leases of its running executions. Default 2 s.
    pub renew_every: Duration,
    /// How long a lease lasts unless renewed: an instance silent that long is taken for
    /// dead, and its executions fail. Default 10 s.
    pub lease_for: Duration,
    /// How often every instance looks for due callbacks and expired leases. Default
    /// 250 ms.
    pub sweep_every: Duration,
    /// How long a claimed callback is left to its claimer. Default 60 s, at least twice
    /// the outbound request timeout.
    pub claim_for: Duration,
}

impl OutboxTiming {
    /// This timing with a claim that outlasts twice `attempt`, the longest one attempt
    /// may take (the outbound request timeout): a claim must not expire mid-POST.
    pub(crate) fn outlasting(self, attempt: Duration) -> Self {
        OutboxTiming {
            claim_for: self.claim_for.max(attempt.saturating_mul(2)),
            ..self
        }
    }
}

impl Default for OutboxTiming {
    fn default() -> Self {
        OutboxTiming {
            renew_every: DEFAULT_RENEW_EVERY,
            lease_for: DEFAULT_LEASE_FOR,
            sweep_every: DEFAULT_SWEEP_EVERY,
            claim_for: DEFAULT_CLAIM_FOR,
        }
    }
}

/// The future of an outbox store call; owns what it needs.
pub(crate) type OutboxFuture<T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'static>>;

/// A callback as the outbox keeps it.
#[derive(Debug, Clone)]
pub(crate) struct Callback {
    /// The execution it answers.
    pub(crate) execution_id: String,
    /// Where it goes and its headers; the store keeps the `Authorization` sealed.
    pub(crate) target: CallbackTarget,
    /// The JSON body: the ServiceResponse.
    pub(crate) body: Bytes,
}

/// A callback claimed for delivery.
#[derive(Debug)]
pub(crate) struct Due {
    /// Its row.
    pub(crate) id: i64,
    /// Attempts made so far.
    pub(crate) attempts: u32,
    /// The callback.
    pub(crate) callback: Callback,
    /// Why it cannot be sent, when its sealed `Authorization` does not open here.
    pub(crate) unusable: Option<&'static str>,
}

/// What became of one attempt of a claimed callback.
#[derive(Debug, Clone)]
pub(crate) enum Settle {
    /// The engine accepted it: never sent again.
    Delivered {
        /// Attempts in all.
        attempts: u32,
    },
    /// Due again `after` from now.
    Retry {
        /// Attempts so far.
        attempts: u32,
        /// The back-off before the next attempt.
        after: Duration,
        /// Why this attempt failed.
        reason: String,
    },
    /// Never sent again.
    GaveUp {
        /// Attempts in all.
        attempts: u32,
        /// Why the last attempt failed.
        reason: String,
    },
}

impl Settle {
    /// The execution record's view of it.
    fn record(&self) -> CallbackRecord {
        match self {
            Settle::Delivered { attempts } => CallbackRecord {
                attempts: *attempts,
                delivered: true,
                reason: None,
            },
            Settle::Retry {
                attempts, reason, ..
            }
            | Settle::GaveUp { attempts, reason } => CallbackRecord {
                attempts: *attempts,
                delivered: false,
                reason: Some(reason.clone()),
            },
        }
    }
}

/// The leases and the outbox in the shared database.
pub(crate) trait OutboxStore: Send + Sync + fmt::Debug {
    /// Writes the lease of `fault.execution_id`, held by `instance` for `lease_for`;
    /// `fault` is the callback sent if the lease expires.
    fn lease(&self, instance: &str, lease_for: Duration, fault: Callback) -> OutboxFuture<()>;

    /// In one transaction, deletes the lease of `callback.execution_id` and writes
    /// `callback` into the outbox; answers its row. `None`: there was no lease — it had
    /// expired and its fault callback went instead — so nothing is written.
    fn finish(&self, callback: Callback) -> OutboxFuture<Option<i64>>;

    /// Deletes the lease of `execution_id`, if any.
    fn forget(&self, execution_id: &str) -> OutboxFuture<()>;

    /// Extends the leases of `executions` held by `instance` to `lease_for` from now.
    fn renew(
        &self,
        instance: &str,
        executions: Vec<String>,
        lease_for: Duration,
    ) -> OutboxFuture<u64>;

    /// Turns at most `limit` expired leases into their fault callbacks (skipping leases
    /// another sweeper holds); answers how many.
    fn expire(&self, limit: i64) -> OutboxFuture<u64>;

    /// Claims for `instance`, for `claim_for`, at most `limit` due callbacks nobody holds
    /// (only row `only`, when given).
    fn claim(
        &self,
        instance: &str,
        only: Option<i64>,
        claim_for: Duration,
        limit: i64,
    ) -> OutboxFuture<Vec<Due>>;

    /// Records what became of the claimed row `id`; `false` when `instance` no longer
    /// held its claim.
    fn settle(&self, id: i64, instance: &str, settle: Settle) -> OutboxFuture<bool>;

    /// Deletes callbacks settled more than `older_than` ago.
    fn purge(&self, older_than: Duration) -> OutboxFuture<u64>;

    /// Runs `work` in the background, on the store's runtime.
    fn spawn(&self, work: Pin<Box<dyn Future<Output = ()> + Send + 'static>>);
}

/// This instance's side of the outbox: its id, its running leases, its sweeper.
pub(crate) struct Outbox {
    store: Arc<dyn OutboxStore>,
    /// This instance's id, fresh at every start.
    instance: String,
    timing: OutboxTiming,
    /// The callback client; the loops end when it is gone (the runtime was dropped).
    callbacks: Weak<Callbacks>,
    records: Weak<Records>,
    /// The executions of this instance whose leases are renewed.
    live: Mutex<HashSet<String>>,
    deliveries: Arc<Semaphore>,
}

impl fmt::Debug for Outbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outbox")
            .field("instance", &self.instance)
            .field("timing", &self.timing)
            .finish_non_exhaustive()
    }
}

/// The lease of one running execution of this instance; renewed until it is finished or
/// dropped (a run that panicked is then failed by the sweep, after the lease).
#[derive(Debug)]
pub(crate) struct Lease {
    outbox: Arc<Outbox>,
    execution_id: String,
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.outbox.live_set().remove(&self.execution_id);
    }
}

impl Outbox {
    /// Starts this instance's outbox on `store`, delivering through `callbacks`: the
    /// renewal and the sweep run until `callbacks` is dropped (the runtime is gone).
    pub(crate) fn start(
        store: Arc<dyn OutboxStore>,
        timing: OutboxTiming,
        callbacks: &Arc<Callbacks>,
        records: &Arc<Records>,
    ) -> Arc<Outbox> {
        let outbox = Arc::new(Outbox {
            store,
            instance: uuid::Uuid::new_v4().to_string(),
            timing,
            callbacks: Arc::downgrade(callbacks),
            records: Arc::downgrade(records),
            live: Mutex::new(HashSet::new()),
            deliveries: Arc::new(Semaphore::new(MAX_DELIVERIES)),
        });
        tracing::info!(instance = %outbox.instance, "Callback outbox started.");
        outbox
            .store
            .spawn(Box::pin(Arc::clone(&outbox).renew_loop()));
        outbox
            .store
            .spawn(Box::pin(Arc::clone(&outbox).sweep_loop()));
        outbox
    }

    fn live_set(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.live.lock().expect("lease set lock is never poisoned")
    }

    /// Writes the lease of a run just answered `WAIT`; `fault` is the callback that
    /// stands for it should this instance die. `None` when the database did not take it:
    /// that run's callback then goes from memory.
    pub(crate) async fn begin(
        self: &Arc<Self>,
        execution_id: &str,
        target: &CallbackTarget,
        fault: &ServiceResponse,
    ) -> Option<Lease> {
        let fault = Callback {
            execution_id: execution_id.to_owned(),
            target: target.clone(),
            body: body_of(fault),
        };
        let lease = self
            .store
            .lease(&self.instance, self.timing.lease_for, fault)
            .await;
        if let Err(e) = lease {
            tracing::warn!(execution = execution_id, error = %e, "No lease for a WAIT execution; its callback is kept in memory.");
            return None;
        }
        self.live_set().insert(execution_id.to_owned());
        Some(Lease {
            outbox: Arc::clone(self),
            execution_id: execution_id.to_owned(),
        })
    }

    /// Renews this instance's leases every `renew_every`, until the runtime is gone.
    async fn renew_loop(self: Arc<Self>) {
        let mut tick = tokio::time::interval(self.timing.renew_every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if self.callbacks.strong_count() == 0 {
                return;
            }
            let live: Vec<String> = self.live_set().iter().cloned().collect();
            if live.is_empty() {
                continue;
            }
            let renewed = self
                .store
                .renew(&self.instance, live, self.timing.lease_for)
                .await;
            if let Err(e) = renewed {
                tracing::warn!(error = %e, "Leases of running executions not renewed.");
            }
        }
    }

    /// Sweeps every `sweep_every` (pausing, up to [`MAX_PAUSE`], while the database does
    /// not answer), until the runtime is gone.
    async fn sweep_loop(self: Arc<Self>) {
        let mut sweeps = 0u64;
        let mut pause = self.timing.sweep_every;
        loop {
            tokio::time::sleep(pause).await;
            let Some(callbacks) = self.callbacks.upgrade() else {
                return;
            };
            pause = match self.sweep(&callbacks, sweeps).await {
                Ok(()) => self.timing.sweep_every,
                Err(e) => {
                    tracing::debug!(error = %e, "Callback sweep failed.");
                    pause.saturating_mul(2).min(MAX_PAUSE)
                }
            };
            sweeps = sweeps.wrapping_add(1);
        }
    }

    /// One sweep: expired leases to fault callbacks, then the due callbacks this
    /// instance has room for, each delivered on a task of its own.
    async fn sweep(self: &Arc<Self>, callbacks: &Arc<Callbacks>, sweeps: u64) -> Result<()> {
        let failed = self.store.expire(MAX_EXPIRED).await?;
        if failed > 0 {
            tracing::warn!(
                executions = failed,
                "WAIT executions failed: their instance stopped renewing their leases."
            );
        }
        let free = self.deliveries.available_permits();
        if free > 0 {
            let due = self
                .store
                .claim(&self.instance, None, self.timing.claim_for, free as i64)
                .await?;
            for due in due {
                let Ok(permit) = Arc::clone(&self.deliveries).try_acquire_owned() else {
                    break;
                };
                let (outbox, callbacks) = (Arc::clone(self), Arc::clone(callbacks));
                tokio::spawn(async move {
                    let _permit = permit;
                    let execution_id = due.callback.execution_id.clone();
                    let record = outbox.deliver(&callbacks, due).await;
                    if let Some(records) = outbox.records.upgrade() {
                        records.update(&execution_id, |r| r.callback = Some(record));
                    }
                });
            }
        }
        if sweeps % PURGE_EVERY == PURGE_EVERY - 1 {
            self.store.purge(KEEP_SETTLED).await?;
        }
        Ok(())
    }

    /// One attempt of the claimed `due`, and its outcome written back.
    async fn deliver(&self, callbacks: &Callbacks, due: Due) -> CallbackRecord {
        let attempts = due.attempts + 1;
        let settle = match due.unusable {
            Some(why) => Settle::GaveUp {
                attempts: due.attempts,
                reason: why.to_owned(),
            },
            None => {
                let target = &due.callback.target;
                match callbacks
                    .try_once(target, due.callback.body.clone(), attempts)
                    .await
                {
                    Attempt::Delivered => Settle::Delivered { attempts },
                    Attempt::Retry(reason) => Settle::Retry {
                        attempts,
                        after: callbacks.policy().delay_after(attempts),
                        reason,
                    },
                    Attempt::GaveUp(reason) => Settle::GaveUp { attempts, reason },
                }
            }
        };
        let record = settle.record();
        match self.store.settle(due.id, &self.instance, settle).await {
            Ok(true) => {}
            Ok(false) => tracing::warn!(
                execution = %due.callback.execution_id,
                "A callback's claim expired during its attempt; another instance may send it again."
            ),
            Err(e) => tracing::warn!(
                execution = %due.callback.execution_id, error = %e,
                "A callback's outcome was not recorded; it is tried again after its claim."
            ),
        }
        record
    }
}

impl Lease {
    /// The run ended with `response`: the lease is swapped for the callback in the
    /// outbox, which this instance tries at once (the sweep retries it). When the
    /// database does not take it, the callback goes from memory.
    pub(crate) async fn finish(
        self,
        target: &CallbackTarget,
        response: &ServiceResponse,
    ) -> CallbackRecord {
        let outbox = Arc::clone(&self.outbox);
        let callback = Callback {
            execution_id: self.execution_id.clone(),
            target: target.clone(),
            body: body_of(response),
        };
        let Some(callbacks) = outbox.callbacks.upgrade() else {
            return gone();
        };
        let id = match outbox.store.finish(callback.clone()).await {
            Ok(Some(id)) => id,
            Ok(None) => {
                return CallbackRecord {
                    attempts: 0,
                    delivered: false,
                    reason: Some(format!(
                        "the lease expired before the run ended; the fault '{INSTANCE_STOPPED}' was sent instead"
                    )),
                }
            }
            Err(e) => {
                tracing::warn!(execution = %self.execution_id, error = %e, "The outbox did not take a callback; it is sent from memory.");
                let _ = outbox.store.forget(&self.execution_id).await;
                return callbacks
                    .deliver_json(target, callback.body)
                    .await
                    .into();
            }
        };
        drop(self);
        let due = outbox
            .store
            .claim(&outbox.instance, Some(id), outbox.timing.claim_for, 1)
            .await;
        match due.map(|mut d| d.pop()) {
            Ok(Some(due)) => outbox.deliver(&callbacks, due).await,
            // Taken by a sweeper first, or the database is away: the sweep delivers it.
            _ => CallbackRecord {
                attempts: 0,
                delivered: false,
                reason: Some("in the outbox; another attempt delivers it".to_owned()),
            },
        }
    }
}

/// The record of a callback whose runtime was dropped before it could be written.
fn gone() -> CallbackRecord {
    CallbackRecord {
        attempts: 0,
        delivered: false,
        reason: Some("the runtime stopped".to_owned()),
    }
}

/// The JSON body of `response`.
fn body_of(response: &ServiceResponse) -> Bytes {
    Bytes::from(serde_json::to_vec(response).expect("wire types serialize"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_outlasts_twice_the_longest_attempt() {
        let t = OutboxTiming::default();
        assert_eq!(
            t.outlasting(Duration::from_secs(5)).claim_for,
            DEFAULT_CLAIM_FOR
        );
        assert_eq!(
            t.outlasting(Duration::from_secs(45)).claim_for,
            Duration::from_secs(90)
        );
    }

    #[test]
    fn a_retry_is_recorded_as_not_delivered_with_its_reason() {
        let retry = Settle::Retry {
            attempts: 2,
            after: Duration::from_secs(1),
            reason: "engine answered BUSY".into(),
        };
        let r = retry.record();
        assert_eq!((r.attempts, r.delivered), (2, false));
        assert_eq!(r.reason.as_deref(), Some("engine answered BUSY"));
        let done = Settle::Delivered { attempts: 3 }.record();
        assert_eq!(
            (done.attempts, done.delivered, done.reason),
            (3, true, None)
        );
    }
}
