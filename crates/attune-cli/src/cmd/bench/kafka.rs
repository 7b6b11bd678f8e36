//! `attune bench kafka`: the same events through Kafka and through HTTP, in one run.
//!
//! Kafka: every event produced to a fresh topic first (timed on its own), then consumed by
//! one [`attune_stream::Consumer`] into a fresh SQLite store, timed from its start to the
//! commit of the last message. HTTP: the same events through `bench ingest`'s path (the real
//! server in-process, keep-alive connections, group commit) into another fresh store. Each
//! store must end with exactly the events sent, so a fast but lossy (or duplicating) run
//! fails. Then, optionally, produce-to-changed-list latency on the configured store: a
//! purchase of a user's top item produced to the topic, the consumer writing it and applying
//! it to the serving engine, and the engine's next list for that user polled until the item
//! is gone.
//!
//! Producer, broker, consumer and store share the machine's cores: a lower bound of what a
//! dedicated deployment does.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use attune_server::streams::StreamSource as _;
use attune_serving::RecRequest;
use attune_store::Store;
use attune_stream::tools::{create_topics, Publisher};
use attune_stream::{Consumer, KafkaConfig, Status, StoreSink};
use serde::Serialize;
use serde_json::json;

use crate::cli::BenchKafkaArgs;
use crate::config::Settings;

#[derive(Debug, Serialize)]
struct Report {
    events: usize,
    partitions: i32,
    cores: usize,
    produce_secs: f64,
    produce_events_per_sec: f64,
    /// From the consumer's start to its first message: joining the group.
    kafka_join_secs: f64,
    /// From its first message to the commit of the last.
    kafka_consume_secs: f64,
    kafka_events_per_sec: f64,
    kafka_stored: u64,
    kafka_duplicates: u64,
    http_secs: f64,
    http_events_per_sec: f64,
    http_stored: u64,
    latency_probes: usize,
    latency_p50_ms: Option<f64>,
    latency_p99_ms: Option<f64>,
    latency_max_ms: Option<f64>,
    date: String,
    note: &'static str,
}

fn temp_store() -> anyhow::Result<(Arc<dyn Store>, tempfile::TempDir)> {
    let dir = tempfile::Builder::new()
        .prefix("attune-bench-kafka-")
        .tempdir()?;
    let store = attune_store::sqlite::SqliteStore::open(dir.path().join("attune.db"))?;
    Ok((Arc::new(store), dir))
}

pub fn run(args: BenchKafkaArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.events > 0, "--events must be at least 1");
    anyhow::ensure!(args.partitions > 0, "--partitions must be at least 1");
    let tag = format!(
        "{}-{}",
        chrono::Utc::now().format("%Y%m%d%H%M%S"),
        std::process::id()
    );
    let mut section = settings.ingest.kafka.clone();
    if let Some(b) = &args.brokers {
        section.brokers = b.clone();
    }
    section.fanout = false;
    let mut config: KafkaConfig = section.to_stream();
    config.topic = format!("bench-events-{tag}");
    config.dead_letter_topic = format!("bench-dead-{tag}");
    config.group_id = format!("bench-{tag}");
    create_topics(
        &config,
        &[
            (&config.topic, args.partitions),
            (&config.dead_letter_topic, 1),
        ],
    )
    .context("cannot create the benchmark's topics (is the broker up?)")?;

    // The events, generated and encoded before any clock starts.
    let bodies = super::bodies(args.events, args.batch);
    let mut messages = Vec::with_capacity(args.events);
    for body in &bodies {
        let batch: serde_json::Value = serde_json::from_slice(body)?;
        for e in batch.as_array().into_iter().flatten() {
            let key = e["user_id"]
                .as_str()
                .or(e["anonymous_id"].as_str())
                .unwrap_or_default()
                .to_string();
            messages.push((key, e.to_string().into_bytes()));
        }
    }
    eprintln!(
        "prepared {} events; producing to {}",
        messages.len(),
        config.topic
    );

    let producer = Publisher::new(&config, Duration::from_millis(5))?;
    let start = Instant::now();
    for (key, payload) in &messages {
        producer.send(&config.topic, key, payload)?;
    }
    producer.flush();
    let produce_secs = start.elapsed().as_secs_f64();
    eprintln!("produced in {produce_secs:.1} s; consuming");

    let (store, _dir) = temp_store()?;
    let app = "bench";
    store.create_app(app)?;
    config.app = app.into();
    let status = Arc::new(Status::new("kafka"));
    let consumer = Consumer::new(
        &config,
        settings.event_rules(),
        settings.server.strict_fields,
        status.clone(),
    )?;
    let sink = StoreSink {
        store: store.clone(),
        serving: None,
        fanout: None,
        publisher: None,
    };
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let thread = {
        let stop = stop.clone();
        std::thread::spawn(move || consumer.run(&sink, &stop))
    };
    let mut last = (0, Instant::now());
    let mut first: Option<Instant> = None;
    loop {
        std::thread::sleep(Duration::from_millis(5));
        let s = status.status();
        if s.received > 0 && first.is_none() {
            first = Some(Instant::now());
        }
        if s.committed as usize >= args.events {
            break;
        }
        if s.committed != last.0 {
            last = (s.committed, Instant::now());
        }
        anyhow::ensure!(
            last.1.elapsed() < Duration::from_secs(120),
            "the consumer made no progress for 2 minutes ({} of {} committed)",
            s.committed,
            args.events
        );
    }
    let first = first.unwrap_or(start);
    let join_secs = (first - start).as_secs_f64();
    let kafka_secs = first.elapsed().as_secs_f64();
    stop.store(true, Relaxed);
    let _ = thread.join();
    let kafka_stored = store.counts(app)?.events;
    let s = status.status();
    anyhow::ensure!(
        kafka_stored as usize == args.events && s.rejected == 0,
        "Kafka: {kafka_stored} of {} events stored ({} rejected)",
        args.events,
        s.rejected
    );
    eprintln!("joined in {join_secs:.1} s, consumed in {kafka_secs:.1} s; HTTP ingestion of the same events");

    let (http_store, _http_dir) = temp_store()?;
    http_store.create_app(app)?;
    let runtime = super::serve::runtime()?;
    let (wall, _) = runtime.block_on(super::drive(
        http_store.clone(),
        settings,
        app,
        bodies,
        args.concurrency,
    ))?;
    let http_stored = http_store.counts(app)?.events;
    anyhow::ensure!(
        http_stored as usize == args.events,
        "HTTP: {http_stored} of {} events stored",
        args.events
    );

    let latencies = if args.latency_probes > 0 {
        latency(&config, settings, args.latency_probes)?
    } else {
        Vec::new()
    };
    let pct = |q: f64| {
        (!latencies.is_empty()).then(|| {
            let i = ((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len()) - 1;
            latencies[i].as_secs_f64() * 1e3
        })
    };
    let report = Report {
        events: args.events,
        partitions: args.partitions,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        produce_secs,
        produce_events_per_sec: args.events as f64 / produce_secs,
        kafka_join_secs: join_secs,
        kafka_consume_secs: kafka_secs,
        kafka_events_per_sec: args.events as f64 / kafka_secs,
        kafka_stored,
        kafka_duplicates: s.duplicates,
        http_secs: wall.as_secs_f64(),
        http_events_per_sec: args.events as f64 / wall.as_secs_f64(),
        http_stored,
        latency_probes: latencies.len(),
        latency_p50_ms: pct(0.5),
        latency_p99_ms: pct(0.99),
        latency_max_ms: latencies.last().map(|d| d.as_secs_f64() * 1e3),
        date: chrono::Utc::now().to_rfc3339(),
        note: "producer, broker (tansu, memory), consumer and SQLite share the cores",
    };
    println!(
        "{} events, {} partitions, {} cores\n  produce: {:.1} s ({:.0} events/s)\n  Kafka → store: {:.1} s ({:.0} events/s) after {:.1} s joining the group, stored {} (duplicates {})\n  HTTP → store:  {:.1} s ({:.0} events/s), stored {}\n  produce → changed list: {}",
        report.events,
        report.partitions,
        report.cores,
        report.produce_secs,
        report.produce_events_per_sec,
        report.kafka_consume_secs,
        report.kafka_events_per_sec,
        report.kafka_join_secs,
        report.kafka_stored,
        report.kafka_duplicates,
        report.http_secs,
        report.http_events_per_sec,
        report.http_stored,
        match (report.latency_p50_ms, report.latency_p99_ms) {
            (Some(p50), Some(p99)) =>
                format!("p50 {p50:.1} ms, p99 {p99:.1} ms over {} probes", report.latency_probes),
            _ => "not measured (--latency-probes 0)".into(),
        }
    );
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Produce a purchase of each probe user's top item and poll the engine's next list until
/// the item is gone; the delays, sorted.
fn latency(
    config: &KafkaConfig,
    settings: &Settings,
    probes: usize,
) -> anyhow::Result<Vec<Duration>> {
    let store = super::serve::open_configured_store(settings)?;
    let serving = crate::serving::engine(settings, store.clone())?;
    let app = "default";
    let mut config = config.clone();
    config.app = app.into();
    config.group_id = format!("{}-latency", config.group_id);
    config.max_wait = Duration::ZERO;
    config.topic = format!("{}-latency", config.topic);
    create_topics(&config, &[(&config.topic, 1)])?;
    // Users with history (the first ones in the log), so their lists are personalized.
    let mut users: Vec<String> = Vec::new();
    let filter = attune_store::EventFilter {
        skip_impressions: true,
        ..attune_store::EventFilter::default()
    };
    store.scan_events(app, &filter, &mut |e| {
        if let Some(u) = &e.user_id {
            if !users.contains(u) {
                users.push(u.clone());
            }
        }
        users.len() < probes.max(10)
    })?;
    anyhow::ensure!(
        !users.is_empty(),
        "the configured store has no users in app default (run `attune demo --no-serve` first)"
    );
    let status = Arc::new(Status::new("kafka"));
    let consumer = Consumer::new(&config, settings.event_rules(), false, status.clone())?;
    let sink = StoreSink {
        store: store.clone(),
        serving: Some(serving.clone()),
        fanout: None,
        publisher: None,
    };
    let stop = Arc::new(AtomicBool::new(false));
    let thread = {
        let stop = stop.clone();
        std::thread::spawn(move || consumer.run(&sink, &stop))
    };
    let producer = Publisher::new(&config, Duration::ZERO)?;
    let req = RecRequest {
        n: 10,
        ..RecRequest::default()
    };
    // The group join: wait until a first message went through.
    let warm = json!({"type": "view", "user_id": users[0], "item_id": "bench-warm-up"});
    producer.send_all(
        &config.topic,
        &[(users[0].clone(), warm.to_string().into_bytes())],
    )?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while status.status().committed == 0 {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the latency consumer never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut delays = Vec::new();
    for user in users.iter().cycle().take(probes) {
        let list = serving.recommend(app, user, &req, true)?;
        let Some(top) = list.items.first().map(|i| i.item_id.clone()) else {
            continue;
        };
        let event = json!({"type": "purchase", "user_id": user, "item_id": top, "value": 1.0});
        let start = Instant::now();
        producer.send(&config.topic, user, event.to_string().as_bytes())?;
        loop {
            let next = serving.recommend(app, user, &req, true)?;
            if !next.items.iter().any(|i| i.item_id == top) {
                delays.push(start.elapsed());
                break;
            }
            anyhow::ensure!(
                start.elapsed() < Duration::from_secs(10),
                "{user}'s list did not change within 10 s"
            );
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    stop.store(true, Relaxed);
    let _ = thread.join();
    delays.sort_unstable();
    Ok(delays)
}
