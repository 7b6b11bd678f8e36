//! Distribution functions: normal, Student's t, χ² and the Beta function helpers.
//!
//! Sources, checked against scipy on `testdata/stats/reference.json` (see the tests):
//! - **Normal** cdf, sf and ppf come from `statrs` (erfc and its inverse): ≤ 1e-10 relative
//!   to `scipy.stats.norm` down to 1e-300.
//! - **χ² sf** is `statrs`' regularized upper incomplete gamma `Q(df/2, x/2)`: ≤ 1e-12
//!   relative to `scipy.stats.chi2.sf` for the small df of contingency and SRM tests.
//! - **Student's t is written here.** statrs' t cdf loses digits as ν grows (8e-9 relative at
//!   ν = 10⁶, 8e-4 at 10⁹) and its inverse is wrong in the far tail of ν = 1 (−9.2e7 instead of
//!   −3.2e11 at p = 1e-12), 1e-3 off at ν = 10⁶ and does not return at ν = 10⁹. Welch tests on
//!   large experiments have exactly those ν. The cdf uses `P(|T| > t) = I_{ν/(ν+t²)}(ν/2, ½)`
//!   with the accurate incomplete beta of `special.rs`; the quantile solves
//!   `ln sf(t) = ln q` by Newton steps safeguarded by bisection. Against scipy (whose t is
//!   Boost's, exact to the last digit by a 40-digit mpmath check): ≤ 2e-10 relative for the
//!   fixtures' ν ≤ 4·10⁶; the error grows as ~1e-16·ν/(1 + t²) (2.6e-8 at ν = 10⁹), from the
//!   continued fraction's conditioning near its switch point.
//! - **`ln B` and `I_x(a, b)`** are hand-written too (same reason; see `special.rs`).

use statrs::distribution::{ContinuousCDF, Normal};
use statrs::function::gamma::gamma_ur;

use super::error::{not_nan, open_unit, positive, probability, undefined, Result};
use super::special;

/// Standard normal cdf `Φ(x)` (`scipy.stats.norm.cdf`).
pub fn normal_cdf(x: f64) -> Result<f64> {
    Ok(norm_cdf(not_nan("x", x)?))
}

/// Standard normal survival function `1 − Φ(x)`, accurate in the upper tail
/// (`scipy.stats.norm.sf`).
pub fn normal_sf(x: f64) -> Result<f64> {
    Ok(norm_sf(not_nan("x", x)?))
}

/// Standard normal quantile `Φ⁻¹(p)` for `0 < p < 1` (`scipy.stats.norm.ppf`).
pub fn normal_ppf(p: f64) -> Result<f64> {
    Ok(norm_ppf(open_unit("p", p)?))
}

/// Student's t cdf with `df > 0` degrees of freedom (`scipy.stats.t.cdf`).
pub fn t_cdf(x: f64, df: f64) -> Result<f64> {
    Ok(student_sf(-not_nan("x", x)?, positive("df", df)?))
}

/// Student's t survival function `P(T > x)` (`scipy.stats.t.sf`).
pub fn t_sf(x: f64, df: f64) -> Result<f64> {
    Ok(student_sf(not_nan("x", x)?, positive("df", df)?))
}

/// Student's t quantile for `0 < p < 1` (`scipy.stats.t.ppf`).
pub fn t_ppf(p: f64, df: f64) -> Result<f64> {
    Ok(student_ppf(open_unit("p", p)?, positive("df", df)?))
}

/// χ² survival function `P(X > x)` with `df > 0` (`scipy.stats.chi2.sf`); `x >= 0`.
pub fn chi2_sf(x: f64, df: f64) -> Result<f64> {
    let x = not_nan("x", x)?;
    if x < 0.0 {
        return Err(super::error::invalid(
            "x",
            format!("must be >= 0 (got {x})"),
        ));
    }
    Ok(chi2_upper(x, positive("df", df)?))
}

/// `ln B(a, b)` for `a, b > 0` (`scipy.special.betaln`), accurate for large arguments.
pub fn ln_beta(a: f64, b: f64) -> Result<f64> {
    Ok(special::ln_beta(positive("a", a)?, positive("b", b)?))
}

/// The regularized incomplete beta function `I_x(a, b)` (`scipy.special.betainc`), i.e. the
/// Beta(a, b) cdf at `x`.
pub fn regularized_beta(a: f64, b: f64, x: f64) -> Result<f64> {
    let (a, b, x) = (positive("a", a)?, positive("b", b)?, probability("x", x)?);
    special::beta_reg(a, b, x, 1.0 - x).ok_or_else(|| {
        undefined(
            "regularized incomplete beta",
            format!("the continued fraction did not converge for a = {a}, b = {b}, x = {x}"),
        )
    })
}

// Unchecked versions for the other stats modules, which validate their own inputs.

pub(super) fn norm_cdf(x: f64) -> f64 {
    Normal::standard().cdf(x)
}

pub(super) fn norm_sf(x: f64) -> f64 {
    Normal::standard().sf(x)
}

pub(super) fn norm_ppf(p: f64) -> f64 {
    Normal::standard().inverse_cdf(p)
}

/// Two-sided p-value of a z statistic, `2 (1 − Φ(|z|))`.
pub(super) fn two_sided_normal_p(z: f64) -> f64 {
    (2.0 * norm_sf(z.abs())).min(1.0)
}

/// Two-sided p-value of a t statistic.
pub(super) fn two_sided_t_p(t: f64, df: f64) -> f64 {
    (2.0 * student_sf(t.abs(), df)).min(1.0)
}

/// The normal quantile `z_{1−(1−c)/2}` for a two-sided interval at confidence `c`.
pub(super) fn z_two_sided(confidence: f64) -> f64 {
    norm_ppf(0.5 + 0.5 * confidence)
}

pub(super) fn chi2_upper(x: f64, df: f64) -> f64 {
    if x <= 0.0 {
        1.0
    } else if x.is_infinite() {
        0.0
    } else {
        gamma_ur(0.5 * df, 0.5 * x)
    }
}

/// `P(|T| > t)` for `t >= 0`.
fn student_two_tail(t: f64, df: f64) -> f64 {
    if t.is_infinite() {
        return 0.0;
    }
    let t2 = t * t;
    // Both 1 − x and x carry full relative precision: each is a ratio, neither a difference.
    let x = df / (df + t2);
    let y = t2 / (df + t2);
    // The continued fraction converges for every ν > 0 we accept; on the 1e5-term cap, fall
    // back to the normal tail (reachable only for ν far beyond any experiment's size).
    special::beta_reg(0.5 * df, 0.5, x, y).unwrap_or_else(|| 2.0 * norm_sf(t))
}

pub(super) fn student_sf(t: f64, df: f64) -> f64 {
    let tail = 0.5 * student_two_tail(t.abs(), df);
    if t >= 0.0 {
        tail
    } else {
        1.0 - tail
    }
}

/// Student's t density.
fn student_pdf(t: f64, df: f64) -> f64 {
    (-(0.5 * (df + 1.0)) * (t * t / df).ln_1p() - 0.5 * df.ln() - special::ln_beta(0.5 * df, 0.5))
        .exp()
}

pub(super) fn student_ppf(p: f64, df: f64) -> f64 {
    if p == 0.5 {
        return 0.0;
    }
    // Solve sf(t) = q for t > 0 in the smaller tail (1 − p is exact for p >= ½).
    let (q, sign) = if p < 0.5 { (p, -1.0) } else { (1.0 - p, 1.0) };
    sign * student_upper_quantile(q, df)
}

/// The `t > 0` with `P(T > t) = q`, `0 < q < ½`.
fn student_upper_quantile(q: f64, df: f64) -> f64 {
    let ln_q = q.ln();
    // g(t) = ln sf(t) − ln q is decreasing; g(0) = ln ½ − ln q > 0.
    let g = |t: f64| student_sf(t, df).ln() - ln_q;
    // Start: the Cornish–Fisher expansion around the normal quantile, or the power-law tail
    // sf(t) ≈ ν^(ν/2−1) t^(−ν) / B(ν/2, ½) when that fits better (small ν, tiny q).
    let z = -norm_ppf(q);
    let cornish_fisher = z
        + (z.powi(3) + z) / (4.0 * df)
        + (5.0 * z.powi(5) + 16.0 * z.powi(3) + 3.0 * z) / (96.0 * df * df);
    let power_tail =
        (df.sqrt() * ((ln_q + df.ln() + special::ln_beta(0.5 * df, 0.5)) / -df).exp()).max(0.0);
    let mut t = [cornish_fisher, power_tail]
        .into_iter()
        .filter(|t| t.is_finite() && *t > 0.0)
        .min_by(|a, b| g(*a).abs().total_cmp(&g(*b).abs()))
        .unwrap_or(1.0);
    // Bracket [lo, hi] with g(lo) > 0 > g(hi).
    let (mut lo, mut hi) = (0.0_f64, f64::INFINITY);
    for _ in 0..200 {
        let gt = g(t);
        if gt == 0.0 {
            return t;
        }
        if gt > 0.0 {
            lo = t;
        } else {
            hi = t;
        }
        // Newton on g: g'(t) = −pdf(t)/sf(t).
        let step = gt * student_sf(t, df) / student_pdf(t, df);
        let mut next = t + step;
        if !(next > lo && next < hi && next.is_finite()) {
            next = if hi.is_infinite() {
                2.0 * t.max(1.0)
            } else if lo > 0.0 && hi / lo > 4.0 {
                (lo * hi).sqrt()
            } else {
                0.5 * (lo + hi)
            };
        }
        if (next - t).abs() <= 4.0 * f64::EPSILON * t.abs() {
            return next;
        }
        t = next;
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::reference::{assert_close, cases, num};

    #[test]
    fn normal_matches_scipy() {
        for c in cases("dist", "normal") {
            let x = num(c, "x");
            assert_close(
                normal_cdf(x).unwrap(),
                num(c, "cdf"),
                &format!("norm.cdf({x})"),
            );
            assert_close(
                normal_sf(x).unwrap(),
                num(c, "sf"),
                &format!("norm.sf({x})"),
            );
        }
        for c in cases("dist", "normal_ppf") {
            let p = num(c, "p");
            assert_close(
                normal_ppf(p).unwrap(),
                num(c, "x"),
                &format!("norm.ppf({p})"),
            );
        }
    }

    #[test]
    fn student_t_matches_scipy() {
        for c in cases("dist", "t") {
            let (x, df) = (num(c, "x"), num(c, "df"));
            assert_close(
                t_cdf(x, df).unwrap(),
                num(c, "cdf"),
                &format!("t.cdf({x}, {df})"),
            );
            assert_close(
                t_sf(x, df).unwrap(),
                num(c, "sf"),
                &format!("t.sf({x}, {df})"),
            );
        }
        for c in cases("dist", "t_ppf") {
            let (p, df) = (num(c, "p"), num(c, "df"));
            assert_close(
                t_ppf(p, df).unwrap(),
                num(c, "x"),
                &format!("t.ppf({p}, {df})"),
            );
        }
    }

    #[test]
    fn chi2_and_beta_match_scipy() {
        for c in cases("dist", "chi2") {
            let (x, df) = (num(c, "x"), num(c, "df"));
            assert_close(
                chi2_sf(x, df).unwrap(),
                num(c, "sf"),
                &format!("chi2.sf({x}, {df})"),
            );
        }
        for c in cases("dist", "beta") {
            let (a, b, x) = (num(c, "a"), num(c, "b"), num(c, "x"));
            assert_close(
                ln_beta(a, b).unwrap(),
                num(c, "betaln"),
                &format!("betaln({a}, {b})"),
            );
            let what = format!("betainc({a}, {b}, {x})");
            assert_close(regularized_beta(a, b, x).unwrap(), num(c, "betainc"), &what);
        }
    }

    #[test]
    fn t_quantile_inverts_the_cdf() {
        for &df in &[1.0, 2.0, 2.5, 7.3, 41.0, 1e4, 3e6] {
            for &p in &[1e-9, 0.001, 0.025, 0.3, 0.5, 0.7, 0.975, 0.999] {
                let t = t_ppf(p, df).unwrap();
                let back = t_cdf(t, df).unwrap();
                // The cdf itself is accurate to ~1e-16·ν (see the module docs).
                let tol = 1e-11_f64.max(1e-16 * df);
                assert!(
                    ((back - p) / p).abs() < tol,
                    "df {df} p {p}: t {t} cdf {back}"
                );
            }
        }
        // ν = 1 is Cauchy: the quantile is tan(π(p − ½)).
        let t = t_ppf(1e-12, 1.0).unwrap();
        assert!(((t + 1.0 / (std::f64::consts::PI * 1e-12).tan()) / t).abs() < 1e-12);
    }

    #[test]
    fn inputs_are_checked() {
        assert_eq!(
            normal_ppf(1.0).unwrap_err().to_string().split(':').next(),
            Some("p")
        );
        assert!(normal_cdf(f64::NAN).is_err());
        assert_eq!(normal_cdf(f64::INFINITY), Ok(1.0));
        assert!(t_cdf(0.0, 0.0).is_err());
        assert!(t_ppf(0.0, 5.0).is_err());
        assert!(chi2_sf(-1.0, 2.0).is_err());
        assert!(regularized_beta(1.0, 1.0, 1.5).is_err());
        assert!(ln_beta(0.0, 1.0).is_err());
    }
}
