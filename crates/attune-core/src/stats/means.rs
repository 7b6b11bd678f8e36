//! Means of a per-user metric (revenue, sessions, time spent): Welch's t-test and intervals
//! for the difference and the relative lift.
//!
//! | function | formula | matches |
//! |---|---|---|
//! | [`welch_test`] | `t = (x̄_B − x̄_A) / √(s²_A/n_A + s²_B/n_B)` on [`welch_df`] degrees of freedom | `scipy.stats.ttest_ind_from_stats(…, equal_var=False)` |
//! | [`welch_test_samples`] | the same from raw values | `scipy.stats.ttest_ind(b, a, equal_var=False)` |
//! | [`welch_df`] | Welch–Satterthwaite: `ν = (v_A + v_B)² / (v_A²/(n_A−1) + v_B²/(n_B−1))`, `v = s²/n` | scipy's `df` of the same test |
//! | [`difference_ci`] | `x̄_B − x̄_A ± t_{ν, 1−α/2}·√(v_A + v_B)` | `ttest_ind(b, a, equal_var=False).confidence_interval()` |
//! | [`lift_ci`] | `x̄_B/x̄_A − 1`, delta method with `Var(x̄) = s²/n`, normal quantile (see `delta.rs`) | the same formula in numpy |
//!
//! Welch rather than Student: experiment arms rarely have equal variances (a treatment that
//! changes behaviour changes its spread too), and Welch costs nothing when they do.

use super::delta;
use super::dist::{student_ppf, two_sided_t_p};
use super::error::{open_unit, undefined, Result};
use super::summary::Summary;
use super::types::{Estimate, Interval, TestResult};

/// The Welch–Satterthwaite degrees of freedom of `x̄_B − x̄_A`. Undefined when both variances
/// are 0.
pub fn welch_df(a: &Summary, b: &Summary) -> Result<f64> {
    a.check("a")?;
    b.check("b")?;
    df_unchecked(a, b)
}

fn df_unchecked(a: &Summary, b: &Summary) -> Result<f64> {
    let (va, vb) = (a.variance_of_mean(), b.variance_of_mean());
    let denominator = va * va / (a.n - 1) as f64 + vb * vb / (b.n - 1) as f64;
    if denominator == 0.0 {
        return Err(undefined(
            "Welch degrees of freedom",
            "both groups have variance 0",
        ));
    }
    Ok((va + vb).powi(2) / denominator)
}

/// Welch's two-sided t-test of `mean_B = mean_A` from summary statistics; the statistic is
/// positive when B's mean is larger, `df` is [`welch_df`].
pub fn welch_test(a: &Summary, b: &Summary) -> Result<TestResult> {
    a.check("a")?;
    b.check("b")?;
    let se = (a.variance_of_mean() + b.variance_of_mean()).sqrt();
    if se == 0.0 {
        return Err(undefined("t statistic", "both groups have variance 0"));
    }
    let df = df_unchecked(a, b)?;
    let t = (b.mean - a.mean) / se;
    Ok(TestResult {
        statistic: t,
        p_value: two_sided_t_p(t, df),
        df: Some(df),
    })
}

/// [`welch_test`] on raw per-user values (each group at least 2 values).
pub fn welch_test_samples(a: &[f64], b: &[f64]) -> Result<TestResult> {
    welch_test(
        &Summary::from_sample_named(a, "a")?,
        &Summary::from_sample_named(b, "b")?,
    )
}

/// `x̄_B − x̄_A` with its standard error and the Welch t interval at `confidence`.
pub fn difference_ci(a: &Summary, b: &Summary, confidence: f64) -> Result<Estimate> {
    a.check("a")?;
    b.check("b")?;
    let confidence = open_unit("confidence", confidence)?;
    let std_error = (a.variance_of_mean() + b.variance_of_mean()).sqrt();
    let estimate = b.mean - a.mean;
    let half_width = if std_error == 0.0 {
        0.0
    } else {
        student_ppf(0.5 + 0.5 * confidence, df_unchecked(a, b)?) * std_error
    };
    Ok(Estimate {
        estimate,
        std_error,
        interval: Interval::around(estimate, half_width),
    })
}

/// Relative lift `x̄_B/x̄_A − 1` with its delta-method standard error and normal interval.
/// Undefined when A's mean is 0.
pub fn lift_ci(a: &Summary, b: &Summary, confidence: f64) -> Result<Estimate> {
    a.check("a")?;
    b.check("b")?;
    let confidence = open_unit("confidence", confidence)?;
    delta::relative_lift(
        a.mean,
        a.variance_of_mean(),
        b.mean,
        b.variance_of_mean(),
        confidence,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::reference::{assert_close, cases, int, name, num, nums};

    fn summary(c: &serde_json::Value, group: &str) -> Summary {
        Summary {
            n: int(c, &format!("{group}_n")),
            mean: num(c, &format!("{group}_mean")),
            variance: num(c, &format!("{group}_variance")),
        }
    }

    fn check_all(what: &str, c: &serde_json::Value, a: &Summary, b: &Summary) {
        let conf = num(c, "confidence");
        let t = welch_test(a, b).unwrap();
        assert_close(t.statistic, num(c, "t"), &format!("{what}: t"));
        assert_close(t.p_value, num(c, "p"), &format!("{what}: p"));
        assert_close(t.df.unwrap(), num(c, "df"), &format!("{what}: df"));
        assert_close(
            welch_df(a, b).unwrap(),
            num(c, "df"),
            &format!("{what}: welch_df"),
        );
        let d = difference_ci(a, b, conf).unwrap();
        assert_close(d.estimate, num(c, "diff"), &format!("{what}: diff"));
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
        let l = lift_ci(a, b, conf).unwrap();
        assert_close(l.estimate, num(c, "lift"), &format!("{what}: lift"));
        assert_close(l.std_error, num(c, "lift_se"), &format!("{what}: lift se"));
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

    #[test]
    fn summaries_match_scipy() {
        for c in cases("means", "summaries") {
            check_all(&name(c), c, &summary(c, "a"), &summary(c, "b"));
        }
    }

    #[test]
    fn samples_match_scipy() {
        for c in cases("means", "samples") {
            let what = name(c);
            let (xa, xb) = (nums(c, "a"), nums(c, "b"));
            let t = welch_test_samples(&xa, &xb).unwrap();
            assert_close(t.statistic, num(c, "t"), &format!("{what}: t from samples"));
            assert_close(t.p_value, num(c, "p"), &format!("{what}: p from samples"));
            let (a, b) = (
                Summary::from_sample(&xa).unwrap(),
                Summary::from_sample(&xb).unwrap(),
            );
            assert_close(
                a.variance,
                num(c, "a_variance"),
                &format!("{what}: a variance"),
            );
            check_all(&what, c, &a, &b);
        }
    }

    #[test]
    fn rules_name_the_group() {
        let e = welch_test_samples(&[1.0, 2.0], &[3.0]).unwrap_err();
        assert!(
            e.to_string().starts_with("b.len(): must be at least 2"),
            "{e}"
        );
        let e = welch_test_samples(&[1.0, f64::INFINITY], &[3.0, 4.0]).unwrap_err();
        assert!(e.to_string().starts_with("a[1]:"), "{e}");
        let ok = Summary {
            n: 10,
            mean: 1.0,
            variance: 1.0,
        };
        let bad = Summary {
            n: 10,
            mean: 1.0,
            variance: -1.0,
        };
        assert!(welch_test(&ok, &bad)
            .unwrap_err()
            .to_string()
            .starts_with("b.variance:"));
        assert!(lift_ci(&ok, &ok, 0.0)
            .unwrap_err()
            .to_string()
            .starts_with("confidence:"));
    }

    #[test]
    fn zero_variances_are_undefined_for_the_test_only() {
        let a = Summary {
            n: 5,
            mean: 1.0,
            variance: 0.0,
        };
        let b = Summary {
            n: 5,
            mean: 2.0,
            variance: 0.0,
        };
        assert!(welch_test(&a, &b).is_err());
        assert!(welch_df(&a, &b).is_err());
        let d = difference_ci(&a, &b, 0.95).unwrap();
        assert_eq!((d.interval.low, d.interval.high), (1.0, 1.0));
        // One zero variance: ν = n − 1 of the other group.
        let c = Summary {
            n: 5,
            mean: 2.0,
            variance: 3.0,
        };
        assert!((welch_df(&a, &c).unwrap() - 4.0).abs() < 1e-12);
    }
}
