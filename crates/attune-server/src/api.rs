//! Wire formats: JSON <-> core types, shared by the HTTP routes and the CLI's JSON-lines
//! import/export.
//!
//! Core types stay free of serde (they are not a wire contract); this module is the only place
//! that knows the JSON shape of an event, an item or a user. Decoding hand-walks a parsed
//! [`serde_json::Value`] rather than deriving `Deserialize`, for two reasons: every type error
//! names the full field path in the API's own words (`properties.dwell_ms: expected a number,
//! got "abc"`), and one pass over the object both reads known keys and detects unknown ones.
//!
//! Decoding only checks *shapes* (types, unknown fields). The *rules* (id lengths, ranges,
//! required fields per event type) live in [`attune_core::event::validate`] and
//! [`Item::validate`] / [`User::validate`], never here.
//!
//! **Invariant:** export = import. For every valid record `r`,
//! `x_from_json(&x_to_json(&r))` gives back `r` exactly (floats bit-identical, timestamps with
//! their offset), so a dump re-imports losslessly.

use std::collections::BTreeMap;

use attune_core::catalog::{AttrValue, Consent, Item, User};
use attune_core::error::{FieldError, ValidationError};
use attune_core::event::{
    validate, Context, Event, PropValue, Properties, RawEvent, RawProperties, TypedValue,
};
use attune_core::limits::InputLimits;
use attune_core::time::Timestamp;
use attune_serving::RecList;
use serde::Serialize;
use serde_json::{Map, Value};

/// How a request body is framed (`Content-Type`): what [`decode_event_batch`] reads.
pub use crate::extract::BodyFormat;
pub use crate::problem::RecordError;

use crate::extract::parse_records;
use crate::problem::Problem;
use crate::ServerConfig;

/// Top-level members of an event object.
pub const EVENT_FIELDS: [&str; 9] = [
    "event_id",
    "type",
    "user_id",
    "anonymous_id",
    "item_id",
    "timestamp",
    "value",
    "properties",
    "context",
];
/// Members of an event's `context` object (defined with the event model).
pub use attune_core::event::CONTEXT_FIELDS;
/// Members of an item object.
pub const ITEM_FIELDS: [&str; 8] = [
    "item_id",
    "title",
    "description",
    "categories",
    "tags",
    "attributes",
    "published_at",
    "available",
];
/// Members of a user object.
pub const USER_FIELDS: [&str; 4] = ["user_id", "attributes", "preferred_categories", "consent"];

/// A short rendering of a JSON value for "got ..." messages (long strings are cut).
pub fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) if s.chars().count() > 40 => {
            let cut: String = s.chars().take(40).collect();
            format!("{cut:?}...")
        }
        Value::String(s) => format!("{s:?}"),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

fn type_error(field: impl Into<String>, expected: &str, got: &Value) -> FieldError {
    FieldError::new(field, format!("expected {expected}, got {}", describe(got)))
}

fn unknown_field(prefix: &str, key: &str, allowed: &[&str]) -> FieldError {
    FieldError::new(
        format!("{prefix}{key}"),
        format!("unknown field; allowed: {}", allowed.join(", ")),
    )
}

fn object<'a>(field: &str, v: &'a Value) -> Result<&'a Map<String, Value>, FieldError> {
    v.as_object()
        .ok_or_else(|| type_error(field, "an object", v))
}

/// An optional string: `null` counts as absent.
fn opt_string(field: &str, v: &Value) -> Result<Option<String>, FieldError> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        other => Err(type_error(field, "a string", other)),
    }
}

/// An optional number: `null` counts as absent.
fn opt_number(field: &str, v: &Value) -> Result<Option<f64>, FieldError> {
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => n
            .as_f64()
            .map(Some)
            .ok_or_else(|| type_error(field, "a number", v)),
        other => Err(type_error(field, "a number", other)),
    }
}

fn prefixed(prefix: &str, key: &str) -> String {
    format!("{prefix}{key}")
}

/// Decode one event object into a [`RawEvent`] (shapes only; call
/// [`attune_core::event::validate`] next).
///
/// With `strict`, unknown top-level and `context` members are errors naming the member;
/// otherwise they are ignored. `properties` is open: members other than the typed ones are kept
/// as extras (bool, number or string). `null` is the same as an absent member, everywhere
/// (trackers commonly send `null` for "not set").
pub fn event_from_json(v: &Value, strict: bool) -> Result<RawEvent, FieldError> {
    let obj = object("event", v)?;
    let mut raw = RawEvent::default();
    for (key, val) in obj {
        match key.as_str() {
            "event_id" => raw.event_id = opt_string(key, val)?,
            "type" => raw.event_type = opt_string(key, val)?,
            "user_id" => raw.user_id = opt_string(key, val)?,
            "anonymous_id" => raw.anonymous_id = opt_string(key, val)?,
            "item_id" => raw.item_id = opt_string(key, val)?,
            "timestamp" => raw.timestamp = opt_string(key, val)?,
            "value" => raw.value = opt_number(key, val)?,
            "properties" => properties_from_json(val, &mut raw.properties)?,
            "context" => raw.context = decode_context(val, strict)?,
            other if strict => return Err(unknown_field("", other, &EVENT_FIELDS)),
            _ => {}
        }
    }
    Ok(raw)
}

/// Decode an event's `properties` object into `p` (typed members into their slots, the rest as
/// free-form extras). The CSV import reads its `properties` column through this too.
pub fn properties_from_json(v: &Value, p: &mut RawProperties) -> Result<(), FieldError> {
    if v.is_null() {
        return Ok(());
    }
    for (key, val) in object("properties", v)? {
        let Some(slot) = p.typed_mut(key) else {
            let field = || prefixed("properties.", key);
            let value = match val {
                Value::Null => continue,
                Value::Bool(b) => PropValue::Bool(*b),
                Value::Number(n) => PropValue::Number(
                    n.as_f64()
                        .ok_or_else(|| type_error(field(), "a number", val))?,
                ),
                Value::String(s) => PropValue::Text(s.clone()),
                other => return Err(type_error(field(), "a bool, number or string", other)),
            };
            p.extra.insert(key.clone(), value);
            continue;
        };
        *slot = match val {
            Value::Null => None,
            Value::Number(n) => n.as_f64(),
            other => return Err(type_error(prefixed("properties.", key), "a number", other)),
        };
    }
    Ok(())
}

fn decode_context(v: &Value, strict: bool) -> Result<Context, FieldError> {
    let mut c = Context::default();
    if v.is_null() {
        return Ok(c);
    }
    for (key, val) in object("context", v)? {
        let Some(slot) = c.field_mut(key) else {
            if strict {
                return Err(unknown_field("context.", key, &CONTEXT_FIELDS));
            }
            continue;
        };
        *slot = match val {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            other => return Err(type_error(prefixed("context.", key), "a string", other)),
        };
    }
    Ok(c)
}

/// A JSON number for an `f64`: whole values within ±2^53 print without a fraction (`2`, not
/// `2.0`); reading either back gives the same `f64`. Non-finite values (never valid) become null.
fn number(x: f64) -> Value {
    const EXACT: f64 = 9_007_199_254_740_992.0;
    if x.fract() == 0.0 && x.abs() <= EXACT && !(x == 0.0 && x.is_sign_negative()) {
        Value::from(x as i64)
    } else {
        serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
    }
}

fn put_opt_str(m: &mut Map<String, Value>, key: &str, v: &Option<String>) {
    if let Some(s) = v {
        m.insert(key.into(), Value::String(s.clone()));
    }
}

/// Encode a stored event in the import format (absent members are omitted).
pub fn event_to_json(e: &Event) -> Value {
    let mut m = Map::new();
    m.insert("event_id".into(), e.event_id.clone().into());
    m.insert("type".into(), e.event_type.as_str().into());
    put_opt_str(&mut m, "user_id", &e.user_id);
    put_opt_str(&mut m, "anonymous_id", &e.anonymous_id);
    put_opt_str(&mut m, "item_id", &e.item_id);
    m.insert("timestamp".into(), e.timestamp.to_rfc3339().into());
    if let Some(v) = e.value {
        m.insert("value".into(), number(v));
    }
    let props = properties_to_json(&e.properties);
    if !props.is_empty() {
        m.insert("properties".into(), Value::Object(props));
    }
    let mut ctx = Map::new();
    for (name, v) in e.context.fields() {
        if let Some(v) = v {
            ctx.insert(name.into(), v.into());
        }
    }
    if !ctx.is_empty() {
        m.insert("context".into(), Value::Object(ctx));
    }
    Value::Object(m)
}

/// An event's properties as the `properties` object (typed ones first); empty when it has
/// none. The CSV export writes this object as its `properties` column.
pub fn properties_to_json(p: &Properties) -> Map<String, Value> {
    let mut props = Map::new();
    for (name, v) in p.typed() {
        let v = match v {
            None => continue,
            Some(TypedValue::Whole(w)) => Value::from(w),
            Some(TypedValue::Number(x)) => number(x),
        };
        props.insert(name.into(), v);
    }
    for (k, v) in &p.extra {
        let v = match v {
            PropValue::Bool(b) => Value::Bool(*b),
            PropValue::Number(n) => number(*n),
            PropValue::Text(s) => Value::String(s.clone()),
        };
        props.insert(k.clone(), v);
    }
    props
}

/// Collects decode errors of a record so that one response lists all of them.
#[derive(Default)]
struct Errors(Vec<FieldError>);

impl Errors {
    fn take<T>(&mut self, r: Result<T, FieldError>) -> Option<T> {
        r.map_err(|e| self.0.push(e)).ok()
    }
}

fn decode_labels(field: &str, v: &Value, errors: &mut Errors) -> Vec<String> {
    match v {
        Value::Null => Vec::new(),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .filter_map(|(i, x)| match x {
                Value::String(s) => Some(s.clone()),
                other => {
                    errors
                        .0
                        .push(type_error(format!("{field}[{i}]"), "a string", other));
                    None
                }
            })
            .collect(),
        other => {
            errors
                .0
                .push(type_error(field, "an array of strings", other));
            Vec::new()
        }
    }
}

fn decode_attrs(field: &str, v: &Value, errors: &mut Errors) -> BTreeMap<String, AttrValue> {
    let mut out = BTreeMap::new();
    if v.is_null() {
        return out;
    }
    let Some(obj) = errors.take(object(field, v)) else {
        return out;
    };
    for (k, x) in obj {
        let value = match x {
            Value::Null => continue,
            Value::Bool(b) => AttrValue::Bool(*b),
            Value::Number(n) => match n.as_f64() {
                Some(f) => AttrValue::Number(f),
                None => continue,
            },
            Value::String(s) => AttrValue::Text(s.clone()),
            // A dense vector (an embedding, image features): numbers only; `Item::validate`
            // checks they are finite and how many there are.
            Value::Array(a) => match a.iter().map(Value::as_f64).collect::<Option<Vec<f64>>>() {
                Some(v) => AttrValue::Vector(v.into_iter().map(|f| f as f32).collect()),
                None => {
                    errors
                        .0
                        .push(type_error(format!("{field}.{k}"), "an array of numbers", x));
                    continue;
                }
            },
            other => {
                errors.0.push(type_error(
                    format!("{field}.{k}"),
                    "a bool, number, string or array of numbers",
                    other,
                ));
                continue;
            }
        };
        out.insert(k.clone(), value);
    }
    out
}

/// Decode an `attributes` object on its own (the CSV import's `attributes` column); the
/// errors name `attributes.<name>`.
pub fn attrs_from_json(v: &Value) -> Result<BTreeMap<String, AttrValue>, Vec<FieldError>> {
    let mut errors = Errors::default();
    let attrs = decode_attrs("attributes", v, &mut errors);
    if errors.0.is_empty() {
        Ok(attrs)
    } else {
        Err(errors.0)
    }
}

/// Attributes as the `attributes` object (the CSV export's `attributes` column too).
pub fn attrs_to_json(attrs: &BTreeMap<String, AttrValue>) -> Value {
    let m = attrs
        .iter()
        .map(|(k, v)| {
            let v = match v {
                AttrValue::Bool(b) => Value::Bool(*b),
                AttrValue::Number(n) => number(*n),
                AttrValue::Text(s) => Value::String(s.clone()),
                AttrValue::Vector(v) => {
                    Value::Array(v.iter().map(|&x| number(f64::from(x))).collect())
                }
            };
            (k.clone(), v)
        })
        .collect();
    Value::Object(m)
}

/// Check that a body's id member agrees with the id in the path (or supply it).
fn resolve_id(
    field: &str,
    path_id: Option<&str>,
    body_id: Option<String>,
) -> Result<String, FieldError> {
    match (path_id, body_id) {
        (Some(p), Some(b)) if p != b => Err(FieldError::new(
            field,
            format!("{b:?} does not match the id in the request path ({p:?})"),
        )),
        (Some(p), _) => Ok(p.to_string()),
        (None, Some(b)) => Ok(b),
        (None, None) => Err(FieldError::new(field, "is required")),
    }
}

fn finish<T>(
    value: T,
    errors: Errors,
    validate: impl FnOnce(&T) -> Result<(), ValidationError>,
) -> Result<T, ValidationError> {
    if !errors.0.is_empty() {
        return Err(ValidationError { errors: errors.0 });
    }
    validate(&value)?;
    Ok(value)
}

/// Decode and validate an item.
///
/// `id` is the id from the request path (`PUT /v1/items/{id}`): the body may then omit
/// `item_id` or repeat the same one; a different one is an error naming `item_id`. Without a
/// path id (bulk import) the body must carry `item_id`. `available` defaults to true.
/// Every decode error is listed, then [`Item::validate`] runs.
pub fn item_from_json(
    id: Option<&str>,
    v: &Value,
    strict: bool,
    limits: &InputLimits,
) -> Result<Item, ValidationError> {
    let obj = object("item", v).map_err(|e| ValidationError { errors: vec![e] })?;
    let mut errors = Errors::default();
    let mut item = Item::new("");
    let mut body_id = None;
    for (key, val) in obj {
        match key.as_str() {
            "item_id" => body_id = errors.take(opt_string(key, val)).flatten(),
            "title" => item.title = errors.take(opt_string(key, val)).flatten(),
            "description" => item.description = errors.take(opt_string(key, val)).flatten(),
            "categories" => item.categories = decode_labels(key, val, &mut errors),
            "tags" => item.tags = decode_labels(key, val, &mut errors),
            "attributes" => item.attributes = decode_attrs(key, val, &mut errors),
            "published_at" => {
                let text = errors.take(opt_string(key, val)).flatten();
                item.published_at = text.and_then(|t| {
                    errors.take(
                        Timestamp::parse_rfc3339(&t)
                            .map(|ts| ts.utc_micros)
                            .map_err(|r| FieldError::new(key, r)),
                    )
                });
            }
            "available" => match val {
                Value::Null => {}
                Value::Bool(b) => item.available = *b,
                other => errors.0.push(type_error(key, "a bool", other)),
            },
            other if strict => errors.0.push(unknown_field("", other, &ITEM_FIELDS)),
            _ => {}
        }
    }
    if let Some(id) = errors.take(resolve_id("item_id", id, body_id)) {
        item.item_id = id;
    }
    finish(item, errors, |i| i.validate(limits))
}

/// Encode an item in the import format.
pub fn item_to_json(item: &Item) -> Value {
    let mut m = Map::new();
    m.insert("item_id".into(), item.item_id.clone().into());
    put_opt_str(&mut m, "title", &item.title);
    put_opt_str(&mut m, "description", &item.description);
    m.insert("categories".into(), item.categories.clone().into());
    m.insert("tags".into(), item.tags.clone().into());
    m.insert("attributes".into(), attrs_to_json(&item.attributes));
    if let Some(p) = item.published_at {
        m.insert(
            "published_at".into(),
            Timestamp::from_utc_micros(p).to_rfc3339().into(),
        );
    }
    m.insert("available".into(), item.available.into());
    Value::Object(m)
}

/// Decode and validate a user profile; `id` works as in [`item_from_json`] (field `user_id`).
/// `consent.personalization` defaults to true.
pub fn user_from_json(
    id: Option<&str>,
    v: &Value,
    strict: bool,
    limits: &InputLimits,
) -> Result<User, ValidationError> {
    let obj = object("user", v).map_err(|e| ValidationError { errors: vec![e] })?;
    let mut errors = Errors::default();
    let mut user = User::new("");
    let mut body_id = None;
    for (key, val) in obj {
        match key.as_str() {
            "user_id" => body_id = errors.take(opt_string(key, val)).flatten(),
            "attributes" => user.attributes = decode_attrs(key, val, &mut errors),
            "preferred_categories" => {
                user.preferred_categories = decode_labels(key, val, &mut errors)
            }
            "consent" => user.consent = decode_consent(val, strict, &mut errors),
            other if strict => errors.0.push(unknown_field("", other, &USER_FIELDS)),
            _ => {}
        }
    }
    if let Some(id) = errors.take(resolve_id("user_id", id, body_id)) {
        user.user_id = id;
    }
    finish(user, errors, |u| u.validate(limits))
}

fn decode_consent(v: &Value, strict: bool, errors: &mut Errors) -> Consent {
    let mut c = Consent::default();
    if v.is_null() {
        return c;
    }
    let Some(obj) = errors.take(object("consent", v)) else {
        return c;
    };
    for (k, x) in obj {
        match (k.as_str(), x) {
            ("personalization", Value::Null) => {}
            ("personalization", Value::Bool(b)) => c.personalization = *b,
            ("personalization", other) => {
                errors
                    .0
                    .push(type_error("consent.personalization", "a bool", other))
            }
            (other, _) if strict => {
                errors
                    .0
                    .push(unknown_field("consent.", other, &["personalization"]))
            }
            _ => {}
        }
    }
    c
}

/// Encode a user profile in the import format.
pub fn user_to_json(user: &User) -> Value {
    let mut m = Map::new();
    m.insert("user_id".into(), user.user_id.clone().into());
    m.insert("attributes".into(), attrs_to_json(&user.attributes));
    m.insert(
        "preferred_categories".into(),
        user.preferred_categories.clone().into(),
    );
    let mut consent = Map::new();
    consent.insert(
        "personalization".into(),
        user.consent.personalization.into(),
    );
    m.insert("consent".into(), Value::Object(consent));
    Value::Object(m)
}

/// What happened to one event of an ingest batch.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct IngestedEvent {
    /// Position in the batch.
    pub index: usize,
    /// The client's id, or the generated UUID v7.
    pub event_id: String,
    /// `accepted` (newly stored) or `duplicate` (already stored; nothing changed).
    pub status: &'static str,
}

/// The valid events of a `POST /v1/events` batch (with their positions in the batch) and why
/// the others were rejected.
#[derive(Debug, Clone)]
pub struct EventBatch {
    /// The events that decoded and validated, in batch order.
    pub events: Vec<Event>,
    /// Each of `events`' position in the batch.
    pub event_idx: Vec<usize>,
    /// Every problem of every rejected event (unbounded; the route truncates the list).
    pub errors: Vec<RecordError>,
    /// Events rejected.
    pub n_rejected: usize,
    /// Records in the body (`events.len() + n_rejected`).
    pub n_records: usize,
}

/// Parse, decode and validate a whole `POST /v1/events` body (blocking: milliseconds for large
/// batches), exactly as the route does: split the body into records (`format` from
/// `Content-Type`), then [`event_from_json`] and [`attune_core::event::validate`] per record.
///
/// `now` is the receive time (events without a timestamp get it; the future-skew rule is
/// relative to it). It is a parameter so that a replay of the same body (the fuzz targets under
/// `fuzz/`) decodes the same way. A body that is not well-formed, or that holds more than
/// `max_batch_events` records, is the route's 400 / 413 problem.
pub fn decode_event_batch(
    config: &ServerConfig,
    bytes: &[u8],
    format: BodyFormat,
    now: Timestamp,
) -> Result<EventBatch, Problem> {
    let records = parse_records(
        bytes,
        format,
        config.max_batch_events,
        "max_batch_events",
        "event",
    )?;
    let n_records = records.len();
    let mut events: Vec<Event> = Vec::with_capacity(n_records);
    let mut event_idx: Vec<usize> = Vec::with_capacity(n_records);
    let mut errors: Vec<RecordError> = Vec::new();
    let mut n_rejected = 0;
    for (idx, record) in records.iter().enumerate() {
        let decoded = event_from_json(record, config.strict_fields)
            .map_err(|e| vec![e])
            .and_then(|raw| {
                validate(raw, &config.event_rules, now, new_event_id).map_err(|e| e.errors)
            });
        match decoded {
            Ok(event) => {
                events.push(event);
                event_idx.push(idx);
            }
            Err(errs) => {
                n_rejected += 1;
                errors.extend(errs.into_iter().map(|e| RecordError::new(idx, e)));
            }
        }
    }
    Ok(EventBatch {
        events,
        event_idx,
        errors,
        n_rejected,
        n_records,
    })
}

/// A generated event id: UUID v7, so ids sort by arrival time.
fn new_event_id() -> String {
    uuid::Uuid::now_v7().hyphenated().to_string()
}

/// Body of a successful `POST /v1/events`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct IngestResponse {
    /// Newly stored events.
    pub accepted: usize,
    /// Events whose id was already stored (or repeated earlier in the batch).
    pub duplicates: usize,
    /// Invalid events skipped (only with `?partial=true`; otherwise the batch fails).
    pub rejected: usize,
    /// One entry per stored or duplicate event, in batch order.
    pub events: Vec<IngestedEvent>,
    /// Why events were rejected (at most [`crate::problem::MAX_LISTED_ERRORS`] listed).
    pub errors: Vec<RecordError>,
}

/// Body of `POST /v1/identify`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct IdentifyResponse {
    /// Past anonymous events of the device now attributed to the user.
    pub reattributed: u64,
}

/// Body of `DELETE /v1/users/{id}`: what was erased.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ErasureResponse {
    /// Events removed.
    pub events: u64,
    /// Device links removed.
    pub identities: u64,
    /// Whether a profile existed.
    pub profile: bool,
}

impl From<attune_store::Erasure> for ErasureResponse {
    fn from(e: attune_store::Erasure) -> Self {
        Self {
            events: e.events,
            identities: e.identities,
            profile: e.profile,
        }
    }
}

/// A served list as the JSON body (`GET /v1/users/{id}/recommendations` and the other list
/// routes, `attune recommend --json`), serialized from borrowed fields (the warm path renders many of
/// these per second; building a `serde_json::Value` tree first cost a third of its time).
#[derive(Serialize)]
pub struct ListBody<'a> {
    recommendation_id: &'a str,
    model_version: Option<u32>,
    source: &'static str,
    cached: bool,
    items: Vec<ItemBody<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<&'a str>,
    /// The experiment variant the list was served under.
    #[serde(skip_serializing_if = "Option::is_none")]
    experiment: Option<ExperimentBody<'a>>,
    /// The user's segment, when serving by segment is on (`[serving.segments]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    segment: Option<&'a str>,
}

#[derive(Serialize)]
struct ExperimentBody<'a> {
    name: &'a str,
    phase: u32,
    variant: &'a str,
}

#[derive(Serialize)]
struct ItemBody<'a> {
    item_id: &'a str,
    score: f32,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a str>,
    explanation: ExplanationBody<'a>,
}

#[derive(Serialize)]
struct ExplanationBody<'a> {
    kind: &'static str,
    text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    item_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    category: Option<&'a str>,
}

impl<'a> ListBody<'a> {
    /// The body of `list`, for `user` when it is one user's.
    pub fn of(list: &'a RecList, user: Option<&'a str>) -> Self {
        Self {
            recommendation_id: &list.recommendation_id,
            model_version: list.model_version,
            source: list.source.as_str(),
            cached: list.cached,
            items: list
                .items
                .iter()
                .map(|r| ItemBody {
                    item_id: &r.item_id,
                    score: r.score,
                    title: r.title.as_deref(),
                    explanation: ExplanationBody {
                        kind: r.reason.kind(),
                        text: &r.explanation,
                        item_id: r.reason_item.as_deref(),
                        category: r.reason_category.as_deref(),
                    },
                })
                .collect(),
            user_id: user,
            experiment: list.experiment.as_ref().map(|x| ExperimentBody {
                name: &x.name,
                phase: x.phase,
                variant: &x.variant,
            }),
            segment: list.segment.as_deref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use attune_core::event::{validate, EventRules};
    use serde_json::json;

    fn now() -> Timestamp {
        Timestamp::parse_rfc3339("2026-11-28T12:00:00Z").unwrap()
    }

    fn full_event() -> Value {
        json!({
            "event_id": "0193a1b2-0000-7000-8000-000000000001",
            "type": "purchase",
            "user_id": "cust-1042",
            "anonymous_id": "dev-9f3a",
            "item_id": "SKU-4411-BLK",
            "timestamp": "2026-11-28T09:15:00.123456+01:00",
            "value": 19.98,
            "properties": {"dwell_ms": 1200, "scroll_depth": 0.8, "hover_ms": 300, "price": 9.99,
                            "quantity": 2, "rating": 4, "coupon": "BF26", "gift": true, "shipping": 4.5},
            "context": {"session_id": "s-77", "device": "mobile", "page": "/p/SKU-4411-BLK",
                         "recommendation_id": "rec-1", "experiment": "home-v2", "variant": "b"}
        })
    }

    #[test]
    fn event_round_trips_exactly() {
        let raw = event_from_json(&full_event(), true).unwrap();
        let e = validate(raw, &EventRules::default(), now(), || unreachable!()).unwrap();
        let back = event_to_json(&e);
        let raw2 = event_from_json(&back, true).unwrap();
        let e2 = validate(raw2, &EventRules::default(), now(), || unreachable!()).unwrap();
        assert_eq!(e, e2);
        assert_eq!(back["timestamp"], "2026-11-28T09:15:00.123456+01:00");
        assert_eq!(back["properties"]["quantity"], 2);
        assert_eq!(back["properties"]["gift"], true);
    }

    /// A tiny deterministic generator (no extra dependency for one test).
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.0 >> 11
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
        fn float(&mut self) -> f64 {
            match self.below(4) {
                0 => self.below(1000) as f64,
                1 => self.next() as f64 / (1u64 << 53) as f64,
                2 => {
                    let x = f64::from_bits(self.next() << 11);
                    if x.is_finite() {
                        x % 1e12
                    } else {
                        0.5
                    }
                }
                _ => -(self.below(10_000) as f64) / 7.0,
            }
        }
        fn id(&mut self) -> String {
            let stems = ["SKU-", "cust-", "käse-", "書-", "a b", "x/y"];
            format!(
                "{}{}",
                stems[self.below(stems.len() as u64) as usize],
                self.below(100_000)
            )
        }
    }

    #[test]
    fn random_events_survive_export_then_import() {
        let mut rng = Lcg(7);
        let rules = EventRules {
            rating_min: -1e300,
            rating_max: 1e300,
            ..EventRules::default()
        };
        for _ in 0..2000 {
            let mut raw = RawEvent {
                event_id: Some(rng.id()),
                event_type: Some(
                    ["view", "click", "purchase", "add_to_cart", "impression"]
                        [rng.below(5) as usize]
                        .into(),
                ),
                item_id: Some(rng.id()),
                ..RawEvent::default()
            };
            if rng.below(2) == 0 {
                raw.user_id = Some(rng.id());
            }
            if raw.user_id.is_none() || rng.below(2) == 0 {
                raw.anonymous_id = Some(rng.id());
            }
            let offset = (rng.below(26 * 4) as i64 - 12 * 4) * 900;
            let micros = 1_700_000_000_000_000 + rng.below(50_000_000_000_000) as i64;
            let ts = Timestamp {
                utc_micros: micros,
                offset_secs: offset as i32,
            };
            raw.timestamp = Some(ts.to_rfc3339());
            if rng.below(2) == 0 {
                raw.value = Some(rng.float());
            }
            let p = &mut raw.properties;
            p.dwell_ms = (rng.below(2) == 0).then(|| rng.below(10_000_000) as f64);
            p.scroll_depth = (rng.below(2) == 0).then(|| rng.below(1001) as f64 / 1000.0);
            p.price = (rng.below(2) == 0).then(|| rng.float().abs());
            p.quantity = (rng.below(2) == 0).then(|| 1.0 + rng.below(100) as f64);
            p.rating = (rng.below(3) == 0).then(|| rng.float());
            for k in 0..rng.below(3) {
                let v = match rng.below(3) {
                    0 => PropValue::Bool(rng.below(2) == 0),
                    1 => PropValue::Number(rng.float()),
                    _ => PropValue::Text(rng.id()),
                };
                p.extra.insert(format!("x{k}"), v);
            }
            if rng.below(2) == 0 {
                raw.context.session_id = Some(rng.id());
                raw.context.page = Some(format!("/p/{}", rng.id()));
            }
            let e = validate(raw, &rules, now(), || unreachable!()).unwrap();
            let text = serde_json::to_string(&event_to_json(&e)).unwrap();
            let back: Value = serde_json::from_str(&text).unwrap();
            let e2 = validate(
                event_from_json(&back, true).unwrap(),
                &rules,
                now(),
                || unreachable!(),
            )
            .unwrap();
            assert_eq!(e, e2, "{text}");
        }
    }

    #[test]
    fn awkward_floats_round_trip_bit_identical() {
        for x in [
            0.1 + 0.2,
            1e-300,
            123_456_789.123_456_79,
            2.0f64.powi(60),
            1.0 / 3.0,
        ] {
            let v = number(x);
            let text = serde_json::to_string(&v).unwrap();
            let back: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(
                back.as_f64().unwrap().to_bits(),
                x.to_bits(),
                "{x} -> {text}"
            );
        }
    }

    #[test]
    fn type_errors_name_the_path() {
        let mut v = full_event();
        v["properties"]["dwell_ms"] = json!("abc");
        let e = event_from_json(&v, true).unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"properties.dwell_ms: expected a number, got "abc""#
        );
        let mut v = full_event();
        v["value"] = json!("high");
        assert_eq!(event_from_json(&v, true).unwrap_err().field, "value");
        let mut v = full_event();
        v["context"]["device"] = json!(3);
        assert_eq!(
            event_from_json(&v, true).unwrap_err().field,
            "context.device"
        );
        let mut v = full_event();
        v["properties"]["tags"] = json!(["a"]);
        assert_eq!(
            event_from_json(&v, true).unwrap_err().field,
            "properties.tags"
        );
        assert_eq!(
            event_from_json(&json!([1]), true).unwrap_err().field,
            "event"
        );
    }

    #[test]
    fn strict_mode_rejects_unknown_members_lenient_ignores_them() {
        let mut v = full_event();
        v["colour"] = json!("red");
        let e = event_from_json(&v, true).unwrap_err();
        assert_eq!(e.field, "colour");
        assert!(e.reason.contains("allowed: event_id"), "{e}");
        assert!(event_from_json(&v, false).is_ok());
        let mut v = full_event();
        v["context"]["referrer"] = json!("x");
        assert_eq!(
            event_from_json(&v, true).unwrap_err().field,
            "context.referrer"
        );
    }

    #[test]
    fn null_means_absent() {
        let v = json!({"type": "view", "user_id": "u", "item_id": "i", "value": null, "context": null,
                       "properties": {"dwell_ms": null, "coupon": null}});
        let raw = event_from_json(&v, true).unwrap();
        assert_eq!(raw.value, None);
        assert_eq!(raw.properties.dwell_ms, None);
        assert!(raw.properties.extra.is_empty());
        let item = item_from_json(
            Some("a"),
            &json!({"attributes": {"brand": null}, "title": null}),
            true,
            &InputLimits::default(),
        )
        .unwrap();
        assert_eq!(item, Item::new("a"));
    }

    #[test]
    fn item_round_trip_and_id_rules() {
        let v = json!({"title": "Trail shoe", "description": "Waterproof", "categories": ["shoes", "trail"],
                       "tags": ["gore-tex"], "attributes": {"price": 129.9, "brand": "Fjell", "sale": false},
                       "published_at": "2026-03-01T08:00:00Z", "available": false});
        let item = item_from_json(Some("SKU-1"), &v, true, &InputLimits::default()).unwrap();
        assert_eq!(item.item_id, "SKU-1");
        assert!(!item.available);
        assert_eq!(
            item_from_json(None, &item_to_json(&item), true, &InputLimits::default()).unwrap(),
            item
        );

        let err = item_from_json(
            Some("SKU-1"),
            &json!({"item_id": "SKU-2"}),
            true,
            &InputLimits::default(),
        )
        .unwrap_err();
        assert_eq!(err.first_field(), "item_id");
        let err = item_from_json(None, &json!({"title": "x"}), true, &InputLimits::default())
            .unwrap_err();
        assert_eq!(err.first_field(), "item_id");
        let err = item_from_json(
            None,
            &json!({"item_id": "a", "categories": ["ok", 5], "price": 3}),
            true,
            &InputLimits::default(),
        )
        .unwrap_err();
        let fields: Vec<_> = err.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["categories[1]", "price"]);
        assert!(
            item_from_json(
                None,
                &json!({"item_id": "a"}),
                true,
                &InputLimits::default()
            )
            .unwrap()
            .available
        );
    }

    #[test]
    fn user_round_trip_and_consent() {
        let v = json!({"user_id": "cust-1", "attributes": {"age": 34, "tier": "gold"},
                       "preferred_categories": ["shoes"], "consent": {"personalization": false}});
        let u = user_from_json(Some("cust-1"), &v, true, &InputLimits::default()).unwrap();
        assert!(!u.consent.personalization);
        assert_eq!(user_to_json(&u), v);
        assert_eq!(
            user_from_json(None, &user_to_json(&u), true, &InputLimits::default()).unwrap(),
            u
        );
        let err = user_from_json(
            None,
            &json!({"user_id": "u", "consent": {"personalization": "yes"}}),
            true,
            &InputLimits::default(),
        )
        .unwrap_err();
        assert_eq!(err.first_field(), "consent.personalization");
    }
}
