//! The shared server: one listener, HTTP/1.1 keep-alive and HTTP/2 (prior knowledge) on the
//! same port, every connection served by the [`Runtime`].
//!
//! Invariants: a connection holds a permit of the connection cap for its whole life; a
//! client that does not finish its headers within the header-read timeout is dropped;
//! on shutdown the listener closes first, then every connection is asked to finish its
//! in-flight requests, and whatever is still running after the grace period is abandoned.

pub mod signal;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use crate::app::Runtime;
use crate::http::body;
use crate::http::request::Connection;

/// Default connection cap.
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
/// Default time a client has to send its request headers.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Default time a client may pause while sending a request body.
pub const DEFAULT_BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Default time in-flight requests get to finish on shutdown.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// How the server's sockets behave.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The most connections open at once; further clients wait in the accept backlog.
    pub max_connections: usize,
    /// How long a client may take to send its request headers. Default 30 s.
    pub header_read_timeout: Duration,
    /// How long in-flight requests may run after shutdown starts. Default 30 s.
    pub shutdown_grace: Duration,
    /// How long a client may pause mid-body before it is cut off (408). Default 30 s.
    pub body_idle_timeout: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            body_idle_timeout: DEFAULT_BODY_IDLE_TIMEOUT,
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
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout)
        .keep_alive(true);
    builder.http2().timer(TokioTimer::new());
    let builder = Arc::new(builder);
    tokio::pin!(shutdown);

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
        serve_connection(
            stream,
            peer,
            &runtime,
            &builder,
            &graceful,
            permit,
            config.body_idle_timeout,
        );
    }

    drop(listener);
    tracing::info!("Shutting down: finishing in-flight requests.");
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("All connections closed."),
        () = tokio::time::sleep(config.shutdown_grace) => {
            tracing::warn!(grace = ?config.shutdown_grace, "Grace period over; abandoning connections.");
        }
    }
}

fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    runtime: &Runtime,
    builder: &Arc<auto::Builder<TokioExecutor>>,
    graceful: &GracefulShutdown,
    permit: tokio::sync::OwnedSemaphorePermit,
    body_idle: Duration,
) {
    // Low latency: answers leave as soon as they are written.
    let _ = stream.set_nodelay(true);
    let connection = Connection {
        peer,
        local: stream.local_addr().unwrap_or(peer),
    };
    let runtime = runtime.clone();
    let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let runtime = runtime.clone();
        let mut req = req.map(|b| body::boxed(body::IdleTimeout::new(b, body_idle)));
        req.extensions_mut().insert(connection);
        async move { Ok::<_, Infallible>(runtime.handle(req).await) }
    });
    let builder = Arc::clone(builder);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    let conn = graceful.watch(conn.into_owned());
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(%peer, error = %e, "Connection ended with an error.");
        }
        drop(permit);
    });
}

/// Accept errors such as EMFILE are transient: wait a little instead of spinning.
async fn accept_error(e: std::io::Error) {
    tracing::warn!(error = %e, "Accept failed; retrying.");
    tokio::time::sleep(Duration::from_millis(50)).await;
}
