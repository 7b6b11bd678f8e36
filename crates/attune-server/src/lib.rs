//! attune-server: the HTTP API of attune (axum on tokio).
//!
//! This is the only crate that knows HTTP, and (with [`api`]) the only one that knows the JSON
//! shape of events, items and users. It turns requests into calls on an
//! [`attune_store::Store`] and store results into JSON or RFC 7807 problems.
//!
//! - [`router`] builds the whole API over an [`AppState`]; tests drive it in-process with
//!   `tower::ServiceExt::oneshot`, the CLI runs it with [`serve`].
//! - [`api`]: wire DTOs and the JSON <-> core conversions, reused by the CLI's JSON-lines
//!   import and export.
//! - [`problem`]: the one error-code table and the problem+json renderer.
//! - [`auth`]: API keys with scopes; [`metrics`]: the Prometheus registry behind `/metrics`;
//!   [`CorsConfig`]: allowed browser origins. The OpenAPI document (`/v1/openapi.json`) is
//!   `openapi.json` beside this crate's `Cargo.toml`, checked against the route table by tests.
//! - Connection hygiene: [`serve`] caps connections and closes idle or half-sent ones
//!   (`listen.rs`, `watchdog.rs`); bodies and requests have time limits ([`Timeouts`]); keys
//!   and apps have rate limits ([`RateLimits`]). docs/operations.md says why each answers as
//!   it does.
//!
//! ```
//! use std::sync::Arc;
//! use attune_server::{router, AppState, ServerConfig};
//! use axum::http::{Request, StatusCode};
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> anyhow::Result<()> {
//! let dir = tempfile::tempdir()?;
//! let store = Arc::new(attune_store::sqlite::SqliteStore::open(dir.path().join("attune.db"))?);
//! let app = router(AppState::new(store, ServerConfig::default()));
//! let event = r#"{"type": "view", "user_id": "cust-1042", "item_id": "SKU-2040"}"#;
//! let req = Request::post("/v1/events")
//!     .header("content-type", "application/json")
//!     .body(axum::body::Body::from(event))?;
//! let res = app.oneshot(req).await?;
//! assert_eq!(res.status(), StatusCode::OK);
//! # Ok(())
//! # }
//! ```
//!
//! **API boundary:** every route is under `/v1` except `/health`, `/ready` and `/metrics`; the
//! app (tenant) is chosen by the `X-Attune-App` header (absent means `default`) and nothing of
//! one app is visible from another. Which routes need which API-key scope is declared in one
//! route table (see [`route_table`] and [`auth`]).
//!
//! **Invariants:** a 2xx answer to a write is sent only after the store returned `Ok` (which
//! means committed durably); a 4xx answer has changed nothing. (`POST /v1/events?partial=true`
//! answers 200: it stores the valid events and lists the rejected ones.) Store calls are blocking
//! and run on tokio's blocking pool, never on the async workers; so does decoding a batch, which
//! can take milliseconds. Event batches of concurrent requests are merged into shared
//! transactions by one writer thread (group commit, `ingest.rs`).
#![warn(missing_docs)]

use std::collections::HashSet;
use std::future::Future;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Instant;

use attune_core::event::EventRules;
use attune_store::{Store, DEFAULT_APP};
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

pub mod api;
pub mod auth;
mod cors;
mod extract;
mod impressions;
pub use impressions::ImpressionSettings;
mod ingest;
mod listen;
pub mod metrics;
mod openapi;
pub mod problem;
mod ratelimit;
mod routes;
pub mod streams;
mod timeouts;
mod watchdog;

pub use attune_pipeline::Pipeline;
pub use attune_serving::Serving;
pub use auth::{Access, ApiKeySpec, AuthConfig, Scope};
pub use cors::CorsConfig;
pub use openapi::DOCUMENT as OPENAPI_DOCUMENT;
pub use ratelimit::{Bucket, RateLimits};
pub use routes::RouteInfo;
pub use timeouts::Timeouts;

use metrics::Metrics;
use problem::Problem;

/// A configuration value the service cannot run with; `field` is the dotted config key
/// (`auth.keys[2].scopes`), so the operator knows what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct ConfigError {
    /// The dotted configuration key.
    pub field: String,
    /// What is wrong with its value.
    pub reason: String,
}

/// Every route of the API: method, path template and who may call it. The router is built
/// from the same table.
pub fn route_table() -> &'static [RouteInfo] {
    routes::infos()
}

/// Settings of the HTTP service. Limits protect memory and the store; every one that a client
/// can hit is named in the 413 problem it gets, so the operator knows which key to raise.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// Address to listen on (`host:port`); read by the binary, not by [`serve`], which is handed
    /// a bound listener.
    pub bind: String,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Most events in one `POST /v1/events`.
    pub max_batch_events: usize,
    /// Most items in one `POST /v1/items`.
    pub max_batch_items: usize,
    /// Reject unknown members (top level, `context`, `consent`) instead of ignoring them:
    /// a misspelt `item_ID` is then an error rather than a silently missing field.
    pub strict_fields: bool,
    /// The validation rules applied to every incoming event.
    pub event_rules: EventRules,
    /// API keys and whether they are required.
    pub auth: AuthConfig,
    /// Browser origins allowed to call the API (CORS); none by default.
    pub cors: CorsConfig,
    /// Header-read, body-read, idle and whole-request time limits.
    pub timeouts: Timeouts,
    /// Most client connections open at once; over it a connection is answered 503
    /// `overloaded` and closed (see `listen.rs`).
    pub max_connections: usize,
    /// Token buckets per API key (or anonymous client) and app; off by default.
    pub rate_limits: RateLimits,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
            max_body_bytes: 16 * 1024 * 1024,
            max_batch_events: 10_000,
            max_batch_items: 10_000,
            strict_fields: true,
            event_rules: EventRules::default(),
            auth: AuthConfig::default(),
            cors: CorsConfig::default(),
            timeouts: Timeouts::default(),
            max_connections: 512,
            rate_limits: RateLimits::default(),
        }
    }
}

/// What every handler shares: the store, the configuration and a cache of known app names.
///
/// Cloning is cheap (a few `Arc`s). Creating one starts the event writer thread, which ends
/// when the last clone is dropped.
#[derive(Clone)]
pub struct AppState {
    /// The durable state of every app.
    pub store: Arc<dyn Store>,
    /// The service settings.
    pub config: Arc<ServerConfig>,
    /// The Prometheus registry behind `/metrics`.
    pub metrics: Arc<Metrics>,
    /// Apps known to exist. Apps are never deleted, so a hit is always right; a miss asks the
    /// store (another replica may have created the app).
    apps: Arc<RwLock<HashSet<String>>>,
    /// Group-commit writer for events (see `ingest.rs`).
    ingester: ingest::Ingester,
    /// The serving engine (recommendations, models); `None`: the API serves data only.
    pub serving: Option<Arc<Serving>>,
    /// The training pipeline over that engine (`POST /v1/models/train`, jobs); `None`: no
    /// training on this server.
    pub pipeline: Option<Arc<Pipeline>>,
    /// Impressions of served lists.
    impressions: impressions::ImpressionLog,
    /// The `[monitor]` settings (the window and segments quality reports use).
    pub monitor: Arc<attune_monitor::MonitorConfig>,
    /// The alert rules this server's monitoring evaluates (`GET /v1/alerts/rules`).
    pub alert_rules: Arc<[attune_monitor::alerts::AlertRule]>,
    /// The rate-limit buckets (`ratelimit.rs`).
    limiter: Arc<ratelimit::Limiter>,
    /// The page `GET /demo` serves (`attune demo` sets it); `None`: that route is a 404.
    pub demo_page: Option<&'static str>,
    /// Stream sources run beside the API (`[ingest.kafka]`): in `/ready` and `/metrics`.
    pub streams: Arc<[Arc<dyn streams::StreamSource>]>,
    /// Where served lists, impressions and attributed outcomes are published (set once; the
    /// impression writer holds the same cell).
    pub publisher: Arc<std::sync::OnceLock<Arc<dyn streams::Publisher>>>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("backend", &self.store.backend())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Load every app's active version on a thread of its own (`Serving::load_all`), so a
/// server becomes ready without waiting for a first request per app.
fn start_loading(serving: &Arc<Serving>) {
    let serving = serving.clone();
    let spawned = std::thread::Builder::new()
        .name("attune-load".into())
        .spawn(move || {
            if let Err(e) = serving.load_all() {
                tracing::warn!(error = %e, "could not list the apps to load their models");
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "could not start loading models; they load on first use");
    }
}

impl AppState {
    /// Longest id accepted anywhere in a request (`limits.max_id_len`): bodies, paths and
    /// queries are held to the same limit as the validation of stored records.
    pub(crate) fn max_id_len(&self) -> usize {
        self.config.event_rules.limits.max_id_len
    }

    /// Wrap a store and a configuration, creating the `default` app.
    ///
    /// Creating the default app is a (short, idempotent) blocking store call; if it fails the
    /// failure is logged and [`serve`] tries again and reports it.
    pub fn new(store: Arc<dyn Store>, config: ServerConfig) -> Self {
        let metrics = Arc::new(Metrics::new(store.backend()));
        let ingester = ingest::Ingester::start(store.clone(), metrics.clone());
        let publisher: Arc<std::sync::OnceLock<Arc<dyn streams::Publisher>>> = Arc::default();
        let impressions = impressions::ImpressionLog::new(
            store.clone(),
            metrics.clone(),
            ImpressionSettings::default(),
            publisher.clone(),
        );
        let limiter = Arc::new(ratelimit::Limiter::new(config.rate_limits));
        let state = Self {
            store,
            limiter,
            config: Arc::new(config),
            metrics,
            apps: Arc::default(),
            impressions,
            ingester,
            serving: None,
            pipeline: None,
            monitor: Arc::default(),
            alert_rules: Arc::new([]),
            demo_page: None,
            streams: Arc::new([]),
            publisher,
        };
        match state.store.create_app(DEFAULT_APP) {
            Ok(()) => state.remember_app(DEFAULT_APP),
            Err(e) => tracing::warn!(error = %e, "could not create the default app"),
        }
        state
    }

    /// Serve recommendations and models with `serving`. Every app's active version starts
    /// loading in the background at once; `/ready` answers 200 only when they are loaded.
    pub fn with_serving(mut self, serving: Arc<Serving>) -> Self {
        start_loading(&serving);
        self.serving = Some(serving);
        self
    }

    /// Serve and train with `pipeline` (and the engine it publishes through); models load as
    /// in [`AppState::with_serving`].
    pub fn with_pipeline(mut self, pipeline: Arc<Pipeline>) -> Self {
        let serving = pipeline.engine().clone();
        start_loading(&serving);
        self.serving = Some(serving);
        self.pipeline = Some(pipeline);
        self
    }

    /// Monitoring settings (default: `MonitorConfig::default()`); its alert rules are the
    /// ones `GET /v1/alerts/rules` publishes.
    pub fn with_monitor(mut self, config: attune_monitor::MonitorConfig) -> Self {
        self.alert_rules = config.alerts.clone().into();
        self.monitor = Arc::new(config);
        self
    }

    /// Publish `rules` as the alert rules in force (`GET /v1/alerts/rules`). They are
    /// evaluated by the monitoring tick of the pipeline's scheduler, not by the server.
    pub fn with_alert_rules(mut self, rules: Vec<attune_monitor::alerts::AlertRule>) -> Self {
        self.alert_rules = rules.into();
        self
    }

    /// Whether and how served lists are logged as impression events (default: all, committed
    /// once a second; why: `impressions.rs`).
    pub fn with_impressions(mut self, settings: ImpressionSettings) -> Self {
        self.impressions = impressions::ImpressionLog::new(
            self.store.clone(),
            self.metrics.clone(),
            settings,
            self.publisher.clone(),
        );
        self
    }

    /// Serve `html` at `GET /demo` (the demo shop of `attune demo`, which loads the tracker
    /// from `/v1/tracker.js`).
    pub fn with_demo_page(mut self, html: &'static str) -> Self {
        self.demo_page = Some(html);
        self
    }

    /// Publish served lists, impressions and attributed outcomes to `publisher` (set once).
    pub fn with_publisher(self, publisher: Arc<dyn streams::Publisher>) -> Self {
        if self.publisher.set(publisher).is_err() {
            tracing::warn!("a publisher was set already; the second one is ignored");
        }
        self
    }

    /// Report `source` in `/ready` (not ready while its broker is unreachable) and its
    /// per-stage counts in `/metrics`.
    pub fn with_stream(mut self, source: Arc<dyn streams::StreamSource>) -> Self {
        let mut all: Vec<_> = self.streams.iter().cloned().collect();
        all.push(source);
        self.streams = all.into();
        self
    }

    fn remember_app(&self, app: &str) {
        self.apps
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(app.to_string());
    }

    /// Whether the app is known to exist, from the cache only (no store call).
    fn knows_app(&self, app: &str) -> bool {
        self.apps
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(app)
    }

    /// Whether the app exists: from the cache, else from the store (and then cached).
    async fn app_exists(&self, app: &str) -> Result<bool, Problem> {
        if self.knows_app(app) {
            return Ok(true);
        }
        let store = self.store.clone();
        let names = routes::blocking(move || Ok(store.list_apps()?)).await?;
        let mut cache = self.apps.write().unwrap_or_else(PoisonError::into_inner);
        cache.extend(names);
        Ok(cache.contains(app))
    }
}

/// The whole API over `state`: every route, the problem+json fallback, and the middleware,
/// outermost first: request log, metrics and problem rendering; the body-read and request
/// time limits (`timeouts.rs`); CORS (when origins are configured); API-key checks; rate
/// limits (`ratelimit.rs`, after the key is known). `Router::layer` wraps each route after
/// routing, so every layer sees the matched route template.
pub fn router(state: AppState) -> axum::Router {
    use axum::middleware::from_fn_with_state;
    let cors = state.config.cors.layer();
    let app = routes::routes()
        .layer(from_fn_with_state(state.clone(), ratelimit::limit_rate))
        .layer(from_fn_with_state(state.clone(), auth::authorize));
    let app = match cors {
        Some(cors) => app.layer(cors),
        None => app,
    };
    app.layer(from_fn_with_state(state.clone(), timeouts::limit_time))
        .layer(from_fn_with_state(state.clone(), log_and_render))
        .with_state(state)
}

/// Serve the API on `listener` until `shutdown` completes; requests in flight then finish
/// before this returns (no new connections are accepted).
///
/// Connections are held to `config.max_connections` and the header-read and idle timeouts
/// (`listen.rs`); see [`Timeouts`].
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || store.create_app(DEFAULT_APP)).await??;
    state.remember_app(DEFAULT_APP);
    let addr = listener.local_addr()?;
    // The binary announces the address once (at info); this line adds the backend for debugging.
    tracing::debug!(%addr, backend = state.store.backend(), "attune API listening");
    let auth = &state.config.auth;
    if !auth.required && !auth.keys().is_empty() {
        tracing::warn!(
            n_keys = auth.keys().len(),
            "API keys are configured but auth.required = false: requests without a key are allowed everything"
        );
    }
    let ingester = state.ingester.clone();
    let impressions = state.impressions.clone();
    let metrics = state.metrics.clone();
    let (timeouts, max_connections) = (state.config.timeouts, state.config.max_connections);
    listen::run(
        listener,
        router(state),
        metrics,
        timeouts,
        max_connections,
        shutdown,
    )
    .await;
    // Impressions still waiting for their timed commit are committed. Every answered request
    // is committed already; this also commits batches whose request went away while they
    // waited in the queue, before the process may exit.
    impressions.flush().await;
    ingester.flush().await;
    tracing::info!("attune API stopped");
    Ok(())
}

/// Outermost middleware: renders every error as problem+json with `instance` = the request
/// path, counts the request in the metrics (by matched route template), and logs it at DEBUG
/// (method, path, app, key, status, time).
async fn log_and_render(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let _in_flight = state.metrics.request_started();
    let method = req.method().clone();
    // Cheap clones (reference-counted), not copies: this runs on every request.
    let route = req.extensions().get::<MatchedPath>().cloned();
    let uri = req.uri().clone();
    let app = tracing::enabled!(tracing::Level::DEBUG).then(|| {
        req.headers()
            .get(problem::APP_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or(DEFAULT_APP)
            .to_string()
    });
    let path = uri.path();
    let res = problem::render(next.run(req).await, path);
    let status = res.status().as_u16();
    let took = start.elapsed();
    state.metrics.request_done(
        &method,
        route.as_ref().map(MatchedPath::as_str),
        status,
        took,
    );
    if let Some(app) = app {
        let key = res
            .extensions()
            .get::<auth::KeyName>()
            .map_or("-", |k| k.0.as_str());
        let micros = took.as_micros() as u64;
        tracing::debug!(%method, %path, %app, key, status, micros, "request");
    }
    res
}
