//! Stored studies decoded for reports: `attune tune list`, `show` and a run's result.

use attune_core::model::spec::Algorithm;
use attune_core::tune::{ParamSet, Study, TrialState};
use attune_store::{Store, StudyRecord};

use super::{space, ObjectiveSpec, TuneError};

/// A stored study, decoded.
#[derive(Debug, Clone)]
pub struct StudyView {
    /// The store's record (times, state, counts).
    pub record: StudyRecord,
    /// The family.
    pub algorithm: Algorithm,
    /// What it measures.
    pub objective: ObjectiveSpec,
    /// The study: space, trials.
    pub study: Study,
}

/// One trial, for tables.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialRow {
    /// Its number.
    pub id: u64,
    /// The spec it trained (canonical form).
    pub spec: String,
    /// Its parameters.
    pub params: ParamSet,
    /// Its state.
    pub state: TrialState,
    /// Its value when complete.
    pub value: Option<f64>,
    /// Per-fold running means reported before it ended.
    pub intermediate: Vec<f64>,
}

impl StudyView {
    pub(super) fn decode(record: StudyRecord) -> Result<Self, TuneError> {
        let corrupt = |detail: String| TuneError::Corrupt {
            name: record.name.clone(),
            detail,
        };
        let algorithm = Algorithm::from_name(&record.algorithm)
            .ok_or_else(|| corrupt(format!("unknown algorithm {:?}", record.algorithm)))?;
        let objective: ObjectiveSpec = serde_json::from_str(&record.objective)
            .map_err(|e| corrupt(format!("objective: {e}")))?;
        let study: Study =
            serde_json::from_str(&record.study).map_err(|e| corrupt(format!("study: {e}")))?;
        Ok(Self {
            record,
            algorithm,
            objective,
            study,
        })
    }

    /// The best complete trial's row.
    pub fn best(&self) -> Option<TrialRow> {
        self.study.best().map(|t| self.row(t))
    }

    /// Every trial's row, in ask order.
    pub fn rows(&self) -> Vec<TrialRow> {
        self.study.trials().iter().map(|t| self.row(t)).collect()
    }

    fn row(&self, t: &attune_core::tune::Trial) -> TrialRow {
        TrialRow {
            id: t.id,
            spec: space::spec_of(self.algorithm, &t.params)
                .map(|s| s.to_string())
                .unwrap_or_else(|e| format!("({e})")),
            params: t.params.clone(),
            state: t.state,
            value: t.value,
            intermediate: t.intermediate.values().copied().collect(),
        }
    }
}

/// Every study of the app, by name.
pub fn list(store: &dyn Store, app: &str) -> Result<Vec<StudyView>, TuneError> {
    store
        .list_studies(app)?
        .into_iter()
        .map(StudyView::decode)
        .collect()
}

/// The study `name`, or, when there is none of that name, its per-segment studies
/// (`name/ATTR=VALUE`); [`TuneError::NotFound`] when there is neither.
pub fn show(store: &dyn Store, app: &str, name: &str) -> Result<Vec<StudyView>, TuneError> {
    if let Some(r) = store.load_study(app, name)? {
        return Ok(vec![StudyView::decode(r)?]);
    }
    let prefix = format!("{name}/");
    let views: Vec<StudyView> = list(store, app)?
        .into_iter()
        .filter(|v| v.record.name.starts_with(&prefix))
        .collect();
    if views.is_empty() {
        return Err(TuneError::NotFound(name.to_string()));
    }
    Ok(views)
}

/// Delete the study `name` and its per-segment studies; how many were deleted.
pub fn delete(store: &dyn Store, app: &str, name: &str) -> Result<usize, TuneError> {
    let names: Vec<String> = show(store, app, name)?
        .into_iter()
        .map(|v| v.record.name)
        .collect();
    let mut n = 0;
    for s in names {
        n += usize::from(store.delete_study(app, &s)?);
    }
    Ok(n)
}
