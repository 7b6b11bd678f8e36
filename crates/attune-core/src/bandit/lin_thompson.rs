//! Linear Thompson sampling with disjoint models (Agrawal & Goyal 2013, "Thompson Sampling for
//! Contextual Bandits with Linear Payoffs"; Chapelle & Li 2011 §3 for the practice).
//!
//! The same per-arm ridge statistics as [`LinUcb`](super::LinUcb). The posterior of arm `a`'s
//! weights is `N(θ_a, v² A_a⁻¹)`; the policy draws weights from every arm's posterior and plays
//! the arm whose drawn weights score the context highest. With disjoint models only the scalar
//! `xᵀθ̃_a` matters and it is exactly `N(xᵀθ_a, v² xᵀA_a⁻¹x)`, so one normal draw per arm
//! replaces a `d`-dimensional one. `v` plays the role of the reward noise's standard deviation
//! (Agrawal & Goyal's theoretical `v` is far larger; practice uses about the noise scale).
//! Like Beta–Bernoulli Thompson, it spreads a batch's traffic by the posterior probability of
//! being best, which suits batched updates.

use rand::RngCore;
use rand_distr::{Distribution, StandardNormal};

use super::linear::LinearArms;
use super::{check, floor, select, BanditError, ContextualPolicy, ContextualReward, LinearState};
use crate::model::ParamError;

const NAME: &str = "lin_thompson";

/// Linear Thompson sampling hyperparameters (unchecked).
#[derive(Debug, Clone, PartialEq)]
pub struct LinThompsonParams {
    n_arms: usize,
    dim: usize,
    v: f64,
    lambda: f64,
    floor: f64,
}

/// Checked linear Thompson sampling hyperparameters.
#[derive(Debug, Clone, PartialEq)]
pub struct LinThompsonValidParams(LinThompsonParams);

impl LinThompsonParams {
    /// `n_arms` arms over `dim` context features; `v = 1`, `λ = 1`, no floor.
    pub fn new(n_arms: usize, dim: usize) -> Self {
        Self {
            n_arms,
            dim,
            v: 1.0,
            lambda: 1.0,
            floor: 0.0,
        }
    }

    /// Posterior scale `v >= 0` (0 is greedy).
    pub fn v(mut self, v: f64) -> Self {
        self.v = v;
        self
    }

    /// Ridge `λ > 0` (the prior precision of the weights).
    pub fn lambda(mut self, lambda: f64) -> Self {
        self.lambda = lambda;
        self
    }

    /// Minimum traffic share of every arm in every context, in `[0, 1/K]`.
    pub fn floor(mut self, floor: f64) -> Self {
        self.floor = floor;
        self
    }

    /// Validate every field.
    pub fn check(self) -> Result<LinThompsonValidParams, ParamError> {
        check::n_arms(NAME, self.n_arms)?;
        if self.dim == 0 {
            return Err(ParamError::new(NAME, "dim", 0, "must be at least 1"));
        }
        check::non_negative(NAME, "v", self.v)?;
        check::positive(NAME, "lambda", self.lambda)?;
        check::floor(NAME, self.floor, self.n_arms)?;
        Ok(LinThompsonValidParams(self))
    }
}

impl LinThompsonValidParams {
    /// Number of arms.
    pub fn n_arms(&self) -> usize {
        self.0.n_arms
    }

    /// A policy that has seen nothing.
    pub fn build(&self) -> LinThompson {
        self.from_state(LinearState::new(self.0.n_arms, self.0.dim))
            .expect("an empty state is valid")
    }

    /// The policy with a stored state (validated, then factorized).
    pub fn from_state(&self, state: LinearState) -> Result<LinThompson, BanditError> {
        let p = &self.0;
        Ok(LinThompson {
            arms: LinearArms::new(state, p.lambda, p.n_arms, p.dim)?,
            params: self.clone(),
        })
    }
}

/// Disjoint linear Thompson sampling (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct LinThompson {
    params: LinThompsonValidParams,
    arms: LinearArms,
}

impl LinThompson {
    /// The checked parameters the policy was built with.
    pub fn params(&self) -> &LinThompsonValidParams {
        &self.params
    }

    /// `θ_a`, the posterior mean of `arm`'s weights.
    ///
    /// # Panics
    /// If `arm >= K`.
    pub fn theta(&self, arm: usize) -> &[f64] {
        self.arms.theta(arm)
    }

    /// Each arm's posterior mean and standard deviation of its score in `context`.
    fn score_posteriors(&self, context: &[f64]) -> Result<(Vec<f64>, Vec<f64>), BanditError> {
        self.arms.check_context(context)?;
        let k = self.params.0.n_arms;
        let (mut means, mut sds) = (vec![0.0; k], vec![0.0; k]);
        self.arms.means_and_widths(context, &mut means, &mut sds);
        for s in &mut sds {
            *s *= self.params.0.v;
        }
        Ok((means, sds))
    }
}

fn sample_scores(means: &[f64], sds: &[f64], rng: &mut dyn RngCore, out: &mut [f64]) {
    for ((o, m), s) in out.iter_mut().zip(means).zip(sds) {
        let z: f64 = StandardNormal.sample(rng);
        *o = m + s * z;
    }
}

impl ContextualPolicy for LinThompson {
    fn n_arms(&self) -> usize {
        self.params.0.n_arms
    }

    fn dim(&self) -> usize {
        self.params.0.dim
    }

    fn floor(&self) -> f64 {
        self.params.0.floor
    }

    fn choose(&self, context: &[f64], rng: &mut dyn RngCore) -> Result<usize, BanditError> {
        let (means, sds) = self.score_posteriors(context)?;
        if let Some(arm) = floor::explore(self.floor(), self.n_arms(), rng) {
            return Ok(arm);
        }
        let mut scores = vec![0.0; means.len()];
        sample_scores(&means, &sds, rng, &mut scores);
        Ok(select::argmax(&scores, rng))
    }

    fn allocation_into(
        &self,
        context: &[f64],
        rng: &mut dyn RngCore,
        draws: usize,
        out: &mut [f64],
    ) -> Result<(), BanditError> {
        assert_eq!(
            out.len(),
            self.n_arms(),
            "allocation needs one slot per arm"
        );
        let (means, sds) = self.score_posteriors(context)?;
        select::best_frequencies_into(draws, rng, out, |rng, s| {
            sample_scores(&means, &sds, rng, s)
        });
        floor::mix(self.floor(), out);
        Ok(())
    }

    fn update_batch(&mut self, batch: &[ContextualReward<'_>]) -> Result<(), BanditError> {
        self.arms.update_batch(batch)
    }

    fn state(&self) -> &LinearState {
        self.arms.state()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn field_of(p: LinThompsonParams) -> &'static str {
        p.check().unwrap_err().field
    }

    #[test]
    fn n_arms_must_be_at_least_two() {
        assert_eq!(field_of(LinThompsonParams::new(1, 3)), "n_arms");
    }

    #[test]
    fn dim_must_be_at_least_one() {
        assert_eq!(field_of(LinThompsonParams::new(2, 0)), "dim");
    }

    #[test]
    fn v_cannot_be_negative() {
        assert_eq!(field_of(LinThompsonParams::new(2, 2).v(f64::NAN)), "v");
    }

    #[test]
    fn lambda_must_be_positive() {
        assert_eq!(
            field_of(LinThompsonParams::new(2, 2).lambda(-1.0)),
            "lambda"
        );
    }

    #[test]
    fn floor_must_fit_k_arms() {
        assert_eq!(field_of(LinThompsonParams::new(3, 2).floor(0.4)), "floor");
    }

    #[test]
    fn allocation_matches_the_two_arm_normal_probability() {
        // Oracle: P(N(m1, s1²) > N(m0, s0²)) = Φ((m1 − m0) / √(s0² + s1²)).
        let mut p = LinThompsonParams::new(2, 1).v(0.5).check().unwrap().build();
        for r in [1.0, 0.0, 1.0, 1.0] {
            p.update(&[1.0], 1, r).unwrap();
        }
        p.update(&[1.0], 0, 0.5).unwrap();
        let (m0, s0) = (0.5 / 2.0, 0.5 / 2f64.sqrt());
        let (m1, s1) = (3.0 / 5.0, 0.5 / 5f64.sqrt());
        let z = (m1 - m0) / (s0 * s0 + s1 * s1).sqrt();
        let exact = 0.5 * (1.0 + erf(z / 2f64.sqrt()));
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let shares = p.allocation(&[1.0], &mut rng, 200_000).unwrap();
        assert!((shares[1] - exact).abs() < 0.005, "{shares:?} vs {exact}");
    }

    /// Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7).
    fn erf(x: f64) -> f64 {
        let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
        let poly = t
            * (0.254_829_592
                + t * (-0.284_496_736
                    + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
        (1.0 - poly * (-x * x).exp()).copysign(x)
    }

    #[test]
    fn floor_holds_in_every_context() {
        let mut p = LinThompsonParams::new(3, 2)
            .v(0.3)
            .floor(0.05)
            .check()
            .unwrap()
            .build();
        for _ in 0..200 {
            p.update(&[1.0, 0.0], 2, 1.0).unwrap();
        }
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let shares = p.allocation(&[1.0, 0.0], &mut rng, 5_000).unwrap();
        assert!(shares.iter().all(|&s| s >= 0.05 - 1e-12), "{shares:?}");
        assert!(shares[2] > 0.85, "{shares:?}");
    }

    #[test]
    fn autotraits() {
        fn is<T: Send + Sync + Clone + std::fmt::Debug>() {}
        is::<LinThompson>();
    }
}
