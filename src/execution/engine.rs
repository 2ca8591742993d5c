//! The run engine of message actions: a sync budget, then `WAIT`, then the callback.
//!
//! The process runs on the caller's task; only when it outlives the action's
//! `syncTimeoutSeconds` is it moved to a task of its own, so the common case costs no spawn
//! and no channel. A late process keeps running: the caller is answered `WAIT`, and the
//! final ServiceResponse (`FORWARD` with the outputs, or `FORWARD` with `rootFaults`
//! `{action name: message}` when it failed) is POSTed to the request's `callbackUri` by
//! [`Callbacks`], its outcome written into the execution's record. A request without a
//! `callbackUri` has nowhere to receive a late answer, so it waits for the process to end.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use super::callback::{CallbackOutcome, CallbackTarget, Callbacks};
use super::records::{CallbackRecord, Records};
use crate::error::Result;
use crate::protocol::{EngineValue, ServiceResponse};

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

/// Runs `run` within `budget`. When it is late, `late` says where its answer goes (`None`:
/// the caller waits); `hold` (the execution's admission slot) is kept until the process
/// really ends.
///
/// # Errors
///
/// The process failed within the budget, or the caller waited and it failed.
pub(crate) async fn run<H: Send + 'static>(
    mut run: Run,
    budget: Duration,
    late: impl FnOnce() -> Option<Late>,
    hold: H,
) -> Result<Outcome> {
    let finished = tokio::select! {
        biased;
        r = &mut run => Some(r),
        () = tokio::time::sleep(budget) => None,
    };
    if let Some(r) = finished {
        return r.map(Outcome::Done);
    }
    let Some(late) = late() else {
        return run.await.map(Outcome::Done);
    };
    tokio::spawn(async move {
        let _hold = hold;
        let (response, ok) = match run.await {
            Ok(outputs) => (
                ServiceResponse {
                    outputs: Some(outputs),
                    ..late.template
                },
                true,
            ),
            Err(e) => (
                ServiceResponse {
                    root_faults: Some([(late.action, e.to_string())].into_iter().collect()),
                    ..late.template
                },
                false,
            ),
        };
        let outcome = late.callbacks.deliver(&late.target, &response).await;
        late.records.update(&late.execution_id, |r| {
            r.status = if ok { "succeeded" } else { "failed" };
            r.callback = Some(match outcome {
                CallbackOutcome::Delivered { attempts } => CallbackRecord {
                    attempts,
                    delivered: true,
                    reason: None,
                },
                CallbackOutcome::GaveUp { attempts, reason } => CallbackRecord {
                    attempts,
                    delivered: false,
                    reason: Some(reason),
                },
            });
        });
    });
    Ok(Outcome::Waiting)
}
