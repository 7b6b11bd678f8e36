//! Hand-written special functions: `ln B(a, b)` and the regularized incomplete beta function.
//!
//! Why not statrs for these: `statrs::function::beta::ln_beta` is `lnΓ(a) + lnΓ(b) − lnΓ(a+b)`,
//! which cancels catastrophically when an argument is large (the terms are ~10¹⁰ for
//! `a = 5·10⁸` while the result is ~10), and `beta_reg` builds its prefactor the same way and
//! stops its continued fraction after 140 terms. Student's t with the large degrees of freedom
//! of a Welch test on a big experiment (ν ≈ 10⁶–10⁹) then loses 4 to 8 digits, and the exact
//! Beta–Binomial sums in [`super::bayes`] add thousands of such terms. Here:
//! - `ln B` follows R's `lbeta` (nmath/lbeta.c): for large arguments the Stirling
//!   remainders and `log1p` carry the result and nothing large cancels;
//! - `I_x(a, b)` is the continued fraction of Numerical Recipes §6.4 evaluated by the modified
//!   Lentz method, with the prefactor `x^a (1−x)^b / (a B(a, b))` built from the accurate
//!   `ln B` and from both `x` and `1 − x` as given by the caller (so `1 − x` is never rounded
//!   through `x` when one is tiny).
//!
//! Small arguments (< 10) still use statrs' Lanczos `ln Γ`, accurate to ~1e-15 there. For
//! `ln B(0.5, 5·10⁵)` this is closer to a 40-digit mpmath value than `scipy.special.betaln`
//! (which is 3.5e-11 off there).

use statrs::function::gamma::ln_gamma;

/// `ln √(2π)`.
const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_8;

/// `ln Γ(x) − [(x − ½) ln x − x + ln √(2π)]` for `x >= 10`: the Stirling series through the
/// `x^-15` term, whose remainder is below 1e-17 there.
fn stirling_remainder(x: f64) -> f64 {
    // B_{2k} / (2k (2k−1)) for k = 1..8.
    const C: [f64; 8] = [
        1.0 / 12.0,
        -1.0 / 360.0,
        1.0 / 1260.0,
        -1.0 / 1680.0,
        1.0 / 1188.0,
        -691.0 / 360_360.0,
        1.0 / 156.0,
        -3617.0 / 122_400.0,
    ];
    let x2 = 1.0 / (x * x);
    C.iter().rev().fold(0.0, |s, &c| s * x2 + c) / x
}

/// `ln B(a, b)` for `a, b > 0` (R's `lbeta`, see the module docs).
pub(crate) fn ln_beta(a: f64, b: f64) -> f64 {
    let (p, q) = if a < b { (a, b) } else { (b, a) };
    let frac = p / (p + q);
    if p >= 10.0 {
        let corr = stirling_remainder(p) + stirling_remainder(q) - stirling_remainder(p + q);
        -0.5 * q.ln() + LN_SQRT_2PI + corr + (p - 0.5) * frac.ln() + q * (-frac).ln_1p()
    } else if q >= 10.0 {
        let corr = stirling_remainder(q) - stirling_remainder(p + q);
        ln_gamma(p) + corr + p - p * (p + q).ln() + (q - 0.5) * (-frac).ln_1p()
    } else {
        ln_gamma(p) + ln_gamma(q) - ln_gamma(p + q)
    }
}

/// Continued-fraction terms evaluated before giving up. The fraction converges in
/// `O(√max(a, b))` terms at worst; for Student's t it takes a few dozen.
const MAX_TERMS: usize = 100_000;

/// `I_x(a, b) = B(x; a, b) / B(a, b)` for `a, b > 0`, `x ∈ [0, 1]`, with `y = 1 − x` passed in
/// exactly (see the module docs). `None` if the continued fraction did not converge.
pub(crate) fn beta_reg(a: f64, b: f64, x: f64, y: f64) -> Option<f64> {
    if x <= 0.0 {
        return Some(0.0);
    }
    if y <= 0.0 {
        return Some(1.0);
    }
    // The fraction converges fast only left of the mode; use the symmetry
    // I_x(a, b) = 1 − I_{1−x}(b, a) on the right of it.
    if x > (a + 1.0) / (a + b + 2.0) {
        return beta_reg_fraction(b, a, y, x).map(|v| 1.0 - v);
    }
    beta_reg_fraction(a, b, x, y)
}

fn beta_reg_fraction(a: f64, b: f64, x: f64, y: f64) -> Option<f64> {
    let ln_x = if x < 0.5 { x.ln() } else { (-y).ln_1p() };
    let ln_y = if y < 0.5 { y.ln() } else { (-x).ln_1p() };
    let front = (a * ln_x + b * ln_y - ln_beta(a, b)).exp() / a;
    if front == 0.0 {
        return Some(0.0);
    }
    // Modified Lentz on 1 + 1/(1 + d1/(1 + d2/(1 + …))); the value is front · (f − 1).
    const TINY: f64 = 1e-300;
    let (mut f, mut c, mut d) = (1.0_f64, 1.0_f64, 0.0_f64);
    for i in 0..MAX_TERMS {
        let m = (i / 2) as f64;
        let numerator = if i == 0 {
            1.0
        } else if i % 2 == 0 {
            m * (b - m) * x / ((a + 2.0 * m - 1.0) * (a + 2.0 * m))
        } else {
            -(a + m) * (a + b + m) * x / ((a + 2.0 * m) * (a + 2.0 * m + 1.0))
        };
        d = 1.0 + numerator * d;
        if d.abs() < TINY {
            d = TINY;
        }
        d = 1.0 / d;
        c = 1.0 + numerator / c;
        if c.abs() < TINY {
            c = TINY;
        }
        let cd = c * d;
        f *= cd;
        if (1.0 - cd).abs() < 1e-15 {
            return Some((front * (f - 1.0)).clamp(0.0, 1.0));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(a: f64, b: f64) -> f64 {
        ((a - b) / b).abs()
    }

    #[test]
    fn ln_beta_matches_closed_forms() {
        // B(1, b) = 1/b; B(½, ½) = π; B(a, b) = Γ(a)Γ(b)/Γ(a+b) for small integers. (Below 10
        // the accuracy is statrs' ln Γ, ~1e-15 absolute.)
        assert!(rel(ln_beta(1.0, 7.0), -(7.0f64).ln()) < 1e-13);
        assert!(rel(ln_beta(0.5, 0.5), std::f64::consts::PI.ln()) < 1e-13);
        assert!(rel(ln_beta(3.0, 4.0), (2.0f64 * 6.0 / 720.0).ln()) < 1e-13);
        // Large arguments: B(1, b) = 1/b through the Stirling branch.
        assert!(rel(ln_beta(1.0, 5e8), -(5e8f64).ln()) < 1e-14);
        // Across the branch at 10 the function is continuous: B(a, b+1) = B(a, b) · b/(a+b).
        for &(a, b) in &[(9.5, 9.999), (12.0, 9.5), (0.5, 5e8), (3e4, 2e6)] {
            let lhs = ln_beta(a, b + 1.0);
            let rhs = ln_beta(a, b) + (b / (a + b)).ln();
            assert!((lhs - rhs).abs() < 1e-12 * lhs.abs().max(1.0), "{a} {b}");
        }
    }

    #[test]
    fn incomplete_beta_matches_closed_forms() {
        // I_x(1, b) = 1 − (1−x)^b; I_x(a, 1) = x^a; symmetry I_x(a,b) = 1 − I_{1−x}(b,a).
        for &x in &[1e-6, 0.01, 0.3, 0.5, 0.9, 0.999] {
            let y = 1.0 - x;
            let v = beta_reg(1.0, 3.5, x, y).unwrap();
            assert!(rel(v, -((3.5 * (-x).ln_1p()).exp_m1())) < 1e-13, "{x}");
            let v = beta_reg(2.5, 1.0, x, y).unwrap();
            assert!(rel(v, x.powf(2.5)) < 1e-13, "{x}");
            let s = beta_reg(2.0, 7.0, x, y).unwrap() + beta_reg(7.0, 2.0, y, x).unwrap();
            assert!((s - 1.0).abs() < 1e-14, "{x}");
        }
        assert_eq!(beta_reg(2.0, 3.0, 0.0, 1.0), Some(0.0));
        assert_eq!(beta_reg(2.0, 3.0, 1.0, 0.0), Some(1.0));
    }
}
