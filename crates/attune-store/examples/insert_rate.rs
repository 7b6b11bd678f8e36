//! Measure the batch insert rate of a store.
//!
//! ```text
//! cargo run --release -p attune-store --example insert_rate                # temporary SQLite file
//! cargo run --release -p attune-store --example insert_rate -- postgres://postgres@127.0.0.1/test
//! ```
//!
//! Inserts 200 batches of 1,000 synthetic events (a mix of 5,000 known users and 8,000 anonymous
//! devices, some of them linked, typed properties, context) into a fresh app and prints events/s,
//! twice: with random event ids (client-supplied UUIDv4-like, the worst case for the unique
//! index) and with time-ordered ids (UUIDv7-like, what a server generates). Then it re-sends 50
//! batches (all duplicates) and scans everything.

use std::time::Instant;

use attune_core::event::{Context, Event, EventType, PropValue, Properties};
use attune_core::time::Timestamp;
use attune_store::{InsertStatus, Store};

const BATCHES: usize = 200;
const BATCH: usize = 1_000;

fn main() {
    let target = std::env::args().nth(1);
    for time_ordered in [false, true] {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store: Box<dyn Store> = match &target {
            Some(url) => attune_store::open(url).expect("open store"),
            None => attune_store::open(dir.path().join("attune.db").to_str().expect("utf-8 path"))
                .expect("open store"),
        };
        run(&*store, time_ordered);
    }
}

fn run(store: &dyn Store, time_ordered: bool) {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let app = format!("bench_{}_{nanos}", std::process::id());
    store.create_app(&app).unwrap();
    for d in 0..100 {
        store
            .identify(&app, &format!("dev-{d}"), &format!("user-{d}"))
            .unwrap();
    }

    let mut state = nanos as u64 | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let t0 = 1_795_824_000_000_000i64;
    let batches: Vec<Vec<Event>> = (0..BATCHES)
        .map(|b| {
            (0..BATCH)
                .map(|i| {
                    let n = b * BATCH + i;
                    let r = next();
                    let user = r % 3 != 0;
                    let mut properties = Properties::default();
                    let event_type = match r % 5 {
                        0 => {
                            properties.dwell_ms = Some(r % 100_000);
                            EventType::Dwell
                        }
                        1 => {
                            properties.price = Some((r % 10_000) as f64 / 100.0);
                            properties.quantity = Some(1);
                            EventType::Purchase
                        }
                        2 => EventType::Click,
                        _ => EventType::View,
                    };
                    if r % 7 == 0 {
                        properties
                            .extra
                            .insert("ref".into(), PropValue::Text("newsletter".into()));
                    }
                    Event {
                        event_id: if time_ordered {
                            format!("{:016x}{:016x}", t0 as u64 / 1000 + n as u64, next())
                        } else {
                            format!("{:016x}{:016x}", next(), next())
                        },
                        event_type,
                        user_id: user.then(|| format!("user-{}", r % 5_000)),
                        anonymous_id: (!user || r % 2 == 0)
                            .then(|| format!("dev-{}", (r >> 8) % 8_000)),
                        item_id: Some(format!("item-{}", (r >> 16) % 20_000)),
                        timestamp: Timestamp {
                            utc_micros: t0 + n as i64 * 1_000,
                            offset_secs: 3600,
                        },
                        value: None,
                        properties,
                        context: Context {
                            session_id: Some(format!("s-{}", n / 20)),
                            device: Some("mobile".into()),
                            recommendation_id: (r % 4 == 0).then(|| format!("rec-{}", n / 10)),
                            ..Default::default()
                        },
                    }
                })
                .collect()
        })
        .collect();

    let start = Instant::now();
    let mut accepted = 0;
    let mut latencies = Vec::with_capacity(BATCHES);
    for batch in &batches {
        let t = Instant::now();
        let statuses = store.insert_events(&app, batch).unwrap();
        latencies.push(t.elapsed().as_secs_f64() * 1e3);
        accepted += statuses
            .iter()
            .filter(|s| **s == InsertStatus::Accepted)
            .count();
    }
    let secs = start.elapsed().as_secs_f64();
    let total = BATCHES * BATCH;
    let ids = if time_ordered {
        "time-ordered ids"
    } else {
        "random ids"
    };
    println!(
        "{} ({ids}): {total} events in {BATCHES} batches of {BATCH}: {secs:.2} s, {:.0} events/s ({accepted} accepted)",
        store.backend(),
        total as f64 / secs
    );
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p) as usize];
    println!(
        "  batch latency ms: p50 {:.1}, p99 {:.1}, max {:.1}",
        pct(0.5),
        pct(0.99),
        pct(1.0)
    );

    // Redelivery of the same data: every event a duplicate.
    let start = Instant::now();
    for batch in batches.iter().take(50) {
        store.insert_events(&app, batch).unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{}: duplicate batches: {:.0} events/s",
        store.backend(),
        (50 * BATCH) as f64 / secs
    );

    let start = Instant::now();
    let mut scanned = 0u64;
    store
        .scan_events(&app, &Default::default(), &mut |_| {
            scanned += 1;
            true
        })
        .unwrap();
    println!(
        "{}: full scan: {scanned} events, {:.0} events/s",
        store.backend(),
        scanned as f64 / start.elapsed().as_secs_f64()
    );
}
