//! `attune features users [--prepared] [--columns ..] [--format csv|jsonl|parquet] [-o FILE]`: the user
//! feature table of `attune_pipeline::features` (what training sees: consent applied, cleaned
//! under `[train].clean`), raw or prepared, one row per user.
//!
//! Raw cells keep their meaning (days, counts, shares, attribute values) with absent values
//! empty (CSV) or `null` (JSON lines); `--prepared` writes the imputed, z-scored, one-hot
//! matrix that segmentation clusters. Parquet ([`parquet`], behind the `parquet` cargo feature)
//! has the same columns, typed. Columns come in table order whatever order `--columns`
//! names them in. Nothing is written unless the whole table is: an unknown feature or an app
//! without users is refused before any output, and `-o` goes through a temporary file.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context as _;
use attune_core::features::{prepare, UserFeatureParams, UserFeatures};
use attune_core::time::Timestamp;
use attune_pipeline::features::app_user_features;

use super::apps::{open_store, require_app};
use super::output::Output;
use crate::cli::{FeaturesCommand, FeaturesUsersArgs, TableFormat};

#[cfg(feature = "parquet")]
mod parquet;
use crate::config::Settings;

pub fn run(command: FeaturesCommand, settings: &Settings) -> anyhow::Result<ExitCode> {
    match command {
        FeaturesCommand::Users(args) => users(args, settings),
    }
}

/// One output table: row names, column names, cells (`None`: absent).
pub(super) struct Table {
    users: Vec<String>,
    columns: Vec<String>,
    cells: Vec<Vec<Cell>>,
}

pub(super) enum Cell {
    Number(f64),
    Text(String),
    Missing,
}

fn users(args: FeaturesUsersArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.session_gap_mins > 0,
        "--session-gap-mins must be positive"
    );
    anyhow::ensure!(args.period_days > 0, "--period-days must be positive");
    check_format(args.format, args.output.is_some())?;
    let now = as_of(args.as_of.as_deref())?;
    let store = open_store(settings)?;
    let app = args.app.app.as_str();
    require_app(&*store, app)?;
    let config = crate::serving::pipeline_config(settings)?;
    let data = attune_pipeline::AppData::for_training(&*store, app, &config, None)?;
    let params = UserFeatureParams {
        session_gap_secs: i64::from(args.session_gap_mins) * 60,
        period_days: args.period_days,
    };
    let mut raw = app_user_features(&data, now, &params);
    if !args.columns.is_empty() {
        let names: Vec<&str> = args.columns.iter().map(|c| c.trim()).collect();
        raw = raw.select(&names).context("--columns")?;
    }
    anyhow::ensure!(
        !raw.users.is_empty(),
        "app {app:?} has no users to describe: no one who allows personalization has acted or \
         has a profile"
    );
    let table = if args.prepared {
        prepared_table(&raw, args.min_count)?
    } else {
        raw_table(raw)
    };
    let mut out = Output::new(args.output.as_deref())?;
    match args.format {
        TableFormat::Csv => write_csv(&table, out.writer())?,
        TableFormat::Jsonl => write_jsonl(&table, out.writer())?,
        #[cfg(feature = "parquet")]
        TableFormat::Parquet => parquet::write(&table, out.writer())?,
        #[cfg(not(feature = "parquet"))]
        TableFormat::Parquet => unreachable!("refused by check_format"),
    }
    out.finish()?;
    eprintln!(
        "attune: {} users x {} features{}",
        table.users.len(),
        table.columns.len(),
        args.output
            .as_ref()
            .map(|p| format!(" to {}", p.display()))
            .unwrap_or_default()
    );
    Ok(ExitCode::SUCCESS)
}

/// Refuse, before any work, a format this build cannot write or a binary format bound for
/// standard output.
fn check_format(format: TableFormat, to_file: bool) -> anyhow::Result<()> {
    if format != TableFormat::Parquet {
        return Ok(());
    }
    anyhow::ensure!(
        cfg!(feature = "parquet"),
        "--format parquet: this attune was built without Parquet support; build it with \
         `cargo build --release -p attune-cli --features parquet`, or use --format csv|jsonl"
    );
    anyhow::ensure!(
        to_file,
        "--format parquet writes a binary file: give it one with -o/--out FILE"
    );
    Ok(())
}

/// `--as-of`, or now.
pub(super) fn as_of(text: Option<&str>) -> anyhow::Result<Timestamp> {
    Ok(Timestamp::from_utc_micros(match text {
        Some(text) => super::outcomes::time(text, "--as-of")?,
        None => chrono::Utc::now().timestamp_micros(),
    }))
}

fn raw_table(raw: UserFeatures) -> Table {
    let columns = raw.column_names().iter().map(|c| c.to_string()).collect();
    let cells = (0..raw.users.len())
        .map(|i| {
            let numbers = raw.numeric.iter().map(|(_, c)| match c[i] {
                Some(x) => Cell::Number(x),
                None => Cell::Missing,
            });
            let texts = raw.categorical.iter().map(|(_, c)| match &c[i] {
                Some(s) => Cell::Text(s.clone()),
                None => Cell::Missing,
            });
            numbers.chain(texts).collect()
        })
        .collect();
    Table {
        users: raw.users,
        columns,
        cells,
    }
}

fn prepared_table(raw: &UserFeatures, min_count: u64) -> anyhow::Result<Table> {
    let p = prepare(raw, min_count).context("preparing the features")?;
    anyhow::ensure!(
        !p.columns.is_empty(),
        "no feature has a value to prepare (every selected column is empty)"
    );
    let cells = (0..p.users.len())
        .map(|i| p.row(i).iter().map(|&x| Cell::Number(x)).collect())
        .collect();
    Ok(Table {
        users: p.users,
        columns: p.columns,
        cells,
    })
}

fn write_csv(table: &Table, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_field("user_id")?;
    for c in &table.columns {
        w.write_field(c)?;
    }
    w.write_record(None::<&[u8]>)?;
    for (user, row) in table.users.iter().zip(&table.cells) {
        w.write_field(user)?;
        for cell in row {
            match cell {
                Cell::Number(x) => w.write_field(x.to_string())?,
                Cell::Text(s) => w.write_field(s)?,
                Cell::Missing => w.write_field("")?,
            }
        }
        w.write_record(None::<&[u8]>)?;
    }
    w.flush()?;
    Ok(())
}

fn write_jsonl(table: &Table, out: &mut dyn Write) -> anyhow::Result<()> {
    for (user, row) in table.users.iter().zip(&table.cells) {
        // Written by hand so the members keep the table's column order.
        write!(out, "{{\"user_id\":{}", serde_json::to_string(user)?)?;
        for (name, cell) in table.columns.iter().zip(row) {
            let value = match cell {
                Cell::Number(x) => serde_json::to_string(x)?,
                Cell::Text(s) => serde_json::to_string(s)?,
                Cell::Missing => "null".to_string(),
            };
            write!(out, ",{}:{value}", serde_json::to_string(name)?)?;
        }
        writeln!(out, "}}")?;
    }
    Ok(())
}
