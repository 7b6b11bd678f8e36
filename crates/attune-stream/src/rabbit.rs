//! RabbitMQ as a second event source, sharing the Kafka consumer's validation, idempotence and
//! dead-letter logic ([`crate::batch::write_batch`]).
//!
//! A batch is the deliveries that arrive within `max_wait` of the first (at most `max_batch`,
//! which is also the channel's prefetch); it is acknowledged with one multiple-ack only after
//! its events are durably written and its dead letters confirmed by the broker (publisher
//! confirms on the dead-letter queue). A consumer that dies leaves its unacknowledged
//! deliveries to be redelivered, and ids make their second write a no-op.
//!
//! **Ids:** RabbitMQ has no stable message positions, so an event is named by its own
//! `event_id`, else by the AMQP `message_id` property; a message with neither is rejected to
//! the dead-letter queue (a redelivery of it could not be recognized).
//!
//! lapin is async; this runs it on its own executor, one blocking call per step, on the
//! consumer's thread.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use attune_core::event::EventRules;
use futures_lite::future::{block_on, or};
use futures_lite::StreamExt;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, QueueDeclareOptions,
};
use lapin::publisher_confirm::Confirmation;
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};

use crate::batch::{write_batch, DeadLetters, Incoming, Rules};
use crate::consume::EventSink;
use crate::decode::Position;
use crate::{Status, StreamError};

/// `[ingest.rabbitmq]`.
#[derive(Debug, Clone, PartialEq)]
pub struct RabbitConfig {
    /// `amqp://user:pass@host:port/vhost`.
    pub url: String,
    /// The events queue (declared durable if missing).
    pub queue: String,
    /// Where rejected messages go (declared durable if missing).
    pub dead_letter_queue: String,
    /// The app the events belong to.
    pub app: String,
    /// Most deliveries per batch (and the channel's prefetch).
    pub max_batch: usize,
    /// Longest wait for a batch to fill once its first delivery arrived.
    pub max_wait: Duration,
}

impl Default for RabbitConfig {
    fn default() -> Self {
        Self {
            url: "amqp://guest:guest@127.0.0.1:5672/%2f".into(),
            queue: "attune.events".into(),
            dead_letter_queue: "attune.events.dead".into(),
            app: "default".into(),
            max_batch: 2_000,
            max_wait: Duration::from_millis(20),
        }
    }
}

impl RabbitConfig {
    /// Check every value, naming the key at fault.
    pub fn validate(&self) -> Result<(), StreamError> {
        let bad = |key, reason: &str| {
            Err(StreamError::Config {
                key,
                reason: reason.to_string(),
            })
        };
        if !self.url.starts_with("amqp://") && !self.url.starts_with("amqps://") {
            return bad("ingest.rabbitmq.url", "must be an amqp:// URL");
        }
        if self.queue.trim().is_empty() || self.app.trim().is_empty() {
            return bad("ingest.rabbitmq.queue", "queue and app must not be empty");
        }
        if self.dead_letter_queue.trim().is_empty() || self.dead_letter_queue == self.queue {
            return bad(
                "ingest.rabbitmq.dead_letter_queue",
                "must be a queue of its own (a rejected message would come back)",
            );
        }
        if !(1..=u16::MAX as usize).contains(&self.max_batch) {
            return bad("ingest.rabbitmq.max_batch", "must be between 1 and 65535");
        }
        Ok(())
    }
}

/// One consumer on the events queue.
pub struct RabbitConsumer {
    config: RabbitConfig,
    rules: EventRules,
    strict: bool,
    status: Arc<Status>,
}

/// The channel dead letters are published on, with confirms.
struct DeadQueue<'a> {
    channel: &'a Channel,
    queue: &'a str,
}

impl DeadLetters for DeadQueue<'_> {
    fn deliver(&self, letters: &[(String, Vec<u8>)]) -> Result<(), String> {
        block_on(async {
            let mut confirms = Vec::with_capacity(letters.len());
            for (_, payload) in letters {
                let confirm = self
                    .channel
                    .basic_publish(
                        "",
                        self.queue,
                        BasicPublishOptions::default(),
                        payload,
                        // Persistent: the dead letter survives a broker restart.
                        BasicProperties::default().with_delivery_mode(2),
                    )
                    .await
                    .map_err(|e| e.to_string())?;
                confirms.push(confirm);
            }
            for c in confirms {
                match c.await.map_err(|e| e.to_string())? {
                    Confirmation::Ack(_) | Confirmation::NotRequested => {}
                    Confirmation::Nack(_) => return Err("the broker refused a dead letter".into()),
                }
            }
            Ok(())
        })
    }
}

impl RabbitConsumer {
    /// A consumer of `config.queue`; events are validated with `rules` (and `strict`), as
    /// `POST /v1/events` validates them. Connects when run.
    pub fn new(
        config: &RabbitConfig,
        rules: EventRules,
        strict: bool,
        status: Arc<Status>,
    ) -> Result<Self, StreamError> {
        config.validate()?;
        Ok(Self {
            config: config.clone(),
            rules,
            strict,
            status,
        })
    }

    /// Consume until `stop` is set, reconnecting with backoff while the broker is away.
    pub fn run(&self, sink: &dyn EventSink, stop: &AtomicBool) {
        let mut backoff = Duration::from_millis(100);
        while !stop.load(Relaxed) {
            match self.session(sink, stop) {
                Ok(()) => return,
                Err(e) => {
                    self.status.down(e);
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    /// One connection's life: declare, consume batches, until `stop` (Ok) or an error.
    fn session(&self, sink: &dyn EventSink, stop: &AtomicBool) -> Result<(), String> {
        let c = &self.config;
        let err = |e: lapin::Error| e.to_string();
        let conn =
            block_on(Connection::connect(&c.url, ConnectionProperties::default())).map_err(err)?;
        let channel = block_on(conn.create_channel()).map_err(err)?;
        let durable = QueueDeclareOptions {
            durable: true,
            ..QueueDeclareOptions::default()
        };
        for q in [&c.queue, &c.dead_letter_queue] {
            block_on(channel.queue_declare(q, durable, FieldTable::default())).map_err(err)?;
        }
        block_on(channel.basic_qos(c.max_batch as u16, BasicQosOptions::default())).map_err(err)?;
        let dead_channel = block_on(conn.create_channel()).map_err(err)?;
        block_on(dead_channel.confirm_select(ConfirmSelectOptions::default())).map_err(err)?;
        let mut consumer = block_on(channel.basic_consume(
            &c.queue,
            "attune",
            BasicConsumeOptions::default(),
            FieldTable::default(),
        ))
        .map_err(err)?;
        self.status.up();
        let dead = DeadQueue {
            channel: &dead_channel,
            queue: &c.dead_letter_queue,
        };
        let rules = Rules {
            events: &self.rules,
            strict: self.strict,
            app: &c.app,
        };
        while !stop.load(Relaxed) {
            let mut batch: Vec<Delivery> = Vec::new();
            let mut deadline = Instant::now() + Duration::from_millis(200);
            while batch.len() < c.max_batch {
                let next = block_on(or(async { Some(consumer.next().await) }, async {
                    async_io::Timer::at(deadline).await;
                    None
                }));
                match next {
                    None => break,
                    Some(None) => return Err("the broker cancelled the consumer".into()),
                    Some(Some(Err(e))) => return Err(e.to_string()),
                    Some(Some(Ok(d))) => {
                        if batch.is_empty() {
                            deadline = Instant::now() + c.max_wait;
                        }
                        batch.push(d);
                    }
                }
            }
            if batch.is_empty() {
                if !conn.status().connected() {
                    return Err("the connection to the broker closed".into());
                }
                continue;
            }
            let incoming: Vec<Incoming<'_>> = batch
                .iter()
                .map(|d| Incoming {
                    payload: Some(&d.data),
                    key: Some(d.routing_key.as_str().as_bytes()),
                    at: Position {
                        topic: &c.queue,
                        partition: 0,
                        offset: None,
                        timestamp_millis: d
                            .properties
                            .timestamp()
                            .map(|secs| (secs as i64).saturating_mul(1000)),
                        message_id: d.properties.message_id().as_ref().map(|m| m.as_str()),
                    },
                })
                .collect();
            if !write_batch(&incoming, &rules, sink, &dead, &self.status, stop) {
                // Stopped while failing: the deliveries go back to the queue on close.
                break;
            }
            let last = batch.last().map_or(0, |d| d.delivery_tag);
            block_on(channel.basic_ack(last, BasicAckOptions { multiple: true })).map_err(err)?;
            Status::add(&self.status.committed, batch.len());
        }
        let _ = block_on(conn.close(200, "attune consume stopping"));
        Ok(())
    }
}

/// Publish `messages` (`(message_id, payload)`) persistently to `queue` (declared durable if
/// missing) and wait for the broker's confirms: the producing site of the tests.
pub fn publish_all(
    url: &str,
    queue: &str,
    messages: &[(Option<String>, Vec<u8>)],
) -> Result<(), StreamError> {
    let fail = |e: lapin::Error| StreamError::Config {
        key: "ingest.rabbitmq.url",
        reason: e.to_string(),
    };
    block_on(async {
        let conn = Connection::connect(url, ConnectionProperties::default()).await?;
        let channel = conn.create_channel().await?;
        let durable = QueueDeclareOptions {
            durable: true,
            ..QueueDeclareOptions::default()
        };
        channel
            .queue_declare(queue, durable, FieldTable::default())
            .await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        let mut confirms = Vec::with_capacity(messages.len());
        for (id, payload) in messages {
            let mut props = BasicProperties::default().with_delivery_mode(2);
            if let Some(id) = id {
                props = props.with_message_id(id.as_str().into());
            }
            confirms.push(
                channel
                    .basic_publish("", queue, BasicPublishOptions::default(), payload, props)
                    .await?,
            );
        }
        for c in confirms {
            c.await?;
        }
        conn.close(200, "published").await
    })
    .map_err(fail)
}

/// Take up to `expect` messages off `queue` (acknowledged) within `timeout`; their payloads.
pub fn drain_queue(
    url: &str,
    queue: &str,
    expect: usize,
    timeout: Duration,
) -> Result<Vec<Vec<u8>>, StreamError> {
    let fail = |e: lapin::Error| StreamError::Config {
        key: "ingest.rabbitmq.url",
        reason: e.to_string(),
    };
    block_on(async {
        let conn = Connection::connect(url, ConnectionProperties::default()).await?;
        let channel = conn.create_channel().await?;
        let deadline = Instant::now() + timeout;
        let mut out = Vec::new();
        while out.len() < expect && Instant::now() < deadline {
            match channel
                .basic_get(queue, lapin::options::BasicGetOptions { no_ack: true })
                .await?
            {
                Some(m) => out.push(m.delivery.data),
                None => {
                    async_io::Timer::after(Duration::from_millis(50)).await;
                }
            }
        }
        conn.close(200, "drained").await?;
        Ok(out)
    })
    .map_err(fail)
}
