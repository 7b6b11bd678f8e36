//! Multi-armed bandits: how serving splits traffic between arms (model versions, serving
//! parameters, items in a slot) while it learns which arm earns the most.
//!
//! Pure and deterministic: no I/O, no clock; every random choice draws from the generator the
//! caller passes, so a seeded generator replays a run exactly. Rewards come from attributed
//! outcomes: clicks are Bernoulli (0 or 1), revenue and dwell are continuous.
//!
//! Two small traits:
//! - [`Policy`] over `K` arms: [`ThompsonBeta`] (clicks), [`ThompsonGaussian`] (continuous
//!   rewards), [`Ucb1`], [`EpsilonGreedy`].
//! - [`ContextualPolicy`] over `K` arms and a `d`-dimensional context (user features, a one-hot
//!   segment): [`LinUcb`], [`LinThompson`].
//!
//! Every policy is built from checked parameters (`*Params` → `check()` → `*ValidParams` →
//! `build()` or `from_state(state)`), keeps an exploration floor (each arm gets at least
//! `floor` of the traffic, see [`floor`](self#the-floor)), takes rewards one at a time or in
//! batches (serving updates every few hundred impressions), and exposes its whole state as plain
//! numbers ([`ArmsState`], [`LinearState`]) that a store saves, replicas rebuild from, and
//! replicas that updated separately merge (`delta_since` + `merge`).
//!
//! # The floor
//! The policy's allocation `π` is mixed with the uniform one, `π'_i = (1 − K·f)·π_i + f`, so
//! every arm keeps at least `f ∈ [0, 1/K]` whatever the policy believes; `choose` draws from the
//! same mixture.
//!
//! [`Regret`] and the simulators ([`BernoulliSim`], [`SegmentSim`]) measure policies against
//! known arm means; `docs/bandits.md` has the update rules, their sources and the measured
//! comparison.
//!
//! ```
//! use attune_core::bandit::{Policy, ThompsonBetaParams};
//! use rand::SeedableRng;
//! use rand_chacha::ChaCha8Rng;
//!
//! let mut policy = ThompsonBetaParams::new(3).floor(0.01).check().unwrap().build();
//! let mut rng = ChaCha8Rng::seed_from_u64(7);
//! // One batch of outcomes: arm 2 was clicked 30 times in 100, the others 5 times.
//! let mut batch = Vec::new();
//! for i in 0..100 {
//!     batch.push((0, f64::from(i < 5)));
//!     batch.push((1, f64::from(i < 5)));
//!     batch.push((2, f64::from(i < 30)));
//! }
//! policy.update_batch(&batch).unwrap();
//! let shares = policy.allocation(&mut rng, 1_000);
//! assert!(shares[2] > 0.9 && shares[0] >= 0.01);
//! // The state is plain numbers: a replica rebuilds the same policy from it.
//! let params = ThompsonBetaParams::new(3).floor(0.01).check().unwrap();
//! let replica = params.from_state(policy.to_state()).unwrap();
//! assert_eq!(replica.to_state(), policy.to_state());
//! ```

use rand::RngCore;

mod check;
mod epsilon_greedy;
mod error;
mod floor;
mod lin_thompson;
mod linear;
mod linear_state;
mod linucb;
mod regret;
mod select;
mod sim;
mod state;
mod thompson_beta;
mod thompson_gaussian;
mod ucb1;

#[cfg(test)]
mod tests;

pub use epsilon_greedy::{
    EpsilonDecay, EpsilonGreedy, EpsilonGreedyParams, EpsilonGreedyValidParams,
};
pub use error::BanditError;
pub use lin_thompson::{LinThompson, LinThompsonParams, LinThompsonValidParams};
pub use linear_state::LinearState;
pub use linucb::{LinUcb, LinUcbParams, LinUcbValidParams};
pub use regret::Regret;
pub use sim::{summarize, BernoulliSim, SegmentSim, SimOutcome, Summary};
pub use state::ArmsState;
pub use thompson_beta::{ThompsonBeta, ThompsonBetaParams, ThompsonBetaValidParams};
pub use thompson_gaussian::{
    ThompsonGaussian, ThompsonGaussianParams, ThompsonGaussianValidParams,
};
pub use ucb1::{Ucb1, Ucb1Params, Ucb1ValidParams};

/// A policy over `K` arms without context.
///
/// Object safe (serving may hold a `Box<dyn Policy>` chosen by configuration); the random
/// generator is passed in so the caller decides seeding and sharing.
pub trait Policy: Send + Sync {
    /// Number of arms `K`.
    fn n_arms(&self) -> usize;

    /// The exploration floor `f`: every arm gets at least this share of the traffic.
    fn floor(&self) -> f64;

    /// The arm for one impression.
    fn choose(&self, rng: &mut dyn RngCore) -> usize;

    /// The traffic share each arm would get from [`choose`](Self::choose) with the current
    /// state, floor included, into `out` (length `K`, sums to one). Thompson policies estimate
    /// it from `draws` posterior draws (at least 1); deterministic policies ignore `draws`.
    ///
    /// # Panics
    /// If `out.len() != K`.
    fn allocation_into(&self, rng: &mut dyn RngCore, draws: usize, out: &mut [f64]);

    /// [`allocation_into`](Self::allocation_into) into a new vector.
    fn allocation(&self, rng: &mut dyn RngCore, draws: usize) -> Vec<f64> {
        let mut out = vec![0.0; self.n_arms()];
        self.allocation_into(rng, draws, &mut out);
        out
    }

    /// Record one reward of `arm`.
    fn update(&mut self, arm: usize, reward: f64) -> Result<(), BanditError> {
        self.update_batch(&[(arm, reward)])
    }

    /// Record a batch of `(arm, reward)` outcomes: all or nothing (an invalid entry leaves the
    /// policy unchanged), and the posterior is refreshed once per batch.
    fn update_batch(&mut self, batch: &[(usize, f64)]) -> Result<(), BanditError>;

    /// The policy's whole learned state.
    fn state(&self) -> &ArmsState;

    /// A copy of the state, for a store (rebuild with the params' `from_state`).
    fn to_state(&self) -> ArmsState {
        self.state().clone()
    }
}

/// One attributed outcome of a contextual policy: the context served, the arm, the reward.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ContextualReward<'a> {
    /// The context the arm was chosen for (length `d`).
    pub context: &'a [f64],
    /// The arm served.
    pub arm: usize,
    /// Its reward.
    pub reward: f64,
}

/// A policy over `K` arms whose choice depends on a `d`-dimensional context.
pub trait ContextualPolicy: Send + Sync {
    /// Number of arms `K`.
    fn n_arms(&self) -> usize;

    /// Context dimension `d`.
    fn dim(&self) -> usize;

    /// The exploration floor `f` (per context).
    fn floor(&self) -> f64;

    /// The arm for one impression in `context`.
    fn choose(&self, context: &[f64], rng: &mut dyn RngCore) -> Result<usize, BanditError>;

    /// The traffic share each arm would get in `context`, floor included, into `out` (length
    /// `K`). Sampling policies use `draws` posterior draws (at least 1).
    ///
    /// # Panics
    /// If `out.len() != K`.
    fn allocation_into(
        &self,
        context: &[f64],
        rng: &mut dyn RngCore,
        draws: usize,
        out: &mut [f64],
    ) -> Result<(), BanditError>;

    /// [`allocation_into`](Self::allocation_into) into a new vector.
    fn allocation(
        &self,
        context: &[f64],
        rng: &mut dyn RngCore,
        draws: usize,
    ) -> Result<Vec<f64>, BanditError> {
        let mut out = vec![0.0; self.n_arms()];
        self.allocation_into(context, rng, draws, &mut out)?;
        Ok(out)
    }

    /// Record one outcome.
    fn update(&mut self, context: &[f64], arm: usize, reward: f64) -> Result<(), BanditError> {
        self.update_batch(&[ContextualReward {
            context,
            arm,
            reward,
        }])
    }

    /// Record a batch of outcomes: all or nothing, one refactorization per touched arm.
    fn update_batch(&mut self, batch: &[ContextualReward<'_>]) -> Result<(), BanditError>;

    /// The policy's whole learned state.
    fn state(&self) -> &LinearState;

    /// A copy of the state, for a store.
    fn to_state(&self) -> LinearState {
        self.state().clone()
    }
}
