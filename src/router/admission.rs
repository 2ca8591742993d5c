//! Admission control per operation: a concurrency cap with a bounded wait, and a rate
//! limit. Never an unbounded queue: a request that cannot get a slot within
//! `queueTimeoutMs` is answered 503 with `Retry-After`; one over `maxRequestsPerSecond`
//! is answered 429 with `Retry-After`.
//!
//! The rate limit is GCRA (a token bucket without a timer) on one atomic: each admitted
//! request pushes the "theoretical arrival time" one interval further; a request whose
//! arrival time would run more than a second's burst ahead of now is refused. No lock on
//! the request path.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::definition::Limits;
use crate::error::{Error, Result};

/// Default time a request waits for a free execution slot.
pub const DEFAULT_QUEUE_TIMEOUT: Duration = Duration::from_secs(10);

/// The admission state of one operation, shared by its requests.
#[derive(Debug)]
pub struct Admission {
    slots: Option<Arc<Semaphore>>,
    queue_timeout: Duration,
    rate: Option<Rate>,
}

#[derive(Debug)]
struct Rate {
    /// Nanoseconds between admitted requests at the steady rate.
    interval: u64,
    /// How far ahead of now the arrival time may run (one second's burst).
    burst: u64,
    /// Theoretical arrival time, in nanoseconds since `epoch`.
    tat: AtomicU64,
    epoch: Instant,
}

/// Proof of admission; the slot is freed when it is dropped.
#[derive(Debug)]
pub struct Admitted(#[allow(dead_code)] Option<OwnedSemaphorePermit>);

impl Admission {
    /// The admission state for `limits`.
    pub fn new(limits: Limits) -> Self {
        Admission {
            slots: limits
                .max_concurrent
                .map(|n| Arc::new(Semaphore::new(n.max(1)))),
            queue_timeout: limits.queue_timeout.unwrap_or(DEFAULT_QUEUE_TIMEOUT),
            rate: limits.max_per_second.filter(|r| *r > 0.0).map(|r| {
                let interval = (1e9 / r).max(1.0) as u64;
                Rate {
                    interval,
                    burst: 1_000_000_000u64.max(interval),
                    tat: AtomicU64::new(0),
                    epoch: Instant::now(),
                }
            }),
        }
    }

    /// Whether any limit is set.
    pub fn is_unlimited(&self) -> bool {
        self.slots.is_none() && self.rate.is_none()
    }

    /// Admits one request, waiting for a slot at most the queue timeout.
    ///
    /// # Errors
    ///
    /// [`Error::RateLimited`] over the rate, [`Error::Overloaded`] when no slot frees up
    /// in time.
    pub async fn admit(&self) -> Result<Admitted> {
        if let Some(rate) = &self.rate {
            rate.check()?;
        }
        let Some(slots) = &self.slots else {
            return Ok(Admitted(None));
        };
        if let Ok(p) = Arc::clone(slots).try_acquire_owned() {
            return Ok(Admitted(Some(p)));
        }
        match tokio::time::timeout(self.queue_timeout, Arc::clone(slots).acquire_owned()).await {
            Ok(Ok(p)) => Ok(Admitted(Some(p))),
            _ => Err(Error::Overloaded {
                message: "the operation is at its maxConcurrentExecutions limit and no slot freed within queueTimeoutMs",
                retry_after: 1,
            }),
        }
    }
}

impl Rate {
    fn check(&self) -> Result<()> {
        let now = self.epoch.elapsed().as_nanos() as u64;
        let mut tat = self.tat.load(Ordering::Relaxed);
        loop {
            let next = tat.max(now) + self.interval;
            if next > now + self.burst {
                let wait_ns = next - now - self.burst;
                return Err(Error::RateLimited {
                    retry_after: wait_ns.div_ceil(1_000_000_000).max(1),
                });
            }
            match self
                .tat
                .compare_exchange_weak(tat, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return Ok(()),
                Err(t) => tat = t,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn rate_admits_a_seconds_burst_then_refuses() {
        let a = Admission::new(Limits {
            max_per_second: Some(5.0),
            ..Limits::default()
        });
        for _ in 0..5 {
            a.admit().await.unwrap();
        }
        let e = a.admit().await.unwrap_err();
        assert_eq!(e.status(), 429);
    }

    #[tokio::test(start_paused = true)]
    async fn full_slots_refuse_after_the_queue_timeout() {
        let a = Admission::new(Limits {
            max_concurrent: Some(1),
            queue_timeout: Some(Duration::from_millis(100)),
            ..Limits::default()
        });
        let held = a.admit().await.unwrap();
        let e = a.admit().await.unwrap_err();
        assert_eq!(e.status(), 503);
        drop(held);
        a.admit().await.unwrap();
    }
}
