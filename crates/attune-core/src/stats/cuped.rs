//! CUPED (Deng, Xu, Kohavi, Walker 2013, "Improving the Sensitivity of Online Controlled
//! Experiments by Utilizing Pre-Experiment Data", WSDM): subtract from each user's metric `y`
//! the part its pre-experiment covariate `x` predicts,
//!
//! `y_cv = y − θ (x − x̄)`,  `θ = cov(x, y) / var(x)`,
//!
//! with `θ` and `x̄` computed once on all variants pooled, so every arm is adjusted by the same
//! line and the difference of adjusted means stays unbiased (the covariate is independent of
//! the assignment). The variance of an adjusted mean is `Var(ȳ)(1 − ρ²)`, `ρ = corr(x, y)`
//! (their eq. (4)): a covariate with ρ = 0.7 halves the users an experiment needs.
//!
//! Feed the adjusted groups ([`Cuped::adjusted_summary`]) to [`super::means`] for the test and
//! intervals. No scipy function does CUPED; the reference is numpy on the same arrays (θ from
//! `np.cov`, adjusted means and variances with `ddof=1`, `scipy.stats.ttest_ind` on the
//! adjusted values).

use super::error::{invalid, undefined, Result};
use super::summary::{PairSums, Summary};

/// A fitted CUPED adjustment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cuped {
    /// `θ = cov(x, y) / var(x)` on the pooled data.
    pub theta: f64,
    /// The pooled covariate mean `x̄` the adjustment centres on.
    pub covariate_mean: f64,
    /// Pooled `ρ = corr(x, y)` (0 when the metric is constant).
    pub correlation: f64,
    /// `1 − ρ²`: the adjusted metric's variance over the raw one's (pooled). Smaller is better.
    pub variance_factor: f64,
}

/// Fit θ on every group's sums pooled (`x` = covariate, `y` = metric). Undefined when the
/// covariate is constant.
pub fn fit(groups: &[PairSums]) -> Result<Cuped> {
    let Some(first) = groups.first() else {
        return Err(invalid("groups.len()", "must be at least 1 (got 0)"));
    };
    let pooled = groups[1..].iter().fold(*first, |acc, g| acc.merge(g));
    for (i, g) in groups.iter().enumerate() {
        // Each group's own sums must be consistent too (named by position).
        if g.n > 1 {
            g.moments(&format!("groups[{i}]"))?;
        }
    }
    let m = pooled.moments("groups (pooled)")?;
    if m.var_x == 0.0 {
        return Err(undefined(
            "CUPED θ",
            "the covariate has the same value for every user (variance 0)",
        ));
    }
    let theta = m.cov_xy / m.var_x;
    let correlation = if m.var_y == 0.0 {
        0.0
    } else {
        (m.cov_xy / (m.var_x * m.var_y).sqrt()).clamp(-1.0, 1.0)
    };
    Ok(Cuped {
        theta,
        covariate_mean: m.mean_x,
        correlation,
        variance_factor: 1.0 - correlation * correlation,
    })
}

/// [`fit`] on per-user columns of all variants together: `covariate[i]`, `metric[i]` are user
/// `i`'s pre-period value and metric.
pub fn fit_samples(covariate: &[f64], metric: &[f64]) -> Result<Cuped> {
    fit(&[PairSums::from_columns_named(
        covariate,
        metric,
        ("covariate", "metric"),
    )?])
}

impl Cuped {
    /// One user's adjusted metric `y − θ (x − x̄)`.
    pub fn adjust(&self, covariate: f64, metric: f64) -> f64 {
        metric - self.theta * (covariate - self.covariate_mean)
    }

    /// Adjust every user of one group into `out` (the caller owns the buffer); all three slices
    /// have the same length.
    pub fn adjust_into(&self, covariate: &[f64], metric: &[f64], out: &mut [f64]) -> Result<()> {
        for (field, len) in [("metric.len()", metric.len()), ("out.len()", out.len())] {
            if len != covariate.len() {
                return Err(invalid(
                    field,
                    format!(
                        "must equal covariate.len() = {} (got {len})",
                        covariate.len()
                    ),
                ));
            }
        }
        for ((o, &x), &y) in out.iter_mut().zip(covariate).zip(metric) {
            *o = self.adjust(x, y);
        }
        Ok(())
    }

    /// The adjusted metric's [`Summary`] of one group, from the group's own sums: mean
    /// `ȳ − θ(x̄_g − x̄)` and variance `s²_y − 2θ s_xy + θ² s²_x` — exactly the sample mean and
    /// variance of the adjusted values.
    pub fn adjusted_summary(&self, group: &PairSums) -> Result<Summary> {
        let m = group.moments("group")?;
        let variance = m.var_y - 2.0 * self.theta * m.cov_xy + self.theta * self.theta * m.var_x;
        Ok(Summary {
            n: group.n,
            mean: m.mean_y - self.theta * (m.mean_x - self.covariate_mean),
            variance: variance.max(0.0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::means;
    use crate::stats::reference::{assert_close, cases, name, num, nums};

    #[test]
    fn matches_numpy_and_scipy_on_the_adjusted_values() {
        for c in cases("cuped", "cases") {
            let what = name(c);
            let (xa, ya, xb, yb) = (
                nums(c, "a_x"),
                nums(c, "a_y"),
                nums(c, "b_x"),
                nums(c, "b_y"),
            );
            let a = PairSums::from_columns(&xa, &ya).unwrap();
            let b = PairSums::from_columns(&xb, &yb).unwrap();
            let cuped = fit(&[a, b]).unwrap();
            assert_close(cuped.theta, num(c, "theta"), &format!("{what}: θ"));
            assert_close(
                cuped.variance_factor,
                num(c, "variance_factor"),
                &format!("{what}: 1 − ρ²"),
            );
            // The sample path pools the same users.
            let all_x: Vec<f64> = xa.iter().chain(&xb).copied().collect();
            let all_y: Vec<f64> = ya.iter().chain(&yb).copied().collect();
            let from_samples = fit_samples(&all_x, &all_y).unwrap();
            assert_close(
                from_samples.theta,
                num(c, "theta"),
                &format!("{what}: θ from samples"),
            );
            let (sa, sb) = (
                cuped.adjusted_summary(&a).unwrap(),
                cuped.adjusted_summary(&b).unwrap(),
            );
            assert_close(
                sa.mean,
                num(c, "a_adjusted_mean"),
                &format!("{what}: a adjusted mean"),
            );
            assert_close(
                sa.variance,
                num(c, "a_adjusted_variance"),
                &format!("{what}: a adjusted var"),
            );
            assert_close(
                sb.mean,
                num(c, "b_adjusted_mean"),
                &format!("{what}: b adjusted mean"),
            );
            assert_close(
                sb.variance,
                num(c, "b_adjusted_variance"),
                &format!("{what}: b adjusted var"),
            );
            let t = means::welch_test(&sa, &sb).unwrap();
            assert_close(t.statistic, num(c, "t"), &format!("{what}: adjusted t"));
            assert_close(t.p_value, num(c, "p"), &format!("{what}: adjusted p"));
            // adjust_into agrees with the summary.
            let mut out = vec![0.0; xa.len()];
            cuped.adjust_into(&xa, &ya, &mut out).unwrap();
            let direct = Summary::from_sample(&out).unwrap();
            assert!((direct.mean - sa.mean).abs() <= 1e-9 * sa.mean.abs().max(1.0));
            assert!((direct.variance - sa.variance).abs() <= 1e-9 * sa.variance.max(1.0));
        }
    }

    #[test]
    fn a_perfect_covariate_removes_all_variance() {
        let x = [1.0, 2.0, 3.0, 4.0, 5.0];
        let y: Vec<f64> = x.iter().map(|v| 10.0 + 3.0 * v).collect();
        let c = fit_samples(&x, &y).unwrap();
        assert!((c.theta - 3.0).abs() < 1e-12 && c.variance_factor.abs() < 1e-12);
        let s = c
            .adjusted_summary(&PairSums::from_columns(&x, &y).unwrap())
            .unwrap();
        assert!(s.variance < 1e-9 && (s.mean - 19.0).abs() < 1e-12);
    }

    #[test]
    fn rules_name_the_argument() {
        let e = fit_samples(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]).unwrap_err();
        assert!(
            e.to_string().contains("covariate has the same value"),
            "{e}"
        );
        let e = fit_samples(&[1.0, 2.0], &[1.0]).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("metric.len(): must equal covariate.len()"),
            "{e}"
        );
        let e = fit_samples(&[1.0, f64::NAN], &[1.0, 2.0]).unwrap_err();
        assert!(e.to_string().starts_with("covariate[1]:"), "{e}");
        assert!(fit(&[]).is_err());
        let c = fit_samples(&[1.0, 2.0, 4.0], &[1.0, 2.0, 3.0]).unwrap();
        let e = c.adjust_into(&[1.0], &[1.0], &mut []).unwrap_err();
        assert!(e.to_string().starts_with("out.len():"), "{e}");
    }
}
