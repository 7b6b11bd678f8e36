//! `attune export events|items|users --format jsonl|csv [-o FILE]`.
//!
//! Rows stream from the store's scan straight to the output; nothing is collected in memory.
//!
//! - **JSON lines** is exactly the import format (`attune_server::api::*_to_json`, the HTTP
//!   API's own encoders) and lossless: export → import into another app → export gives the
//!   same bytes.
//! - **CSV** is for spreadsheets and other tools. Its columns are fixed, whatever names the data
//!   holds, so an export stays as large as its data (one column per distinct property name made
//!   an app of 1,000 events plus one with 50,000 names a 51 MB file); the free-form part of a
//!   record is one JSON object cell, written by the JSON-lines encoder:
//!   - events: `event_id, type, user_id, anonymous_id, item_id, timestamp, value,
//!     context.session_id, context.device, context.page, context.recommendation_id,
//!     context.experiment, context.variant, properties` (typed and free-form properties);
//!   - items: `item_id, title, description, categories, tags, published_at, available,
//!     attributes`;
//!   - users: `user_id, preferred_categories, consent.personalization, attributes`.
//!
//!   Lists are joined with `|`, timestamps are RFC 3339, an absent value is an empty cell.
//!   `attune import` reads this header back without `--map`, the JSON cells with the API's
//!   decoder, so properties and attributes keep their names and types exactly.
//!
//! With `-o FILE` the data goes to a temporary file next to FILE that is renamed into place at
//! the end, so a failed export never leaves a truncated file that looks complete.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;

use anyhow::Context as _;
use attune_core::catalog::{AttrValue, Item, User};
use attune_core::event::Event;
use attune_core::time::Timestamp;
use attune_server::api;
use attune_store::{EventFilter, Store};

use super::apps::{open_store, require_app};
use super::import::fields::{CONTEXT_FIELDS, LIST_SEPARATOR};
use super::output::Output;
use crate::cli::{Entity, ExportArgs, FileFormat};
use crate::config::Settings;

pub fn run(args: ExportArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    let store = open_store(settings)?;
    let app = args.app.app.as_str();
    require_app(&*store, app)?;
    let mut out = Output::new(args.output.as_deref())?;
    let rows = match args.format {
        FileFormat::Jsonl => export_jsonl(&*store, app, args.entity, out.writer())?,
        FileFormat::Csv => export_csv(&*store, app, args.entity, out.writer())?,
    };
    out.finish()?;
    if let Some(path) = &args.output {
        eprintln!("attune: exported {rows} rows to {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Run a store scan whose visitor writes; the first write error stops the scan and is returned.
fn scan_writing<T>(
    scan: impl FnOnce(&mut dyn FnMut(T) -> bool) -> attune_store::Result<()>,
    mut write: impl FnMut(T) -> anyhow::Result<()>,
) -> anyhow::Result<u64> {
    let mut failed: Option<anyhow::Error> = None;
    let mut rows = 0u64;
    scan(&mut |row| match write(row) {
        Ok(()) => {
            rows += 1;
            true
        }
        Err(e) => {
            failed = Some(e);
            false
        }
    })
    .context("reading from the store")?;
    match failed {
        Some(e) => Err(e),
        None => Ok(rows),
    }
}

fn export_jsonl(
    store: &dyn Store,
    app: &str,
    entity: Entity,
    out: &mut dyn Write,
) -> anyhow::Result<u64> {
    let mut line = |v: serde_json::Value| -> anyhow::Result<()> {
        // As io::Error, so that a closed pipe (`| head`) is recognized as a normal end.
        serde_json::to_writer(&mut *out, &v).map_err(std::io::Error::from)?;
        out.write_all(b"\n")?;
        Ok(())
    };
    match entity {
        Entity::Events => scan_writing(
            |visit| store.scan_events(app, &EventFilter::default(), visit),
            |e: Event| line(api::event_to_json(&e)),
        ),
        Entity::Items => scan_writing(
            |visit| store.scan_items(app, visit),
            |i: Item| line(api::item_to_json(&i)),
        ),
        Entity::Users => scan_writing(
            |visit| store.scan_users(app, visit),
            |u: User| line(api::user_to_json(&u)),
        ),
    }
}

/// The CSV export's columns (see the module docs): the same for every app, whatever property
/// or attribute names its data holds.
fn columns(entity: Entity) -> Vec<String> {
    let names: &[&str] = match entity {
        Entity::Events => &[
            "event_id",
            "type",
            "user_id",
            "anonymous_id",
            "item_id",
            "timestamp",
            "value",
        ],
        Entity::Items => &[
            "item_id",
            "title",
            "description",
            "categories",
            "tags",
            "published_at",
            "available",
        ],
        Entity::Users => &["user_id", "preferred_categories", "consent.personalization"],
    };
    let mut cols: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    if entity == Entity::Events {
        cols.extend(CONTEXT_FIELDS.iter().map(|c| format!("context.{c}")));
        cols.push("properties".into());
    } else {
        cols.push("attributes".into());
    }
    cols
}

fn export_csv(
    store: &dyn Store,
    app: &str,
    entity: Entity,
    out: &mut dyn Write,
) -> anyhow::Result<u64> {
    // One pass: the header is fixed, whatever names the data holds.
    let header = columns(entity);
    let mut w = csv::WriterBuilder::new().from_writer(out);
    w.write_record(&header).map_err(csv_error)?;
    let rows = match entity {
        Entity::Events => scan_writing(
            |visit| store.scan_events(app, &EventFilter::default(), visit),
            |e: Event| {
                let opt = |s: &Option<String>| s.clone().unwrap_or_default();
                let fixed = [
                    e.event_id.clone(),
                    e.event_type.as_str().to_string(),
                    opt(&e.user_id),
                    opt(&e.anonymous_id),
                    opt(&e.item_id),
                    e.timestamp.to_rfc3339(),
                    e.value.map(number).unwrap_or_default(),
                ];
                // Then the context columns, in CONTEXT_FIELDS order (the header's).
                let context = e
                    .context
                    .fields()
                    .map(|(_, v)| v.unwrap_or_default().to_string());
                let props = api::properties_to_json(&e.properties);
                let props = if props.is_empty() {
                    String::new()
                } else {
                    serde_json::Value::Object(props).to_string()
                };
                let cells: Vec<String> = fixed
                    .into_iter()
                    .chain(context)
                    .chain(std::iter::once(props))
                    .collect();
                w.write_record(&cells).map_err(csv_error)?;
                Ok(())
            },
        )?,
        Entity::Items => scan_writing(
            |visit| store.scan_items(app, visit),
            |i: Item| {
                let cells = [
                    i.item_id.clone(),
                    i.title.clone().unwrap_or_default(),
                    i.description.clone().unwrap_or_default(),
                    join("categories", &i.item_id, &i.categories)?,
                    join("tags", &i.item_id, &i.tags)?,
                    i.published_at
                        .map(|p| Timestamp::from_utc_micros(p).to_rfc3339())
                        .unwrap_or_default(),
                    i.available.to_string(),
                    attributes_cell(&i.attributes),
                ];
                w.write_record(&cells).map_err(csv_error)?;
                Ok(())
            },
        )?,
        Entity::Users => scan_writing(
            |visit| store.scan_users(app, visit),
            |u: User| {
                let cells = [
                    u.user_id.clone(),
                    join("preferred_categories", &u.user_id, &u.preferred_categories)?,
                    u.consent.personalization.to_string(),
                    attributes_cell(&u.attributes),
                ];
                w.write_record(&cells).map_err(csv_error)?;
                Ok(())
            },
        )?,
    };
    w.flush()?;
    Ok(rows)
}

/// The `attributes` cell: the JSON object, or empty when there are none.
fn attributes_cell(attrs: &BTreeMap<String, AttrValue>) -> String {
    if attrs.is_empty() {
        String::new()
    } else {
        api::attrs_to_json(attrs).to_string()
    }
}

/// The underlying I/O error of a CSV write when there is one, so that a closed pipe (`| head`)
/// is recognized as a normal end.
fn csv_error(e: csv::Error) -> anyhow::Error {
    match e.into_kind() {
        csv::ErrorKind::Io(io) => io.into(),
        other => anyhow::anyhow!("writing CSV: {other:?}"),
    }
}

/// A number as the JSON export writes it: whole values without a fraction, the rest in the
/// shortest form that reads back exactly.
fn number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 9.007_199_254_740_992e15 {
        format!("{}", x as i64)
    } else {
        // Debug is the shortest text that reads back as the same f64 (`1e300`, not 301 digits).
        format!("{x:?}")
    }
}

/// A list cell; a label containing the separator cannot be written to CSV unambiguously.
fn join(field: &str, id: &str, labels: &[String]) -> anyhow::Result<String> {
    if let Some(bad) = labels.iter().find(|l| l.contains(LIST_SEPARATOR)) {
        anyhow::bail!(
            "{id:?}: {field} label {bad:?} contains {LIST_SEPARATOR:?}, the CSV list separator; export as JSON lines \
             (--format jsonl) instead"
        );
    }
    Ok(labels.join(&LIST_SEPARATOR.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_like_the_json_export() {
        assert_eq!(number(3.0), "3");
        assert_eq!(number(-0.5), "-0.5");
        assert_eq!(number(19.99), "19.99");
        assert_eq!(number(1e300), "1e300");
        assert_eq!(number(1.5e-7), "1.5e-7");
    }

    #[test]
    fn list_separator_in_a_label_is_refused() {
        assert_eq!(
            join("tags", "i1", &["a".into(), "b".into()]).unwrap(),
            "a|b"
        );
        let err = join("tags", "i1", &["a|b".into()]).unwrap_err().to_string();
        assert!(err.contains("--format jsonl"), "{err}");
    }
}
