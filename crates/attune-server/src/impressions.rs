//! Impressions of served lists: one `impression` event per listed item, carrying the list's
//! `recommendation_id` and the item's position, so later clicks and purchases that carry the
//! same id attribute to the list that caused them.
//!
//! Logging never slows or fails a recommendation: events go through a bounded queue to a
//! background task that hands them to the group-commit writer; when the queue is full (a load
//! the store cannot keep up with) impressions are dropped and counted. Impressions are
//! telemetry the server creates, not data a client was promised to keep.
//!
//! The task commits at most once per `flush_every` (`[serving] impression_flush_ms`). Every
//! commit changes the store, and on SQLite a change makes every reader connection drop its
//! page cache; at 1,000 lists/s, committing impressions as they came meant hundreds of
//! commits a second and the serving path re-reading its pages from the OS after each
//! (measured: +48% on the uncached p99, docs/benchmarks.md "Monitoring's cost to serving").
//! The price is that impressions become visible up to `flush_every` late, and a crash loses
//! at most that much of them; a graceful stop flushes ([`ImpressionLog::flush`]).
//!
//! The commit itself (about 10,000 rows a second at that load, five B-trees each) runs on a
//! thread of its own at the lowest CPU priority (`SCHED_IDLE`, as the scheduler's loops), not
//! on the group-commit writer: a request thread that wakes preempts it at once. The cost is
//! that on a machine saturated for long, impressions wait, and a client's ingestion can wait
//! behind the impression transaction that holds SQLite's writer; both only when there is no
//! idle CPU at all.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use attune_core::attribution::names;
use attune_core::event::{Context, Event, EventType, PropValue, Properties};
use attune_core::time::Timestamp;
use attune_serving::{RecList, Source};
use tokio::sync::{mpsc, oneshot};

use attune_store::Store;

use crate::metrics::Metrics;
use crate::streams::{publish_events, Published, Publisher};

/// Impressions waiting for the writer, at most.
const QUEUE: usize = 100_000;
/// Impressions written in one commit, at most (the group-commit writer's own cap).
const MAX_BATCH: usize = 20_000;

// Boxing the event would add an allocation per impression on the request path; the queue
// allocates its blocks as they fill, so the size matters only while impressions wait.
#[allow(clippy::large_enum_variant)]
enum Message {
    Impression(String, Event),
    /// Commit everything queued before this, then answer.
    Flush(oneshot::Sender<()>),
}

/// What is logged and how often it is committed (`[serving]` `log_impressions`,
/// `impression_flush_ms`, `impression_cold_start_sample`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImpressionSettings {
    /// Log served lists at all.
    pub enabled: bool,
    /// Commit at most this often (zero: as soon as the writer is free).
    pub flush_every: Duration,
    /// Fraction of cold-start lists (users with no history: often ids never seen before,
    /// crawlers, one-off visitors) whose impressions are logged, chosen by a hash of the
    /// list's `recommendation_id`: 1 logs all, 0 none. Every other list is always logged.
    pub cold_start_sample: f64,
}

impl Default for ImpressionSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            flush_every: Duration::from_secs(1),
            cold_start_sample: 1.0,
        }
    }
}

/// The handle handlers log through. The writer task starts with the first logged list (on
/// the runtime serving that request).
#[derive(Clone)]
pub(crate) struct ImpressionLog {
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
    settings: ImpressionSettings,
    /// Stored impressions are published here too, when a publisher is set.
    publisher: Arc<OnceLock<Arc<dyn Publisher>>>,
    tx: Arc<OnceLock<mpsc::Sender<Message>>>,
    /// Impressions dropped because the queue was full.
    pub dropped: Arc<AtomicU64>,
    /// Cold-start lists not logged (`cold_start_sample`).
    pub unsampled: Arc<AtomicU64>,
}

impl ImpressionLog {
    /// A log committing to `store`, each commit recorded in `metrics`.
    pub(crate) fn new(
        store: Arc<dyn Store>,
        metrics: Arc<Metrics>,
        settings: ImpressionSettings,
        publisher: Arc<OnceLock<Arc<dyn Publisher>>>,
    ) -> Self {
        Self {
            store,
            metrics,
            settings,
            publisher,
            tx: Arc::default(),
            dropped: Arc::default(),
            unsampled: Arc::default(),
        }
    }

    /// Whether lists are logged at all.
    pub(crate) fn enabled(&self) -> bool {
        self.settings.enabled
    }

    fn sender(&self) -> &mpsc::Sender<Message> {
        self.tx.get_or_init(|| {
            let (tx, rx) = mpsc::channel(QUEUE);
            let writer = Writer::start(
                self.store.clone(),
                self.metrics.clone(),
                self.publisher.clone(),
            );
            tokio::spawn(run(writer, rx, self.settings.flush_every));
            tx
        })
    }

    /// Whether this list's impressions are logged: all but the unsampled share of
    /// cold-start lists.
    fn sampled(&self, list: &RecList) -> bool {
        let rate = self.settings.cold_start_sample;
        if list.source != Source::ColdStart || rate >= 1.0 {
            return true;
        }
        // The id is random per response; a fixed-key hash of it is a uniform, reproducible
        // draw (the same list always gets the same answer).
        use std::hash::{Hash, Hasher};
        let mut h = std::hash::DefaultHasher::new();
        list.recommendation_id.hash(&mut h);
        (h.finish() as f64) < rate * (u64::MAX as f64)
    }

    /// Wait until every impression logged so far is committed (or failed). Returns at once
    /// if nothing was ever logged.
    pub(crate) async fn flush(&self) {
        let Some(tx) = self.tx.get() else { return };
        let (done, wait) = oneshot::channel();
        if tx.send(Message::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

/// The writer task: collect for `flush_every` after the first impression (or until a flush
/// asks, or the batch is full), then commit the batch, one insert per app.
async fn run(writer: Writer, mut rx: mpsc::Receiver<Message>, flush_every: Duration) {
    let mut batch: Vec<(String, Event)> = Vec::new();
    let mut flushes: Vec<oneshot::Sender<()>> = Vec::new();
    let mut received: Vec<Message> = Vec::new();
    while rx.recv_many(&mut received, MAX_BATCH).await > 0 {
        let deadline = tokio::time::Instant::now() + flush_every;
        loop {
            for m in received.drain(..) {
                match m {
                    Message::Impression(app, e) => batch.push((app, e)),
                    Message::Flush(done) => flushes.push(done),
                }
            }
            if !flushes.is_empty() || batch.len() >= MAX_BATCH {
                break;
            }
            let room = MAX_BATCH - batch.len();
            match tokio::time::timeout_at(deadline, rx.recv_many(&mut received, room)).await {
                Ok(n) if n > 0 => {}
                _ => break,
            }
        }
        writer.write(std::mem::take(&mut batch)).await;
        for done in flushes.drain(..) {
            let _ = done.send(());
        }
    }
}

/// A batch of `(app, impression)` for the writer thread, and who waits for its commit.
type Job = (Vec<(String, Event)>, oneshot::Sender<()>);

/// The thread that commits batches, at background priority.
struct Writer {
    tx: std::sync::mpsc::Sender<Job>,
}

impl Writer {
    fn start(
        store: Arc<dyn Store>,
        metrics: Arc<Metrics>,
        publisher: Arc<OnceLock<Arc<dyn Publisher>>>,
    ) -> Self {
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        let spawned = std::thread::Builder::new()
            .name("attune-impressions".into())
            .spawn(move || {
                attune_pipeline::schedule::background_priority();
                while let Ok((batch, done)) = rx.recv() {
                    commit(store.as_ref(), &metrics, publisher.get(), batch);
                    let _ = done.send(());
                }
            });
        if let Err(e) = spawned {
            // The batches then fail to send and are counted as not stored.
            tracing::warn!(error = %e, "cannot start the impression writer; impressions are not stored");
        }
        Self { tx }
    }

    /// Commit `batch` and wait for it (without blocking the runtime).
    async fn write(&self, batch: Vec<(String, Event)>) {
        if batch.is_empty() {
            return;
        }
        let (done, wait) = oneshot::channel();
        let n = batch.len();
        if self.tx.send((batch, done)).is_err() || wait.await.is_err() {
            tracing::warn!(
                impressions = n,
                "the impression writer has stopped; impressions lost"
            );
        }
    }
}

/// One insert per app, each app's impressions in the order they were served.
fn commit(
    store: &dyn Store,
    metrics: &Metrics,
    publisher: Option<&Arc<dyn Publisher>>,
    mut batch: Vec<(String, Event)>,
) {
    batch.sort_by(|a, b| a.0.cmp(&b.0));
    let mut by_app: Vec<(String, Vec<Event>)> = Vec::new();
    for (app, e) in batch {
        match by_app.last_mut() {
            Some((a, v)) if *a == app => v.push(e),
            _ => by_app.push((app, vec![e])),
        }
    }
    for (app, events) in by_app {
        let start = std::time::Instant::now();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            store.insert_events(&app, &events)
        }));
        metrics.commit(events.len(), 1, start.elapsed());
        match result {
            Ok(Ok(_)) => {
                if let Some(p) = publisher {
                    publish_events(p.as_ref(), Published::Impression, &app, &events);
                }
            }
            Ok(Err(e)) => tracing::warn!(app, error = %e, "impressions could not be stored"),
            Err(_) => tracing::warn!(app, "the store panicked while storing impressions"),
        }
    }
}

impl ImpressionLog {
    /// Log one served list for `user`: item ids in list order, each with its reason kind, and
    /// the list's facts attribution and monitoring read back (`attune_core::attribution`):
    /// id, position, source, model version, and on the first item the time it took to
    /// compute.
    pub(crate) fn log(&self, app: &str, user: &str, list: &RecList, latency: std::time::Duration) {
        if !self.sampled(list) {
            self.unsampled.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let (recommendation_id, model_version) = (&list.recommendation_id, list.model_version);
        let now = Timestamp::from_utc_micros(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_micros() as i64),
        );
        let context = Context {
            experiment: list.experiment.as_ref().map(|x| x.name.clone()),
            variant: list.experiment.as_ref().map(|x| x.variant.clone()),
            ..Context::default()
        };
        for (position, r) in list.items.iter().enumerate() {
            let item = &r.item_id;
            let mut extra = std::collections::BTreeMap::new();
            extra.insert(
                names::RECOMMENDATION_ID.to_string(),
                PropValue::Text(recommendation_id.to_string()),
            );
            extra.insert(
                names::POSITION.to_string(),
                PropValue::Number((position + 1) as f64),
            );
            extra.insert(
                names::SOURCE.to_string(),
                PropValue::Text(list.source.as_str().to_string()),
            );
            extra.insert(
                names::REASON.to_string(),
                PropValue::Text(r.reason.kind().to_string()),
            );
            if position == 0 {
                extra.insert(
                    names::LATENCY_MS.to_string(),
                    PropValue::Number(latency.as_secs_f64() * 1e3),
                );
            }
            if let Some(v) = model_version {
                extra.insert(
                    names::MODEL_VERSION.to_string(),
                    PropValue::Number(f64::from(v)),
                );
            }
            let e = Event {
                event_id: format!("{recommendation_id}:{}", position + 1),
                event_type: EventType::Impression,
                user_id: Some(user.to_string()),
                anonymous_id: None,
                item_id: Some(item.clone()),
                timestamp: now,
                value: None,
                properties: Properties {
                    extra,
                    ..Properties::default()
                },
                context: context.clone(),
            };
            if self
                .sender()
                .try_send(Message::Impression(app.to_string(), e))
                .is_err()
            {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use attune_serving::{Reason, Recommended};
    use attune_store::EventFilter;

    fn list(n: usize) -> RecList {
        let items: Vec<Recommended> = (0..5)
            .map(|i| Recommended {
                item_id: format!("SKU-{n}-{i}"),
                score: 1.0 - i as f32 / 10.0,
                title: None,
                reason: Reason::Popular,
                explanation: "Popular".into(),
                reason_item: None,
                reason_category: None,
            })
            .collect();
        RecList {
            recommendation_id: format!("rec-{n}"),
            model_version: Some(3),
            source: Source::Popular,
            items: items.into(),
            cached: false,
            experiment: None,
            segment: None,
        }
    }

    fn stored(store: &dyn Store) -> Vec<Event> {
        let mut out = Vec::new();
        store
            .scan_events("default", &EventFilter::default(), &mut |e| {
                out.push(e);
                true
            })
            .unwrap();
        out
    }

    fn setup(flush_every: Duration) -> (tempfile::TempDir, Arc<dyn Store>, ImpressionLog) {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> =
            Arc::new(attune_store::sqlite::SqliteStore::open(dir.path().join("a.db")).unwrap());
        store.create_app("default").unwrap();
        let settings = ImpressionSettings {
            flush_every,
            ..ImpressionSettings::default()
        };
        let metrics = Arc::new(Metrics::new("sqlite"));
        (
            dir,
            store.clone(),
            ImpressionLog::new(store, metrics, settings, Arc::default()),
        )
    }

    /// Within the flush interval nothing is committed; `flush` (a graceful stop) commits every
    /// pending impression, each list's items in served order with their positions.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn impressions_wait_for_the_interval_and_flush_commits_them_all() {
        let (_dir, store, log) = setup(Duration::from_secs(3600));
        for n in 0..20 {
            log.log(
                "default",
                &format!("u{n}"),
                &list(n),
                Duration::from_millis(2),
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            stored(store.as_ref()).is_empty(),
            "committed before the interval"
        );

        log.flush().await;
        let events = stored(store.as_ref());
        assert_eq!(events.len(), 100);
        assert_eq!(log.dropped.load(Ordering::Relaxed), 0);
        let first: Vec<&Event> = events
            .iter()
            .filter(|e| {
                e.properties.extra[names::RECOMMENDATION_ID] == PropValue::Text("rec-7".into())
            })
            .collect();
        let order: Vec<(&str, f64)> = first
            .iter()
            .map(|e| match &e.properties.extra[names::POSITION] {
                PropValue::Number(p) => (e.item_id.as_deref().unwrap(), *p),
                other => panic!("position {other:?}"),
            })
            .collect();
        assert_eq!(
            order,
            [
                ("SKU-7-0", 1.0),
                ("SKU-7-1", 2.0),
                ("SKU-7-2", 3.0),
                ("SKU-7-3", 4.0),
                ("SKU-7-4", 5.0)
            ]
        );
        assert!(first.iter().all(|e| e.user_id.as_deref() == Some("u7")));
    }

    /// With a zero interval impressions are committed as soon as the writer is free, without
    /// a flush.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_zero_interval_commits_without_a_flush() {
        let (_dir, store, log) = setup(Duration::ZERO);
        log.log("default", "u1", &list(1), Duration::from_millis(2));
        let started = std::time::Instant::now();
        while stored(store.as_ref()).len() < 5 {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "never committed"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Cold-start lists are logged at the configured rate (reproducibly: a list's answer
    /// depends on its id only); personalized lists always.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cold_start_lists_are_sampled_and_the_rest_always_logged() {
        let (_dir, store, log) = setup(Duration::from_secs(3600));
        let log = ImpressionLog {
            settings: ImpressionSettings {
                cold_start_sample: 0.25,
                ..log.settings
            },
            ..log
        };
        let cold = |n| RecList {
            source: Source::ColdStart,
            ..list(n)
        };
        let kept: Vec<bool> = (0..2000).map(|n| log.sampled(&cold(n))).collect();
        let share = kept.iter().filter(|k| **k).count() as f64 / 2000.0;
        assert!((0.21..0.29).contains(&share), "share {share}");
        assert_eq!(
            kept,
            (0..2000).map(|n| log.sampled(&cold(n))).collect::<Vec<_>>()
        );
        assert!((0..200).all(|n| log.sampled(&list(n))));

        for n in 0..40 {
            log.log("default", "ghost", &cold(n), Duration::ZERO);
        }
        log.flush().await;
        let logged = (0..40).filter(|n| kept[*n]).count();
        assert_eq!(stored(store.as_ref()).len(), logged * 5);
        assert_eq!(log.unsampled.load(Ordering::Relaxed), (40 - logged) as u64);
        let none = ImpressionLog {
            settings: ImpressionSettings {
                cold_start_sample: 0.0,
                ..log.settings
            },
            ..log.clone()
        };
        assert!((0..500).all(|n| !none.sampled(&cold(n))));
    }

    /// A flush before anything was logged answers at once.
    #[tokio::test]
    async fn flush_without_impressions_returns() {
        let (_dir, store, log) = setup(Duration::from_secs(3600));
        log.flush().await;
        assert!(stored(store.as_ref()).is_empty());
    }
}
