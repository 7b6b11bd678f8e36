//! `attune train --algorithm SPEC|auto [--activate] [--output PATH]`: fit one model on an
//! app's data, write it as an artifact and register it as the app's next version.
//!
//! Order, so the registry never names a file that is not complete: fit; reserve a version in
//! the store; write `vNNNN.attune` (synced, renamed into place, never replacing a file: a
//! name left over from a crash or from before the registry is skipped for the next version);
//! open it again through the checksum; register it. A failure after the reservation leaves a
//! gap in the version numbers, never a record of a broken file.
//!
//! Activation: an app's first model is activated automatically (so `train` then `recommend`
//! works on a fresh install); later models only with `--activate`, because replacing what
//! serves is a decision (an operator's, or the scheduled retraining's when a metric says so).
//! `--output PATH` writes an ad-hoc file that is not registered (serve it with `--model`).
//!
//! The data goes through the same path as evaluation (`crate::dataset`: store → cleaning →
//! interned ids → matrices), so a model is trained exactly on what `attune evaluate` measured.
//! The artifact records the spec with every parameter, the data snapshot, the cleaning report's
//! totals and, for `auto`, the validation metrics of the chosen candidate.

mod auto;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;
use attune_artifact::{
    write_file, Artifact, ArtifactError, CleaningSummary, Contents, DataSnapshot, Metadata,
    Overwrite,
};
use attune_core::model::spec::{Feedback, Spec};
use attune_core::model::TrainedModel;
use attune_core::sparse::Csr;
use attune_core::time::Timestamp;
use attune_store::{ArtifactRef, ModelInfo, Store, StoreError};

use super::apps::{open_store, require_app};
use crate::cli::TrainArgs;
use crate::config::Settings;
use crate::dataset::Dataset;
use crate::models;

pub fn run(args: TrainArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    let store = open_store(settings)?;
    let app = args.app.app.as_str();
    require_app(&*store, app)?;
    let mut out = std::io::stdout().lock();
    let options = Options {
        algorithm: args.algorithm.clone(),
        validation_fraction: args.validation_fraction,
        seed: args.seed,
        always_validate: false,
    };
    let output = match &args.output {
        Some(p) => Output::File(p.clone()),
        None => Output::Register,
    };
    let trained = train(&*store, settings, app, &options, output, &mut out, &|_| {})?;
    if let Some(version) = trained.version {
        activate_new(&*store, app, version, args.activate, &mut out)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// What to train.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Spec or `auto`.
    pub algorithm: String,
    /// Share of each user's pairs held out for validation (`auto`, or `always_validate`).
    pub validation_fraction: f64,
    /// Seed of the validation split.
    pub seed: u64,
    /// Validate a fixed spec too, so the model carries `validation.*` metrics (scheduled
    /// retraining promotes by them).
    pub always_validate: bool,
}

/// Where the model goes.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// The app's next registered version.
    Register,
    /// An unregistered file.
    File(PathBuf),
}

/// A trained model.
#[derive(Debug, Clone, PartialEq)]
pub struct Trained {
    /// Its registered version (`None` for [`Output::File`]).
    pub version: Option<u32>,
    /// Its file.
    pub path: PathBuf,
    /// Its offline metrics.
    pub metrics: BTreeMap<String, f64>,
}

/// Load, (validate,) fit, write and register: the whole training of one model. `out` gets
/// the report a person reads; `progress` short steps (training jobs show them).
pub fn train(
    store: &dyn Store,
    settings: &Settings,
    app: &str,
    options: &Options,
    output: Output,
    out: &mut dyn std::io::Write,
    progress: &dyn Fn(&str),
) -> anyhow::Result<Trained> {
    // A bad spec fails before any data is read.
    let fixed: Option<Spec> = if options.algorithm == "auto" {
        None
    } else {
        Some(
            options
                .algorithm
                .parse()
                .with_context(|| format!("invalid algorithm {:?}", options.algorithm))?,
        )
    };
    // So does a bad approximate-index setting (the artifact may need the index).
    settings.serving.to_topk()?;

    progress("loading the app's events");
    let started = Instant::now();
    let data = Dataset::load(store, app, settings, None)?;
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
    progress(&format!(
        "loaded {} users, {} items, {} pairs",
        data.n_users(),
        data.n_items(),
        data.cells.len()
    ));

    let (spec, metrics) = match fixed {
        Some(spec) if !options.always_validate => (spec, BTreeMap::new()),
        Some(spec) => {
            progress(&format!("validating {spec}"));
            let choice = auto::choose_among(
                &data,
                vec![spec],
                Vec::new(),
                options.validation_fraction,
                options.seed,
            )?;
            choice.write_table(out)?;
            let metrics = choice.metrics();
            (choice.best_spec().clone(), metrics)
        }
        None => {
            progress("validating the recommended algorithms");
            let profile = super::profile::compute(store, app)?;
            let choice = auto::choose(&data, &profile, options.validation_fraction, options.seed)?;
            choice.write_table(out)?;
            let metrics = choice.metrics();
            (choice.best_spec().clone(), metrics)
        }
    };

    let training = data.training_set(None)?;
    let fit_started = Instant::now();
    tracing::info!(spec = %spec, "fitting");
    progress(&format!("fitting {spec} on all the data"));
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
    let trained_at = chrono::Utc::now();
    let meta = metadata(app, &data, fitted.spec(), &history, metrics, trained_at);
    let parts = model_parts(fitted.model(), settings, progress)?;
    let contents = Contents {
        meta: &meta,
        model: &parts,
        users: &data.users,
        items: &data.items,
        history: Some(&history),
    };
    writeln!(
        out,
        "trained {} on app {app:?}: {} users, {} items, {} interactions, {fit_secs:.2}s",
        fitted.spec(),
        data.n_users(),
        data.n_items(),
        history.nnz()
    )?;
    if let Output::File(p) = output {
        write_file(&p, &contents, Overwrite::Allow)?;
        Artifact::open(&p).context("the model file just written cannot be read back")?;
        writeln!(
            out,
            "wrote model to {} (not registered: serve it with --model {})",
            p.display(),
            p.display()
        )?;
        return Ok(Trained {
            version: None,
            path: p,
            metrics: meta.metrics,
        });
    }

    progress("writing and registering the model");
    let (version, path) = write_next_version(store, settings, app, &contents)?;
    let name = models::version_name(version);
    let artifact = Artifact::open(&path).with_context(|| {
        format!("the model file just written cannot be read back; {name} is not registered")
    })?;
    let info = ModelInfo {
        algorithm: meta.algorithm.clone(),
        params: serde_json::to_string(&meta.parameters)?,
        data_snapshot: serde_json::to_string(&meta.data)?,
        metrics: meta.metrics.clone(),
        artifact: ArtifactRef {
            location: models::location_of(&settings.data_dir, &path),
            checksum: artifact.checksum(),
            size_bytes: artifact.len() as u64,
        },
        created_micros: trained_at.timestamp_micros(),
    };
    drop(artifact);
    store.register_model(app, version, &info).with_context(|| {
        format!(
            "wrote {} but could not register it as model {name} of app {app:?}; it is not in the \
             registry (serve the file with --model, or train again)",
            path.display()
        )
    })?;
    writeln!(out, "registered model {name}: {}", path.display())?;
    progress(&format!("registered {name}"));
    Ok(Trained {
        version: Some(version),
        path,
        metrics: meta.metrics,
    })
}

/// The model as artifact parts, with the approximate index attached when serving will use one
/// (an ALS model whose catalog reaches `serving.ann_min_items`, see
/// `attune_serving::catalog_index`): built here, so activation does not wait minutes for it.
pub fn model_parts<'a>(
    model: &'a attune_core::model::spec::FittedModel,
    settings: &Settings,
    progress: &dyn Fn(&str),
) -> anyhow::Result<attune_core::model::Parts<'a>> {
    use attune_core::model::ann::{HnswGraph, TopKStrategy};
    use attune_core::model::spec::FittedModel;
    let parts = model.to_parts();
    let topk = settings.serving.to_topk()?;
    let FittedModel::Als(als) = model else {
        return Ok(parts);
    };
    let n_items = als.all_item_factors().len() / als.factors();
    if topk.strategy(n_items) != TopKStrategy::Ann {
        return Ok(parts);
    }
    progress(&format!(
        "building the approximate index over {n_items} items (serving.ann_min_items = {})",
        settings.serving.ann_min_items
    ));
    let started = Instant::now();
    let graph = HnswGraph::build(als.all_item_factors(), als.factors(), topk.hnsw())
        .context("cannot build the approximate index over the item factors")?;
    tracing::info!(
        items = n_items,
        seconds = started.elapsed().as_secs_f64(),
        "approximate index built"
    );
    Ok(graph.attach_to(parts))
}

/// Activate a freshly registered (and verified) version: always with `--activate`, else only
/// when the app has never had an active model, atomically (`expected_seq` 0), so two first
/// trainings racing activate one of them and the other says so.
pub fn activate_new(
    store: &dyn Store,
    app: &str,
    version: u32,
    force: bool,
    out: &mut dyn std::io::Write,
) -> anyhow::Result<()> {
    let name = models::version_name(version);
    let fail = |e: StoreError| {
        anyhow::Error::new(e).context(format!(
            "model {name} is registered but could not be activated (attune models activate {name})"
        ))
    };
    if force {
        let o = store.activate_model(app, version, None).map_err(fail)?;
        match o.activation.previous {
            Some(p) => writeln!(
                out,
                "activated {name} (was {}; activation {})",
                models::version_name(p),
                o.activation.seq
            )?,
            None => writeln!(out, "activated {name} (activation {})", o.activation.seq)?,
        }
        return Ok(());
    }
    match store.activate_model(app, version, Some(0)) {
        Ok(_) => writeln!(out, "activated {name}: the app's first model")?,
        Err(StoreError::StaleActivation { .. }) => {
            let active = store.active_model(app)?.map(|a| a.version);
            writeln!(
                out,
                "not activated: {} stays active (switch with `attune models activate {name} --app {app}`, \
                 or train with --activate)",
                active.map_or_else(|| "another version".to_string(), models::version_name)
            )?;
        }
        Err(e) => return Err(fail(e)),
    }
    Ok(())
}

/// Reserve the app's next version in the store and write its file, skipping a version whose
/// file already exists (left by a crash between reserving and registering, or written before
/// the registry existed: never overwritten, never registered by accident).
pub(crate) fn write_next_version(
    store: &dyn Store,
    settings: &Settings,
    app: &str,
    contents: &Contents<'_>,
) -> anyhow::Result<(u32, PathBuf)> {
    let dir = models::app_dir(settings, app);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for _ in 0..100 {
        let version = store
            .reserve_model_version(app)
            .context("cannot reserve a model version")?;
        let path = models::version_path(&dir, version);
        match write_file(&path, contents, Overwrite::Refuse) {
            Ok(()) => return Ok((version, path)),
            Err(ArtifactError::Exists { .. }) => {
                tracing::warn!(path = %path.display(), "model file exists but is not registered; skipping its version");
            }
            Err(e) => return Err(e.into()),
        }
    }
    anyhow::bail!(
        "could not find a free model version in {} (100 reserved versions already had files)",
        dir.display()
    )
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
    trained_at: chrono::DateTime<chrono::Utc>,
) -> Metadata {
    Metadata {
        algorithm: spec.algorithm().name().to_string(),
        parameters: spec
            .params()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        created_at: trained_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
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
