//! Prometheus metrics, served at `GET /metrics`.
//!
//! One [`Metrics`] per [`crate::AppState`] (no global recorder), so two servers in one process,
//! as in the tests, never mix their counts. Every metric the service exports is registered here,
//! under a name constant, and is changed only through a named method; so this file is the list
//! of what an operator can graph (`docs/api.md` repeats it with the labels).
//!
//! **Cardinality is bounded by construction:** the `route` label is the matched route template
//! (`/v1/items/{id}`), never the raw path, and `unmatched` for paths no route matches; `method`
//! is one of the standard methods or `other`; `app` values come only from apps that exist (an
//! unknown app is refused before anything is counted).
//!
//! Hooks for later parts are registered already and documented as such: cache lookups
//! ([`Metrics::cache_lookup`]), the active model version and training time
//! ([`Metrics::set_model`]) and degraded mode ([`Metrics::set_degraded`]). Until they are first
//! called they export nothing (a family without series is left out of the exposition).

use std::time::Duration;

use axum::http::Method;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

/// `attune_http_requests_total{method,route,status}`: answered requests.
pub const HTTP_REQUESTS: &str = "attune_http_requests";
/// `attune_http_request_duration_seconds{method,route}`: time to the response head.
pub const HTTP_DURATION: &str = "attune_http_request_duration_seconds";
/// `attune_http_requests_in_flight`: requests being handled now.
pub const HTTP_IN_FLIGHT: &str = "attune_http_requests_in_flight";
/// `attune_events_ingested_total{app,outcome}`: events by outcome (accepted, duplicate, rejected).
pub const EVENTS_INGESTED: &str = "attune_events_ingested";
/// `attune_ingest_commit_events`: events per group-commit transaction.
pub const COMMIT_EVENTS: &str = "attune_ingest_commit_events";
/// `attune_ingest_commit_requests`: requests merged into one group-commit transaction.
pub const COMMIT_REQUESTS: &str = "attune_ingest_commit_requests";
/// `attune_ingest_commit_duration_seconds`: time of one group-commit transaction.
pub const COMMIT_DURATION: &str = "attune_ingest_commit_duration_seconds";
/// `attune_build_info{version}`: always 1.
pub const BUILD: &str = "attune_build";
/// `attune_store_info{backend}`: always 1.
pub const STORE: &str = "attune_store";
/// Hook: `attune_cache_lookups_total{cache,outcome=hit|miss}` (hit ratio = hits / all).
pub const CACHE_LOOKUPS: &str = "attune_cache_lookups";
/// Hook: `attune_segment_lists_total{app,segment,model_version}`: lists served to users of a
/// segment when serving by segment is on (`[serving.segments]`; one series per segment value,
/// so keep the attribute a segment, not an id).
pub const SEGMENT_LISTS: &str = "attune_segment_lists";
/// `attune_stream_messages_total{source,stage}`: messages of a stream source (`[ingest.kafka]`)
/// by stage: received, written, duplicate, rejected, dead_lettered, committed.
pub const STREAM_MESSAGES: &str = "attune_stream_messages";
/// `attune_stream_connected{source}`: 1 while the source's broker answers.
pub const STREAM_CONNECTED: &str = "attune_stream_connected";
/// `attune_stream_commit_lag_seconds{source}`: produce-to-commit time of the newest committed
/// message.
pub const STREAM_COMMIT_LAG: &str = "attune_stream_commit_lag_seconds";
/// Hook: `attune_model_version{app,model}`: the active model version.
pub const MODEL_VERSION: &str = "attune_model_version";
/// Hook: `attune_model_trained_timestamp_seconds{app,model}` (age = `time() - value`).
pub const MODEL_TRAINED: &str = "attune_model_trained_timestamp_seconds";
/// Hook: `attune_degraded{app,reason}`: 1 while serving a fallback instead of the model.
pub const DEGRADED: &str = "attune_degraded";

/// `attune_serving_live_users{app}`: users with live state in memory.
pub const LIVE_USERS: &str = "attune_serving_live_users";
/// `attune_serving_events{kind}`: model versions loaded / refused (corrupt, missing,
/// incompatible), impressions dropped (queue full) since start; exact-scoring passes over the
/// item factors and the queries they scored, since the active versions were loaded
/// (`scored_queries / score_passes` is the batching of concurrent requests).
pub const SERVING_EVENTS: &str = "attune_serving_events";
/// `attune_store_bytes`: what the store occupies (`Store::size_bytes`), read at each scrape.
pub const STORE_BYTES: &str = "attune_store_bytes";
/// `attune_model_age_seconds{app,model}`: time since the active model was trained.
pub const MODEL_AGE: &str = "attune_model_age_seconds";
/// `attune_ann_recall_at_10{app}`: recall@10 of the approximate index against the exact
/// scan, measured when the active version was loaded (absent while serving is exact).
pub const ANN_RECALL: &str = "attune_ann_recall_at_10";
/// `attune_training_jobs{app,state}`: training jobs of this process: running now, and
/// finished since start by outcome (`succeeded`, `failed`, `panicked`: a failed job whose
/// training panicked, also counted in `failed`).
pub const TRAINING_JOBS: &str = "attune_training_jobs";
/// `attune_quality{app,metric,group,key}`: the online quality of served lists over the
/// monitoring window, as this replica's monitoring tick last computed it (docs/monitoring.md):
/// `group` is `all` or the labels' names (`model_version`, `source`, `experiment,variant`,
/// `segment`), `key` their values.
pub const QUALITY: &str = "attune_quality";

/// `attune_http_accept_errors_total`: failed `accept` calls other than a client that went
/// away (`EMFILE` "Too many open files", `ENFILE`, `ENOMEM`, ...); each is followed by a short
/// pause (`listen.rs`). Exported from the start, at 0.
pub const ACCEPT_ERRORS: &str = "attune_http_accept_errors";
/// `attune_http_connections_open`: client connections open now (at most
/// `server.max_connections`).
pub const CONNECTIONS_OPEN: &str = "attune_http_connections_open";
/// `attune_http_connections_rejected_total`: connections over `server.max_connections`,
/// answered 503 `overloaded` and closed.
pub const CONNECTIONS_REJECTED: &str = "attune_http_connections_rejected";
/// `attune_http_connection_timeouts_total{phase}`: connections closed without an answer by
/// the idle (`phase="idle"`) or header-read (`phase="header"`) timeout.
pub const CONNECTION_TIMEOUTS: &str = "attune_http_connection_timeouts";
/// `attune_rate_limited_total{class,app,key}`: requests answered 429 by `server.rate_limits`
/// (`class` ingest or read, `app` an existing app or `-`, `key` the key's name or
/// `anonymous`).
pub const RATE_LIMITED: &str = "attune_rate_limited";

/// Latency buckets (seconds): 0.5 ms to 10 s.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Size buckets (events or requests per transaction): 1 to 20,000.
const SIZE_BUCKETS: [f64; 12] = [
    1.0, 2.0, 5.0, 10.0, 50.0, 100.0, 500.0, 1000.0, 2000.0, 5000.0, 10000.0, 20000.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct IngestLabels {
    app: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    cache: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SegmentLabels {
    app: String,
    segment: String,
    model_version: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StreamLabels {
    source: &'static str,
    stage: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceLabels {
    source: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModelLabels {
    app: String,
    model: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QualityLabels {
    app: String,
    metric: String,
    group: String,
    key: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AppLabels {
    app: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PhaseLabels {
    phase: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RateLimitLabels {
    class: &'static str,
    app: String,
    key: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DegradedLabels {
    app: String,
    reason: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// The label value of a method: the standard ones by name, anything else `other`.
fn method_label(m: &Method) -> &'static str {
    const KNOWN: [(Method, &str); 9] = [
        (Method::GET, "GET"),
        (Method::POST, "POST"),
        (Method::PUT, "PUT"),
        (Method::DELETE, "DELETE"),
        (Method::HEAD, "HEAD"),
        (Method::OPTIONS, "OPTIONS"),
        (Method::PATCH, "PATCH"),
        (Method::CONNECT, "CONNECT"),
        (Method::TRACE, "TRACE"),
    ];
    KNOWN
        .iter()
        .find(|(k, _)| k == m)
        .map_or("other", |(_, name)| name)
}

/// Keeps a request counted in `attune_http_requests_in_flight` while alive.
#[derive(Debug)]
pub struct InFlight(Gauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Keeps a connection counted in `attune_http_connections_open` while alive.
#[derive(Debug)]
pub struct OpenConnection(Gauge);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// How an ingested event ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestOutcome {
    /// Newly stored.
    Accepted,
    /// Its `event_id` was already stored; nothing changed.
    Duplicate,
    /// Invalid: skipped (`?partial=true`) or failing its batch (atomic mode).
    Rejected,
}

impl IngestOutcome {
    fn as_str(self) -> &'static str {
        match self {
            IngestOutcome::Accepted => "accepted",
            IngestOutcome::Duplicate => "duplicate",
            IngestOutcome::Rejected => "rejected",
        }
    }
}

/// The registry and a handle on every metric in it. Handles are cheap `Arc`s inside, so
/// updating is lock-free for counters and a short mutex for histograms.
pub struct Metrics {
    registry: Registry,
    http_requests: Family<RequestLabels, Counter>,
    http_duration: HistogramFamily<RouteLabels>,
    http_in_flight: Gauge,
    events_ingested: Family<IngestLabels, Counter>,
    commit_events: Histogram,
    commit_requests: Histogram,
    commit_duration: Histogram,
    cache_lookups: Family<CacheLabels, Counter>,
    segment_lists: Family<SegmentLabels, Counter>,
    stream_messages: Family<StreamLabels, Counter>,
    stream_connected: Family<SourceLabels, Gauge>,
    stream_lag: Family<SourceLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    model_version: Family<ModelLabels, Gauge>,
    model_trained: Family<ModelLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    degraded: Family<DegradedLabels, Gauge>,
    live_users: Family<AppLabels, Gauge>,
    serving_events: Family<KindLabels, Gauge>,
    model_age: Family<ModelLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    ann_recall: Family<AppLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    training_jobs: Family<JobLabels, Gauge>,
    quality: Family<QualityLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    store_bytes: Gauge,
    accept_errors: Counter,
    connections_open: Gauge,
    connections_rejected: Counter,
    connection_timeouts: Family<PhaseLabels, Counter>,
    rate_limited: Family<RateLimitLabels, Counter>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    app: String,
    state: &'static str,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// Register every metric; `backend` is the store's name (`sqlite`, `postgres`).
    pub fn new(backend: &str) -> Self {
        let mut registry = Registry::default();
        let http_requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            HTTP_REQUESTS,
            "HTTP requests answered, by method, matched route template and status",
            http_requests.clone(),
        );
        let http_duration: HistogramFamily<RouteLabels> =
            Family::new_with_constructor(latency_histogram);
        registry.register(
            HTTP_DURATION,
            "Time from request to response head, by method and matched route template",
            http_duration.clone(),
        );
        let http_in_flight = Gauge::default();
        registry.register(
            HTTP_IN_FLIGHT,
            "HTTP requests being handled",
            http_in_flight.clone(),
        );
        let events_ingested = Family::<IngestLabels, Counter>::default();
        registry.register(
            EVENTS_INGESTED,
            "Events received by POST /v1/events, by app and outcome (accepted, duplicate, rejected)",
            events_ingested.clone(),
        );
        let commit_events = Histogram::new(SIZE_BUCKETS);
        registry.register(
            COMMIT_EVENTS,
            "Events written per group-commit transaction",
            commit_events.clone(),
        );
        let commit_requests = Histogram::new(SIZE_BUCKETS);
        registry.register(
            COMMIT_REQUESTS,
            "Ingest requests merged into one group-commit transaction",
            commit_requests.clone(),
        );
        let commit_duration = latency_histogram();
        registry.register(
            COMMIT_DURATION,
            "Duration of one group-commit transaction (insert and durable commit)",
            commit_duration.clone(),
        );
        registry.register(
            BUILD,
            "The attune version serving",
            Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
        );
        registry.register(
            STORE,
            "The store backend",
            Info::new(vec![("backend", backend.to_string())]),
        );
        let cache_lookups = Family::<CacheLabels, Counter>::default();
        registry.register(
            CACHE_LOOKUPS,
            "Cache lookups by cache and outcome (hit, miss)",
            cache_lookups.clone(),
        );
        let segment_lists = Family::<SegmentLabels, Counter>::default();
        registry.register(
            SEGMENT_LISTS,
            "Lists served by user segment and the model version that served them",
            segment_lists.clone(),
        );
        let stream_messages = Family::<StreamLabels, Counter>::default();
        registry.register(
            STREAM_MESSAGES,
            "Messages of a stream source by stage (received, written, duplicate, rejected, dead_lettered, committed)",
            stream_messages.clone(),
        );
        let stream_connected = Family::<SourceLabels, Gauge>::default();
        registry.register(
            STREAM_CONNECTED,
            "1 while the stream source's broker answers",
            stream_connected.clone(),
        );
        let stream_lag =
            Family::<SourceLabels, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
        registry.register(
            STREAM_COMMIT_LAG,
            "Produce-to-commit time of the newest committed message, in seconds",
            stream_lag.clone(),
        );
        let model_version = Family::<ModelLabels, Gauge>::default();
        registry.register(
            MODEL_VERSION,
            "The active model version, by app and model",
            model_version.clone(),
        );
        let model_trained = Family::default();
        registry.register(
            MODEL_TRAINED,
            "When the active model was trained (Unix seconds); age = time() - value",
            model_trained.clone(),
        );
        let degraded = Family::<DegradedLabels, Gauge>::default();
        registry.register(
            DEGRADED,
            "1 while an app is served by a fallback instead of its model, by reason",
            degraded.clone(),
        );
        let live_users = Family::<AppLabels, Gauge>::default();
        registry.register(
            LIVE_USERS,
            "Users whose live state (events since training) is held in memory, by app",
            live_users.clone(),
        );
        let serving_events = Family::<KindLabels, Gauge>::default();
        registry.register(
            SERVING_EVENTS,
            "Since start: model versions loaded and refused, impressions dropped (queue full) and cold-start lists not logged (sampling); exact-scoring passes and the queries they scored",
            serving_events.clone(),
        );
        let store_bytes = Gauge::default();
        registry.register(
            STORE_BYTES,
            "Bytes the store occupies: SQLite's database file and WAL, or PostgreSQL's tables and indexes of this schema",
            store_bytes.clone(),
        );
        let model_age = Family::default();
        registry.register(
            MODEL_AGE,
            "Seconds since the active model was trained",
            model_age.clone(),
        );
        let ann_recall = Family::default();
        registry.register(
            ANN_RECALL,
            "Recall@10 of the approximate index against exact top-k on sampled training users, \
             measured when the active version was loaded",
            ann_recall.clone(),
        );
        let training_jobs = Family::<JobLabels, Gauge>::default();
        registry.register(
            TRAINING_JOBS,
            "Training jobs by app and state: running now, and succeeded, failed and panicked \
             since start",
            training_jobs.clone(),
        );
        let quality = Family::default();
        registry.register(
            QUALITY,
            "Online quality of served lists over the monitoring window (ctr, conversion, \
             coverage, diversity, novelty, popularity_bias, cold_start_share, latency, ...) by \
             app, metric and series",
            quality.clone(),
        );
        let accept_errors = Counter::default();
        registry.register(
            ACCEPT_ERRORS,
            "Failed accepts other than a client that went away (EMFILE: too many open files, \
             ENFILE, ENOMEM, ...), each followed by a short pause",
            accept_errors.clone(),
        );
        let connections_open = Gauge::default();
        registry.register(
            CONNECTIONS_OPEN,
            "Client connections open now",
            connections_open.clone(),
        );
        let connections_rejected = Counter::default();
        registry.register(
            CONNECTIONS_REJECTED,
            "Connections over server.max_connections, answered 503 overloaded and closed",
            connections_rejected.clone(),
        );
        let connection_timeouts = Family::<PhaseLabels, Counter>::default();
        registry.register(
            CONNECTION_TIMEOUTS,
            "Connections closed by the idle or the header-read timeout, by phase",
            connection_timeouts.clone(),
        );
        let rate_limited = Family::<RateLimitLabels, Counter>::default();
        registry.register(
            RATE_LIMITED,
            "Requests refused 429 by server.rate_limits, by class (ingest, read), app and key \
             (its name, or anonymous)",
            rate_limited.clone(),
        );
        Self {
            registry,
            accept_errors,
            connections_open,
            connections_rejected,
            connection_timeouts,
            rate_limited,
            training_jobs,
            quality,
            http_requests,
            http_duration,
            http_in_flight,
            events_ingested,
            commit_events,
            commit_requests,
            commit_duration,
            cache_lookups,
            segment_lists,
            stream_messages,
            stream_connected,
            stream_lag,
            model_version,
            model_trained,
            degraded,
            live_users,
            serving_events,
            model_age,
            ann_recall,
            store_bytes,
        }
    }

    /// The store's size, as just measured.
    pub fn set_store_bytes(&self, bytes: u64) {
        self.store_bytes
            .set(i64::try_from(bytes).unwrap_or(i64::MAX));
    }

    /// Read the serving engine's state into the gauges (called when `/metrics` is scraped).
    pub fn observe_serving(
        &self,
        serving: &attune_serving::Serving,
        impressions_dropped: u64,
        impressions_unsampled: u64,
    ) {
        use std::sync::atomic::Ordering::Relaxed;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        for a in serving.apps() {
            let Some(snap) = a.snapshot() else { continue };
            let algorithm = snap.model.header.meta.algorithm.clone();
            let trained = chrono::DateTime::parse_from_rfc3339(&snap.model.header.meta.created_at)
                .map_or(0.0, |t| t.timestamp() as f64);
            self.set_model(&a.app, &algorithm, i64::from(snap.version), trained);
            self.model_age
                .get_or_create(&ModelLabels {
                    app: a.app.clone(),
                    model: algorithm,
                })
                .set((now - trained).max(0.0));
            self.live_users
                .get_or_create(&AppLabels { app: a.app.clone() })
                .set(snap.live_users() as i64);
            let app = AppLabels { app: a.app.clone() };
            match &snap.index {
                Some(index) => {
                    self.ann_recall.get_or_create(&app).set(index.recall().mean);
                }
                None => {
                    self.ann_recall.remove(&app);
                }
            }
        }
        let (mut passes, mut queries) = (0, 0);
        for a in serving.apps() {
            if let Some(snap) = a.snapshot() {
                let (p, q) = snap.score_batching();
                passes += p;
                queries += q;
            }
        }
        // An app whose active version was refused and that serves nothing from it:
        // `attune_degraded{app,reason="model_refused"}` (also named by `/ready`).
        for a in serving.apps() {
            let refused = a
                .refused()
                .is_some_and(|(v, _)| a.snapshot().is_none_or(|s| s.version != v));
            self.set_degraded(&a.app, "model_refused", refused);
        }
        let stats = &serving.stats;
        if let Some(name) = serving.shared_name() {
            for a in serving.apps() {
                self.set_degraded(&a.app, name, stats.is_degraded());
            }
        }
        for (kind, v) in [
            ("shared_hits", stats.shared_hits.load(Relaxed)),
            ("shared_errors", stats.shared_errors.load(Relaxed)),
            ("model_loads", stats.loads.load(Relaxed)),
            ("model_refused", stats.refused.load(Relaxed)),
            ("impressions_dropped", impressions_dropped),
            ("impressions_unsampled", impressions_unsampled),
            ("score_passes", passes),
            ("scored_queries", queries),
        ] {
            self.serving_events
                .get_or_create(&KindLabels { kind })
                .set(v as i64);
        }
    }

    /// Read a stream source's counts into its series (called when `/metrics` is scraped). The
    /// source's totals only grow, so each counter is moved up to its total.
    pub fn observe_stream(&self, source: &'static str, status: &crate::streams::StreamStatus) {
        for (stage, total) in status.stages() {
            let counter = self
                .stream_messages
                .get_or_create(&StreamLabels { source, stage });
            let seen = counter.get();
            if total > seen {
                counter.inc_by(total - seen);
            }
        }
        self.stream_connected
            .get_or_create(&SourceLabels { source })
            .set(i64::from(status.connected));
        self.stream_lag
            .get_or_create(&SourceLabels { source })
            .set(status.commit_lag_secs);
    }

    /// Read the training jobs' counts into the gauges (called when `/metrics` is scraped).
    pub fn observe_jobs(&self, jobs: &attune_pipeline::Jobs) {
        for (app, c) in jobs.counts() {
            for (state, v) in [
                ("running", c.running),
                ("succeeded", c.succeeded),
                ("failed", c.failed),
                ("panicked", c.panicked),
            ] {
                self.training_jobs
                    .get_or_create(&JobLabels {
                        app: app.clone(),
                        state,
                    })
                    .set(v as i64);
            }
        }
    }

    /// Read the latest quality figures into the gauges (called when `/metrics` is scraped);
    /// series no longer computed disappear.
    pub fn observe_quality(&self, latest: &attune_monitor::quality::Latest) {
        self.quality.clear();
        for (app, points) in latest.snapshot() {
            for p in points {
                let (group, key) = if p.labels.is_empty() {
                    ("all".to_string(), String::new())
                } else {
                    let names: Vec<&str> = p.labels.keys().map(String::as_str).collect();
                    let values: Vec<&str> = p.labels.values().map(String::as_str).collect();
                    (names.join(","), values.join(","))
                };
                self.quality
                    .get_or_create(&QualityLabels {
                        app: app.clone(),
                        metric: p.metric,
                        group,
                        key,
                    })
                    .set(p.value);
            }
        }
    }

    /// A request started: counted in flight until the guard is dropped (also when the client
    /// goes away and the request is cancelled).
    pub fn request_started(&self) -> InFlight {
        self.http_in_flight.inc();
        InFlight(self.http_in_flight.clone())
    }

    /// A request was answered. `route` is the matched template, `None` when no route matched.
    pub fn request_done(&self, method: &Method, route: Option<&str>, status: u16, took: Duration) {
        let method = method_label(method);
        let labels = RouteLabels {
            method,
            route: route.unwrap_or("unmatched").to_string(),
        };
        self.http_duration
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
        self.http_requests
            .get_or_create(&RequestLabels {
                method,
                route: labels.route,
                status,
            })
            .inc();
    }

    /// An `accept` failed (not a client that went away).
    pub fn accept_error(&self) {
        self.accept_errors.inc();
    }

    /// A connection was accepted within the cap: counted open until the guard is dropped.
    pub fn connection_opened(&self) -> OpenConnection {
        self.connections_open.inc();
        OpenConnection(self.connections_open.clone())
    }

    /// A connection over `server.max_connections` was refused.
    pub fn connection_rejected(&self) {
        self.connections_rejected.inc();
    }

    /// A connection was closed by the `phase` (`idle`, `header`) timeout.
    pub fn connection_timed_out(&self, phase: &'static str) {
        self.connection_timeouts
            .get_or_create(&PhaseLabels { phase })
            .inc();
    }

    /// A request of `class` (`ingest`, `read`) by `key` to `app` was refused 429.
    pub fn rate_limited(&self, class: &'static str, app: &str, key: &str) {
        self.rate_limited
            .get_or_create(&RateLimitLabels {
                class,
                app: app.to_string(),
                key: key.to_string(),
            })
            .inc();
    }

    /// `n` events of `app` ended with `outcome`.
    pub fn events_ingested(&self, app: &str, outcome: IngestOutcome, n: usize) {
        if n == 0 {
            return;
        }
        self.events_ingested
            .get_or_create(&IngestLabels {
                app: app.to_string(),
                outcome: outcome.as_str(),
            })
            .inc_by(n as u64);
    }

    /// One group-commit transaction wrote `n_events` events of `n_requests` requests in `took`.
    pub fn commit(&self, n_events: usize, n_requests: usize, took: Duration) {
        self.commit_events.observe(n_events as f64);
        self.commit_requests.observe(n_requests as f64);
        self.commit_duration.observe(took.as_secs_f64());
    }

    /// Hook: one lookup in `cache` (`recommendations`, `user_state`, ...), hit or miss.
    pub fn cache_lookup(&self, cache: &str, hit: bool) {
        self.cache_lookups
            .get_or_create(&CacheLabels {
                cache: cache.to_string(),
                outcome: if hit { "hit" } else { "miss" },
            })
            .inc();
    }

    /// Hook: a list served to a user of `segment` by `model_version`.
    pub fn segment_list(&self, app: &str, segment: &str, model_version: Option<u32>) {
        self.segment_lists
            .get_or_create(&SegmentLabels {
                app: app.to_string(),
                segment: segment.to_string(),
                model_version: model_version.map_or_else(|| "none".into(), |v| v.to_string()),
            })
            .inc();
    }

    /// Hook: `app` now serves `model` at `version`, trained at `trained_unix_secs`.
    pub fn set_model(&self, app: &str, model: &str, version: i64, trained_unix_secs: f64) {
        let labels = ModelLabels {
            app: app.to_string(),
            model: model.to_string(),
        };
        self.model_version.get_or_create(&labels).set(version);
        self.model_trained
            .get_or_create(&labels)
            .set(trained_unix_secs);
    }

    /// Hook: `app` is (or is no longer) served by a fallback, for `reason`.
    pub fn set_degraded(&self, app: &str, reason: &str, degraded: bool) {
        self.degraded
            .get_or_create(&DegradedLabels {
                app: app.to_string(),
                reason: reason.to_string(),
            })
            .set(i64::from(degraded));
    }

    /// The Prometheus text format (version 0.0.4).
    pub fn render_prometheus(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }

    /// The OpenMetrics 1.0 text format (ends with `# EOF`).
    pub fn render_openmetrics(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}

/// `Content-Type` of [`Metrics::render_prometheus`].
pub const PROMETHEUS_CONTENT_TYPE: &str =
    prometheus_client::encoding::prometheus_text::CONTENT_TYPE;
/// `Content-Type` of [`Metrics::render_openmetrics`].
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_histograms_render_with_their_labels() {
        let m = Metrics::new("sqlite");
        let guard = m.request_started();
        assert!(m
            .render_prometheus()
            .contains("attune_http_requests_in_flight 1\n"));
        m.request_done(
            &Method::GET,
            Some("/v1/items/{id}"),
            200,
            Duration::from_millis(3),
        );
        drop(guard);
        m.request_done(
            &Method::from_bytes(b"BREW").unwrap(),
            None,
            405,
            Duration::from_micros(100),
        );
        m.events_ingested("shop", IngestOutcome::Accepted, 3);
        m.events_ingested("shop", IngestOutcome::Duplicate, 0);
        m.commit(3, 1, Duration::from_millis(2));
        let text = m.render_prometheus();
        for line in [
            "attune_http_requests_total{method=\"GET\",route=\"/v1/items/{id}\",status=\"200\"} 1",
            "attune_http_requests_total{method=\"other\",route=\"unmatched\",status=\"405\"} 1",
            "attune_http_request_duration_seconds_bucket{method=\"GET\",route=\"/v1/items/{id}\",le=\"0.005\"} 1",
            "attune_http_request_duration_seconds_bucket{method=\"GET\",route=\"/v1/items/{id}\",le=\"0.0025\"} 0",
            "attune_http_requests_in_flight 0",
            "attune_events_ingested_total{app=\"shop\",outcome=\"accepted\"} 3",
            "attune_ingest_commit_events_count 1",
            "attune_ingest_commit_events_sum 3.0",
            "attune_build_info{version=\"0.1.0\"} 1",
            "attune_store_info{backend=\"sqlite\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
        assert!(
            !text.contains("outcome=\"duplicate\""),
            "a zero count adds no series"
        );
        assert!(
            !text.contains("attune_cache_lookups"),
            "unused hooks export nothing"
        );
        assert!(m.render_openmetrics().ends_with("# EOF\n"));
    }

    #[test]
    fn hooks_export_their_values() {
        let m = Metrics::new("postgres");
        m.cache_lookup("recommendations", true);
        m.cache_lookup("recommendations", true);
        m.cache_lookup("recommendations", false);
        m.set_model("shop", "als", 7, 1_790_000_000.5);
        m.set_degraded("shop", "model_missing", true);
        let text = m.render_prometheus();
        for line in [
            "attune_cache_lookups_total{cache=\"recommendations\",outcome=\"hit\"} 2",
            "attune_cache_lookups_total{cache=\"recommendations\",outcome=\"miss\"} 1",
            "attune_model_version{app=\"shop\",model=\"als\"} 7",
            "attune_model_trained_timestamp_seconds{app=\"shop\",model=\"als\"} 1790000000.5",
            "attune_degraded{app=\"shop\",reason=\"model_missing\"} 1",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }
}
