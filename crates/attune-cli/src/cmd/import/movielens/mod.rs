//! `attune import movielens DIR`: MovieLens in the layouts people download, detected from the
//! files present:
//!
//! | layout | files | from |
//! |---|---|---|
//! | RecBole atomic files | `<name>.inter`, `<name>.item`, `<name>.user` | `scripts/fetch-movielens.sh`, RecBole |
//! | ml-100k | `u.data` (tab), `u.item`, `u.user` (`\|`) | grouplens.org ml-100k.zip |
//! | ml-1m, ml-10m | `ratings.dat`, `movies.dat`, `users.dat` if present (`::`) | ml-1m.zip, ml-10m.zip |
//! | ml-20m, ml-25m, ml-32m, latest | `ratings.csv`, `movies.csv` (CSV with a header) | ml-20m.zip and later |
//!
//! Every layout becomes the same things: items (title without its "(year)", categories = the
//! genres, `attributes.release_year`), users where the data set has them (`age` a number;
//! `gender`, `occupation`, `zip_code` text) and `rating` events (`value` = the rating, time
//! from the Unix seconds). Event ids are `<set>-<user>-<item>-<unix seconds>` (`ml100k-` for
//! both layouts of MovieLens-100K, `ml-` otherwise), so importing again stores nothing new.
//! The older files are ISO-8859-1 (`Misérables` is byte 0xE9); they are decoded as such.
//! A directory with none of these layouts is refused before anything is written, naming what
//! it looked for and what it found.

mod grouplens;
mod recbole;

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;
use attune_core::catalog::{AttrValue, User};
use attune_core::event::RawEvent;
use attune_core::time::Timestamp;

use super::{row_progress, BatchWriter, Decoded, Record, Reporter, Validator};
use crate::cmd::apps::{ensure_app, open_store};
use crate::config::Settings;

/// Rows per transaction: the whole item and user files fit in one; events in 20.
const BATCH: usize = 5000;

/// Where a layout's reader sends its rows: items first, then users, then ratings.
pub(super) trait Rows {
    /// One decoded row of `path` at `line`.
    fn row(&mut self, path: &str, line: u64, decoded: Decoded) -> anyhow::Result<()>;
}

/// The layouts, as detected.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Layout {
    /// RecBole atomic files `<prefix>.inter/.item/.user`.
    RecBole(String),
    /// The original ml-100k files.
    Ml100k,
    /// `::`-separated `.dat` files (ml-1m, ml-10m).
    Dat,
    /// CSV files with headers (ml-20m and later).
    Csv,
}

impl Layout {
    fn name(&self) -> &'static str {
        match self {
            Layout::RecBole(_) => "RecBole atomic files",
            Layout::Ml100k => "ml-100k (u.data)",
            Layout::Dat => "ml-1m/ml-10m (ratings.dat)",
            Layout::Csv => "ml-20m and later (ratings.csv)",
        }
    }
}

/// Which layout `dir` holds, by the ratings file present.
fn detect(dir: &Path) -> anyhow::Result<Layout> {
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read the directory {}", dir.display()))?;
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    if let Some(inter) = names.iter().find(|n| n.ends_with(".inter")) {
        return Ok(Layout::RecBole(
            inter.trim_end_matches(".inter").to_string(),
        ));
    }
    for (file, layout) in [
        ("u.data", Layout::Ml100k),
        ("ratings.dat", Layout::Dat),
        ("ratings.csv", Layout::Csv),
    ] {
        if names.iter().any(|n| n == file) {
            return Ok(layout);
        }
    }
    let shown: Vec<&str> = names.iter().take(20).map(String::as_str).collect();
    anyhow::bail!(
        "{} holds no MovieLens layout: expected <name>.inter (RecBole), u.data (ml-100k), \
         ratings.dat (ml-1m, ml-10m) or ratings.csv (ml-20m and later) (MovieLens-100K: \
         scripts/fetch-movielens.sh); it has: {}",
        dir.display(),
        if shown.is_empty() {
            "nothing".to_string()
        } else {
            shown.join(", ")
        }
    )
}

/// A rating as a raw event; a malformed number leaves the field absent so validation names it.
pub(super) fn rating_event(set: &str, user: &str, item: &str, rating: &str, ts: &str) -> RawEvent {
    let secs = ts
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && s.fract() == 0.0)
        .map(|s| s as i64);
    RawEvent {
        event_id: Some(format!("{set}-{user}-{item}-{ts}")),
        event_type: Some("rating".into()),
        user_id: Some(user.to_string()),
        item_id: Some(item.to_string()),
        timestamp: secs.map(|s| Timestamp::from_utc_micros(s * 1_000_000).to_rfc3339()),
        value: rating.parse::<f64>().ok(),
        ..Default::default()
    }
}

/// The data sets' stand-ins for "no value": RecBole's `unknown` (and its `unkonwn`, sic, on
/// item 267), GroupLens's `(no genres listed)`. Such fields are left absent.
pub(super) fn is_placeholder(s: &str) -> bool {
    s.is_empty() || s == "unknown" || s == "unkonwn" || s == "(no genres listed)"
}

/// A user of any layout: `age` a number, `gender`, `occupation` and `zip_code` text.
pub(super) fn user_row(id: &str, age: &str, gender: &str, occupation: &str, zip: &str) -> User {
    let mut user = User::new(id);
    let attrs = &mut user.attributes;
    if let Ok(a) = age.parse::<u16>() {
        attrs.insert("age".into(), AttrValue::Number(f64::from(a)));
    }
    for (k, v) in [
        ("gender", gender),
        ("occupation", occupation),
        ("zip_code", zip),
    ] {
        if !v.is_empty() {
            // Text even when numeric: zip codes keep their leading zeros.
            attrs.insert(k.into(), AttrValue::Text(v.to_string()));
        }
    }
    user
}

/// Validates and writes rows, counting per kind (items, users, events).
struct Sink<'a> {
    validator: Validator,
    reporter: Reporter,
    pb: indicatif::ProgressBar,
    writer: Option<BatchWriter<'a>>,
    kind: usize,
    counts: [(u64, u64); 3],
    store: &'a dyn attune_store::Store,
    app: &'a str,
}

impl Sink<'_> {
    /// Flush the current kind's writer and record its counts.
    fn close(&mut self) -> anyhow::Result<()> {
        if let Some(mut w) = self.writer.take() {
            w.flush()?;
            self.counts[self.kind] = (w.imported, w.duplicates);
        }
        Ok(())
    }
}

impl Rows for Sink<'_> {
    fn row(&mut self, path: &str, line: u64, decoded: Decoded) -> anyhow::Result<()> {
        let kind = match decoded {
            Decoded::Item(_) => 0,
            Decoded::User(_) => 1,
            _ => 2,
        };
        if self.writer.is_none() || kind != self.kind {
            self.close()?;
            self.kind = kind;
            self.writer = Some(BatchWriter::new(self.store, self.app, BATCH));
            self.pb
                .set_message(["items", "users", "ratings"][kind].to_string());
        }
        self.pb.inc(1);
        match self.validator.finish(Record {
            line,
            decoded: Some(decoded),
            errors: Vec::new(),
        }) {
            Ok(row) => self.writer.as_mut().expect("opened above").push(row),
            Err(errors) => {
                self.reporter.invalid(path, line, &errors);
                Ok(())
            }
        }
    }
}

pub fn run(dir: &Path, app: &str, settings: &Settings) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let layout = detect(dir)?;
    // Every file the layout needs is opened before the store is touched.
    let source = grouplens::Source::open(dir, &layout)?;
    let store = open_store(settings)?;
    ensure_app(&*store, app)?;
    let pb = row_progress("movielens");
    let mut sink = Sink {
        validator: Validator::new(settings),
        reporter: Reporter::new(pb.clone()),
        pb,
        writer: None,
        kind: 0,
        counts: [(0, 0); 3],
        store: &*store,
        app,
    };
    match (&layout, source) {
        (Layout::RecBole(prefix), _) => recbole::read(dir, prefix, &mut sink)?,
        (_, Some(source)) => source.read(&mut sink)?,
        (_, None) => unreachable!("grouplens layouts always open a source"),
    }
    sink.close()?;
    sink.reporter.finish();

    let c = store.counts(app)?;
    let [(items, _), (users, _), (new_events, dup_events)] = sink.counts;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "MovieLens ({}) from {} into app {app:?} in {:.2} s:",
        layout.name(),
        dir.display(),
        started.elapsed().as_secs_f64()
    )?;
    writeln!(out, "  items:  {items} upserted")?;
    writeln!(out, "  users:  {users} upserted")?;
    writeln!(
        out,
        "  events: {} rating events ({new_events} new, {dup_events} already stored)",
        new_events + dup_events
    )?;
    writeln!(
        out,
        "  app now holds {} events, {} items, {} users",
        c.events, c.items, c.users
    )?;
    if sink.reporter.invalid > 0 {
        eprintln!(
            "attune: {} invalid rows were not imported (listed above)",
            sink.reporter.invalid
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_are_detected_by_their_ratings_file() {
        let dir = tempfile::tempdir().unwrap();
        let err = detect(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("holds no MovieLens layout") && err.contains("nothing"),
            "{err}"
        );
        std::fs::write(dir.path().join("README.txt"), "").unwrap();
        let err = detect(dir.path()).unwrap_err().to_string();
        assert!(err.contains("it has: README.txt"), "{err}");
        for (file, layout) in [
            ("ratings.csv", Layout::Csv),
            ("ratings.dat", Layout::Dat),
            ("u.data", Layout::Ml100k),
            ("ml-1m.inter", Layout::RecBole("ml-1m".into())),
        ] {
            std::fs::write(dir.path().join(file), "").unwrap();
            assert_eq!(detect(dir.path()).unwrap(), layout);
        }
    }

    #[test]
    fn ratings_get_deterministic_ids_and_utc_times() {
        let e = rating_event("ml100k", "196", "242", "3", "881250949");
        assert_eq!(e.event_id.as_deref(), Some("ml100k-196-242-881250949"));
        assert_eq!(e.timestamp.as_deref(), Some("1997-12-04T15:55:49Z"));
        assert_eq!(e.value, Some(3.0));
        assert_eq!(rating_event("ml", "1", "2", "x", "1.5").value, None);
    }
}
