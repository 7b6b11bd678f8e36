//! Monte Carlo calibration checks of this module's tests: seeded, deterministic, and fast
//! enough for unit tests at the sizes the tests use. `examples/stats_simulations.rs` runs them
//! at full size and prints the numbers quoted in docs/experiments.md.
//!
//! - [`aa_false_positive_rate`]: A/A experiments, two-proportion z-test at α; should be ≈ α.
//! - [`peeking_false_positive_rates`]: A/A experiments looked at repeatedly; the naive
//!   fixed-horizon test stopped at its first p < α, against the mSPRT always-valid p-value.
//! - [`observed_power`]: experiments at the size [`super::power`] plans; share that reject.
//! - [`cuped_variance_reduction`]: the variance of the CUPED-adjusted difference of means over
//!   the raw one, against the predicted `1 − ρ²`.
//!
//! Conversions are drawn as individual Bernoulli trials (no normal shortcut), with ChaCha8.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::cuped;
use super::error::{at_least, open_unit, positive, probability, Result};
use super::means;
use super::power::{self, PowerDesign};
use super::proportions::{self, Counts};
use super::sequential::Msprt;
use super::summary::PairSums;

/// Successes among `n` Bernoulli(`p`) trials.
fn binomial(rng: &mut ChaCha8Rng, n: u64, p: f64) -> u64 {
    (0..n).filter(|_| rng.random::<f64>() < p).count() as u64
}

/// One standard normal pair (Box–Muller).
fn normal_pair(rng: &mut ChaCha8Rng) -> (f64, f64) {
    let u1: f64 = 1.0 - rng.random::<f64>(); // (0, 1]
    let u2: f64 = rng.random();
    let r = (-2.0 * u1.ln()).sqrt();
    let (s, c) = (2.0 * std::f64::consts::PI * u2).sin_cos();
    (r * c, r * s)
}

/// An A/A simulation: both arms convert at `rate`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AaConfig {
    /// Simulated experiments.
    pub experiments: u64,
    /// Users per arm.
    pub users_per_arm: u64,
    /// The common conversion rate.
    pub rate: f64,
    /// Significance level.
    pub alpha: f64,
    /// RNG seed.
    pub seed: u64,
}

/// Share of A/A experiments where the two-proportion z-test rejects at `alpha`.
pub fn aa_false_positive_rate(c: &AaConfig) -> Result<f64> {
    at_least("experiments", c.experiments, 1)?;
    at_least("users_per_arm", c.users_per_arm, 1)?;
    probability("rate", c.rate)?;
    open_unit("alpha", c.alpha)?;
    let mut rng = ChaCha8Rng::seed_from_u64(c.seed);
    let mut rejected = 0u64;
    for _ in 0..c.experiments {
        let a = Counts {
            successes: binomial(&mut rng, c.users_per_arm, c.rate),
            trials: c.users_per_arm,
        };
        let b = Counts {
            successes: binomial(&mut rng, c.users_per_arm, c.rate),
            trials: c.users_per_arm,
        };
        if proportions::z_test(a, b).is_ok_and(|t| t.p_value < c.alpha) {
            rejected += 1;
        }
    }
    Ok(rejected as f64 / c.experiments as f64)
}

/// A/A experiments looked at `looks` times (e.g. daily), `users_per_look` new users per arm
/// between looks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PeekingConfig {
    /// Simulated experiments.
    pub experiments: u64,
    /// Looks per experiment.
    pub looks: u64,
    /// New users per arm between two looks.
    pub users_per_look: u64,
    /// The common conversion rate.
    pub rate: f64,
    /// Significance level of both procedures.
    pub alpha: f64,
    /// mSPRT mixing variance τ².
    pub tau2: f64,
    /// RNG seed.
    pub seed: u64,
}

/// False-positive rates of the peeking simulation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PeekingRates {
    /// Share of experiments where the z-test had p < α at any look (peeking, naive).
    pub naive_any_look: f64,
    /// Share where the z-test had p < α at the last look only (the fixed-horizon test).
    pub naive_last_look: f64,
    /// Share where the mSPRT always-valid p-value reached α at any look.
    pub msprt_any_look: f64,
}

/// Run the peeking simulation.
pub fn peeking_false_positive_rates(c: &PeekingConfig) -> Result<PeekingRates> {
    at_least("experiments", c.experiments, 1)?;
    at_least("looks", c.looks, 1)?;
    at_least("users_per_look", c.users_per_look, 1)?;
    probability("rate", c.rate)?;
    open_unit("alpha", c.alpha)?;
    positive("tau2", c.tau2)?;
    let mut rng = ChaCha8Rng::seed_from_u64(c.seed);
    let (mut any, mut last, mut msprt_any) = (0u64, 0u64, 0u64);
    for _ in 0..c.experiments {
        let mut monitor = Msprt::new(c.tau2, c.alpha)?;
        let (mut a, mut b) = (
            Counts {
                successes: 0,
                trials: 0,
            },
            Counts {
                successes: 0,
                trials: 0,
            },
        );
        let (mut naive_hit, mut msprt_hit, mut last_hit) = (false, false, false);
        for _ in 0..c.looks {
            a.successes += binomial(&mut rng, c.users_per_look, c.rate);
            b.successes += binomial(&mut rng, c.users_per_look, c.rate);
            a.trials += c.users_per_look;
            b.trials += c.users_per_look;
            // A look with no variation yet (no conversions at all) is skipped by both.
            last_hit = proportions::z_test(a, b).is_ok_and(|t| t.p_value < c.alpha);
            naive_hit |= last_hit;
            msprt_hit |= monitor.observe_proportions(a, b).is_ok_and(|l| l.reject);
        }
        any += u64::from(naive_hit);
        last += u64::from(last_hit);
        msprt_any += u64::from(msprt_hit);
    }
    let n = c.experiments as f64;
    Ok(PeekingRates {
        naive_any_look: any as f64 / n,
        naive_last_look: last as f64 / n,
        msprt_any_look: msprt_any as f64 / n,
    })
}

/// Experiments with a real effect, sized by [`power::proportions_sample_size`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PowerConfig {
    /// Simulated experiments.
    pub experiments: u64,
    /// Control conversion rate.
    pub p_a: f64,
    /// Treatment conversion rate.
    pub p_b: f64,
    /// Target power the size is planned for.
    pub power: f64,
    /// Significance level (equal arms).
    pub alpha: f64,
    /// RNG seed.
    pub seed: u64,
}

/// Planned against observed power.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PowerCheck {
    /// Users per arm: the planned size rounded up.
    pub users_per_arm: u64,
    /// Power predicted by [`power::proportions_power`] at that size.
    pub predicted: f64,
    /// Share of simulated experiments where the z-test rejected at α.
    pub observed: f64,
}

/// Plan the size for `power`, then simulate at that size.
pub fn observed_power(c: &PowerConfig) -> Result<PowerCheck> {
    at_least("experiments", c.experiments, 1)?;
    let design = PowerDesign {
        alpha: c.alpha,
        ratio: 1.0,
    };
    let users = power::proportions_sample_size(c.p_a, c.p_b, c.power, &design)?.ceil() as u64;
    let predicted = power::proportions_power(c.p_a, c.p_b, users as f64, &design)?;
    let mut rng = ChaCha8Rng::seed_from_u64(c.seed);
    let mut rejected = 0u64;
    for _ in 0..c.experiments {
        let a = Counts {
            successes: binomial(&mut rng, users, c.p_a),
            trials: users,
        };
        let b = Counts {
            successes: binomial(&mut rng, users, c.p_b),
            trials: users,
        };
        if proportions::z_test(a, b).is_ok_and(|t| t.p_value < c.alpha) {
            rejected += 1;
        }
    }
    Ok(PowerCheck {
        users_per_arm: users,
        predicted,
        observed: rejected as f64 / c.experiments as f64,
    })
}

/// Experiments whose metric correlates with a pre-period covariate: `x ~ N(0, 1)`,
/// `y = 10 + ρx + √(1−ρ²)ε`, no treatment effect.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CupedConfig {
    /// Simulated experiments.
    pub experiments: u64,
    /// Users per arm.
    pub users_per_arm: u64,
    /// corr(x, y), in (−1, 1).
    pub correlation: f64,
    /// RNG seed.
    pub seed: u64,
}

/// Predicted against observed CUPED variance reduction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CupedCheck {
    /// `1 − ρ²`.
    pub predicted_factor: f64,
    /// Var(adjusted difference of means) / Var(raw difference) across the experiments.
    pub observed_factor: f64,
    /// Mean of the fitted [`cuped::Cuped::variance_factor`] across the experiments.
    pub fitted_factor: f64,
}

/// Run the CUPED simulation.
pub fn cuped_variance_reduction(c: &CupedConfig) -> Result<CupedCheck> {
    at_least("experiments", c.experiments, 2)?;
    at_least("users_per_arm", c.users_per_arm, 2)?;
    let rho = c.correlation;
    if !(rho > -1.0 && rho < 1.0) {
        return Err(super::error::invalid(
            "correlation",
            format!("must be in (−1, 1) (got {rho})"),
        ));
    }
    let noise = (1.0 - rho * rho).sqrt();
    let mut rng = ChaCha8Rng::seed_from_u64(c.seed);
    let mut raw = Vec::with_capacity(c.experiments as usize);
    let mut adjusted = Vec::with_capacity(c.experiments as usize);
    let mut fitted = 0.0;
    for _ in 0..c.experiments {
        let mut arm = || {
            let mut s = PairSums::default();
            for _ in 0..c.users_per_arm {
                let (x, e) = normal_pair(&mut rng);
                let y = 10.0 + rho * x + noise * e;
                s = s.merge(&PairSums {
                    n: 1,
                    sum_x: x,
                    sum_y: y,
                    sum_xx: x * x,
                    sum_yy: y * y,
                    sum_xy: x * y,
                });
            }
            s
        };
        let (a, b) = (arm(), arm());
        let n = c.users_per_arm as f64;
        raw.push(b.sum_y / n - a.sum_y / n);
        let fit = cuped::fit(&[a, b])?;
        let (sa, sb) = (fit.adjusted_summary(&a)?, fit.adjusted_summary(&b)?);
        adjusted.push(means::difference_ci(&sa, &sb, 0.95)?.estimate);
        fitted += fit.variance_factor;
    }
    let variance = |v: &[f64]| {
        let m = v.iter().sum::<f64>() / v.len() as f64;
        v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64
    };
    Ok(CupedCheck {
        predicted_factor: 1.0 - rho * rho,
        observed_factor: variance(&adjusted) / variance(&raw),
        fitted_factor: fitted / c.experiments as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aa_false_positive_rate_is_nominal() {
        // 2,000 experiments: standard error √(0.05·0.95/2000) = 0.005, so the band is ±2 SE.
        // The example's 200,000-experiment run gives 0.0502 (docs/experiments.md).
        let c = AaConfig {
            experiments: 2000,
            users_per_arm: 5000,
            rate: 0.05,
            alpha: 0.05,
            seed: 11,
        };
        let rate = aa_false_positive_rate(&c).unwrap();
        assert!(
            (0.04..=0.06).contains(&rate),
            "A/A false-positive rate {rate} over 2000 experiments"
        );
    }

    #[test]
    fn peeking_breaks_the_naive_test_but_not_msprt() {
        let c = PeekingConfig {
            experiments: 2000,
            looks: 20,
            users_per_look: 500,
            rate: 0.05,
            alpha: 0.05,
            tau2: 0.005f64.powi(2),
            seed: 12,
        };
        let r = peeking_false_positive_rates(&c).unwrap();
        let msg = format!(
            "20 daily looks, 2000 A/A experiments: naive any-look {:.4}, naive last-look {:.4}, mSPRT {:.4}",
            r.naive_any_look, r.naive_last_look, r.msprt_any_look
        );
        assert!(r.naive_any_look > 0.05, "{msg}");
        assert!(r.msprt_any_look <= 0.05, "{msg}");
    }

    #[test]
    fn observed_power_matches_the_plan() {
        let c = PowerConfig {
            experiments: 2000,
            p_a: 0.05,
            p_b: 0.06,
            power: 0.8,
            alpha: 0.05,
            seed: 13,
        };
        let r = observed_power(&c).unwrap();
        assert!(
            (r.observed - r.predicted).abs() <= 0.05,
            "planned {} users per arm: predicted power {:.4}, observed {:.4}",
            r.users_per_arm,
            r.predicted,
            r.observed
        );
    }

    #[test]
    fn cuped_reduces_variance_to_one_minus_rho_squared() {
        let c = CupedConfig {
            experiments: 2000,
            users_per_arm: 500,
            correlation: 0.7,
            seed: 14,
        };
        let r = cuped_variance_reduction(&c).unwrap();
        let off = (r.observed_factor / r.predicted_factor - 1.0).abs();
        assert!(
            off <= 0.10,
            "variance factor observed {:.4} (fitted {:.4}) vs 1 − ρ² = {:.4}",
            r.observed_factor,
            r.fitted_factor,
            r.predicted_factor
        );
    }

    #[test]
    fn configs_are_checked() {
        let c = AaConfig {
            experiments: 0,
            users_per_arm: 10,
            rate: 0.05,
            alpha: 0.05,
            seed: 1,
        };
        assert!(aa_false_positive_rate(&c)
            .unwrap_err()
            .to_string()
            .starts_with("experiments:"));
        let c = CupedConfig {
            experiments: 10,
            users_per_arm: 10,
            correlation: 1.0,
            seed: 1,
        };
        assert!(cuped_variance_reduction(&c)
            .unwrap_err()
            .to_string()
            .starts_with("correlation:"));
    }
}
