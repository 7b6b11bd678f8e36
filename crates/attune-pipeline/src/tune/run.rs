//! One study's run: `jobs` workers ask the shared study for parameters under a mutex,
//! evaluate them without it (reporting each fold to the median pruner), then tell the study
//! and save it under the mutex, so saves are serialized and the stored trial count only grows.

use std::sync::Mutex;
use std::time::Instant;

use attune_core::model::spec::Algorithm;
use attune_core::tune::{
    GridSampler, MedianPruner, Outcome, RandomSampler, Sampler, Study, StudyError, TpeConfig,
    TpeSampler,
};
use attune_store::{Store, StudyRecord};

use super::{
    space, Evaluation, Objective, ObjectiveSpec, SamplerKind, StudyView, TuneError, TuneOptions,
    DEFAULT_TRIALS,
};
use crate::error::PipelineError;

/// Where a run is, for a progress bar.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress<'a> {
    /// The study.
    pub study: &'a str,
    /// Trials finished in this run.
    pub done: usize,
    /// Trials this run will add, when bounded by a trial count.
    pub total: Option<usize>,
    /// The study's best value so far.
    pub best: Option<f64>,
}

/// One study's run.
#[derive(Debug, Clone)]
pub struct StudyRun {
    /// The study as stored at the end.
    pub view: StudyView,
    /// Whether it continued a stored study.
    pub resumed: bool,
    /// Trials this run added.
    pub new_trials: usize,
    /// Of them, pruned.
    pub pruned: usize,
    /// Of them, failed (with the first failure's message).
    pub failed: usize,
    /// The first failure's message.
    pub first_failure: Option<String>,
    /// Users the objective measured.
    pub validation_users: usize,
    /// Why the run stopped: `trials`, `timeout` or `exhausted` (a grid fully covered).
    pub stopped: &'static str,
}

/// What one study of a run is for, checked before anything is written.
pub(super) struct Planned<'a> {
    pub(super) name: String,
    pub(super) family: Algorithm,
    pub(super) objective: Objective<'a>,
    pub(super) spec: ObjectiveSpec,
    pub(super) study: Study,
    /// The record to save (the stored one when resuming, with the run's objective).
    pub(super) base: StudyRecord,
    pub(super) resumed: bool,
}

struct Shared {
    study: Study,
    started: usize,
    done: usize,
    pruned: usize,
    failed: usize,
    first_failure: Option<String>,
    exhausted: bool,
    error: Option<TuneError>,
}

pub(super) fn run_study(
    store: &dyn Store,
    app: &str,
    options: &TuneOptions,
    p: Planned<'_>,
    progress: &(dyn Fn(&Progress<'_>) + Sync),
) -> Result<StudyRun, TuneError> {
    let (resumed, family, base) = (p.resumed, p.family, p.base);
    let sampler: Box<dyn Sampler + Sync> = match options.sampler {
        SamplerKind::Tpe => Box::new(TpeSampler::new(
            options.seed,
            TpeConfig {
                multivariate: true,
                constant_liar: true,
                ..TpeConfig::default()
            },
        )),
        SamplerKind::Random => Box::new(RandomSampler::new(options.seed)),
        SamplerKind::Grid => Box::new(
            GridSampler::even(p.study.space(), options.grid_points).map_err(|e| {
                TuneError::Invalid {
                    field: "sampler",
                    rule: e.to_string(),
                }
            })?,
        ),
    };
    let budget = match (options.trials, options.timeout) {
        (Some(n), _) => n,
        (None, Some(_)) => usize::MAX,
        (None, None) => DEFAULT_TRIALS,
    };
    // A timeout too large to add to the clock is no deadline.
    let deadline = options.timeout.and_then(|t| Instant::now().checked_add(t));
    let prune = p.objective.folds_with_data() > 1;
    let pruner = MedianPruner::default();
    let save = |study: &Study, state: &str, base: &StudyRecord| -> Result<StudyRecord, TuneError> {
        let record = StudyRecord {
            study: serde_json::to_string(study).map_err(PipelineError::internal)?,
            state: state.to_string(),
            n_trials: study.trials().len() as u32,
            best_value: study.best().and_then(|t| t.value),
            ..base.clone()
        };
        Ok(store.save_study(app, &record)?)
    };
    // The first write: the study exists (or is marked running) before its first trial.
    save(&p.study, "running", &base)?;
    tracing::info!(app, study = %p.name, algorithm = family.name(), resumed, "tuning");

    let shared = Mutex::new(Shared {
        study: p.study,
        started: 0,
        done: 0,
        pruned: 0,
        failed: 0,
        first_failure: None,
        exhausted: false,
        error: None,
    });
    let lock = || {
        shared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    };
    let total = options.trials;
    let worker = || loop {
        let (id, params) = {
            let mut g = lock();
            if g.error.is_some()
                || g.exhausted
                || g.started >= budget
                || deadline.is_some_and(|d| Instant::now() >= d)
            {
                return;
            }
            match g.study.ask(sampler.as_ref()) {
                Ok(x) => {
                    g.started += 1;
                    x
                }
                Err(StudyError::Exhausted) => {
                    g.exhausted = true;
                    return;
                }
                Err(e) => {
                    g.error = Some(e.into());
                    return;
                }
            }
        };
        let evaluation = match space::spec_of(family, &params) {
            Err(e) => Evaluation::Failed(e.to_string()),
            Ok(spec) => {
                tracing::debug!(study = %p.name, trial = id, spec = %spec, "trial");
                p.objective.evaluate(&spec, &mut |step, value| {
                    let mut g = lock();
                    if g.study.report(id, step, value).is_err() {
                        return true;
                    }
                    !(prune && pruner.should_prune(&g.study, id))
                })
            }
        };
        let mut g = lock();
        let outcome = match evaluation {
            Evaluation::Complete(v) => Outcome::Complete(v),
            Evaluation::Stopped => {
                g.pruned += 1;
                Outcome::Pruned
            }
            Evaluation::Failed(why) => {
                tracing::warn!(study = %p.name, trial = id, error = %why, "trial failed");
                g.failed += 1;
                g.first_failure.get_or_insert(why);
                Outcome::Failed
            }
        };
        if let Err(e) = g.study.tell(id, outcome) {
            g.error = Some(e.into());
            return;
        }
        g.done += 1;
        // Saved under the lock: saves are serialized, so the stored trial count only grows.
        if let Err(e) = save(&g.study, "running", &base) {
            g.error = Some(e);
            return;
        }
        progress(&Progress {
            study: &p.name,
            done: g.done,
            total,
            best: g.study.best().and_then(|t| t.value),
        });
    };
    std::thread::scope(|s| {
        for _ in 1..options.jobs {
            s.spawn(worker);
        }
        worker();
    });
    let g = shared
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(e) = g.error {
        return Err(e);
    }
    let record = save(&g.study, "done", &base)?;
    let stopped = if g.exhausted {
        "exhausted"
    } else if g.started >= budget {
        "trials"
    } else {
        "timeout"
    };
    Ok(StudyRun {
        view: StudyView {
            record,
            algorithm: family,
            objective: p.spec,
            study: g.study,
        },
        resumed,
        new_trials: g.done,
        pruned: g.pruned,
        failed: g.failed,
        first_failure: g.first_failure,
        validation_users: p.objective.validation_users,
        stopped,
    })
}
