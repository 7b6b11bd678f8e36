//! Encoding shared by both backends: JSON columns, event-type names, integer ranges, and the
//! neutral event row both backends decode into.
//!
//! JSON columns are plain text (SQLite `TEXT`, PostgreSQL `TEXT`), written and read by serde_json
//! with `float_roundtrip`, so every finite `f64` comes back bit-identical. (`jsonb` would turn
//! numbers into `numeric` and lose the sign of `-0.0`; later work can cast `extra::jsonb`.)

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use attune_core::catalog::AttrValue;
use attune_core::event::{Context, Event, EventType, PropValue, Properties};
use attune_core::time::Timestamp;
use serde_json::{Map, Number, Value};

use crate::{EventFilter, Result, StoreError};

/// Server clock in UTC microseconds (for `received_micros`, `updated_micros`, ...).
pub(crate) fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// The event columns, in the order [`EventRow`] is read and written (after `app_id`), as a
/// literal for `concat!`.
macro_rules! event_columns {
    () => {
        "event_id, event_type, user_id, anonymous_id, item_id, ts_micros, tz_offset_secs, value, dwell_ms, \
         scroll_depth, hover_ms, price, quantity, rating, extra, session_id, device, page, recommendation_id, \
         experiment, variant"
    };
}
pub(crate) use event_columns;

/// A scalar that maps to a JSON bool / number / string.
pub(crate) trait JsonScalar: Sized {
    fn to_json(&self) -> Option<Value>;
    fn from_json(v: &Value) -> Option<Self>;
}

fn number(n: f64) -> Option<Value> {
    Number::from_f64(n).map(Value::Number)
}

impl JsonScalar for AttrValue {
    fn to_json(&self) -> Option<Value> {
        match self {
            AttrValue::Bool(b) => Some(Value::Bool(*b)),
            AttrValue::Number(n) => number(*n),
            AttrValue::Text(s) => Some(Value::String(s.clone())),
            // An array of numbers; f32 -> f64 is exact, so it reads back bit for bit.
            AttrValue::Vector(v) => v
                .iter()
                .map(|&x| number(f64::from(x)))
                .collect::<Option<Vec<Value>>>()
                .map(Value::Array),
        }
    }
    fn from_json(v: &Value) -> Option<Self> {
        match v {
            Value::Bool(b) => Some(AttrValue::Bool(*b)),
            Value::Number(n) => n.as_f64().map(AttrValue::Number),
            Value::String(s) => Some(AttrValue::Text(s.clone())),
            Value::Array(a) => a
                .iter()
                .map(|x| x.as_f64().map(|f| f as f32))
                .collect::<Option<Vec<f32>>>()
                .map(AttrValue::Vector),
            _ => None,
        }
    }
}

impl JsonScalar for PropValue {
    fn to_json(&self) -> Option<Value> {
        match self {
            PropValue::Bool(b) => Some(Value::Bool(*b)),
            PropValue::Number(n) => number(*n),
            PropValue::Text(s) => Some(Value::String(s.clone())),
        }
    }
    fn from_json(v: &Value) -> Option<Self> {
        match v {
            Value::Bool(b) => Some(PropValue::Bool(*b)),
            Value::Number(n) => n.as_f64().map(PropValue::Number),
            Value::String(s) => Some(PropValue::Text(s.clone())),
            _ => None,
        }
    }
}

/// Encode a string-keyed map of scalars as a JSON object.
///
/// Non-finite numbers cannot be represented in JSON; validation rejects them before they reach
/// the store, so meeting one here is reported (and nothing is written) rather than guessed at.
pub(crate) fn map_to_json<V: JsonScalar>(
    table: &'static str,
    map: &BTreeMap<String, V>,
) -> Result<String> {
    let mut obj = Map::new();
    for (k, v) in map {
        let value = v.to_json().ok_or_else(|| StoreError::Corrupt {
            table,
            detail: format!(
                "refusing to store {k:?}: not a finite number (validate records before storing)"
            ),
        })?;
        obj.insert(k.clone(), value);
    }
    Ok(Value::Object(obj).to_string())
}

/// Decode a JSON object written by [`map_to_json`].
pub(crate) fn map_from_json<V: JsonScalar>(
    table: &'static str,
    text: &str,
) -> Result<BTreeMap<String, V>> {
    let corrupt = |detail: String| StoreError::Corrupt { table, detail };
    match serde_json::from_str::<Value>(text)
        .map_err(|e| corrupt(format!("bad JSON object {text:?}: {e}")))?
    {
        Value::Object(obj) => obj
            .into_iter()
            .map(|(k, v)| match V::from_json(&v) {
                Some(s) => Ok((k, s)),
                None => Err(corrupt(format!(
                    "value of {k:?} is not a bool, number, string or array of numbers: {v}"
                ))),
            })
            .collect(),
        other => Err(corrupt(format!("expected a JSON object, got {other}"))),
    }
}

/// Encode a list of labels as a JSON array of strings.
pub(crate) fn labels_to_json(labels: &[String]) -> String {
    Value::Array(labels.iter().map(|s| Value::String(s.clone())).collect()).to_string()
}

/// Decode a JSON array written by [`labels_to_json`].
pub(crate) fn labels_from_json(table: &'static str, text: &str) -> Result<Vec<String>> {
    serde_json::from_str::<Vec<String>>(text).map_err(|e| StoreError::Corrupt {
        table,
        detail: format!("bad JSON string array {text:?}: {e}"),
    })
}

/// A stored event type name back to the type. Any name that is not built-in was a declared
/// custom type when it was stored.
pub(crate) fn event_type_from_str(s: &str) -> EventType {
    EventType::BUILTIN
        .iter()
        .find(|t| t.as_str() == s)
        .cloned()
        .unwrap_or_else(|| EventType::Custom(s.to_string()))
}

/// An unsigned count to a signed database integer.
pub(crate) fn to_i64(table: &'static str, field: &str, v: u64) -> Result<i64> {
    i64::try_from(v).map_err(|_| StoreError::Corrupt {
        table,
        detail: format!("{field} {v} does not fit a 64-bit integer"),
    })
}

fn to_u64(field: &str, v: Option<i64>) -> Result<Option<u64>> {
    v.map(|v| {
        u64::try_from(v).map_err(|_| StoreError::Corrupt {
            table: "events",
            detail: format!("negative {field}: {v}"),
        })
    })
    .transpose()
}

/// The encoded form of one event's columns, borrowed from the event (for inserts).
pub(crate) struct EventParams<'a> {
    pub dwell_ms: Option<i64>,
    pub hover_ms: Option<i64>,
    pub quantity: Option<i64>,
    pub extra: Option<String>,
    pub event: &'a Event,
}

impl<'a> EventParams<'a> {
    /// Encode the parts of `event` that need conversion.
    pub(crate) fn new(event: &'a Event) -> Result<Self> {
        let p = &event.properties;
        Ok(Self {
            dwell_ms: p
                .dwell_ms
                .map(|v| to_i64("events", "dwell_ms", v))
                .transpose()?,
            hover_ms: p
                .hover_ms
                .map(|v| to_i64("events", "hover_ms", v))
                .transpose()?,
            quantity: p.quantity.map(i64::from),
            extra: if p.extra.is_empty() {
                None
            } else {
                Some(map_to_json("events", &p.extra)?)
            },
            event,
        })
    }
}

/// One stored event as read back, in [`event_columns`] order.
pub(crate) struct EventRow {
    pub event_id: String,
    pub event_type: String,
    pub user_id: Option<String>,
    pub anonymous_id: Option<String>,
    pub item_id: Option<String>,
    pub ts_micros: i64,
    pub tz_offset_secs: i32,
    pub value: Option<f64>,
    pub dwell_ms: Option<i64>,
    pub scroll_depth: Option<f64>,
    pub hover_ms: Option<i64>,
    pub price: Option<f64>,
    pub quantity: Option<i64>,
    pub rating: Option<f64>,
    pub extra: Option<String>,
    pub session_id: Option<String>,
    pub device: Option<String>,
    pub page: Option<String>,
    pub recommendation_id: Option<String>,
    pub experiment: Option<String>,
    pub variant: Option<String>,
}

impl EventRow {
    /// Rebuild the event.
    pub(crate) fn into_event(self) -> Result<Event> {
        let quantity = self
            .quantity
            .map(|q| {
                u32::try_from(q).map_err(|_| StoreError::Corrupt {
                    table: "events",
                    detail: format!("quantity out of range: {q}"),
                })
            })
            .transpose()?;
        Ok(Event {
            event_type: event_type_from_str(&self.event_type),
            user_id: self.user_id,
            anonymous_id: self.anonymous_id,
            item_id: self.item_id,
            timestamp: Timestamp {
                utc_micros: self.ts_micros,
                offset_secs: self.tz_offset_secs,
            },
            value: self.value,
            properties: Properties {
                dwell_ms: to_u64("dwell_ms", self.dwell_ms)?,
                scroll_depth: self.scroll_depth,
                hover_ms: to_u64("hover_ms", self.hover_ms)?,
                price: self.price,
                quantity,
                rating: self.rating,
                extra: match &self.extra {
                    Some(text) => map_from_json("events", text)?,
                    None => BTreeMap::new(),
                },
            },
            context: Context {
                session_id: self.session_id,
                device: self.device,
                page: self.page,
                recommendation_id: self.recommendation_id,
                experiment: self.experiment,
                variant: self.variant,
            },
            event_id: self.event_id,
        })
    }
}

/// The error for a database written by a newer attune (an older build must not guess its layout).
pub(crate) fn schema_too_new(place: &str, version: i64, latest: i64) -> StoreError {
    StoreError::Corrupt {
        table: "schema",
        detail: format!(
            "{place}: schema version {version} is newer than this attune build supports (version {latest}); \
             upgrade attune (or restore a backup made by this version)"
        ),
    }
}

/// Inclusive `ts_micros` bounds of a filter, or `None` when it selects nothing.
pub(crate) fn ts_bounds(filter: &EventFilter) -> Option<(i64, i64)> {
    let since = filter.since_micros.unwrap_or(i64::MIN);
    let until = match filter.until_micros {
        Some(i64::MIN) => return None,
        Some(u) => u - 1,
        None => i64::MAX,
    };
    (since <= until).then_some((since, until))
}

/// The `Conflict` for relinking a device. The other user's id is not echoed back.
pub(crate) fn relink_conflict(anonymous_id: &str, user_id: &str) -> StoreError {
    StoreError::Conflict(format!(
        "anonymous_id {anonymous_id:?} is already linked to a different user; it cannot be relinked to {user_id:?}"
    ))
}

/// The event type a scan leaves out: `impression` when the filter asks, else the empty name,
/// which no event has (validation refuses it), so one statement serves both.
pub(crate) fn skipped_type(filter: &crate::EventFilter) -> &'static str {
    if filter.skip_impressions {
        "impression"
    } else {
        ""
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_round_trip_exactly() {
        let mut m = BTreeMap::new();
        for (i, x) in [
            0.1 + 0.2,
            1e-300,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
            -2.5,
            3.0,
            std::f64::consts::PI,
        ]
        .into_iter()
        .enumerate()
        {
            m.insert(format!("n{i}"), AttrValue::Number(x));
        }
        m.insert("b".into(), AttrValue::Bool(false));
        m.insert(
            "t".into(),
            AttrValue::Text("naïve \"quoted\" 日本 🎉".into()),
        );
        m.insert(
            "embedding".into(),
            AttrValue::Vector(vec![0.1, -1e-30, f32::MAX, f32::MIN_POSITIVE, 0.0]),
        );
        let text = map_to_json("items", &m).unwrap();
        let back: BTreeMap<String, AttrValue> = map_from_json("items", &text).unwrap();
        assert_eq!(back, m);
        for (k, v) in &m {
            if let (AttrValue::Number(a), AttrValue::Number(b)) = (v, &back[k]) {
                assert_eq!(a.to_bits(), b.to_bits(), "{k}");
            }
            if let (AttrValue::Vector(a), AttrValue::Vector(b)) = (v, &back[k]) {
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(a), bits(b), "{k}");
            }
        }
    }

    #[test]
    fn non_finite_is_refused() {
        let m = BTreeMap::from([("x".to_string(), PropValue::Number(f64::NAN))]);
        assert!(matches!(
            map_to_json("events", &m),
            Err(StoreError::Corrupt { .. })
        ));
    }

    #[test]
    fn bad_json_is_corrupt() {
        assert!(map_from_json::<AttrValue>("items", "[1]").is_err());
        assert!(map_from_json::<AttrValue>("items", "{\"a\": null}").is_err());
        assert!(labels_from_json("items", "{").is_err());
        assert_eq!(
            labels_from_json("items", &labels_to_json(&["a".into(), "b".into()])).unwrap(),
            vec!["a", "b"]
        );
    }

    #[test]
    fn event_types_round_trip() {
        for t in EventType::BUILTIN {
            assert_eq!(event_type_from_str(t.as_str()), t);
        }
        assert_eq!(
            event_type_from_str("share"),
            EventType::Custom("share".into())
        );
    }
}
