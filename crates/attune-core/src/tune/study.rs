//! A study: the trials of one search, asked for by a sampler and told their outcome.
//!
//! Ask/tell rather than a closure: the objective (training a model, running an evaluation)
//! lives in other crates and may run in parallel or in another process, so the study only keeps
//! the record. The whole study is plain data and serde-serializable, so a caller can store it
//! after every `tell` and [`Study::resume`] it later; samplers derive their randomness from
//! (seed, trial id), so a resumed study asks for the same parameters as one never interrupted.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::space::{ParamSet, SearchSpace, SpaceError};
use super::Sampler;

/// A trial's number within its study: 0, 1, 2, ... in ask order.
pub type TrialId = u64;

/// Whether smaller or larger objective values are better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Smaller is better (losses, errors).
    Minimize,
    /// Larger is better (NDCG, recall).
    Maximize,
}

impl Direction {
    /// Whether `a` is strictly better than `b`.
    pub fn better(self, a: f64, b: f64) -> bool {
        match self {
            Direction::Minimize => a < b,
            Direction::Maximize => a > b,
        }
    }

    /// The value as a loss (smaller is better), so samplers and pruners sort one way.
    pub fn as_loss(self, v: f64) -> f64 {
        match self {
            Direction::Minimize => v,
            Direction::Maximize => -v,
        }
    }
}

/// Where a trial is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrialState {
    /// Asked, not yet told (possibly being evaluated by another worker).
    Running,
    /// Finished with an objective value.
    Complete,
    /// Stopped early by a pruner; its intermediate values still inform TPE.
    Pruned,
    /// The objective failed; samplers ignore it.
    Failed,
}

/// How a trial ended, as told to [`Study::tell`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Outcome {
    /// The objective's final value (must be finite).
    Complete(f64),
    /// Stopped early by a pruner.
    Pruned,
    /// The objective failed.
    Failed,
}

/// One trial: its parameters, state, value and reported intermediate values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trial {
    /// Its number in the study.
    pub id: TrialId,
    /// The parameters the sampler chose.
    pub params: ParamSet,
    /// Its state.
    pub state: TrialState,
    /// The objective value when complete.
    pub value: Option<f64>,
    /// Intermediate values by step (for pruning).
    #[serde(default)]
    pub intermediate: BTreeMap<u64, f64>,
}

/// Why an ask, report, tell or resume was refused.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum StudyError {
    /// The stored study's space is not the requested one (or is invalid).
    #[error(transparent)]
    Space(#[from] SpaceError),
    /// No trial has this id.
    #[error("no trial {0}")]
    UnknownTrial(TrialId),
    /// The trial was already told its outcome.
    #[error("trial {0} is already finished")]
    Finished(TrialId),
    /// A value was NaN or infinite (it would poison every comparison after it).
    #[error("trial {0}: the value must be finite")]
    NonFinite(TrialId),
    /// The sampler has nothing left to propose (a grid that was fully enumerated).
    #[error("the sampler has no more parameters to propose")]
    Exhausted,
}

/// The record of one search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Study {
    space: SearchSpace,
    direction: Direction,
    trials: Vec<Trial>,
}

impl Study {
    /// An empty study over `space`.
    pub fn new(space: SearchSpace, direction: Direction) -> Self {
        Self {
            space,
            direction,
            trials: Vec::new(),
        }
    }

    /// Continues a stored study, refusing it if it was made for another search space.
    ///
    /// Trials still `Running` in the stored study stay running (another worker may yet tell
    /// them); TPE's constant liar treats them as bad until then. Tell them `Failed` if their
    /// worker is known to be gone.
    pub fn resume(stored: Study, space: &SearchSpace) -> Result<Study, StudyError> {
        stored.space.ensure_same(space)?;
        Ok(stored)
    }

    /// The search space.
    pub fn space(&self) -> &SearchSpace {
        &self.space
    }

    /// The direction.
    pub fn direction(&self) -> Direction {
        self.direction
    }

    /// All trials in ask order.
    pub fn trials(&self) -> &[Trial] {
        &self.trials
    }

    /// A trial by id.
    pub fn trial(&self, id: TrialId) -> Option<&Trial> {
        self.trials.get(id as usize)
    }

    /// Starts a trial with parameters from `sampler`; returns its id and parameters.
    pub fn ask(&mut self, sampler: &dyn Sampler) -> Result<(TrialId, ParamSet), StudyError> {
        let id = self.trials.len() as TrialId;
        let params = sampler.sample(self, id).ok_or(StudyError::Exhausted)?;
        self.trials.push(Trial {
            id,
            params: params.clone(),
            state: TrialState::Running,
            value: None,
            intermediate: BTreeMap::new(),
        });
        Ok((id, params))
    }

    /// Records a running trial's intermediate value at `step` (e.g. an epoch's validation loss).
    pub fn report(&mut self, id: TrialId, step: u64, value: f64) -> Result<(), StudyError> {
        let trial = self.running_mut(id)?;
        if !value.is_finite() {
            return Err(StudyError::NonFinite(id));
        }
        trial.intermediate.insert(step, value);
        Ok(())
    }

    /// Finishes a running trial.
    pub fn tell(&mut self, id: TrialId, outcome: Outcome) -> Result<(), StudyError> {
        let trial = self.running_mut(id)?;
        match outcome {
            Outcome::Complete(v) if !v.is_finite() => return Err(StudyError::NonFinite(id)),
            Outcome::Complete(v) => {
                trial.state = TrialState::Complete;
                trial.value = Some(v);
            }
            Outcome::Pruned => trial.state = TrialState::Pruned,
            Outcome::Failed => trial.state = TrialState::Failed,
        }
        Ok(())
    }

    /// The best complete trial (the earliest among ties), if any.
    pub fn best(&self) -> Option<&Trial> {
        self.complete()
            .fold(None, |best: Option<&Trial>, t| match best {
                Some(b) if !self.direction.better(t.value?, b.value?) => Some(b),
                _ => Some(t),
            })
    }

    /// The complete trials.
    pub fn complete(&self) -> impl Iterator<Item = &Trial> {
        self.trials
            .iter()
            .filter(|t| t.state == TrialState::Complete)
    }

    fn running_mut(&mut self, id: TrialId) -> Result<&mut Trial, StudyError> {
        let trial = self
            .trials
            .get_mut(id as usize)
            .ok_or(StudyError::UnknownTrial(id))?;
        if trial.state != TrialState::Running {
            return Err(StudyError::Finished(id));
        }
        Ok(trial)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tune::random::RandomSampler;
    use crate::tune::space::Param;

    fn space(high: f64) -> SearchSpace {
        SearchSpace::new(vec![
            Param::float("x", -1.0, high),
            Param::categorical("c", &["a", "b"]),
        ])
        .unwrap()
    }

    #[test]
    fn ask_tell_and_best() {
        let mut study = Study::new(space(1.0), Direction::Minimize);
        let sampler = RandomSampler::new(7);
        for v in [3.0, 1.0, 2.0, 1.0] {
            let (id, _) = study.ask(&sampler).unwrap();
            study.tell(id, Outcome::Complete(v)).unwrap();
        }
        let (pruned, _) = study.ask(&sampler).unwrap();
        study.report(pruned, 0, 0.5).unwrap();
        study.tell(pruned, Outcome::Pruned).unwrap();
        assert_eq!(study.best().unwrap().id, 1);
        assert_eq!(
            study.tell(pruned, Outcome::Failed),
            Err(StudyError::Finished(pruned))
        );
        assert_eq!(
            study.tell(99, Outcome::Failed),
            Err(StudyError::UnknownTrial(99))
        );
        let (id, _) = study.ask(&sampler).unwrap();
        assert_eq!(
            study.tell(id, Outcome::Complete(f64::NAN)),
            Err(StudyError::NonFinite(id))
        );

        let mut max = Study::new(space(1.0), Direction::Maximize);
        for v in [3.0, 5.0, 4.0] {
            let (id, _) = max.ask(&sampler).unwrap();
            max.tell(id, Outcome::Complete(v)).unwrap();
        }
        assert_eq!(max.best().unwrap().value, Some(5.0));
    }

    #[test]
    fn serde_round_trip_and_resume() {
        let mut study = Study::new(space(1.0), Direction::Minimize);
        let sampler = RandomSampler::new(3);
        for i in 0..5 {
            let (id, _) = study.ask(&sampler).unwrap();
            study.report(id, 0, i as f64).unwrap();
            study.tell(id, Outcome::Complete(i as f64 * 0.5)).unwrap();
        }
        study.ask(&sampler).unwrap(); // left running
        let json = serde_json::to_string(&study).unwrap();
        let stored: Study = serde_json::from_str(&json).unwrap();
        assert_eq!(stored, study, "{json}");

        let mut resumed = Study::resume(stored.clone(), &space(1.0)).unwrap();
        let mut uninterrupted = study.clone();
        assert_eq!(
            resumed.ask(&sampler).unwrap(),
            uninterrupted.ask(&sampler).unwrap()
        );

        let refused = Study::resume(stored, &space(2.0)).unwrap_err();
        assert!(matches!(
            refused,
            StudyError::Space(SpaceError::Different(_))
        ));
        assert!(refused.to_string().contains("differs"), "{refused}");
    }
}
