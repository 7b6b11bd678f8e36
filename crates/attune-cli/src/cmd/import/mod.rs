//! `attune import events|items|users FILE` and `attune import movielens DIR`.
//!
//! One pipeline for every format: a source turns the file into [`Record`]s (decoded, with line
//! numbers), [`Validator`] runs the *same* validation as the HTTP API (`event::validate` with the
//! configured rules, `Item::validate`, `User::validate`), and [`BatchWriter`] writes the valid
//! rows through the [`Store`] in batches, each batch one transaction.
//!
//! Invalid rows are never dropped silently: each is reported on stderr with its line number and
//! every broken rule, they are counted in the summary, and the exit status is 1 when there was
//! any (even though the valid rows were imported). `--strict` validates the whole file first and
//! writes nothing if any row is invalid; standard input is then buffered in memory so it can be
//! read twice.

mod csv;
pub mod fields;
mod ids;
mod jsonl;
mod movielens;

pub use self::csv::CsvSource;
pub use self::jsonl::JsonlSource;

use std::io::{BufReader, IsTerminal as _, Read, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use attune_core::catalog::{Item, User};
use attune_core::error::FieldError;
use attune_core::event::{self, Event, EventRules, RawEvent};
use attune_core::time::Timestamp;
use attune_store::{InsertStatus, Store};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use self::fields::{entity_name, Field};
use super::apps::{ensure_app, open_store};
use crate::cli::{Entity, FileFormat, ImportCommand, ImportFileArgs};
use crate::config::Settings;

/// Invalid rows listed individually; past this only the count grows (a wrong `--map` on a big
/// file would otherwise print millions of lines). The summary always has the full count.
const MAX_REPORTED_ROWS: u64 = 1000;

pub fn run(args: ImportCommand, settings: &Settings) -> anyhow::Result<ExitCode> {
    match args {
        ImportCommand::Events(a) => import_file(Entity::Events, a, settings),
        ImportCommand::Items(a) => import_file(Entity::Items, a, settings),
        ImportCommand::Users(a) => import_file(Entity::Users, a, settings),
        ImportCommand::Movielens { dir, app } => movielens::run(&dir, &app.app, settings),
    }
}

/// A decoded input row, before validation.
// One row exists at a time and is moved once; boxing the event would cost an allocation per row.
#[allow(clippy::large_enum_variant)]
pub enum Decoded {
    /// An event as decoded from the file.
    Event(RawEvent),
    /// An item (not yet validated).
    Item(Item),
    /// A user profile (not yet validated).
    User(User),
}

/// One row of an input file.
pub struct Record {
    /// 1-based line where the row starts (the header is line 1 of a CSV file).
    pub line: u64,
    /// The decoded row; `None` when it could not be decoded at all.
    pub decoded: Option<Decoded>,
    /// Problems found while decoding (the fields they name are absent from `decoded`).
    pub errors: Vec<FieldError>,
}

impl Record {
    fn failed(line: u64, error: FieldError) -> Self {
        Self {
            line,
            decoded: None,
            errors: vec![error],
        }
    }
}

/// A validated row, ready to store.
#[allow(clippy::large_enum_variant)] // As for `Decoded`: moved once, straight into a batch.
pub enum Row {
    Event(Event),
    Item(Item),
    User(User),
}

/// Applies the HTTP API's validation to decoded rows.
pub struct Validator {
    rules: EventRules,
    /// When the import started: the time of rows without a timestamp, and the reference for the
    /// future-skew rule. Fixed for the run, so both passes of `--strict` agree.
    now: Timestamp,
}

impl Validator {
    pub fn new(settings: &Settings) -> Self {
        let now = Timestamp::from_utc_micros(chrono::Utc::now().timestamp_micros());
        Self {
            rules: settings.event_rules(),
            now,
        }
    }

    /// The `[limits]` every row is checked against.
    pub fn limits(&self) -> &attune_core::limits::InputLimits {
        &self.rules.limits
    }

    /// Validate a record; every problem is listed (decode problems first, then the rules that
    /// concern other fields), sorted by field.
    pub fn finish(&self, record: Record) -> Result<Row, Vec<FieldError>> {
        let Record {
            decoded,
            mut errors,
            ..
        } = record;
        let Some(decoded) = decoded else {
            return Err(errors);
        };
        let checked = match decoded {
            Decoded::Event(raw) => {
                let id = raw.event_id.is_none().then(|| ids::derived_event_id(&raw));
                event::validate(raw, &self.rules, self.now, || id.unwrap_or_default())
                    .map(Row::Event)
            }
            Decoded::Item(item) => item.validate(self.limits()).map(|()| Row::Item(item)),
            Decoded::User(user) => user.validate(self.limits()).map(|()| Row::User(user)),
        };
        match checked {
            Ok(row) if errors.is_empty() => Ok(row),
            Ok(_) => Err(errors),
            Err(e) => {
                // A field that failed to decode is absent, so validation may add "is required"
                // for it: the decode message is the useful one.
                let decoded_fields: Vec<String> = errors.iter().map(|e| e.field.clone()).collect();
                errors.extend(
                    e.errors
                        .into_iter()
                        .filter(|e| !decoded_fields.contains(&e.field)),
                );
                errors.sort_by(|a, b| a.field.cmp(&b.field));
                Err(errors)
            }
        }
    }
}

/// Writes validated rows in batches, one store transaction per batch.
pub struct BatchWriter<'a> {
    store: &'a dyn Store,
    app: &'a str,
    batch: usize,
    events: Vec<Event>,
    items: Vec<Item>,
    users: Vec<User>,
    /// Rows newly stored (events) or upserted (items, users).
    pub imported: u64,
    /// Events whose id was already stored (or seen earlier in the file).
    pub duplicates: u64,
}

impl<'a> BatchWriter<'a> {
    pub fn new(store: &'a dyn Store, app: &'a str, batch: usize) -> Self {
        Self {
            store,
            app,
            batch,
            events: Vec::new(),
            items: Vec::new(),
            users: Vec::new(),
            imported: 0,
            duplicates: 0,
        }
    }

    pub fn push(&mut self, row: Row) -> anyhow::Result<()> {
        let full = match row {
            Row::Event(e) => {
                self.events.push(e);
                self.events.len() >= self.batch
            }
            Row::Item(i) => {
                self.items.push(i);
                self.items.len() >= self.batch
            }
            Row::User(u) => {
                self.users.push(u);
                self.users.len() >= self.batch
            }
        };
        if full {
            self.flush()?;
        }
        Ok(())
    }

    /// Write whatever is buffered.
    pub fn flush(&mut self) -> anyhow::Result<()> {
        let committed = self.imported + self.duplicates;
        let context = || {
            format!(
                "writing to app {:?} failed after {committed} rows were committed (earlier batches stay \
                 stored; re-running the import skips events already stored)",
                self.app
            )
        };
        if !self.events.is_empty() {
            let statuses = self
                .store
                .insert_events(self.app, &self.events)
                .with_context(context)?;
            for s in statuses {
                match s {
                    InsertStatus::Accepted => self.imported += 1,
                    InsertStatus::Duplicate => self.duplicates += 1,
                }
            }
            self.events.clear();
        }
        if !self.items.is_empty() {
            self.store
                .upsert_items(self.app, &self.items)
                .with_context(context)?;
            self.imported += self.items.len() as u64;
            self.items.clear();
        }
        if !self.users.is_empty() {
            self.store
                .upsert_users(self.app, &self.users)
                .with_context(context)?;
            self.imported += self.users.len() as u64;
            self.users.clear();
        }
        Ok(())
    }
}

/// Where the rows come from.
enum Input {
    File(PathBuf),
    Stdin,
    /// Standard input read into memory (for `--strict`, which reads the input twice).
    Buffered(Arc<[u8]>),
}

impl Input {
    fn new(path: &Path, strict: bool) -> anyhow::Result<Self> {
        if path.as_os_str() != "-" {
            return Ok(Input::File(path.to_path_buf()));
        }
        if !strict {
            return Ok(Input::Stdin);
        }
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .context("cannot read standard input")?;
        Ok(Input::Buffered(buf.into()))
    }

    fn name(&self) -> String {
        match self {
            Input::File(p) => p.display().to_string(),
            Input::Stdin | Input::Buffered(_) => "standard input".into(),
        }
    }

    /// A fresh reader over the whole input and its length in bytes when known.
    fn open(&self) -> anyhow::Result<(Box<dyn Read>, Option<u64>)> {
        Ok(match self {
            Input::File(p) => {
                let f = std::fs::File::open(p)
                    .with_context(|| format!("cannot open {}", p.display()))?;
                let len = f.metadata().ok().map(|m| m.len());
                (Box::new(f), len)
            }
            Input::Stdin => (Box::new(std::io::stdin()), None),
            Input::Buffered(b) => (
                Box::new(std::io::Cursor::new(b.clone())),
                Some(b.len() as u64),
            ),
        })
    }
}

/// A bar on stderr when it is a terminal (bytes when the size is known, else a row spinner);
/// hidden when stderr is piped or redirected, so logs stay clean.
pub fn progress(len: Option<u64>, label: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = match len {
        Some(n) => ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::stderr()).with_style(
            ProgressStyle::with_template(
                "{msg:>10} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
            )
            .expect("valid template")
            .progress_chars("=> "),
        ),
        None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()).with_style(
            ProgressStyle::with_template("{msg:>10} {spinner} {bytes} ({bytes_per_sec})")
                .expect("valid template"),
        ),
    };
    pb.set_message(label.to_string());
    pb.enable_steady_tick(Duration::from_millis(200));
    pb
}

/// A row-counting spinner on stderr when it is a terminal, for inputs read row by row
/// (MovieLens); hidden otherwise.
pub fn row_progress(label: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()).with_style(
        ProgressStyle::with_template("{msg:>10} {spinner} {human_pos} rows ({per_sec})")
            .expect("valid template"),
    );
    pb.set_message(label.to_string());
    pb.enable_steady_tick(Duration::from_millis(200));
    pb
}

/// Prints invalid rows and warnings without tearing the progress bar.
pub struct Reporter {
    pb: ProgressBar,
    shown: u64,
    /// Invalid rows seen.
    pub invalid: u64,
}

impl Reporter {
    pub fn new(pb: ProgressBar) -> Self {
        Self {
            pb,
            shown: 0,
            invalid: 0,
        }
    }

    pub fn warn(&self, msg: &str) {
        self.pb.suspend(|| eprintln!("attune: warning: {msg}"));
    }

    /// One line per invalid row: `line 12: timestamp: must be ...; user_id: ...`.
    pub fn invalid(&mut self, what: &str, line: u64, errors: &[FieldError]) {
        self.invalid += 1;
        if self.shown >= MAX_REPORTED_ROWS {
            return;
        }
        self.shown += 1;
        let reasons: Vec<String> = errors.iter().map(ToString::to_string).collect();
        self.pb.suspend(|| {
            eprintln!("{what} line {line}: invalid: {}", reasons.join("; "));
            if self.shown == MAX_REPORTED_ROWS {
                eprintln!("(only the first {MAX_REPORTED_ROWS} invalid rows are listed; the summary counts all)");
            }
        });
    }

    pub fn finish(&self) {
        self.pb.finish_and_clear();
    }
}

enum Source {
    Csv(csv::CsvSource),
    Jsonl(jsonl::JsonlSource),
}

impl Source {
    fn next_record(&mut self) -> anyhow::Result<Option<Record>> {
        match self {
            Source::Csv(s) => s.next_record(),
            Source::Jsonl(s) => s.next_record(),
        }
    }
}

struct Plan<'a> {
    entity: Entity,
    format: FileFormat,
    maps: Vec<(Field, String)>,
    strict_fields: bool,
    validator: &'a Validator,
    input: Input,
}

/// Counts of one pass over the input.
#[derive(Debug, Default)]
struct Pass {
    read: u64,
    invalid: u64,
}

/// Read the whole input once; valid rows go to `writer` (none in a validate-only pass).
fn run_pass(
    plan: &Plan<'_>,
    mut writer: Option<&mut BatchWriter<'_>>,
    label: &str,
    report_warnings: bool,
) -> anyhow::Result<Pass> {
    let (reader, len) = plan.input.open()?;
    let pb = progress(len, label);
    let reader: Box<dyn Read> = Box::new(pb.wrap_read(reader));
    let mut reporter = Reporter::new(pb);
    let mut source = match plan.format {
        FileFormat::Csv => {
            let mut warn = |m: &str| {
                if report_warnings {
                    reporter.warn(m)
                }
            };
            Source::Csv(csv::CsvSource::new(
                reader,
                plan.entity,
                &plan.maps,
                &mut warn,
            )?)
        }
        FileFormat::Jsonl => {
            let reader = Box::new(BufReader::with_capacity(256 * 1024, reader));
            Source::Jsonl(jsonl::JsonlSource::new(
                reader,
                plan.entity,
                &plan.maps,
                plan.strict_fields,
                *plan.validator.limits(),
            ))
        }
    };
    let name = plan.input.name();
    let mut pass = Pass::default();
    while let Some(record) = source
        .next_record()
        .with_context(|| format!("reading {name}"))?
    {
        pass.read += 1;
        let line = record.line;
        match plan.validator.finish(record) {
            Ok(row) => {
                if let Some(w) = writer.as_deref_mut() {
                    w.push(row)?;
                }
            }
            Err(errors) => reporter.invalid(&name, line, &errors),
        }
    }
    if let Some(w) = writer {
        w.flush()?;
    }
    pass.invalid = reporter.invalid;
    reporter.finish();
    Ok(pass)
}

fn guess_format(path: &Path) -> anyhow::Result<FileFormat> {
    if path.as_os_str() == "-" {
        anyhow::bail!(
            "cannot guess the format of standard input; pass --format csv or --format jsonl"
        );
    }
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("csv") => Ok(FileFormat::Csv),
        Some("jsonl" | "ndjson" | "json") => Ok(FileFormat::Jsonl),
        _ => anyhow::bail!(
            "cannot guess the format of {} from its extension (.csv, .jsonl or .ndjson); pass --format csv or --format jsonl",
            path.display()
        ),
    }
}

fn import_file(
    entity: Entity,
    args: ImportFileArgs,
    settings: &Settings,
) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let format = match args.format {
        Some(f) => f,
        None => guess_format(&args.file)?,
    };
    anyhow::ensure!(args.batch > 0, "--batch must be at least 1");
    let maps = fields::parse_maps(entity, &args.map)?;
    let app = args.app.app.as_str();
    let store = open_store(settings)?;
    ensure_app(&*store, app)?;
    let validator = Validator::new(settings);
    let plan = Plan {
        entity,
        format,
        maps,
        strict_fields: settings.server.strict_fields,
        validator: &validator,
        input: Input::new(&args.file, args.strict)?,
    };
    let what = entity_name(entity);

    if args.strict {
        let pass = run_pass(&plan, None, "validating", true)?;
        if pass.invalid > 0 {
            summary(what, app, &pass, 0, 0, started)?;
            eprintln!(
                "attune: --strict: {} of {} rows are invalid (listed above); nothing was imported",
                pass.invalid, pass.read
            );
            return Ok(ExitCode::from(1));
        }
    }
    let mut writer = BatchWriter::new(&*store, app, args.batch);
    let pass = run_pass(&plan, Some(&mut writer), "importing", !args.strict)?;
    summary(
        what,
        app,
        &pass,
        writer.imported,
        writer.duplicates,
        started,
    )?;
    if pass.invalid > 0 {
        eprintln!(
            "attune: {} invalid rows were not imported (listed above); the other rows were",
            pass.invalid
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// `events: read 40, imported 35, duplicates 3, invalid 2 (app "shop", 0.05 s)` on stdout.
fn summary(
    what: &str,
    app: &str,
    pass: &Pass,
    imported: u64,
    duplicates: u64,
    started: Instant,
) -> anyhow::Result<()> {
    writeln!(
        std::io::stdout().lock(),
        "{what}: read {}, imported {imported}, duplicates {duplicates}, invalid {} (app {app:?}, {:.2} s)",
        pass.read,
        pass.invalid,
        started.elapsed().as_secs_f64()
    )?;
    Ok(())
}
