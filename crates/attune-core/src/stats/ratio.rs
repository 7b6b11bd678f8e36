//! Ratio metrics with the user as the analysis unit: click-through rate = Σclicks / Σimpressions,
//! revenue per session, … The units randomized are users, but the metric's denominator is not
//! the number of users, so the per-impression values are not independent and the naive
//! binomial variance is wrong (too small when users differ). The delta method gives the
//! variance from per-user sums.
//!
//! With `x` the per-user numerator and `y` the per-user denominator ([`PairSums`] reads them
//! so), `R̂ = x̄/ȳ = Σx/Σy` and, to first order (Deng, Knoblich, Lu 2018, "Applying the Delta
//! Method in Metric Analytics", KDD, eq. (2)):
//!
//! `Var(R̂) ≈ (1/n) · (σ²_x/μ²_y − 2 μ_x σ_xy/μ³_y + μ²_x σ²_y/μ⁴_y)
//!         = (σ²_x − 2R σ_xy + R² σ²_y) / (n μ²_y)`
//!
//! with sample (co)variances (n − 1 divisor, numpy's `np.cov`). Two variants are independent,
//! so the difference has variance `Var(R̂_A) + Var(R̂_B)` and is tested with a z statistic;
//! the relative lift uses the delta method once more (`delta.rs`). No scipy/statsmodels
//! function does this; the reference is the formula evaluated with numpy on per-user arrays.

use super::delta;
use super::dist::{two_sided_normal_p, z_two_sided};
use super::error::{open_unit, undefined, Result};
use super::summary::PairSums;
use super::types::{Estimate, Interval, TestResult};

/// `(R̂, Var(R̂))` of one group.
fn ratio_and_variance(s: &PairSums, name: &str) -> Result<(f64, f64)> {
    let m = s.moments(name)?;
    if m.mean_y == 0.0 {
        return Err(undefined(
            "ratio",
            format!("{name}.sum_y is 0: the group has no denominator"),
        ));
    }
    let r = m.mean_x / m.mean_y;
    let spread = (m.var_x - 2.0 * r * m.cov_xy + r * r * m.var_y).max(0.0);
    Ok((r, spread / (m.n * m.mean_y * m.mean_y)))
}

/// The ratio `Σx/Σy` of one group with its delta-method standard error and normal interval.
pub fn estimate(sums: &PairSums, confidence: f64) -> Result<Estimate> {
    let (r, var) = ratio_and_variance(sums, "sums")?;
    let confidence = open_unit("confidence", confidence)?;
    let std_error = var.sqrt();
    Ok(Estimate {
        estimate: r,
        std_error,
        interval: Interval::around(r, z_two_sided(confidence) * std_error),
    })
}

/// Two-sided z-test of `R_B = R_A`; positive when B's ratio is larger. Undefined when both
/// variances are 0.
pub fn z_test(a: &PairSums, b: &PairSums) -> Result<TestResult> {
    let (ra, va) = ratio_and_variance(a, "a")?;
    let (rb, vb) = ratio_and_variance(b, "b")?;
    let se = (va + vb).sqrt();
    if se == 0.0 {
        return Err(undefined("z statistic", "both ratios have variance 0"));
    }
    let z = (rb - ra) / se;
    Ok(TestResult {
        statistic: z,
        p_value: two_sided_normal_p(z),
        df: None,
    })
}

/// `R̂_B − R̂_A` with standard error `√(Var(R̂_A) + Var(R̂_B))` and a normal interval.
pub fn difference_ci(a: &PairSums, b: &PairSums, confidence: f64) -> Result<Estimate> {
    let (ra, va) = ratio_and_variance(a, "a")?;
    let (rb, vb) = ratio_and_variance(b, "b")?;
    let confidence = open_unit("confidence", confidence)?;
    Ok(delta::difference(ra, va, rb, vb, confidence))
}

/// Relative lift `R̂_B/R̂_A − 1` with its delta-method standard error and normal interval.
pub fn lift_ci(a: &PairSums, b: &PairSums, confidence: f64) -> Result<Estimate> {
    let (ra, va) = ratio_and_variance(a, "a")?;
    let (rb, vb) = ratio_and_variance(b, "b")?;
    let confidence = open_unit("confidence", confidence)?;
    delta::relative_lift(ra, va, rb, vb, confidence)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::reference::{assert_close, cases, int, name, num, nums};

    /// A group from the case: per-user arrays when present, else the sums.
    fn sums(c: &serde_json::Value, group: &str) -> PairSums {
        if c.get(format!("{group}_x")).is_some() {
            let x = nums(c, &format!("{group}_x"));
            let y = nums(c, &format!("{group}_y"));
            PairSums::from_columns(&x, &y).unwrap()
        } else {
            PairSums {
                n: int(c, &format!("{group}_n")),
                sum_x: num(c, &format!("{group}_sum_x")),
                sum_y: num(c, &format!("{group}_sum_y")),
                sum_xx: num(c, &format!("{group}_sum_xx")),
                sum_yy: num(c, &format!("{group}_sum_yy")),
                sum_xy: num(c, &format!("{group}_sum_xy")),
            }
        }
    }

    #[test]
    fn ratio_metrics_match_the_numpy_delta_method() {
        for c in cases("ratio", "cases") {
            let (what, conf) = (name(c), num(c, "confidence"));
            let (a, b) = (sums(c, "a"), sums(c, "b"));
            for (g, s) in [("a", &a), ("b", &b)] {
                let e = estimate(s, conf).unwrap();
                assert_close(
                    e.estimate,
                    num(c, &format!("{g}_ratio")),
                    &format!("{what}: {g} ratio"),
                );
                assert_close(
                    e.std_error,
                    num(c, &format!("{g}_se")),
                    &format!("{what}: {g} se"),
                );
            }
            let z = z_test(&a, &b).unwrap();
            assert_close(z.statistic, num(c, "z"), &format!("{what}: z"));
            assert_close(z.p_value, num(c, "p"), &format!("{what}: p"));
            let d = difference_ci(&a, &b, conf).unwrap();
            assert_close(
                d.interval.low,
                num(c, "diff_low"),
                &format!("{what}: diff low"),
            );
            assert_close(
                d.interval.high,
                num(c, "diff_high"),
                &format!("{what}: diff high"),
            );
            let l = lift_ci(&a, &b, conf).unwrap();
            assert_close(l.estimate, num(c, "lift"), &format!("{what}: lift"));
            assert_close(
                l.interval.low,
                num(c, "lift_low"),
                &format!("{what}: lift low"),
            );
            assert_close(
                l.interval.high,
                num(c, "lift_high"),
                &format!("{what}: lift high"),
            );
        }
    }

    #[test]
    fn one_impression_per_user_is_the_binomial_variance() {
        // Every user has y = 1: the ratio is a proportion and Var = p(1−p)/n·n/(n−1).
        let clicks = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0];
        let s = PairSums::from_columns(&clicks, &[1.0; 10]).unwrap();
        let e = estimate(&s, 0.95).unwrap();
        let p = 0.3;
        assert!((e.estimate - p).abs() < 1e-15);
        assert!((e.std_error.powi(2) - p * (1.0 - p) / 9.0).abs() < 1e-15);
    }

    #[test]
    fn rules_name_the_group() {
        let good = PairSums::from_columns(&[1.0, 2.0, 0.0], &[3.0, 4.0, 2.0]).unwrap();
        let empty = PairSums::from_columns(&[0.0, 0.0], &[0.0, 0.0]).unwrap();
        let e = z_test(&good, &empty).unwrap_err();
        assert!(e.to_string().contains("b.sum_y is 0"), "{e}");
        let tiny = PairSums { n: 1, ..good };
        assert!(lift_ci(&tiny, &good, 0.9)
            .unwrap_err()
            .to_string()
            .starts_with("a.n:"));
        assert!(estimate(&good, 1.5)
            .unwrap_err()
            .to_string()
            .starts_with("confidence:"));
    }
}
