//! Conversion rates: the two-proportion z-test, the χ² test of a 2×k table, and intervals for
//! the absolute difference and the relative lift.
//!
//! | function | formula | matches |
//! |---|---|---|
//! | [`z_test`] | `z = (p̂_B − p̂_A) / √(p̂(1−p̂)(1/n_A + 1/n_B))`, pooled `p̂ = (x_A+x_B)/(n_A+n_B)` | statsmodels `proportions_ztest([x_B, x_A], [n_B, n_A])` |
//! | [`difference_ci`] | `p̂_B − p̂_A ± z·√(p̂_A(1−p̂_A)/n_A + p̂_B(1−p̂_B)/n_B)` (unpooled Wald) | statsmodels `confint_proportions_2indep(…, method="wald", compare="diff")` |
//! | [`lift_ci`] | `p̂_B/p̂_A − 1`, delta method with `Var(p̂) = p̂(1−p̂)/n` (see `delta.rs`) | the same formula in numpy |
//! | [`chi_square_test`] | Pearson's `Σ (O−E)²/E` on the 2×k table successes/failures × groups | `scipy.stats.chi2_contingency(table, correction=…)` |
//!
//! The test pools because under its null hypothesis both groups share one rate; the interval
//! does not, because it describes rates that may differ. For k = 2 without correction the χ²
//! statistic is exactly `z²`.

use super::delta;
use super::dist::{chi2_upper, two_sided_normal_p};
use super::error::{at_least, invalid, open_unit, undefined, Result};
use super::types::{Estimate, TestResult};

/// Successes out of trials for one group (conversions out of users).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Units that converted; at most `trials`.
    pub successes: u64,
    /// Units exposed, at least 1.
    pub trials: u64,
}

impl Counts {
    /// Checked counts.
    pub fn new(successes: u64, trials: u64) -> Result<Self> {
        let c = Self { successes, trials };
        c.check("counts")?;
        Ok(c)
    }

    /// `successes / trials`.
    pub fn rate(&self) -> f64 {
        self.successes as f64 / self.trials as f64
    }

    /// The rules (fields named `{name}.trials`, `{name}.successes`); returns the rate.
    pub(crate) fn check(&self, name: &str) -> Result<f64> {
        at_least(format!("{name}.trials"), self.trials, 1)?;
        self.check_successes(name)?;
        Ok(self.rate())
    }

    /// Only `successes <= trials` (zero trials allowed, e.g. a Bayesian posterior = prior).
    pub(crate) fn check_successes(&self, name: &str) -> Result<()> {
        if self.successes > self.trials {
            return Err(invalid(
                format!("{name}.successes"),
                format!(
                    "must be at most {name}.trials = {} (got {})",
                    self.trials, self.successes
                ),
            ));
        }
        Ok(())
    }

    /// Variance of the estimated rate, `p̂(1 − p̂)/n`.
    pub(crate) fn variance_of_rate(&self) -> f64 {
        let p = self.rate();
        p * (1.0 - p) / self.trials as f64
    }
}

/// Two-sided pooled two-proportion z-test of `p_B = p_A`; the statistic is positive when B
/// converts better.
pub fn z_test(a: Counts, b: Counts) -> Result<TestResult> {
    let (p_a, p_b) = (a.check("a")?, b.check("b")?);
    let (n_a, n_b) = (a.trials as f64, b.trials as f64);
    let pooled = (a.successes + b.successes) as f64 / (n_a + n_b);
    let se = (pooled * (1.0 - pooled) * (1.0 / n_a + 1.0 / n_b)).sqrt();
    if se == 0.0 {
        return Err(undefined(
            "z statistic",
            format!("the pooled rate is {pooled}, so the standard error is 0"),
        ));
    }
    let z = (p_b - p_a) / se;
    Ok(TestResult {
        statistic: z,
        p_value: two_sided_normal_p(z),
        df: None,
    })
}

/// `p̂_B − p̂_A` with the unpooled (Wald) standard error and a normal interval at
/// `confidence` (e.g. 0.95). Both rates at 0 (or 1) give a zero-width interval.
pub fn difference_ci(a: Counts, b: Counts, confidence: f64) -> Result<Estimate> {
    let (p_a, p_b) = (a.check("a")?, b.check("b")?);
    let confidence = open_unit("confidence", confidence)?;
    Ok(delta::difference(
        p_a,
        a.variance_of_rate(),
        p_b,
        b.variance_of_rate(),
        confidence,
    ))
}

/// Relative lift `p̂_B/p̂_A − 1` with its delta-method standard error and normal interval.
/// Undefined when A has no successes.
pub fn lift_ci(a: Counts, b: Counts, confidence: f64) -> Result<Estimate> {
    let (p_a, p_b) = (a.check("a")?, b.check("b")?);
    let confidence = open_unit("confidence", confidence)?;
    delta::relative_lift(
        p_a,
        a.variance_of_rate(),
        p_b,
        b.variance_of_rate(),
        confidence,
    )
}

/// Whether the χ² test of a 2×2 table applies Yates' continuity correction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Continuity {
    /// Plain Pearson χ² (`correction=False`).
    #[default]
    None,
    /// Move each observed count 0.5 towards its expected count (but not past it) before
    /// squaring, as scipy's `correction=True`. Like scipy, applied only when the table has one
    /// degree of freedom (two groups); for more groups it changes nothing.
    Yates,
}

/// Pearson's χ² test of independence on the 2×k table whose column `j` is group `j`'s
/// successes and failures: do the groups convert at the same rate? `df = k − 1`.
///
/// Needs at least two groups; undefined when a whole row is empty (no successes at all, or no
/// failures at all), where scipy raises too.
pub fn chi_square_test(groups: &[Counts], continuity: Continuity) -> Result<TestResult> {
    at_least("groups.len()", groups.len() as u64, 2)?;
    for (j, g) in groups.iter().enumerate() {
        g.check(&format!("groups[{j}]"))?;
    }
    let total: f64 = groups.iter().map(|g| g.trials as f64).sum();
    let successes: f64 = groups.iter().map(|g| g.successes as f64).sum();
    let failures = total - successes;
    if successes == 0.0 || failures == 0.0 {
        return Err(undefined(
            "χ² statistic",
            "a row of the table is all zero (no successes or no failures in any group), so an expected count is 0",
        ));
    }
    let df = (groups.len() - 1) as f64;
    let yates = continuity == Continuity::Yates && groups.len() == 2;
    let mut statistic = 0.0;
    for g in groups {
        let n = g.trials as f64;
        for (observed, row_total) in [
            (g.successes as f64, successes),
            ((g.trials - g.successes) as f64, failures),
        ] {
            let expected = row_total * n / total;
            let mut diff = (observed - expected).abs();
            if yates {
                diff -= diff.min(0.5);
            }
            statistic += diff * diff / expected;
        }
    }
    Ok(TestResult {
        statistic,
        p_value: chi2_upper(statistic, df),
        df: Some(df),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::reference::{assert_close, cases, int, ints, name, num};

    fn counts(c: &serde_json::Value, group: &str) -> Counts {
        Counts {
            successes: int(c, &format!("{group}_successes")),
            trials: int(c, &format!("{group}_trials")),
        }
    }

    #[test]
    fn two_groups_match_statsmodels() {
        for c in cases("proportions", "two_groups") {
            let (a, b, conf, what) = (
                counts(c, "a"),
                counts(c, "b"),
                num(c, "confidence"),
                name(c),
            );
            let z = z_test(a, b).unwrap();
            assert_close(z.statistic, num(c, "z"), &format!("{what}: z"));
            assert_close(z.p_value, num(c, "z_p"), &format!("{what}: z p"));
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
    }

    #[test]
    fn contingency_tables_match_scipy() {
        for c in cases("proportions", "chi_square") {
            let what = name(c);
            let groups: Vec<Counts> = ints(c, "successes")
                .into_iter()
                .zip(ints(c, "trials"))
                .map(|(successes, trials)| Counts { successes, trials })
                .collect();
            for (continuity, key) in [(Continuity::None, "plain"), (Continuity::Yates, "yates")] {
                let r = chi_square_test(&groups, continuity).unwrap();
                assert_close(
                    r.statistic,
                    num(c, &format!("{key}_chi2")),
                    &format!("{what}: {key} χ²"),
                );
                assert_close(
                    r.p_value,
                    num(c, &format!("{key}_p")),
                    &format!("{what}: {key} p"),
                );
                assert_eq!(r.df, Some(num(c, "df")));
            }
        }
    }

    #[test]
    fn chi_square_of_two_groups_is_z_squared() {
        let (a, b) = (
            Counts::new(120, 5000).unwrap(),
            Counts::new(151, 4800).unwrap(),
        );
        let z = z_test(a, b).unwrap();
        let chi = chi_square_test(&[a, b], Continuity::None).unwrap();
        assert!((chi.statistic - z.statistic.powi(2)).abs() < 1e-10);
        // Two routes (χ² upper tail, normal erfc), each ≤ 1e-10 relative.
        assert!((chi.p_value / z.p_value - 1.0).abs() < 1e-9);
    }

    #[test]
    fn rules_name_the_group() {
        let ok = Counts {
            successes: 1,
            trials: 10,
        };
        let e = z_test(
            ok,
            Counts {
                successes: 11,
                trials: 10,
            },
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "b.successes: must be at most b.trials = 10 (got 11)"
        );
        let e = z_test(
            Counts {
                successes: 0,
                trials: 0,
            },
            ok,
        )
        .unwrap_err();
        assert!(
            e.to_string().starts_with("a.trials: must be at least 1"),
            "{e}"
        );
        assert!(difference_ci(ok, ok, 1.0)
            .unwrap_err()
            .to_string()
            .starts_with("confidence:"));
        let e = chi_square_test(&[ok], Continuity::None).unwrap_err();
        assert!(e.to_string().starts_with("groups.len():"), "{e}");
        let e = chi_square_test(
            &[
                ok,
                Counts {
                    successes: 3,
                    trials: 2,
                },
            ],
            Continuity::Yates,
        );
        assert!(e
            .unwrap_err()
            .to_string()
            .starts_with("groups[1].successes:"));
    }

    #[test]
    fn degenerate_tables_are_undefined_not_nan() {
        let none = Counts {
            successes: 0,
            trials: 100,
        };
        assert!(matches!(
            z_test(none, none),
            Err(crate::stats::StatsError::Undefined { .. })
        ));
        assert!(chi_square_test(&[none, none], Continuity::None).is_err());
        assert!(lift_ci(
            none,
            Counts {
                successes: 3,
                trials: 100
            },
            0.95
        )
        .is_err());
        let d = difference_ci(none, none, 0.95).unwrap();
        assert_eq!((d.interval.low, d.interval.high), (0.0, 0.0));
    }
}
