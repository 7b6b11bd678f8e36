//! The events topic into the store: a consumer group member that writes each batch durably,
//! dead-letters what is invalid, applies the batch to live state, then commits its offsets.
//!
//! **Guarantee:** every valid event is stored exactly once and every invalid one reaches the
//! dead-letter topic at least once, whatever crashes or rebalances happen. Offsets move only
//! after the batch's write and dead letters are acknowledged, so a crash redelivers at most
//! the last uncommitted batch, and ids (the client's, or one derived from the message's
//! position, [`crate::decode`]) make the second write a no-op. What breaks it is in
//! docs/streaming.md (a producer that re-sends an event without its id, a topic deleted
//! under the group).
//!
//! **Backpressure:** the loop reads the next batch only when the last one is committed. A
//! slow or unavailable store stops consumption (the write is retried with backoff) instead
//! of buffering; the events wait in the broker.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use attune_core::event::{Event, EventRules};
use attune_server::streams::{attributed_outcomes, publish_events, Published, Publisher};
use attune_serving::feed::ChangeFeed;
use attune_serving::Serving;
use attune_store::{InsertStatus, Store, StoreError};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer as _, ConsumerContext, Rebalance};
use rdkafka::error::KafkaError;
use rdkafka::message::{Message, OwnedMessage};
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use crate::batch::{write_batch, DeadLetters, Incoming, Rules};
use crate::decode::Position;
use crate::producer::Producer;
use crate::{KafkaConfig, Status, StreamError};

/// Where a consumed batch goes.
pub trait EventSink: Send + Sync {
    /// Store `events` durably in one transaction; their statuses, in order.
    fn write(&self, app: &str, events: &[Event]) -> Result<Vec<InsertStatus>, StoreError>;
    /// The newly stored events, after the write: live state, the other replicas.
    fn committed(&self, app: &str, events: &[Event]);
}

/// The store, and the serving engine of this process (`attune serve`) or the replica fan-out
/// alone (`attune consume`, which serves nothing but must still move every replica).
pub struct StoreSink {
    /// The durable store.
    pub store: Arc<dyn Store>,
    /// This process's serving engine, if it serves.
    pub serving: Option<Arc<Serving>>,
    /// The fan-out to other replicas when there is no serving engine here to own it.
    pub fanout: Option<Arc<dyn ChangeFeed>>,
    /// Where attributed outcomes are published, when publishing is on.
    pub publisher: Option<Arc<dyn Publisher>>,
}

impl EventSink for StoreSink {
    fn write(&self, app: &str, events: &[Event]) -> Result<Vec<InsertStatus>, StoreError> {
        self.store.insert_events(app, events)
    }

    fn committed(&self, app: &str, events: &[Event]) {
        if let Some(p) = &self.publisher {
            publish_events(
                p.as_ref(),
                Published::Outcome,
                app,
                attributed_outcomes(events),
            );
        }
        if let Some(serving) = &self.serving {
            // Also sends them to the fan-out, when serving has one.
            serving.observe(app, events);
        } else if let Some(feed) = &self.fanout {
            feed.events(app, events);
        }
    }
}

/// Reports broker errors and partition assignments.
struct Context {
    status: Arc<Status>,
}

impl ClientContext for Context {
    fn error(&self, error: KafkaError, reason: &str) {
        // Transport errors: the health check confirms and clears them; others are logged.
        if matches!(error, KafkaError::Global(code) if is_transport(code)) {
            self.status.down(reason.to_string());
        } else {
            tracing::warn!(error = %error, reason, "kafka client error");
        }
    }
}

fn is_transport(code: rdkafka::types::RDKafkaErrorCode) -> bool {
    use rdkafka::types::RDKafkaErrorCode as C;
    matches!(
        code,
        C::AllBrokersDown | C::BrokerTransportFailure | C::Resolve | C::BrokerNotAvailable
    )
}

impl ConsumerContext for Context {
    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(tpl) => {
                tracing::info!(partitions = ?partitions(tpl), "partitions assigned")
            }
            Rebalance::Revoke(tpl) => {
                tracing::info!(partitions = ?partitions(tpl), "partitions revoked")
            }
            Rebalance::Error(e) => tracing::warn!(error = %e, "rebalance failed"),
        }
    }
}

fn partitions(tpl: &TopicPartitionList) -> Vec<i32> {
    tpl.elements().iter().map(|e| e.partition()).collect()
}

/// One member of the consumer group on the events topic.
pub struct Consumer {
    config: KafkaConfig,
    rules: EventRules,
    strict: bool,
    consumer: BaseConsumer<Context>,
    dead: Producer,
    status: Arc<Status>,
}

/// How often an idle consumer asks the broker whether it is there.
const HEALTH_EVERY: Duration = Duration::from_secs(1);

impl Consumer {
    /// Join `config.group_id` on `config.topic`; events are validated with `rules` (and
    /// `strict` unknown-member checks), as `POST /v1/events` validates them.
    pub fn new(
        config: &KafkaConfig,
        rules: EventRules,
        strict: bool,
        status: Arc<Status>,
    ) -> Result<Self, StreamError> {
        config.validate()?;
        let consumer: BaseConsumer<Context> = config
            .client_config(&[
                ("group.id", &config.group_id),
                ("enable.auto.commit", "false"),
                ("enable.auto.offset.store", "false"),
                ("auto.offset.reset", "earliest"),
                ("enable.partition.eof", "false"),
                // A broker may hold a fetch this long when nothing new arrived (tansu does even
                // when something did): short, so a click reaches the store and every list
                // within tens of milliseconds. `[ingest.kafka.client]` may raise it.
                ("fetch.wait.max.ms", "20"),
                // A member that died (kill -9) keeps its partitions until the session times
                // out: 10 s instead of librdkafka's 45, so its events move on within seconds;
                // joining the group is faster too.
                ("session.timeout.ms", "10000"),
                ("heartbeat.interval.ms", "1000"),
            ])
            .create_with_context(Context {
                status: status.clone(),
            })
            .map_err(StreamError::kafka("consumer"))?;
        consumer
            .subscribe(&[&config.topic])
            .map_err(StreamError::kafka(format!("subscribe to {}", config.topic)))?;
        let dead = Producer::new(config, Duration::from_millis(5))?;
        Ok(Self {
            config: config.clone(),
            rules,
            strict,
            consumer,
            dead,
            status,
        })
    }

    /// Consume until `stop` is set; the batch in hand when it is set is finished (written and
    /// committed) unless its write is still failing, in which case it is left to redelivery.
    pub fn run(&self, sink: &dyn EventSink, stop: &AtomicBool) {
        let mut last_check: Option<Instant> = None;
        while !stop.load(Relaxed) {
            let batch = self.next_batch();
            if batch.is_empty() {
                if last_check.is_none_or(|t| t.elapsed() >= HEALTH_EVERY) {
                    self.health_check();
                    last_check = Some(Instant::now());
                }
                continue;
            }
            self.status.up();
            last_check = Some(Instant::now());
            let start = Instant::now();
            self.handle(&batch, sink, stop);
            tracing::debug!(
                messages = batch.len(),
                took_ms = start.elapsed().as_secs_f64() * 1e3,
                "batch written and committed"
            );
        }
        self.dead.flush(Duration::from_secs(5));
    }

    /// Ask the broker for the topic's metadata: the answer (or its absence) is the health.
    fn health_check(&self) {
        match self
            .consumer
            .fetch_metadata(Some(&self.config.topic), Duration::from_secs(2))
        {
            Ok(_) => self.status.up(),
            Err(e) => self.status.down(e.to_string()),
        }
    }

    /// Up to `max_batch` messages: wait for the first, then at most `max_wait` for the rest.
    fn next_batch(&self) -> Vec<OwnedMessage> {
        let mut batch = Vec::new();
        let mut deadline: Option<Instant> = None;
        while batch.len() < self.config.max_batch {
            let wait = match deadline {
                None => Duration::from_millis(200),
                Some(d) => d.saturating_duration_since(Instant::now()),
            };
            match self.consumer.poll(wait) {
                Some(Ok(m)) => {
                    batch.push(m.detach());
                    deadline.get_or_insert_with(|| Instant::now() + self.config.max_wait);
                }
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "poll error");
                    break;
                }
                None => break,
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                break;
            }
        }
        batch
    }

    fn handle(&self, batch: &[OwnedMessage], sink: &dyn EventSink, stop: &AtomicBool) {
        let incoming: Vec<Incoming<'_>> = batch
            .iter()
            .map(|m| Incoming {
                payload: m.payload(),
                key: m.key(),
                at: Position {
                    topic: m.topic(),
                    partition: m.partition(),
                    offset: Some(m.offset()),
                    timestamp_millis: m.timestamp().to_millis(),
                    message_id: None,
                },
            })
            .collect();
        let rules = Rules {
            events: &self.rules,
            strict: self.strict,
            app: &self.config.app,
        };
        if write_batch(&incoming, &rules, sink, self, &self.status, stop) {
            // The offsets: the next message of each partition.
            self.commit(batch);
        }
    }

    fn commit(&self, batch: &[OwnedMessage]) {
        let mut next = std::collections::BTreeMap::new();
        for m in batch {
            let e = next.entry((m.topic(), m.partition())).or_insert(m.offset());
            *e = (*e).max(m.offset());
        }
        let mut tpl = TopicPartitionList::new();
        for ((topic, partition), offset) in next {
            if let Err(e) = tpl.add_partition_offset(topic, partition, Offset::Offset(offset + 1)) {
                tracing::warn!(error = %e, "offset not added");
            }
        }
        match self.consumer.commit(&tpl, CommitMode::Sync) {
            Ok(()) => {
                Status::add(&self.status.committed, batch.len());
                let newest = batch.iter().filter_map(|m| m.timestamp().to_millis()).max();
                if let Some(ms) = newest {
                    let now = chrono::Utc::now().timestamp_millis();
                    self.status
                        .set_commit_lag((now - ms).max(0) as f64 / 1000.0);
                }
            }
            // A partition revoked by a rebalance: its new owner reads the batch again and
            // the ids make that harmless.
            Err(e) => {
                tracing::warn!(error = %e, "offset commit failed; the batch will be redelivered")
            }
        }
    }
}

impl DeadLetters for Consumer {
    fn deliver(&self, letters: &[(String, Vec<u8>)]) -> Result<(), String> {
        self.dead.send_all(
            &self.config.dead_letter_topic,
            letters,
            Duration::from_secs(30),
        )
    }
}
