//! Errors of the streaming path.

/// Why a stream source could not start or a message could not be handled.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// The Kafka client refused its configuration or failed (names the setting or call).
    #[error("kafka {what}: {source}")]
    Kafka {
        /// What was being done.
        what: String,
        /// The client's error.
        #[source]
        source: rdkafka::error::KafkaError,
    },
    /// A configuration value is unusable (names the key).
    #[error("{key}: {reason}")]
    Config {
        /// The `[ingest.kafka]` key at fault.
        key: &'static str,
        /// Why.
        reason: String,
    },
    /// The store refused a write.
    #[error(transparent)]
    Store(#[from] attune_store::StoreError),
}

impl StreamError {
    pub(crate) fn kafka(
        what: impl Into<String>,
    ) -> impl FnOnce(rdkafka::error::KafkaError) -> Self {
        let what = what.into();
        move |source| Self::Kafka { what, source }
    }
}
