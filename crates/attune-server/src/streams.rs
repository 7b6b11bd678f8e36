//! Streaming sources a server runs beside its HTTP API (`[ingest.kafka]`, docs/streaming.md):
//! their health in `/ready` and their per-stage counts in `/metrics`.
//!
//! The server does not know Kafka: a source (the `attune-stream` crate) implements
//! [`StreamSource`] and is handed to [`crate::AppState::with_stream`]. That keeps librdkafka
//! out of every build that does not ask for it.

/// A running stream source, as the server reports it.
pub trait StreamSource: Send + Sync {
    /// Short name for `/ready` and the `source` label (`kafka`, `kafka-fanout`).
    fn name(&self) -> &'static str;
    /// Its state now (cheap: atomics and a mutex, no network).
    fn status(&self) -> StreamStatus;
}

/// What a source has done since it started, and whether it can reach its broker.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StreamStatus {
    /// The broker answered the last health check.
    pub connected: bool,
    /// Why it is not connected (the client's last error), for `/ready`.
    pub detail: Option<String>,
    /// Messages read from the broker.
    pub received: u64,
    /// Valid events newly written to the store.
    pub written: u64,
    /// Valid events already stored (redelivery after a crash or rebalance).
    pub duplicates: u64,
    /// Messages that failed decoding or validation.
    pub rejected: u64,
    /// Rejected messages written to the dead-letter topic.
    pub dead_lettered: u64,
    /// Messages whose offsets were committed after their durable write.
    pub committed: u64,
    /// Produce-to-commit time of the newest committed message, in seconds (0 before the first).
    pub commit_lag_secs: f64,
}

impl StreamStatus {
    /// The per-stage counts, labelled as in `attune_stream_messages_total{source,stage}`.
    pub fn stages(&self) -> [(&'static str, u64); 6] {
        [
            ("received", self.received),
            ("written", self.written),
            ("duplicate", self.duplicates),
            ("rejected", self.rejected),
            ("dead_lettered", self.dead_lettered),
            ("committed", self.committed),
        ]
    }
}

/// What downstream analytics get (`[ingest.kafka] publish`, docs/streaming.md): every served
/// list, the impressions stored for it, and the outcomes that name a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Published {
    /// A served list: the response body with `app`, `user_id` and `served_at`.
    List,
    /// An impression event as stored (one per listed item), with `app`.
    Impression,
    /// A click, cart add, purchase or dwell carrying `context.recommendation_id`, with `app`.
    Outcome,
}

/// Receives what is published; implementations queue and return (they run on the request
/// path and the impression writer).
pub trait Publisher: Send + Sync {
    /// One record, keyed by user (so one user's records stay in order).
    fn publish(&self, what: Published, key: &str, payload: Vec<u8>);
}

/// The outcomes among committed `events` that name the list they came from (click-through
/// attribution; view-through is computed offline by `attune outcomes`).
pub fn attributed_outcomes(
    events: &[attune_core::event::Event],
) -> impl Iterator<Item = &attune_core::event::Event> {
    events.iter().filter(|e| {
        e.context.recommendation_id.is_some() && attune_core::attribution::Outcome::of(e).is_some()
    })
}

/// Publish each of `events` as `what` (impressions and outcomes: the exported event shape
/// with the app).
pub fn publish_events<'a>(
    publisher: &dyn Publisher,
    what: Published,
    app: &str,
    events: impl IntoIterator<Item = &'a attune_core::event::Event>,
) {
    for e in events {
        let mut v = crate::api::event_to_json(e);
        v["app"] = app.into();
        let key = e.user_key().unwrap_or_default();
        publisher.publish(what, key, v.to_string().into_bytes());
    }
}
