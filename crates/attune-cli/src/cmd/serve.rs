//! `attune serve`: run the HTTP API until SIGINT or SIGTERM.
//!
//! The pieces (`open_configured_store`, `server_config`, `bind`, `serve_until_signal`) are shared
//! with `attune demo` and `attune bench`, so every way of starting the API starts it the same
//! way: same limits, same rules, same shutdown.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use attune_server::{AppState, ServerConfig};
use attune_store::Store;

use crate::cli::ServeArgs;
use crate::config::Settings;

pub fn run(args: ServeArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    let bind = args.bind.unwrap_or_else(|| settings.server.bind.clone());
    let store = open_configured_store(settings)?;
    let runtime = runtime()?;
    runtime.block_on(async {
        let listener = bind_listener(&bind).await?;
        serve_until_signal(listener, store, settings, |state| state).await
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Open the configured store. For the SQLite default the data directory is created first, so a
/// fresh install needs no setup; an explicit `sqlite:PATH` gets its parent created too.
pub fn open_configured_store(settings: &Settings) -> anyhow::Result<Arc<dyn Store>> {
    let url = settings.store_url();
    if let Some(path) = sqlite_path(&url) {
        if let Some(dir) = Path::new(path)
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create data directory {}", dir.display()))?;
        }
    }
    let store = attune_store::open(&url).with_context(|| format!("cannot open store {url}"))?;
    Ok(Arc::from(store))
}

/// The file path of a SQLite store URL; `None` for PostgreSQL.
fn sqlite_path(url: &str) -> Option<&str> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return None;
    }
    Some(
        url.strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url),
    )
}

/// The server's settings from the `[server]` (with `[server.rate_limits]`), `[auth]` and
/// `[events]` sections.
///
/// Keys and origins were checked when the settings were loaded (`Settings::load`), so they
/// convert here without a second error path.
pub fn server_config(settings: &Settings) -> ServerConfig {
    let s = &settings.server;
    ServerConfig {
        bind: s.bind.clone(),
        max_body_bytes: s.max_body_bytes,
        max_batch_events: s.max_batch_events,
        max_batch_items: s.max_batch_items,
        strict_fields: s.strict_fields,
        event_rules: settings.event_rules(),
        auth: settings
            .auth
            .to_server()
            .expect("auth keys are checked by Settings::load"),
        cors: s
            .cors()
            .expect("CORS origins are checked by Settings::load"),
        timeouts: s
            .timeouts()
            .expect("time limits are checked by Settings::load"),
        max_connections: s.max_connections,
        rate_limits: s
            .rate_limits()
            .expect("rate limits are checked by Settings::load"),
    }
}

/// A multi-thread runtime: async workers for HTTP, tokio's blocking pool for store calls.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("attune-worker")
        .build()
        .context("cannot start the async runtime")
}

/// Bind `addr`, naming it in the error (the usual failure is a port already in use).
pub async fn bind_listener(addr: &str) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))
}

/// Serve the API on `listener` until SIGINT (Ctrl-C) or SIGTERM; requests in flight finish
/// before this returns. `extend` adds to the configured state what only some commands serve
/// (`attune demo`'s page).
pub async fn serve_until_signal(
    listener: tokio::net::TcpListener,
    store: Arc<dyn Store>,
    settings: &Settings,
    extend: impl FnOnce(AppState) -> AppState,
) -> anyhow::Result<()> {
    let addr = listener.local_addr()?;
    // Registering the handlers before announcing the address means a signal sent by whoever
    // waits for that line is never lost to the default (terminating) disposition.
    let shutdown = shutdown_signal()?;
    let backend = store.backend();
    let state = extend(app_state(store, settings).await?);
    // `[ingest.kafka]`: the consumer and the replica fan-out, stopped when this returns.
    #[cfg(feature = "kafka")]
    let (state, _stream) = crate::stream::start_in_serve(settings, state)?;
    #[cfg(not(feature = "kafka"))]
    if settings.ingest.kafka.serves() || settings.ingest.rabbitmq.consume {
        return Err(crate::ingest::not_built());
    }
    // Registry polling, scheduled retraining and segment recomputation, until the server
    // stops (dropping it stops them).
    let schedule = crate::serving::schedule(settings)?;
    let _scheduler = state
        .pipeline
        .clone()
        .map(|p| attune_pipeline::schedule::Scheduler::start(p, schedule));
    tracing::info!(backend, "listening on http://{addr}");
    attune_server::serve(listener, state, shutdown).await
}

/// The full service state: store, limits, the serving engine and the pipeline over it.
pub async fn app_state(store: Arc<dyn Store>, settings: &Settings) -> anyhow::Result<AppState> {
    let config = server_config(settings);
    let pipeline = crate::serving::pipeline(settings, store.clone())?;
    let impressions = attune_server::ImpressionSettings {
        enabled: settings.serving.log_impressions,
        flush_every: Duration::from_millis(settings.serving.impression_flush_ms),
        cold_start_sample: settings.serving.impression_cold_start_sample,
    };
    let state = tokio::task::spawn_blocking(move || AppState::new(store, config)).await?;
    Ok(state
        .with_pipeline(pipeline)
        .with_impressions(impressions)
        .with_monitor(settings.monitor.clone()))
}

/// A future that completes on the first SIGINT or SIGTERM.
pub(crate) fn shutdown_signal(
) -> anyhow::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
        let mut int = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
        Ok(async move {
            let which = tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            };
            tracing::info!("{which} received: finishing requests in flight, then stopping");
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("Ctrl-C received: finishing requests in flight, then stopping");
        })
    }
}
