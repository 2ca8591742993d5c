//! The command line and the environment: how the process runs (what it serves is in the
//! definitions).
//!
//! ```text
//! fss [serve] [--operations DIR] [--data DIR] [--listen ADDR] [options]
//! fss check [--operations DIR]
//! ```
//!
//! Every flag has an `FSS_*` environment variable; a flag wins over its variable. A value
//! that does not parse is an error naming the flag or variable and the value.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::admin::AdminConfig;
use crate::server::tls::{TlsConfig, FLAG_TLS_CERT, FLAG_TLS_CLIENT_CA, FLAG_TLS_KEY};
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

/// Default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9090";

/// The usage text.
pub const USAGE: &str = "\
fss - a low-latency Flow Services Server

Usage:
  fss [serve] [options]      serve the definitions of the operations folder
  fss check [--operations DIR]
                             validate the definitions and exit (64 when invalid)

Options (each also from the environment variable shown):
  --operations DIR           definitions folder            [FSS_OPERATIONS, default operations]
  --data DIR                 data folder (tables, files)   [FSS_DATA, default data]
  --keystore FILE            keystore of named secrets and the keys that seal secrets
                             at rest (mode 0600)           [FSS_KEYSTORE, default DIR/keystore.key]
  --listen ADDR              listen address                [FSS_LISTEN, default 127.0.0.1:9090]
  --max-connections N        connection cap                [FSS_MAX_CONNECTIONS, default 10000]
  --max-connections-per-ip N connection cap per peer IP, 0: none
                                                           [FSS_MAX_CONNECTIONS_PER_IP, default 256]
  --header-read-timeout S    seconds to send headers       [FSS_HEADER_READ_TIMEOUT_SECONDS, default 30]
  --shutdown-grace S         seconds to drain on shutdown  [FSS_SHUTDOWN_GRACE_SECONDS, default 30]
  --body-idle-timeout S      seconds a body may stall      [FSS_BODY_IDLE_TIMEOUT_SECONDS, default 30]
  --body-timeout S           seconds a whole body may take [FSS_BODY_TIMEOUT_SECONDS, default 10800]
  --body-min-rate N          slowest body bytes/s (0: off) [FSS_BODY_MIN_RATE_BYTES, default 1024]
  --body-rate-window S       seconds that rate is averaged over
                                                           [FSS_BODY_RATE_WINDOW_SECONDS, default 30]
  --idle-timeout S           seconds a connection may sit with no request open
                                                           [FSS_IDLE_TIMEOUT_SECONDS, default 30]
  --execution-timeout S      seconds a process runs while its caller waits (then 504)
                                                           [FSS_EXECUTION_TIMEOUT_SECONDS, default 30]
  --wait-timeout S           seconds a process answered WAIT runs in all
                                                           [FSS_WAIT_TIMEOUT_SECONDS, default 86400]
  --api-retention-days N     days the incoming API keeps its runs (status, results)
                                                           [FSS_API_RETENTION_DAYS, default 7]
  --idempotency-ttl-hours N  hours an Idempotency-Key of the incoming API is remembered
                                                           [FSS_IDEMPOTENCY_TTL_HOURS, default 24]
  --max-request-bytes N      largest JSON request body     [FSS_MAX_REQUEST_BYTES, default 10485760]
  --public-base-url URL      base of download links        [FSS_PUBLIC_BASE_URL]
  --ca-file FILE             PEM CA certificates trusted for callbacks (HTTPS), besides
                             the platform's store          [FSS_CA_FILE, default none]
  --connect-timeout S        seconds an outbound TCP connect may take
                                                           [FSS_CONNECT_TIMEOUT_SECONDS, default 10]
  --request-timeout S        seconds one outbound request may take, answer included
                                                           [FSS_REQUEST_TIMEOUT_SECONDS, default 30]
  --records N                execution records kept        [FSS_RECORDS, default 10000]
  --records-max-bytes N      bytes the records may keep    [FSS_RECORDS_MAX_BYTES, default 33554432]
  --cors-allowed-origins L   origins whose pages may call services (comma list, or *)
                                                           [FSS_CORS_ALLOWED_ORIGINS, default none]
  --admin-allowed-origins L  origins whose pages may change things via /api/
                                                           [FSS_ADMIN_ALLOWED_ORIGINS, default none]
  --trusted-proxies L        proxies whose Forwarded/X-Forwarded-* are believed (CIDR list)
                                                           [FSS_TRUSTED_PROXIES, default none]
  --admin-allow-from L       addresses that may call /api/ (CIDR list)
                                                           [FSS_ADMIN_ALLOW_FROM, default any]
  --durability full|relaxed  full: answered writes survive power loss; relaxed: they
                             survive a crash of fss only   [FSS_DURABILITY, default full]
  --tls-cert FILE            HTTPS: certificate chain (PEM, leaf first; reloaded on SIGHUP)
                                                           [FSS_TLS_CERT, default none: plain HTTP]
  --tls-key FILE             its private key (PEM: RSA, ECDSA or Ed25519)
                                                           [FSS_TLS_KEY]
  --tls-client-ca FILE       ask clients for a certificate signed by these CAs (PEM)
                                                           [FSS_TLS_CLIENT_CA, default none]
  --api-key-header NAME      header the API keys of /api/1/ arrive in: Authorization
                             carries 'Bearer <key>', any other header the key alone
                                                           [FSS_API_KEY_HEADER, default Authorization]
  --database URL             postgres://user:pw@host:port/db: every durable thing in
                             PostgreSQL, so that several fss share it
                                                           [FSS_DATABASE_URL, default none: SQLite
                                                           under --data]
  --files-dir DIR            stored files (shared by every instance on one database)
                                                           [FSS_FILES_DIR, default DATA/files]
  --amqp-url URL             RabbitMQ broker of rabbit event channels (connected when a
                             channel needs it)             [FSS_AMQP_URL, default
                                                           amqp://guest:guest@127.0.0.1:5672/%2f]
  --admin-user ID            bootstrap admin of /api/      [FSS_ADMIN_USER]
  --admin-password PW        its password (prefer the env) [FSS_ADMIN_PASSWORD]
  -h, --help                 this text
";

/// What the command line asks for.
#[derive(Debug, Clone)]
pub enum Command {
    /// Serve.
    Serve(Options),
    /// Validate the definitions and exit.
    Check(Options),
    /// Print the usage.
    Help,
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
}

/// Parses the command line and the environment.
///
/// # Errors
///
/// An unknown flag, a flag without its value, or a value that does not parse: the message
/// names it.
pub fn parse(
    args: impl IntoIterator<Item = OsString>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Command, String> {
    let mut args: Vec<String> = args
        .into_iter()
        .skip(1)
        .map(|a| {
            a.into_string()
                .map_err(|a| format!("argument {a:?} is not UTF-8"))
        })
        .collect::<Result<_, _>>()?;
    let check = match args.first().map(String::as_str) {
        Some("serve") => {
            args.remove(0);
            false
        }
        Some("check") => {
            args.remove(0);
            true
        }
        _ => false,
    };
    let mut flags: Vec<(String, String)> = Vec::new();
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        if a == "-h" || a == "--help" || a == "help" {
            return Ok(Command::Help);
        }
        let (name, value) = match a.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_owned(), v.to_owned()),
            _ if a.starts_with("--") => {
                let v = it.next().ok_or_else(|| format!("{a} needs a value"))?;
                (a, v)
            }
            _ => return Err(format!("unexpected argument '{a}'; see fss --help")),
        };
        flags.push((name, value));
    }
    let get = |flag: &str, var: &str| -> Option<(String, String)> {
        flags
            .iter()
            .rev()
            .find(|(n, _)| n == flag)
            .map(|(n, v)| (n.clone(), v.clone()))
            .or_else(|| env(var).map(|v| (var.to_owned(), v)))
    };
    const KNOWN: &[&str] = &[
        "--operations",
        "--data",
        "--keystore",
        "--listen",
        "--max-connections",
        "--max-connections-per-ip",
        "--header-read-timeout",
        "--shutdown-grace",
        "--body-idle-timeout",
        "--body-timeout",
        "--body-min-rate",
        "--body-rate-window",
        "--idle-timeout",
        "--execution-timeout",
        "--wait-timeout",
        "--api-retention-days",
        "--idempotency-ttl-hours",
        "--max-request-bytes",
        "--public-base-url",
        "--ca-file",
        "--connect-timeout",
        "--request-timeout",
        "--records",
        "--records-max-bytes",
        "--cors-allowed-origins",
        "--admin-allowed-origins",
        "--trusted-proxies",
        "--admin-allow-from",
        "--durability",
        "--api-key-header",
        "--amqp-url",
        "--database",
        "--files-dir",
        "--admin-user",
        "--admin-password",
        FLAG_TLS_CERT,
        FLAG_TLS_KEY,
        FLAG_TLS_CLIENT_CA,
    ];
    if let Some((n, _)) = flags.iter().find(|(n, _)| !KNOWN.contains(&n.as_str())) {
        return Err(format!("unknown option '{n}'; see fss --help"));
    }

    let mut o = Options {
        operations: PathBuf::from("operations"),
        listen: DEFAULT_LISTEN
            .parse()
            .expect("default listen address parses"),
        runtime: RuntimeConfig::default(),
        server: ServerConfig::default(),
        admin: AdminConfig::default(),
        tls: None,
    };
    if let Some((_, v)) = get("--operations", ENV_OPERATIONS) {
        o.operations = v.into();
    }
    if let Some((_, v)) = get("--data", ENV_DATA) {
        o.runtime.data_dir = v.into();
    }
    if let Some((_, v)) = get("--keystore", ENV_KEYSTORE) {
        o.runtime.keystore_file = Some(v.into()).filter(|p: &PathBuf| !p.as_os_str().is_empty());
    }
    if let Some((n, v)) = get("--listen", ENV_LISTEN) {
        o.listen = parse_value(&n, &v, "an address such as 127.0.0.1:9090")?;
    }
    if let Some((n, v)) = get("--max-connections", ENV_MAX_CONNECTIONS) {
        o.server.max_connections = parse_value(&n, &v, "a positive number")?;
    }
    if let Some((n, v)) = get("--max-connections-per-ip", ENV_MAX_CONNECTIONS_PER_IP) {
        o.server.max_connections_per_ip = parse_value(&n, &v, "a number (0: no cap)")?;
    }
    if let Some((n, v)) = get("--header-read-timeout", ENV_HEADER_READ_TIMEOUT) {
        o.server.header_read_timeout = Duration::from_secs(parse_value(&n, &v, "seconds")?);
    }
    if let Some((n, v)) = get("--shutdown-grace", ENV_SHUTDOWN_GRACE) {
        o.server.shutdown_grace = Duration::from_secs(parse_value(&n, &v, "seconds")?);
    }
    if let Some((n, v)) = get("--body-idle-timeout", ENV_BODY_IDLE_TIMEOUT) {
        o.server.body_idle_timeout = Duration::from_secs(parse_value(&n, &v, "seconds")?);
    }
    if let Some((n, v)) = get("--body-timeout", ENV_BODY_TIMEOUT) {
        o.server.body_timeout = seconds(&n, &v)?;
    }
    if let Some((n, v)) = get("--body-min-rate", ENV_BODY_MIN_RATE) {
        o.server.body_min_rate = parse_value(&n, &v, "bytes per second (0: no minimum)")?;
    }
    if let Some((n, v)) = get("--body-rate-window", ENV_BODY_RATE_WINDOW) {
        o.server.body_rate_window = seconds(&n, &v)?;
    }
    if let Some((n, v)) = get("--idle-timeout", ENV_IDLE_TIMEOUT) {
        o.server.idle_timeout = seconds(&n, &v)?;
    }
    if let Some((n, v)) = get("--execution-timeout", ENV_EXECUTION_TIMEOUT) {
        o.runtime.execution_timeout = seconds(&n, &v)?;
    }
    if let Some((n, v)) = get("--wait-timeout", ENV_WAIT_TIMEOUT) {
        o.runtime.wait_timeout = seconds(&n, &v)?;
    }
    if let Some((n, v)) = get("--api-retention-days", ENV_API_RETENTION_DAYS) {
        o.runtime.api_retention = Duration::from_secs(at_least_one(&n, &v, "days")? * 86_400);
    }
    if let Some((n, v)) = get("--idempotency-ttl-hours", ENV_IDEMPOTENCY_TTL_HOURS) {
        o.runtime.idempotency_ttl = Duration::from_secs(at_least_one(&n, &v, "hours")? * 3_600);
    }
    if let Some((n, v)) = get("--max-request-bytes", ENV_MAX_REQUEST_BYTES) {
        o.runtime.max_request_bytes = parse_value(&n, &v, "a number of bytes")?;
    }
    if let Some((_, v)) = get("--public-base-url", ENV_PUBLIC_BASE_URL) {
        o.runtime.public_base_url = Some(v.trim_end_matches('/').to_owned());
    }
    if let Some((n, v)) = get("--ca-file", ENV_CA_FILE) {
        let path = PathBuf::from(v);
        // Loaded here so that a bad file stops the start (exit 64), naming it.
        crate::http::client::load_ca_file(&path).map_err(|e| format!("{n}: {e}"))?;
        o.runtime.outbound.ca_file = Some(path);
    }
    if let Some((n, v)) = get("--connect-timeout", ENV_CONNECT_TIMEOUT) {
        o.runtime.outbound.connect_timeout = seconds(&n, &v)?;
    }
    if let Some((n, v)) = get("--request-timeout", ENV_REQUEST_TIMEOUT) {
        o.runtime.outbound.request_timeout = seconds(&n, &v)?;
    }
    if let Some((n, v)) = get("--records", ENV_RECORDS) {
        o.runtime.execution_records = parse_value(&n, &v, "a number of records")?;
    }
    if let Some((n, v)) = get("--records-max-bytes", ENV_RECORDS_MAX_BYTES) {
        o.runtime.execution_records_bytes = parse_value(&n, &v, "a number of bytes")?;
    }
    if let Some((n, v)) = get("--cors-allowed-origins", ENV_CORS_ALLOWED_ORIGINS) {
        o.runtime.edge.cors_origins = origins(&n, &v)?;
    }
    if let Some((n, v)) = get("--admin-allowed-origins", ENV_ADMIN_ALLOWED_ORIGINS) {
        o.runtime.edge.admin_origins = origins(&n, &v)?;
    }
    if let Some((n, v)) = get("--trusted-proxies", ENV_TRUSTED_PROXIES) {
        o.runtime.edge.trusted_proxies = v.parse().map_err(|e| format!("{n}: {e}"))?;
    }
    if let Some((n, v)) = get("--admin-allow-from", ENV_ADMIN_ALLOW_FROM) {
        o.runtime.edge.admin_allow_from = v.parse().map_err(|e| format!("{n}: {e}"))?;
    }
    if let Some((n, v)) = get("--durability", ENV_DURABILITY) {
        o.runtime.durability = parse_value(&n, &v, "full or relaxed")?;
    }
    if let Some((n, v)) = get("--api-key-header", ENV_API_KEY_HEADER) {
        o.runtime.api_key_header = api_key_header(&n, &v)?;
    }
    if let Some((n, v)) = get("--amqp-url", ENV_AMQP_URL) {
        if !(v.starts_with("amqp://") || v.starts_with("amqps://")) {
            return Err(format!("{n}: '{v}' is not an amqp:// URL"));
        }
        o.runtime.amqp_url = v;
    }
    if let Some((n, v)) = get("--database", ENV_DATABASE_URL) {
        if !v.is_empty() {
            if !(v.starts_with("postgres://") || v.starts_with("postgresql://")) {
                return Err(format!("{n}: not a postgres:// URL"));
            }
            o.runtime.database_url = Some(v);
        }
    }
    if let Some((_, v)) = get("--files-dir", ENV_FILES_DIR) {
        o.runtime.files_dir = Some(v.into()).filter(|p: &PathBuf| !p.as_os_str().is_empty());
    }
    if let Some((_, v)) = get("--admin-user", ENV_ADMIN_USER) {
        o.admin.bootstrap_user = Some(v).filter(|v| !v.is_empty());
    }
    if let Some((_, v)) = get("--admin-password", ENV_ADMIN_PASSWORD) {
        o.admin.bootstrap_password = Some(v).filter(|v| !v.is_empty());
    }
    o.tls = tls_config(
        get(FLAG_TLS_CERT, ENV_TLS_CERT),
        get(FLAG_TLS_KEY, ENV_TLS_KEY),
        get(FLAG_TLS_CLIENT_CA, ENV_TLS_CLIENT_CA),
    )?;
    if o.server.max_connections == 0 {
        return Err("the connection cap must be at least 1".into());
    }
    Ok(if check {
        Command::Check(o)
    } else {
        Command::Serve(o)
    })
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
            "{name}: '{value}' already carries something else of every request; name a              header of its own such as X-Api-Key"
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
    use super::*;

    fn args(a: &[&str]) -> Vec<OsString> {
        std::iter::once("fss")
            .chain(a.iter().copied())
            .map(OsString::from)
            .collect()
    }

    #[test]
    fn no_arguments_serve_the_defaults() {
        let Command::Serve(o) = parse(args(&[]), |_| None).unwrap() else {
            panic!("expected serve")
        };
        assert_eq!(o.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(o.operations, PathBuf::from("operations"));
        assert_eq!(o.runtime.data_dir, PathBuf::from("data"));
    }

    #[test]
    fn flags_win_over_environment() {
        let env = |k: &str| (k == ENV_LISTEN).then(|| "127.0.0.1:1".to_owned());
        let Command::Serve(o) = parse(args(&["serve", "--listen", "127.0.0.1:2"]), env).unwrap()
        else {
            panic!("expected serve")
        };
        assert_eq!(o.listen.port(), 2);
        let Command::Serve(o) = parse(args(&[]), env).unwrap() else {
            panic!("expected serve")
        };
        assert_eq!(o.listen.port(), 1);
    }

    #[test]
    fn api_keys_arrive_in_authorization_unless_another_header_is_named() {
        let header = |a: &[&str], env: Option<&str>| {
            let env = env.map(str::to_owned);
            parse(args(a), move |k| {
                env.clone().filter(|_| k == ENV_API_KEY_HEADER)
            })
            .map(|c| match c {
                Command::Serve(o) => o.runtime.api_key_header,
                _ => panic!("expected serve"),
            })
        };
        assert_eq!(header(&[], None).unwrap(), http::header::AUTHORIZATION);
        assert_eq!(
            header(&["--api-key-header", "X-Api-Key"], None).unwrap(),
            "x-api-key"
        );
        assert_eq!(
            header(&[], Some("X-PhixFlow-Key")).unwrap(),
            "x-phixflow-key"
        );
        assert_eq!(
            header(&["--api-key-header=authorization"], Some("X-Other")).unwrap(),
            http::header::AUTHORIZATION,
            "the flag wins"
        );
        assert_eq!(header(&[], Some("")).unwrap(), http::header::AUTHORIZATION);
        let err = header(&["--api-key-header", "X Api"], None).unwrap_err();
        assert!(
            err.contains("--api-key-header") && err.contains("not a header name"),
            "{err}"
        );
        let err = header(&[], Some("Content-Type")).unwrap_err();
        assert!(err.contains(ENV_API_KEY_HEADER), "{err}");
        assert!(USAGE.contains("--api-key-header NAME") && USAGE.contains(ENV_API_KEY_HEADER));
    }

    #[test]
    fn the_keystore_is_in_the_data_folder_unless_moved_by_flag_or_environment() {
        let keystore = |a: &[&str], env: Option<&str>| {
            let env = env.map(str::to_owned);
            let Command::Serve(o) =
                parse(args(a), move |k| env.clone().filter(|_| k == ENV_KEYSTORE)).unwrap()
            else {
                panic!("expected serve")
            };
            o.runtime.keystore_file
        };
        assert_eq!(keystore(&[], None), None);
        assert_eq!(
            keystore(&[], Some("/etc/fss/keys.json")),
            Some(PathBuf::from("/etc/fss/keys.json"))
        );
        assert_eq!(
            keystore(&["--keystore", "k.json"], Some("/etc/fss/keys.json")),
            Some(PathBuf::from("k.json"))
        );
        assert_eq!(
            keystore(&["--keystore=/s/k"], None),
            Some(PathBuf::from("/s/k"))
        );
        assert_eq!(keystore(&[], Some("")), None, "empty means the default");
        assert!(USAGE.contains("--keystore FILE") && USAGE.contains(ENV_KEYSTORE));
    }

    #[test]
    fn admin_user_comes_from_flag_or_environment() {
        let env = |k: &str| match k {
            ENV_ADMIN_USER => Some("env-admin".to_owned()),
            ENV_ADMIN_PASSWORD => Some("env-pw".to_owned()),
            _ => None,
        };
        let Command::Serve(o) = parse(args(&["--admin-user", "flag-admin"]), env).unwrap() else {
            panic!("expected serve")
        };
        assert_eq!(o.admin.bootstrap_user.as_deref(), Some("flag-admin"));
        assert_eq!(o.admin.bootstrap_password.as_deref(), Some("env-pw"));
        assert!(
            !format!("{o:?}").contains("env-pw"),
            "the password is not logged"
        );
        let Command::Serve(o) = parse(args(&[]), |_| None).unwrap() else {
            panic!("expected serve")
        };
        assert!(o.admin.bootstrap_user.is_none());
    }

    #[test]
    fn edge_lists_parse_and_bad_ones_are_named() {
        let Command::Serve(o) = parse(
            args(&[
                "--cors-allowed-origins",
                "https://a.example, http://b.example:8080/",
                "--trusted-proxies",
                "10.0.0.0/8,127.0.0.1",
                "--records-max-bytes",
                "1048576",
            ]),
            |_| None,
        )
        .unwrap() else {
            panic!("expected serve")
        };
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
        let err = parse(args(&["--cors-allowed-origins", "evil"]), |_| None).unwrap_err();
        assert!(
            err.contains("--cors-allowed-origins") && err.contains("evil"),
            "{err}"
        );
        let err = parse(args(&["--admin-allow-from", "10.0.0.0/99"]), |_| None).unwrap_err();
        assert!(err.contains("--admin-allow-from"), "{err}");
    }

    #[test]
    fn durability_is_full_unless_relaxed_by_flag_or_environment() {
        use crate::store::Durability;
        let durability = |a: &[&str], env: Option<&str>| {
            let env = env.map(str::to_owned);
            match parse(args(a), move |k| {
                env.clone().filter(|_| k == ENV_DURABILITY)
            }) {
                Ok(Command::Serve(o)) => Ok(o.runtime.durability),
                Ok(_) => panic!("expected serve"),
                Err(e) => Err(e),
            }
        };
        assert_eq!(durability(&[], None), Ok(Durability::Full));
        assert_eq!(durability(&[], Some("relaxed")), Ok(Durability::Relaxed));
        assert_eq!(
            durability(&["--durability", "FULL"], Some("relaxed")),
            Ok(Durability::Full)
        );
        assert_eq!(
            durability(&["--durability=relaxed"], None),
            Ok(Durability::Relaxed)
        );
        let err = durability(&["--durability", "fast"], None).unwrap_err();
        assert!(
            err.contains("--durability") && err.contains("fast"),
            "{err}"
        );
        let err = durability(&[], Some("none")).unwrap_err();
        assert!(
            err.contains(ENV_DURABILITY) && err.contains("relaxed"),
            "{err}"
        );
    }

    #[test]
    fn bad_values_name_their_source() {
        let err = parse(args(&["--listen=nope"]), |_| None).unwrap_err();
        assert!(err.contains("--listen") && err.contains("nope"), "{err}");
        let env = |k: &str| (k == ENV_MAX_CONNECTIONS).then(|| "x".to_owned());
        let err = parse(args(&[]), env).unwrap_err();
        assert!(err.contains(ENV_MAX_CONNECTIONS), "{err}");
        assert!(parse(args(&["--bogus", "1"]), |_| None).is_err());
    }

    #[test]
    fn connection_and_deadline_flags_have_defaults_flags_and_variables() {
        let Command::Serve(o) = parse(args(&[]), |_| None).unwrap() else {
            panic!("expected serve")
        };
        assert_eq!(o.server.max_connections_per_ip, 256);
        assert_eq!(o.server.idle_timeout, Duration::from_secs(30));
        assert_eq!(o.server.body_timeout, Duration::from_secs(10_800));
        assert_eq!(o.server.body_min_rate, 1024);
        assert_eq!(o.server.body_rate_window, Duration::from_secs(30));
        assert_eq!(o.runtime.execution_timeout, Duration::from_secs(30));
        assert_eq!(o.runtime.wait_timeout, Duration::from_secs(86_400));

        let flags = args(&[
            "--max-connections-per-ip=0",
            "--idle-timeout=5",
            "--body-timeout=60",
            "--body-min-rate=0",
            "--body-rate-window=10",
            "--execution-timeout=3",
        ]);
        let env = |k: &str| (k == ENV_WAIT_TIMEOUT).then(|| "120".to_owned());
        let Command::Serve(o) = parse(flags, env).unwrap() else {
            panic!("expected serve")
        };
        assert_eq!(o.server.max_connections_per_ip, 0);
        assert_eq!(o.server.idle_timeout, Duration::from_secs(5));
        assert_eq!(o.server.body_timeout, Duration::from_secs(60));
        assert_eq!(o.server.body_min_rate, 0);
        assert_eq!(o.server.body_rate_window, Duration::from_secs(10));
        assert_eq!(o.runtime.execution_timeout, Duration::from_secs(3));
        assert_eq!(o.runtime.wait_timeout, Duration::from_secs(120));
    }

    #[test]
    fn outbound_flags_have_defaults_and_a_bad_ca_file_is_named() {
        let Command::Serve(o) = parse(args(&[]), |_| None).unwrap() else {
            panic!("expected serve")
        };
        assert_eq!(o.runtime.outbound.ca_file, None);
        assert_eq!(o.runtime.outbound.connect_timeout, Duration::from_secs(10));
        assert_eq!(o.runtime.outbound.request_timeout, Duration::from_secs(30));
        let env = |k: &str| (k == ENV_REQUEST_TIMEOUT).then(|| "7".to_owned());
        let Command::Serve(o) = parse(args(&["--connect-timeout=2"]), env).unwrap() else {
            panic!("expected serve")
        };
        assert_eq!(o.runtime.outbound.connect_timeout, Duration::from_secs(2));
        assert_eq!(o.runtime.outbound.request_timeout, Duration::from_secs(7));

        let err = parse(args(&["--ca-file", "/no/such/ca.pem"]), |_| None).unwrap_err();
        assert!(
            err.contains("--ca-file") && err.contains("/no/such/ca.pem"),
            "{err}"
        );
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let env = |k: &str| (k == ENV_CA_FILE).then(|| empty.display().to_string());
        let err = parse(args(&[]), env).unwrap_err();
        assert!(
            err.contains(ENV_CA_FILE) && err.contains("empty.pem") && err.contains("no PEM"),
            "{err}"
        );
    }

    #[test]
    fn tls_files_come_as_a_pair_from_flags_or_environment() {
        let Command::Serve(o) = parse(args(&[]), |_| None).unwrap() else {
            panic!("expected serve")
        };
        assert!(o.tls.is_none(), "plain HTTP by default");
        let env = |k: &str| (k == ENV_TLS_KEY).then(|| "env.key".to_owned());
        let Command::Serve(o) = parse(
            args(&["--tls-cert", "c.pem", "--tls-client-ca=ca.pem"]),
            env,
        )
        .unwrap() else {
            panic!("expected serve")
        };
        let tls = o.tls.unwrap();
        assert_eq!(tls.cert, PathBuf::from("c.pem"));
        assert_eq!(tls.key, PathBuf::from("env.key"));
        assert_eq!(tls.client_ca, Some(PathBuf::from("ca.pem")));

        let err = parse(args(&["--tls-cert", "c.pem"]), |_| None).unwrap_err();
        assert!(
            err.contains("--tls-cert") && err.contains("--tls-key"),
            "{err}"
        );
        let env = |k: &str| (k == ENV_TLS_KEY).then(|| "k.pem".to_owned());
        let err = parse(args(&[]), env).unwrap_err();
        assert!(
            err.contains(ENV_TLS_KEY) && err.contains("--tls-cert"),
            "{err}"
        );
        let err = parse(args(&["--tls-client-ca", "ca.pem"]), |_| None).unwrap_err();
        assert!(err.contains("--tls-client-ca"), "{err}");
    }

    #[test]
    fn zero_timeouts_are_refused() {
        for flag in [
            "--idle-timeout=0",
            "--body-timeout=0",
            "--execution-timeout=0",
        ] {
            let err = parse(args(&[flag]), |_| None).unwrap_err();
            assert!(err.contains("at least 1 second"), "{flag}: {err}");
        }
        let env = |k: &str| (k == ENV_WAIT_TIMEOUT).then(|| "0".to_owned());
        let err = parse(args(&[]), env).unwrap_err();
        assert!(err.contains(ENV_WAIT_TIMEOUT), "{err}");
    }
}
