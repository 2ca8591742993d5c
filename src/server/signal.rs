//! Signals: SIGINT or SIGTERM shut down; SIGHUP reloads the TLS certificate.

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

/// Reloads the listener's certificate and key on every SIGHUP, for as long as the process
/// runs; a reload that fails is logged and the certificate in use stays.
pub async fn reload_on_hangup(tls: std::sync::Arc<super::tls::Tls>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut hangup = match signal(SignalKind::hangup()) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "SIGHUP handler cannot be installed; certificates are not reloaded.");
                return;
            }
        };
        while hangup.recv().await.is_some() {
            match tls.reload() {
                Ok(()) => tracing::info!("TLS certificate reloaded."),
                Err(e) => {
                    tracing::error!(error = %e, "TLS certificate not reloaded; the old one stays in use.")
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tls;
        std::future::pending::<()>().await;
    }
}
