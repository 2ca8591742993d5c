//! Callbacks: delivering a late ServiceResponse to the engine's `callbackUri`.
//!
//! When a message action outlives its sync budget the caller is answered `WAIT` and the
//! final ServiceResponse is POSTed here once the process ends (the Flow wire protocol,
//! `protocol`); a Flow listener's ListenerServiceResponse goes the same way
//! ([`Callbacks::deliver_json`]) when its event happens. The engine answers a JSON string
//! invoke type; `"BUSY"`, a 5xx or a connection error is retried with exponential
//! back-off, up to the configured attempts, and the outcome is logged and counted. On a
//! shared database a WAIT callback is kept in the durable outbox (`outbox`) instead of in
//! memory, and tried one attempt at a time ([`Callbacks::try_once`]) by whichever instance
//! claims it, under the same policy and counters; a listener's callback is still sent
//! from memory (its registration, not a run, is what the database keeps).
//! Callbacks go through the runtime's one [`OutboundClient`]: `http://` or
//! `https://` (the engine's `callbackUri` is HTTPS), certificates verified against the
//! platform's roots and `--ca-file`. A receiver whose certificate does not verify gets no
//! request; the attempt is retried like any connection failure, and the reason a record
//! keeps says why ("TLS: the certificate of HOST is not trusted (UnknownIssuer)").

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request};
use http_body_util::Full;

use crate::http::client::OutboundClient;
use crate::http::header::MANYWHO_TENANT;
use crate::protocol::ServiceResponse;

/// Default attempts per callback (the first try included).
pub const DEFAULT_CALLBACK_ATTEMPTS: u32 = 4;
/// Default delay before the second attempt; each later delay doubles.
pub const DEFAULT_CALLBACK_BACKOFF: Duration = Duration::from_millis(500);
/// The most of the engine's reply that is read.
const MAX_REPLY_BYTES: usize = 64 << 10;

/// Retry policy of callbacks.
#[derive(Debug, Clone, Copy)]
pub struct CallbackPolicy {
    /// Attempts per callback, the first included. Default 4.
    pub attempts: u32,
    /// Delay before the second attempt; doubles after each. Default 500 ms.
    pub backoff: Duration,
}

impl Default for CallbackPolicy {
    fn default() -> Self {
        CallbackPolicy {
            attempts: DEFAULT_CALLBACK_ATTEMPTS,
            backoff: DEFAULT_CALLBACK_BACKOFF,
        }
    }
}

impl CallbackPolicy {
    /// The delay between attempt `attempt` (from 1) and the next: the back-off, doubled
    /// after each attempt.
    pub(crate) fn delay_after(&self, attempt: u32) -> Duration {
        self.backoff
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)))
    }
}

/// What one attempt of a callback came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Attempt {
    /// The engine accepted it.
    Delivered,
    /// It failed in a way a later attempt may mend, and the policy allows one.
    Retry(String),
    /// It failed for good: refused, or the policy's last attempt.
    GaveUp(String),
}

/// How one callback ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallbackOutcome {
    /// The engine accepted it, after this many attempts.
    Delivered {
        /// Attempts used.
        attempts: u32,
    },
    /// Every attempt failed; the last reason is kept.
    GaveUp {
        /// Attempts used.
        attempts: u32,
        /// Why the last attempt failed.
        reason: String,
    },
}

/// The callback client and its counters.
#[derive(Debug)]
pub struct Callbacks {
    /// The runtime's outbound client; its total timeout bounds each attempt.
    client: OutboundClient,
    policy: CallbackPolicy,
    delivered: AtomicU64,
    retried: AtomicU64,
    failed: AtomicU64,
    /// WAIT executions whose callback is not yet delivered or given up.
    pending: AtomicI64,
}

/// What is sent, besides the body.
#[derive(Debug, Clone, Default)]
pub struct CallbackTarget {
    /// The request's `callbackUri`.
    pub uri: String,
    /// The request's `tenantId`, sent as `ManyWhoTenant`.
    pub tenant_id: Option<String>,
    /// The original `Authorization` header.
    pub authorization: Option<String>,
}

impl Callbacks {
    /// Callbacks with `policy`, sent through `client`.
    pub fn new(policy: CallbackPolicy, client: OutboundClient) -> Self {
        Callbacks {
            client,
            policy,
            delivered: AtomicU64::new(0),
            retried: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            pending: AtomicI64::new(0),
        }
    }

    /// WAIT executions whose callback is not yet delivered or given up.
    pub fn pending(&self) -> i64 {
        self.pending.load(Ordering::Relaxed)
    }

    /// Counts one more WAIT execution owing a callback until the guard is dropped.
    pub(crate) fn owe(self: &Arc<Self>) -> Owed {
        self.pending.fetch_add(1, Ordering::Relaxed);
        Owed(Arc::clone(self))
    }

    /// Counts so far: (delivered, retried attempts, given up).
    pub fn counts(&self) -> (u64, u64, u64) {
        (
            self.delivered.load(Ordering::Relaxed),
            self.retried.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
        )
    }

    /// POSTs `response` to `target`, retrying per the policy.
    pub async fn deliver(
        &self,
        target: &CallbackTarget,
        response: &ServiceResponse,
    ) -> CallbackOutcome {
        let body = Bytes::from(serde_json::to_vec(response).expect("wire types serialize"));
        self.deliver_json(target, body).await
    }

    /// POSTs the JSON `body` to `target` with the same headers, retry rules and counters
    /// as a ServiceResponse: how every callback to the engine goes (a ListenerServiceResponse
    /// too).
    pub async fn deliver_json(&self, target: &CallbackTarget, body: Bytes) -> CallbackOutcome {
        let mut attempt = 1;
        loop {
            match self.try_once(target, body.clone(), attempt).await {
                Attempt::Delivered => return CallbackOutcome::Delivered { attempts: attempt },
                Attempt::GaveUp(reason) => {
                    return CallbackOutcome::GaveUp {
                        attempts: attempt,
                        reason,
                    }
                }
                Attempt::Retry(_) => {
                    tokio::time::sleep(self.policy.delay_after(attempt)).await;
                    attempt += 1;
                }
            }
        }
    }

    /// The retry policy.
    pub(crate) fn policy(&self) -> CallbackPolicy {
        self.policy
    }

    /// Attempt number `attempt` (from 1) of a callback: one POST, counted, and what the
    /// policy says follows it. The in-memory loop ([`Callbacks::deliver_json`]) and the
    /// durable outbox (`execution::outbox`) both go through it, so that a callback is
    /// retried and counted the same whichever keeps it.
    pub(crate) async fn try_once(
        &self,
        target: &CallbackTarget,
        body: Bytes,
        attempt: u32,
    ) -> Attempt {
        if attempt > 1 {
            self.retried.fetch_add(1, Ordering::Relaxed);
        }
        let reason = match self.attempt(target, body).await {
            Ok(()) => {
                self.delivered.fetch_add(1, Ordering::Relaxed);
                return Attempt::Delivered;
            }
            Err((reason, false)) => {
                tracing::debug!(uri = %target.uri, attempt, %reason, "Callback refused.");
                self.failed.fetch_add(1, Ordering::Relaxed);
                return Attempt::GaveUp(reason);
            }
            Err((reason, true)) => reason,
        };
        tracing::debug!(uri = %target.uri, attempt, %reason, "Callback attempt failed.");
        if attempt >= self.policy.attempts.max(1) {
            self.failed.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(uri = %target.uri, attempts = attempt, %reason, "Callback given up.");
            return Attempt::GaveUp(reason);
        }
        Attempt::Retry(reason)
    }

    /// One attempt: `Ok` when the engine accepted, else the reason and whether a retry may
    /// help (`BUSY`, 5xx, connection errors) or not (a 4xx, an unusable URI).
    async fn attempt(&self, target: &CallbackTarget, body: Bytes) -> Result<(), (String, bool)> {
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(&target.uri)
            .header(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
        if let Some(t) = target
            .tenant_id
            .as_deref()
            .and_then(|t| HeaderValue::from_str(t).ok())
        {
            req = req.header(MANYWHO_TENANT, t);
        }
        if let Some(a) = target
            .authorization
            .as_deref()
            .and_then(|a| HeaderValue::from_str(a).ok())
        {
            req = req.header(header::AUTHORIZATION, a);
        }
        let req = req
            .body(Full::new(body))
            .map_err(|e| (format!("callback URI is not usable: {e}"), false))?;
        let resp = self
            .client
            .send(req, MAX_REPLY_BYTES)
            .await
            .map_err(|e| (e.to_string(), e.is_retryable()))?;
        let status = resp.status();
        let reply = resp.into_body();
        if status.is_server_error() {
            return Err((format!("engine answered {status}"), true));
        }
        if !status.is_success() {
            // A 4xx will not get better by retrying.
            let text = String::from_utf8_lossy(&reply[..reply.len().min(200)]).into_owned();
            return Err((format!("engine answered {status}: {text}"), false));
        }
        match serde_json::from_slice::<String>(&reply) {
            Ok(s) if s.eq_ignore_ascii_case("BUSY") => Err(("engine answered BUSY".into(), true)),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delay_doubles_after_each_attempt() {
        let policy = CallbackPolicy {
            attempts: 5,
            backoff: Duration::from_millis(500),
        };
        let delays: Vec<u128> = (1..=4).map(|a| policy.delay_after(a).as_millis()).collect();
        assert_eq!(delays, [500, 1000, 2000, 4000]);
    }
}

/// A WAIT execution's callback still owed: counted in [`Callbacks::pending`] while alive.
#[derive(Debug)]
pub(crate) struct Owed(Arc<Callbacks>);

impl Drop for Owed {
    fn drop(&mut self) {
        self.0.pending.fetch_sub(1, Ordering::Relaxed);
    }
}
