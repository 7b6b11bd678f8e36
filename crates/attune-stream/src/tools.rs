//! Topic administration and a plain producer and reader: what `attune consume` needs to
//! create its topics, and what the benchmark and the tests use to play the producing site and
//! the downstream reader.

use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use crate::producer::Producer;
use crate::{KafkaConfig, StreamError};

/// Create each `(topic, partitions)` that does not exist yet.
pub fn create_topics(config: &KafkaConfig, topics: &[(&str, i32)]) -> Result<(), StreamError> {
    let admin: AdminClient<DefaultClientContext> = config
        .client_config(&[])
        .create()
        .map_err(StreamError::kafka("admin client"))?;
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|(name, partitions)| NewTopic::new(name, *partitions, TopicReplication::Fixed(1)))
        .collect();
    let opts = AdminOptions::new()
        .operation_timeout(Some(Duration::from_secs(10)))
        .request_timeout(Some(Duration::from_secs(5)));
    // A runtime on a thread of its own: the caller may be inside an async runtime already
    // (`attune serve`), where a nested one can neither block nor be dropped.
    let results = std::thread::scope(|s| {
        s.spawn(|| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .map_err(|e| StreamError::Config {
                    key: "ingest.kafka",
                    reason: format!("cannot start a runtime for the admin client: {e}"),
                })?;
            runtime
                .block_on(admin.create_topics(new.iter(), &opts))
                .map_err(StreamError::kafka("create topics"))
        })
        .join()
        .expect("the admin thread does not panic")
    })?;
    for r in results {
        match r {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                return Err(StreamError::kafka(format!("create topic {topic}"))(
                    rdkafka::error::KafkaError::AdminOp(code),
                ))
            }
        }
    }
    Ok(())
}

/// Sends keyed messages (the producing site of the benchmark and the tests).
pub struct Publisher {
    producer: Producer,
}

impl Publisher {
    /// A producer with a little batching (`linger`).
    pub fn new(config: &KafkaConfig, linger: Duration) -> Result<Self, StreamError> {
        Ok(Self {
            producer: Producer::new(config, linger)?,
        })
    }

    /// Queue one message (waits while the local queue is full).
    pub fn send(&self, topic: &str, key: &str, payload: &[u8]) -> Result<(), StreamError> {
        self.producer
            .send(topic, key, payload)
            .map_err(StreamError::kafka(format!("send to {topic}")))
    }

    /// Queue `records` and wait until the broker acknowledged every one.
    pub fn send_all(&self, topic: &str, records: &[(String, Vec<u8>)]) -> Result<(), StreamError> {
        self.producer
            .send_all(topic, records, Duration::from_secs(60))
            .map_err(|reason| StreamError::Config {
                key: "ingest.kafka.brokers",
                reason,
            })
    }

    /// Wait for everything queued.
    pub fn flush(&self) {
        self.producer.flush(Duration::from_secs(60));
    }
}

/// Read every message of `topic` from the start of each partition (assigned, no group) until
/// `expect` arrived or `timeout` passed; their payloads.
pub fn read_topic(
    config: &KafkaConfig,
    topic: &str,
    expect: usize,
    timeout: Duration,
) -> Result<Vec<Vec<u8>>, StreamError> {
    let consumer: BaseConsumer = config
        .client_config(&[
            ("group.id", "attune-reader"),
            ("enable.auto.commit", "false"),
        ])
        .create()
        .map_err(StreamError::kafka("reader"))?;
    let meta = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(5))
        .map_err(StreamError::kafka(format!("metadata of {topic}")))?;
    let mut tpl = TopicPartitionList::new();
    for t in meta.topics().iter().filter(|t| t.name() == topic) {
        for p in t.partitions() {
            tpl.add_partition_offset(topic, p.id(), Offset::Beginning)
                .map_err(StreamError::kafka(format!("assign {topic}")))?;
        }
    }
    consumer
        .assign(&tpl)
        .map_err(StreamError::kafka(format!("assign {topic}")))?;
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    while out.len() < expect && Instant::now() < deadline {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
            out.push(m.payload().unwrap_or_default().to_vec());
        }
    }
    Ok(out)
}
