//! The run engine of message actions: a sync budget, then `WAIT`, then the callback.
//!
//! The process runs on the caller's task; only when it outlives the action's
//! `syncTimeoutSeconds` is it moved to a task of its own, so the common case costs no spawn
//! and no channel. A late process keeps running: the caller is answered `WAIT`, and the
//! final ServiceResponse (`FORWARD` with the outputs, or `FORWARD` with `rootFaults`
//! `{action name: message}` when it failed) is POSTed to the request's `callbackUri` by
//! [`Callbacks`], its outcome written into the execution's record. A request without a
//! `callbackUri` has nowhere to receive a late answer, so it waits for the process to end.
//!
//! No process runs forever: a caller waits at most the execution timeout (then the run
//! is dropped and the caller answered 504 naming it), and a run answered `WAIT` is
//! dropped at the wait timeout (then the callback carries `rootFaults` naming it).
//! On a shared database the callback goes through the durable outbox (`outbox`): the
//! run holds a lease from the moment it is answered `WAIT`, so that the death of this
//! instance ends in a fault callback from another.
//! Dropping a run stops its process: a command's whole process group is killed, a
//! handler's future dropped, and the admission slot freed. [`deadline`] applies the
//! execution timeout to the other operations that run a process.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tracing::Instrument;

use super::callback::{CallbackTarget, Callbacks};
use super::outbox::{Outbox, INSTANCE_STOPPED};
use super::records::Records;
use crate::error::{Error, Result};
use crate::protocol::{EngineValue, ServiceResponse};

/// The name of the deadline of synchronous work, in faults.
const EXECUTION_TIMEOUT: &str = "execution timeout";
/// The name of the deadline of work after `WAIT`, in faults.
const WAIT_TIMEOUT: &str = "wait timeout";

/// The deadlines of one message action's run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadlines {
    /// The action's sync budget: past it, a run with somewhere to call back is answered
    /// `WAIT`.
    pub(crate) budget: Duration,
    /// The longest the caller waits for the answer (the runtime's execution timeout).
    pub(crate) execution: Duration,
    /// The longest a run answered `WAIT` may take in all (the runtime's wait timeout).
    pub(crate) wait: Duration,
}

/// The fault of a run stopped at the deadline `limit` of `after`.
fn timed_out(limit: &'static str, after: Duration) -> Error {
    Error::ExecutionTimeout {
        limit,
        seconds: after.as_secs(),
    }
}

/// Runs `work` (an operation's process) within the execution timeout `timeout`: past it
/// `work` is dropped — which stops its process — and the answer is a 504 naming the
/// deadline.
///
/// # Errors
///
/// What `work` fails with, or [`Error::ExecutionTimeout`].
pub(crate) async fn deadline<T>(
    timeout: Duration,
    work: impl Future<Output = Result<T>>,
) -> Result<T> {
    tokio::time::timeout(timeout, work)
        .await
        .unwrap_or_else(|_| Err(timed_out(EXECUTION_TIMEOUT, timeout)))
}

/// The callback of a run of `action` that failed with `message`: `template` with
/// `rootFaults` `{action: message}` (a process error, the wait timeout, or the death of
/// the instance running it).
fn fault(template: ServiceResponse, action: String, message: String) -> ServiceResponse {
    ServiceResponse {
        root_faults: Some([(action, message)].into_iter().collect()),
        ..template
    }
}

/// A running process: the outputs it will answer.
pub(crate) type Run = Pin<Box<dyn Future<Output = Result<Vec<EngineValue>>> + Send>>;

/// Where the answer of a process that outlives its budget goes.
#[derive(Debug)]
pub(crate) struct Late {
    /// The callback's address and headers.
    pub(crate) target: CallbackTarget,
    /// The ServiceResponse to complete with the outputs or the fault.
    pub(crate) template: ServiceResponse,
    /// The action's name, the key of `rootFaults`.
    pub(crate) action: String,
    /// The execution whose record gets the outcome.
    pub(crate) execution_id: String,
    /// The callback client.
    pub(crate) callbacks: Arc<Callbacks>,
    /// The durable outbox, on a shared database: then the callback goes through it.
    pub(crate) outbox: Option<Arc<Outbox>>,
    /// The records.
    pub(crate) records: Arc<Records>,
}

/// How a run ended for the caller.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// The process answered within the budget (or the caller waited for it).
    Done(Vec<EngineValue>),
    /// The caller is answered `WAIT`; the result follows by callback.
    Waiting,
}

/// Runs `run` within the sync budget of `deadlines` (capped by the execution timeout).
/// When it is late, `late` says where its answer goes (`None`: the caller waits, up to
/// the execution timeout); `hold` (the execution's admission slot) is kept until the
/// process really ends or is stopped at its deadline.
///
/// # Errors
///
/// The process failed within the budget, or the caller waited and it failed or ran past
/// the execution timeout ([`Error::ExecutionTimeout`]).
pub(crate) async fn run<H: Send + 'static>(
    mut run: Run,
    deadlines: Deadlines,
    late: impl FnOnce() -> Option<Late>,
    hold: H,
) -> Result<Outcome> {
    let started = Instant::now();
    let running = super::Running::start();
    let finished = tokio::select! {
        biased;
        r = &mut run => Some(r),
        () = tokio::time::sleep(deadlines.budget.min(deadlines.execution)) => None,
    };
    if let Some(r) = finished {
        return r.map(Outcome::Done);
    }
    let Some(late) = late() else {
        return match tokio::time::timeout_at(started + deadlines.execution, run).await {
            Ok(r) => r.map(Outcome::Done),
            Err(_) => Err(timed_out(EXECUTION_TIMEOUT, deadlines.execution)),
        };
    };
    // Before the caller hears WAIT: once it has, an instance that dies leaves a lease
    // for another to fail, never a flow waiting forever.
    let lease = match &late.outbox {
        Some(outbox) => {
            let stopped = fault(
                late.template.clone(),
                late.action.clone(),
                INSTANCE_STOPPED.to_owned(),
            );
            outbox
                .begin(&late.execution_id, &late.target, &stopped)
                .await
        }
        None => None,
    };
    let owed = late.callbacks.owe();
    tokio::spawn(
        async move {
            let _hold = hold;
            let _running = running;
            let _owed = owed;
            let result = tokio::time::timeout_at(started + deadlines.wait, run)
                .await
                .unwrap_or_else(|_| Err(timed_out(WAIT_TIMEOUT, deadlines.wait)));
            let (response, ok) = match result {
                Ok(outputs) => (
                    ServiceResponse {
                        outputs: Some(outputs),
                        ..late.template
                    },
                    true,
                ),
                Err(e) => (fault(late.template, late.action, e.to_string()), false),
            };
            let callback = match lease {
                Some(lease) => lease.finish(&late.target, &response).await,
                None => late.callbacks.deliver(&late.target, &response).await.into(),
            };
            late.records.update(&late.execution_id, |r| {
                r.status = if ok { "succeeded" } else { "failed" };
                r.callback = Some(callback);
            });
        }
        .in_current_span(),
    );
    Ok(Outcome::Waiting)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn never() -> Run {
        Box::pin(std::future::pending())
    }

    #[tokio::test(start_paused = true)]
    async fn a_caller_without_a_callback_waits_up_to_the_execution_timeout() {
        let deadlines = Deadlines {
            budget: Duration::from_secs(60),
            execution: Duration::from_secs(5),
            wait: Duration::from_secs(600),
        };
        let started = Instant::now();
        let err = run(never(), deadlines, || None, ()).await.unwrap_err();
        assert_eq!(started.elapsed(), Duration::from_secs(5));
        assert_eq!(err.status(), 504);
        assert!(
            err.to_string().contains("execution timeout of 5 s"),
            "{err}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn deadline_drops_late_work_and_names_the_timeout() {
        let err = deadline(Duration::from_secs(3), std::future::pending::<Result<()>>())
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::ExecutionTimeout {
                    limit: EXECUTION_TIMEOUT,
                    seconds: 3
                }
            ),
            "{err}"
        );
        assert_eq!(
            deadline(Duration::from_secs(3), async { Ok(7) })
                .await
                .unwrap(),
            7
        );
    }
}
