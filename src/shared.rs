//! What every operation may see besides its own service: the runtime's settings, the
//! `store` builtin (for the stored files no definition names: spooling an upload,
//! download and delete by id), the one outbound HTTP client, the OAuth provider store, the
//! callback client and the execution records. Nothing
//! else of the runtime — no mounts, no admin, no users — so that an operation's reach is
//! this struct.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::edge::EdgeConfig;
use crate::execution::outbox::Outbox;
use crate::execution::records::{DEFAULT_RECORDS, DEFAULT_RECORDS_BYTES};
use crate::execution::{CallbackPolicy, Callbacks, OutboxTiming, Records};
use crate::http::client::{OutboundClient, OutboundConfig};
use crate::metrics::HttpStats;
use crate::oauth::OAuth;
use crate::process::StoreProcess;
use crate::router::Snapshot;
use crate::store::Durability;

/// Default largest JSON request body: 10 MiB.
pub const DEFAULT_MAX_REQUEST_BYTES: u64 = 10 << 20;

pub use crate::process::DEFAULT_EXECUTION_TIMEOUT;
/// Default deadline of work that continues after `WAIT`: 24 h.
pub const DEFAULT_WAIT_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);

/// How the runtime serves requests (what the server's sockets do is in `ServerConfig`).
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// The data folder: tables, files and their index live under it.
    pub data_dir: PathBuf,
    /// The keystore file (`--keystore`); `None`: `keystore.key` in the data folder.
    pub keystore_file: Option<PathBuf>,
    /// The largest JSON request body, unless an operation sets its own. Default 10 MiB.
    pub max_request_bytes: u64,
    /// The base URL used in download links; default: built from the request's `Host`.
    pub public_base_url: Option<String>,
    /// Retry policy of WAIT callbacks.
    pub callback: CallbackPolicy,
    /// Trust and timeouts of the outbound client (callbacks and every later outbound
    /// caller): `--ca-file`, `--connect-timeout`, `--request-timeout`.
    pub outbound: OutboundConfig,
    /// How many execution records the in-memory ring keeps (0: none). Default 10 000.
    pub execution_records: usize,
    /// The budget of the execution-record ring in bytes of what its records keep.
    /// Default 32 MiB.
    pub execution_records_bytes: usize,
    /// Trusted proxies, address allow-lists, CORS and cross-site rules of the edge.
    pub edge: EdgeConfig,
    /// The longest a process may run while its caller waits for the answer (data and
    /// file operations, message actions answered synchronously): past it the process
    /// (its whole process tree, or a handler's future) is stopped and the caller gets a
    /// 504 naming the deadline. Default 30 s.
    pub execution_timeout: Duration,
    /// The longest a message action answered `WAIT` may run in all: past it the process
    /// is stopped and the callback gets `rootFaults` naming the deadline. Default 24 h.
    pub wait_timeout: Duration,
    /// How the tables and the file index sync acknowledged writes (`--durability`).
    /// Default [`Durability::Full`]: a write that was answered survives a power loss.
    pub durability: Durability,
    /// How long the incoming API keeps a run (its status and result, for the poll URL):
    /// `--api-retention-days`, default 7 days.
    pub api_retention: Duration,
    /// How long an `Idempotency-Key` of the incoming API is remembered:
    /// `--idempotency-ttl-hours`, default 24 h.
    pub idempotency_ttl: Duration,
    /// The header API keys arrive in (`--api-key-header`, D10). `Authorization`, the
    /// default, carries `Bearer <key>`; any other header carries the key alone, for
    /// clients that cannot set `Authorization` (PhixFlow's own deployments name one).
    pub api_key_header: http::HeaderName,
    /// The RabbitMQ broker of `rabbit` event channels (`--amqp-url`), connected when a
    /// channel first needs it. Default [`DEFAULT_AMQP_URL`].
    pub amqp_url: String,
    /// The PostgreSQL database of every durable thing (`--database`); `None`: the
    /// embedded SQLite databases under the data folder. Several instances may share one.
    /// Secret: it may carry a password, so it is never logged.
    pub database_url: Option<String>,
    /// The timing of the callback outbox and the leases of running executions, on a
    /// shared database (`execution::outbox`): not a flag; tests shorten it.
    pub outbox: OutboxTiming,
    /// Where stored files live (`--files-dir`); `None`: `files` in the data folder.
    /// Instances sharing a database share this folder (one file system, so that an
    /// upload's rename stays atomic).
    pub files_dir: Option<PathBuf>,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            data_dir: PathBuf::from("data"),
            keystore_file: None,
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
            public_base_url: None,
            callback: CallbackPolicy::default(),
            outbound: OutboundConfig::default(),
            execution_records: DEFAULT_RECORDS,
            execution_records_bytes: DEFAULT_RECORDS_BYTES,
            edge: EdgeConfig::default(),
            execution_timeout: DEFAULT_EXECUTION_TIMEOUT,
            wait_timeout: DEFAULT_WAIT_TIMEOUT,
            durability: Durability::default(),
            api_retention: DEFAULT_API_RETENTION,
            idempotency_ttl: DEFAULT_IDEMPOTENCY_TTL,
            api_key_header: http::header::AUTHORIZATION,
            amqp_url: DEFAULT_AMQP_URL.to_owned(),
            database_url: None,
            outbox: OutboxTiming::default(),
            files_dir: None,
        }
    }
}

/// The broker of `rabbit` event channels unless `--amqp-url` (`FSS_AMQP_URL`) says
/// otherwise: the local RabbitMQ with its default user.
pub const DEFAULT_AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// Default retention of the incoming API's runs: 7 days.
pub const DEFAULT_API_RETENTION: Duration = Duration::from_secs(7 * 24 * 60 * 60);
/// Default time an `Idempotency-Key` is remembered: 24 h.
pub const DEFAULT_IDEMPOTENCY_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// The parts of the runtime operations share; cheap to clone.
#[derive(Debug, Clone)]
pub struct Shared {
    /// The runtime's settings.
    pub config: Arc<RuntimeConfig>,
    /// The `store` builtin.
    pub store: Arc<StoreProcess>,
    /// The one outbound HTTP client; callbacks use it, and so does every later caller.
    pub outbound: OutboundClient,
    /// The callback client of WAIT answers.
    pub callbacks: Arc<Callbacks>,
    /// The ring of recent executions.
    pub records: Arc<Records>,
    /// The durable outbox of WAIT callbacks, when the runtime has a shared database
    /// (set once at start, by `Runtime::new`); `None`: callbacks go from memory.
    pub(crate) outbox: Option<Arc<Outbox>>,
    /// Requests being answered right now.
    pub in_flight: Arc<AtomicI64>,
    /// Every answered request by area and status (404s and the admin API included).
    pub http_stats: Arc<HttpStats>,
    /// The server's connections and readiness.
    pub server: Arc<ServerState>,
    /// The OAuth provider store and token cache of `http` processes.
    pub oauth: Arc<OAuth>,
}

impl Shared {
    /// The shared parts of a runtime with `config`, its `store` builtin on `store`.
    ///
    /// A CA file that cannot be used is an error at start for the binary
    /// (`config::parse` loads it); an embedder that sets a bad one gets the error logged
    /// and a client trusting only the platform's roots, so that nothing is trusted that
    /// was not meant to be.
    pub(crate) fn new(config: RuntimeConfig, store: Arc<StoreProcess>, oauth: Arc<OAuth>) -> Self {
        let outbound = OutboundClient::new(&config.outbound).unwrap_or_else(|e| {
            tracing::error!(error = %e, "Outbound client without the CA file.");
            OutboundClient::new(&OutboundConfig {
                ca_file: None,
                ..config.outbound.clone()
            })
            .expect("a client without a CA file cannot fail")
        });
        Shared {
            callbacks: Arc::new(Callbacks::new(config.callback, outbound.clone())),
            outbound,
            records: Arc::new(Records::new(
                config.execution_records,
                config.execution_records_bytes,
            )),
            outbox: None,
            in_flight: Arc::new(AtomicI64::new(0)),
            http_stats: Arc::new(HttpStats::default()),
            server: Arc::new(ServerState::default()),
            config: Arc::new(config),
            store,
            oauth,
        }
    }

    /// The base of absolute URLs for a request with head `parts`.
    pub fn base_url(&self, parts: &http::request::Parts) -> String {
        crate::http::request::base_url(self.config.public_base_url.as_deref(), parts)
    }

    /// The metrics of the services of `snapshot` and of the process, in the Prometheus
    /// text format, family by family.
    pub fn metrics_text(&self, snapshot: &Snapshot) -> String {
        use crate::metrics;
        let mut out = String::with_capacity(8192);
        let mut services: Vec<_> = snapshot.services().collect();
        services.sort_by(|a, b| a.name.cmp(&b.name));
        let labelled: Vec<_> = services
            .iter()
            .flat_map(|s| s.stats.iter().map(|op| (op.labels(&s.name), op)))
            .collect();
        out.push_str(metrics::REQUESTS_HEADER);
        for (labels, op) in &labelled {
            op.render_counts("fss_requests_total", labels, &mut out);
        }
        out.push_str(metrics::DURATION_HEADER);
        for (labels, op) in &labelled {
            op.render_durations("fss_request_duration_seconds", labels, &mut out);
        }
        self.http_stats.render_counts(&mut out);
        self.http_stats.render_durations(&mut out);
        let (shed, limited) = labelled.iter().fold((0, 0), |(s, l), (_, op)| {
            (s + op.count(503), l + op.count(429))
        });
        let (delivered, retried, failed) = self.callbacks.counts();
        let in_flight = self.in_flight.load(Ordering::Relaxed);
        let _ = write!(
            out,
            "# HELP fss_in_flight_requests Requests being answered now.\n\
             # TYPE fss_in_flight_requests gauge\n\
             fss_in_flight_requests {in_flight}\n\
             # HELP fss_shed_total Requests shed at a concurrency limit (503).\n\
             # TYPE fss_shed_total counter\n\
             fss_shed_total {shed}\n\
             # HELP fss_rate_limited_total Requests refused by a rate limit (429).\n\
             # TYPE fss_rate_limited_total counter\n\
             fss_rate_limited_total {limited}\n\
             # HELP fss_callbacks_total WAIT callbacks by outcome.\n\
             # TYPE fss_callbacks_total counter\n\
             fss_callbacks_total{{outcome=\"delivered\"}} {delivered}\n\
             fss_callbacks_total{{outcome=\"retried\"}} {retried}\n\
             fss_callbacks_total{{outcome=\"failed\"}} {failed}\n"
        );
        let gauge = |out: &mut String, name, help, v: i64| {
            metrics::single(out, name, "gauge", help, v);
        };
        gauge(
            &mut out,
            "fss_connections",
            "Client connections open now.",
            self.server.connections.load(Ordering::Relaxed),
        );
        gauge(
            &mut out,
            "fss_in_flight_executions",
            "Processes running now, WAIT ones included.",
            crate::execution::running_executions(),
        );
        gauge(
            &mut out,
            "fss_pending_callbacks",
            "WAIT executions whose callback is not yet delivered or given up.",
            self.callbacks.pending(),
        );
        gauge(
            &mut out,
            "fss_records",
            "Execution records the ring holds.",
            self.records.len() as i64,
        );
        gauge(
            &mut out,
            "fss_records_bytes",
            "Bytes the execution-record ring holds, against its budget.",
            self.records.bytes() as i64,
        );
        metrics::build_info(&mut out);
        metrics::process::render(&mut out);
        out
    }
}

/// What the server tells the runtime of itself: open connections, and whether it listens
/// and is draining (for `/readyz`). An embedder that serves without `server::run` leaves
/// `listening` false, so readiness says the listener is not bound.
#[derive(Debug, Default)]
pub struct ServerState {
    /// Client connections open now.
    pub connections: AtomicI64,
    /// `server::run` accepts connections.
    pub listening: AtomicBool,
    /// Shutdown has begun: in-flight requests finish, new ones should go elsewhere.
    pub draining: AtomicBool,
}

/// Counts one open connection while it lives.
#[derive(Debug)]
pub struct OpenConnection(Arc<ServerState>);

impl OpenConnection {
    /// Counts a connection of `state` until the value is dropped.
    pub fn new(state: &Arc<ServerState>) -> Self {
        state.connections.fetch_add(1, Ordering::Relaxed);
        OpenConnection(Arc::clone(state))
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::Relaxed);
    }
}
