//! CSV input: a header row, then one record per row.
//!
//! Columns are matched to attune fields once, from the header (see [`ColumnMap::resolve`]); each
//! row is then decoded into the same raw core types the HTTP API produces, and validated by the
//! same functions. Cell rules (documented in `attune import --help`):
//!
//! - an empty cell is an absent field;
//! - `timestamp` / `published_at`: RFC 3339 with an offset or `Z`, or a bare number = Unix
//!   seconds UTC (fractions allowed);
//! - list fields (`categories`, `tags`, `preferred_categories`) are split on `|`, segments
//!   trimmed, empty segments ignored;
//! - `available`, `consent.personalization`: true/false, 1/0 or yes/no;
//! - typed properties (`price`, `rating`, ...) and `value` must be numbers;
//! - a `properties` or `attributes` column holds a JSON object (the CSV export writes these),
//!   decoded by the API's own decoder, so names and types come back exactly;
//! - other properties and attributes: `true`/`false` become booleans, JSON-style numbers
//!   (`42`, `-1.5`, `2e3`, but not `007`) become numbers, everything else stays text.

use std::collections::HashMap;
use std::io::Read;

use attune_core::catalog::{AttrValue, Item, User};
use attune_core::error::FieldError;
use attune_core::event::{PropValue, RawEvent};
use attune_core::time::Timestamp;

use super::fields::{entity_name, Field, LIST_SEPARATOR};
use super::{Decoded, Record};
use crate::cli::Entity;

/// Unix times above this many seconds (year 5138) are almost surely milliseconds.
const MAX_UNIX_SECONDS: i64 = 100_000_000_000;

/// Which attune field each CSV column feeds.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnMap {
    /// `(column index, field)`; a column may feed more than one field (via `--map`).
    pub columns: Vec<(usize, Field)>,
    /// Header columns that feed nothing, with the reason (printed as warnings).
    pub ignored: Vec<String>,
}

impl ColumnMap {
    /// Match `header` to fields: `--map` first, then columns named like a field, then the rest
    /// as properties / attributes (see [`Field::extra`]).
    pub fn resolve(
        entity: Entity,
        header: &[String],
        maps: &[(Field, String)],
    ) -> anyhow::Result<Self> {
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (i, h) in header.iter().enumerate() {
            if h.is_empty() {
                continue;
            }
            if let Some(first) = seen.insert(h.as_str(), i) {
                anyhow::bail!(
                    "the header names column {h:?} twice (columns {} and {})",
                    first + 1,
                    i + 1
                );
            }
        }
        let mut columns: Vec<(usize, Field)> = Vec::new();
        for (field, col) in maps {
            let Some(&i) = seen.get(col.as_str()) else {
                anyhow::bail!(
                    "--map {}={col}: the file has no column {col:?}; its columns are: {}",
                    field.name(),
                    header.join(", ")
                );
            };
            columns.push((i, field.clone()));
        }
        let mut ignored = Vec::new();
        for (i, h) in header.iter().enumerate() {
            if maps.iter().any(|(_, c)| c == h) {
                continue;
            }
            if h.is_empty() {
                ignored.push(format!(
                    "column {} has no name in the header; ignored",
                    i + 1
                ));
                continue;
            }
            let field = Field::parse(entity, h).unwrap_or_else(|| Field::extra(entity, h));
            if let Some((_, col)) = maps.iter().find(|(f, _)| *f == field) {
                ignored.push(format!(
                    "column {h:?} ignored: field {} is mapped to column {col:?}",
                    field.name()
                ));
                continue;
            }
            if let Some(&(j, _)) = columns.iter().find(|(_, f)| *f == field) {
                anyhow::bail!(
                    "columns {:?} and {h:?} both feed field {}; pick one with --map {}=COLUMN",
                    header[j],
                    field.name(),
                    field.name()
                );
            }
            columns.push((i, field));
        }
        let has = |f: &Field| columns.iter().any(|(_, g)| g == f);
        let missing = match entity {
            Entity::Events if !has(&Field::Type) => Some("type"),
            Entity::Events if !has(&Field::UserId) && !has(&Field::AnonymousId) => {
                Some("user_id (or anonymous_id)")
            }
            Entity::Items if !has(&Field::ItemId) => Some("item_id"),
            Entity::Users if !has(&Field::UserId) => Some("user_id"),
            _ => None,
        };
        if let Some(field) = missing {
            let example = field.split(' ').next().unwrap_or(field);
            anyhow::bail!(
                "no column feeds {field}, which every {} row needs; the columns are: {}. Name a column \
                 after the field or map one with --map {example}=COLUMN",
                entity_name(entity).trim_end_matches('s'),
                header.join(", ")
            );
        }
        Ok(Self { columns, ignored })
    }
}

/// Rows of a CSV file, decoded (not yet validated).
pub struct CsvSource {
    reader: ::csv::Reader<Box<dyn Read>>,
    entity: Entity,
    map: ColumnMap,
    n_header: usize,
    record: ::csv::StringRecord,
}

impl CsvSource {
    /// Read the header and resolve the columns. Warnings about ignored columns go to `warn`.
    pub fn new(
        input: Box<dyn Read>,
        entity: Entity,
        maps: &[(Field, String)],
        warn: &mut dyn FnMut(&str),
    ) -> anyhow::Result<Self> {
        let mut reader = ::csv::ReaderBuilder::new()
            .flexible(true)
            .has_headers(true)
            .from_reader(input);
        let header: Vec<String> = match reader.headers() {
            Ok(h) => h
                .iter()
                .map(|c| c.trim_start_matches('\u{feff}').trim().to_string())
                .collect(),
            Err(e) => anyhow::bail!("cannot read the CSV header: {e}"),
        };
        anyhow::ensure!(
            header.iter().any(|h| !h.is_empty()),
            "the CSV file is empty or its first line is not a header"
        );
        let map = ColumnMap::resolve(entity, &header, maps)?;
        for w in &map.ignored {
            warn(w);
        }
        Ok(Self {
            reader,
            entity,
            map,
            n_header: header.len(),
            record: ::csv::StringRecord::new(),
        })
    }

    /// The next row, or `None` at the end. I/O failures are errors; a malformed row is a
    /// [`Record`] with errors.
    pub fn next_record(&mut self) -> anyhow::Result<Option<Record>> {
        match self.reader.read_record(&mut self.record) {
            Ok(false) => Ok(None),
            Ok(true) => {
                let line = self.record.position().map_or(0, |p| p.line());
                if self.record.len() != self.n_header {
                    let reason = format!(
                        "the row has {} fields but the header has {}",
                        self.record.len(),
                        self.n_header
                    );
                    return Ok(Some(Record::failed(line, FieldError::new("row", reason))));
                }
                let (decoded, errors) = decode(self.entity, &self.map, &self.record);
                Ok(Some(Record {
                    line,
                    decoded: Some(decoded),
                    errors,
                }))
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                match e.kind() {
                    ::csv::ErrorKind::Utf8 { .. } => Ok(Some(Record::failed(
                        line,
                        FieldError::new("row", "is not valid UTF-8"),
                    ))),
                    _ => Err(anyhow::anyhow!("reading CSV at line {line}: {e}")),
                }
            }
        }
    }
}

/// Decode one row; cell-level errors (a number that is not one) are returned beside the value,
/// whose field is then left absent.
fn decode(
    entity: Entity,
    map: &ColumnMap,
    rec: &::csv::StringRecord,
) -> (Decoded, Vec<FieldError>) {
    let mut errors = Vec::new();
    let cells = map
        .columns
        .iter()
        .filter_map(|(i, f)| rec.get(*i).filter(|c| !c.is_empty()).map(|c| (f, c)));
    match entity {
        Entity::Events => {
            let mut raw = RawEvent::default();
            for (field, cell) in cells {
                let text = || Some(cell.to_string());
                match field {
                    Field::EventId => raw.event_id = text(),
                    Field::Type => raw.event_type = text(),
                    Field::UserId => raw.user_id = text(),
                    Field::AnonymousId => raw.anonymous_id = text(),
                    Field::ItemId => raw.item_id = text(),
                    Field::Timestamp => {
                        raw.timestamp = keep(timestamp_text(cell), "timestamp", &mut errors)
                    }
                    Field::Value => raw.value = keep(number(cell), "value", &mut errors),
                    Field::Property(name) => {
                        let p = &mut raw.properties;
                        match p.typed_mut(name) {
                            Some(slot) => *slot = keep(number(cell), &field.name(), &mut errors),
                            None => {
                                p.extra.insert(name.clone(), infer_prop(cell));
                            }
                        }
                    }
                    Field::Properties => {
                        if let Some(v) = json_object(cell, "properties", &mut errors) {
                            if let Err(e) =
                                attune_server::api::properties_from_json(&v, &mut raw.properties)
                            {
                                errors.push(e);
                            }
                        }
                    }
                    Field::Context(c) => {
                        let slot = raw
                            .context
                            .field_mut(c)
                            .expect("context columns are CONTEXT_FIELDS");
                        *slot = text();
                    }
                    _ => unreachable!("not an event field: {field:?}"),
                }
            }
            (Decoded::Event(raw), errors)
        }
        Entity::Items => {
            let mut item = Item::new("");
            let mut has_id = false;
            for (field, cell) in cells {
                match field {
                    Field::ItemId => {
                        item.item_id = cell.to_string();
                        has_id = true;
                    }
                    Field::Title => item.title = Some(cell.to_string()),
                    Field::Description => item.description = Some(cell.to_string()),
                    Field::Categories => item.categories = list(cell),
                    Field::Tags => item.tags = list(cell),
                    Field::PublishedAt => {
                        item.published_at =
                            keep(timestamp_micros(cell), "published_at", &mut errors)
                    }
                    Field::Available => {
                        item.available =
                            keep(boolean(cell), "available", &mut errors).unwrap_or(true)
                    }
                    Field::Attribute(name) => {
                        item.attributes.insert(name.clone(), infer_attr(cell));
                    }
                    Field::Attributes => json_attrs(cell, &mut item.attributes, &mut errors),
                    _ => unreachable!("not an item field: {field:?}"),
                }
            }
            if !has_id {
                errors.push(FieldError::new("item_id", "is required"));
            }
            (Decoded::Item(item), errors)
        }
        Entity::Users => {
            let mut user = User::new("");
            let mut has_id = false;
            for (field, cell) in cells {
                match field {
                    Field::UserId => {
                        user.user_id = cell.to_string();
                        has_id = true;
                    }
                    Field::PreferredCategories => user.preferred_categories = list(cell),
                    Field::ConsentPersonalization => {
                        user.consent.personalization =
                            keep(boolean(cell), "consent.personalization", &mut errors)
                                .unwrap_or(true)
                    }
                    Field::Attribute(name) => {
                        user.attributes.insert(name.clone(), infer_attr(cell));
                    }
                    Field::Attributes => json_attrs(cell, &mut user.attributes, &mut errors),
                    _ => unreachable!("not a user field: {field:?}"),
                }
            }
            if !has_id {
                errors.push(FieldError::new("user_id", "is required"));
            }
            (Decoded::User(user), errors)
        }
    }
}

/// A cell holding a JSON object (`properties`, `attributes`), or `None` with the reason
/// recorded under `field`.
fn json_object(cell: &str, field: &str, errors: &mut Vec<FieldError>) -> Option<serde_json::Value> {
    match serde_json::from_str::<serde_json::Value>(cell) {
        Ok(v @ serde_json::Value::Object(_)) => Some(v),
        Ok(_) | Err(_) => {
            errors.push(FieldError::new(
                field,
                "expected a JSON object, e.g. {\"coupon\": \"BF26\"}",
            ));
            None
        }
    }
}

/// An `attributes` cell, merged into `attrs` through the API's decoder.
fn json_attrs(
    cell: &str,
    attrs: &mut std::collections::BTreeMap<String, AttrValue>,
    errors: &mut Vec<FieldError>,
) {
    if let Some(v) = json_object(cell, "attributes", errors) {
        match attune_server::api::attrs_from_json(&v) {
            Ok(decoded) => attrs.extend(decoded),
            Err(e) => errors.extend(e),
        }
    }
}

/// The value, or `None` with the reason recorded under `field`.
fn keep<T>(r: Result<T, String>, field: &str, errors: &mut Vec<FieldError>) -> Option<T> {
    r.map_err(|reason| errors.push(FieldError::new(field, reason)))
        .ok()
}

fn number(cell: &str) -> Result<f64, String> {
    let t = cell.trim();
    match t.parse::<f64>() {
        Ok(v) if v.is_finite() && is_json_number(t) => Ok(v),
        _ => Err(format!("expected a number, got {cell:?}")),
    }
}

fn boolean(cell: &str) -> Result<bool, String> {
    match cell.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(format!("expected true/false, 1/0 or yes/no, got {cell:?}")),
    }
}

fn list(cell: &str) -> Vec<String> {
    cell.split(LIST_SEPARATOR)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Whether `s` is a number in JSON syntax: no leading `+`, no leading zeros (so `00123`, a zip
/// code or an SKU, stays text), no `inf`/`NaN`.
pub fn is_json_number(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if b.first() == Some(&b'-') {
        i += 1;
    }
    let int_start = i;
    let n_int = digits(&mut i);
    if n_int == 0 || (n_int > 1 && b[int_start] == b'0') {
        return false;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

fn infer_prop(cell: &str) -> PropValue {
    match infer_attr(cell) {
        AttrValue::Bool(b) => PropValue::Bool(b),
        AttrValue::Number(n) => PropValue::Number(n),
        AttrValue::Text(s) => PropValue::Text(s),
        // infer_attr reads one cell as a scalar; it never makes a vector.
        AttrValue::Vector(_) => PropValue::Text(cell.to_string()),
    }
}

fn infer_attr(cell: &str) -> AttrValue {
    match cell {
        "true" => AttrValue::Bool(true),
        "false" => AttrValue::Bool(false),
        _ => match number(cell) {
            Ok(n) if cell.trim() == cell => AttrValue::Number(n),
            _ => AttrValue::Text(cell.to_string()),
        },
    }
}

/// Unix seconds (`1764321300`, `1764321300.25`) as UTC microseconds; `None` if `cell` is not
/// written that way.
fn unix_seconds(cell: &str) -> Option<Result<i64, String>> {
    let t = cell.trim();
    let (int, frac) = t.split_once('.').unwrap_or((t, ""));
    let digits = int.strip_prefix('-').unwrap_or(int);
    let numeric = !digits.is_empty()
        && digits.bytes().all(|c| c.is_ascii_digit())
        && frac.bytes().all(|c| c.is_ascii_digit())
        && (frac.is_empty() != t.contains('.'));
    if !numeric {
        return None;
    }
    let secs: i64 = match int.parse() {
        Ok(s) if (-MAX_UNIX_SECONDS..=MAX_UNIX_SECONDS).contains(&s) => s,
        _ => {
            return Some(Err(format!(
                "{cell:?} is not a plausible Unix time in seconds (milliseconds? divide by 1000)"
            )))
        }
    };
    let mut micros_frac: i64 = 0;
    for (k, c) in frac.bytes().take(6).enumerate() {
        micros_frac += i64::from(c - b'0') * 10_i64.pow(5 - k as u32);
    }
    let sign = if int.starts_with('-') { -1 } else { 1 };
    Some(Ok(secs * 1_000_000 + sign * micros_frac))
}

/// A timestamp cell as the RFC 3339 text the core validates: Unix seconds are converted (UTC),
/// anything else is passed through for the core to accept or reject with its own message.
fn timestamp_text(cell: &str) -> Result<String, String> {
    match unix_seconds(cell) {
        Some(micros) => Ok(Timestamp::from_utc_micros(micros?).to_rfc3339()),
        None => Ok(cell.to_string()),
    }
}

fn timestamp_micros(cell: &str) -> Result<i64, String> {
    match unix_seconds(cell) {
        Some(micros) => micros,
        None => Timestamp::parse_rfc3339(cell).map(|t| t.utc_micros),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(cols: &[&str]) -> Vec<String> {
        cols.iter().map(|c| c.to_string()).collect()
    }

    fn names(map: &ColumnMap) -> Vec<(usize, String)> {
        map.columns.iter().map(|(i, f)| (*i, f.name())).collect()
    }

    #[test]
    fn columns_resolve_by_map_then_name_then_extra() {
        let h = header(&[
            "customer", "sku", "type", "ts", "device", "color", "user_id",
        ]);
        let maps = vec![
            (Field::UserId, "customer".to_string()),
            (Field::ItemId, "sku".to_string()),
            (Field::Timestamp, "ts".to_string()),
        ];
        let map = ColumnMap::resolve(Entity::Events, &h, &maps).unwrap();
        assert_eq!(
            names(&map),
            vec![
                (0, "user_id".into()),
                (1, "item_id".into()),
                (3, "timestamp".into()),
                (2, "type".into()),
                (4, "context.device".into()),
                (5, "properties.color".into()),
            ]
        );
        assert_eq!(map.ignored.len(), 1);
        assert!(
            map.ignored[0].contains("\"user_id\" ignored"),
            "{:?}",
            map.ignored
        );
    }

    #[test]
    fn header_problems_are_named() {
        let err = |h: &[&str], maps: Vec<(Field, String)>| {
            ColumnMap::resolve(Entity::Events, &header(h), &maps)
                .unwrap_err()
                .to_string()
        };
        assert!(err(&["type", "user_id", "type"], vec![]).contains("twice"));
        assert!(err(&["type", "event_type", "user_id"], vec![]).contains("both feed field type"));
        assert!(err(&["type", "user"], vec![]).contains("no column feeds user_id"));
        assert!(
            err(&["type", "user_id"], vec![(Field::ItemId, "sku".into())])
                .contains("no column \"sku\"")
        );
    }

    #[test]
    fn numbers_follow_json_syntax() {
        for ok in ["0", "-1", "42", "1.5", "2e3", "-0.25E-2"] {
            assert!(is_json_number(ok), "{ok}");
        }
        for bad in [
            "", "-", "007", "+1", "1.", ".5", "1e", "NaN", "inf", "1,5", "12ab",
        ] {
            assert!(!is_json_number(bad), "{bad}");
        }
        assert_eq!(infer_attr("02139"), AttrValue::Text("02139".into()));
        assert_eq!(infer_attr("19.99"), AttrValue::Number(19.99));
        assert_eq!(infer_attr("true"), AttrValue::Bool(true));
        assert_eq!(infer_attr(" 5"), AttrValue::Text(" 5".into()));
    }

    #[test]
    fn unix_seconds_are_utc() {
        assert_eq!(timestamp_text("881250949").unwrap(), "1997-12-04T15:55:49Z");
        assert_eq!(
            timestamp_text("1764321300.25").unwrap(),
            "2025-11-28T09:15:00.250Z"
        );
        assert_eq!(
            timestamp_text("2026-11-28T09:15:00+01:00").unwrap(),
            "2026-11-28T09:15:00+01:00"
        );
        assert!(timestamp_text("1764321300000")
            .unwrap_err()
            .contains("milliseconds"));
        assert_eq!(timestamp_micros("1.5").unwrap(), 1_500_000);
        assert_eq!(timestamp_micros("-1.5").unwrap(), -1_500_000);
        assert!(timestamp_micros("yesterday").is_err());
    }

    #[test]
    fn lists_and_booleans() {
        assert_eq!(list("books | sci-fi||"), vec!["books", "sci-fi"]);
        assert_eq!(boolean("Yes"), Ok(true));
        assert_eq!(boolean("0"), Ok(false));
        assert!(boolean("maybe").is_err());
    }
}
