//! `attune train --algorithm SPEC|auto [--output PATH]`: fit one model on an app's data and
//! write it as a versioned artifact.
//!
//! The data goes through the same path as evaluation (`crate::dataset`: store → cleaning →
//! interned ids → matrices), so a model is trained exactly on what `attune evaluate` measured.
//! The artifact records the spec with every parameter, the data snapshot, the cleaning report's
//! totals and, for `auto`, the validation metrics of the chosen candidate.

mod auto;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;
use attune_artifact::{
    write_file, ArtifactError, CleaningSummary, Contents, DataSnapshot, Metadata, Overwrite,
};
use attune_core::model::spec::{Feedback, Spec};
use attune_core::model::TrainedModel;
use attune_core::sparse::Csr;
use attune_core::time::Timestamp;

use super::apps::{open_store, require_app};
use crate::cli::TrainArgs;
use crate::config::Settings;
use crate::dataset::Dataset;
use crate::models;

pub fn run(args: TrainArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    let store = open_store(settings)?;
    let app = args.app.app.as_str();
    require_app(&*store, app)?;
    // A bad spec fails before any data is read.
    let fixed: Option<Spec> = if args.algorithm == "auto" {
        None
    } else {
        Some(
            args.algorithm
                .parse()
                .with_context(|| format!("invalid --algorithm {:?}", args.algorithm))?,
        )
    };

    let started = Instant::now();
    let data = Dataset::load(&*store, app, settings, None)?;
    anyhow::ensure!(
        data.n_users() > 0 && data.n_items() > 0 && !data.cells.is_empty(),
        "app {app:?} has no interactions to train on; import events first"
    );
    tracing::info!(
        users = data.n_users(),
        items = data.n_items(),
        pairs = data.cells.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "loaded training data"
    );

    let mut out = std::io::stdout().lock();
    let (spec, metrics) = match fixed {
        Some(spec) => (spec, BTreeMap::new()),
        None => {
            let profile = super::profile::compute(&*store, app)?;
            let choice = auto::choose(&data, &profile, args.validation_fraction, args.seed)?;
            choice.write_table(&mut out)?;
            let metrics = choice.metrics();
            (choice.best_spec().clone(), metrics)
        }
    };

    let training = data.training_set(None)?;
    let fit_started = Instant::now();
    tracing::info!(spec = %spec, "fitting");
    let fitted = spec
        .fit(&training)
        .with_context(|| format!("cannot train {spec} on app {app:?}"))?;
    let fit_secs = fit_started.elapsed().as_secs_f64();
    tracing::info!(seconds = fit_secs, "fitted");

    let history: Csr = match spec.algorithm().feedback() {
        Feedback::Implicit => training.interactions.clone(),
        Feedback::Explicit => training
            .ratings
            .clone()
            .unwrap_or_else(|| Csr::empty(data.n_users(), data.n_items())),
    };
    let meta = metadata(app, &data, fitted.spec(), &history, metrics);
    let parts = fitted.model().to_parts();
    let contents = Contents {
        meta: &meta,
        model: &parts,
        users: &data.users,
        items: &data.items,
        history: Some(&history),
    };
    let (path, version) = match &args.output {
        Some(p) => {
            write_file(p, &contents, Overwrite::Allow)?;
            (p.clone(), None)
        }
        None => write_next_version(settings, app, &contents)?,
    };
    writeln!(
        out,
        "trained {} on app {app:?}: {} users, {} items, {} interactions, {fit_secs:.2}s",
        fitted.spec(),
        data.n_users(),
        data.n_items(),
        history.nnz()
    )?;
    match version {
        Some(v) => writeln!(
            out,
            "wrote model {} to {}",
            models::version_name(v),
            path.display()
        )?,
        None => writeln!(out, "wrote model to {}", path.display())?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Claim the next free version of the app's model directory (retrying if another training
/// claimed it first).
fn write_next_version(
    settings: &Settings,
    app: &str,
    contents: &Contents<'_>,
) -> anyhow::Result<(PathBuf, Option<u32>)> {
    let dir = models::app_dir(settings, app);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for _ in 0..100 {
        let next = models::versions(&dir)?.last().map_or(1, |v| v + 1);
        let path = models::version_path(&dir, next);
        match write_file(&path, contents, Overwrite::Refuse) {
            Ok(()) => return Ok((path, Some(next))),
            Err(ArtifactError::Exists { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    anyhow::bail!("could not claim a model version in {}", dir.display())
}

fn rfc3339(micros: Option<i64>) -> Option<String> {
    micros.map(|m| Timestamp::from_utc_micros(m).to_rfc3339())
}

fn metadata(
    app: &str,
    data: &Dataset,
    spec: &Spec,
    history: &Csr,
    metrics: BTreeMap<String, f64>,
) -> Metadata {
    Metadata {
        algorithm: spec.algorithm().name().to_string(),
        parameters: spec
            .params()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        data: DataSnapshot {
            app: app.to_string(),
            users: data.n_users() as u64,
            items: data.n_items() as u64,
            interactions: history.nnz() as u64,
            first_event: rfc3339(data.snapshot.first_event_micros),
            last_event: rfc3339(data.snapshot.last_event_micros),
            cleaning: data.clean_report.as_ref().map(|r| CleaningSummary {
                input_events: r.input_events,
                kept: r.kept,
                removed_by_reason: r
                    .removed_by_reason
                    .iter()
                    .map(|(k, v)| (k.as_str().to_string(), *v))
                    .collect(),
            }),
        },
        metrics,
    }
}
