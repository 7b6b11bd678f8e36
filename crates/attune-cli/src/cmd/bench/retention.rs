//! `attune bench retention`: what a retention pass over a large backlog of expired
//! impressions costs concurrent ingestion.
//!
//! A fresh SQLite store is filled (untimed) with `--impressions` impressions 60 days old.
//! The real server runs in this process; 4 keep-alive connections POST batches of fresh
//! events at a fixed pace through three phases: `before` (no retention), `during` (a pass
//! with the default `[retention]` settings deletes every expired impression, on a thread at
//! background priority exactly as the scheduler runs it), and `after` (no retention, the
//! backlog gone). Reported: batch latency per phase, the pass's time and pages, and the
//! ratio of `during`'s p99 to the mean p99 of the two quiet phases. The run fails unless
//! every expired impression is gone and every ingested event is stored.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use attune_core::attribution::names;
use attune_core::event::{Event, EventType, PropValue, Properties};
use attune_core::time::Timestamp;
use attune_pipeline::retention::{self, RetentionConfig};
use attune_store::Store;
use hyper::body::Bytes;
use serde::Serialize;

use super::{bodies, connect, percentile_ms, post_batch};
use crate::cli::BenchRetentionArgs;
use crate::cmd::serve;
use crate::config::Settings;

const CONNECTIONS: usize = 4;
const DAY_MICROS: i64 = 86_400_000_000;

/// Latency of one phase.
#[derive(Debug, Serialize)]
struct Phase {
    name: &'static str,
    batches: usize,
    secs: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

#[derive(Debug, Serialize)]
struct Report {
    impressions: usize,
    fill_secs: f64,
    store_bytes_before: u64,
    store_bytes_after: u64,
    rate_batches_per_sec: u32,
    batch: usize,
    retention: RetentionConfig,
    pass_secs: f64,
    pass_pages: u64,
    deleted: u64,
    phases: Vec<Phase>,
    /// `during` p99 over the mean of `before` and `after` p99.
    p99_ratio: f64,
    stored_events: u64,
    date: String,
    note: &'static str,
}

/// Expired impressions as the server writes them: ten per list, with the list's id and
/// each item's position.
fn expired_impressions(n: usize, now_micros: i64) -> Vec<Event> {
    let at = now_micros - 60 * DAY_MICROS;
    (0..n)
        .map(|i| {
            let (list, position) = (i / 10, i % 10 + 1);
            let mut extra = BTreeMap::new();
            extra.insert(
                names::RECOMMENDATION_ID.to_string(),
                PropValue::Text(format!("r{list:08}")),
            );
            extra.insert(
                names::POSITION.to_string(),
                PropValue::Number(position as f64),
            );
            Event {
                event_id: format!("r{list:08}:{position}"),
                event_type: EventType::Impression,
                user_id: Some(format!("u{}", list % 100_000)),
                anonymous_id: None,
                item_id: Some(format!("i{}", (list * 7 + position * 131) % 50_000)),
                timestamp: Timestamp::from_utc_micros(at + list as i64 * 1_000),
                value: None,
                properties: Properties {
                    extra,
                    ..Properties::default()
                },
                context: Default::default(),
            }
        })
        .collect()
}

pub(super) fn run(args: BenchRetentionArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.rate > 0, "--rate must be at least 1");
    anyhow::ensure!(
        (1..=settings.server.max_batch_events).contains(&args.batch),
        "--batch must be between 1 and server.max_batch_events ({})",
        settings.server.max_batch_events
    );
    let dir = tempfile::Builder::new()
        .prefix("attune-bench-retention-")
        .tempdir()
        .context("cannot create a temporary directory")?;
    let path = dir.path().join("attune.db");
    let store: Arc<dyn Store> = Arc::new(
        attune_store::sqlite::SqliteStore::open(&path)
            .with_context(|| format!("cannot open store {}", path.display()))?,
    );
    let app = "bench";
    store.create_app(app)?;
    let now = chrono::Utc::now().timestamp_micros();

    let fill = Instant::now();
    for chunk in expired_impressions(args.impressions, now).chunks(20_000) {
        store.insert_events(app, chunk)?;
    }
    let fill_secs = fill.elapsed().as_secs_f64();
    let store_bytes_before = store.size_bytes()?;
    // Enough fresh batches for all three phases at the pace (the `during` phase lasts as long
    // as the pass; the generator's events are recent).
    let per_phase = args.rate as usize * args.secs as usize;
    let bodies = bodies(per_phase * 8 * args.batch, args.batch);
    eprintln!(
        "filled {} expired impressions in {fill_secs:.1} s ({:.0} MB); pacing {} batches/s of {}",
        args.impressions,
        store_bytes_before as f64 / 1e6,
        args.rate,
        args.batch
    );

    let config = RetentionConfig {
        interval_secs: 1,
        ..settings.retention.clone()
    };
    let runtime = serve::runtime()?;
    let (phases, pass, sent) =
        runtime.block_on(drive(store.clone(), settings, app, bodies, &args, &config))?;
    let (pass_secs, report_pass) = pass;
    let stored = store.counts(app)?.events;
    let mut expired_left = 0usize;
    store.scan_events(
        app,
        &attune_store::EventFilter {
            until_micros: Some(now - 30 * DAY_MICROS),
            ..Default::default()
        },
        &mut |e| {
            expired_left += usize::from(e.event_type == EventType::Impression);
            true
        },
    )?;
    let quiet = (phases[0].p99_ms + phases[2].p99_ms) / 2.0;
    let report = Report {
        impressions: args.impressions,
        fill_secs,
        store_bytes_before,
        store_bytes_after: store.size_bytes()?,
        rate_batches_per_sec: args.rate,
        batch: args.batch,
        pass_secs,
        pass_pages: report_pass.pages,
        deleted: report_pass.total(),
        p99_ratio: phases[1].p99_ms / quiet,
        phases,
        retention: config,
        stored_events: stored,
        date: chrono::Utc::now().format("%Y-%m-%d").to_string(),
        note: "server, load generator and retention share the cores; paced load (4 connections)",
    };
    print(&report)?;
    if let Some(path) = &args.json {
        let mut text = serde_json::to_string_pretty(&report)?;
        text.push('\n');
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    anyhow::ensure!(
        expired_left == 0,
        "verification failed: {expired_left} expired impressions left"
    );
    anyhow::ensure!(
        stored == (args.impressions as u64 - report.deleted) + sent as u64,
        "verification failed: the store holds {stored} events; expected {} ingested and {} of the backlog",
        sent,
        args.impressions as u64 - report.deleted
    );
    Ok(ExitCode::SUCCESS)
}

type PassResult = (f64, retention::RetentionReport);

/// Start the server, run the three phases, stop it. Returns the phases, the pass and the
/// number of events ingested.
async fn drive(
    store: Arc<dyn Store>,
    settings: &Settings,
    app: &str,
    bodies: Vec<Bytes>,
    args: &BenchRetentionArgs,
    config: &RetentionConfig,
) -> anyhow::Result<(Vec<Phase>, PassResult, usize)> {
    let listener = serve::bind_listener("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server_config = serve::server_config(settings);
    let s = store.clone();
    let state =
        tokio::task::spawn_blocking(move || attune_server::AppState::new(s, server_config)).await?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(attune_server::serve(listener, state, async {
        let _ = stop_rx.await;
    }));
    let bodies = Arc::new(bodies);
    let next = Arc::new(AtomicUsize::new(0));
    let period = Duration::from_secs_f64(CONNECTIONS as f64 / f64::from(args.rate));
    let quiet = Duration::from_secs(args.secs);

    let before = pace(addr, app, &bodies, &next, period, Until::Elapsed(quiet)).await?;
    // The pass, as the scheduler runs it: its own thread at background priority.
    let done = Arc::new(AtomicBool::new(false));
    let (s, c, d) = (store.clone(), config.clone(), done.clone());
    let pass = std::thread::spawn(move || {
        attune_pipeline::schedule::background_priority();
        let start = Instant::now();
        let now = chrono::Utc::now().timestamp_micros();
        let r = retention::apply(s.as_ref(), "bench", &c, now, &|| false);
        d.store(true, Ordering::SeqCst);
        r.map(|r| (start.elapsed().as_secs_f64(), r))
    });
    let during = pace(addr, app, &bodies, &next, period, Until::Done(done, quiet)).await?;
    let pass = pass
        .join()
        .map_err(|_| anyhow::anyhow!("the retention pass panicked"))??;
    let after = pace(addr, app, &bodies, &next, period, Until::Elapsed(quiet)).await?;
    let _ = stop_tx.send(());
    server.await??;
    let sent = next.load(Ordering::SeqCst).min(bodies.len()) * args.batch;
    let phases = [("before", before), ("during", during), ("after", after)]
        .into_iter()
        .map(|(name, (mut l, secs))| {
            l.sort_unstable();
            Phase {
                name,
                batches: l.len(),
                secs,
                p50_ms: percentile_ms(&l, 0.5),
                p99_ms: percentile_ms(&l, 0.99),
                max_ms: l.last().map_or(0.0, |d| d.as_secs_f64() * 1e3),
            }
        })
        .collect();
    Ok((phases, pass, sent))
}

/// When a phase ends.
#[derive(Clone)]
enum Until {
    Elapsed(Duration),
    /// When the flag is set, but not before the duration.
    Done(Arc<AtomicBool>, Duration),
}

impl Until {
    fn over(&self, elapsed: Duration) -> bool {
        match self {
            Until::Elapsed(d) => elapsed >= *d,
            Until::Done(flag, d) => elapsed >= *d && flag.load(Ordering::SeqCst),
        }
    }
}

/// Send batches from `next` on `CONNECTIONS` connections, one per `period` each, until
/// `until`; every batch must be accepted whole. Returns the latencies and the phase's length.
async fn pace(
    addr: std::net::SocketAddr,
    app: &str,
    bodies: &Arc<Vec<Bytes>>,
    next: &Arc<AtomicUsize>,
    period: Duration,
    until: Until,
) -> anyhow::Result<(Vec<Duration>, f64)> {
    let start = Instant::now();
    let mut clients = Vec::with_capacity(CONNECTIONS);
    for c in 0..CONNECTIONS {
        let mut sender = connect(addr).await?;
        let (bodies, next, app, until) =
            (bodies.clone(), next.clone(), app.to_string(), until.clone());
        clients.push(tokio::spawn(async move {
            // Connections start spread over one period.
            let first = tokio::time::Instant::now() + period.mul_f64(c as f64 / CONNECTIONS as f64);
            let mut ticks = tokio::time::interval_at(first, period);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut latencies = Vec::new();
            while !until.over(start.elapsed()) {
                ticks.tick().await;
                let i = next.fetch_add(1, Ordering::SeqCst);
                let body = bodies
                    .get(i)
                    .context("ran out of prepared batches; lower --rate or --secs")?;
                let (took, _) = post_batch(&mut sender, addr, &app, body, i).await?;
                latencies.push(took);
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut all = Vec::new();
    for c in clients {
        all.extend(c.await??);
    }
    Ok((all, start.elapsed().as_secs_f64()))
}

fn print(r: &Report) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "Retention's cost to ingestion ({} expired impressions, {} batches/s of {} events)",
        r.impressions, r.rate_batches_per_sec, r.batch
    )?;
    writeln!(
        out,
        "  pass: {} deleted in {:.1} s, {} pages (batch {}, pause {} ms); store {:.0} MB -> {:.0} MB",
        r.deleted,
        r.pass_secs,
        r.pass_pages,
        r.retention.batch,
        r.retention.pause_ms,
        r.store_bytes_before as f64 / 1e6,
        r.store_bytes_after as f64 / 1e6
    )?;
    for p in &r.phases {
        writeln!(
            out,
            "  {:<7} {:>5} batches in {:>5.1} s   p50 {:>6.2} ms   p99 {:>6.2} ms   max {:>7.2} ms",
            p.name, p.batches, p.secs, p.p50_ms, p.p99_ms, p.max_ms
        )?;
    }
    writeln!(
        out,
        "  p99 during / mean p99 before and after: {:.3}",
        r.p99_ratio
    )?;
    out.flush()
}
