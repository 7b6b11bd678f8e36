//! Thompson sampling with a Beta–Bernoulli model, for click-like rewards.
//!
//! Each arm's click rate has a `Beta(α, β)` prior (default `α = β = 1`, uniform). After `n`
//! rewards summing to `s` the posterior is `Beta(α + s, β + n − s)`. To choose, draw one rate
//! from every arm's posterior and play the largest (Thompson 1933; Chapelle & Li 2011, "An
//! Empirical Evaluation of Thompson Sampling"; Agrawal & Goyal 2012 for the regret bound). Each
//! arm is thus played with the posterior probability that it is the best, which keeps working
//! when updates come in batches: within a batch the draws still spread traffic in proportion to
//! the uncertainty, where a deterministic index (UCB) would send the whole batch to one arm.
//!
//! Rewards must lie in `[0, 1]`. A fractional reward `r` counts as `r` successes and `1 − r`
//! failures (the expected update of Agrawal & Goyal's Bernoulli trick), so a normalized
//! engagement score can be used as well as a click.

use rand::RngCore;
use rand_distr::{Beta, Distribution};

use super::{check, floor, select, ArmsState, BanditError, Policy};
use crate::model::ParamError;

const NAME: &str = "thompson_beta";

/// Beta–Bernoulli Thompson sampling hyperparameters (unchecked).
#[derive(Debug, Clone, PartialEq)]
pub struct ThompsonBetaParams {
    n_arms: usize,
    alpha: f64,
    beta: f64,
    floor: f64,
}

/// Checked Beta–Bernoulli Thompson sampling hyperparameters.
#[derive(Debug, Clone, PartialEq)]
pub struct ThompsonBetaValidParams(ThompsonBetaParams);

impl ThompsonBetaParams {
    /// `n_arms` arms, uniform `Beta(1, 1)` prior, no floor.
    pub fn new(n_arms: usize) -> Self {
        Self {
            n_arms,
            alpha: 1.0,
            beta: 1.0,
            floor: 0.0,
        }
    }

    /// The prior `Beta(alpha, beta)` of every arm: pseudo-counts of successes and failures.
    /// A prior centred on the current click rate (e.g. `Beta(5, 95)` for 5%) stops the first
    /// few clicks from swinging the allocation.
    pub fn prior(mut self, alpha: f64, beta: f64) -> Self {
        self.alpha = alpha;
        self.beta = beta;
        self
    }

    /// Minimum traffic share of every arm, in `[0, 1/K]`.
    pub fn floor(mut self, floor: f64) -> Self {
        self.floor = floor;
        self
    }

    /// Validate every field.
    pub fn check(self) -> Result<ThompsonBetaValidParams, ParamError> {
        check::n_arms(NAME, self.n_arms)?;
        check::positive(NAME, "alpha", self.alpha)?;
        check::positive(NAME, "beta", self.beta)?;
        check::floor(NAME, self.floor, self.n_arms)?;
        Ok(ThompsonBetaValidParams(self))
    }
}

impl ThompsonBetaValidParams {
    /// Number of arms.
    pub fn n_arms(&self) -> usize {
        self.0.n_arms
    }

    /// A policy that has seen nothing.
    pub fn build(&self) -> ThompsonBeta {
        self.from_state(ArmsState::new(self.0.n_arms))
            .expect("an empty state is valid")
    }

    /// The policy with a stored state. Besides the shared state rules, every arm's sum must lie
    /// in `[0, counts]` (rewards are in `[0, 1]`).
    pub fn from_state(&self, state: ArmsState) -> Result<ThompsonBeta, BanditError> {
        state.validate_for(self.0.n_arms)?;
        for i in 0..state.n_arms() {
            let (n, s) = (state.counts[i] as f64, state.sums[i]);
            if s < 0.0 || s > n * (1.0 + 1e-9) {
                return Err(BanditError::state(
                    format!("sums[{i}]"),
                    format!("{s} must lie in [0, counts] = [0, {n}] for rewards in [0, 1]"),
                ));
            }
        }
        let mut policy = ThompsonBeta {
            params: self.clone(),
            posteriors: Vec::new(),
            state,
        };
        policy.refresh();
        Ok(policy)
    }
}

/// Beta–Bernoulli Thompson sampling (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct ThompsonBeta {
    params: ThompsonBetaValidParams,
    state: ArmsState,
    /// Each arm's posterior, rebuilt after every batch.
    posteriors: Vec<Beta<f64>>,
}

impl ThompsonBeta {
    /// The checked parameters the policy was built with.
    pub fn params(&self) -> &ThompsonBetaValidParams {
        &self.params
    }

    /// Posterior `(α, β)` of `arm`'s click rate; `None` if there is no such arm.
    pub fn posterior(&self, arm: usize) -> Option<(f64, f64)> {
        let p = &self.params.0;
        let n = *self.state.counts.get(arm)? as f64;
        let s = self.state.sums[arm];
        Some((p.alpha + s, p.beta + (n - s).max(0.0)))
    }

    fn refresh(&mut self) {
        self.posteriors = (0..self.state.n_arms())
            .map(|i| {
                let (a, b) = self.posterior(i).expect("arm in range");
                Beta::new(a, b).expect("checked prior plus non-negative counts is positive")
            })
            .collect();
    }

    fn sample_into(&self, rng: &mut dyn RngCore, out: &mut [f64]) {
        for (o, d) in out.iter_mut().zip(&self.posteriors) {
            *o = d.sample(rng);
        }
    }
}

impl Policy for ThompsonBeta {
    fn n_arms(&self) -> usize {
        self.params.0.n_arms
    }

    fn floor(&self) -> f64 {
        self.params.0.floor
    }

    fn choose(&self, rng: &mut dyn RngCore) -> usize {
        if let Some(arm) = floor::explore(self.floor(), self.n_arms(), rng) {
            return arm;
        }
        let mut draws = vec![0.0; self.n_arms()];
        self.sample_into(rng, &mut draws);
        select::argmax(&draws, rng)
    }

    fn allocation_into(&self, rng: &mut dyn RngCore, draws: usize, out: &mut [f64]) {
        assert_eq!(
            out.len(),
            self.n_arms(),
            "allocation needs one slot per arm"
        );
        select::best_frequencies_into(draws, rng, out, |rng, s| self.sample_into(rng, s));
        floor::mix(self.floor(), out);
    }

    fn update_batch(&mut self, batch: &[(usize, f64)]) -> Result<(), BanditError> {
        self.state.record_batch(batch, |arm, reward| {
            if (0.0..=1.0).contains(&reward) {
                Ok(())
            } else {
                Err(BanditError::InvalidReward {
                    arm,
                    reward,
                    rule: "must be between 0 and 1 (a Beta-Bernoulli policy)",
                })
            }
        })?;
        self.refresh();
        Ok(())
    }

    fn state(&self) -> &ArmsState {
        &self.state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn field_of(p: ThompsonBetaParams) -> &'static str {
        p.check().unwrap_err().field
    }

    #[test]
    fn n_arms_must_be_at_least_two() {
        assert_eq!(field_of(ThompsonBetaParams::new(1)), "n_arms");
    }

    #[test]
    fn prior_must_be_positive() {
        assert_eq!(
            field_of(ThompsonBetaParams::new(2).prior(0.0, 1.0)),
            "alpha"
        );
        assert_eq!(
            field_of(ThompsonBetaParams::new(2).prior(1.0, f64::NAN)),
            "beta"
        );
    }

    #[test]
    fn floor_must_fit_k_arms() {
        assert_eq!(field_of(ThompsonBetaParams::new(4).floor(0.3)), "floor");
        assert_eq!(field_of(ThompsonBetaParams::new(4).floor(-0.1)), "floor");
        assert!(ThompsonBetaParams::new(4).floor(0.25).check().is_ok());
    }

    #[test]
    fn posterior_counts_successes_and_failures() {
        let mut p = ThompsonBetaParams::new(2)
            .prior(2.0, 3.0)
            .check()
            .unwrap()
            .build();
        p.update_batch(&[(0, 1.0), (0, 0.0), (0, 1.0), (1, 0.25)])
            .unwrap();
        assert_eq!(p.posterior(0), Some((4.0, 4.0)));
        assert_eq!(p.posterior(1), Some((2.25, 3.75)));
        assert_eq!(p.posterior(2), None);
    }

    #[test]
    fn rewards_outside_unit_interval_are_refused_and_change_nothing() {
        let mut p = ThompsonBetaParams::new(2).check().unwrap().build();
        let e = p.update_batch(&[(0, 1.0), (1, 2.0)]).unwrap_err();
        assert!(matches!(e, BanditError::InvalidReward { arm: 1, .. }));
        assert_eq!(p.state().total(), 0);
    }

    #[test]
    fn state_with_more_successes_than_pulls_is_refused() {
        let params = ThompsonBetaParams::new(2).check().unwrap();
        let mut s = ArmsState::new(2);
        s.counts[1] = 2;
        s.sums[1] = 3.0;
        s.sums_sq[1] = 5.0;
        let e = params.from_state(s).unwrap_err();
        assert!(matches!(e, BanditError::InvalidState { ref field, .. } if field == "sums[1]"));
    }

    #[test]
    fn allocation_matches_the_exact_probability_of_being_best() {
        // Oracle: for Beta(a1, b1) vs Beta(a2, b2) with integer a2,
        // P(X2 > X1) = Σ_{i<a2} B(a1+i, b1+b2) / ((b2+i) B(1+i, b2) B(a1, b1)).
        let mut p = ThompsonBetaParams::new(2).check().unwrap().build();
        p.update_batch(&[(0, 1.0), (0, 0.0), (0, 0.0), (1, 1.0), (1, 1.0), (1, 0.0)])
            .unwrap();
        let (a1, b1) = p.posterior(0).unwrap();
        let (a2, b2) = p.posterior(1).unwrap();
        let ln_b = |x: f64, y: f64| ln_gamma(x) + ln_gamma(y) - ln_gamma(x + y);
        let exact: f64 = (0..a2 as usize)
            .map(|i| {
                let i = i as f64;
                (ln_b(a1 + i, b1 + b2) - (b2 + i).ln() - ln_b(1.0 + i, b2) - ln_b(a1, b1)).exp()
            })
            .sum();
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let shares = p.allocation(&mut rng, 200_000);
        assert!((shares[1] - exact).abs() < 0.005, "{shares:?} vs {exact}");
    }

    /// `ln Γ(x)` for small integer and half-integer arguments (Lanczos, g = 7).
    fn ln_gamma(x: f64) -> f64 {
        const C: [f64; 9] = [
            0.999_999_999_999_809_9,
            676.520_368_121_885_1,
            -1_259.139_216_722_402_8,
            771.323_428_777_653_1,
            -176.615_029_162_140_6,
            12.507_343_278_686_905,
            -0.138_571_095_265_720_12,
            9.984_369_578_019_572e-6,
            1.505_632_735_149_311_6e-7,
        ];
        let x = x - 1.0;
        let t = x + 7.5;
        let s = C[0] + (1..9).map(|i| C[i] / (x + i as f64)).sum::<f64>();
        0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + s.ln()
    }

    #[test]
    fn choose_follows_the_allocation() {
        let mut p = ThompsonBetaParams::new(3)
            .floor(0.05)
            .check()
            .unwrap()
            .build();
        let batch: Vec<_> = (0..60).map(|i| (i % 3, f64::from(i % 3 == 2))).collect();
        p.update_batch(&batch).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let shares = p.allocation(&mut rng, 50_000);
        let mut counts = [0.0; 3];
        for _ in 0..50_000 {
            counts[p.choose(&mut rng)] += 1.0 / 50_000.0;
        }
        for i in 0..3 {
            assert!(
                (counts[i] - shares[i]).abs() < 0.01,
                "{counts:?} {shares:?}"
            );
            assert!(shares[i] >= 0.05 - 1e-12);
        }
    }

    #[test]
    fn same_seed_same_choices() {
        let p = ThompsonBetaParams::new(4).check().unwrap().build();
        let run = |seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            (0..100).map(|_| p.choose(&mut rng)).collect::<Vec<_>>()
        };
        assert_eq!(run(9), run(9));
        assert_ne!(run(9), run(10));
    }

    #[test]
    fn autotraits() {
        fn is<T: Send + Sync + Clone + std::fmt::Debug>() {}
        is::<ThompsonBeta>();
        is::<ThompsonBetaValidParams>();
    }
}
