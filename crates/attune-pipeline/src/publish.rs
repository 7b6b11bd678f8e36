//! Publishing a fitted model: the artifact file and its registry record, written once here for
//! every caller (training, `attune bench model`, test fixtures).
//!
//! Order, so the registry never names a file that is not complete: reserve a version in the
//! store; write `vNNNN.attune` (synced, renamed into place, never replacing a file: a name
//! left over from a crash or from before the registry is skipped for the next version); open
//! it again through the checksum; register it. A failure after the reservation leaves a gap in
//! the version numbers, never a record of a broken file. Activation is a separate decision
//! ([`crate::promote`]).
//!
//! The artifact records the spec with every parameter, the data snapshot with the cleaning
//! report's totals, and the validation metrics; for an ALS catalog that serving will answer
//! through the approximate index, the index too (built here, so activation does not wait
//! minutes for it).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use attune_artifact::{
    write_file as write_artifact, Artifact, ArtifactError, CleaningSummary, Contents, DataSnapshot,
    Metadata, Overwrite,
};
use attune_core::model::ann::{HnswGraph, TopKStrategy, TopKValidParams};
use attune_core::model::spec::{Fitted, FittedModel};
use attune_core::model::{Parts, TrainedModel as _};
use attune_core::sparse::{Csr, Interner};
use attune_core::time::Timestamp;
use attune_serving::model::{app_dir, location_of, version_name, version_path};
use attune_store::{ArtifactRef, ModelInfo, Store};

use crate::dataset::Dataset;
use crate::error::{PipelineError, Result};

/// Everything one artifact holds.
pub struct ModelFile<'a> {
    /// The model and its spec.
    pub fitted: &'a Fitted,
    /// Training users, in model order.
    pub users: &'a Interner,
    /// Items, in model order.
    pub items: &'a Interner,
    /// The feedback the model reads (users x items).
    pub history: &'a Csr,
    /// What it was trained on.
    pub data: DataSnapshot,
    /// Offline metrics.
    pub metrics: BTreeMap<String, f64>,
    /// When it was trained.
    pub created: chrono::DateTime<chrono::Utc>,
    /// The approximate index to store with an ALS model, when the caller has one (`None`:
    /// built here when serving will use one, see [`model_parts`]).
    pub graph: Option<&'a HnswGraph>,
}

/// A registered version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    /// The version the store assigned.
    pub version: u32,
    /// Its file.
    pub path: PathBuf,
}

fn rfc3339(micros: Option<i64>) -> Option<String> {
    micros.map(|m| Timestamp::from_utc_micros(m).to_rfc3339())
}

/// What `data` says about itself, for the artifact header.
pub fn data_snapshot(data: &Dataset, history: &Csr) -> DataSnapshot {
    DataSnapshot {
        app: data.snapshot.app.clone(),
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
    }
}

fn metadata(file: &ModelFile<'_>) -> Metadata {
    let spec = file.fitted.spec();
    Metadata {
        algorithm: spec.algorithm().name().to_string(),
        parameters: spec
            .params()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        created_at: file
            .created
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        data: file.data.clone(),
        metrics: file.metrics.clone(),
    }
}

/// The model as artifact parts, with the approximate index attached when serving will use one
/// (an ALS model whose catalog reaches `topk`'s threshold, see `attune_serving::catalog_index`).
pub fn model_parts<'a>(
    model: &'a FittedModel,
    topk: &TopKValidParams,
    progress: &dyn Fn(&str),
) -> Result<Parts<'a>> {
    let parts = model.to_parts();
    let FittedModel::Als(als) = model else {
        return Ok(parts);
    };
    let n_items = als.all_item_factors().len() / als.factors();
    if topk.strategy(n_items) != TopKStrategy::Ann {
        return Ok(parts);
    }
    progress(&format!(
        "building the approximate index over {n_items} items (serving.ann_min_items = {})",
        topk.ann_min_items()
    ));
    let started = Instant::now();
    let graph = HnswGraph::build(als.all_item_factors(), als.factors(), topk.hnsw())
        .map_err(|e| PipelineError::internal(format!("cannot build the approximate index: {e}")))?;
    tracing::info!(
        items = n_items,
        seconds = started.elapsed().as_secs_f64(),
        "approximate index built"
    );
    Ok(graph.attach_to(parts))
}

fn with_contents<T>(
    file: &ModelFile<'_>,
    topk: &TopKValidParams,
    progress: &dyn Fn(&str),
    f: impl FnOnce(&Metadata, &Contents<'_>) -> Result<T>,
) -> Result<T> {
    let meta = metadata(file);
    let parts = match file.graph {
        Some(g) => g.attach_to(file.fitted.model().to_parts()),
        None => model_parts(file.fitted.model(), topk, progress)?,
    };
    let contents = Contents {
        meta: &meta,
        model: &parts,
        users: file.users,
        items: file.items,
        history: Some(file.history),
    };
    f(&meta, &contents)
}

/// Write `file` to `path` as an unregistered artifact (serve it with `--model`), replacing
/// what is there, and read it back through its checksum.
pub fn write_file(
    path: &Path,
    file: &ModelFile<'_>,
    topk: &TopKValidParams,
    progress: &dyn Fn(&str),
) -> Result<()> {
    with_contents(file, topk, progress, |_, contents| {
        let failed = |context: String| {
            move |source| PipelineError::Artifact {
                context: context.clone(),
                source: Box::new(source),
            }
        };
        write_artifact(path, contents, Overwrite::Allow)
            .map_err(failed(format!("cannot write {}", path.display())))?;
        Artifact::open(path).map_err(failed(format!(
            "the model file just written to {} cannot be read back",
            path.display()
        )))?;
        Ok(())
    })
}

/// Write `file` as `app`'s next version under `data_dir` and register it (see the module
/// docs for the order).
pub fn register(
    store: &dyn Store,
    data_dir: &Path,
    app: &str,
    file: &ModelFile<'_>,
    topk: &TopKValidParams,
    progress: &dyn Fn(&str),
) -> Result<Registered> {
    with_contents(file, topk, progress, |meta, contents| {
        let (version, path) = write_next_version(store, data_dir, app, contents)?;
        let name = version_name(version);
        let artifact = Artifact::open(&path).map_err(|source| PipelineError::Artifact {
            context: format!(
                "the model file just written cannot be read back; {name} is not registered"
            ),
            source: Box::new(source),
        })?;
        let info = ModelInfo {
            algorithm: meta.algorithm.clone(),
            params: serde_json::to_string(&meta.parameters).map_err(PipelineError::internal)?,
            data_snapshot: serde_json::to_string(&meta.data).map_err(PipelineError::internal)?,
            metrics: meta.metrics.clone(),
            artifact: ArtifactRef {
                location: location_of(data_dir, &path),
                checksum: artifact.checksum(),
                size_bytes: artifact.len() as u64,
            },
            created_micros: file.created.timestamp_micros(),
        };
        drop(artifact);
        store.register_model(app, version, &info).map_err(|e| {
            PipelineError::Registered(format!(
                "wrote {} but could not register it as model {name} of app {app:?}: {e}; it is \
                 not in the registry (serve the file with --model, or train again)",
                path.display()
            ))
        })?;
        tracing::info!(app, version = %name, path = %path.display(), "model registered");
        progress(&format!("registered {name}"));
        Ok(Registered { version, path })
    })
}

/// Reserve the app's next version in the store and write its file, skipping a version whose
/// file already exists (left by a crash between reserving and registering, or written before
/// the registry existed: never overwritten, never registered by accident).
fn write_next_version(
    store: &dyn Store,
    data_dir: &Path,
    app: &str,
    contents: &Contents<'_>,
) -> Result<(u32, PathBuf)> {
    let dir = app_dir(data_dir, app);
    std::fs::create_dir_all(&dir).map_err(|source| PipelineError::Io {
        path: dir.clone(),
        source,
    })?;
    for _ in 0..100 {
        let version = store.reserve_model_version(app)?;
        let path = version_path(&dir, version);
        match write_artifact(&path, contents, Overwrite::Refuse) {
            Ok(()) => return Ok((version, path)),
            Err(ArtifactError::Exists { .. }) => {
                tracing::warn!(path = %path.display(), "model file exists but is not registered; skipping its version");
            }
            Err(source) => {
                return Err(PipelineError::Artifact {
                    context: format!("cannot write {}", path.display()),
                    source: Box::new(source),
                })
            }
        }
    }
    Err(PipelineError::Registered(format!(
        "could not find a free model version in {} (100 reserved versions already had files)",
        dir.display()
    )))
}
