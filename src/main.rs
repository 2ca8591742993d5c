//! The `fss` binary: parse the command line, load the definitions, bind, serve.

use std::collections::BTreeSet;
use std::process::ExitCode;
use std::sync::Arc;

use fss::config::{self, Command, LogFormat};
use fss::definition::{self, Problems};
use fss::server;
use fss::server::tls::Tls;
use fss::{FolderLock, Runtime};

/// glibc arenas the binary's threads share. glibc gives every thread that allocates
/// while the others hold their arena a new one (up to 8 per core) and keeps their free
/// memory: after a burst of table loads on the blocking pool a server held 40 MiB it no
/// longer used. Two arenas keep contention low on the async workers.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MALLOC_ARENAS: libc::c_int = 2;

/// Allocations from this size up get their own mapping, returned to the OS when freed.
/// Fixed, because glibc otherwise raises the threshold to the largest block freed so far:
/// after the 19 MiB an Argon2 hash takes at start, every buffer below 19 MiB (the record
/// ring, upload blocks, big answers) would come from the heap and stay there.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MALLOC_MMAP_THRESHOLD: libc::c_int = 256 << 10;

/// Caps glibc's arenas at [`MALLOC_ARENAS`] and fixes [`MALLOC_MMAP_THRESHOLD`]; called first, before any thread exists.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn limit_arenas() {
    // SAFETY: mallopt only sets a tunable of glibc's allocator, and no other thread runs
    // yet that could be allocating while it changes.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, MALLOC_ARENAS);
        libc::mallopt(libc::M_MMAP_THRESHOLD, MALLOC_MMAP_THRESHOLD);
    }
}

/// Other allocators keep their own defaults.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_arenas() {}

/// How often the heap's free memory goes back to the OS.
const TRIM_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Every [`TRIM_EVERY`], hands the memory glibc holds free back to the OS: by itself it
/// returns only the top of a heap, so a burst (64 connections' buffers, a batch of 500
/// rows parsed) would leave the server at its high-water mark. `malloc_trim` on a heap
/// of a few MiB takes well under a millisecond, on a blocking thread.
async fn trim_heap_now_and_then() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code)]
    fn trim() {
        // SAFETY: malloc_trim takes glibc's own arena locks; it is safe to call from any
        // thread at any time.
        unsafe {
            libc::malloc_trim(0);
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    fn trim() {}
    let mut tick = tokio::time::interval(TRIM_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let _ = tokio::task::spawn_blocking(trim).await;
    }
}

/// Exit status for invalid definitions or usage (`EX_USAGE`).
const EX_USAGE: u8 = 64;

fn main() -> ExitCode {
    let options = match config::parse(std::env::args_os()) {
        Ok(Command::Serve(o)) => o,
        Ok(Command::Check { operations }) => return check(&operations),
        Err(e) => {
            // Help and version go to stdout and are not failures; every other clap error
            // is a usage error (EX_USAGE rather than clap's 2), printed as clap prints it.
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(EX_USAGE)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    limit_arenas();
    if let Err(e) = init_logs(options.log_format) {
        eprintln!("fss: {e}");
        return ExitCode::from(EX_USAGE);
    }

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
            report(&problems);
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
    rt.spawn(trim_heap_now_and_then());
    rt.block_on(async move {
        // Bound first: a port in use is reported at once, before the data folder, its
        // lock or any database is touched.
        let listener = match tokio::net::TcpListener::bind(options.listen).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("fss: cannot listen on {}: {e}", options.listen);
                return ExitCode::FAILURE;
            }
        };
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
            report(&problems);
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
        // The first line on stdout, once ready to serve: scripts and tests read the bound
        // address from it.
        println!("listening on {scheme}://{addr}");
        tracing::info!(
            %addr,
            scheme,
            client_certificates = tls.as_ref().is_some_and(|t| t.requests_client_certificates()),
            services = runtime.snapshot().services().count(),
            "Serving."
        );
        let options = *options;
        let mut server_config = options.server;
        server_config.tls = tls;
        server::run(listener, runtime, server_config, server::signal::shutdown()).await;
        ExitCode::SUCCESS
    })
}

/// `fss check`: the same checks `serve` makes before mounting, handlers included (the
/// binary registers none, so a definition naming one cannot be served by it).
fn check(operations: &std::path::Path) -> ExitCode {
    let checked =
        definition::load_dir(operations).and_then(|defs| fss::check(&defs).map(|()| defs));
    match checked {
        Ok(defs) => {
            match defs.len() {
                1 => println!("1 definition is valid"),
                n => println!("{n} definitions are valid"),
            }
            ExitCode::SUCCESS
        }
        Err(problems) => {
            report(&problems);
            ExitCode::from(EX_USAGE)
        }
    }
}

/// Every problem on a line of its own (`file:line:column: path: message`), then how many
/// in how many files: all of them at once, so that one run shows everything to fix.
fn report(problems: &Problems) {
    for p in &problems.0 {
        eprintln!("{p}");
    }
    let files: BTreeSet<&str> = problems.0.iter().map(|p| p.file.as_str()).collect();
    let n = problems.0.len();
    eprintln!(
        "fss: {n} problem{} in {} file{}",
        if n == 1 { "" } else { "s" },
        files.len(),
        if files.len() == 1 { "" } else { "s" }
    );
}

/// Logs to stderr (stdout carries only the `listening on` line), filtered by `FSS_LOG`,
/// else `RUST_LOG`, in `tracing-subscriber`'s `EnvFilter` syntax; `info` by default.
fn init_logs(format: LogFormat) -> Result<(), String> {
    use tracing_subscriber::EnvFilter;
    let (var, spec) = [config::ENV_LOG, "RUST_LOG"]
        .into_iter()
        .find_map(|var| {
            std::env::var(var)
                .ok()
                .filter(|v| !v.trim().is_empty())
                .map(|v| (var, v))
        })
        .unwrap_or(("the default", "info".to_owned()));
    let filter = EnvFilter::builder().parse(&spec).map_err(|e| {
        format!("{var}: '{spec}' is not a log filter such as info or fss=debug: {e}")
    })?;
    // Colours only for a person at a terminal: a log file or journald gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_env_filter(filter);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
    Ok(())
}
