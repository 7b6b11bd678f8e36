//! Every replica's committed changes to every other replica, through one changes topic.
//!
//! [`Fanout`] is the [`ChangeFeed`] a replica's serving engine sends its own changes to: the
//! events it committed (from HTTP or from the events topic), catalog upserts and deletions.
//! [`Follower`] reads the changes topic on every replica and applies what *other* replicas
//! sent (each message names its origin) to the local live state, trending and catalog. The
//! store already has the changes when they are sent, so applying one is the same as the
//! originating replica's own `observe` call.
//!
//! Each follower reads every partition itself (assigned, not a group: each replica needs
//! every change) from the end of the topic, and skips messages produced before it started,
//! which its own loads from the store already include.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use attune_core::catalog::Item;
use attune_core::event::{validate, Event, EventRules};
use attune_core::time::Timestamp;
use attune_server::api::{event_from_json, event_to_json, item_from_json, item_to_json};
use attune_serving::feed::ChangeFeed;
use attune_serving::Serving;
use rdkafka::consumer::{BaseConsumer, Consumer as _, DefaultConsumerContext};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use serde_json::{json, Value};

use crate::producer::Producer;
use crate::{KafkaConfig, Status, StreamError};

/// Events per changes message (keeps each message far below the broker's size limit).
const EVENTS_PER_MESSAGE: usize = 500;

/// Sends this replica's changes to the changes topic, tagged with its origin.
pub struct Fanout {
    producer: Producer,
    topic: String,
    origin: String,
}

impl Fanout {
    /// A fan-out to `config.changes_topic` for the replica named `origin` (unique per
    /// process: a follower skips its own origin's messages).
    pub fn new(config: &KafkaConfig, origin: &str) -> Result<Self, StreamError> {
        let topic = config.changes_topic.clone().ok_or(StreamError::Config {
            key: "ingest.kafka.changes_topic",
            reason: "the replica fan-out needs a changes topic".into(),
        })?;
        Ok(Self {
            // Latency matters more than batching here: a click should move every replica
            // within milliseconds.
            producer: Producer::new(config, Duration::from_millis(1))?,
            topic,
            origin: origin.to_string(),
        })
    }

    fn publish(&self, app: &str, change: (&str, Value)) {
        let body = json!({"origin": self.origin, "app": app, change.0: change.1});
        // A change that cannot be queued is dropped: it is stored, and the other replicas
        // see it when they next load the user or the catalog.
        self.producer
            .try_send(&self.topic, app, body.to_string().as_bytes());
    }

    /// Wait for queued changes (shutdown).
    pub fn flush(&self) {
        self.producer.flush(Duration::from_secs(5));
    }
}

impl ChangeFeed for Fanout {
    fn events(&self, app: &str, events: &[Event]) {
        for chunk in events.chunks(EVENTS_PER_MESSAGE) {
            let list: Vec<Value> = chunk.iter().map(event_to_json).collect();
            self.publish(app, ("events", list.into()));
        }
    }

    fn items_upserted(&self, app: &str, items: &[Item]) {
        let list: Vec<Value> = items.iter().map(item_to_json).collect();
        self.publish(app, ("items", list.into()));
    }

    fn items_deleted(&self, app: &str, ids: &[String]) {
        self.publish(app, ("deleted_items", ids.into()));
    }
}

/// Applies the other replicas' changes to this replica's serving engine.
pub struct Follower {
    consumer: BaseConsumer,
    topic: String,
    origin: String,
    rules: EventRules,
    status: Arc<Status>,
    started_millis: i64,
}

impl Follower {
    /// Follow `config.changes_topic` as the replica `origin`; events are decoded with the
    /// server's `rules`.
    pub fn new(
        config: &KafkaConfig,
        origin: &str,
        rules: EventRules,
        status: Arc<Status>,
    ) -> Result<Self, StreamError> {
        let topic = config.changes_topic.clone().ok_or(StreamError::Config {
            key: "ingest.kafka.changes_topic",
            reason: "following other replicas needs a changes topic".into(),
        })?;
        let consumer: BaseConsumer<DefaultConsumerContext> = config
            .client_config(&[
                // Assigned partitions, no group: the id only names the client.
                ("group.id", &format!("attune-follower-{origin}")),
                ("enable.auto.commit", "false"),
                ("fetch.wait.max.ms", "10"),
            ])
            .create()
            .map_err(StreamError::kafka("follower"))?;
        Ok(Self {
            consumer,
            topic,
            origin: origin.to_string(),
            rules,
            status,
            started_millis: chrono::Utc::now().timestamp_millis(),
        })
    }

    /// Assign every partition of the changes topic from its end; `false` while the broker
    /// or the topic cannot be seen.
    fn assign(&self) -> bool {
        let meta = match self
            .consumer
            .fetch_metadata(Some(&self.topic), Duration::from_secs(2))
        {
            Ok(m) => m,
            Err(e) => {
                self.status.down(e.to_string());
                return false;
            }
        };
        let Some(t) = meta.topics().iter().find(|t| t.name() == self.topic) else {
            self.status.down(format!("topic {} not found", self.topic));
            return false;
        };
        if t.partitions().is_empty() {
            self.status
                .down(format!("topic {} has no partitions", self.topic));
            return false;
        }
        let mut tpl = TopicPartitionList::new();
        for p in t.partitions() {
            if let Err(e) = tpl.add_partition_offset(&self.topic, p.id(), Offset::End) {
                self.status.down(e.to_string());
                return false;
            }
        }
        match self.consumer.assign(&tpl) {
            Ok(()) => {
                self.status.up();
                true
            }
            Err(e) => {
                self.status.down(e.to_string());
                false
            }
        }
    }

    /// Apply other replicas' changes to `serving` until `stop` is set.
    pub fn run(&self, serving: &Serving, stop: &AtomicBool) {
        while !stop.load(Relaxed) && !self.assign() {
            std::thread::sleep(Duration::from_millis(500));
        }
        let mut idle = std::time::Instant::now();
        while !stop.load(Relaxed) {
            match self.consumer.poll(Duration::from_millis(100)) {
                Some(Ok(m)) => {
                    idle = std::time::Instant::now();
                    self.status.up();
                    Status::add(&self.status.received, 1);
                    if m.timestamp()
                        .to_millis()
                        .is_some_and(|t| t < self.started_millis)
                    {
                        continue;
                    }
                    match self.apply(serving, m.payload()) {
                        Ok(true) => Status::add(&self.status.written, 1),
                        Ok(false) => {}
                        Err(e) => {
                            Status::add(&self.status.rejected, 1);
                            tracing::warn!(error = %e, offset = m.offset(), "change not applied");
                        }
                    }
                }
                Some(Err(e)) => tracing::debug!(error = %e, "follower poll error"),
                None => {
                    if idle.elapsed() >= Duration::from_secs(1) {
                        idle = std::time::Instant::now();
                        match self
                            .consumer
                            .fetch_metadata(Some(&self.topic), Duration::from_secs(2))
                        {
                            Ok(_) => self.status.up(),
                            Err(e) => self.status.down(e.to_string()),
                        }
                    }
                }
            }
        }
    }

    /// Apply one changes message; `Ok(false)` for this replica's own.
    fn apply(&self, serving: &Serving, payload: Option<&[u8]>) -> Result<bool, String> {
        let v: Value = serde_json::from_slice(payload.unwrap_or_default())
            .map_err(|e| format!("not JSON: {e}"))?;
        if v["origin"].as_str() == Some(self.origin.as_str()) {
            return Ok(false);
        }
        let app = v["app"].as_str().ok_or("no app")?;
        let now = Timestamp::from_utc_micros(chrono::Utc::now().timestamp_micros());
        if let Some(list) = v["events"].as_array() {
            let mut events = Vec::with_capacity(list.len());
            for e in list {
                let raw = event_from_json(e, false).map_err(|e| e.to_string())?;
                let event = validate(raw, &self.rules, now, String::new)
                    .map_err(|e| format!("{:?}", e.errors))?;
                events.push(event);
            }
            serving.apply_events(app, &events);
        }
        if let Some(list) = v["items"].as_array() {
            let mut items = Vec::with_capacity(list.len());
            for i in list {
                items.push(
                    item_from_json(None, i, false, &self.rules.limits)
                        .map_err(|e| format!("{:?}", e.errors))?,
                );
            }
            serving.apply_items(app, &items);
        }
        if let Some(list) = v["deleted_items"].as_array() {
            let ids: Vec<String> = list
                .iter()
                .filter_map(|i| i.as_str().map(str::to_string))
                .collect();
            serving.apply_deleted_items(app, &ids);
        }
        Ok(true)
    }
}
