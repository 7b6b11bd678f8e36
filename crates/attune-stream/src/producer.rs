//! A producer that knows whether what it sent arrived: the dead-letter path must not commit
//! a batch whose rejected messages did not reach the broker.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::Duration;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{
    BaseRecord, DeliveryResult, Producer as _, ProducerContext, ThreadedProducer,
};
use rdkafka::ClientContext;

use crate::{KafkaConfig, StreamError};

/// Counts failed deliveries (librdkafka gave up on a message).
#[derive(Default)]
pub(crate) struct Deliveries {
    failed: AtomicU64,
    /// Messages [`Producer::try_send`] could not queue.
    dropped: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((e, _)) = result {
            self.failed.fetch_add(1, Relaxed);
            *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
        }
    }
}

/// One producer (a background thread polls its deliveries).
pub(crate) struct Producer {
    inner: ThreadedProducer<Deliveries>,
}

impl Producer {
    /// A producer for `config`'s brokers. `linger` trades latency for batching.
    pub(crate) fn new(config: &KafkaConfig, linger: Duration) -> Result<Self, StreamError> {
        let inner = config
            .client_config(&[
                ("linger.ms", &linger.as_millis().to_string()),
                ("message.timeout.ms", "30000"),
            ])
            .create_with_context(Deliveries::default())
            .map_err(StreamError::kafka("producer"))?;
        Ok(Self { inner })
    }

    /// Queue one message; waits while the local queue is full (backpressure).
    pub(crate) fn send(&self, topic: &str, key: &str, payload: &[u8]) -> Result<(), KafkaError> {
        let mut record = BaseRecord::to(topic).key(key).payload(payload);
        loop {
            match self.inner.send(record) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err((e, _)) => return Err(e),
            }
        }
    }

    /// Queue one message if there is room, else drop it; never waits (the request path's
    /// producers: a broker away for long must not stall ingestion or serving). Drops are
    /// counted and logged at 1, 2, 4, 8... so an outage does not flood the log.
    pub(crate) fn try_send(&self, topic: &str, key: &str, payload: &[u8]) {
        if let Err((e, _)) = self
            .inner
            .send(BaseRecord::to(topic).key(key).payload(payload))
        {
            let dropped = self.inner.context().dropped.fetch_add(1, Relaxed) + 1;
            if dropped.is_power_of_two() {
                tracing::warn!(error = %e, topic, dropped, "messages dropped: the producer queue is full or the broker refuses them");
            }
        }
    }

    /// Queue every message and wait until the broker acknowledged all of them; an error if
    /// any failed or `timeout` passed first.
    pub(crate) fn send_all(
        &self,
        topic: &str,
        records: &[(String, Vec<u8>)],
        timeout: Duration,
    ) -> Result<(), String> {
        let failed_before = self.inner.context().failed.load(Relaxed);
        for (key, payload) in records {
            self.send(topic, key, payload).map_err(|e| e.to_string())?;
        }
        self.inner.flush(timeout).map_err(|e| e.to_string())?;
        let failed = self.inner.context().failed.load(Relaxed) - failed_before;
        if failed > 0 {
            let why = self
                .inner
                .context()
                .last_error
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            return Err(format!(
                "{failed} message(s) to {topic} not delivered: {}",
                why.unwrap_or_default()
            ));
        }
        Ok(())
    }

    /// Wait for everything queued (shutdown).
    pub(crate) fn flush(&self, timeout: Duration) {
        if let Err(e) = self.inner.flush(timeout) {
            tracing::warn!(error = %e, "messages still queued at shutdown");
        }
    }
}
