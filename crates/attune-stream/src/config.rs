//! `[ingest.kafka]`: where events come from, where rejected ones and committed changes go.

use std::time::Duration;

use rdkafka::ClientConfig;

use crate::StreamError;

/// One Kafka source and the replica fan-out (see docs/streaming.md for every key).
#[derive(Debug, Clone, PartialEq)]
pub struct KafkaConfig {
    /// `bootstrap.servers`: `host:port[,host:port...]`.
    pub brokers: String,
    /// The events topic: one JSON event per message, keyed by user id (so one user's events
    /// stay in order on one partition).
    pub topic: String,
    /// The consumer group sharing the events topic's partitions.
    pub group_id: String,
    /// Where invalid messages go, with the reason.
    pub dead_letter_topic: String,
    /// The app the events belong to.
    pub app: String,
    /// Most messages written in one transaction.
    pub max_batch: usize,
    /// Longest wait for a batch to fill once its first message arrived.
    pub max_wait: Duration,
    /// The changes topic every replica follows (`None`: no fan-out).
    pub changes_topic: Option<String>,
    /// Where served lists, impressions and attributed outcomes are published.
    pub publish: PublishTopics,
    /// Extra librdkafka properties (`[ingest.kafka.client]`), e.g. `session.timeout.ms`.
    pub client: Vec<(String, String)>,
}

/// The topics of [`crate::publish::TopicPublisher`].
#[derive(Debug, Clone, PartialEq)]
pub struct PublishTopics {
    /// Every served list.
    pub lists: String,
    /// Every stored impression.
    pub impressions: String,
    /// Every outcome that names its list.
    pub outcomes: String,
}

impl Default for PublishTopics {
    fn default() -> Self {
        Self {
            lists: "attune.lists".into(),
            impressions: "attune.impressions".into(),
            outcomes: "attune.outcomes".into(),
        }
    }
}

impl Default for KafkaConfig {
    fn default() -> Self {
        Self {
            brokers: "127.0.0.1:9092".into(),
            topic: "attune.events".into(),
            group_id: "attune".into(),
            dead_letter_topic: "attune.events.dead".into(),
            app: "default".into(),
            max_batch: 5_000,
            max_wait: Duration::from_millis(20),
            changes_topic: Some("attune.changes".into()),
            publish: PublishTopics::default(),
            client: Vec::new(),
        }
    }
}

impl KafkaConfig {
    /// Check every value, naming the key at fault.
    pub fn validate(&self) -> Result<(), StreamError> {
        let bad = |key, reason: &str| {
            Err(StreamError::Config {
                key,
                reason: reason.to_string(),
            })
        };
        for (key, v) in [
            ("ingest.kafka.brokers", &self.brokers),
            ("ingest.kafka.topic", &self.topic),
            ("ingest.kafka.group_id", &self.group_id),
            ("ingest.kafka.dead_letter_topic", &self.dead_letter_topic),
            ("ingest.kafka.app", &self.app),
        ] {
            if v.trim().is_empty() {
                return bad(key, "must not be empty");
            }
        }
        if self.dead_letter_topic == self.topic {
            return bad(
                "ingest.kafka.dead_letter_topic",
                "must differ from the events topic (a rejected message would come back)",
            );
        }
        if let Some(c) = &self.changes_topic {
            if c.trim().is_empty() || *c == self.topic || *c == self.dead_letter_topic {
                return bad(
                    "ingest.kafka.changes_topic",
                    "must be a topic of its own (not empty, not the events or dead-letter topic)",
                );
            }
        }
        if self.max_batch == 0 {
            return bad("ingest.kafka.max_batch", "must be at least 1");
        }
        Ok(())
    }

    /// The librdkafka settings of one client: those every client of this source shares,
    /// then the client's own (`specific`), then `[ingest.kafka.client]`, which overrides both.
    pub(crate) fn client_config(&self, specific: &[(&str, &str)]) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.brokers)
            // Fail fast and retry ourselves: the health check reports a broker that is away.
            .set("socket.connection.setup.timeout.ms", "3000")
            .set("reconnect.backoff.max.ms", "1000");
        for (k, v) in specific {
            c.set(*k, *v);
        }
        for (k, v) in &self.client {
            c.set(k, v);
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A change that makes a configuration invalid.
    type Breaks = fn(&mut KafkaConfig);

    #[test]
    fn default_is_valid_and_each_bad_key_is_named() {
        KafkaConfig::default().validate().unwrap();
        let cases: [(&str, Breaks); 5] = [
            ("ingest.kafka.brokers", |c| c.brokers = " ".into()),
            ("ingest.kafka.app", |c| c.app.clear()),
            ("ingest.kafka.dead_letter_topic", |c| {
                c.dead_letter_topic = c.topic.clone()
            }),
            ("ingest.kafka.changes_topic", |c| {
                c.changes_topic = Some(c.topic.clone())
            }),
            ("ingest.kafka.max_batch", |c| c.max_batch = 0),
        ];
        for (key, breaks) in cases {
            let mut c = KafkaConfig::default();
            breaks(&mut c);
            let err = c.validate().unwrap_err().to_string();
            assert!(err.starts_with(key), "{key}: {err}");
        }
    }
}
