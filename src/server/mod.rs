//! The shared server: one listener, HTTP/1.1 keep-alive and HTTP/2 (prior knowledge, or
//! ALPN over TLS) on the same port, plain or HTTPS (`tls`), every connection served by
//! the [`Runtime`].
//!
//! Invariants: a connection holds a permit of the connection cap for its whole life; a
//! connection that has not completed a request head within the header-read timeout is
//! dropped, whatever its protocol (over TLS the handshake counts against the same
//! deadline), and one with no request open for the idle timeout is
//! closed (the watch is in `conn`); HTTP/2 connections are pinged to find dead peers;
//! on shutdown the listener closes first, then every connection is asked to finish its
//! in-flight requests, and whatever is still running after the grace period is abandoned.

mod conn;
mod peers;
pub mod signal;
pub mod tls;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};

use self::conn::{Activity, Check, OpenRequest, Tracked, CLOSE_GRACE};
use self::peers::{PeerSlot, Peers};
use self::tls::Tls;
use crate::app::Runtime;
use crate::http::body;
use crate::http::request::Connection;
use crate::shared::OpenConnection;

/// Default connection cap.
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
/// Default cap on the connections open at once from one peer IP address: well below
/// the global cap, so that a single host can hold at most 1/40 of the default slots.
pub const DEFAULT_MAX_CONNECTIONS_PER_IP: usize = 256;
/// Default time a client has to send its request headers: from the accept for the first
/// request (whatever the protocol), from the end of the previous answer for the next
/// request on an HTTP/1 keep-alive connection (hyper's own timer).
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Default time a connection may sit with no request open (HTTP/1 keep-alive between
/// requests, HTTP/2 with no open stream) before it is closed; the same as the
/// header-read timeout, which hyper already applies to idle HTTP/1 connections.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Default interval of the HTTP/2 keep-alive pings that find peers which went away
/// without closing (while a long request runs, say).
pub const DEFAULT_HTTP2_KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(30);
/// Default time an HTTP/2 keep-alive ping may go unanswered before the connection is
/// closed (hyper's default).
pub const DEFAULT_HTTP2_KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(20);
/// Default time a client may pause while sending a request body.
pub const DEFAULT_BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Default time a whole request body may take: 3 h, which a 1 GiB upload meets at
/// 100 KB/s.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(3 * 60 * 60);
/// Default slowest rate of a request body, in bytes per second: a client trickling a
/// byte at a time stays under the idle timeout but not under this.
pub const DEFAULT_BODY_MIN_RATE: u64 = 1024;
/// Default window over which the body rate is averaged, so that a short pause of a
/// healthy client is not mistaken for a trickle.
pub const DEFAULT_BODY_RATE_WINDOW: Duration = Duration::from_secs(30);
/// Default time in-flight requests get to finish on shutdown.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// How the server's sockets behave.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The most connections open at once; further clients wait in the accept backlog.
    pub max_connections: usize,
    /// How long a client may take to send a request head: the first one from the accept,
    /// whatever the protocol (a connection that sends none is dropped), later ones on an
    /// HTTP/1 connection from the end of the previous answer. Default 30 s.
    pub header_read_timeout: Duration,
    /// How long in-flight requests may run after shutdown starts. Default 30 s.
    pub shutdown_grace: Duration,
    /// How long a client may pause mid-body before it is cut off (408). Default 30 s.
    pub body_idle_timeout: Duration,
    /// How long a request body may take in all, from its first read to its end, before
    /// it is cut off (408). Default 3 h: a 1 GiB upload (the default `maxUploadBytes`)
    /// meets it at 100 KB/s (0.8 Mbit/s).
    pub body_timeout: Duration,
    /// The slowest a request body may arrive, in bytes per second averaged over
    /// `body_rate_window`, before it is cut off (408); 0: no minimum. Default 1024.
    pub body_min_rate: u64,
    /// The window over which `body_min_rate` is averaged. Default 30 s.
    pub body_rate_window: Duration,
    /// How long a connection may sit with no request open (HTTP/1 keep-alive between
    /// requests, HTTP/2 with no open stream) before it is closed gracefully. Default 30 s.
    pub idle_timeout: Duration,
    /// The most connections open at once from one peer IP address, so that one host
    /// cannot take every slot of `max_connections`; a connection over it is closed at
    /// once. 0: no per-IP cap (behind a reverse proxy every connection comes from the
    /// proxy). Default 256.
    pub max_connections_per_ip: usize,
    /// Interval of HTTP/2 keep-alive pings. Default 30 s.
    pub http2_keep_alive_interval: Duration,
    /// How long an HTTP/2 ping may go unanswered before the connection is closed.
    /// Default 20 s.
    pub http2_keep_alive_timeout: Duration,
    /// HTTPS on the listener (`--tls-cert`, `--tls-key`); `None` (the default): plain
    /// HTTP. Shared with the SIGHUP reload, which swaps its certificate.
    pub tls: Option<Arc<Tls>>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            body_idle_timeout: DEFAULT_BODY_IDLE_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            body_min_rate: DEFAULT_BODY_MIN_RATE,
            body_rate_window: DEFAULT_BODY_RATE_WINDOW,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_connections_per_ip: DEFAULT_MAX_CONNECTIONS_PER_IP,
            http2_keep_alive_interval: DEFAULT_HTTP2_KEEP_ALIVE_INTERVAL,
            http2_keep_alive_timeout: DEFAULT_HTTP2_KEEP_ALIVE_TIMEOUT,
            tls: None,
        }
    }
}

/// Serves `runtime` on `listener` until `shutdown` resolves, then drains.
///
/// Returns once every connection has finished or the grace period has passed.
pub async fn run(
    listener: TcpListener,
    runtime: Runtime,
    config: ServerConfig,
    shutdown: impl Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(config.max_connections.max(1)));
    // Every connection task holds a receiver: a send asks them all to finish, and the
    // channel closes once the last of them has ended.
    let (drain_tx, drain_rx) = watch::channel(());
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(config.http2_keep_alive_interval)
        .keep_alive_timeout(config.http2_keep_alive_timeout);
    let peers =
        (config.max_connections_per_ip > 0).then(|| Peers::new(config.max_connections_per_ip));
    let shared = Arc::new(Shared {
        builder,
        body_timeouts: body::BodyTimeouts {
            idle: config.body_idle_timeout,
            total: config.body_timeout,
            min_rate: config.body_min_rate,
            window: config.body_rate_window,
        },
        runtime,
        config: config.clone(),
    });
    tokio::pin!(shutdown);
    let state = Arc::clone(shared.runtime.server_state());
    state.listening.store(true, Ordering::Relaxed);

    loop {
        let permit = tokio::select! {
            p = Arc::clone(&permits).acquire_owned() => p.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    accept_error(e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let slot = match &peers {
            Some(peers) => match peers.admit(peer.ip()) {
                Some(slot) => Some(slot),
                None => {
                    // Closed at once; counted and logged quietly, as a flood of them
                    // must not flood the log.
                    tracing::debug!(
                        %peer,
                        cap = peers.cap(),
                        refused_total = peers.refused(),
                        "Connection refused: its address holds the per-IP connection cap."
                    );
                    continue;
                }
            },
            None => None,
        };
        serve_connection(stream, peer, &shared, drain_rx.clone(), (permit, slot));
    }

    // First of all: /readyz answers 503 from now on, for as long as connections drain.
    state.draining.store(true, Ordering::Relaxed);
    drop(listener);
    drop(drain_rx);
    tracing::info!("Shutting down: finishing in-flight requests.");
    let _ = drain_tx.send(());
    tokio::select! {
        () = drain_tx.closed() => tracing::info!("All connections closed."),
        () = tokio::time::sleep(config.shutdown_grace) => {
            tracing::warn!(grace = ?config.shutdown_grace, "Grace period over; abandoning connections.");
        }
    }
}

/// What every connection task needs, built once.
struct Shared {
    builder: auto::Builder<TokioExecutor>,
    body_timeouts: body::BodyTimeouts,
    runtime: Runtime,
    config: ServerConfig,
}

/// Serves one connection on a task of its own, which owns its places (`slots`: of the
/// connection cap and of its peer's count) and closes it when it holds them for nothing
/// (see `conn`). Over TLS the task first completes the handshake, within the header-read
/// timeout of the accept.
fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    shared: &Arc<Shared>,
    mut drain: watch::Receiver<()>,
    slots: (OwnedSemaphorePermit, Option<PeerSlot>),
) {
    // Low latency: answers leave as soon as they are written.
    let _ = stream.set_nodelay(true);
    let local = stream.local_addr().unwrap_or(peer);
    let activity = Activity::new();
    let shared = Arc::clone(shared);
    let open = OpenConnection::new(shared.runtime.server_state());
    tokio::spawn(async move {
        let _open = open;
        let _slots = slots;
        let Some(tls) = shared.config.tls.as_deref() else {
            let connection = Connection {
                peer,
                local,
                tls: false,
                client_certificate: None,
            };
            return serve_http(stream, connection, &shared, activity, drain).await;
        };
        let deadline = activity.born() + shared.config.header_read_timeout;
        let accepted = tokio::select! {
            r = tokio::time::timeout_at(deadline, tls.acceptor().accept(stream)) => r,
            _ = drain.changed() => return,
        };
        let stream = match accepted {
            Ok(Ok(s)) => s,
            // Quietly: a flood of bad handshakes must not flood the log.
            Ok(Err(e)) => {
                tracing::debug!(%peer, error = %e, "TLS handshake failed.");
                return;
            }
            Err(_) => {
                tracing::debug!(%peer, timeout = ?shared.config.header_read_timeout, "Dropping a connection that did not finish its TLS handshake in time.");
                return;
            }
        };
        let client_certificate =
            tls::client_certificate(stream.get_ref().1.peer_certificates()).map(Arc::new);
        let connection = Connection {
            peer,
            local,
            tls: true,
            client_certificate,
        };
        serve_http(stream, connection, &shared, activity, drain).await;
    });
}

/// Serves HTTP on an established stream (plain TCP or TLS) until it ends, is drained,
/// sends no request head in time, or sits idle.
async fn serve_http<S>(
    stream: S,
    connection: Connection,
    shared: &Shared,
    activity: Arc<Activity>,
    mut drain: watch::Receiver<()>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let peer = connection.peer;
    let body_timeouts = shared.body_timeouts;
    let runtime = shared.runtime.clone();
    let watched = Arc::clone(&activity);
    let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let open = OpenRequest::start(&watched);
        let runtime = runtime.clone();
        let mut req = req.map(|b| body::boxed(body::TimedBody::new(b, body_timeouts)));
        req.extensions_mut().insert(connection.clone());
        async move {
            let resp = runtime.handle(req).await;
            Ok::<_, Infallible>(resp.map(|b| Tracked::new(b, open)))
        }
    });
    let (header_read, idle) = (
        shared.config.header_read_timeout,
        shared.config.idle_timeout,
    );
    let conn = shared
        .builder
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    // The first check comes at whichever deadline can be the first to pass.
    let mut next_check = activity.born() + header_read.min(idle);
    // Whether the connection was asked to finish (shutdown or idle), and whether it
    // was for being idle: then it gets `CLOSE_GRACE` before it is dropped.
    let (mut finishing, mut closing_idle) = (false, false);
    loop {
        tokio::select! {
            biased;
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(%peer, error = %e, "Connection ended with an error.");
                }
                break;
            }
            _ = drain.changed(), if !finishing => {
                finishing = true;
                conn.as_mut().graceful_shutdown();
            }
            () = tokio::time::sleep_until(next_check) => {
                let now = tokio::time::Instant::now();
                match activity.check(now, header_read, idle) {
                    Check::NoRequest => {
                        tracing::debug!(%peer, timeout = ?header_read, "Dropping a connection that sent no request head in time.");
                        break;
                    }
                    Check::Busy => next_check = now + idle,
                    Check::Until(at) => next_check = at,
                    Check::Idle if closing_idle => {
                        tracing::debug!(%peer, "Dropping an idle connection that did not close.");
                        break;
                    }
                    Check::Idle => {
                        closing_idle = true;
                        if !finishing {
                            finishing = true;
                            conn.as_mut().graceful_shutdown();
                        }
                        next_check = now + CLOSE_GRACE;
                    }
                }
            }
        }
    }
}

/// Accept errors such as EMFILE are transient: wait a little instead of spinning.
async fn accept_error(e: std::io::Error) {
    tracing::warn!(error = %e, "Accept failed; retrying.");
    tokio::time::sleep(Duration::from_millis(50)).await;
}
