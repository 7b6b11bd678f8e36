//! The one validation of incoming events: every wire format (HTTP, file import, Kafka) decodes
//! into a [`RawEvent`] and calls [`validate`], which reports every broken rule by field.

use crate::error::{FieldError, ValidationError};
use crate::time::Timestamp;

use super::{Event, EventRules, EventType, PropValue, Properties, RawEvent, RawProperties};
use crate::limits::{check_names, name_problem, InputLimits};

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

/// The `[limits]` on an event's properties: how many (typed and free-form together), how
/// large in total, and which names are acceptable (typed names always are).
fn check_property_names(p: &RawProperties, limits: &InputLimits, errors: &mut Vec<FieldError>) {
    let n_typed = [
        p.dwell_ms,
        p.scroll_depth,
        p.hover_ms,
        p.price,
        p.quantity,
        p.rating,
    ]
    .iter()
    .filter(|v| v.is_some())
    .count();
    check_names(
        "properties",
        p.extra.keys().map(String::as_str),
        n_typed + p.extra.len(),
        limits.max_event_properties,
        "limits.max_event_properties",
        limits.max_name_len,
        errors,
    );
    let n_bytes: usize = p
        .extra
        .iter()
        .map(|(k, v)| {
            k.len()
                + match v {
                    PropValue::Text(t) => t.len(),
                    PropValue::Number(_) | PropValue::Bool(_) => 8,
                }
        })
        .sum();
    if n_bytes > limits.max_event_properties_bytes {
        errors.push(FieldError::new(
            "properties",
            format!(
                "must be at most {} bytes in total, names and text values (limits.max_event_properties_bytes), got {n_bytes}",
                limits.max_event_properties_bytes
            ),
        ));
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
            if let Err(e) = check_id(field, v, rules.limits.max_id_len) {
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
            .map(|t| check_text(field, t, rules.limits.max_event_text_len))
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
        let names_category = matches!(
            raw.properties.extra.get(super::DISMISSED_CATEGORY),
            Some(super::PropValue::Text(c)) if !c.is_empty()
        );
        if *t == EventType::NotInterested && raw.item_id.is_none() && !names_category {
            errors.push(FieldError::new(
                "item_id",
                "is required for not_interested events unless properties.category names a category",
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
    // A rating event may carry its rating in `value`; an error then names `value`, the member
    // the client actually sent.
    let (mut rating, mut rating_field) = (p.rating, "properties.rating");
    if event_type == Some(EventType::Rating) && rating.is_none() && raw.value.is_some() {
        (rating, rating_field) = (raw.value, "value");
    }
    if let Some(r) = rating {
        if !r.is_finite() || r < rules.rating_min || r > rules.rating_max {
            errors.push(FieldError::new(
                rating_field,
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
    check_property_names(p, &rules.limits, &mut errors);
    for (k, v) in &p.extra {
        if name_problem(k, rules.limits.max_name_len).is_some() {
            continue; // reported once above, under `properties`
        }
        if let PropValue::Text(t) = v {
            if let Err(e) = check_text(
                &format!("properties.{k}"),
                t,
                rules.limits.max_event_text_len,
            ) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Dismissal, DISMISSED_CATEGORY};

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
    fn not_interested_dismisses_an_item_or_a_category() {
        let mut raw = view();
        raw.event_type = Some("not_interested".into());
        let e = validate(raw.clone(), &EventRules::default(), now(), || "g".into()).unwrap();
        assert_eq!(e.dismissal(), Some(Dismissal::Item("i1".into())));
        // A category without an item.
        raw.item_id = None;
        assert_eq!(fields(raw.clone()), ["item_id"]);
        raw.properties
            .extra
            .insert(DISMISSED_CATEGORY.into(), PropValue::Text("shoes".into()));
        let e = validate(raw.clone(), &EventRules::default(), now(), || "g".into()).unwrap();
        assert_eq!(e.dismissal(), Some(Dismissal::Category("shoes".into())));
        // An empty category names nothing.
        raw.properties
            .extra
            .insert(DISMISSED_CATEGORY.into(), PropValue::Text(String::new()));
        assert_eq!(fields(raw), ["item_id"]);
        // Other types dismiss nothing, whatever their properties.
        let e = validate(view(), &EventRules::default(), now(), || "g".into()).unwrap();
        assert_eq!(e.dismissal(), None);
        assert_eq!(
            Dismissal::from_parts("category", "shoes".into()),
            Some(Dismissal::Category("shoes".into()))
        );
        assert_eq!(Dismissal::from_parts("brand", "x".into()), None);
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
        // The error names the member the client sent.
        raw.value = Some(9.0);
        assert_eq!(fields(raw.clone()), vec!["value"]);
        raw.value = None;
        raw.properties.rating = Some(9.0);
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
    fn property_names_and_counts_are_limited() {
        let rules = EventRules::default();
        let mut raw = view();
        for bad in ["", "a\0b", "\u{1b}[2J", "new\nline"] {
            raw.properties.extra.clear();
            raw.properties
                .extra
                .insert(bad.into(), PropValue::Text("x".into()));
            assert_eq!(fields(raw.clone()), vec!["properties"], "{bad:?}");
        }
        raw.properties.extra.clear();
        raw.properties.extra.insert(
            "n".repeat(rules.limits.max_name_len + 1),
            PropValue::Bool(true),
        );
        assert_eq!(fields(raw.clone()), vec!["properties"]);
        // Typed properties count toward the total.
        raw.properties.extra.clear();
        for k in 0..rules.limits.max_event_properties - 1 {
            raw.properties
                .extra
                .insert(format!("p{k}"), PropValue::Number(1.0));
        }
        raw.properties.price = Some(1.0);
        assert!(validate(raw.clone(), &rules, now(), || "g".into()).is_ok());
        raw.properties.rating = Some(3.0);
        let err = validate(raw.clone(), &rules, now(), || "g".into()).unwrap_err();
        assert_eq!(err.first_field(), "properties");
        assert!(err.errors[0].reason.contains("at most 64"), "{err}");
        // Total bytes.
        let mut raw = view();
        for k in 0..9 {
            raw.properties
                .extra
                .insert(format!("t{k}"), PropValue::Text("x".repeat(8000)));
        }
        let err = validate(raw, &rules, now(), || "g".into()).unwrap_err();
        assert!(err.errors[0].reason.contains("in total"), "{err}");
    }

    #[test]
    fn ids_reject_control_chars_and_overlong() {
        let mut raw = view();
        raw.user_id = Some("a\u{0}b".into());
        raw.item_id = Some("x".repeat(300));
        assert_eq!(fields(raw), vec!["item_id", "user_id"]);
    }

    #[test]
    fn id_and_text_lengths_follow_the_configured_limits() {
        let mut raw = view();
        raw.item_id = Some("x".repeat(300));
        raw.context.page = Some("p".repeat(9000));
        raw.properties
            .extra
            .insert("note".into(), PropValue::Text("n".repeat(9000)));
        // Refused under the defaults (256-byte ids, 8 KiB texts), naming the setting's value.
        let err = validate(raw.clone(), &EventRules::default(), now(), || "g".into()).unwrap_err();
        let named: Vec<&str> = err.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(named, ["context.page", "item_id", "properties.note"]);
        assert!(err.errors[0].reason.contains("at most 8192"), "{err}");
        assert!(err.errors[1].reason.contains("at most 256"), "{err}");
        // Accepted once the operator raises them ...
        let mut rules = EventRules::default();
        rules.limits.max_id_len = 512;
        rules.limits.max_event_text_len = 16 * 1024;
        assert!(validate(raw.clone(), &rules, now(), || "g".into()).is_ok());
        // ... and a lowered limit refuses what the default accepts.
        rules.limits.max_id_len = 8;
        let mut short = view();
        short.user_id = Some("user-123456".into());
        let err = validate(short, &rules, now(), || "g".into()).unwrap_err();
        assert_eq!(err.first_field(), "user_id");
        assert!(err.errors[0].reason.contains("at most 8 bytes"), "{err}");
    }
}
