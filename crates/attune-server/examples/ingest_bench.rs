//! End-to-end ingest throughput: a real server on a loopback port over a temp SQLite store, and
//! keep-alive HTTP/1.1 clients posting JSON batches of realistic shop events.
//!
//! ```text
//! cargo run --release -p attune-server --example ingest_bench -- [events] [batch] [connections] [ndjson]
//! ```
//! Defaults: 200000 events, batches of 1000, 2 connections, JSON arrays. Prints events/s.
//! `ATTUNE_BENCH_DIR=/dev/shm` puts the database on tmpfs (no fsync cost);
//! `ATTUNE_BENCH_STORE=null` swaps in a store that accepts and forgets every event, which
//! measures the HTTP layer alone (parsing, validation, group commit, responses).
//! Traffic goes to 127.0.0.1 only, and the run is bounded by the event count.

use std::sync::Arc;
use std::time::Instant;

use attune_core::catalog::{Item, User};
use attune_core::event::Event;
use attune_server::{serve, AppState, ServerConfig};
use attune_store::sqlite::SqliteStore;
use attune_store::{AppCounts, Erasure, EventFilter, InsertStatus, Store};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const TYPES: [&str; 5] = ["view", "click", "dwell", "add_to_cart", "purchase"];

/// One shop event as a tracker would send it (~350 bytes).
fn event(i: usize, conn: usize) -> String {
    let t = TYPES[i % TYPES.len()];
    let user = (i * 7919) % 50_000;
    let sku = (i * 104_729) % 20_000;
    // Events arrive roughly in time order (20 ms apart), as live traffic does.
    let ms = i * 20;
    let (h, m, sec, milli) = (
        10 + ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000,
    );
    let props = match t {
        "dwell" => format!(
            r#""dwell_ms": {}, "scroll_depth": 0.{}"#,
            1_000 + i % 90_000,
            1 + i % 9
        ),
        "add_to_cart" | "purchase" => {
            format!(r#""price": {}.99, "quantity": {}"#, 5 + i % 200, 1 + i % 3)
        }
        _ => r#""position": 3"#.to_string(),
    };
    format!(
        r#"{{"event_id": "bench-{conn}-{i}", "type": "{t}", "user_id": "cust-{user}", "item_id": "SKU-{sku:05}", "timestamp": "2026-11-27T{h:02}:{m:02}:{sec:02}.{milli:03}+01:00", "properties": {{{props}}}, "context": {{"session_id": "sess-{}", "device": "mobile", "page": "/p/SKU-{sku:05}"}}}}"#,
        user * 3 + i / 40
    )
}

fn batch_body(start: usize, n: usize, conn: usize, ndjson: bool) -> String {
    let events: Vec<String> = (start..start + n).map(|i| event(i, conn)).collect();
    if ndjson {
        events.join("\n")
    } else {
        format!("[{}]", events.join(","))
    }
}

async fn post(stream: &mut BufReader<TcpStream>, body: &str, ndjson: bool) -> (u16, String) {
    let ct = if ndjson {
        "application/x-ndjson"
    } else {
        "application/json"
    };
    let head =
        format!("POST /v1/events HTTP/1.1\r\nHost: bench\r\nContent-Type: {ct}\r\nContent-Length: {}\r\n\r\n", body.len());
    let mut request = head.into_bytes();
    request.extend_from_slice(body.as_bytes());
    stream.get_mut().write_all(&request).await.unwrap();
    let mut status_line = String::new();
    stream.read_line(&mut status_line).await.unwrap();
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut len = 0;
    loop {
        let mut line = String::new();
        stream.read_line(&mut line).await.unwrap();
        if line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap();
        }
    }
    let mut buf = vec![0; len];
    stream.read_exact(&mut buf).await.unwrap();
    (status, String::from_utf8(buf).unwrap())
}

/// Accepts every event and stores nothing: isolates the server's own cost.
struct NullStore(SqliteStore);

impl Store for NullStore {
    fn backend(&self) -> &'static str {
        "null"
    }
    fn ping(&self) -> attune_store::Result<()> {
        Ok(())
    }
    fn create_app(&self, app: &str) -> attune_store::Result<()> {
        self.0.create_app(app)
    }
    fn list_apps(&self) -> attune_store::Result<Vec<String>> {
        self.0.list_apps()
    }
    fn insert_events(&self, _: &str, events: &[Event]) -> attune_store::Result<Vec<InsertStatus>> {
        Ok(vec![InsertStatus::Accepted; events.len()])
    }
    fn scan_events(
        &self,
        app: &str,
        f: &EventFilter,
        visit: &mut dyn FnMut(Event) -> bool,
    ) -> attune_store::Result<()> {
        self.0.scan_events(app, f, visit)
    }
    fn delete_events(
        &self,
        app: &str,
        event_type: &str,
        from_micros: i64,
        before_micros: i64,
        limit: usize,
    ) -> attune_store::Result<attune_store::DeletedEvents> {
        self.0
            .delete_events(app, event_type, from_micros, before_micros, limit)
    }
    fn size_bytes(&self) -> attune_store::Result<u64> {
        self.0.size_bytes()
    }
    fn nth_newest_event_ts(
        &self,
        app: &str,
        until_micros: i64,
        n: usize,
    ) -> attune_store::Result<Option<i64>> {
        self.0.nth_newest_event_ts(app, until_micros, n)
    }
    fn upsert_items(&self, app: &str, items: &[Item]) -> attune_store::Result<()> {
        self.0.upsert_items(app, items)
    }
    fn get_item(&self, app: &str, id: &str) -> attune_store::Result<Option<Item>> {
        self.0.get_item(app, id)
    }
    fn delete_item(&self, app: &str, id: &str) -> attune_store::Result<bool> {
        self.0.delete_item(app, id)
    }
    fn scan_items(
        &self,
        app: &str,
        visit: &mut dyn FnMut(Item) -> bool,
    ) -> attune_store::Result<()> {
        self.0.scan_items(app, visit)
    }
    fn upsert_users(&self, app: &str, users: &[User]) -> attune_store::Result<()> {
        self.0.upsert_users(app, users)
    }
    fn get_user(&self, app: &str, id: &str) -> attune_store::Result<Option<User>> {
        self.0.get_user(app, id)
    }
    fn delete_user(&self, app: &str, id: &str) -> attune_store::Result<Erasure> {
        self.0.delete_user(app, id)
    }
    fn dismissals(
        &self,
        app: &str,
        user_key: &str,
    ) -> attune_store::Result<Vec<(attune_core::event::Dismissal, i64)>> {
        self.0.dismissals(app, user_key)
    }
    fn scan_users(
        &self,
        app: &str,
        visit: &mut dyn FnMut(User) -> bool,
    ) -> attune_store::Result<()> {
        self.0.scan_users(app, visit)
    }
    fn identify(&self, app: &str, anon: &str, user: &str) -> attune_store::Result<u64> {
        self.0.identify(app, anon, user)
    }
    fn resolve_identity(&self, app: &str, anon: &str) -> attune_store::Result<Option<String>> {
        self.0.resolve_identity(app, anon)
    }
    fn counts(&self, app: &str) -> attune_store::Result<AppCounts> {
        self.0.counts(app)
    }
    fn reserve_model_version(&self, app: &str) -> attune_store::Result<u32> {
        self.0.reserve_model_version(app)
    }
    fn register_model(
        &self,
        app: &str,
        version: u32,
        info: &attune_store::ModelInfo,
    ) -> attune_store::Result<attune_store::ModelRecord> {
        self.0.register_model(app, version, info)
    }
    fn list_models(&self, app: &str) -> attune_store::Result<Vec<attune_store::ModelRecord>> {
        self.0.list_models(app)
    }
    fn get_model(
        &self,
        app: &str,
        version: u32,
    ) -> attune_store::Result<Option<attune_store::ModelRecord>> {
        self.0.get_model(app, version)
    }
    fn activate_model(
        &self,
        app: &str,
        version: u32,
        expected_seq: Option<u64>,
    ) -> attune_store::Result<attune_store::ActivationOutcome> {
        self.0.activate_model(app, version, expected_seq)
    }
    fn rollback_model(
        &self,
        app: &str,
        expected_seq: Option<u64>,
    ) -> attune_store::Result<attune_store::ActivationOutcome> {
        self.0.rollback_model(app, expected_seq)
    }
    fn active_model(&self, app: &str) -> attune_store::Result<Option<attune_store::ActiveModel>> {
        self.0.active_model(app)
    }
    fn model_activations(&self, app: &str) -> attune_store::Result<Vec<attune_store::Activation>> {
        self.0.model_activations(app)
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize, d: usize| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(d);
    let (n_events, batch, n_conns) = (arg(1, 200_000), arg(2, 1000), arg(3, 2));
    let ndjson = args.get(4).is_some_and(|s| s == "ndjson");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        // ATTUNE_BENCH_DIR=/dev/shm takes the disk (fsync) out of the measurement.
        let dir = match std::env::var_os("ATTUNE_BENCH_DIR") {
            Some(d) => tempfile::tempdir_in(d).unwrap(),
            None => tempfile::tempdir().unwrap(),
        };
        let sqlite = SqliteStore::open(dir.path().join("attune.db")).unwrap();
        let null = std::env::var("ATTUNE_BENCH_STORE").is_ok_and(|s| s == "null");
        let store: Arc<dyn Store> = if null { Arc::new(NullStore(sqlite)) } else { Arc::new(sqlite) };
        let state = AppState::new(store.clone(), ServerConfig::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, state, async move {
            let _ = stopped.await;
        }));

        // Bodies are built before the clock starts: we measure the server, not the generator.
        let per_conn = n_events / n_conns;
        let bodies: Vec<Vec<String>> = (0..n_conns)
            .map(|c| (0..per_conn).step_by(batch).map(|s| batch_body(s, batch.min(per_conn - s), c, ndjson)).collect())
            .collect();
        let bytes: usize = bodies.iter().flatten().map(String::len).sum();
        let start = Instant::now();
        let mut clients = Vec::new();
        for conn_bodies in bodies {
            clients.push(tokio::spawn(async move {
                let tcp = TcpStream::connect(addr).await.unwrap();
                tcp.set_nodelay(true).unwrap();
                let mut stream = BufReader::new(tcp);
                let mut worst = std::time::Duration::ZERO;
                for body in &conn_bodies {
                    let t = Instant::now();
                    let (status, text) = post(&mut stream, body, ndjson).await;
                    assert_eq!(status, 200, "{text}");
                    worst = worst.max(t.elapsed());
                }
                worst
            }));
        }
        let mut worst = std::time::Duration::ZERO;
        for c in clients {
            worst = worst.max(c.await.unwrap());
        }
        let secs = start.elapsed().as_secs_f64();
        let stored = if null { (per_conn * n_conns) as u64 } else { store.counts("default").unwrap().events };
        assert_eq!(stored as usize, per_conn * n_conns);
        println!(
            "{stored} events in {secs:.2} s over {n_conns} connection(s), batches of {batch} ({}, {} store): {:.0} events/s, {:.1} MB/s, slowest batch {} ms",
            if ndjson { "NDJSON" } else { "JSON array" },
            store.backend(),
            stored as f64 / secs,
            bytes as f64 / secs / 1e6,
            worst.as_millis()
        );
        stop.send(()).unwrap();
        server.await.unwrap().unwrap();
    });
}

impl attune_store::ExperimentStore for NullStore {
    fn create_experiment(
        &self,
        app: &str,
        name: &str,
        layer: &str,
        definition: &str,
    ) -> attune_store::Result<attune_store::ExperimentRecord> {
        self.0.create_experiment(app, name, layer, definition)
    }
    fn get_experiment(
        &self,
        app: &str,
        name: &str,
    ) -> attune_store::Result<Option<attune_store::ExperimentRecord>> {
        self.0.get_experiment(app, name)
    }
    fn list_experiments(
        &self,
        app: &str,
    ) -> attune_store::Result<Vec<attune_store::ExperimentRecord>> {
        self.0.list_experiments(app)
    }
    fn update_experiment(
        &self,
        app: &str,
        name: &str,
        definition: &str,
    ) -> attune_store::Result<attune_store::ExperimentRecord> {
        self.0.update_experiment(app, name, definition)
    }
    fn start_experiment(
        &self,
        app: &str,
        name: &str,
        buckets: u32,
    ) -> attune_store::Result<attune_store::ExperimentRecord> {
        self.0.start_experiment(app, name, buckets)
    }
    fn stop_experiment(
        &self,
        app: &str,
        name: &str,
    ) -> attune_store::Result<attune_store::ExperimentRecord> {
        self.0.stop_experiment(app, name)
    }
    fn experiment_phases(
        &self,
        app: &str,
        name: &str,
    ) -> attune_store::Result<Vec<attune_store::ExperimentPhase>> {
        self.0.experiment_phases(app, name)
    }
    fn record_exposures(
        &self,
        app: &str,
        exposures: &[attune_store::Exposure],
    ) -> attune_store::Result<u64> {
        self.0.record_exposures(app, exposures)
    }
    fn get_exposure(
        &self,
        app: &str,
        experiment: &str,
        phase: u32,
        user_key: &str,
    ) -> attune_store::Result<Option<attune_store::Exposure>> {
        self.0.get_exposure(app, experiment, phase, user_key)
    }
    fn scan_exposures(
        &self,
        app: &str,
        experiment: &str,
        phase: u32,
        visit: &mut dyn FnMut(attune_store::Exposure) -> bool,
    ) -> attune_store::Result<()> {
        self.0.scan_exposures(app, experiment, phase, visit)
    }
    fn put_experiment_state(&self, app: &str, name: &str, state: &str) -> attune_store::Result<()> {
        self.0.put_experiment_state(app, name, state)
    }
    fn get_experiment_state(
        &self,
        app: &str,
        name: &str,
    ) -> attune_store::Result<Option<(String, i64)>> {
        self.0.get_experiment_state(app, name)
    }
}

impl attune_store::StudyStore for NullStore {
    fn save_study(
        &self,
        app: &str,
        study: &attune_store::StudyRecord,
    ) -> attune_store::Result<attune_store::StudyRecord> {
        self.0.save_study(app, study)
    }
    fn load_study(
        &self,
        app: &str,
        name: &str,
    ) -> attune_store::Result<Option<attune_store::StudyRecord>> {
        self.0.load_study(app, name)
    }
    fn list_studies(&self, app: &str) -> attune_store::Result<Vec<attune_store::StudyRecord>> {
        self.0.list_studies(app)
    }
    fn delete_study(&self, app: &str, name: &str) -> attune_store::Result<bool> {
        self.0.delete_study(app, name)
    }
}

impl attune_store::MonitorStore for NullStore {
    fn put_points(
        &self,
        app: &str,
        points: &[attune_store::MetricPoint],
    ) -> attune_store::Result<()> {
        self.0.put_points(app, points)
    }
    fn scan_points(
        &self,
        app: &str,
        metric: &str,
        since_micros: i64,
        until_micros: i64,
        visit: &mut dyn FnMut(attune_store::MetricPoint) -> bool,
    ) -> attune_store::Result<()> {
        self.0
            .scan_points(app, metric, since_micros, until_micros, visit)
    }
    fn metric_names(&self, app: &str) -> attune_store::Result<Vec<String>> {
        self.0.metric_names(app)
    }
    fn prune_points(&self, app: &str, before_micros: i64) -> attune_store::Result<u64> {
        self.0.prune_points(app, before_micros)
    }
    fn put_alert(&self, app: &str, alert: &attune_store::AlertRecord) -> attune_store::Result<()> {
        self.0.put_alert(app, alert)
    }
    fn list_alerts(&self, app: &str) -> attune_store::Result<Vec<attune_store::AlertRecord>> {
        self.0.list_alerts(app)
    }
    fn put_training_profile(
        &self,
        app: &str,
        version: u32,
        profile: &str,
    ) -> attune_store::Result<()> {
        self.0.put_training_profile(app, version, profile)
    }
    fn get_training_profile(
        &self,
        app: &str,
        version: u32,
    ) -> attune_store::Result<Option<String>> {
        self.0.get_training_profile(app, version)
    }
}
