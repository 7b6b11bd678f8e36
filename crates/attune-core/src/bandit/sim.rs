//! Seeded simulators of Bernoulli (click) arms, to compare policies under serving conditions:
//! rewards arrive in batches (serving updates every few hundred impressions), and regret is
//! measured against the known click rates.
//!
//! Common random numbers: the `k`-th pull of arm `a` (in segment `s`) always has the same
//! outcome for a given seed, whichever policy pulls it, so two policies run with the same seed
//! differ by their decisions and not by their luck. The policy's own randomness, the segment
//! sequence and each arm's outcomes come from separate ChaCha streams of the seed.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{BanditError, ContextualPolicy, ContextualReward, Policy, Regret};
use crate::model::ParamError;

const NAME: &str = "bandit_sim";

/// Click arms with fixed rates, one policy at a time.
#[derive(Debug, Clone, PartialEq)]
pub struct BernoulliSim(SegmentSim);

/// Click arms whose rates depend on the user's segment (drawn uniformly per impression); a
/// contextual policy sees the segment one-hot, a plain policy does not see it.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentSim {
    /// `ctrs[s][a]`: click rate of arm `a` in segment `s`.
    ctrs: Vec<Vec<f64>>,
    impressions: usize,
    batch: usize,
}

/// What one simulated run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct SimOutcome {
    /// Cumulative expected regret over all impressions.
    pub regret: f64,
    /// Realized share of all impressions per arm.
    pub shares: Vec<f64>,
    /// Share of all impressions that went to the best arm (of the segment).
    pub best_share: f64,
    /// Share of the second half of the impressions that went to the best arm.
    pub best_share_last_half: f64,
}

/// Mean and sample standard deviation of a measure over seeds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Mean.
    pub mean: f64,
    /// Sample standard deviation (`n − 1`; 0 for fewer than two values).
    pub sd: f64,
}

/// Mean and sample standard deviation of `values`.
pub fn summarize(values: &[f64]) -> Summary {
    let n = values.len() as f64;
    if values.is_empty() {
        return Summary { mean: 0.0, sd: 0.0 };
    }
    let mean = values.iter().sum::<f64>() / n;
    let sd = if values.len() < 2 {
        0.0
    } else {
        (values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1.0)).sqrt()
    };
    Summary { mean, sd }
}

impl BernoulliSim {
    /// Arms with click rates `ctrs` (at least 2, each in `[0, 1]`), `impressions` in all,
    /// the policy updated every `batch` impressions (both at least 1).
    pub fn new(ctrs: Vec<f64>, impressions: usize, batch: usize) -> Result<Self, BanditError> {
        SegmentSim::new(vec![ctrs], impressions, batch).map(Self)
    }

    /// Run `policy` (fresh or not: it is updated in place) with `seed`.
    pub fn run(&self, policy: &mut dyn Policy, seed: u64) -> Result<SimOutcome, BanditError> {
        self.0.run_pooled(policy, seed)
    }
}

impl SegmentSim {
    /// Segments with click rates `ctrs[s][a]` (at least one segment, every segment the same
    /// number of arms, at least 2, rates in `[0, 1]`), `impressions` in all, updates every
    /// `batch` impressions.
    pub fn new(ctrs: Vec<Vec<f64>>, impressions: usize, batch: usize) -> Result<Self, BanditError> {
        let n_arms = ctrs.first().map_or(0, Vec::len);
        if n_arms < 2 {
            return Err(ParamError::new(NAME, "ctrs", n_arms, "need at least 2 arms").into());
        }
        if let Some(row) = ctrs.iter().find(|r| r.len() != n_arms) {
            return Err(BanditError::ShapeMismatch {
                field: "ctrs",
                expected: n_arms,
                received: row.len(),
            });
        }
        if let Some(&p) = ctrs.iter().flatten().find(|p| !(0.0..=1.0).contains(*p)) {
            return Err(ParamError::new(NAME, "ctrs", p, "must be between 0 and 1").into());
        }
        if impressions == 0 {
            return Err(ParamError::new(NAME, "impressions", 0, "must be at least 1").into());
        }
        if batch == 0 {
            return Err(ParamError::new(NAME, "batch", 0, "must be at least 1").into());
        }
        Ok(Self {
            ctrs,
            impressions,
            batch,
        })
    }

    /// Number of arms.
    pub fn n_arms(&self) -> usize {
        self.ctrs[0].len()
    }

    /// Number of segments (the context dimension a contextual policy needs).
    pub fn n_segments(&self) -> usize {
        self.ctrs.len()
    }

    /// Run a contextual policy that sees each impression's segment one-hot.
    pub fn run_contextual(
        &self,
        policy: &mut dyn ContextualPolicy,
        seed: u64,
    ) -> Result<SimOutcome, BanditError> {
        self.check_arms(policy.n_arms())?;
        if policy.dim() != self.n_segments() {
            return Err(BanditError::ShapeMismatch {
                field: "dim",
                expected: self.n_segments(),
                received: policy.dim(),
            });
        }
        self.run_with(Target::Contextual(policy), seed)
    }

    /// Run a plain policy that does not see the segment (one policy for all users).
    pub fn run_pooled(
        &self,
        policy: &mut dyn Policy,
        seed: u64,
    ) -> Result<SimOutcome, BanditError> {
        self.check_arms(policy.n_arms())?;
        self.run_with(Target::Plain(policy), seed)
    }

    fn check_arms(&self, n_arms: usize) -> Result<(), BanditError> {
        if n_arms == self.n_arms() {
            Ok(())
        } else {
            Err(BanditError::ShapeMismatch {
                field: "n_arms",
                expected: self.n_arms(),
                received: n_arms,
            })
        }
    }

    fn run_with(&self, mut target: Target<'_>, seed: u64) -> Result<SimOutcome, BanditError> {
        let (n_seg, n_arms) = (self.n_segments(), self.n_arms());
        let stream = |s: u64| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(s);
            rng
        };
        let mut policy_rng = stream(0);
        let mut segment_rng = stream(1);
        let mut outcome_rngs: Vec<ChaCha8Rng> =
            (0..n_seg * n_arms).map(|c| stream(2 + c as u64)).collect();
        let one_hot: Vec<Vec<f64>> = (0..n_seg)
            .map(|s| (0..n_seg).map(|j| f64::from(j == s)).collect())
            .collect();

        let half = self.impressions / 2;
        let (mut all, mut last_half) = (Regret::new(n_arms), Regret::new(n_arms));
        let mut pending: Vec<(usize, usize, f64)> = Vec::with_capacity(self.batch);
        for t in 0..self.impressions {
            let seg = if n_seg == 1 {
                0
            } else {
                segment_rng.random_range(0..n_seg)
            };
            let arm = target.choose(&one_hot[seg], &mut policy_rng)?;
            let means = &self.ctrs[seg];
            let clicked = outcome_rngs[seg * n_arms + arm].random_bool(means[arm]);
            all.record(arm, means)?;
            if t >= half {
                last_half.record(arm, means)?;
            }
            pending.push((seg, arm, f64::from(clicked)));
            if pending.len() == self.batch || t + 1 == self.impressions {
                target.update(&pending, &one_hot)?;
                pending.clear();
            }
        }
        Ok(SimOutcome {
            regret: all.cumulative(),
            shares: all.shares(),
            best_share: all.best_share(),
            best_share_last_half: last_half.best_share(),
        })
    }
}

/// The policy under test, with or without the segment.
enum Target<'a> {
    Plain(&'a mut dyn Policy),
    Contextual(&'a mut dyn ContextualPolicy),
}

impl Target<'_> {
    fn choose(&self, context: &[f64], rng: &mut ChaCha8Rng) -> Result<usize, BanditError> {
        match self {
            Target::Plain(p) => Ok(p.choose(rng)),
            Target::Contextual(p) => p.choose(context, rng),
        }
    }

    fn update(
        &mut self,
        pending: &[(usize, usize, f64)],
        one_hot: &[Vec<f64>],
    ) -> Result<(), BanditError> {
        match self {
            Target::Plain(p) => {
                let batch: Vec<(usize, f64)> = pending.iter().map(|&(_, a, r)| (a, r)).collect();
                p.update_batch(&batch)
            }
            Target::Contextual(p) => {
                let batch: Vec<ContextualReward<'_>> = pending
                    .iter()
                    .map(|&(s, arm, reward)| ContextualReward {
                        context: &one_hot[s],
                        arm,
                        reward,
                    })
                    .collect();
                p.update_batch(&batch)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bandit::{LinUcbParams, ThompsonBetaParams};

    #[test]
    fn same_seed_same_run_and_every_outcome_is_recorded() {
        let sim = BernoulliSim::new(vec![0.1, 0.2], 2_000, 100).unwrap();
        let params = ThompsonBetaParams::new(2).check().unwrap();
        let (mut a, mut b) = (params.build(), params.build());
        let ra = sim.run(&mut a, 4).unwrap();
        assert_eq!(ra, sim.run(&mut b, 4).unwrap());
        assert_eq!(a, b);
        assert_eq!(a.state().total(), 2_000);
        assert_ne!(ra, sim.run(&mut params.build(), 5).unwrap());
    }

    /// A policy whose choice is a fixed function of the number of rewards seen (batch 1).
    struct Scripted {
        state: crate::bandit::ArmsState,
        pick: fn(u64) -> usize,
    }

    impl Policy for Scripted {
        fn n_arms(&self) -> usize {
            self.state.n_arms()
        }
        fn floor(&self) -> f64 {
            0.0
        }
        fn choose(&self, _: &mut dyn rand::RngCore) -> usize {
            (self.pick)(self.state.total())
        }
        fn allocation_into(&self, _: &mut dyn rand::RngCore, _: usize, out: &mut [f64]) {
            out.fill(1.0 / out.len() as f64);
        }
        fn update_batch(&mut self, batch: &[(usize, f64)]) -> Result<(), BanditError> {
            self.state.record_batch(batch, |_, _| Ok(()))
        }
        fn state(&self) -> &crate::bandit::ArmsState {
            &self.state
        }
    }

    #[test]
    fn outcomes_are_common_random_numbers() {
        // Arm 0's first 500 outcomes are the same whether it gets every impression or every
        // other one: they depend on the seed and the pull number only.
        let scripted = |pick| Scripted {
            state: crate::bandit::ArmsState::new(2),
            pick,
        };
        let (mut only, mut alternate) = (scripted(|_| 0), scripted(|t| (t % 2) as usize));
        BernoulliSim::new(vec![0.3, 0.3], 500, 1)
            .unwrap()
            .run(&mut only, 8)
            .unwrap();
        BernoulliSim::new(vec![0.3, 0.3], 1_000, 1)
            .unwrap()
            .run(&mut alternate, 8)
            .unwrap();
        assert_eq!(only.state.counts[0], alternate.state.counts[0]);
        assert_eq!(only.state.sums[0], alternate.state.sums[0]);
        assert!(only.state.sums[0] > 100.0);
    }

    #[test]
    fn batch_size_delays_learning() {
        // With one batch for the whole run, the policy never learns: traffic stays uniform.
        let sim = BernoulliSim::new(vec![0.0, 1.0], 4_000, 4_000).unwrap();
        let out = sim
            .run(&mut ThompsonBetaParams::new(2).check().unwrap().build(), 3)
            .unwrap();
        assert!((out.best_share - 0.5).abs() < 0.05, "{out:?}");
        let sim = BernoulliSim::new(vec![0.0, 1.0], 4_000, 10).unwrap();
        let out = sim
            .run(&mut ThompsonBetaParams::new(2).check().unwrap().build(), 3)
            .unwrap();
        assert!(out.best_share > 0.95, "{out:?}");
    }

    #[test]
    fn policies_must_fit_the_simulator() {
        let sim = SegmentSim::new(vec![vec![0.1, 0.2]; 3], 10, 5).unwrap();
        let e = sim
            .run_contextual(&mut LinUcbParams::new(2, 2).check().unwrap().build(), 1)
            .unwrap_err();
        assert!(matches!(e, BanditError::ShapeMismatch { field: "dim", .. }));
        let e = sim
            .run_pooled(&mut ThompsonBetaParams::new(3).check().unwrap().build(), 1)
            .unwrap_err();
        assert!(matches!(
            e,
            BanditError::ShapeMismatch {
                field: "n_arms",
                ..
            }
        ));
    }

    #[test]
    fn simulator_parameters_are_checked() {
        let field = |e: BanditError| match e {
            BanditError::Param(p) => p.field,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            field(BernoulliSim::new(vec![0.1], 10, 1).unwrap_err()),
            "ctrs"
        );
        assert_eq!(
            field(BernoulliSim::new(vec![0.1, 1.5], 10, 1).unwrap_err()),
            "ctrs"
        );
        assert_eq!(
            field(BernoulliSim::new(vec![0.1, 0.2], 0, 1).unwrap_err()),
            "impressions"
        );
        assert_eq!(
            field(BernoulliSim::new(vec![0.1, 0.2], 10, 0).unwrap_err()),
            "batch"
        );
        assert!(matches!(
            SegmentSim::new(vec![vec![0.1, 0.2], vec![0.1]], 10, 1),
            Err(BanditError::ShapeMismatch { field: "ctrs", .. })
        ));
    }

    #[test]
    fn summary_is_mean_and_sample_sd() {
        let s = summarize(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(s.mean, 2.5);
        assert!((s.sd - (5.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert_eq!(summarize(&[7.0]), Summary { mean: 7.0, sd: 0.0 });
    }
}
