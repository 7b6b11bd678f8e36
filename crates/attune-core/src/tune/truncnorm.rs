//! The truncated normal pieces TPE's Parzen estimators need: log probability mass of an
//! interval, log density, and inverse-CDF sampling.
//!
//! Kernels near a bound are truncated far into a tail, where `Φ(b) − Φ(a)` computed naively
//! cancels to 0 and its log to `-inf`; these work in the lower tail (mirroring upper-tail
//! intervals) and switch to the asymptotic expansion of `log Φ` where `erfc` underflows, as
//! Optuna's `_truncnorm` does.

use statrs::function::erf::{erfc, erfc_inv};

const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_8;

/// `log Φ(x)`, accurate in both tails.
pub(crate) fn log_ndtr(x: f64) -> f64 {
    if x > 6.0 {
        (-0.5 * erfc(x / std::f64::consts::SQRT_2)).ln_1p()
    } else if x > -20.0 {
        (0.5 * erfc(-x / std::f64::consts::SQRT_2)).ln()
    } else {
        let x2 = x * x;
        let series = 1.0 - 1.0 / x2 + 3.0 / (x2 * x2) - 15.0 / (x2 * x2 * x2);
        -0.5 * x2 - (-x).ln() - LN_SQRT_2PI + series.ln()
    }
}

/// `log(1 − e^x)` for `x ≤ 0`.
fn log1mexp(x: f64) -> f64 {
    if x > -std::f64::consts::LN_2 {
        (-x.exp_m1()).ln()
    } else {
        (-x.exp()).ln_1p()
    }
}

/// `log(Φ(b) − Φ(a))` for `a < b` (standardized bounds).
pub(crate) fn log_gauss_mass(a: f64, b: f64) -> f64 {
    if b <= 0.0 {
        let lb = log_ndtr(b);
        lb + log1mexp(log_ndtr(a) - lb)
    } else if a >= 0.0 {
        log_gauss_mass(-b, -a)
    } else {
        // Both tails are small: 1 − Φ(a) − Φ(−b).
        let tails =
            0.5 * erfc(-a / std::f64::consts::SQRT_2) + 0.5 * erfc(b / std::f64::consts::SQRT_2);
        (-tails).ln_1p()
    }
}

/// Log density at `x` of a normal(`mu`, `sigma`) truncated to `[low, high]`.
pub(crate) fn log_pdf(x: f64, mu: f64, sigma: f64, low: f64, high: f64) -> f64 {
    let z = (x - mu) / sigma;
    -0.5 * z * z
        - LN_SQRT_2PI
        - sigma.ln()
        - log_gauss_mass((low - mu) / sigma, (high - mu) / sigma)
}

/// A draw from a normal(`mu`, `sigma`) truncated to `[low, high]`, from a uniform `u` in [0, 1).
pub(crate) fn sample(u: f64, mu: f64, sigma: f64, low: f64, high: f64) -> f64 {
    let z = standard_sample(u, (low - mu) / sigma, (high - mu) / sigma);
    (mu + sigma * z).clamp(low, high)
}

/// Inverse CDF of the standard normal truncated to `[a, b]`, working in the lower tail.
fn standard_sample(u: f64, a: f64, b: f64) -> f64 {
    if a >= 0.0 {
        return -standard_sample(1.0 - u, -b, -a);
    }
    let (pa, pb) = (log_ndtr(a).exp(), log_ndtr(b).exp());
    let p = pa + u * (pb - pa);
    if p <= 0.0 {
        return a;
    }
    if p >= 1.0 {
        return b;
    }
    (-std::f64::consts::SQRT_2 * erfc_inv(2.0 * p)).clamp(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_ndtr_matches_known_values_in_both_tails() {
        assert!((log_ndtr(0.0) - 0.5f64.ln()).abs() < 1e-15);
        // scipy.special.log_ndtr(-30) = -454.3212439955...
        assert!((log_ndtr(-30.0) + 454.321_243_995_5).abs() < 1e-6);
        // Continuity across the switch points.
        assert!((log_ndtr(-20.0 + 1e-9) - log_ndtr(-20.0 - 1e-9)).abs() < 1e-6);
        assert!(log_ndtr(10.0) < 0.0 && log_ndtr(10.0) > -1e-20);
    }

    #[test]
    fn mass_is_finite_far_in_a_tail() {
        let m = log_gauss_mass(40.0, 41.0);
        assert!(m.is_finite() && m < -700.0, "{m}");
        assert!((log_gauss_mass(-1.0, 1.0) - 0.682_689_492_137_085_9f64.ln()).abs() < 1e-9);
    }

    #[test]
    fn samples_stay_inside_and_density_integrates_to_one() {
        for (mu, sigma) in [(0.0, 1.0), (0.9, 0.05), (-3.0, 2.0)] {
            for i in 0..100 {
                let x = sample(i as f64 / 100.0, mu, sigma, 0.0, 1.0);
                assert!((0.0..=1.0).contains(&x));
            }
            let n = 20_000;
            let integral: f64 = (0..n)
                .map(|i| log_pdf((i as f64 + 0.5) / n as f64, mu, sigma, 0.0, 1.0).exp() / n as f64)
                .sum();
            assert!((integral - 1.0).abs() < 1e-3, "{mu} {sigma}: {integral}");
        }
    }
}
