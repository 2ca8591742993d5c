//! Signals: SIGINT or SIGTERM shut down; SIGHUP reloads the TLS certificate and the
//! operations folder.

use std::path::PathBuf;
use std::sync::Arc;

use super::tls::Tls;
use crate::app::Runtime;

/// Resolves on the first SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler installs");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// On every SIGHUP, for as long as the process runs: reloads the listener's certificate
/// and key (when `tls` is given; a reload that fails is logged and the certificate in use
/// stays), then the operations folder `operations` of `runtime`
/// ([`Runtime::reload_operations`]: what changed is remounted, a file with problems keeps
/// its old mount). The one SIGHUP listener of the binary, so that one signal does both.
///
/// The handler is installed by this call, before the future is first polled: a SIGHUP
/// right after it no longer ends the process (SIGHUP's default). Call it inside the tokio
/// runtime, before announcing that the server listens.
pub fn reload_on_hangup(
    tls: Option<Arc<Tls>>,
    runtime: Runtime,
    operations: PathBuf,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let hangup = {
        use tokio::signal::unix::{signal, SignalKind};
        signal(SignalKind::hangup()).map_err(|e| {
            tracing::error!(error = %e, "SIGHUP handler cannot be installed; certificates and the operations folder are not reloaded on SIGHUP.");
        })
    };
    async move {
        #[cfg(unix)]
        {
            let Ok(mut hangup) = hangup else { return };
            while hangup.recv().await.is_some() {
                if let Some(tls) = &tls {
                    match tls.reload() {
                        Ok(()) => tracing::info!("TLS certificate reloaded."),
                        Err(e) => {
                            tracing::error!(error = %e, "TLS certificate not reloaded; the old one stays in use.")
                        }
                    }
                }
                runtime.reload_operations(&operations).await;
            }
        }
        #[cfg(not(unix))]
        {
            let _ = (tls, runtime, operations);
            std::future::pending::<()>().await;
        }
    }
}
