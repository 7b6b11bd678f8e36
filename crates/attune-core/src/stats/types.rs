//! The plain result structs every test and interval returns.

/// A two-sided hypothesis test of "no difference" (B − A = 0, or observed = expected).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TestResult {
    /// The test statistic: z or t for B − A (positive when B is larger), or χ².
    pub statistic: f64,
    /// Two-sided p-value (χ² tests: the upper tail, which is their two-sided form).
    pub p_value: f64,
    /// Degrees of freedom of the reference distribution; `None` for z (normal) tests.
    pub df: Option<f64>,
}

/// A closed interval `[low, high]`; `low <= high` always.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    /// Lower end.
    pub low: f64,
    /// Upper end.
    pub high: f64,
}

impl Interval {
    /// `center ± half_width`.
    pub fn around(center: f64, half_width: f64) -> Self {
        Self {
            low: center - half_width,
            high: center + half_width,
        }
    }

    /// Whether `x` lies in the interval (ends included).
    pub fn contains(&self, x: f64) -> bool {
        self.low <= x && x <= self.high
    }
}

/// A point estimate, its standard error and a two-sided confidence interval.
///
/// For a difference it is B − A; for a relative lift it is B / A − 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// The point estimate.
    pub estimate: f64,
    /// Its (estimated) standard error.
    pub std_error: f64,
    /// The confidence interval at the requested level.
    pub interval: Interval,
}
