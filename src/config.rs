//! The command line and the environment: how the process runs (what it serves is in the
//! definitions).
//!
//! ```text
//! fss [serve] [--operations DIR] [--data DIR] [--listen ADDR] [options]
//! fss check [--operations DIR]
//! ```
//!
//! Every flag has an `FSS_*` environment variable; a flag wins over its variable. A value
//! that does not parse is an error naming the flag or variable and the value. clap parses
//! (help with headings, defaults and variables, `--version`, typo suggestions); the values
//! are then checked here, so that an error can say which source gave the bad value.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::admin::AdminConfig;
use crate::server::tls::{TlsConfig, FLAG_TLS_CERT, FLAG_TLS_KEY};
use crate::server::ServerConfig;
use crate::shared::RuntimeConfig;

/// `FSS_OPERATIONS`: the operations folder.
pub const ENV_OPERATIONS: &str = "FSS_OPERATIONS";
/// `FSS_DATA`: the data folder.
pub const ENV_DATA: &str = "FSS_DATA";
/// `FSS_KEYSTORE`: the keystore file, when not `keystore.key` in the data folder.
pub const ENV_KEYSTORE: &str = "FSS_KEYSTORE";
/// `FSS_LISTEN`: the listen address.
pub const ENV_LISTEN: &str = "FSS_LISTEN";
/// `FSS_MAX_CONNECTIONS`: the connection cap.
pub const ENV_MAX_CONNECTIONS: &str = "FSS_MAX_CONNECTIONS";
/// `FSS_MAX_CONNECTIONS_PER_IP`: the connection cap per peer IP address.
pub const ENV_MAX_CONNECTIONS_PER_IP: &str = "FSS_MAX_CONNECTIONS_PER_IP";
/// `FSS_HEADER_READ_TIMEOUT_SECONDS`: time to send request headers.
pub const ENV_HEADER_READ_TIMEOUT: &str = "FSS_HEADER_READ_TIMEOUT_SECONDS";
/// `FSS_SHUTDOWN_GRACE_SECONDS`: time in-flight requests get on shutdown.
pub const ENV_SHUTDOWN_GRACE: &str = "FSS_SHUTDOWN_GRACE_SECONDS";
/// `FSS_BODY_IDLE_TIMEOUT_SECONDS`: time a client may pause mid-body.
pub const ENV_BODY_IDLE_TIMEOUT: &str = "FSS_BODY_IDLE_TIMEOUT_SECONDS";
/// `FSS_BODY_TIMEOUT_SECONDS`: time a whole request body may take.
pub const ENV_BODY_TIMEOUT: &str = "FSS_BODY_TIMEOUT_SECONDS";
/// `FSS_BODY_MIN_RATE_BYTES`: the slowest a request body may arrive, in bytes/s.
pub const ENV_BODY_MIN_RATE: &str = "FSS_BODY_MIN_RATE_BYTES";
/// `FSS_BODY_RATE_WINDOW_SECONDS`: the window the minimum body rate is averaged over.
pub const ENV_BODY_RATE_WINDOW: &str = "FSS_BODY_RATE_WINDOW_SECONDS";
/// `FSS_IDLE_TIMEOUT_SECONDS`: time a connection may sit with no request open.
pub const ENV_IDLE_TIMEOUT: &str = "FSS_IDLE_TIMEOUT_SECONDS";
/// `FSS_EXECUTION_TIMEOUT_SECONDS`: the longest a process runs while its caller waits.
pub const ENV_EXECUTION_TIMEOUT: &str = "FSS_EXECUTION_TIMEOUT_SECONDS";
/// `FSS_WAIT_TIMEOUT_SECONDS`: the longest a process answered WAIT runs.
pub const ENV_WAIT_TIMEOUT: &str = "FSS_WAIT_TIMEOUT_SECONDS";
/// Environment variable: days the runs of the incoming API are kept.
pub const ENV_API_RETENTION_DAYS: &str = "FSS_API_RETENTION_DAYS";
/// Environment variable: hours an `Idempotency-Key` of the incoming API is remembered.
pub const ENV_IDEMPOTENCY_TTL_HOURS: &str = "FSS_IDEMPOTENCY_TTL_HOURS";
/// `FSS_MAX_REQUEST_BYTES`: the largest JSON request body.
pub const ENV_MAX_REQUEST_BYTES: &str = "FSS_MAX_REQUEST_BYTES";
/// `FSS_PUBLIC_BASE_URL`: base URL for download links.
pub const ENV_PUBLIC_BASE_URL: &str = "FSS_PUBLIC_BASE_URL";
/// `FSS_API_KEY_HEADER`: the header API keys of the incoming API arrive in.
pub const ENV_API_KEY_HEADER: &str = "FSS_API_KEY_HEADER";
/// `FSS_AMQP_URL`: the RabbitMQ broker of `rabbit` event channels.
pub const ENV_AMQP_URL: &str = "FSS_AMQP_URL";
/// `FSS_DATABASE_URL`: the PostgreSQL database of every durable thing.
pub const ENV_DATABASE_URL: &str = "FSS_DATABASE_URL";
/// `FSS_FILES_DIR`: the folder of stored files.
pub const ENV_FILES_DIR: &str = "FSS_FILES_DIR";
/// `FSS_DURABILITY`: `full` (default) or `relaxed` syncing of the tables and file index.
pub const ENV_DURABILITY: &str = "FSS_DURABILITY";

/// `FSS_CA_FILE`: a PEM bundle of CAs the outbound client trusts besides the platform's.
pub const ENV_CA_FILE: &str = "FSS_CA_FILE";
/// `FSS_CONNECT_TIMEOUT_SECONDS`: the TCP connect timeout of outbound requests.
pub const ENV_CONNECT_TIMEOUT: &str = "FSS_CONNECT_TIMEOUT_SECONDS";
/// `FSS_REQUEST_TIMEOUT_SECONDS`: the total timeout of one outbound request.
pub const ENV_REQUEST_TIMEOUT: &str = "FSS_REQUEST_TIMEOUT_SECONDS";

/// `FSS_RECORDS`: how many execution records the ring keeps.
pub const ENV_RECORDS: &str = "FSS_RECORDS";
/// `FSS_RECORDS_MAX_BYTES`: the byte budget of the execution-record ring.
pub const ENV_RECORDS_MAX_BYTES: &str = "FSS_RECORDS_MAX_BYTES";
/// `FSS_CORS_ALLOWED_ORIGINS`: web origins that may call services from a browser.
pub const ENV_CORS_ALLOWED_ORIGINS: &str = "FSS_CORS_ALLOWED_ORIGINS";
/// `FSS_ADMIN_ALLOWED_ORIGINS`: web origins that may change things through the admin API.
pub const ENV_ADMIN_ALLOWED_ORIGINS: &str = "FSS_ADMIN_ALLOWED_ORIGINS";
/// `FSS_TRUSTED_PROXIES`: peers whose forwarding headers are believed.
pub const ENV_TRUSTED_PROXIES: &str = "FSS_TRUSTED_PROXIES";
/// `FSS_ADMIN_ALLOW_FROM`: client addresses that may call the admin API.
pub const ENV_ADMIN_ALLOW_FROM: &str = "FSS_ADMIN_ALLOW_FROM";

/// `FSS_TLS_CERT`: the listener's certificate chain (PEM); with `FSS_TLS_KEY`, HTTPS.
pub const ENV_TLS_CERT: &str = "FSS_TLS_CERT";
/// `FSS_TLS_KEY`: the private key of that certificate (PEM).
pub const ENV_TLS_KEY: &str = "FSS_TLS_KEY";
/// `FSS_TLS_CLIENT_CA`: the CA certificates client certificates are verified against.
pub const ENV_TLS_CLIENT_CA: &str = "FSS_TLS_CLIENT_CA";

/// `FSS_ADMIN_USER`: the bootstrap admin of the admin API.
pub const ENV_ADMIN_USER: &str = "FSS_ADMIN_USER";
/// `FSS_ADMIN_PASSWORD`: its password (used only to create it).
pub const ENV_ADMIN_PASSWORD: &str = "FSS_ADMIN_PASSWORD";

/// `FSS_LOG_FORMAT`: `text` (default) or `json` log lines on stderr.
pub const ENV_LOG_FORMAT: &str = "FSS_LOG_FORMAT";
/// `FSS_LOG`: the log filter (`tracing-subscriber`'s `EnvFilter` syntax); else `RUST_LOG`.
pub const ENV_LOG: &str = "FSS_LOG";

/// Default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9090";

const AFTER_HELP: &str = "\
Every option can also be set by the environment variable shown; a flag wins over it.
Logs: FSS_LOG (else RUST_LOG) filters them, e.g. 'info' (default), 'fss=debug,hyper=warn';
they go to stderr. stdout's first line is 'listening on http://ADDR' once serving.
Exit status: 0 done, 1 cannot start (port in use, data folder), 64 usage or invalid definitions.";

/// The command line as clap sees it: `serve` (also with no subcommand) or `check`.
#[derive(Debug, Parser)]
#[command(
    name = "fss",
    version,
    about = "fss - a low-latency Flow Services Server",
    after_help = AFTER_HELP,
    args_conflicts_with_subcommands = true,
    args_override_self = true,
    // `--shutdown-grace -1` is a bad value to name, not an unknown option.
    allow_negative_numbers = true,
    subcommand_value_name = "COMMAND"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Sub>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
enum Sub {
    /// Serve the definitions of the operations folder (the default).
    #[command(after_help = AFTER_HELP, allow_negative_numbers = true)]
    Serve(Box<ServeArgs>),
    /// Validate the definitions, list every problem, and exit (64 when invalid).
    Check(CheckArgs),
}

/// The options of `check`: only where the definitions are, so that a serve option given
/// by mistake is refused rather than silently ignored.
#[derive(Debug, Args)]
struct CheckArgs {
    /// Definitions folder
    #[arg(long, value_name = "DIR", env = ENV_OPERATIONS, default_value = "operations")]
    operations: PathBuf,
}

/// The options of `serve`, kept as text: the conversion below names the flag or the
/// variable a bad value came from, which clap's own value parsers cannot.
#[derive(Debug, Args)]
struct ServeArgs {
    /// Listen address
    #[arg(long, value_name = "ADDR", env = ENV_LISTEN, default_value = DEFAULT_LISTEN, help_heading = "Listener")]
    listen: String,
    /// Base URL of download links (behind a proxy: the public one)
    #[arg(long, value_name = "URL", env = ENV_PUBLIC_BASE_URL, help_heading = "Listener")]
    public_base_url: Option<String>,
    /// Proxies whose Forwarded/X-Forwarded-* are believed (CIDR list)
    #[arg(long, value_name = "LIST", env = ENV_TRUSTED_PROXIES, help_heading = "Listener")]
    trusted_proxies: Option<String>,
    /// Origins whose pages may call services (comma list, or *)
    #[arg(long, value_name = "LIST", env = ENV_CORS_ALLOWED_ORIGINS, help_heading = "Listener")]
    cors_allowed_origins: Option<String>,
    /// Header the API keys of /api/1/ arrive in: Authorization carries 'Bearer <key>', any
    /// other header the key alone
    #[arg(long, value_name = "NAME", env = ENV_API_KEY_HEADER, default_value = "Authorization", help_heading = "Listener")]
    api_key_header: String,

    /// Connection cap
    #[arg(long, value_name = "N", env = ENV_MAX_CONNECTIONS, default_value = "10000", help_heading = "Limits")]
    max_connections: String,
    /// Connection cap per peer IP (0: none)
    #[arg(long, value_name = "N", env = ENV_MAX_CONNECTIONS_PER_IP, default_value = "256", help_heading = "Limits")]
    max_connections_per_ip: String,
    /// Seconds a client has to send request headers
    #[arg(long, value_name = "S", env = ENV_HEADER_READ_TIMEOUT, default_value = "30", help_heading = "Limits")]
    header_read_timeout: String,
    /// Seconds in-flight requests get on shutdown
    #[arg(long, value_name = "S", env = ENV_SHUTDOWN_GRACE, default_value = "30", help_heading = "Limits")]
    shutdown_grace: String,
    /// Seconds a request body may stall
    #[arg(long, value_name = "S", env = ENV_BODY_IDLE_TIMEOUT, default_value = "30", help_heading = "Limits")]
    body_idle_timeout: String,
    /// Seconds a whole request body may take
    #[arg(long, value_name = "S", env = ENV_BODY_TIMEOUT, default_value = "10800", help_heading = "Limits")]
    body_timeout: String,
    /// Slowest a request body may arrive, bytes/s (0: no minimum)
    #[arg(long, value_name = "N", env = ENV_BODY_MIN_RATE, default_value = "1024", help_heading = "Limits")]
    body_min_rate: String,
    /// Seconds the minimum body rate is averaged over
    #[arg(long, value_name = "S", env = ENV_BODY_RATE_WINDOW, default_value = "30", help_heading = "Limits")]
    body_rate_window: String,
    /// Seconds a connection may sit with no request open
    #[arg(long, value_name = "S", env = ENV_IDLE_TIMEOUT, default_value = "30", help_heading = "Limits")]
    idle_timeout: String,
    /// Seconds a process runs while its caller waits (then 504)
    #[arg(long, value_name = "S", env = ENV_EXECUTION_TIMEOUT, default_value = "30", help_heading = "Limits")]
    execution_timeout: String,
    /// Seconds a process answered WAIT runs in all
    #[arg(long, value_name = "S", env = ENV_WAIT_TIMEOUT, default_value = "86400", help_heading = "Limits")]
    wait_timeout: String,
    /// Largest JSON request body, bytes
    #[arg(long, value_name = "N", env = ENV_MAX_REQUEST_BYTES, default_value = "10485760", help_heading = "Limits")]
    max_request_bytes: String,

    /// Definitions folder
    #[arg(long, value_name = "DIR", env = ENV_OPERATIONS, default_value = "operations", help_heading = "Storage")]
    operations: String,
    /// Data folder (tables, files, the keystore)
    #[arg(long, value_name = "DIR", env = ENV_DATA, default_value = "data", help_heading = "Storage")]
    data: String,
    /// Keystore of named secrets and the keys that seal secrets at rest (mode 0600)
    /// [default: DATA/keystore.key]
    #[arg(long, value_name = "FILE", env = ENV_KEYSTORE, help_heading = "Storage")]
    keystore: Option<String>,
    /// postgres://user:pw@host:port/db: every durable thing in PostgreSQL, so that several
    /// fss share it [default: SQLite under --data]
    #[arg(long, value_name = "URL", env = ENV_DATABASE_URL, hide_env_values = true, help_heading = "Storage")]
    database: Option<String>,
    /// Stored files, shared by every instance on one database [default: DATA/files]
    #[arg(long, value_name = "DIR", env = ENV_FILES_DIR, help_heading = "Storage")]
    files_dir: Option<String>,
    /// full: answered writes survive power loss; relaxed: they survive a crash of fss only
    #[arg(long, value_name = "full|relaxed", env = ENV_DURABILITY, default_value = "full", help_heading = "Storage")]
    durability: String,
    /// Execution records kept
    #[arg(long, value_name = "N", env = ENV_RECORDS, default_value = "10000", help_heading = "Storage")]
    records: String,
    /// Bytes the execution records may keep
    #[arg(long, value_name = "N", env = ENV_RECORDS_MAX_BYTES, default_value = "33554432", help_heading = "Storage")]
    records_max_bytes: String,
    /// Days the incoming API keeps its runs (status, results)
    #[arg(long, value_name = "N", env = ENV_API_RETENTION_DAYS, default_value = "7", help_heading = "Storage")]
    api_retention_days: String,
    /// Hours an Idempotency-Key of the incoming API is remembered
    #[arg(long, value_name = "N", env = ENV_IDEMPOTENCY_TTL_HOURS, default_value = "24", help_heading = "Storage")]
    idempotency_ttl_hours: String,

    /// HTTPS: certificate chain (PEM, leaf first; reloaded on SIGHUP) [default: plain HTTP]
    #[arg(long, value_name = "FILE", env = ENV_TLS_CERT, help_heading = "TLS")]
    tls_cert: Option<String>,
    /// Its private key (PEM: RSA, ECDSA or Ed25519)
    #[arg(long, value_name = "FILE", env = ENV_TLS_KEY, help_heading = "TLS")]
    tls_key: Option<String>,
    /// Ask clients for a certificate signed by these CAs (PEM)
    #[arg(long, value_name = "FILE", env = ENV_TLS_CLIENT_CA, help_heading = "TLS")]
    tls_client_ca: Option<String>,

    /// Bootstrap admin of /api/
    #[arg(long, value_name = "ID", env = ENV_ADMIN_USER, help_heading = "Admin")]
    admin_user: Option<String>,
    /// Its password (prefer the variable: a flag shows in the process list)
    #[arg(long, value_name = "PW", env = ENV_ADMIN_PASSWORD, hide_env_values = true, help_heading = "Admin")]
    admin_password: Option<String>,
    /// Addresses that may call /api/ (CIDR list) [default: any]
    #[arg(long, value_name = "LIST", env = ENV_ADMIN_ALLOW_FROM, help_heading = "Admin")]
    admin_allow_from: Option<String>,
    /// Origins whose pages may change things via /api/ (comma list)
    #[arg(long, value_name = "LIST", env = ENV_ADMIN_ALLOWED_ORIGINS, help_heading = "Admin")]
    admin_allowed_origins: Option<String>,

    /// PEM CA certificates trusted for callbacks (HTTPS), besides the platform's store
    #[arg(long, value_name = "FILE", env = ENV_CA_FILE, help_heading = "Outbound")]
    ca_file: Option<String>,
    /// Seconds an outbound TCP connect may take
    #[arg(long, value_name = "S", env = ENV_CONNECT_TIMEOUT, default_value = "10", help_heading = "Outbound")]
    connect_timeout: String,
    /// Seconds one outbound request may take, answer included
    #[arg(long, value_name = "S", env = ENV_REQUEST_TIMEOUT, default_value = "30", help_heading = "Outbound")]
    request_timeout: String,
    /// RabbitMQ broker of rabbit event channels (connected when a channel needs it)
    #[arg(long, value_name = "URL", env = ENV_AMQP_URL, hide_env_values = true, default_value = crate::shared::DEFAULT_AMQP_URL, help_heading = "Outbound")]
    amqp_url: String,

    /// Log lines as text or as one JSON object each (filter: FSS_LOG, else RUST_LOG)
    #[arg(long, value_name = "text|json", env = ENV_LOG_FORMAT, default_value = "text", help_heading = "Logs")]
    log_format: String,
}

/// What the command line asks for.
#[derive(Debug, Clone)]
pub enum Command {
    /// Serve.
    Serve(Box<Options>),
    /// Validate the definitions of `operations` and exit.
    Check {
        /// The definitions folder.
        operations: PathBuf,
    },
}

/// How log lines are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines (the default).
    #[default]
    Text,
    /// One JSON object a line, for log collectors.
    Json,
}

/// Everything the process needs to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// The definitions folder.
    pub operations: PathBuf,
    /// The listen address.
    pub listen: SocketAddr,
    /// The runtime's settings.
    pub runtime: RuntimeConfig,
    /// The server's settings.
    pub server: ServerConfig,
    /// The admin API's settings (bootstrap admin).
    pub admin: AdminConfig,
    /// The HTTPS files (`--tls-cert`, `--tls-key`, `--tls-client-ca`); `None`: plain
    /// HTTP. Read by `Tls::from_config` at start.
    pub tls: Option<TlsConfig>,
    /// How log lines are written.
    pub log_format: LogFormat,
}

/// The clap command of `fss`, for help and completion generators.
pub fn command() -> clap::Command {
    Cli::command()
}

/// Parses the command line; the `FSS_*` variables are read from the process environment
/// (clap's `env`), so tests that need one set it on a child process.
///
/// # Errors
///
/// A clap error, ready to print: `--help` and `--version` (which are not failures:
/// [`clap::Error::use_stderr`] is false), an unknown flag (with a suggestion when one is
/// near), a flag without its value, or a value that does not parse, naming the flag or the
/// variable it came from and the value.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Command, clap::Error> {
    let mut cmd = Cli::command();
    let matches = cmd.try_get_matches_from_mut(args)?;
    let cli = Cli::from_arg_matches(&matches)?;
    let (args, matches, sub) = match cli.command {
        Some(Sub::Check(c)) => {
            return Ok(Command::Check {
                operations: c.operations,
            })
        }
        Some(Sub::Serve(s)) => {
            let m = matches.subcommand_matches("serve").unwrap_or(&matches);
            (*s, m, Some("serve"))
        }
        None => (cli.serve, &matches, None),
    };
    let mut cmd = match sub {
        Some(name) => cmd.find_subcommand(name).cloned().unwrap_or(cmd),
        None => cmd,
    };
    let sources = Sources { matches, cmd: &cmd };
    match options(&args, &sources) {
        Ok(o) => Ok(Command::Serve(Box::new(o))),
        Err(message) => Err(cmd.error(clap::error::ErrorKind::ValueValidation, message)),
    }
}

/// Where each value came from: the flag, or its variable, named in errors.
struct Sources<'a> {
    matches: &'a clap::ArgMatches,
    cmd: &'a clap::Command,
}

impl Sources<'_> {
    /// `--flag` or `FSS_VAR`, whichever gave the value of `id`.
    fn name(&self, id: &str) -> String {
        let Some(arg) = self.cmd.get_arguments().find(|a| a.get_id() == id) else {
            return id.to_owned();
        };
        let env = arg.get_env().map(|e| e.to_string_lossy().into_owned());
        match (self.matches.value_source(id), env) {
            (Some(clap::parser::ValueSource::EnvVariable), Some(env)) => env,
            _ => arg
                .get_long()
                .map_or_else(|| id.to_owned(), |l| format!("--{l}")),
        }
    }
}

/// The serve options from their text, each checked as before clap: a bad value stops the
/// start (exit 64) with its source and the value named.
fn options(a: &ServeArgs, s: &Sources<'_>) -> Result<Options, String> {
    let mut o = Options {
        operations: PathBuf::from(&a.operations),
        listen: parse_value(
            &s.name("listen"),
            &a.listen,
            "an address such as 127.0.0.1:9090",
        )?,
        runtime: RuntimeConfig::default(),
        server: ServerConfig::default(),
        admin: AdminConfig::default(),
        tls: None,
        log_format: match a.log_format.to_ascii_lowercase().as_str() {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            _ => {
                return Err(format!(
                    "{}: '{}' is not text or json",
                    s.name("log_format"),
                    a.log_format
                ))
            }
        },
    };
    o.runtime.data_dir = PathBuf::from(&a.data);
    o.runtime.keystore_file = non_empty(&a.keystore).map(PathBuf::from);
    let n = |id: &str| s.name(id);
    o.server.max_connections = parse_value(
        &n("max_connections"),
        &a.max_connections,
        "a positive number",
    )?;
    o.server.max_connections_per_ip = parse_value(
        &n("max_connections_per_ip"),
        &a.max_connections_per_ip,
        "a number (0: no cap)",
    )?;
    o.server.header_read_timeout = Duration::from_secs(parse_value(
        &n("header_read_timeout"),
        &a.header_read_timeout,
        "seconds",
    )?);
    o.server.shutdown_grace = Duration::from_secs(parse_value(
        &n("shutdown_grace"),
        &a.shutdown_grace,
        "seconds",
    )?);
    o.server.body_idle_timeout = Duration::from_secs(parse_value(
        &n("body_idle_timeout"),
        &a.body_idle_timeout,
        "seconds",
    )?);
    o.server.body_timeout = seconds(&n("body_timeout"), &a.body_timeout)?;
    o.server.body_min_rate = parse_value(
        &n("body_min_rate"),
        &a.body_min_rate,
        "bytes per second (0: no minimum)",
    )?;
    o.server.body_rate_window = seconds(&n("body_rate_window"), &a.body_rate_window)?;
    o.server.idle_timeout = seconds(&n("idle_timeout"), &a.idle_timeout)?;
    o.runtime.execution_timeout = seconds(&n("execution_timeout"), &a.execution_timeout)?;
    o.runtime.wait_timeout = seconds(&n("wait_timeout"), &a.wait_timeout)?;
    o.runtime.api_retention = Duration::from_secs(
        at_least_one(&n("api_retention_days"), &a.api_retention_days, "days")? * 86_400,
    );
    o.runtime.idempotency_ttl = Duration::from_secs(
        at_least_one(
            &n("idempotency_ttl_hours"),
            &a.idempotency_ttl_hours,
            "hours",
        )? * 3_600,
    );
    o.runtime.max_request_bytes = parse_value(
        &n("max_request_bytes"),
        &a.max_request_bytes,
        "a number of bytes",
    )?;
    if let Some(v) = &a.public_base_url {
        o.runtime.public_base_url = Some(v.trim_end_matches('/').to_owned());
    }
    if let Some(v) = &a.ca_file {
        let path = PathBuf::from(v);
        // Loaded here so that a bad file stops the start (exit 64), naming it.
        crate::http::client::load_ca_file(&path).map_err(|e| format!("{}: {e}", n("ca_file")))?;
        o.runtime.outbound.ca_file = Some(path);
    }
    o.runtime.outbound.connect_timeout = seconds(&n("connect_timeout"), &a.connect_timeout)?;
    o.runtime.outbound.request_timeout = seconds(&n("request_timeout"), &a.request_timeout)?;
    o.runtime.execution_records = parse_value(&n("records"), &a.records, "a number of records")?;
    o.runtime.execution_records_bytes = parse_value(
        &n("records_max_bytes"),
        &a.records_max_bytes,
        "a number of bytes",
    )?;
    if let Some(v) = &a.cors_allowed_origins {
        o.runtime.edge.cors_origins = origins(&n("cors_allowed_origins"), v)?;
    }
    if let Some(v) = &a.admin_allowed_origins {
        o.runtime.edge.admin_origins = origins(&n("admin_allowed_origins"), v)?;
    }
    if let Some(v) = &a.trusted_proxies {
        o.runtime.edge.trusted_proxies = v
            .parse()
            .map_err(|e| format!("{}: {e}", n("trusted_proxies")))?;
    }
    if let Some(v) = &a.admin_allow_from {
        o.runtime.edge.admin_allow_from = v
            .parse()
            .map_err(|e| format!("{}: {e}", n("admin_allow_from")))?;
    }
    o.runtime.durability = parse_value(&n("durability"), &a.durability, "full or relaxed")?;
    o.runtime.api_key_header = api_key_header(&n("api_key_header"), &a.api_key_header)?;
    if !(a.amqp_url.starts_with("amqp://") || a.amqp_url.starts_with("amqps://")) {
        return Err(format!(
            "{}: '{}' is not an amqp:// URL",
            n("amqp_url"),
            a.amqp_url
        ));
    }
    o.runtime.amqp_url = a.amqp_url.clone();
    if let Some(v) = non_empty(&a.database) {
        if !(v.starts_with("postgres://") || v.starts_with("postgresql://")) {
            // The value is not repeated: it may hold a password.
            return Err(format!("{}: not a postgres:// URL", n("database")));
        }
        o.runtime.database_url = Some(v.to_owned());
    }
    o.runtime.files_dir = non_empty(&a.files_dir).map(PathBuf::from);
    o.admin.bootstrap_user = non_empty(&a.admin_user).map(str::to_owned);
    o.admin.bootstrap_password = non_empty(&a.admin_password).map(str::to_owned);
    let given = |v: &Option<String>, id: &str| v.clone().map(|v| (n(id), v));
    o.tls = tls_config(
        given(&a.tls_cert, "tls_cert"),
        given(&a.tls_key, "tls_key"),
        given(&a.tls_client_ca, "tls_client_ca"),
    )?;
    if o.server.max_connections == 0 {
        return Err(format!(
            "{}: the connection cap must be at least 1",
            n("max_connections")
        ));
    }
    Ok(o)
}

/// An optional value where empty means unset (an exported but empty variable).
fn non_empty(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|v| !v.is_empty())
}

/// The HTTPS files from their flags or variables (each `(source, value)`): the
/// certificate and the key come together or not at all, and a client CA needs them.
fn tls_config(
    cert: Option<(String, String)>,
    key: Option<(String, String)>,
    client_ca: Option<(String, String)>,
) -> Result<Option<TlsConfig>, String> {
    let non_empty = |v: Option<(String, String)>| v.filter(|(_, v)| !v.is_empty());
    match (non_empty(cert), non_empty(key), non_empty(client_ca)) {
        (None, None, None) => Ok(None),
        (Some((_, cert)), Some((_, key)), ca) => Ok(Some(TlsConfig {
            cert: cert.into(),
            key: key.into(),
            client_ca: ca.map(|(_, v)| v.into()),
        })),
        (Some((n, _)), None, _) => Err(format!(
            "{n} needs {FLAG_TLS_KEY} ({ENV_TLS_KEY}): the private key of the certificate"
        )),
        (None, Some((n, _)), _) => Err(format!(
            "{n} needs {FLAG_TLS_CERT} ({ENV_TLS_CERT}): the certificate of the key"
        )),
        (None, None, Some((n, _))) => Err(format!(
            "{n} needs HTTPS: give {FLAG_TLS_CERT} and {FLAG_TLS_KEY} too"
        )),
    }
}

/// A comma-separated list of web origins (`https://host[:port]`), or `*`.
fn origins(name: &str, value: &str) -> Result<Vec<String>, String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(|o| {
            let o = o.trim_end_matches('/');
            let ok = o == "*"
                || ["http://", "https://"].iter().any(|p| {
                    o.strip_prefix(p)
                        .is_some_and(|rest| !rest.is_empty() && !rest.contains(['/', ' ', '@']))
                });
            if ok {
                Ok(o.to_owned())
            } else {
                Err(format!(
                    "{name}: '{o}' is not a web origin such as https://app.example.com (or *)"
                ))
            }
        })
        .collect()
}

/// The header API keys arrive in: a header name (any case); empty means the default,
/// `Authorization`. Headers that carry something else of the request (its body's type,
/// the host, cookies) are refused: a key there would break the request or leak.
fn api_key_header(name: &str, value: &str) -> Result<http::HeaderName, String> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(http::header::AUTHORIZATION);
    }
    let header = http::HeaderName::from_bytes(value.as_bytes())
        .map_err(|_| format!("{name}: '{value}' is not a header name such as X-Api-Key"))?;
    use http::header as h;
    let taken = [
        h::CONTENT_TYPE,
        h::CONTENT_LENGTH,
        h::TRANSFER_ENCODING,
        h::HOST,
        h::COOKIE,
        h::CONNECTION,
        h::ACCEPT,
    ];
    if taken.contains(&header) {
        return Err(format!(
            "{name}: '{value}' already carries something else of every request; name a \
             header of its own such as X-Api-Key"
        ));
    }
    Ok(header)
}

/// A timeout of at least one second: zero would close every connection (or fail every
/// execution) at once.
fn seconds(name: &str, value: &str) -> Result<Duration, String> {
    match parse_value::<u64>(name, value, "seconds")? {
        0 => Err(format!("{name}: '{value}' is not at least 1 second")),
        s => Ok(Duration::from_secs(s)),
    }
}

/// A count of `unit` that is at least 1 (and small enough to be a duration in seconds).
fn at_least_one(name: &str, value: &str, unit: &str) -> Result<u64, String> {
    match parse_value::<u64>(name, value, unit)? {
        n @ 1..=1_000_000 => Ok(n),
        _ => Err(format!(
            "{name}: '{value}' is not between 1 and 1000000 {unit}"
        )),
    }
}

fn parse_value<T: std::str::FromStr>(name: &str, value: &str, what: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("{name}: '{value}' is not {what}"))
}

#[cfg(test)]
mod tests {
    //! The values from flags; their variables are the same arguments of clap (`env`), and
    //! are tested on the binary (`tests/cli.rs`) so that no test changes this process's
    //! environment under another.
    use super::*;

    fn args(a: &[&str]) -> Vec<OsString> {
        std::iter::once("fss")
            .chain(a.iter().copied())
            .map(OsString::from)
            .collect()
    }

    fn serve(a: &[&str]) -> Options {
        match parse(args(a)) {
            Ok(Command::Serve(o)) => *o,
            Ok(c) => panic!("expected serve, got {c:?}"),
            Err(e) => panic!("{a:?}: {e}"),
        }
    }

    fn error(a: &[&str]) -> String {
        match parse(args(a)) {
            Ok(c) => panic!("{a:?} parsed: {c:?}"),
            Err(e) => e.to_string(),
        }
    }

    /// The defaults shown by `--help` are the defaults of the configurations.
    #[test]
    fn no_arguments_serve_the_defaults() {
        let o = serve(&[]);
        assert_eq!(o.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(o.operations, PathBuf::from("operations"));
        let (rt, server) = (RuntimeConfig::default(), ServerConfig::default());
        assert_eq!(o.runtime.data_dir, rt.data_dir);
        assert_eq!(o.runtime.keystore_file, None);
        assert_eq!(o.runtime.max_request_bytes, rt.max_request_bytes);
        assert_eq!(o.runtime.execution_records, rt.execution_records);
        assert_eq!(
            o.runtime.execution_records_bytes,
            rt.execution_records_bytes
        );
        assert_eq!(o.runtime.execution_timeout, rt.execution_timeout);
        assert_eq!(o.runtime.wait_timeout, rt.wait_timeout);
        assert_eq!(o.runtime.api_retention, rt.api_retention);
        assert_eq!(o.runtime.idempotency_ttl, rt.idempotency_ttl);
        assert_eq!(o.runtime.durability, rt.durability);
        assert_eq!(o.runtime.api_key_header, rt.api_key_header);
        assert_eq!(o.runtime.amqp_url, rt.amqp_url);
        assert_eq!(
            o.runtime.outbound.connect_timeout,
            rt.outbound.connect_timeout
        );
        assert_eq!(
            o.runtime.outbound.request_timeout,
            rt.outbound.request_timeout
        );
        assert_eq!(o.server.max_connections, server.max_connections);
        assert_eq!(
            o.server.max_connections_per_ip,
            server.max_connections_per_ip
        );
        assert_eq!(o.server.header_read_timeout, server.header_read_timeout);
        assert_eq!(o.server.shutdown_grace, server.shutdown_grace);
        assert_eq!(o.server.body_idle_timeout, server.body_idle_timeout);
        assert_eq!(o.server.body_timeout, server.body_timeout);
        assert_eq!(o.server.body_min_rate, server.body_min_rate);
        assert_eq!(o.server.body_rate_window, server.body_rate_window);
        assert_eq!(o.server.idle_timeout, server.idle_timeout);
        assert_eq!(o.log_format, LogFormat::Text);
        assert!(o.tls.is_none(), "plain HTTP by default");
    }

    #[test]
    fn serve_is_the_default_and_check_takes_only_the_operations_folder() {
        assert_eq!(
            serve(&["serve", "--listen", "127.0.0.1:2"]).listen.port(),
            2
        );
        assert_eq!(serve(&["--listen=127.0.0.1:3"]).listen.port(), 3);
        assert_eq!(
            serve(&["--listen=127.0.0.1:3", "--listen=127.0.0.1:4"])
                .listen
                .port(),
            4,
            "the last of a repeated flag wins"
        );
        let Command::Check { operations } = parse(args(&["check", "--operations", "ops"])).unwrap()
        else {
            panic!("expected check")
        };
        assert_eq!(operations, PathBuf::from("ops"));
        let err = error(&["check", "--listen", "127.0.0.1:1"]);
        assert!(err.contains("unexpected argument '--listen'"), "{err}");
        let err = error(&["--listen", "127.0.0.1:1", "check"]);
        assert!(err.contains("check"), "{err}");
    }

    #[test]
    fn help_groups_the_options_and_shows_defaults_and_variables() {
        let help = command().render_help().to_string();
        for want in [
            "Listener:",
            "Limits:",
            "Storage:",
            "TLS:",
            "Admin:",
            "Outbound:",
            "Logs:",
            "[env: FSS_LISTEN=",
            "[default: 127.0.0.1:9090]",
            "--api-key-header <NAME>",
            "FSS_API_KEY_HEADER",
            "--keystore <FILE>",
            "FSS_KEYSTORE",
            "FSS_LOG",
            "check",
        ] {
            assert!(help.contains(want), "'{want}' not in\n{help}");
        }
    }

    #[test]
    fn api_keys_arrive_in_authorization_unless_another_header_is_named() {
        let header = |a: &[&str]| serve(a).runtime.api_key_header;
        assert_eq!(header(&[]), http::header::AUTHORIZATION);
        assert_eq!(header(&["--api-key-header", "X-Api-Key"]), "x-api-key");
        assert_eq!(
            header(&["--api-key-header=authorization"]),
            http::header::AUTHORIZATION
        );
        assert_eq!(
            header(&["--api-key-header="]),
            http::header::AUTHORIZATION,
            "empty means the default"
        );
        let err = error(&["--api-key-header", "X Api"]);
        assert!(
            err.contains("--api-key-header") && err.contains("not a header name"),
            "{err}"
        );
        let err = error(&["--api-key-header", "Content-Type"]);
        assert!(err.contains("something else"), "{err}");
    }

    #[test]
    fn the_keystore_is_in_the_data_folder_unless_moved() {
        let keystore = |a: &[&str]| serve(a).runtime.keystore_file;
        assert_eq!(keystore(&[]), None);
        assert_eq!(
            keystore(&["--keystore", "k.json"]),
            Some(PathBuf::from("k.json"))
        );
        assert_eq!(keystore(&["--keystore=/s/k"]), Some(PathBuf::from("/s/k")));
        assert_eq!(keystore(&["--keystore="]), None, "empty means the default");
    }

    #[test]
    fn admin_user_and_password_are_kept_but_not_shown() {
        let o = serve(&["--admin-user", "flag-admin", "--admin-password", "flag-pw"]);
        assert_eq!(o.admin.bootstrap_user.as_deref(), Some("flag-admin"));
        assert_eq!(o.admin.bootstrap_password.as_deref(), Some("flag-pw"));
        assert!(
            !format!("{o:?}").contains("flag-pw"),
            "the password is not logged"
        );
        assert!(serve(&[]).admin.bootstrap_user.is_none());
        assert!(serve(&["--admin-user="]).admin.bootstrap_user.is_none());
    }

    #[test]
    fn edge_lists_parse_and_bad_ones_are_named() {
        let o = serve(&[
            "--cors-allowed-origins",
            "https://a.example, http://b.example:8080/",
            "--trusted-proxies",
            "10.0.0.0/8,127.0.0.1",
            "--records-max-bytes",
            "1048576",
        ]);
        assert_eq!(
            o.runtime.edge.cors_origins,
            ["https://a.example", "http://b.example:8080"]
        );
        assert!(o
            .runtime
            .edge
            .trusted_proxies
            .contains("10.1.2.3".parse().unwrap()));
        assert_eq!(o.runtime.execution_records_bytes, 1 << 20);
        let err = error(&["--cors-allowed-origins", "evil"]);
        assert!(
            err.contains("--cors-allowed-origins") && err.contains("evil"),
            "{err}"
        );
        let err = error(&["--admin-allow-from", "10.0.0.0/99"]);
        assert!(err.contains("--admin-allow-from"), "{err}");
    }

    #[test]
    fn durability_is_full_unless_relaxed() {
        use crate::store::Durability;
        assert_eq!(serve(&[]).runtime.durability, Durability::Full);
        assert_eq!(
            serve(&["--durability", "FULL"]).runtime.durability,
            Durability::Full
        );
        assert_eq!(
            serve(&["--durability=relaxed"]).runtime.durability,
            Durability::Relaxed
        );
        let err = error(&["--durability", "fast"]);
        assert!(
            err.contains("--durability") && err.contains("fast") && err.contains("relaxed"),
            "{err}"
        );
    }

    #[test]
    fn log_format_is_text_or_json() {
        assert_eq!(serve(&["--log-format", "json"]).log_format, LogFormat::Json);
        assert_eq!(serve(&["--log-format=TEXT"]).log_format, LogFormat::Text);
        let err = error(&["--log-format", "xml"]);
        assert!(err.contains("--log-format") && err.contains("xml"), "{err}");
    }

    #[test]
    fn bad_values_name_their_source() {
        let err = error(&["--listen=nope"]);
        assert!(err.contains("--listen") && err.contains("nope"), "{err}");
        let err = error(&["--max-connections", "x"]);
        assert!(
            err.contains("--max-connections") && err.contains("'x'"),
            "{err}"
        );
        let err = error(&["--max-connections", "0"]);
        assert!(err.contains("at least 1"), "{err}");
        let err = error(&["--bogus", "1"]);
        assert!(err.contains("unexpected argument '--bogus'"), "{err}");
        let err = error(&["--listn", "x"]);
        assert!(err.contains("--listen"), "a suggestion: {err}");
        let err = error(&["--amqp-url", "http://x"]);
        assert!(
            err.contains("--amqp-url") && err.contains("amqp://"),
            "{err}"
        );
        let err = error(&["--database", "mysql://u:secret@h/db"]);
        assert!(
            err.contains("--database") && !err.contains("secret"),
            "{err}"
        );
        for (flag, unit) in [
            ("--api-retention-days=0", "days"),
            ("--idempotency-ttl-hours=2000000", "hours"),
        ] {
            let err = error(&[flag]);
            assert!(
                err.contains("between 1 and 1000000") && err.contains(unit),
                "{err}"
            );
        }
    }

    #[test]
    fn help_and_version_are_not_failures() {
        for a in [
            &["--help"][..],
            &["-h"],
            &["--version"],
            &["-V"],
            &["serve", "--help"],
        ] {
            let e = parse(args(a)).unwrap_err();
            assert!(!e.use_stderr(), "{a:?}: {e}");
        }
        let version = parse(args(&["--version"])).unwrap_err().to_string();
        assert_eq!(
            version.trim_end(),
            format!("fss {}", env!("CARGO_PKG_VERSION"))
        );
    }

    #[test]
    fn connection_and_deadline_flags_have_defaults_and_flags() {
        let o = serve(&[
            "--max-connections-per-ip=0",
            "--idle-timeout=5",
            "--body-timeout=60",
            "--body-min-rate=0",
            "--body-rate-window=10",
            "--execution-timeout=3",
            "--wait-timeout=120",
        ]);
        assert_eq!(o.server.max_connections_per_ip, 0);
        assert_eq!(o.server.idle_timeout, Duration::from_secs(5));
        assert_eq!(o.server.body_timeout, Duration::from_secs(60));
        assert_eq!(o.server.body_min_rate, 0);
        assert_eq!(o.server.body_rate_window, Duration::from_secs(10));
        assert_eq!(o.runtime.execution_timeout, Duration::from_secs(3));
        assert_eq!(o.runtime.wait_timeout, Duration::from_secs(120));
    }

    #[test]
    fn outbound_flags_parse_and_a_bad_ca_file_is_named() {
        let o = serve(&["--connect-timeout=2", "--request-timeout", "7"]);
        assert_eq!(o.runtime.outbound.ca_file, None);
        assert_eq!(o.runtime.outbound.connect_timeout, Duration::from_secs(2));
        assert_eq!(o.runtime.outbound.request_timeout, Duration::from_secs(7));

        let err = error(&["--ca-file", "/no/such/ca.pem"]);
        assert!(
            err.contains("--ca-file") && err.contains("/no/such/ca.pem"),
            "{err}"
        );
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let err = error(&["--ca-file", empty.to_str().unwrap()]);
        assert!(
            err.contains("--ca-file") && err.contains("empty.pem") && err.contains("no PEM"),
            "{err}"
        );
    }

    #[test]
    fn tls_files_come_as_a_pair() {
        let o = serve(&[
            "--tls-cert",
            "c.pem",
            "--tls-key=k.pem",
            "--tls-client-ca=ca.pem",
        ]);
        let tls = o.tls.unwrap();
        assert_eq!(tls.cert, PathBuf::from("c.pem"));
        assert_eq!(tls.key, PathBuf::from("k.pem"));
        assert_eq!(tls.client_ca, Some(PathBuf::from("ca.pem")));

        let err = error(&["--tls-cert", "c.pem"]);
        assert!(
            err.contains("--tls-cert") && err.contains("--tls-key"),
            "{err}"
        );
        let err = error(&["--tls-key", "k.pem"]);
        assert!(
            err.contains(ENV_TLS_CERT) && err.contains("--tls-key"),
            "{err}"
        );
        let err = error(&["--tls-client-ca", "ca.pem"]);
        assert!(err.contains("--tls-client-ca"), "{err}");
    }

    #[test]
    fn zero_timeouts_are_refused() {
        for flag in [
            "--idle-timeout=0",
            "--body-timeout=0",
            "--execution-timeout=0",
            "--wait-timeout=0",
        ] {
            let err = error(&[flag]);
            assert!(err.contains("at least 1 second"), "{flag}: {err}");
            assert!(err.contains(flag.split('=').next().unwrap()), "{err}");
        }
    }
}
