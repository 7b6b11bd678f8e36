//! kill -9 durability: an acknowledged event survives a crash, exactly once.
//!
//! Several client threads stream batches of realistic events (unique ids) into `attune serve`;
//! after ~1.5 s the server gets SIGKILL while requests are in flight. After a restart on the
//! same store, every event of every batch that got a 2xx is stored exactly once, a batch whose
//! answer was lost is stored completely or not at all (one transaction), and re-sending a batch
//! reports duplicates instead of storing them twice. Runs on SQLite and on PostgreSQL (which
//! must be running: `ATTUNE_TEST_POSTGRES_URL`, default `postgres://postgres@127.0.0.1:5432/test`;
//! the test works in a private schema, dropped when it ends, pass or fail). The app is still a
//! fresh one created over the API, as a tenant would be.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use attune_core::event::Event;
use attune_store::EventFilter;
use serde_json::{json, Value};

use crate::common::Attune;
use crate::server::{unique_app, Client, PgSchema, Server};

/// Events per batch.
const BATCH: usize = 200;
/// Batches prepared; the kill comes after [`KILL_AFTER`] or once 80% of them were handed out.
const N_BATCHES: usize = 400;
const CLIENTS: usize = 4;
const KILL_AFTER: Duration = Duration::from_millis(1500);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    NotSent,
    /// Sent; no answer arrived (cut off by the kill).
    InFlight,
    /// Answered 2xx with every event accepted.
    Acked,
}

struct Batch {
    events: Vec<Event>,
    body: Vec<u8>,
}

fn batches() -> Vec<Batch> {
    let config = attune_testkit::SyntheticConfig {
        n_users: 1_000,
        n_items: 400,
        n_events: N_BATCHES * BATCH,
        seed: 9,
        ..attune_testkit::SyntheticConfig::default()
    };
    let events = attune_testkit::generate(&config).events;
    events
        .chunks(BATCH)
        .map(|chunk| {
            let json: Vec<Value> = chunk
                .iter()
                .map(attune_server::api::event_to_json)
                .collect();
            Batch {
                events: chunk.to_vec(),
                body: serde_json::to_vec(&json).unwrap(),
            }
        })
        .collect()
}

#[test]
fn kill9_loses_no_acknowledged_event_sqlite() {
    kill9_durability(None);
}

#[test]
fn kill9_loses_no_acknowledged_event_postgres() {
    let schema = PgSchema::new("crash");
    kill9_durability(Some(&schema.url));
}

fn kill9_durability(store_url: Option<&str>) {
    let attune = Attune::new();
    let backend = if store_url.is_some() {
        "postgres"
    } else {
        "sqlite"
    };
    let mut server = Server::start(&attune, store_url);
    let app = unique_app("crash");
    let created = server
        .client()
        .post("/v1/apps", json!({ "name": app }).to_string().as_bytes())
        .expect("POST /v1/apps");
    assert_eq!(created.status, 201, "create app: {}", created.body);
    let client = server.client().with_app(&app);

    let batches = Arc::new(batches());
    let outcomes = Arc::new(Mutex::new(vec![Outcome::NotSent; batches.len()]));
    let next = Arc::new(AtomicUsize::new(0));
    // Set just before SIGKILL: a client error after it is the crash, before it a bug.
    let killed = Arc::new(AtomicBool::new(false));
    let unexpected = Arc::new(Mutex::new(Vec::<String>::new()));

    let threads: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (batches, outcomes, next, killed, unexpected, client) = (
                batches.clone(),
                outcomes.clone(),
                next.clone(),
                killed.clone(),
                unexpected.clone(),
                client.clone(),
            );
            std::thread::spawn(move || loop {
                if killed.load(Ordering::SeqCst) {
                    break;
                }
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(batch) = batches.get(i) else { break };
                outcomes.lock().unwrap()[i] = Outcome::InFlight;
                match client.post("/v1/events", &batch.body) {
                    Ok(a) if a.status == 200 => {
                        let v = a.json();
                        if v["accepted"] != BATCH {
                            unexpected
                                .lock()
                                .unwrap()
                                .push(format!("batch {i}: {}", a.body));
                        }
                        outcomes.lock().unwrap()[i] = Outcome::Acked;
                    }
                    Ok(a) => {
                        unexpected
                            .lock()
                            .unwrap()
                            .push(format!("batch {i}: {} {}", a.status, a.body));
                        break;
                    }
                    Err(e) => {
                        if !killed.load(Ordering::SeqCst) {
                            unexpected.lock().unwrap().push(format!("batch {i}: {e}"));
                        }
                        break;
                    }
                }
            })
        })
        .collect();

    let start = Instant::now();
    while start.elapsed() < KILL_AFTER && next.load(Ordering::SeqCst) < N_BATCHES * 8 / 10 {
        std::thread::sleep(Duration::from_millis(5));
    }
    killed.store(true, Ordering::SeqCst);
    let status = server.kill9();
    assert!(!status.success(), "the server was killed, not stopped");
    for t in threads {
        t.join().expect("client thread");
    }
    let unexpected = unexpected.lock().unwrap().clone();
    assert!(
        unexpected.is_empty(),
        "{backend}: errors before the kill: {unexpected:#?}\nserver log:\n{}",
        server.log()
    );
    let outcomes = outcomes.lock().unwrap().clone();
    let n_acked = outcomes.iter().filter(|o| **o == Outcome::Acked).count();
    let in_flight: Vec<usize> = (0..outcomes.len())
        .filter(|&i| outcomes[i] == Outcome::InFlight)
        .collect();
    assert!(
        n_acked > 0,
        "{backend}: no batch was acknowledged before the kill"
    );
    assert!(
        !in_flight.is_empty(),
        "{backend}: no request was in flight at the kill, so the test proved nothing"
    );
    eprintln!(
        "{backend}: killed after {:?}: {n_acked} batches acknowledged, {} in flight",
        start.elapsed(),
        in_flight.len()
    );
    drop(server);

    // Restart on the same store: recovery (WAL replay) must succeed.
    let server = Server::start(&attune, store_url);
    let store_url = store_url.map_or_else(
        || format!("sqlite:{}", attune.path().join("attune.db").display()),
        str::to_string,
    );
    let stored = stored_events(&store_url, &app);

    let mut committed_in_flight = Vec::new();
    for (i, (batch, outcome)) in batches.iter().zip(&outcomes).enumerate() {
        let present = batch
            .events
            .iter()
            .filter(|e| stored.contains_key(&e.event_id))
            .count();
        match outcome {
            Outcome::Acked => {
                assert_eq!(
                    present, BATCH,
                    "{backend}: acknowledged batch {i} lost events"
                );
                for e in &batch.events {
                    let (n, got) = &stored[&e.event_id];
                    assert_eq!(*n, 1, "{backend}: {} stored {n} times", e.event_id);
                    assert_eq!(got, e, "{backend}: {} stored differently", e.event_id);
                }
            }
            Outcome::InFlight => {
                assert!(
                    present == 0 || present == BATCH,
                    "{backend}: in-flight batch {i} is half stored ({present} of {BATCH}): not atomic"
                );
                if present == BATCH {
                    committed_in_flight.push(i);
                }
            }
            Outcome::NotSent => assert_eq!(present, 0, "{backend}: unsent batch {i} is stored"),
        }
    }
    eprintln!(
        "{backend}: {} of the in-flight batches were committed before the kill",
        committed_in_flight.len()
    );
    let expected = (n_acked + committed_in_flight.len()) * BATCH;
    assert_eq!(
        stored.len(),
        expected,
        "{backend}: the app holds events that were never sent"
    );
    assert!(
        stored.values().all(|(n, _)| *n == 1),
        "{backend}: an event_id is stored twice"
    );

    // Client retries after the crash: duplicates are reported, never stored twice.
    let client = server.client().with_app(&app);
    let mut total = expected;
    for &i in in_flight.iter().take(3) {
        let was_committed = committed_in_flight.contains(&i);
        let v = post_ok(&client, &batches[i].body);
        if was_committed {
            assert_eq!(
                (v["accepted"].as_u64(), v["duplicates"].as_u64()),
                (Some(0), Some(BATCH as u64))
            );
        } else {
            assert_eq!(
                (v["accepted"].as_u64(), v["duplicates"].as_u64()),
                (Some(BATCH as u64), Some(0))
            );
            total += BATCH;
        }
    }
    let acked = outcomes.iter().position(|o| *o == Outcome::Acked).unwrap();
    let v = post_ok(&client, &batches[acked].body);
    assert_eq!(v["duplicates"].as_u64(), Some(BATCH as u64), "{v}");
    let stored = stored_events(&store_url, &app);
    assert_eq!(
        stored.len(),
        total,
        "{backend}: retries changed the event count wrongly"
    );
    assert!(
        stored.values().all(|(n, _)| *n == 1),
        "{backend}: a retry stored an event twice"
    );
}

fn post_ok(client: &Client, body: &[u8]) -> Value {
    let a = client.post("/v1/events", body).expect("re-send batch");
    assert_eq!(a.status, 200, "{}", a.body);
    a.json()
}

/// Every event of `app`, read straight from the store: id -> (times seen, the event).
fn stored_events(url: &str, app: &str) -> HashMap<String, (usize, Event)> {
    let store = attune_store::open(url).unwrap_or_else(|e| panic!("open {url}: {e}"));
    let mut seen: HashMap<String, (usize, Event)> = HashMap::new();
    store
        .scan_events(app, &EventFilter::default(), &mut |e| {
            seen.entry(e.event_id.clone()).or_insert((0, e)).0 += 1;
            true
        })
        .expect("scan events");
    seen
}
