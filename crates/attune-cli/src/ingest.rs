//! `[ingest.kafka]`: the Kafka source and the replica fan-out, in `attune consume` and
//! `attune serve` (docs/streaming.md).
//!
//! The section is always parsed and checked, so a configuration means the same with or
//! without the `kafka` feature; only running it needs the feature (librdkafka is built from
//! source, which the inner build loop should not pay for).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `[ingest]`: sources other than HTTP.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IngestSection {
    pub kafka: KafkaSection,
    pub rabbitmq: RabbitSection,
}

/// `[ingest.rabbitmq]`: RabbitMQ as a second source (same validation, ids and dead letters).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RabbitSection {
    /// `attune serve` also consumes `queue`.
    pub consume: bool,
    pub url: String,
    pub queue: String,
    pub dead_letter_queue: String,
    pub app: String,
    pub max_batch: usize,
    pub max_wait_ms: u64,
}

impl Default for RabbitSection {
    fn default() -> Self {
        Self {
            consume: false,
            url: "amqp://guest:guest@127.0.0.1:5672/%2f".into(),
            queue: "attune.events".into(),
            dead_letter_queue: "attune.events.dead".into(),
            app: "default".into(),
            max_batch: 2_000,
            max_wait_ms: 20,
        }
    }
}

impl RabbitSection {
    /// Check every key (the same checks with or without the `kafka` feature, which also
    /// brings RabbitMQ).
    pub fn check(&self) -> anyhow::Result<()> {
        let ok = |key: &str, bad: bool, why: &str| {
            anyhow::ensure!(!bad, "invalid configuration: ingest.rabbitmq.{key} {why}");
            Ok(())
        };
        ok(
            "url",
            !(self.url.starts_with("amqp://") || self.url.starts_with("amqps://")),
            "must be an amqp:// URL",
        )?;
        ok("queue", self.queue.trim().is_empty(), "must not be empty")?;
        ok("app", self.app.trim().is_empty(), "must not be empty")?;
        ok(
            "dead_letter_queue",
            self.dead_letter_queue.trim().is_empty() || self.dead_letter_queue == self.queue,
            "must be a queue of its own (a rejected message would come back)",
        )?;
        ok(
            "max_batch",
            !(1..=65_535).contains(&self.max_batch),
            "must be between 1 and 65535",
        )?;
        Ok(())
    }

    /// The stream crate's settings.
    #[cfg(feature = "kafka")]
    pub fn to_stream(&self) -> attune_stream::rabbit::RabbitConfig {
        attune_stream::rabbit::RabbitConfig {
            url: self.url.clone(),
            queue: self.queue.clone(),
            dead_letter_queue: self.dead_letter_queue.clone(),
            app: self.app.clone(),
            max_batch: self.max_batch,
            max_wait: std::time::Duration::from_millis(self.max_wait_ms),
        }
    }
}

/// `[ingest.kafka]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaSection {
    /// `attune serve` also consumes the events topic (as one member of the group).
    pub consume: bool,
    /// `attune serve` sends its committed changes to `changes_topic` and applies the other
    /// replicas' (`attune consume` sends what it writes there when this is on).
    pub fanout: bool,
    /// `attune serve` (and `attune consume`, for outcomes) publishes served lists,
    /// impressions and attributed outcomes to the three topics below.
    pub publish: bool,
    pub brokers: String,
    pub topic: String,
    pub group_id: String,
    pub dead_letter_topic: String,
    pub changes_topic: String,
    pub lists_topic: String,
    pub impressions_topic: String,
    pub outcomes_topic: String,
    pub app: String,
    pub max_batch: usize,
    pub max_wait_ms: u64,
    /// Extra librdkafka properties, e.g. `"session.timeout.ms" = "6000"`.
    pub client: BTreeMap<String, String>,
}

impl Default for KafkaSection {
    fn default() -> Self {
        Self {
            consume: false,
            fanout: false,
            publish: false,
            brokers: "127.0.0.1:9092".into(),
            topic: "attune.events".into(),
            group_id: "attune".into(),
            dead_letter_topic: "attune.events.dead".into(),
            changes_topic: "attune.changes".into(),
            lists_topic: "attune.lists".into(),
            impressions_topic: "attune.impressions".into(),
            outcomes_topic: "attune.outcomes".into(),
            app: "default".into(),
            max_batch: 5_000,
            max_wait_ms: 20,
            client: BTreeMap::new(),
        }
    }
}

impl KafkaSection {
    /// Check every key (the same checks with or without the `kafka` feature).
    pub fn check(&self) -> anyhow::Result<()> {
        let c = self;
        let ok = |key: &str, bad: bool, why: &str| {
            anyhow::ensure!(!bad, "invalid configuration: ingest.kafka.{key} {why}");
            Ok(())
        };
        ok("brokers", c.brokers.trim().is_empty(), "must not be empty")?;
        ok("topic", c.topic.trim().is_empty(), "must not be empty")?;
        ok(
            "group_id",
            c.group_id.trim().is_empty(),
            "must not be empty",
        )?;
        ok("app", c.app.trim().is_empty(), "must not be empty")?;
        ok(
            "dead_letter_topic",
            c.dead_letter_topic.trim().is_empty() || c.dead_letter_topic == c.topic,
            "must be a topic of its own (a rejected message would come back)",
        )?;
        ok(
            "changes_topic",
            self.fanout
                && (c.changes_topic.trim().is_empty()
                    || c.changes_topic == c.topic
                    || c.changes_topic == c.dead_letter_topic),
            "must be a topic of its own when fanout is on",
        )?;
        ok("max_batch", c.max_batch == 0, "must be at least 1")?;
        for (key, topic) in [
            ("lists_topic", &c.lists_topic),
            ("impressions_topic", &c.impressions_topic),
            ("outcomes_topic", &c.outcomes_topic),
        ] {
            ok(
                key,
                self.publish && (topic.trim().is_empty() || *topic == c.topic),
                "must be a topic of its own when publish is on",
            )?;
        }
        Ok(())
    }

    /// Whether `attune serve` runs anything of this section.
    pub fn serves(&self) -> bool {
        self.consume || self.fanout || self.publish
    }

    /// The stream crate's settings.
    #[cfg(feature = "kafka")]
    pub fn to_stream(&self) -> attune_stream::KafkaConfig {
        attune_stream::KafkaConfig {
            brokers: self.brokers.clone(),
            topic: self.topic.clone(),
            group_id: self.group_id.clone(),
            dead_letter_topic: self.dead_letter_topic.clone(),
            app: self.app.clone(),
            max_batch: self.max_batch,
            max_wait: std::time::Duration::from_millis(self.max_wait_ms),
            changes_topic: self.fanout.then(|| self.changes_topic.clone()),
            publish: attune_stream::config::PublishTopics {
                lists: self.lists_topic.clone(),
                impressions: self.impressions_topic.clone(),
                outcomes: self.outcomes_topic.clone(),
            },
            client: self
                .client
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }
}

/// The error of a Kafka command or setting in a binary built without Kafka.
pub fn not_built() -> anyhow::Error {
    anyhow::anyhow!(
        "this attune was built without Kafka support; build it with `cargo build --release --features kafka` (docs/streaming.md)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_pass_and_bad_keys_are_named() {
        KafkaSection::default().check().unwrap();
        let mut s = KafkaSection {
            fanout: true,
            ..KafkaSection::default()
        };
        s.changes_topic = s.topic.clone();
        let e = s.check().unwrap_err().to_string();
        assert!(e.contains("ingest.kafka.changes_topic"), "{e}");
        let s = KafkaSection {
            max_batch: 0,
            ..KafkaSection::default()
        };
        assert!(s
            .check()
            .unwrap_err()
            .to_string()
            .contains("ingest.kafka.max_batch"));
        let s = KafkaSection {
            dead_letter_topic: "attune.events".into(),
            ..KafkaSection::default()
        };
        let e = s.check().unwrap_err().to_string();
        assert!(e.contains("ingest.kafka.dead_letter_topic"), "{e}");
    }

    #[test]
    fn rabbitmq_defaults_pass_and_bad_keys_are_named() {
        RabbitSection::default().check().unwrap();
        let cases = [
            (
                "url",
                RabbitSection {
                    url: "http://x".into(),
                    ..RabbitSection::default()
                },
            ),
            (
                "dead_letter_queue",
                RabbitSection {
                    dead_letter_queue: "attune.events".into(),
                    ..RabbitSection::default()
                },
            ),
            (
                "max_batch",
                RabbitSection {
                    max_batch: 70_000,
                    ..RabbitSection::default()
                },
            ),
        ];
        for (key, s) in cases {
            let e = s.check().unwrap_err().to_string();
            assert!(e.contains(&format!("ingest.rabbitmq.{key}")), "{e}");
        }
    }
}
