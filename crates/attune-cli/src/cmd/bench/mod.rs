//! `attune bench ingest`: how many events per second the HTTP API stores durably.
//!
//! The real server (same router, same store code, same limits as `attune serve`) runs in this
//! process on an ephemeral 127.0.0.1 port; `--concurrency` keep-alive HTTP/1.1 connections POST
//! pre-serialized batches to it. Everything that is not the system under test happens before
//! the clock starts: generating realistic events (attune-testkit, unique `event_id`s) and
//! encoding them as JSON bodies. At the end the store must hold exactly `--events` events, so a
//! fast but lossy run cannot pass.
//!
//! **Caveat, printed with every report:** the load generator shares the machine's cores with the
//! server (and, for SQLite, with the database). The HTTP client work is small next to parsing,
//! validating and committing, but the numbers are a lower bound of what a dedicated server
//! would do.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use attune_core::model::TrainedModel as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use attune_server::api::event_to_json;
use attune_store::Store;
use attune_testkit::SyntheticConfig;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::serve;
use crate::cli::{BenchCommand, BenchIngestArgs};
use crate::config::Settings;

#[cfg(feature = "kafka")]
mod kafka;
mod retention;
mod tune;

pub fn run(command: BenchCommand, settings: &Settings) -> anyhow::Result<ExitCode> {
    match command {
        BenchCommand::Ingest(args) => ingest(args, settings),
        BenchCommand::Model(args) => model(args, settings),
        BenchCommand::Retention(args) => retention::run(args, settings),
        BenchCommand::Tune(args) => tune::run(args),
        #[cfg(feature = "kafka")]
        BenchCommand::Kafka(args) => kafka::run(args, settings),
        #[cfg(not(feature = "kafka"))]
        BenchCommand::Kafka(_) => Err(crate::ingest::not_built()),
    }
}

/// `attune bench model`: a registered, active model on the synthetic matrix, so the serving
/// path can be load-tested at a realistic size without loading millions of events first.
/// User and item ids are `u{n}` and `i{n}`; the app has no catalog (every item available).
fn model(args: crate::cli::BenchModelArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    use attune_artifact::DataSnapshot;
    use attune_core::model::spec::{ItemSequences, Spec, TrainingSet};
    use attune_core::sparse::{CsrBuilder, Interner};
    use attune_pipeline::publish::{self, ModelFile};

    let spec: Spec = args
        .algorithm
        .parse()
        .with_context(|| format!("invalid --algorithm {:?}", args.algorithm))?;
    let topk = settings.serving.to_topk()?;
    let store = super::serve::open_configured_store(settings)?;
    let app = args.app.app.as_str();
    store.create_app(app)?;
    let started = std::time::Instant::now();
    let triples = attune_testkit::interactions(args.users, args.items, args.nnz, 42);
    // Zero-padded ids sort like their numbers, so interned indices are the generator's.
    let width_u = args.users.to_string().len();
    let width_i = args.items.to_string().len();
    let users = Interner::sorted((0..args.users).map(|u| format!("u{u:0width_u$}")));
    let items = Interner::sorted((0..args.items).map(|i| format!("i{i:0width_i$}")));
    let mut b = CsrBuilder::with_capacity(triples.len());
    for &(u, i, w) in &triples {
        b.push(u, i, w)?;
    }
    let history = b.build(args.users as usize, args.items as usize)?;
    let mut training = TrainingSet::new(history.clone());
    // The generator has no clock: each user's items in generation order stand in for their
    // timeline (order-aware models need one). Transitions then carry no taste signal, but they
    // have the size and shape (`neighbours` successors per item) that serving pays for.
    let timed = triples.iter().enumerate();
    let timed = timed.map(|(k, &(u, i, _))| (u, k as i64, i)).collect();
    training.sequences = Some(ItemSequences::from_timed(args.users as usize, timed));
    drop(triples);
    let generated = started.elapsed().as_secs_f64();
    let fitted = spec.fit(&training)?;
    let fit_secs = started.elapsed().as_secs_f64() - generated;
    let file = ModelFile {
        fitted: &fitted,
        users: &users,
        items: &items,
        history: &history,
        data: DataSnapshot {
            app: app.to_string(),
            users: u64::from(args.users),
            items: u64::from(args.items),
            interactions: history.nnz() as u64,
            first_event: None,
            last_event: None,
            cleaning: None,
        },
        metrics: Default::default(),
        created: chrono::Utc::now(),
        graph: None,
    };
    let registered = publish::register(&*store, &settings.data_dir, app, &file, &topk, &|m| {
        println!("{m}")
    })?;
    let version = registered.version;
    // Activated as every activation is: through the engine, which verifies the file first.
    crate::serving::engine(settings, store)?.activate(app, version)?;
    println!(
        "app {app:?}: v{version:04} {} on {} users x {} items x {} interactions (generate {generated:.1} s, fit {fit_secs:.1} s), active",
        fitted.spec(),
        args.users,
        args.items,
        history.nnz()
    );
    Ok(ExitCode::SUCCESS)
}

/// The result of one `bench ingest` run (also its `--json` form).
#[derive(Debug, Serialize)]
struct IngestReport {
    /// `sqlite` or `postgres`.
    backend: &'static str,
    /// Where the events went (a temp file, or the `--store` URL).
    store: String,
    /// The app the run wrote to.
    app: String,
    events: usize,
    batch: usize,
    batches: usize,
    concurrency: usize,
    /// Cores the server and the load generator shared.
    cores: usize,
    wall_secs: f64,
    events_per_sec: f64,
    batches_per_sec: f64,
    latency_p50_ms: f64,
    latency_p99_ms: f64,
    latency_max_ms: f64,
    /// Events the store holds in `app` after the run (must equal `events`).
    stored_events: u64,
    /// Seconds spent generating and encoding the bodies (not timed).
    prepare_secs: f64,
    /// Bytes of JSON sent.
    body_bytes: usize,
    date: String,
    note: &'static str,
}

const NOTE: &str = "server and load generator run in one process and share the cores";

/// The part of an ingest answer the benchmark checks.
#[derive(Deserialize)]
struct IngestAnswer {
    accepted: usize,
    duplicates: usize,
    rejected: usize,
}

fn ingest(args: BenchIngestArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.events > 0, "--events must be at least 1");
    anyhow::ensure!(args.concurrency > 0, "--concurrency must be at least 1");
    anyhow::ensure!(
        (1..=settings.server.max_batch_events).contains(&args.batch),
        "--batch must be between 1 and server.max_batch_events ({})",
        settings.server.max_batch_events
    );

    // A fresh, uniquely named app: repeated runs against one PostgreSQL never collide.
    let app = format!(
        "bench-{}-{}",
        chrono::Utc::now().format("%Y%m%d%H%M%S"),
        std::process::id()
    );
    let (store, store_label, _tmp) = match &args.store {
        Some(url) => {
            let store =
                attune_store::open(url).with_context(|| format!("cannot open store {url}"))?;
            (Arc::<dyn Store>::from(store), url.clone(), None)
        }
        None => {
            let dir = tempfile::Builder::new()
                .prefix("attune-bench-")
                .tempdir()
                .context("cannot create a temporary directory")?;
            let path = dir.path().join("attune.db");
            let store = attune_store::sqlite::SqliteStore::open(&path)
                .with_context(|| format!("cannot open store {}", path.display()))?;
            (
                Arc::new(store) as Arc<dyn Store>,
                format!("sqlite:{} (temporary)", path.display()),
                Some(dir),
            )
        }
    };
    store
        .create_app(&app)
        .with_context(|| format!("cannot create app {app}"))?;

    let prep = Instant::now();
    let bodies = bodies(args.events, args.batch);
    let body_bytes = bodies.iter().map(Bytes::len).sum();
    let prepare_secs = prep.elapsed().as_secs_f64();
    eprintln!(
        "prepared {} events in {} batches ({:.1} MB of JSON) in {prepare_secs:.1} s; sending over {} connections",
        args.events,
        bodies.len(),
        body_bytes as f64 / 1e6,
        args.concurrency
    );

    let runtime = serve::runtime()?;
    let (wall, mut latencies) = runtime.block_on(drive(
        store.clone(),
        settings,
        &app,
        bodies,
        args.concurrency,
    ))?;

    let stored = store.counts(&app)?.events;
    latencies.sort_unstable();
    let n_batches = latencies.len();
    let wall_secs = wall.as_secs_f64();
    let report = IngestReport {
        backend: store.backend(),
        store: store_label,
        app,
        events: args.events,
        batch: args.batch,
        batches: n_batches,
        concurrency: args.concurrency,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        wall_secs,
        events_per_sec: args.events as f64 / wall_secs,
        batches_per_sec: n_batches as f64 / wall_secs,
        latency_p50_ms: percentile_ms(&latencies, 0.50),
        latency_p99_ms: percentile_ms(&latencies, 0.99),
        latency_max_ms: latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1e3),
        stored_events: stored,
        prepare_secs,
        body_bytes,
        date: chrono::Utc::now().format("%Y-%m-%d").to_string(),
        note: NOTE,
    };
    print_table(&report)?;
    if args.store.is_some() {
        eprintln!(
            "note: the {} events stay in app {} of {}; use a scratch database or schema for repeated runs",
            report.stored_events, report.app, report.store
        );
    }
    if let Some(path) = &args.json {
        write_json(path, &report)?;
    }
    anyhow::ensure!(
        stored == args.events as u64,
        "verification failed: the store holds {stored} events in app {}, expected {}",
        report.app,
        args.events
    );
    Ok(ExitCode::SUCCESS)
}

/// Realistic events (a synthetic shop's log: sessions, funnels, bots, double submits, each with
/// a unique `event_id`) encoded as JSON array bodies of `batch` events.
pub(super) fn bodies(n_events: usize, batch: usize) -> Vec<Bytes> {
    let config = SyntheticConfig {
        n_users: (n_events / 50).clamp(100, 200_000),
        n_items: (n_events / 200).clamp(100, 50_000),
        n_events,
        n_categories: 12,
        seed: 7,
        bot_users: if n_events >= 10_000 { 2 } else { 0 },
        ..SyntheticConfig::default()
    };
    let events = attune_testkit::generate(&config).events;
    assert_eq!(
        events.len(),
        n_events,
        "the generator cuts the log to n_events"
    );
    events
        .chunks(batch)
        .map(|chunk| {
            let array = Value::Array(chunk.iter().map(event_to_json).collect());
            Bytes::from(serde_json::to_vec(&array).expect("JSON values always serialize"))
        })
        .collect()
}

/// Start the server, send every body over `concurrency` connections, stop the server.
/// Returns the wall time of the sending phase and each batch's latency.
pub(super) async fn drive(
    store: Arc<dyn Store>,
    settings: &Settings,
    app: &str,
    bodies: Vec<Bytes>,
    concurrency: usize,
) -> anyhow::Result<(Duration, Vec<Duration>)> {
    let listener = serve::bind_listener("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let config = serve::server_config(settings);
    let state =
        tokio::task::spawn_blocking(move || attune_server::AppState::new(store, config)).await?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(attune_server::serve(listener, state, async {
        let _ = stop_rx.await;
    }));

    let bodies = Arc::new(bodies);
    let next = Arc::new(AtomicUsize::new(0));
    // Connect every client before the clock starts.
    let mut senders = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        senders.push(connect(addr).await?);
    }

    let start = Instant::now();
    let mut clients = Vec::with_capacity(concurrency);
    for mut sender in senders {
        let (bodies, next, app) = (bodies.clone(), next.clone(), app.to_string());
        clients.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(body) = bodies.get(i) else { break };
                let (took, bytes) = post_batch(&mut sender, addr, &app, body, i).await?;
                latencies.push(took);
                let answer: IngestAnswer =
                    serde_json::from_slice(&bytes).context("unexpected ingest answer")?;
                anyhow::ensure!(
                    answer.duplicates == 0 && answer.rejected == 0,
                    "batch {i}: {} accepted, {} duplicates, {} rejected (expected all accepted)",
                    answer.accepted,
                    answer.duplicates,
                    answer.rejected
                );
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut latencies = Vec::with_capacity(bodies.len());
    for client in clients {
        latencies.extend(client.await??);
    }
    let wall = start.elapsed();
    let _ = stop_tx.send(());
    server.await??;
    Ok((wall, latencies))
}

/// A keep-alive HTTP/1.1 connection to the in-process server.
pub(super) async fn connect(
    addr: std::net::SocketAddr,
) -> anyhow::Result<hyper::client::conn::http1::SendRequest<Full<Bytes>>> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .context("HTTP handshake with the in-process server failed")?;
    tokio::spawn(conn);
    Ok(sender)
}

/// POST batch `i` to `/v1/events` of `app`; its latency and the answer's body. A non-2xx
/// answer is an error naming the batch.
pub(super) async fn post_batch(
    sender: &mut hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    addr: std::net::SocketAddr,
    app: &str,
    body: &Bytes,
    i: usize,
) -> anyhow::Result<(Duration, Bytes)> {
    let req = hyper::Request::post(format!("http://{addr}/v1/events"))
        .header(hyper::header::HOST, addr.to_string())
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .header("x-attune-app", app)
        .body(Full::new(body.clone()))?;
    let sent = Instant::now();
    sender.ready().await?;
    let res = sender.send_request(req).await?;
    let status = res.status();
    let bytes = res.into_body().collect().await?.to_bytes();
    let took = sent.elapsed();
    anyhow::ensure!(
        status.is_success(),
        "batch {i} failed with {status}: {}",
        String::from_utf8_lossy(&bytes)
    );
    Ok((took, bytes))
}

pub(super) fn percentile_ms(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    // Nearest rank.
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1e3
}

fn print_table(r: &IngestReport) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    let rows = [
        ("store", format!("{} ({})", r.backend, r.store)),
        ("app", r.app.clone()),
        (
            "events",
            format!("{} in {} batches of {}", r.events, r.batches, r.batch),
        ),
        ("connections", r.concurrency.to_string()),
        ("cores", format!("{} ({NOTE})", r.cores)),
        ("wall time", format!("{:.2} s", r.wall_secs)),
        ("events/s", format!("{:.0}", r.events_per_sec)),
        ("batches/s", format!("{:.1}", r.batches_per_sec)),
        ("batch latency p50", format!("{:.1} ms", r.latency_p50_ms)),
        ("batch latency p99", format!("{:.1} ms", r.latency_p99_ms)),
        ("batch latency max", format!("{:.1} ms", r.latency_max_ms)),
        (
            "verified",
            format!(
                "store holds {} events ({})",
                r.stored_events,
                if r.stored_events == r.events as u64 {
                    "ok"
                } else {
                    "MISMATCH"
                }
            ),
        ),
    ];
    writeln!(out, "Durable HTTP ingestion (POST /v1/events, JSON arrays)")?;
    for (k, v) in rows {
        writeln!(out, "  {k:<18} {v}")?;
    }
    out.flush()
}

fn write_json(path: &PathBuf, report: &IngestReport) -> anyhow::Result<()> {
    let mut text = serde_json::to_string_pretty(report)?;
    text.push('\n');
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}
