//! Metrics in the Prometheus text format: requests by service, operation and status,
//! latency histograms, in-flight requests, shed and rate-limited counts, callbacks.
//!
//! Counters live on the mounted service (one [`OpStats`] per operation, allocated at mount
//! time) and are plain atomics: recording a request takes no lock and allocates nothing.
//! A redeploy starts the service's counters from zero, which Prometheus treats as a
//! counter reset.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The statuses counted one by one; any other lands in the last slot.
const STATUSES: [u16; 19] = [
    200, 201, 204, 206, 400, 401, 403, 404, 405, 408, 409, 413, 415, 416, 429, 500, 501, 503, 0,
];

/// Counters of one operation.
#[derive(Debug)]
pub struct OpStats {
    /// The operation kind label.
    pub operation: &'static str,
    /// The action name or empty.
    pub name: String,
    by_status: [AtomicU64; STATUSES.len()],
    buckets: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    sum_micros: AtomicU64,
}

impl OpStats {
    /// Counters for `operation` (and the action `name`, if any).
    pub fn new(operation: &'static str, name: String) -> Self {
        OpStats {
            operation,
            name,
            by_status: Default::default(),
            buckets: Default::default(),
            sum_micros: AtomicU64::new(0),
        }
    }

    /// Records one answered request.
    pub fn record(&self, status: u16, elapsed: Duration) {
        let slot = STATUSES
            .iter()
            .position(|s| *s == status)
            .unwrap_or(STATUSES.len() - 1);
        self.by_status[slot].fetch_add(1, Ordering::Relaxed);
        let secs = elapsed.as_secs_f64();
        let b = LATENCY_BUCKETS
            .iter()
            .position(|ub| secs <= *ub)
            .unwrap_or(LATENCY_BUCKETS.len());
        self.buckets[b].fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
    }

    /// Requests answered with `status`.
    pub fn count(&self, status: u16) -> u64 {
        STATUSES
            .iter()
            .position(|s| *s == status)
            .map_or(0, |i| self.by_status[i].load(Ordering::Relaxed))
    }

    /// Appends this operation's series to `out`.
    pub fn render(&self, service: &str, out: &mut String) {
        let labels = format!(
            "service=\"{}\",operation=\"{}\",name=\"{}\"",
            escape(service),
            self.operation,
            escape(&self.name)
        );
        let mut total = 0;
        for (i, s) in STATUSES.iter().enumerate() {
            let n = self.by_status[i].load(Ordering::Relaxed);
            total += n;
            if n > 0 {
                let status = if *s == 0 {
                    "other".to_owned()
                } else {
                    s.to_string()
                };
                let _ = writeln!(
                    out,
                    "fss_requests_total{{{labels},status=\"{status}\"}} {n}"
                );
            }
        }
        if total == 0 {
            return;
        }
        let mut cumulative = 0;
        for (i, ub) in LATENCY_BUCKETS.iter().enumerate() {
            cumulative += self.buckets[i].load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "fss_request_duration_seconds_bucket{{{labels},le=\"{ub}\"}} {cumulative}"
            );
        }
        cumulative += self.buckets[LATENCY_BUCKETS.len()].load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "fss_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {cumulative}"
        );
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "fss_request_duration_seconds_sum{{{labels}}} {sum}");
        let _ = writeln!(
            out,
            "fss_request_duration_seconds_count{{{labels}}} {cumulative}"
        );
    }
}

/// Escapes a label value.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The metric families' help and type lines, written once at the top.
pub const HEADER: &str = "\
# HELP fss_requests_total Requests answered, by service, operation and HTTP status.
# TYPE fss_requests_total counter
# HELP fss_request_duration_seconds Time from request to answer.
# TYPE fss_request_duration_seconds histogram
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counts_and_cumulative_buckets() {
        let s = OpStats::new("action", "Echo".into());
        s.record(200, Duration::from_micros(300));
        s.record(200, Duration::from_millis(3));
        s.record(429, Duration::from_micros(10));
        let mut out = String::new();
        s.render("Svc", &mut out);
        assert!(out.contains(
            "fss_requests_total{service=\"Svc\",operation=\"action\",name=\"Echo\",status=\"200\"} 2"
        ));
        assert!(out.contains("status=\"429\"} 1"));
        assert!(out.contains("le=\"0.0005\"} 2"), "{out}");
        assert!(out.contains("le=\"+Inf\"} 3"), "{out}");
        assert_eq!(s.count(429), 1);
    }
}
