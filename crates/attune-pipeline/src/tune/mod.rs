//! `attune tune`: hyperparameter search for one algorithm family over an app's data, with
//! the study stored in the store after every trial, so it can be listed, shown and resumed.
//!
//! The pieces: [`space`] (default spaces per family, `--space` text, a trial as a spec of the
//! algorithm factory), [`objective`] (NDCG@k on a per-user temporal split or k-fold cross
//! validation, through the evaluation harness training uses), and [`tune`] here, which asks
//! `attune_core::tune`'s study for parameters, evaluates them (in `jobs` threads that share
//! the study under a mutex), tells the study and saves it.
//!
//! **Nothing half-written:** every input is checked — the family, the space, the validation,
//! the segments and each stored study it would resume (same algorithm, same space, same
//! objective) — before the first write. **Reproducible:** samplers draw trial `n`'s randomness
//! from (seed, n), models use their fixed default seeds, so with `jobs = 1` the same data,
//! seed and budget give the same study.

pub mod objective;
mod run;
pub mod space;
mod view;

use std::time::Duration;

use attune_core::model::spec::{Algorithm, SpecError};
use attune_core::tune::{Direction, Outcome, Study, StudyError, TrialState};
use attune_store::{Store, StoreError, StudyRecord};
use serde::{Deserialize, Serialize};

use crate::config::PipelineConfig;
use crate::dataset::Dataset;
use crate::error::PipelineError;
pub use objective::{Evaluation, Objective, Splits, Validation};
use run::{run_study, Planned};
pub use run::{Progress, StudyRun};
pub use view::{delete, list, show, StudyView, TrialRow};

/// Why a search was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum TuneError {
    /// The family is not one the factory knows (user error).
    #[error("unknown algorithm {name:?}; tunable algorithms: {allowed}")]
    UnknownAlgorithm {
        /// What was given.
        name: String,
        /// The families with parameters.
        allowed: String,
    },
    /// The family has no parameters (user error).
    #[error("algorithm {0:?} has no parameters to tune")]
    NothingToTune(&'static str),
    /// `--space` names a parameter the family does not have (user error).
    #[error("--space: {algorithm} has no parameter {name:?}; its parameters: {allowed}")]
    UnknownParam {
        /// The family.
        algorithm: &'static str,
        /// The unknown name.
        name: String,
        /// Its parameters.
        allowed: String,
    },
    /// `--space` text is malformed or its bounds are invalid (user error).
    #[error("--space {part:?}: {reason}")]
    Space {
        /// The offending part.
        part: String,
        /// Why.
        reason: String,
    },
    /// A trial's parameters do not make a spec (a bug in a default space, or a value the
    /// model refuses).
    #[error(transparent)]
    Spec {
        /// The factory's message.
        source: SpecError,
    },
    /// An option is out of range (user error): `field` names it.
    #[error("{field}: {rule}")]
    Invalid {
        /// The option.
        field: &'static str,
        /// What is allowed.
        rule: String,
    },
    /// The split leaves nothing to validate on, for everyone or for a segment (user error).
    #[error("{0}")]
    NoValidation(String),
    /// A stored study cannot be resumed with these settings; nothing was written (user error).
    #[error("cannot resume study {name:?}: {reason}; nothing was written (choose another name, or `attune tune delete {name}`)")]
    Resume {
        /// The study.
        name: String,
        /// What differs.
        reason: String,
    },
    /// No study of that name (user error).
    #[error("no study {0:?} in this app (attune tune --list)")]
    NotFound(String),
    /// A stored study could not be decoded (service error).
    #[error("stored study {name:?} is unreadable: {detail}")]
    Corrupt {
        /// The study.
        name: String,
        /// What failed.
        detail: String,
    },
    /// The study refused a report or tell (a bug).
    #[error(transparent)]
    Study(#[from] StudyError),
    /// Reading or preparing the data failed.
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl TuneError {
    /// Whether the caller asked for something wrong (as opposed to the service failing).
    pub fn is_user_error(&self) -> bool {
        match self {
            TuneError::UnknownAlgorithm { .. }
            | TuneError::NothingToTune(_)
            | TuneError::UnknownParam { .. }
            | TuneError::Space { .. }
            | TuneError::Invalid { .. }
            | TuneError::NoValidation(_)
            | TuneError::Resume { .. }
            | TuneError::NotFound(_) => true,
            TuneError::Pipeline(e) => e.is_user_error(),
            TuneError::Store(e) => matches!(
                e,
                StoreError::UnknownApp(_)
                    | StoreError::Conflict(_)
                    | StoreError::InvalidStudy { .. }
            ),
            TuneError::Spec { .. } | TuneError::Corrupt { .. } | TuneError::Study(_) => false,
        }
    }
}

/// Which sampler proposes parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SamplerKind {
    /// Multivariate TPE (the first 10 trials random), with the constant liar for parallel
    /// workers.
    Tpe,
    /// Uniform (log-uniform on log scales).
    Random,
    /// `grid_points` evenly spaced values per numeric parameter, every choice.
    Grid,
}

impl std::str::FromStr for SamplerKind {
    type Err = TuneError;
    fn from_str(s: &str) -> Result<Self, TuneError> {
        match s {
            "tpe" => Ok(Self::Tpe),
            "random" => Ok(Self::Random),
            "grid" => Ok(Self::Grid),
            other => Err(TuneError::Invalid {
                field: "sampler",
                rule: format!("unknown sampler {other:?}; one of tpe, random, grid"),
            }),
        }
    }
}

/// Trials a run adds when neither a trial nor a time budget is given.
pub const DEFAULT_TRIALS: usize = 20;

/// What to search and how.
#[derive(Debug, Clone)]
pub struct TuneOptions {
    /// The study's name (per segment: `NAME/ATTR=VALUE`).
    pub name: String,
    /// The family (`ease`, `als`, ...); `None` resumes the stored study's.
    pub algorithm: Option<String>,
    /// `--space` text replacing the family's default space; `None`: the stored study's space
    /// when resuming, else the default.
    pub space: Option<String>,
    /// The sampler.
    pub sampler: SamplerKind,
    /// Points per numeric parameter of the grid sampler.
    pub grid_points: usize,
    /// Trials to add in this run (per study); `None` with no timeout: [`DEFAULT_TRIALS`].
    pub trials: Option<usize>,
    /// No trial starts after this much time (per study); running ones finish.
    pub timeout: Option<Duration>,
    /// `Some(k)`: k-fold cross-validation; `None`: the per-user temporal split.
    pub folds: Option<usize>,
    /// Trials evaluated at once.
    pub jobs: usize,
    /// Sampler seed (and the k-fold shuffle's).
    pub seed: u64,
    /// NDCG cutoff.
    pub k: usize,
    /// Tune one study per value of this profile attribute.
    pub segment_attr: Option<String>,
}

impl Default for TuneOptions {
    fn default() -> Self {
        Self {
            name: String::new(),
            algorithm: None,
            space: None,
            sampler: SamplerKind::Tpe,
            grid_points: 5,
            trials: None,
            timeout: None,
            folds: None,
            jobs: 1,
            seed: 0,
            k: 10,
            segment_attr: None,
        }
    }
}

/// What a study measures, stored with it: a study is only resumed with the same measure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectiveSpec {
    /// Always `ndcg` for now.
    pub metric: String,
    /// Cutoff.
    pub k: usize,
    /// How data is held out.
    pub validation: Validation,
    /// The segment whose validation users are measured: (attribute, value).
    pub segment: Option<(String, String)>,
    /// The sampler of the latest run (may change between runs).
    pub sampler: SamplerKind,
    /// The seed of the latest run (may change between runs).
    pub seed: u64,
}

impl ObjectiveSpec {
    fn same_measure(&self, other: &ObjectiveSpec) -> Result<(), String> {
        if (self.metric.as_str(), self.k) != (other.metric.as_str(), other.k) {
            return Err(format!(
                "it measures {}@{}, not {}@{}",
                self.metric, self.k, other.metric, other.k
            ));
        }
        if self.validation != other.validation {
            return Err(format!(
                "it was validated with {}, not {}",
                describe(&self.validation),
                describe(&other.validation)
            ));
        }
        if self.segment != other.segment {
            return Err("it measures another segment".into());
        }
        Ok(())
    }
}

fn describe(v: &Validation) -> String {
    match v {
        Validation::Temporal { fraction } => format!("a temporal split holding out {fraction}"),
        Validation::KFold { folds, seed } => format!("{folds}-fold cross-validation (seed {seed})"),
    }
}

/// Run the search `options` describe on `app`'s data (as training sees it); one study, or one
/// per segment value. Every study is checked (and, when stored, its resumption) before the
/// first write; each is then saved after every trial.
pub fn tune(
    store: &dyn Store,
    config: &PipelineConfig,
    app: &str,
    options: &TuneOptions,
    progress: &(dyn Fn(&Progress<'_>) + Sync),
) -> Result<Vec<StudyRun>, TuneError> {
    // Options that need no data.
    if options.name.trim().is_empty() {
        return Err(TuneError::Invalid {
            field: "name",
            rule: "the study needs a name".into(),
        });
    }
    if options.jobs == 0 || options.k == 0 || options.grid_points < 2 {
        return Err(TuneError::Invalid {
            field: if options.jobs == 0 {
                "jobs"
            } else if options.k == 0 {
                "k"
            } else {
                "grid_points"
            },
            rule: "must be at least 1 (grid points at least 2)".into(),
        });
    }
    if options.trials == Some(0) {
        return Err(TuneError::Invalid {
            field: "trials",
            rule: "must be at least 1".into(),
        });
    }
    let requested_family = options
        .algorithm
        .as_deref()
        .map(space::family)
        .transpose()?;
    let requested_space = match (requested_family, &options.space) {
        (Some(f), Some(text)) => Some(space::parse_space(f, text)?),
        (Some(f), None) => Some(space::default_space(f)),
        (None, _) => None,
    };
    let requested_validation = options.folds.map(|folds| Validation::KFold {
        folds,
        seed: options.seed,
    });
    if let Some(v) = &requested_validation {
        v.check()?;
    }

    // The data, its splits and the segments.
    let data = Dataset::load(store, app, config, None)?;
    if data.cells.is_empty() {
        return Err(TuneError::NoValidation(format!(
            "app {app:?} has no interactions to tune on; import events first"
        )));
    }
    let targets: Vec<Target> = match &options.segment_attr {
        None => vec![(None, None)],
        Some(attr) => crate::segments::attribute_masks(store, app, &data, attr)
            .map_err(|e| match e {
                PipelineError::NoData(m) => TuneError::NoValidation(m),
                other => other.into(),
            })?
            .into_iter()
            .map(|(value, mask)| (Some((attr.clone(), value)), Some(mask)))
            .collect(),
    };

    let names: Vec<String> = targets
        .iter()
        .map(|(segment, _)| match segment {
            Some((attr, value)) => format!("{}/{attr}={value}", options.name),
            None => options.name.clone(),
        })
        .collect();
    let mut stored: Vec<Option<StudyView>> = Vec::with_capacity(names.len());
    for name in &names {
        stored.push(
            store
                .load_study(app, name)?
                .map(StudyView::decode)
                .transpose()?,
        );
    }
    // Resuming without --folds keeps the stored validation, and with the same --folds its
    // shuffle (the seed may change between runs); anything else must match below.
    let first_stored = stored
        .iter()
        .flatten()
        .map(|v| v.objective.validation)
        .next();
    let validation = match (requested_validation, first_stored) {
        (None, Some(v)) => v,
        (Some(Validation::KFold { folds, .. }), Some(v @ Validation::KFold { folds: f, .. }))
            if folds == f =>
        {
            v
        }
        (Some(v), _) => v,
        (None, None) => Validation::Temporal {
            fraction: config.validation_fraction,
        },
    };
    validation.check()?;
    let splits = Splits::build(&data, &validation)?;

    // Every study checked before anything is written.
    let mut planned = Vec::with_capacity(targets.len());
    for (((segment, mask), name), stored) in targets.iter().zip(names).zip(stored) {
        let what = match segment {
            Some((attr, value)) => format!("segment {attr}={value}"),
            None => format!("app {app:?}"),
        };
        let objective = splits.objective(mask.as_deref(), options.k, &what)?;
        let spec = ObjectiveSpec {
            metric: "ndcg".into(),
            k: options.k,
            validation,
            segment: segment.clone(),
            sampler: options.sampler,
            seed: options.seed,
        };
        let (study, family, base, resumed) = match stored {
            None => {
                let (Some(family), Some(space)) = (requested_family, &requested_space) else {
                    return Err(TuneError::Invalid {
                        field: "algorithm",
                        rule: format!("study {name:?} does not exist yet; name the algorithm to tune (--algorithm)"),
                    });
                };
                let study = Study::new(space.clone(), Direction::Maximize);
                let base = new_record(&name, family, &spec, &study)?;
                (study, family, base, false)
            }
            Some(view) => {
                let resume_err = |reason: String| TuneError::Resume {
                    name: name.clone(),
                    reason,
                };
                if let Some(f) = requested_family {
                    if f != view.algorithm {
                        return Err(resume_err(format!(
                            "it tunes {}, not {}",
                            view.algorithm.name(),
                            f.name()
                        )));
                    }
                }
                // An omitted --space means the stored one; a given one must be it.
                if let (Some(space), Some(_)) = (&requested_space, &options.space) {
                    Study::resume(view.study.clone(), space)
                        .map_err(|e| resume_err(e.to_string()))?;
                }
                view.objective.same_measure(&spec).map_err(resume_err)?;
                let mut study = view.study;
                let family = view.algorithm;
                let mut base = view.record;
                base.objective = serde_json::to_string(&spec).map_err(PipelineError::internal)?;
                // Trials left running by a process that is gone: no worker will tell them.
                let stale: Vec<u64> = study
                    .trials()
                    .iter()
                    .filter(|t| t.state == TrialState::Running)
                    .map(|t| t.id)
                    .collect();
                for id in stale {
                    study.tell(id, Outcome::Failed)?;
                }
                (study, family, base, true)
            }
        };
        planned.push(Planned {
            name,
            family,
            objective,
            spec,
            study,
            base,
            resumed,
        });
    }

    let mut runs = Vec::with_capacity(planned.len());
    for p in planned {
        runs.push(run_study(store, app, options, p, progress)?);
    }
    Ok(runs)
}

fn new_record(
    name: &str,
    family: Algorithm,
    objective: &ObjectiveSpec,
    study: &Study,
) -> Result<StudyRecord, TuneError> {
    let json = |r: serde_json::Result<String>| {
        r.map_err(|e| TuneError::Pipeline(PipelineError::internal(e)))
    };
    Ok(StudyRecord {
        name: name.to_string(),
        algorithm: family.name().to_string(),
        objective: json(serde_json::to_string(objective))?,
        space: json(serde_json::to_string(study.space()))?,
        study: json(serde_json::to_string(study))?,
        state: "running".into(),
        n_trials: study.trials().len() as u32,
        best_value: study.best().and_then(|t| t.value),
        created_micros: 0,
        updated_micros: 0,
    })
}

/// The users of each value of profile attribute `attr` (text, number or boolean, as text),
/// as masks over the dataset's users, by value.
/// One study of a run: the segment (attribute, value) it measures and its users' mask, or
/// everyone.
type Target = (Option<(String, String)>, Option<Vec<bool>>);

#[cfg(test)]
mod tests;
