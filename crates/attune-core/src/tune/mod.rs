//! Hyperparameter search: search spaces, studies, samplers and pruning. Pure and I/O-free.
//!
//! A [`study::Study`] records trials over a [`space::SearchSpace`]; a [`Sampler`] proposes each
//! trial's parameters (exhaustive [`grid`], seeded [`random`], or Optuna-style [`tpe`]); a
//! [`prune::MedianPruner`] stops trials whose intermediate values trail the median of completed
//! ones. [`bench`] holds the Branin and Hartmann-6 test functions `attune bench tune` compares
//! samplers on. See `docs/tuning.md`.
//!
//! Reproducibility: a sampler's randomness for trial `n` comes from a ChaCha stream keyed by
//! (seed, n) ([`trial_rng`]), never from state carried between calls, so the same seed and the
//! same told history give the same proposals, including after a study is stored and resumed.

pub mod bench;
pub mod grid;
mod parzen;
pub mod prune;
pub mod random;
pub mod space;
pub mod study;
#[cfg(test)]
mod tests_support;
pub mod tpe;
mod truncnorm;

use rand::SeedableRng as _;
use rand_chacha::ChaCha8Rng;

pub use grid::GridSampler;
pub use prune::MedianPruner;
pub use random::RandomSampler;
pub use space::{Distribution, Param, ParamSet, SearchSpace, SpaceError, Value};
pub use study::{Direction, Outcome, Study, StudyError, Trial, TrialId, TrialState};
pub use tpe::{TpeConfig, TpeSampler};

/// Proposes a trial's parameters from the study's history.
pub trait Sampler {
    /// Parameters for trial `id` of `study` (the trial is not yet in `study.trials()`), or
    /// `None` when the sampler has nothing left to propose.
    fn sample(&self, study: &Study, id: TrialId) -> Option<ParamSet>;
}

/// The random stream for trial `id` under `seed`: independent per trial, so proposals do not
/// depend on how many random numbers earlier trials happened to draw.
pub fn trial_rng(seed: u64, id: TrialId) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(id);
    rng
}
