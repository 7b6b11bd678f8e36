//! One batch of messages into the store, whichever broker they came from: decode and
//! validate each ([`crate::decode`]), one durable write, the dead letters delivered, live state
//! updated. The source acknowledges (Kafka: commits offsets; RabbitMQ: acks deliveries) only
//! when [`write_batch`] returns `true`, which is what makes every source exactly-once for
//! valid events and at-least-once for dead letters.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Duration;

use attune_core::event::{Event, EventRules};
use attune_core::time::Timestamp;
use attune_store::InsertStatus;

use crate::consume::EventSink;
use crate::decode::{dead_letter, decode_event, Position};
use crate::Status;

/// One message as every source sees it.
pub(crate) struct Incoming<'a> {
    /// The body.
    pub payload: Option<&'a [u8]>,
    /// The key (Kafka) or routing key (RabbitMQ).
    pub key: Option<&'a [u8]>,
    /// Where it sits, which names the event when the body carries no id.
    pub at: Position<'a>,
}

/// Where a source's rejected messages go; `Ok` only once the broker holds them.
pub(crate) trait DeadLetters {
    fn deliver(&self, letters: &[(String, Vec<u8>)]) -> Result<(), String>;
}

/// How the messages of one source are validated and where they are written.
pub(crate) struct Rules<'a> {
    pub events: &'a EventRules,
    pub strict: bool,
    pub app: &'a str,
}

/// Longest pause between retries of a failed write or dead-letter delivery.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Write `batch`; `true` when it is done and may be acknowledged, `false` when `stop` was
/// set while the write or the dead letters were still failing (then it is left to
/// redelivery).
pub(crate) fn write_batch(
    batch: &[Incoming<'_>],
    rules: &Rules<'_>,
    sink: &dyn EventSink,
    dead: &dyn DeadLetters,
    status: &Status,
    stop: &AtomicBool,
) -> bool {
    let now = Timestamp::from_utc_micros(chrono::Utc::now().timestamp_micros());
    let mut events = Vec::with_capacity(batch.len());
    let mut letters = Vec::new();
    for m in batch {
        match decode_event(m.payload, &m.at, rules.events, rules.strict, now) {
            Ok(e) => events.push(e),
            Err(errors) => {
                let letter = dead_letter(m.payload, m.key, &m.at, &errors);
                let key = m.key.map(|k| String::from_utf8_lossy(k).into_owned());
                letters.push((key.unwrap_or_default(), letter.to_string().into_bytes()));
            }
        }
    }
    Status::add(&status.received, batch.len());
    Status::add(&status.rejected, letters.len());
    // 1. The durable write, retried until it works: nothing is acknowledged before it.
    let statuses = if events.is_empty() {
        Vec::new()
    } else {
        let Some(s) = retry("store write", stop, || {
            sink.write(rules.app, &events).map_err(|e| e.to_string())
        }) else {
            return false;
        };
        s
    };
    // 2. The dead letters, held by the broker.
    if !letters.is_empty() {
        if retry("dead letters", stop, || dead.deliver(&letters)).is_none() {
            return false;
        }
        Status::add(&status.dead_lettered, letters.len());
    }
    // 3. Live state here and on every replica.
    let fresh: Vec<Event> = events
        .into_iter()
        .zip(&statuses)
        .filter(|(_, s)| **s == InsertStatus::Accepted)
        .map(|(e, _)| e)
        .collect();
    Status::add(&status.written, fresh.len());
    Status::add(&status.duplicates, statuses.len() - fresh.len());
    if !fresh.is_empty() {
        sink.committed(rules.app, &fresh);
    }
    true
}

/// Run `step` until it succeeds, backing off up to [`MAX_BACKOFF`]; `None` when `stop` was
/// set while it was failing.
fn retry<T>(
    what: &str,
    stop: &AtomicBool,
    mut step: impl FnMut() -> Result<T, String>,
) -> Option<T> {
    let mut backoff = Duration::from_millis(100);
    loop {
        match step() {
            Ok(v) => return Some(v),
            Err(e) => {
                tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "{what} failed");
                if stop.load(Relaxed) {
                    return None;
                }
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}
