//! Independent uniform sampling (log-uniform on log scales): the baseline TPE must beat, and
//! TPE's own startup phase.

use rand::Rng;

use super::space::{Distribution, ParamSet};
use super::study::{Study, TrialId};
use super::{trial_rng, Sampler};

/// Samples every parameter independently and uniformly; reproducible by seed.
#[derive(Debug, Clone, Copy)]
pub struct RandomSampler {
    seed: u64,
}

impl RandomSampler {
    /// A sampler whose proposals depend only on `seed` and the trial id.
    pub fn new(seed: u64) -> Self {
        Self { seed }
    }
}

impl Sampler for RandomSampler {
    fn sample(&self, study: &Study, id: TrialId) -> Option<ParamSet> {
        let mut rng = trial_rng(self.seed, id);
        let space = study.space();
        let internal: Vec<f64> = space
            .params()
            .iter()
            .map(|p| sample_uniform(&p.dist, &mut rng))
            .collect();
        Some(space.from_internal(&internal))
    }
}

/// One uniform draw of a parameter's internal value (choice index for categoricals).
///
/// Log-scaled ints draw log-uniformly over `[low - 0.5, high + 0.5]` and round, as Optuna does,
/// so the end values get their share of the probability mass.
pub(crate) fn sample_uniform<R: Rng + ?Sized>(dist: &Distribution, rng: &mut R) -> f64 {
    let u: f64 = rng.random();
    let lerp = |a: f64, b: f64| a + u * (b - a);
    match dist {
        Distribution::Float {
            low,
            high,
            log: false,
        } => lerp(*low, *high).min(*high),
        Distribution::Float {
            low,
            high,
            log: true,
        } => lerp(low.ln(), high.ln()).exp().clamp(*low, *high),
        Distribution::Int {
            low,
            high,
            log: false,
        } => rng.random_range(*low..=*high) as f64,
        Distribution::Int {
            low,
            high,
            log: true,
        } => {
            let (l, h) = (*low as f64 - 0.5, *high as f64 + 0.5);
            lerp(l.ln(), h.ln())
                .exp()
                .round()
                .clamp(*low as f64, *high as f64)
        }
        Distribution::Categorical { choices } => rng.random_range(0..choices.len()) as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tune::space::Value;
    use crate::tune::study::{Direction, Outcome};
    use crate::tune::tests_support::{assert_in_bounds, mixed_space};

    #[test]
    fn reproducible_and_in_bounds() {
        let run = |seed| {
            let mut study = Study::new(mixed_space(), Direction::Minimize);
            let sampler = RandomSampler::new(seed);
            (0..200)
                .map(|_| {
                    let (id, p) = study.ask(&sampler).unwrap();
                    study.tell(id, Outcome::Complete(0.0)).unwrap();
                    p
                })
                .collect::<Vec<_>>()
        };
        let a = run(1);
        assert_eq!(a, run(1));
        assert_ne!(a, run(2));
        assert_in_bounds(&mixed_space(), &a);
        // Log scales spread over decades rather than piling up at the top.
        let small_lr = a
            .iter()
            .filter(|p| p["lr"].as_f64().unwrap() < 1e-3)
            .count();
        assert!(small_lr > 50, "{small_lr}");
        assert!(a.iter().any(|p| p["k"] == Value::Int(1)));
    }
}
