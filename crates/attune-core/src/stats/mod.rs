//! Statistics for experiment reports and guarded rollouts: tests, intervals, power, variance
//! reduction, always-valid monitoring and Bayesian summaries. Pure f64 arithmetic, no I/O,
//! deterministic (the simulations take a seed).
//!
//! Conventions everywhere: two groups are **A** (control) and **B** (treatment); statistics,
//! differences and lifts are **B − A** and **B / A − 1**; tests are two-sided. Every public
//! function checks its arguments and returns [`StatsError::Invalid`] naming the argument and
//! the rule, or [`StatsError::Undefined`] where scipy would return NaN.
//!
//! - [`dist`]: normal, Student's t, χ² and Beta-function helpers (statrs where it is accurate,
//!   hand-written Student's t and incomplete beta where it is not; see that module).
//! - [`proportions`]: two-proportion z-test, χ² of a 2×k table (with/without Yates),
//!   difference and relative-lift intervals.
//! - [`means`]: Welch's t-test from summaries or samples, Welch–Satterthwaite df, intervals.
//! - [`ratio`]: ratio metrics (CTR over users) by the delta method.
//! - [`srm`]: sample-ratio-mismatch check.
//! - [`cuped`]: CUPED variance reduction with a pre-period covariate.
//! - [`power`]: sample size, power and minimum detectable effect.
//! - [`sequential`]: mSPRT always-valid p-values and intervals for continuous monitoring.
//! - [`multiple`]: Holm's step-down adjustment.
//! - [`bayes`]: Beta–Binomial probability to beat and expected loss.
//! - [`simulate`]: seeded Monte Carlo checks of the tests' calibration.
//! - [`psi`], [`ks`]: drift statistics (population stability index, two-sample
//!   Kolmogorov–Smirnov), checked against `testdata/drift/reference.json`.
//!
//! Each module's docs give its formulas and sources and the scipy/statsmodels function it is
//! tested against (`testdata/stats/reference.json`, from `scripts/stats-reference.sh`);
//! docs/experiments.md collects them with the simulation results.
//!
//! ```
//! use attune_core::stats::{proportions, srm, Counts};
//!
//! let a = Counts::new(412, 10_000)?; // control: 4.12%
//! let b = Counts::new(468, 10_050)?; // treatment: 4.66%
//! assert!(!srm::check(&[a.trials, b.trials], &[0.5, 0.5])?.mismatch);
//! let test = proportions::z_test(a, b)?;
//! let lift = proportions::lift_ci(a, b, 0.95)?;
//! assert!(test.statistic > 0.0 && test.p_value < 0.1);
//! assert!(lift.interval.low < lift.estimate && lift.estimate < lift.interval.high);
//! # Ok::<(), attune_core::stats::StatsError>(())
//! ```

pub mod bayes;
pub mod cuped;
mod delta;
pub mod dist;
mod error;
pub mod ks;
pub mod means;
pub mod multiple;
pub mod power;
pub mod proportions;
pub mod psi;
pub mod ratio;
pub mod sequential;
pub mod simulate;
mod special;
pub mod srm;
mod summary;
mod types;

#[cfg(test)]
mod drift_reference;
#[cfg(test)]
mod reference;

pub use error::{Result, StatsError};
pub use proportions::Counts;
pub use summary::{PairSums, Summary};
pub use types::{Estimate, Interval, TestResult};
