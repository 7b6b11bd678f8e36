//! Sufficient statistics of one group: [`Summary`] (n, mean, variance) for a metric averaged
//! per user, and [`PairSums`] for two per-user quantities analysed together (a ratio metric's
//! numerator and denominator, or CUPED's covariate and metric).
//!
//! Both can be built from raw samples here or handed in from a warehouse query
//! (`COUNT(*), SUM(x), SUM(x*x), …`), so a report never needs the per-user rows in memory.

use super::error::{at_least, finite, invalid, non_negative, Result};

/// One group's metric: count, mean and **sample** variance (divisor n − 1, scipy's
/// `ddof=1`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Number of analysis units (users), at least 2.
    pub n: u64,
    /// Mean of the metric.
    pub mean: f64,
    /// Sample variance of the metric (n − 1 divisor), `>= 0`.
    pub variance: f64,
}

impl Summary {
    /// A checked summary.
    pub fn new(n: u64, mean: f64, variance: f64) -> Result<Self> {
        let s = Self { n, mean, variance };
        s.check("summary")?;
        Ok(s)
    }

    /// Mean and sample variance of `values` (two passes, so no cancellation), `len >= 2`.
    pub fn from_sample(values: &[f64]) -> Result<Self> {
        Self::from_sample_named(values, "values")
    }

    /// [`Summary::from_sample`] with errors naming the slice `name` (`a[3]`, `a.len()`).
    pub(crate) fn from_sample_named(values: &[f64], name: &str) -> Result<Self> {
        at_least(format!("{name}.len()"), values.len() as u64, 2)?;
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(invalid(
                format!("{name}[{i}]"),
                format!("must be a finite number (got {})", values[i]),
            ));
        }
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
        Ok(Self {
            n: values.len() as u64,
            mean,
            variance,
        })
    }

    /// Variance of the mean, `s² / n`.
    pub(crate) fn variance_of_mean(&self) -> f64 {
        self.variance / self.n as f64
    }

    /// The rules, with fields named `{name}.n` etc.
    pub(crate) fn check(&self, name: &str) -> Result<()> {
        at_least(format!("{name}.n"), self.n, 2)?;
        finite(format!("{name}.mean"), self.mean)?;
        non_negative(format!("{name}.variance"), self.variance)?;
        Ok(())
    }
}

/// Sums over the users of one group of two per-user quantities `x` and `y`: `n`, `Σx`, `Σy`,
/// `Σx²`, `Σy²`, `Σxy`.
///
/// Which is which is up to the user of the sums: [`super::ratio`] reads `x` as the numerator
/// and `y` as the denominator (Deng et al. 2018 write the ratio X̄/Ȳ), [`super::cuped`] reads
/// `x` as the pre-period covariate and `y` as the metric (Deng et al. 2013).
///
/// Raw sums are what a database returns and they merge by addition, but variances computed
/// from them lose about `log10(1 + mean²/variance)` digits; that is harmless for counts and
/// money per user and is why the sample constructors are not used for anything else.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PairSums {
    /// Number of users, at least 2.
    pub n: u64,
    /// `Σ x`.
    pub sum_x: f64,
    /// `Σ y`.
    pub sum_y: f64,
    /// `Σ x²`.
    pub sum_xx: f64,
    /// `Σ y²`.
    pub sum_yy: f64,
    /// `Σ x·y`.
    pub sum_xy: f64,
}

/// Means and sample (co)variances (n − 1 divisor) derived from [`PairSums`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Moments {
    pub n: f64,
    pub mean_x: f64,
    pub mean_y: f64,
    pub var_x: f64,
    pub var_y: f64,
    pub cov_xy: f64,
}

impl PairSums {
    /// The sums of `(x, y)` pairs (one per user).
    pub fn from_pairs(pairs: &[(f64, f64)]) -> Result<Self> {
        let mut s = Self::default();
        for (i, &(x, y)) in pairs.iter().enumerate() {
            finite(format!("pairs[{i}].0"), x)?;
            finite(format!("pairs[{i}].1"), y)?;
            s.add(x, y);
        }
        Ok(s)
    }

    /// The sums of two equally long columns, `x[i]` and `y[i]` belonging to user `i`.
    pub fn from_columns(x: &[f64], y: &[f64]) -> Result<Self> {
        Self::from_columns_named(x, y, ("x", "y"))
    }

    /// [`PairSums::from_columns`] with errors naming the columns `names.0` and `names.1`.
    pub(crate) fn from_columns_named(x: &[f64], y: &[f64], names: (&str, &str)) -> Result<Self> {
        let (x_name, y_name) = names;
        if x.len() != y.len() {
            return Err(invalid(
                format!("{y_name}.len()"),
                format!("must equal {x_name}.len() = {} (got {})", x.len(), y.len()),
            ));
        }
        let mut s = Self::default();
        for (i, (&xi, &yi)) in x.iter().zip(y).enumerate() {
            finite(format!("{x_name}[{i}]"), xi)?;
            finite(format!("{y_name}[{i}]"), yi)?;
            s.add(xi, yi);
        }
        Ok(s)
    }

    fn add(&mut self, x: f64, y: f64) {
        self.n += 1;
        self.sum_x += x;
        self.sum_y += y;
        self.sum_xx += x * x;
        self.sum_yy += y * y;
        self.sum_xy += x * y;
    }

    /// The sums of both groups together (e.g. treatment and control pooled for CUPED's θ).
    pub fn merge(&self, other: &Self) -> Self {
        Self {
            n: self.n + other.n,
            sum_x: self.sum_x + other.sum_x,
            sum_y: self.sum_y + other.sum_y,
            sum_xx: self.sum_xx + other.sum_xx,
            sum_yy: self.sum_yy + other.sum_yy,
            sum_xy: self.sum_xy + other.sum_xy,
        }
    }

    /// Check the sums (fields named `{name}.sum_x` etc.) and derive the moments.
    ///
    /// Rounding can leave a variance computed from sums a hair below zero; that is read as 0.
    /// Anything clearly negative, or a covariance beyond Cauchy–Schwarz, means the sums do not
    /// come from one set of users, and is refused.
    pub(crate) fn moments(&self, name: &str) -> Result<Moments> {
        at_least(format!("{name}.n"), self.n, 2)?;
        for (field, v) in [
            ("sum_x", self.sum_x),
            ("sum_y", self.sum_y),
            ("sum_xy", self.sum_xy),
        ] {
            finite(format!("{name}.{field}"), v)?;
        }
        non_negative(format!("{name}.sum_xx"), self.sum_xx)?;
        non_negative(format!("{name}.sum_yy"), self.sum_yy)?;
        let n = self.n as f64;
        let (mean_x, mean_y) = (self.sum_x / n, self.sum_y / n);
        let centered = |sum_sq: f64, sum: f64, field: &str| -> Result<f64> {
            let c = sum_sq - sum * sum / n;
            if c < -1e-9 * sum_sq {
                return Err(invalid(
                    format!("{name}.{field}"),
                    format!(
                        "must be at least (Σ)²/n = {} for the sums of one sample (got {sum_sq})",
                        sum * sum / n
                    ),
                ));
            }
            Ok(c.max(0.0) / (n - 1.0))
        };
        let var_x = centered(self.sum_xx, self.sum_x, "sum_xx")?;
        let var_y = centered(self.sum_yy, self.sum_y, "sum_yy")?;
        let cov_xy = (self.sum_xy - self.sum_x * self.sum_y / n) / (n - 1.0);
        let bound = (var_x * var_y).sqrt();
        if cov_xy.abs() > bound * (1.0 + 1e-9) + 1e-12 * (self.sum_xx + self.sum_yy) {
            return Err(invalid(
                format!("{name}.sum_xy"),
                format!(
                    "gives a covariance {cov_xy} beyond Cauchy–Schwarz (|cov| <= {bound}): not the sums of one sample"
                ),
            ));
        }
        Ok(Moments {
            n,
            mean_x,
            mean_y,
            var_x,
            var_y,
            cov_xy: cov_xy.clamp(-bound, bound),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_from_sample_is_mean_and_unbiased_variance() {
        let s = Summary::from_sample(&[1.0, 2.0, 3.0, 6.0]).unwrap();
        assert_eq!(s.n, 4);
        assert_eq!(s.mean, 3.0);
        assert!((s.variance - 14.0 / 3.0).abs() < 1e-15);
        assert!((s.variance_of_mean() - 14.0 / 12.0).abs() < 1e-15);
    }

    #[test]
    fn summary_rules_name_the_field() {
        let e = Summary::from_sample(&[1.0]).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("values.len(): must be at least 2"),
            "{e}"
        );
        let e = Summary::from_sample(&[1.0, f64::NAN]).unwrap_err();
        assert!(e.to_string().starts_with("values[1]:"), "{e}");
        let e = Summary::new(10, 1.0, -0.5).unwrap_err();
        assert!(e
            .to_string()
            .starts_with("summary.variance: must be a finite number >= 0"));
        assert!(Summary::new(1, 1.0, 0.5).is_err());
    }

    #[test]
    fn pair_sums_give_sample_moments_and_merge_by_addition() {
        let a = PairSums::from_pairs(&[(1.0, 2.0), (2.0, 2.0), (3.0, 5.0)]).unwrap();
        let m = a.moments("a").unwrap();
        assert_eq!((m.mean_x, m.mean_y), (2.0, 3.0));
        assert!((m.var_x - 1.0).abs() < 1e-15 && (m.var_y - 3.0).abs() < 1e-15);
        assert!((m.cov_xy - 1.5).abs() < 1e-15);
        let b = PairSums::from_columns(&[4.0], &[1.0]).unwrap();
        let all = PairSums::from_columns(&[1.0, 2.0, 3.0, 4.0], &[2.0, 2.0, 5.0, 1.0]).unwrap();
        assert_eq!(a.merge(&b), all);
    }

    #[test]
    fn inconsistent_sums_are_refused() {
        let mut s = PairSums::from_pairs(&[(1.0, 2.0), (2.0, 2.0), (3.0, 5.0)]).unwrap();
        s.sum_xx = 5.0; // < (Σx)²/n = 12
        let e = s.moments("a").unwrap_err();
        assert!(
            e.to_string().starts_with("a.sum_xx: must be at least"),
            "{e}"
        );
        let mut s = PairSums::from_pairs(&[(1.0, 2.0), (2.0, 2.0), (3.0, 5.0)]).unwrap();
        s.sum_xy = 100.0;
        assert!(s
            .moments("b")
            .unwrap_err()
            .to_string()
            .starts_with("b.sum_xy:"));
        assert!(PairSums::from_columns(&[1.0], &[1.0, 2.0]).is_err());
        assert!(PairSums::from_columns(&[1.0], &[2.0])
            .unwrap()
            .moments("c")
            .is_err());
    }
}
