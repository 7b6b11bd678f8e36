//! Creating, changing, starting and stopping experiments: the definition is checked (against
//! the app's registered model versions too) before the store sees it, and a start takes the
//! layer buckets its traffic needs.

use attune_store::{ExperimentRecord, ExperimentStatus, Store};

use crate::definition::Definition;
use crate::error::{ExperimentError, Result};

/// An experiment with its definition parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Experiment {
    /// What the store keeps.
    pub record: ExperimentRecord,
    /// The current phase's definition.
    pub definition: Definition,
}

impl Experiment {
    fn from_record(record: ExperimentRecord) -> Result<Self> {
        let definition = Definition::from_json(&record.definition).map_err(|e| {
            ExperimentError::Store(attune_store::StoreError::Corrupt {
                table: "experiments",
                detail: format!("experiment {:?}: {e}", record.name),
            })
        })?;
        Ok(Self { record, definition })
    }
}

fn check(store: &dyn Store, app: &str, definition: &Definition) -> Result<()> {
    let versions: Vec<u32> = store.list_models(app)?.iter().map(|m| m.version).collect();
    definition.check(&|v| versions.contains(&v))
}

/// Create a draft.
pub fn create(
    store: &dyn Store,
    app: &str,
    name: &str,
    layer: &str,
    definition: &Definition,
) -> Result<Experiment> {
    check(store, app, definition)?;
    let record = store.create_experiment(app, name, layer, &definition.to_json())?;
    Experiment::from_record(record)
}

/// Replace the definition of a draft or stopped experiment (a running phase never changes).
pub fn update(
    store: &dyn Store,
    app: &str,
    name: &str,
    definition: &Definition,
) -> Result<Experiment> {
    check(store, app, definition)?;
    Experiment::from_record(store.update_experiment(app, name, &definition.to_json())?)
}

/// Start a new phase (its model versions must still be registered).
pub fn start(store: &dyn Store, app: &str, name: &str) -> Result<Experiment> {
    let current = get(store, app, name)?;
    if current.record.status == ExperimentStatus::Running {
        return Err(ExperimentError::Store(attune_store::StoreError::Conflict(
            format!(
                "experiment {name:?} is running already (phase {})",
                current.record.phase
            ),
        )));
    }
    check(store, app, &current.definition)?;
    Experiment::from_record(store.start_experiment(app, name, current.definition.buckets())?)
}

/// Stop the running phase.
pub fn stop(store: &dyn Store, app: &str, name: &str) -> Result<Experiment> {
    Experiment::from_record(store.stop_experiment(app, name)?)
}

/// One experiment, or [`attune_store::StoreError::UnknownExperiment`].
pub fn get(store: &dyn Store, app: &str, name: &str) -> Result<Experiment> {
    let record = store.get_experiment(app, name)?.ok_or_else(|| {
        attune_store::StoreError::UnknownExperiment {
            app: app.to_string(),
            name: name.to_string(),
        }
    })?;
    Experiment::from_record(record)
}

/// Every experiment of the app.
pub fn list(store: &dyn Store, app: &str) -> Result<Vec<Experiment>> {
    store
        .list_experiments(app)?
        .into_iter()
        .map(Experiment::from_record)
        .collect()
}
