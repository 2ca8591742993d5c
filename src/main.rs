//! The `fss` binary: parse the command line, load the definitions, serve.

use std::process::ExitCode;
use std::sync::Arc;

use fss::config::{self, Command};
use fss::definition;
use fss::server;
use fss::server::tls::Tls;
use fss::{FolderLock, Runtime};

/// Exit status for invalid definitions or usage (`EX_USAGE`).
const EX_USAGE: u8 = 64;

fn main() -> ExitCode {
    let command = match config::parse(std::env::args_os(), |k| std::env::var(k).ok()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("fss: {e}");
            return ExitCode::from(EX_USAGE);
        }
    };
    let options = match command {
        Command::Help => {
            print!("{}", config::USAGE);
            return ExitCode::SUCCESS;
        }
        Command::Check(o) => {
            // The same checks `serve` makes before mounting, handlers included: the
            // binary registers none, so a definition naming one cannot be served by it.
            let checked = definition::load_dir(&o.operations)
                .and_then(|defs| fss::check(&defs).map(|()| defs));
            return match checked {
                Ok(defs) => {
                    println!("{} definitions are valid", defs.len());
                    ExitCode::SUCCESS
                }
                Err(problems) => {
                    eprintln!("{problems}");
                    ExitCode::from(EX_USAGE)
                }
            };
        }
        Command::Serve(o) => o,
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(log_level())
        .init();

    // Before anything is opened: a certificate that cannot be used is a usage error.
    let tls = match options.tls.clone().map(Tls::from_config).transpose() {
        Ok(t) => t.map(Arc::new),
        Err(e) => {
            eprintln!("fss: {e}");
            return ExitCode::from(EX_USAGE);
        }
    };
    let defs = match definition::load_dir(&options.operations) {
        Ok(d) => d,
        Err(problems) => {
            eprintln!("{problems}");
            return ExitCode::from(EX_USAGE);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("fss: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(async move {
        if let Err(e) = std::fs::create_dir_all(&options.runtime.data_dir) {
            eprintln!(
                "fss: data folder {} cannot be created: {e}",
                options.runtime.data_dir.display()
            );
            return ExitCode::FAILURE;
        }
        // Held until exit: a second fss on this folder refuses to start.
        let _lock = match FolderLock::take(&options.runtime.data_dir) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("fss: {e}");
                return ExitCode::FAILURE;
            }
        };
        let runtime = Runtime::new(options.runtime.clone());
        if let Err(problems) = runtime.mount(defs) {
            eprintln!("{problems}");
            return ExitCode::from(EX_USAGE);
        }
        // After the operations folder: deployments may not replace its services.
        match runtime.enable_admin(options.admin.clone()) {
            Ok(e) => tracing::info!(
                deployments = e.deployments,
                services = e.services_mounted,
                admins = e.admins,
                bootstrap_created = e.bootstrap_created,
                "Admin API enabled."
            ),
            Err(e) => {
                eprintln!("fss: admin API: {e}");
                return ExitCode::from(if e.is_client_error() { EX_USAGE } else { 1 });
            }
        }
        let listener = match tokio::net::TcpListener::bind(options.listen).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("fss: cannot listen on {}: {e}", options.listen);
                return ExitCode::FAILURE;
            }
        };
        // Hot reload of the operations folder: its watcher, and SIGHUP (with the certificate),
        // both set up before the line below announces the server.
        let _watch = runtime.watch_operations(&options.operations);
        tokio::spawn(server::signal::reload_on_hangup(
            tls.clone(),
            runtime.clone(),
            options.operations.clone(),
        ));
        let addr = listener.local_addr().unwrap_or(options.listen);
        let scheme = if tls.is_some() { "https" } else { "http" };
        // The first line on stdout: scripts and tests read the bound address from it.
        println!("listening on {scheme}://{addr}");
        tracing::info!(
            %addr,
            scheme,
            client_certificates = tls.as_ref().is_some_and(|t| t.requests_client_certificates()),
            services = runtime.snapshot().services().count(),
            "Serving."
        );
        let mut server_config = options.server;
        server_config.tls = tls;
        server::run(listener, runtime, server_config, server::signal::shutdown()).await;
        ExitCode::SUCCESS
    })
}

/// The log level from `FSS_LOG` (`error`, `warn`, `info`, `debug`, `trace`); default `info`.
fn log_level() -> tracing::Level {
    std::env::var("FSS_LOG")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(tracing::Level::INFO)
}
