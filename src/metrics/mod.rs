//! Metrics in the Prometheus text format: requests by service, operation and status,
//! latency histograms, in-flight requests, shed and rate-limited counts, callbacks.
//!
//! Counters live on the mounted service (one [`OpStats`] per operation, allocated at mount
//! time) and are plain atomics: recording a request takes no lock and allocates nothing.
//! The mounts keep them by service name, operation and action name, so a redeploy (or a
//! hot reload) of a service carries its counters on instead of resetting them.
//!
//! The text is grouped by family (HELP, TYPE, then every sample of it), as Prometheus'
//! parsers require of the text format. Besides the per-operation families,
//! `fss_http_requests_total{area, status}` counts every request the server answered,
//! 404s and 405s and the admin API included; `process_*` are the standard process
//! metrics (`process`), and `fss_build_info` names the build.

pub mod process;

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

    /// The labels of this operation's series in `service`.
    pub fn labels(&self, service: &str) -> String {
        format!(
            "service=\"{}\",operation=\"{}\",name=\"{}\"",
            escape(service),
            self.operation,
            escape(&self.name)
        )
    }

    /// Appends this operation's samples of the counter `family` (`fss_requests_total`
    /// and the like), one per status seen, each with `labels`.
    pub fn render_counts(&self, family: &str, labels: &str, out: &mut String) {
        for (i, s) in STATUSES.iter().enumerate() {
            let n = self.by_status[i].load(Ordering::Relaxed);
            if n > 0 {
                let status = if *s == 0 {
                    "other".to_owned()
                } else {
                    s.to_string()
                };
                let _ = writeln!(out, "{family}{{{labels},status=\"{status}\"}} {n}");
            }
        }
    }

    /// Appends this operation's samples of the histogram `family`, with `labels`; nothing
    /// while it has answered nothing.
    pub fn render_durations(&self, family: &str, labels: &str, out: &mut String) {
        let mut cumulative = 0;
        let mut lines = String::new();
        for (i, ub) in LATENCY_BUCKETS.iter().enumerate() {
            cumulative += self.buckets[i].load(Ordering::Relaxed);
            let _ = writeln!(
                lines,
                "{family}_bucket{{{labels},le=\"{ub}\"}} {cumulative}"
            );
        }
        cumulative += self.buckets[LATENCY_BUCKETS.len()].load(Ordering::Relaxed);
        if cumulative == 0 {
            return;
        }
        out.push_str(&lines);
        let _ = writeln!(out, "{family}_bucket{{{labels},le=\"+Inf\"}} {cumulative}");
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{family}_sum{{{labels}}} {sum}");
        let _ = writeln!(out, "{family}_count{{{labels}}} {cumulative}");
    }
}

/// Where a request went, for the requests no service operation counts: 404s and 405s
/// under `/fs/`, the admin API, the incoming API, the inbound event channels, the probes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    /// `/fs/…`: every request, routed or not.
    Fs = 0,
    /// `/api/…` (but `/api/1/`), `/event-registry-api/…`, the ThingWorx service names.
    Admin = 1,
    /// `/api/1/…`: the incoming API.
    Incoming = 2,
    /// `/events/…`: the inbound HTTP event channels.
    Events = 3,
    /// `/health`, `/livez`, `/readyz` and every other path.
    Other = 4,
}

impl Area {
    const ALL: [Area; 5] = [
        Area::Fs,
        Area::Admin,
        Area::Incoming,
        Area::Events,
        Area::Other,
    ];

    fn label(self) -> &'static str {
        match self {
            Area::Fs => "fs",
            Area::Admin => "admin",
            Area::Incoming => "incoming",
            Area::Events => "events",
            Area::Other => "other",
        }
    }
}

/// Every request the server answered, by [`Area`] and status: the one count that also
/// holds what no service's operation counts (an unknown service, a wrong method, the
/// admin API). One atomic add per request, no lock.
#[derive(Debug)]
pub struct HttpStats {
    areas: [OpStats; 5],
}

impl Default for HttpStats {
    fn default() -> Self {
        HttpStats {
            areas: Area::ALL.map(|a| OpStats::new(a.label(), String::new())),
        }
    }
}

impl HttpStats {
    /// Records one answered request of `area`.
    pub fn record(&self, area: Area, status: u16, elapsed: Duration) {
        self.areas[area as usize].record(status, elapsed);
    }

    /// Requests of `area` answered with `status`.
    pub fn count(&self, area: Area, status: u16) -> u64 {
        self.areas[area as usize].count(status)
    }

    /// Appends the `fss_http_requests_total` family, HELP and TYPE first.
    pub fn render_counts(&self, out: &mut String) {
        out.push_str(
            "# HELP fss_http_requests_total Every request answered, by area (fs, admin, \
             incoming, events, other) and HTTP status, 404s and 405s included.\n\
             # TYPE fss_http_requests_total counter\n",
        );
        for a in &self.areas {
            let labels = format!("area=\"{}\"", a.operation);
            a.render_counts("fss_http_requests_total", &labels, out);
        }
    }

    /// Appends the `fss_http_request_duration_seconds` family, HELP and TYPE first.
    pub fn render_durations(&self, out: &mut String) {
        out.push_str(
            "# HELP fss_http_request_duration_seconds Time from request to answer, by area.\n\
             # TYPE fss_http_request_duration_seconds histogram\n",
        );
        for a in &self.areas {
            let labels = format!("area=\"{}\"", a.operation);
            a.render_durations("fss_http_request_duration_seconds", &labels, out);
        }
    }
}

/// Appends one family of one sample: HELP, TYPE, `name value`.
pub fn single(out: &mut String, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
    let _ = write!(
        out,
        "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
    );
}

/// Appends `fss_build_info`: the version of this build, as a gauge of 1.
pub fn build_info(out: &mut String) {
    let _ =
        write!(
        out,
        "# HELP fss_build_info The build of fss that answers: its version, profile and target.\n\
         # TYPE fss_build_info gauge\n\
         fss_build_info{{version=\"{}\",profile=\"{}\",target_os=\"{}\",target_arch=\"{}\"}} 1\n",
        env!("CARGO_PKG_VERSION"),
        if cfg!(debug_assertions) { "debug" } else { "release" },
        std::env::consts::OS,
        std::env::consts::ARCH,
    );
}

/// Escapes a label value.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// HELP and TYPE of the per-operation request counter.
pub const REQUESTS_HEADER: &str = "\
# HELP fss_requests_total Requests answered, by service, operation and HTTP status.
# TYPE fss_requests_total counter
";

/// HELP and TYPE of the per-operation latency histogram.
pub const DURATION_HEADER: &str = "\
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
        let labels = s.labels("Svc");
        s.render_counts("fss_requests_total", &labels, &mut out);
        s.render_durations("fss_request_duration_seconds", &labels, &mut out);
        assert!(out.contains(
            "fss_requests_total{service=\"Svc\",operation=\"action\",name=\"Echo\",status=\"200\"} 2"
        ));
        assert!(out.contains("status=\"429\"} 1"));
        assert!(out.contains("le=\"0.0005\"} 2"), "{out}");
        assert!(out.contains("le=\"+Inf\"} 3"), "{out}");
        assert_eq!(s.count(429), 1);
    }
}
