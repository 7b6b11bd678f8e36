//! One Kafka message into one event, with the same decoding and validation as
//! `POST /v1/events` ([`attune_server::api::event_from_json`], then
//! [`attune_core::event::validate`]), and a rejected message into its dead letter.
//!
//! Two things differ from HTTP, both so that redelivery is harmless: an event without an
//! `event_id` gets one derived from where the message sits in the log (topic, partition,
//! offset), not a random one, so the same message is the same event every time it is read;
//! and an event without a timestamp gets the message's own timestamp, not the time it was
//! read.

use attune_core::error::FieldError;
use attune_core::event::{validate, Event, EventRules};
use attune_core::time::Timestamp;
use serde_json::{json, Value};

/// Where a message sits in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position<'a> {
    /// Its topic.
    pub topic: &'a str,
    /// Its partition.
    pub partition: i32,
    /// Its offset in the partition (`None` on a broker without stable positions).
    pub offset: Option<i64>,
    /// The producer's (or broker's) timestamp, milliseconds since the epoch.
    pub timestamp_millis: Option<i64>,
    /// The message's own id (AMQP `message_id`): a broker without stable offsets names the
    /// event by it instead.
    pub message_id: Option<&'a str>,
}

impl Position<'_> {
    /// The event id of a message that carries none, stable across redeliveries: its
    /// `message_id`, else its log position; `None` when it has neither.
    pub fn event_id(&self) -> Option<String> {
        match (self.message_id, self.offset) {
            (Some(id), _) => Some(format!("{}-{id}", self.topic)),
            (None, Some(offset)) => Some(format!("{}-{}-{offset}", self.topic, self.partition)),
            (None, None) => None,
        }
    }
}

/// Decode and validate one message's payload. `now` is the read time, used for the
/// future-skew rule and only when the message has no timestamp of its own.
pub fn decode_event(
    payload: Option<&[u8]>,
    at: &Position<'_>,
    rules: &EventRules,
    strict: bool,
    now: Timestamp,
) -> Result<Event, Vec<FieldError>> {
    let bytes = payload.ok_or_else(|| vec![FieldError::new("message", "the message is empty")])?;
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| vec![FieldError::new("message", format!("not JSON: {e}"))])?;
    let raw = attune_server::api::event_from_json(&value, strict).map_err(|e| vec![e])?;
    let received = at.timestamp_millis.map_or(now, |ms| {
        Timestamp::from_utc_micros(ms.saturating_mul(1000))
    });
    let mut raw = raw;
    if raw.timestamp.is_none() {
        raw.timestamp = Some(received.to_rfc3339());
    }
    if raw.event_id.is_none() {
        raw.event_id = Some(at.event_id().ok_or_else(|| {
            vec![FieldError::new(
                "event_id",
                "required on this source unless the message has a message_id: a redelivery could not be recognized",
            )]
        })?);
    }
    validate(raw, rules, now, String::new).map_err(|e| e.errors)
}

/// The dead letter of a rejected message: where it was, why, and the payload as it came
/// (lossy UTF-8; the schema is in docs/streaming.md).
pub fn dead_letter(
    payload: Option<&[u8]>,
    key: Option<&[u8]>,
    at: &Position<'_>,
    errors: &[FieldError],
) -> Value {
    let text = |b: Option<&[u8]>| b.map(|b| String::from_utf8_lossy(b).into_owned());
    json!({
        "topic": at.topic,
        "partition": at.partition,
        "offset": at.offset,
        "key": text(key),
        "payload": text(payload),
        "errors": errors
            .iter()
            .map(|e| json!({"field": e.field, "reason": e.reason}))
            .collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const AT: Position<'static> = Position {
        topic: "attune.events",
        partition: 2,
        offset: Some(41),
        timestamp_millis: Some(1_764_000_000_000),
        message_id: None,
    };

    fn now() -> Timestamp {
        Timestamp::from_utc_micros(1_764_000_100_000_000)
    }

    fn decode(json: &str) -> Result<Event, Vec<FieldError>> {
        decode_event(
            Some(json.as_bytes()),
            &AT,
            &EventRules::default(),
            false,
            now(),
        )
    }

    #[test]
    fn an_event_without_id_or_time_gets_the_messages_own() {
        let e = decode(r#"{"type":"click","user_id":"u1","item_id":"i9"}"#).unwrap();
        assert_eq!(e.event_id, "attune.events-2-41");
        assert_eq!(e.timestamp.utc_micros, 1_764_000_000_000_000);
        // Read again (redelivery), the same event.
        assert_eq!(
            decode(r#"{"type":"click","user_id":"u1","item_id":"i9"}"#).unwrap(),
            e
        );
    }

    #[test]
    fn a_clients_id_and_time_are_kept() {
        let e = decode(
            r#"{"event_id":"e-1","type":"rating","user_id":"u1","item_id":"i9","value":4,
                "timestamp":"2025-11-24T15:00:00+01:00"}"#,
        )
        .unwrap();
        assert_eq!(e.event_id, "e-1");
        assert_eq!(e.value, Some(4.0));
        assert_eq!(
            e.timestamp.utc_micros,
            Timestamp::parse_rfc3339("2025-11-24T14:00:00Z")
                .unwrap()
                .utc_micros
        );
    }

    #[test]
    fn rejections_name_the_field_as_http_does() {
        let errs =
            decode(r#"{"type":"rating","user_id":"u1","item_id":"i9","value":9}"#).unwrap_err();
        assert!(errs.iter().any(|e| e.field == "value"), "{errs:?}");
        let errs = decode(r#"{"type":"click","item_id":"i9"}"#).unwrap_err();
        assert!(errs.iter().any(|e| e.field.contains("user_id")), "{errs:?}");
        let errs = decode("{not json").unwrap_err();
        assert_eq!(errs[0].field, "message");
        let errs = decode_event(None, &AT, &EventRules::default(), false, now()).unwrap_err();
        assert_eq!(errs[0].reason, "the message is empty");
    }

    #[test]
    fn without_a_stable_position_the_message_id_names_the_event_or_it_is_refused() {
        let at = Position {
            offset: None,
            message_id: Some("m-7"),
            ..AT
        };
        let body = br#"{"type":"click","user_id":"u1","item_id":"i9"}"#;
        let rules = EventRules::default();
        let e = decode_event(Some(body), &at, &rules, false, now()).unwrap();
        assert_eq!(e.event_id, "attune.events-m-7");
        let at = Position {
            message_id: None,
            ..at
        };
        let errs = decode_event(Some(body), &at, &rules, false, now()).unwrap_err();
        assert_eq!(errs[0].field, "event_id");
        // With its own id it needs neither.
        let body = br#"{"event_id":"e-2","type":"click","user_id":"u1","item_id":"i9"}"#;
        assert_eq!(
            decode_event(Some(body), &at, &rules, false, now())
                .unwrap()
                .event_id,
            "e-2"
        );
    }

    #[test]
    fn a_dead_letter_says_where_and_why() {
        let errs = vec![FieldError::new("value", "above rating_max")];
        let d = dead_letter(Some(b"{\"x\":1}"), Some(b"u1"), &AT, &errs);
        assert_eq!(d["offset"], 41);
        assert_eq!(d["key"], "u1");
        assert_eq!(d["payload"], "{\"x\":1}");
        assert_eq!(d["errors"][0]["field"], "value");
    }
}
