//! Impressions of served lists: one `impression` event per listed item, carrying the list's
//! `recommendation_id` and the item's position, so later clicks and purchases that carry the
//! same id attribute to the list that caused them.
//!
//! Logging never slows or fails a recommendation: events go through a bounded queue to a
//! background task that hands them to the group-commit writer; when the queue is full (a load
//! the store cannot keep up with) impressions are dropped and counted. Impressions are
//! telemetry the server creates, not data a client was promised to keep.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use attune_core::attribution::names;
use attune_core::event::{Context, Event, EventType, PropValue, Properties};
use attune_core::time::Timestamp;
use attune_serving::RecList;
use tokio::sync::mpsc;

use crate::ingest::Ingester;

/// Impressions waiting for the writer, at most.
const QUEUE: usize = 100_000;

/// The handle handlers log through. The writer task starts with the first logged list (on
/// the runtime serving that request).
#[derive(Clone)]
pub(crate) struct ImpressionLog {
    ingester: Ingester,
    tx: Arc<OnceLock<mpsc::Sender<(String, Event)>>>,
    /// Impressions dropped because the queue was full.
    pub dropped: Arc<AtomicU64>,
}

impl ImpressionLog {
    pub(crate) fn new(ingester: Ingester) -> Self {
        Self {
            ingester,
            tx: Arc::default(),
            dropped: Arc::default(),
        }
    }

    fn sender(&self) -> &mpsc::Sender<(String, Event)> {
        self.tx.get_or_init(|| start(self.ingester.clone()))
    }
}

fn start(ingester: Ingester) -> mpsc::Sender<(String, Event)> {
    {
        let (tx, mut rx) = mpsc::channel::<(String, Event)>(QUEUE);
        tokio::spawn(async move {
            let mut batch: Vec<(String, Event)> = Vec::new();
            while let Some(first) = rx.recv().await {
                batch.push(first);
                while batch.len() < 5_000 {
                    match rx.try_recv() {
                        Ok(e) => batch.push(e),
                        Err(_) => break,
                    }
                }
                batch.sort_by(|a, b| a.0.cmp(&b.0));
                let mut by_app: Vec<(String, Vec<Event>)> = Vec::new();
                for (app, e) in batch.drain(..) {
                    match by_app.last_mut() {
                        Some((a, v)) if *a == app => v.push(e),
                        _ => by_app.push((app, vec![e])),
                    }
                }
                for (app, events) in by_app {
                    if let Err(e) = ingester.insert(app.clone(), events).await {
                        tracing::warn!(app, error = ?e, "impressions could not be stored");
                    }
                }
            }
        });
        tx
    }
}

impl ImpressionLog {
    /// Log one served list for `user`: item ids in list order, each with its reason kind, and
    /// the list's facts attribution and monitoring read back (`attune_core::attribution`):
    /// id, position, source, model version, and on the first item the time it took to
    /// compute.
    pub(crate) fn log(&self, app: &str, user: &str, list: &RecList, latency: std::time::Duration) {
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
            if self.sender().try_send((app.to_string(), e)).is_err() {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}
