//! The JSON object an alert's store record carries beside its state (`AlertRecord::detail`):
//! what it said, when it last fired, and how its last notification went at each sink.
//! Written by the evaluator and the notifier, read by `GET /v1/alerts` and `attune alerts`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::alerts::notification::Status;
use crate::alerts::rule::Severity;

/// Where an alert comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// A configured rule, evaluated every tick.
    #[default]
    Rule,
    /// An event sent through `Notifier::send` (a rollback); it changes only when its sender
    /// sends again.
    Event,
}

/// How a notification went at one sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting in the sink's queue (or being retried).
    Queued,
    /// The receiver answered 2xx.
    Delivered,
    /// Every attempt failed, or the receiver refused it.
    Failed,
    /// The queue was full: never sent.
    Dropped,
}

/// The last notification of an alert at one sink.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// Which notification (firing or resolved).
    pub status: Status,
    /// How it went.
    pub state: DeliveryState,
    /// Attempts made so far.
    pub attempts: u32,
    /// When this was recorded, UTC micros.
    pub at_micros: i64,
    /// The last failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The detail object.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AlertDetail {
    /// Rule or event.
    pub source: Source,
    /// The severity it was sent with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    /// The annotations of the latest evaluation (or event).
    pub annotations: BTreeMap<String, String>,
    /// The baseline's value at the latest evaluation (`drop` rules).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<f64>,
    /// When it last started firing, UTC micros (a resolved notification's `startsAt`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fired_micros: Option<i64>,
    /// The last notification per sink (`webhook:<name>`).
    pub delivery: BTreeMap<String, Delivery>,
}

impl AlertDetail {
    /// A stored detail read back. Text this build cannot read (a newer writer, a hand edit)
    /// reads as empty rather than failing every listing of the app.
    pub fn parse(text: &str) -> Self {
        serde_json::from_str(text).unwrap_or_default()
    }

    /// The stored text.
    pub fn to_text(&self) -> String {
        serde_json::to_string(self).expect("plain data serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_unreadable_text_is_empty() {
        let mut d = AlertDetail {
            severity: Some(Severity::Critical),
            fired_micros: Some(5),
            ..AlertDetail::default()
        };
        d.annotations.insert("summary".into(), "low".into());
        d.delivery.insert(
            "webhook:ops".into(),
            Delivery {
                status: Status::Firing,
                state: DeliveryState::Failed,
                attempts: 3,
                at_micros: 9,
                error: Some("HTTP 500".into()),
            },
        );
        assert_eq!(AlertDetail::parse(&d.to_text()), d);
        assert_eq!(AlertDetail::parse("{}"), AlertDetail::default());
        assert_eq!(AlertDetail::parse("[1]"), AlertDetail::default());
    }
}
