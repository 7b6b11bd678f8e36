//! Power analysis for two-sided tests of two groups under the normal approximation: the
//! sample size a planned experiment needs, the power it has, and the smallest effect it can
//! detect.
//!
//! Everything is statsmodels' `NormalIndPower` (`statsmodels.stats.power`, the power function
//! of `zt_ind_solve_power`): with a standardized effect size `d`, `n_B = ratio·n_A` and
//! `n_eff = 1/(1/n_A + 1/n_B)`,
//!
//! `power = Φ(d√n_eff − z_{1−α/2}) + Φ(−d√n_eff − z_{1−α/2})`
//!
//! (both rejection regions count, as in statsmodels, so the power at `d = 0` is `α`). Sizes
//! and effects are solved from that equation to machine precision; statsmodels' `solve_power`
//! stops its root search at an absolute tolerance of 1e-5, which the reference records
//! separately (`testdata/stats/reference.json`, see scripts/stats_reference.py).
//!
//! Effect-size conventions:
//! - **proportions**: Cohen's `h = 2 asin √p_B − 2 asin √p_A` (statsmodels
//!   `proportion_effectsize(p_B, p_A)`), the variance-stabilized difference, not the plain
//!   `p_B − p_A`. The MDE is reported back on the rate scale, upwards from `p_A`.
//! - **means**: Cohen's `d = δ/σ` with `σ` the (common) per-user standard deviation.
//!
//! Sizes are returned unrounded (statsmodels does the same); round up to plan.

use std::f64::consts::FRAC_PI_2;

use super::dist::{norm_cdf, norm_ppf};
use super::error::{finite, invalid, open_unit, positive, probability, undefined, Result};

/// Significance level and allocation of a planned two-group experiment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PowerDesign {
    /// Two-sided significance level, `0 < alpha < 1` (default 0.05).
    pub alpha: f64,
    /// `n_B / n_A` (statsmodels' `ratio`), `> 0` (default 1: equal groups).
    pub ratio: f64,
}

impl Default for PowerDesign {
    fn default() -> Self {
        Self {
            alpha: 0.05,
            ratio: 1.0,
        }
    }
}

impl PowerDesign {
    /// `(z_{1−α/2}, n_eff / n_A)`.
    fn check(&self) -> Result<(f64, f64)> {
        let alpha = open_unit("design.alpha", self.alpha)?;
        let ratio = positive("design.ratio", self.ratio)?;
        Ok((norm_ppf(1.0 - 0.5 * alpha), ratio / (1.0 + ratio)))
    }

    fn check_power(&self, power: f64) -> Result<f64> {
        open_unit("power", power)?;
        if power <= self.alpha {
            return Err(invalid(
                "power",
                format!(
                    "must be greater than design.alpha = {} (got {power}); a test has power α at no effect",
                    self.alpha
                ),
            ));
        }
        Ok(power)
    }
}

/// Power of both tails at noncentrality `s = |d|√n_eff`.
fn power_at(s: f64, z: f64) -> f64 {
    norm_cdf(s - z) + norm_cdf(-s - z)
}

/// The `s >= 0` with `power_at(s, z) = power`, `α < power < 1`.
fn noncentrality_for(power: f64, z: f64) -> f64 {
    // The upper tail alone needs s0 = z + Φ⁻¹(power); the lower tail only helps, so the root
    // is in [0, s0]. Newton from s0 (the function is concave there), bisection as safeguard.
    let (mut lo, mut hi) = (0.0_f64, z + norm_ppf(power));
    let mut s = hi;
    for _ in 0..100 {
        let g = power_at(s, z) - power;
        if g > 0.0 {
            hi = s;
        } else {
            lo = s;
        }
        let slope = phi(s - z) - phi(s + z);
        let mut next = s - g / slope;
        if !(next > lo && next < hi && next.is_finite()) {
            next = 0.5 * (lo + hi);
        }
        if (next - s).abs() <= 2.0 * f64::EPSILON * s.max(1.0) {
            return next;
        }
        s = next;
    }
    s
}

fn phi(x: f64) -> f64 {
    (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// Power of the two-sided test for standardized effect `effect_size` with `nobs_a` units in A
/// (statsmodels `NormalIndPower().power(effect_size, nobs_a, alpha, ratio)`).
pub fn standardized_power(effect_size: f64, nobs_a: f64, design: &PowerDesign) -> Result<f64> {
    let (z, share) = design.check()?;
    let d = finite("effect_size", effect_size)?;
    let n = positive("nobs_a", nobs_a)?;
    Ok(power_at(d.abs() * (n * share).sqrt(), z))
}

/// Units needed in group A (B gets `ratio` times as many) to reach `power`
/// (`NormalIndPower().solve_power(effect_size, None, alpha, power, ratio)`).
pub fn standardized_sample_size(effect_size: f64, power: f64, design: &PowerDesign) -> Result<f64> {
    let (z, share) = design.check()?;
    let d = finite("effect_size", effect_size)?;
    let power = design.check_power(power)?;
    if d == 0.0 {
        return Err(undefined(
            "sample size",
            "an effect of 0 is detected with probability α at any size",
        ));
    }
    let s = noncentrality_for(power, z);
    Ok((s / d).powi(2) / share)
}

/// The smallest standardized effect (positive) detected with `power` given `nobs_a`
/// (`NormalIndPower().solve_power(None, nobs_a, alpha, power, ratio)`).
pub fn standardized_mde(nobs_a: f64, power: f64, design: &PowerDesign) -> Result<f64> {
    let (z, share) = design.check()?;
    let n = positive("nobs_a", nobs_a)?;
    let power = design.check_power(power)?;
    Ok(noncentrality_for(power, z) / (n * share).sqrt())
}

/// Cohen's `h = 2 asin √p_B − 2 asin √p_A` (statsmodels `proportion_effectsize(p_b, p_a)`).
pub fn cohens_h(p_a: f64, p_b: f64) -> Result<f64> {
    let (p_a, p_b) = (probability("p_a", p_a)?, probability("p_b", p_b)?);
    Ok(2.0 * p_b.sqrt().asin() - 2.0 * p_a.sqrt().asin())
}

/// Power to detect conversion rate `p_b` against `p_a` with `nobs_a` users in A.
pub fn proportions_power(p_a: f64, p_b: f64, nobs_a: f64, design: &PowerDesign) -> Result<f64> {
    standardized_power(cohens_h(p_a, p_b)?, nobs_a, design)
}

/// Users needed in A to detect `p_b` against `p_a` with `power`.
pub fn proportions_sample_size(
    p_a: f64,
    p_b: f64,
    power: f64,
    design: &PowerDesign,
) -> Result<f64> {
    standardized_sample_size(cohens_h(p_a, p_b)?, power, design)
}

/// The smallest absolute increase `p_B − p_A` detected with `power` given `nobs_a` users in A:
/// the standardized MDE mapped back through `p_B = sin²(asin √p_A + h/2)`. (The MDE downwards
/// is a little smaller near 0: the arcsine scale is not symmetric in rates.)
pub fn proportions_mde(p_a: f64, nobs_a: f64, power: f64, design: &PowerDesign) -> Result<f64> {
    let p_a = probability("p_a", p_a)?;
    let h = standardized_mde(nobs_a, power, design)?;
    let angle = p_a.sqrt().asin() + 0.5 * h;
    if angle > FRAC_PI_2 {
        return Err(undefined(
            "minimum detectable effect",
            format!("even p_B = 1 is not detected with power {power} at nobs_a = {nobs_a}"),
        ));
    }
    Ok(angle.sin().powi(2) - p_a)
}

/// Power to detect a difference of means `delta` with per-user standard deviation `std_dev`.
pub fn means_power(delta: f64, std_dev: f64, nobs_a: f64, design: &PowerDesign) -> Result<f64> {
    let d = finite("delta", delta)? / positive("std_dev", std_dev)?;
    standardized_power(d, nobs_a, design)
}

/// Users needed in A to detect a difference of means `delta` with `power`.
pub fn means_sample_size(
    delta: f64,
    std_dev: f64,
    power: f64,
    design: &PowerDesign,
) -> Result<f64> {
    let d = finite("delta", delta)? / positive("std_dev", std_dev)?;
    standardized_sample_size(d, power, design)
}

/// The smallest difference of means (positive, in the metric's unit) detected with `power`.
pub fn means_mde(std_dev: f64, nobs_a: f64, power: f64, design: &PowerDesign) -> Result<f64> {
    let sd = positive("std_dev", std_dev)?;
    Ok(standardized_mde(nobs_a, power, design)? * sd)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::reference::{assert_close, cases, name, num};

    fn design(c: &serde_json::Value) -> PowerDesign {
        PowerDesign {
            alpha: num(c, "alpha"),
            ratio: num(c, "ratio"),
        }
    }

    /// statsmodels' `solve_power` stops at an absolute tolerance of 1e-5 (brentq_expanding's
    /// default), so its own answers are checked to that.
    fn assert_within_statsmodels_xtol(actual: f64, c: &serde_json::Value, key: &str, what: &str) {
        let sm = num(c, key);
        assert!(
            (actual - sm).abs() <= 1e-5,
            "{what}: got {actual}, statsmodels {sm}"
        );
    }

    #[test]
    fn proportions_match_statsmodels() {
        for c in cases("power", "proportions") {
            let (what, d) = (name(c), design(c));
            let (p_a, p_b, power, n) = (
                num(c, "p_a"),
                num(c, "p_b"),
                num(c, "power"),
                num(c, "nobs_a"),
            );
            assert_close(
                cohens_h(p_a, p_b).unwrap(),
                num(c, "h"),
                &format!("{what}: h"),
            );
            let size = proportions_sample_size(p_a, p_b, power, &d).unwrap();
            assert_close(size, num(c, "sample_size"), &format!("{what}: sample size"));
            assert_within_statsmodels_xtol(size, c, "sample_size_statsmodels", &what);
            let pw = proportions_power(p_a, p_b, n, &d).unwrap();
            assert_close(pw, num(c, "power_at_nobs"), &format!("{what}: power"));
            let mde = proportions_mde(p_a, n, power, &d).unwrap();
            assert_close(mde, num(c, "mde"), &format!("{what}: mde"));
            let h = standardized_mde(n, power, &d).unwrap();
            assert_within_statsmodels_xtol(h, c, "mde_h_statsmodels", &what);
        }
    }

    #[test]
    fn means_match_statsmodels() {
        for c in cases("power", "means") {
            let (what, d) = (name(c), design(c));
            let (delta, sd, power, n) = (
                num(c, "delta"),
                num(c, "std_dev"),
                num(c, "power"),
                num(c, "nobs_a"),
            );
            let size = means_sample_size(delta, sd, power, &d).unwrap();
            assert_close(size, num(c, "sample_size"), &format!("{what}: sample size"));
            assert_within_statsmodels_xtol(size, c, "sample_size_statsmodels", &what);
            let pw = means_power(delta, sd, n, &d).unwrap();
            assert_close(pw, num(c, "power_at_nobs"), &format!("{what}: power"));
            let mde = means_mde(sd, n, power, &d).unwrap();
            assert_close(mde, num(c, "mde"), &format!("{what}: mde"));
        }
    }

    #[test]
    fn size_power_and_mde_are_consistent() {
        let d = PowerDesign {
            alpha: 0.01,
            ratio: 3.0,
        };
        let n = standardized_sample_size(0.05, 0.9, &d).unwrap();
        assert!((standardized_power(0.05, n, &d).unwrap() - 0.9).abs() < 1e-12);
        assert!((standardized_mde(n, 0.9, &d).unwrap() - 0.05).abs() < 1e-14);
        // No effect: power is α.
        assert!((standardized_power(0.0, 1e4, &d).unwrap() - 0.01).abs() < 1e-12);
    }

    #[test]
    fn rules_name_the_argument() {
        let d = PowerDesign::default();
        let e = proportions_sample_size(0.05, 0.06, 0.04, &d).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("power: must be greater than design.alpha"),
            "{e}"
        );
        let e = standardized_power(
            0.1,
            100.0,
            &PowerDesign {
                alpha: 0.05,
                ratio: 0.0,
            },
        );
        assert!(e.unwrap_err().to_string().starts_with("design.ratio:"));
        assert!(proportions_power(0.05, 1.2, 100.0, &d)
            .unwrap_err()
            .to_string()
            .starts_with("p_b:"));
        assert!(means_mde(0.0, 100.0, 0.8, &d)
            .unwrap_err()
            .to_string()
            .starts_with("std_dev:"));
        assert!(standardized_sample_size(0.0, 0.8, &d).is_err());
        assert!(proportions_mde(0.99, 10.0, 0.8, &d).is_err());
    }
}
