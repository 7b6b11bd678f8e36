//! Served lists, impressions and attributed outcomes to topics, for downstream analytics
//! (`[ingest.kafka] publish`; schemas in docs/streaming.md).
//!
//! Publishing is telemetry: a record is queued and the request goes on. When the broker is
//! away librdkafka keeps retrying for `message.timeout.ms` (30 s), then the record is
//! dropped and counted in the producer's failures; the store keeps impressions and outcomes
//! regardless, so `attune outcomes` never depends on the topics.

use std::time::Duration;

use attune_server::streams::{Published, Publisher};

use crate::producer::Producer;
use crate::{KafkaConfig, StreamError};

/// The publisher of one replica.
pub struct TopicPublisher {
    producer: Producer,
    topics: crate::config::PublishTopics,
}

impl TopicPublisher {
    /// Publish to `config.publish`'s topics.
    pub fn new(config: &KafkaConfig) -> Result<Self, StreamError> {
        Ok(Self {
            // Batched: analytics can wait a few milliseconds, the request path cannot.
            producer: Producer::new(config, Duration::from_millis(20))?,
            topics: config.publish.clone(),
        })
    }

    /// Wait for queued records (shutdown).
    pub fn flush(&self) {
        self.producer.flush(Duration::from_secs(5));
    }
}

impl Publisher for TopicPublisher {
    fn publish(&self, what: Published, key: &str, payload: Vec<u8>) {
        let topic = match what {
            Published::List => &self.topics.lists,
            Published::Impression => &self.topics.impressions,
            Published::Outcome => &self.topics.outcomes,
        };
        self.producer.try_send(topic, key, &payload);
    }
}
