//! Optuna's median pruner: stop a trial whose best intermediate value so far is worse than
//! the median of what completed trials reported at the same step.
//!
//! Early epochs of a hopeless configuration cost as much as those of a good one; the median
//! rule is the simple, robust default for cutting them. It is deliberately conservative: no
//! pruning until `n_startup_trials` trials have completed (there is no median to compare with
//! yet) or before `n_warmup_steps` (early curves cross), and only every `interval_steps`.

use super::study::{Direction, Study, TrialId, TrialState};

/// The median pruner's settings; [`Default`] is Optuna's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MedianPruner {
    /// Completed trials required before any pruning.
    pub n_startup_trials: usize,
    /// Steps before which a trial is never pruned.
    pub n_warmup_steps: u64,
    /// Check every this many steps after the warmup (at least 1).
    pub interval_steps: u64,
    /// Completed trials that must have reported at the step for the median to count.
    pub n_min_trials: usize,
}

impl Default for MedianPruner {
    fn default() -> Self {
        Self {
            n_startup_trials: 5,
            n_warmup_steps: 0,
            interval_steps: 1,
            n_min_trials: 1,
        }
    }
}

impl MedianPruner {
    /// Whether the running trial `id` should stop, judged at its latest reported step.
    pub fn should_prune(&self, study: &Study, id: TrialId) -> bool {
        let Some(trial) = study.trial(id) else {
            return false;
        };
        if trial.state != TrialState::Running {
            return false;
        }
        let Some((&step, _)) = trial.intermediate.iter().next_back() else {
            return false;
        };
        let completed: Vec<_> = study.complete().collect();
        if completed.is_empty()
            || completed.len() < self.n_startup_trials
            || step < self.n_warmup_steps
        {
            return false;
        }
        if !self.first_in_interval(step, trial.intermediate.keys().copied()) {
            return false;
        }
        let direction = study.direction();
        let best = trial
            .intermediate
            .values()
            .copied()
            .reduce(|a, b| if direction.better(b, a) { b } else { a })
            .expect("at least one reported value");
        let mut at_step: Vec<f64> = completed
            .iter()
            .filter_map(|t| t.intermediate.get(&step).copied())
            .collect();
        if at_step.len() < self.n_min_trials.max(1) {
            return false;
        }
        let median = median(&mut at_step);
        match direction {
            Direction::Minimize => best > median,
            Direction::Maximize => best < median,
        }
    }

    /// Whether `step` is the first report at or after the latest check point (so a trial
    /// reporting at irregular steps is still checked once per interval).
    fn first_in_interval(&self, step: u64, steps: impl Iterator<Item = u64>) -> bool {
        let interval = self.interval_steps.max(1);
        let check_point = (step - self.n_warmup_steps) / interval * interval + self.n_warmup_steps;
        let previous = steps.filter(|&s| s != step).max();
        previous.is_none_or(|p| p < check_point)
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        0.5 * (values[n / 2 - 1] + values[n / 2])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tune::space::{Param, SearchSpace};
    use crate::tune::study::Outcome;
    use crate::tune::RandomSampler;

    /// A study with `n` completed trials whose loss curves are `1/(step+1) + offset`.
    fn study_with_curves(n: usize) -> Study {
        let space = SearchSpace::new(vec![Param::float("x", 0.0, 1.0)]).unwrap();
        let mut study = Study::new(space, Direction::Minimize);
        let sampler = RandomSampler::new(0);
        for i in 0..n {
            let (id, _) = study.ask(&sampler).unwrap();
            for step in 0..10 {
                study
                    .report(id, step, 1.0 / (step + 1) as f64 + i as f64 * 0.1)
                    .unwrap();
            }
            study
                .tell(id, Outcome::Complete(0.1 + i as f64 * 0.1))
                .unwrap();
        }
        study
    }

    #[test]
    fn prunes_a_clearly_worse_curve_and_not_a_better_one() {
        let mut study = study_with_curves(5);
        let pruner = MedianPruner::default();
        let sampler = RandomSampler::new(1);
        let (worse, _) = study.ask(&sampler).unwrap();
        let (better, _) = study.ask(&sampler).unwrap();
        for step in 0..3 {
            study
                .report(worse, step, 5.0 + 1.0 / (step + 1) as f64)
                .unwrap();
            study
                .report(better, step, 1.0 / (step + 1) as f64 - 0.05)
                .unwrap();
        }
        assert!(pruner.should_prune(&study, worse));
        assert!(!pruner.should_prune(&study, better));
    }

    #[test]
    fn waits_for_startup_trials_and_warmup() {
        let mut study = study_with_curves(3);
        let (worse, _) = study.ask(&RandomSampler::new(1)).unwrap();
        study.report(worse, 0, 100.0).unwrap();
        assert!(
            !MedianPruner::default().should_prune(&study, worse),
            "only 3 completed"
        );
        let warm = MedianPruner {
            n_startup_trials: 1,
            n_warmup_steps: 5,
            ..Default::default()
        };
        assert!(!warm.should_prune(&study, worse), "inside the warmup");
        study.report(worse, 5, 100.0).unwrap();
        assert!(warm.should_prune(&study, worse));
    }

    #[test]
    fn maximize_prunes_the_low_curve() {
        let space = SearchSpace::new(vec![Param::float("x", 0.0, 1.0)]).unwrap();
        let mut study = Study::new(space, Direction::Maximize);
        let sampler = RandomSampler::new(0);
        for v in [0.5, 0.6, 0.7, 0.8, 0.9] {
            let (id, _) = study.ask(&sampler).unwrap();
            study.report(id, 0, v).unwrap();
            study.tell(id, Outcome::Complete(v)).unwrap();
        }
        let (low, _) = study.ask(&sampler).unwrap();
        study.report(low, 0, 0.1).unwrap();
        let (high, _) = study.ask(&sampler).unwrap();
        study.report(high, 0, 0.95).unwrap();
        assert!(MedianPruner::default().should_prune(&study, low));
        assert!(!MedianPruner::default().should_prune(&study, high));
    }
}
