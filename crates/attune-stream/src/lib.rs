//! attune's streaming path over Kafka (docs/streaming.md).
//!
//! - [`consume`]: events from a topic into the store. Each message is one event, decoded and
//!   validated exactly as `POST /v1/events` does ([`decode`]); valid events are written in
//!   one durable transaction per batch and the batch's offsets are committed only after that
//!   write (and after its invalid messages reached the dead-letter topic). Event ids make the
//!   write idempotent, so a batch redelivered after a crash or a rebalance changes nothing.
//! - [`fanout`]: every change a replica commits (events from HTTP or Kafka, catalog upserts
//!   and deletions) to a changes topic, applied by every other replica's live state, so a
//!   click received by one replica changes the next list on all of them.
//! - [`rabbit`]: RabbitMQ as a second source, through the same batch logic.
//! - [`publish`]: served lists, impressions and attributed outcomes to topics.
//! - [`status`]: what each source has done and whether its broker answers, for `/ready`
//!   and `/metrics`.
//!
//! librdkafka is built from source (`cmake-build`); only this crate links it, and the binary
//! only with its `kafka` feature.

mod batch;
pub mod config;
pub mod consume;
pub mod decode;
pub mod error;
pub mod fanout;
mod producer;
pub mod publish;
pub mod rabbit;
pub mod status;
pub mod tools;

pub use config::KafkaConfig;
pub use consume::{Consumer, EventSink, StoreSink};
pub use error::StreamError;
pub use fanout::{Fanout, Follower};
pub use publish::TopicPublisher;
pub use status::Status;
