//! The behavioural event model and its validation.
//!
//! Every input path (HTTP batch, CLI import, Kafka) turns its wire format into a [`RawEvent`] and
//! calls [`validate`], so the rules live in exactly one place. Validation reports *every* broken
//! rule with the field path, and never guesses: a naive timestamp or an out-of-range scroll depth
//! is an error, not a silent clamp.

use std::collections::BTreeMap;

use crate::error::{FieldError, ValidationError};
use crate::time::Timestamp;

/// What the user did.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventType {
    /// The item was shown in full (a product page, an article).
    View,
    /// The user clicked the item (in a list, a recommendation, a search result).
    Click,
    /// Time spent on the item; requires `properties.dwell_ms`.
    Dwell,
    /// How far the user scrolled; requires `properties.scroll_depth` in 0..=1.
    Scroll,
    /// Pointer rested on the item; requires `properties.hover_ms`.
    Hover,
    /// Added to the cart.
    AddToCart,
    /// Removed from the cart.
    RemoveFromCart,
    /// Bought; `properties.price` and `properties.quantity` feed monetary features.
    Purchase,
    /// An explicit rating; requires `properties.rating` (or `value`) on the configured scale.
    Rating,
    /// The item was displayed to the user (usually in a recommendation list).
    Impression,
    /// An app-specific type declared in config (`events.custom_types`).
    Custom(String),
}

impl EventType {
    /// All built-in types, in documentation order.
    pub const BUILTIN: [EventType; 10] = [
        EventType::View,
        EventType::Click,
        EventType::Dwell,
        EventType::Scroll,
        EventType::Hover,
        EventType::AddToCart,
        EventType::RemoveFromCart,
        EventType::Purchase,
        EventType::Rating,
        EventType::Impression,
    ];

    /// The canonical wire name (`add_to_cart`, ...).
    pub fn as_str(&self) -> &str {
        match self {
            EventType::View => "view",
            EventType::Click => "click",
            EventType::Dwell => "dwell",
            EventType::Scroll => "scroll",
            EventType::Hover => "hover",
            EventType::AddToCart => "add_to_cart",
            EventType::RemoveFromCart => "remove_from_cart",
            EventType::Purchase => "purchase",
            EventType::Rating => "rating",
            EventType::Impression => "impression",
            EventType::Custom(s) => s,
        }
    }

    /// Parse a wire name; custom names must be declared in `custom_types`.
    pub fn parse(s: &str, custom_types: &[String]) -> Option<EventType> {
        let builtin = EventType::BUILTIN.iter().find(|t| t.as_str() == s);
        match builtin {
            Some(t) => Some(t.clone()),
            None if custom_types.iter().any(|c| c == s) => Some(EventType::Custom(s.to_string())),
            None => None,
        }
    }

    /// Whether an event of this type must name an item.
    pub fn requires_item(&self) -> bool {
        !matches!(self, EventType::Custom(_))
    }
}

/// A free-form property value (beyond the typed ones).
#[derive(Debug, Clone, PartialEq)]
pub enum PropValue {
    /// true / false.
    Bool(bool),
    /// Any JSON number.
    Number(f64),
    /// Any string.
    Text(String),
}

/// Typed properties with known meaning, plus free-form extras.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Properties {
    /// Milliseconds spent on the item (dwell events), >= 0.
    pub dwell_ms: Option<u64>,
    /// Fraction of the page scrolled, 0..=1.
    pub scroll_depth: Option<f64>,
    /// Milliseconds the pointer rested on the item, >= 0.
    pub hover_ms: Option<u64>,
    /// Unit price (purchases, cart events), >= 0.
    pub price: Option<f64>,
    /// Units (purchases, cart events), >= 1.
    pub quantity: Option<u32>,
    /// Explicit rating on the configured scale.
    pub rating: Option<f64>,
    /// Anything else the client sent, kept verbatim.
    pub extra: BTreeMap<String, PropValue>,
}

/// Where the event happened.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Context {
    /// Client session id.
    pub session_id: Option<String>,
    /// Device class or id (`mobile`, `desktop`, ...).
    pub device: Option<String>,
    /// Page or screen.
    pub page: Option<String>,
    /// The recommendation list this interaction came from (attribution).
    pub recommendation_id: Option<String>,
    /// Experiment the user was in.
    pub experiment: Option<String>,
    /// Variant of that experiment.
    pub variant: Option<String>,
}

/// A validated event, ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Client-supplied (or generated) unique id; the idempotency key.
    pub event_id: String,
    /// What happened.
    pub event_type: EventType,
    /// Known user, if any. At least one of `user_id` / `anonymous_id` is set.
    pub user_id: Option<String>,
    /// Device / browser id before login.
    pub anonymous_id: Option<String>,
    /// The item acted on (required for built-in types).
    pub item_id: Option<String>,
    /// When it happened (client clock, or server receive time if absent).
    pub timestamp: Timestamp,
    /// Generic numeric value (a rating, a watch fraction, revenue...).
    pub value: Option<f64>,
    /// Typed properties.
    pub properties: Properties,
    /// Context.
    pub context: Context,
}

/// Loosely typed properties as they arrive (numbers as `f64`, so range rules can name them).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RawProperties {
    /// See [`Properties::dwell_ms`].
    pub dwell_ms: Option<f64>,
    /// See [`Properties::scroll_depth`].
    pub scroll_depth: Option<f64>,
    /// See [`Properties::hover_ms`].
    pub hover_ms: Option<f64>,
    /// See [`Properties::price`].
    pub price: Option<f64>,
    /// See [`Properties::quantity`].
    pub quantity: Option<f64>,
    /// See [`Properties::rating`].
    pub rating: Option<f64>,
    /// Free-form extras.
    pub extra: BTreeMap<String, PropValue>,
}

/// An event as decoded from any wire format, before validation.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RawEvent {
    /// Optional client id.
    pub event_id: Option<String>,
    /// Type name (`view`, `add_to_cart`, a declared custom type).
    pub event_type: Option<String>,
    /// Known user id.
    pub user_id: Option<String>,
    /// Anonymous / device id.
    pub anonymous_id: Option<String>,
    /// Item id.
    pub item_id: Option<String>,
    /// RFC 3339 text; absent means "now".
    pub timestamp: Option<String>,
    /// Generic numeric value.
    pub value: Option<f64>,
    /// Properties.
    pub properties: RawProperties,
    /// Context.
    pub context: Context,
}

/// The rules an app applies to incoming events (from config).
#[derive(Debug, Clone, PartialEq)]
pub struct EventRules {
    /// Extra event type names accepted besides the built-in ones.
    pub custom_types: Vec<String>,
    /// Lowest allowed rating.
    pub rating_min: f64,
    /// Highest allowed rating.
    pub rating_max: f64,
    /// Longest id accepted (bytes), for every id-like field.
    pub max_id_len: usize,
    /// How far in the future a client timestamp may be (clock skew), in seconds.
    pub max_future_skew_secs: i64,
    /// Earliest accepted timestamp, UTC microseconds (rejects epoch-zero bugs).
    pub min_timestamp_micros: i64,
}

impl Default for EventRules {
    fn default() -> Self {
        Self {
            custom_types: Vec::new(),
            rating_min: 1.0,
            rating_max: 5.0,
            max_id_len: 256,
            max_future_skew_secs: 24 * 3600,
            // 1990-01-01T00:00:00Z
            min_timestamp_micros: 631_152_000 * 1_000_000,
        }
    }
}

/// Check an id-like field: non-empty, bounded, no control characters, no surrounding space.
pub fn check_id(field: &str, value: &str, max_len: usize) -> Result<(), FieldError> {
    if value.is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    if value.len() > max_len {
        return Err(FieldError::new(
            field,
            format!("must be at most {max_len} bytes, got {}", value.len()),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "must not contain control characters",
        ));
    }
    if value.trim() != value {
        return Err(FieldError::new(
            field,
            "must not start or end with white space",
        ));
    }
    Ok(())
}

/// Check free text (titles, pages, property strings): bounded, and no NUL character, which
/// PostgreSQL cannot store in text and which no legitimate client sends. Newlines and tabs are
/// fine here, unlike in ids.
pub fn check_text(field: &str, value: &str, max_len: usize) -> Result<(), FieldError> {
    if value.len() > max_len {
        return Err(FieldError::new(
            field,
            format!("must be at most {max_len} bytes, got {}", value.len()),
        ));
    }
    if value.contains('\0') {
        return Err(FieldError::new(field, "must not contain NUL characters"));
    }
    Ok(())
}

/// Longest free-text value accepted in an event (page, device, string properties), bytes.
pub const MAX_EVENT_TEXT_LEN: usize = 8 * 1024;

fn non_negative_int(field: &str, v: f64, errors: &mut Vec<FieldError>) -> Option<u64> {
    if !v.is_finite() || v < 0.0 || v.fract() != 0.0 || v > 9.0e15 {
        errors.push(FieldError::new(
            field,
            format!("must be a non-negative whole number of milliseconds, got {v}"),
        ));
        None
    } else {
        Some(v as u64)
    }
}

/// Validate a raw event against the rules.
///
/// `now` is the server receive time (used when the timestamp is absent, and for the future-skew
/// rule); `new_id` is called only when the client sent no `event_id`.
pub fn validate(
    raw: RawEvent,
    rules: &EventRules,
    now: Timestamp,
    new_id: impl FnOnce() -> String,
) -> Result<Event, ValidationError> {
    let mut errors = Vec::new();
    let mut check = |field: &str, v: &Option<String>| {
        if let Some(v) = v {
            if let Err(e) = check_id(field, v, rules.max_id_len) {
                errors.push(e);
            }
        }
    };
    check("event_id", &raw.event_id);
    check("user_id", &raw.user_id);
    check("anonymous_id", &raw.anonymous_id);
    check("item_id", &raw.item_id);
    check("context.session_id", &raw.context.session_id);
    check("context.recommendation_id", &raw.context.recommendation_id);
    check("context.experiment", &raw.context.experiment);
    check("context.variant", &raw.context.variant);
    for (field, text) in [
        ("context.device", &raw.context.device),
        ("context.page", &raw.context.page),
    ] {
        if let Some(Err(e)) = text
            .as_deref()
            .map(|t| check_text(field, t, MAX_EVENT_TEXT_LEN))
        {
            errors.push(e);
        }
    }

    if raw.user_id.is_none() && raw.anonymous_id.is_none() {
        errors.push(FieldError::new(
            "user_id",
            "one of user_id or anonymous_id is required",
        ));
    }

    let event_type = match raw.event_type.as_deref() {
        None => {
            errors.push(FieldError::new("type", "is required"));
            None
        }
        Some(name) => match EventType::parse(name, &rules.custom_types) {
            Some(t) => Some(t),
            None => {
                let mut allowed: Vec<String> = EventType::BUILTIN
                    .iter()
                    .map(|t| t.as_str().to_string())
                    .collect();
                allowed.extend(rules.custom_types.iter().cloned());
                errors.push(FieldError::new(
                    "type",
                    format!(
                        "unknown event type {name:?}; allowed: {}",
                        allowed.join(", ")
                    ),
                ));
                None
            }
        },
    };
    if let Some(t) = &event_type {
        if t.requires_item() && raw.item_id.is_none() {
            errors.push(FieldError::new(
                "item_id",
                format!("is required for {} events", t.as_str()),
            ));
        }
    }

    let timestamp = match raw.timestamp.as_deref() {
        None => now,
        Some(text) => match Timestamp::parse_rfc3339(text) {
            Ok(ts) => {
                if ts.utc_micros > now.utc_micros + rules.max_future_skew_secs * 1_000_000 {
                    errors.push(FieldError::new(
                        "timestamp",
                        format!(
                            "is more than {} s in the future",
                            rules.max_future_skew_secs
                        ),
                    ));
                } else if ts.utc_micros < rules.min_timestamp_micros {
                    errors.push(FieldError::new(
                        "timestamp",
                        "is before 1990-01-01T00:00:00Z",
                    ));
                }
                ts
            }
            Err(reason) => {
                errors.push(FieldError::new("timestamp", reason));
                now
            }
        },
    };

    if let Some(v) = raw.value {
        if !v.is_finite() {
            errors.push(FieldError::new("value", "must be a finite number"));
        }
    }

    let p = &raw.properties;
    let dwell_ms = p
        .dwell_ms
        .and_then(|v| non_negative_int("properties.dwell_ms", v, &mut errors));
    let hover_ms = p
        .hover_ms
        .and_then(|v| non_negative_int("properties.hover_ms", v, &mut errors));
    if let Some(d) = p.scroll_depth {
        if !(0.0..=1.0).contains(&d) {
            errors.push(FieldError::new(
                "properties.scroll_depth",
                format!("must be between 0 and 1, got {d}"),
            ));
        }
    }
    if let Some(price) = p.price {
        if !price.is_finite() || price < 0.0 {
            errors.push(FieldError::new(
                "properties.price",
                format!("must be a non-negative number, got {price}"),
            ));
        }
    }
    let quantity = match p.quantity {
        Some(q) if q.fract() != 0.0 || !(1.0..=1.0e6).contains(&q) => {
            errors.push(FieldError::new(
                "properties.quantity",
                format!("must be a whole number from 1 to 1000000, got {q}"),
            ));
            None
        }
        Some(q) => Some(q as u32),
        None => None,
    };
    let mut rating = p.rating;
    if event_type == Some(EventType::Rating) && rating.is_none() {
        rating = raw.value;
    }
    if let Some(r) = rating {
        if !r.is_finite() || r < rules.rating_min || r > rules.rating_max {
            errors.push(FieldError::new(
                "properties.rating",
                format!(
                    "must be between {} and {}, got {r}",
                    rules.rating_min, rules.rating_max
                ),
            ));
        }
    }
    match &event_type {
        Some(EventType::Dwell) if p.dwell_ms.is_none() => errors.push(FieldError::new(
            "properties.dwell_ms",
            "is required for dwell events",
        )),
        Some(EventType::Scroll) if p.scroll_depth.is_none() => errors.push(FieldError::new(
            "properties.scroll_depth",
            "is required for scroll events",
        )),
        Some(EventType::Hover) if p.hover_ms.is_none() => errors.push(FieldError::new(
            "properties.hover_ms",
            "is required for hover events",
        )),
        Some(EventType::Rating) if rating.is_none() => errors.push(FieldError::new(
            "properties.rating",
            "is required for rating events (or set value)",
        )),
        _ => {}
    }
    for (k, v) in &p.extra {
        if let PropValue::Text(t) = v {
            if let Err(e) = check_text(&format!("properties.{k}"), t, MAX_EVENT_TEXT_LEN) {
                errors.push(e);
            }
        }
        if let PropValue::Number(n) = v {
            if !n.is_finite() {
                errors.push(FieldError::new(
                    format!("properties.{k}"),
                    "must be a finite number",
                ));
            }
        }
    }

    if !errors.is_empty() {
        errors.sort_by(|a, b| a.field.cmp(&b.field));
        errors.dedup();
        return Err(ValidationError { errors });
    }
    Ok(Event {
        event_id: raw.event_id.unwrap_or_else(new_id),
        event_type: event_type.expect("checked above"),
        user_id: raw.user_id,
        anonymous_id: raw.anonymous_id,
        item_id: raw.item_id,
        timestamp,
        value: raw.value,
        properties: Properties {
            dwell_ms,
            scroll_depth: p.scroll_depth,
            hover_ms,
            price: p.price,
            quantity,
            rating,
            extra: raw.properties.extra,
        },
        context: raw.context,
    })
}

impl Event {
    /// The identity this event counts for: the user when known, else the device.
    pub fn actor(&self) -> &str {
        self.user_id
            .as_deref()
            .or(self.anonymous_id.as_deref())
            .unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        Timestamp::parse_rfc3339("2026-11-28T12:00:00Z").unwrap()
    }

    fn view() -> RawEvent {
        RawEvent {
            event_type: Some("view".into()),
            user_id: Some("u1".into()),
            item_id: Some("i1".into()),
            ..Default::default()
        }
    }

    fn fields(raw: RawEvent) -> Vec<String> {
        validate(raw, &EventRules::default(), now(), || "gen".into())
            .unwrap_err()
            .errors
            .into_iter()
            .map(|e| e.field)
            .collect()
    }

    #[test]
    fn valid_view_gets_generated_id_and_server_time() {
        let e = validate(view(), &EventRules::default(), now(), || "gen-1".into()).unwrap();
        assert_eq!(e.event_id, "gen-1");
        assert_eq!(e.timestamp, now());
        assert_eq!(e.event_type, EventType::View);
        assert_eq!(e.actor(), "u1");
    }

    #[test]
    fn client_id_and_offset_are_kept() {
        let mut raw = view();
        raw.event_id = Some("8c1f2a".into());
        raw.timestamp = Some("2026-11-28T10:00:00-03:00".into());
        let e = validate(raw, &EventRules::default(), now(), || unreachable!()).unwrap();
        assert_eq!(e.event_id, "8c1f2a");
        assert_eq!(e.timestamp.offset_secs, -3 * 3600);
    }

    #[test]
    fn missing_ids_are_named() {
        let mut raw = view();
        raw.user_id = None;
        raw.item_id = None;
        assert_eq!(fields(raw), vec!["item_id", "user_id"]);
    }

    #[test]
    fn unknown_type_lists_allowed_values() {
        let mut raw = view();
        raw.event_type = Some("like".into());
        let err = validate(raw, &EventRules::default(), now(), || "x".into()).unwrap_err();
        assert_eq!(err.first_field(), "type");
        assert!(err.errors[0].reason.contains("add_to_cart"), "{}", err);
    }

    #[test]
    fn custom_types_need_declaring() {
        let mut raw = view();
        raw.event_type = Some("share".into());
        raw.item_id = None;
        assert_eq!(fields(raw.clone()), vec!["type"]);
        let rules = EventRules {
            custom_types: vec!["share".into()],
            ..Default::default()
        };
        let e = validate(raw, &rules, now(), || "x".into()).unwrap();
        assert_eq!(e.event_type, EventType::Custom("share".into()));
    }

    #[test]
    fn out_of_range_properties_are_named() {
        let mut raw = view();
        raw.event_type = Some("scroll".into());
        raw.properties.scroll_depth = Some(1.5);
        raw.properties.dwell_ms = Some(-3.0);
        raw.properties.quantity = Some(0.5);
        raw.properties.price = Some(-1.0);
        assert_eq!(
            fields(raw),
            vec![
                "properties.dwell_ms",
                "properties.price",
                "properties.quantity",
                "properties.scroll_depth"
            ]
        );
    }

    #[test]
    fn typed_events_require_their_property() {
        for (t, field) in [
            ("dwell", "properties.dwell_ms"),
            ("scroll", "properties.scroll_depth"),
            ("hover", "properties.hover_ms"),
            ("rating", "properties.rating"),
        ] {
            let mut raw = view();
            raw.event_type = Some(t.into());
            assert_eq!(fields(raw), vec![field], "{t}");
        }
    }

    #[test]
    fn rating_scale_and_value_fallback() {
        let mut raw = view();
        raw.event_type = Some("rating".into());
        raw.value = Some(4.0);
        let e = validate(raw.clone(), &EventRules::default(), now(), || "x".into()).unwrap();
        assert_eq!(e.properties.rating, Some(4.0));
        raw.value = Some(9.0);
        assert_eq!(fields(raw), vec!["properties.rating"]);
    }

    #[test]
    fn bad_and_future_timestamps() {
        let mut raw = view();
        raw.timestamp = Some("2026-11-28 12:00".into());
        assert_eq!(fields(raw.clone()), vec!["timestamp"]);
        raw.timestamp = Some("2027-06-01T00:00:00Z".into());
        assert_eq!(fields(raw.clone()), vec!["timestamp"]);
        raw.timestamp = Some("1970-01-01T00:00:00Z".into());
        assert_eq!(fields(raw), vec!["timestamp"]);
    }

    #[test]
    fn free_text_rejects_nul_but_keeps_newlines() {
        let mut raw = view();
        raw.context.page = Some("/p/1\nsecond line".into());
        raw.context.device = Some("mob\0ile".into());
        raw.properties
            .extra
            .insert("note".into(), PropValue::Text("a\0b".into()));
        assert_eq!(fields(raw), vec!["context.device", "properties.note"]);
    }

    #[test]
    fn ids_reject_control_chars_and_overlong() {
        let mut raw = view();
        raw.user_id = Some("a\u{0}b".into());
        raw.item_id = Some("x".repeat(300));
        assert_eq!(fields(raw), vec!["item_id", "user_id"]);
    }
}
