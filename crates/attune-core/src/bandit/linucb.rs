//! LinUCB with disjoint linear models (Li, Chu, Langford & Schapire 2010, "A Contextual-Bandit
//! Approach to Personalized News Article Recommendation", Algorithm 1).
//!
//! Each arm `a` has its own ridge regression of the reward on the context `x`:
//! `A_a = λI + Σ x xᵀ`, `b_a = Σ r x`, `θ_a = A_a⁻¹ b_a`. For a context `x` the policy plays
//! `argmax_a xᵀθ_a + α √(xᵀ A_a⁻¹ x)`, ties at random. The paper uses `λ = 1`; `α` scales
//! the confidence width (`1 + √(ln(2/δ)/2)` in the paper's analysis; smaller values explore
//! less and usually earn more on click data). With a one-hot segment as the context this is one
//! UCB per segment whose means are shrunk towards 0 by `λ`; with user features, segments share
//! what they learn through the weights.

use rand::RngCore;

use super::linear::LinearArms;
use super::{check, floor, select, BanditError, ContextualPolicy, ContextualReward, LinearState};
use crate::model::ParamError;

const NAME: &str = "linucb";

/// LinUCB hyperparameters (unchecked).
#[derive(Debug, Clone, PartialEq)]
pub struct LinUcbParams {
    n_arms: usize,
    dim: usize,
    alpha: f64,
    lambda: f64,
    floor: f64,
}

/// Checked LinUCB hyperparameters.
#[derive(Debug, Clone, PartialEq)]
pub struct LinUcbValidParams(LinUcbParams);

impl LinUcbParams {
    /// `n_arms` arms over `dim` context features; `α = 1`, `λ = 1`, no floor.
    pub fn new(n_arms: usize, dim: usize) -> Self {
        Self {
            n_arms,
            dim,
            alpha: 1.0,
            lambda: 1.0,
            floor: 0.0,
        }
    }

    /// Width of the confidence bonus, `α >= 0` (0 is greedy).
    pub fn alpha(mut self, alpha: f64) -> Self {
        self.alpha = alpha;
        self
    }

    /// Ridge `λ > 0` (also the prior precision of the weights).
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
    pub fn check(self) -> Result<LinUcbValidParams, ParamError> {
        check::n_arms(NAME, self.n_arms)?;
        if self.dim == 0 {
            return Err(ParamError::new(NAME, "dim", 0, "must be at least 1"));
        }
        check::non_negative(NAME, "alpha", self.alpha)?;
        check::positive(NAME, "lambda", self.lambda)?;
        check::floor(NAME, self.floor, self.n_arms)?;
        Ok(LinUcbValidParams(self))
    }
}

impl LinUcbValidParams {
    /// Number of arms.
    pub fn n_arms(&self) -> usize {
        self.0.n_arms
    }

    /// A policy that has seen nothing.
    pub fn build(&self) -> LinUcb {
        self.from_state(LinearState::new(self.0.n_arms, self.0.dim))
            .expect("an empty state is valid")
    }

    /// The policy with a stored state (validated, then factorized).
    pub fn from_state(&self, state: LinearState) -> Result<LinUcb, BanditError> {
        let p = &self.0;
        Ok(LinUcb {
            arms: LinearArms::new(state, p.lambda, p.n_arms, p.dim)?,
            params: self.clone(),
        })
    }
}

/// Disjoint LinUCB (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct LinUcb {
    params: LinUcbValidParams,
    arms: LinearArms,
}

impl LinUcb {
    /// The checked parameters the policy was built with.
    pub fn params(&self) -> &LinUcbValidParams {
        &self.params
    }

    /// `θ_a`, the ridge estimate of `arm`'s weights.
    ///
    /// # Panics
    /// If `arm >= K`.
    pub fn theta(&self, arm: usize) -> &[f64] {
        self.arms.theta(arm)
    }

    /// Every arm's upper confidence bound in `context`.
    pub fn ucbs(&self, context: &[f64]) -> Result<Vec<f64>, BanditError> {
        self.arms.check_context(context)?;
        let k = self.params.0.n_arms;
        let (mut means, mut widths) = (vec![0.0; k], vec![0.0; k]);
        self.arms.means_and_widths(context, &mut means, &mut widths);
        Ok(means
            .iter()
            .zip(&widths)
            .map(|(m, w)| m + self.params.0.alpha * w)
            .collect())
    }
}

impl ContextualPolicy for LinUcb {
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
        let ucbs = self.ucbs(context)?;
        if let Some(arm) = floor::explore(self.floor(), self.n_arms(), rng) {
            return Ok(arm);
        }
        Ok(select::argmax(&ucbs, rng))
    }

    fn allocation_into(
        &self,
        context: &[f64],
        _rng: &mut dyn RngCore,
        _draws: usize,
        out: &mut [f64],
    ) -> Result<(), BanditError> {
        assert_eq!(
            out.len(),
            self.n_arms(),
            "allocation needs one slot per arm"
        );
        select::argmax_share_into(&self.ucbs(context)?, out);
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

    fn field_of(p: LinUcbParams) -> &'static str {
        p.check().unwrap_err().field
    }

    #[test]
    fn n_arms_must_be_at_least_two() {
        assert_eq!(field_of(LinUcbParams::new(1, 3)), "n_arms");
    }

    #[test]
    fn dim_must_be_at_least_one() {
        assert_eq!(field_of(LinUcbParams::new(2, 0)), "dim");
    }

    #[test]
    fn alpha_cannot_be_negative() {
        assert_eq!(field_of(LinUcbParams::new(2, 2).alpha(-0.1)), "alpha");
    }

    #[test]
    fn lambda_must_be_positive() {
        assert_eq!(field_of(LinUcbParams::new(2, 2).lambda(0.0)), "lambda");
    }

    #[test]
    fn floor_must_fit_k_arms() {
        assert_eq!(field_of(LinUcbParams::new(2, 2).floor(0.7)), "floor");
    }

    #[test]
    fn ucb_is_mean_plus_alpha_width() {
        let mut p = LinUcbParams::new(2, 2).alpha(0.5).check().unwrap().build();
        for r in [1.0, 1.0, 0.0] {
            p.update(&[1.0, 0.0], 0, r).unwrap();
        }
        // One-hot: mean 2/(3+1), width 1/√(3+1); arm 1 untouched: 0 + 0.5·1.
        let u = p.ucbs(&[1.0, 0.0]).unwrap();
        assert!((u[0] - (0.5 + 0.5 * 0.5)).abs() < 1e-12);
        assert!((u[1] - 0.5).abs() < 1e-12);
    }

    #[test]
    fn each_segment_gets_its_own_best_arm() {
        let mut p = LinUcbParams::new(2, 2).alpha(0.1).check().unwrap().build();
        let (a, b) = ([1.0, 0.0], [0.0, 1.0]);
        let mut batch = Vec::new();
        for i in 0..50 {
            let hit = f64::from(i % 2 == 0);
            batch.push(ContextualReward {
                context: &a,
                arm: 0,
                reward: hit,
            });
            batch.push(ContextualReward {
                context: &a,
                arm: 1,
                reward: 0.0,
            });
            batch.push(ContextualReward {
                context: &b,
                arm: 0,
                reward: 0.0,
            });
            batch.push(ContextualReward {
                context: &b,
                arm: 1,
                reward: hit,
            });
        }
        p.update_batch(&batch).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        assert_eq!(p.choose(&a, &mut rng).unwrap(), 0);
        assert_eq!(p.choose(&b, &mut rng).unwrap(), 1);
        assert_eq!(p.allocation(&a, &mut rng, 0).unwrap(), vec![1.0, 0.0]);
    }

    #[test]
    fn wrong_context_length_is_named() {
        let p = LinUcbParams::new(2, 3).check().unwrap().build();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let e = p.choose(&[1.0], &mut rng).unwrap_err();
        assert_eq!(
            e,
            BanditError::ContextDimension {
                expected: 3,
                received: 1
            }
        );
    }

    #[test]
    fn state_round_trips_to_the_same_policy() {
        let params = LinUcbParams::new(2, 2).check().unwrap();
        let mut p = params.build();
        p.update(&[0.3, 1.0], 1, 0.7).unwrap();
        let q = params.from_state(p.to_state()).unwrap();
        assert_eq!(q, p);
        let other_dim = LinUcbParams::new(2, 3).check().unwrap();
        assert!(matches!(
            other_dim.from_state(p.to_state()),
            Err(BanditError::ShapeMismatch { field: "dim", .. })
        ));
    }

    #[test]
    fn autotraits() {
        fn is<T: Send + Sync + Clone + std::fmt::Debug>() {}
        is::<LinUcb>();
    }
}
