//! The statistics of a comparison, from per-variant sufficient statistics: whatever produced
//! them (an experiment's phase in the store, or a file of aggregates from elsewhere), the
//! numbers and the decision come from this one function, so `attune experiment analyze FILE`
//! can be checked against a reference and trusted for reports alike.
//!
//! Per variant against the control, on one metric: the difference and the relative lift with
//! confidence intervals, the fixed-horizon p-value (Holm-adjusted across variants), an
//! always-valid p-value and interval safe under peeking (mSPRT with τ² = the squared minimum
//! detectable effect), for proportions the Bayesian probability to beat the control and the
//! expected loss, the power reached for the minimum detectable effect and the users per
//! variant it needs; and over all variants the sample-ratio check. All formulas are
//! `attune_core::stats` (docs/experiments.md).

use attune_core::stats::power::PowerDesign;
use attune_core::stats::{
    bayes, means, multiple, power, proportions, ratio, sequential, srm, Counts, Estimate, Interval,
    PairSums, Summary,
};

use crate::error::{ExperimentError, Result};

/// One variant's data for one metric.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MetricData {
    /// Users (trials) and users who converted (successes).
    Proportion(Counts),
    /// A per-user mean: n, mean, sample variance.
    Mean(Summary),
    /// A ratio of per-user sums (x / y: clicks / impressions).
    Ratio(PairSums),
}

impl MetricData {
    /// The metric's value (rate, mean or ratio).
    pub fn value(&self) -> f64 {
        match self {
            MetricData::Proportion(c) => c.rate(),
            MetricData::Mean(s) => s.mean,
            MetricData::Ratio(p) => {
                if p.sum_y > 0.0 {
                    p.sum_x / p.sum_y
                } else {
                    f64::NAN
                }
            }
        }
    }

    /// Analysis units (users).
    pub fn units(&self) -> u64 {
        match self {
            MetricData::Proportion(c) => c.trials,
            MetricData::Mean(s) => s.n,
            MetricData::Ratio(p) => p.n,
        }
    }

    /// The per-unit standard deviation of the metric (for power).
    fn unit_sd(&self) -> Option<f64> {
        match self {
            MetricData::Proportion(c) => Some((c.rate() * (1.0 - c.rate())).sqrt()),
            MetricData::Mean(s) => Some(s.variance.sqrt()),
            MetricData::Ratio(p) => {
                let e = ratio::estimate(p, 0.95).ok()?;
                Some(e.std_error * (p.n as f64).sqrt())
            }
        }
    }
}

/// Levels and the planned effect.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AnalysisParams {
    /// Confidence of the intervals.
    pub confidence: f64,
    /// Significance level of the tests (after Holm's correction).
    pub alpha: f64,
    /// The smallest relative lift worth detecting (power and the sequential test's τ²).
    pub mde_relative: f64,
    /// The power a planned size aims at.
    pub target_power: f64,
}

impl Default for AnalysisParams {
    fn default() -> Self {
        Self {
            confidence: 0.95,
            alpha: 0.05,
            mde_relative: 0.05,
            target_power: 0.8,
        }
    }
}

/// One variant against the control.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// The variant.
    pub variant: String,
    /// The control's value of the metric.
    pub control_value: f64,
    /// The variant's value.
    pub value: f64,
    /// B − A with its interval.
    pub difference: Estimate,
    /// B / A − 1 with its interval.
    pub lift: Estimate,
    /// The fixed-horizon two-sided p-value.
    pub p_value: f64,
    /// After Holm's correction across the variants.
    pub p_adjusted: f64,
    /// The always-valid p-value (safe to look at any time).
    pub sequential_p: f64,
    /// The always-valid interval of the difference.
    pub sequential_interval: Interval,
    /// Proportions: posterior probability that the variant beats the control.
    pub prob_beats_control: Option<f64>,
    /// Proportions: expected loss of shipping the variant.
    pub expected_loss: Option<f64>,
    /// Power reached for the minimum detectable effect at the current size.
    pub power: Option<f64>,
    /// Users per variant the minimum detectable effect needs at the target power.
    pub users_needed: Option<f64>,
    /// Significant after correction.
    pub significant: bool,
}

/// The sample-ratio check.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Srm {
    /// χ².
    pub chi2: f64,
    /// Its p-value.
    pub p_value: f64,
    /// `p < 0.001`: the split is broken; nothing else can be trusted.
    pub mismatch: bool,
}

/// Every variant against the control on one metric. `data[control]` is the control.
pub fn compare(
    data: &[(String, MetricData)],
    control: usize,
    params: &AnalysisParams,
) -> Result<Vec<Comparison>> {
    if data.len() < 2 || control >= data.len() {
        return Err(ExperimentError::invalid(
            "variants",
            "need a control and at least one variant",
        ));
    }
    let stat = |e: attune_core::stats::StatsError| ExperimentError::invalid("data", e.to_string());
    let (a_name, a) = &data[control];
    let _ = a_name;
    let mut out = Vec::new();
    for (i, (name, b)) in data.iter().enumerate() {
        if i == control {
            continue;
        }
        let (difference, lift, p_value) = match (a, b) {
            (MetricData::Proportion(x), MetricData::Proportion(y)) => (
                proportions::difference_ci(*x, *y, params.confidence).map_err(stat)?,
                proportions::lift_ci(*x, *y, params.confidence).map_err(stat)?,
                proportions::z_test(*x, *y).map_err(stat)?.p_value,
            ),
            (MetricData::Mean(x), MetricData::Mean(y)) => (
                means::difference_ci(x, y, params.confidence).map_err(stat)?,
                means::lift_ci(x, y, params.confidence).map_err(stat)?,
                means::welch_test(x, y).map_err(stat)?.p_value,
            ),
            (MetricData::Ratio(x), MetricData::Ratio(y)) => (
                ratio::difference_ci(x, y, params.confidence).map_err(stat)?,
                ratio::lift_ci(x, y, params.confidence).map_err(stat)?,
                ratio::z_test(x, y).map_err(stat)?.p_value,
            ),
            _ => {
                return Err(ExperimentError::invalid(
                    "data",
                    "variants measure different kinds of metric",
                ))
            }
        };
        // mSPRT at this look, τ = the minimum detectable effect on the metric's scale.
        let tau = params.mde_relative * a.value().abs();
        let (sequential_p, sequential_interval) = if tau > 0.0 && difference.std_error > 0.0 {
            let mut m = sequential::Msprt::new(tau * tau, params.alpha).map_err(stat)?;
            let look = m
                .observe(
                    difference.estimate,
                    difference.std_error * difference.std_error,
                )
                .map_err(stat)?;
            (look.p_value, look.interval)
        } else {
            (
                1.0,
                Interval {
                    low: f64::NEG_INFINITY,
                    high: f64::INFINITY,
                },
            )
        };
        let (prob_beats_control, expected_loss) = match (a, b) {
            (MetricData::Proportion(x), MetricData::Proportion(y)) => {
                match bayes::compare(*x, *y, &bayes::BetaPrior::default()) {
                    Ok(c) => (Some(c.prob_b_beats_a), Some(c.expected_loss_b)),
                    Err(_) => (None, None),
                }
            }
            _ => (None, None),
        };
        let design = PowerDesign {
            alpha: params.alpha,
            ratio: (b.units() as f64 / a.units().max(1) as f64).max(1e-9),
        };
        let (power, users_needed) = power_for(a, params, &design);
        out.push(Comparison {
            variant: name.clone(),
            control_value: a.value(),
            value: b.value(),
            difference,
            lift,
            p_value,
            p_adjusted: p_value,
            sequential_p,
            sequential_interval,
            prob_beats_control,
            expected_loss,
            power,
            users_needed,
            significant: false,
        });
    }
    let adjusted =
        multiple::holm(&out.iter().map(|c| c.p_value).collect::<Vec<_>>()).map_err(stat)?;
    for (c, p) in out.iter_mut().zip(adjusted) {
        c.p_adjusted = p;
        c.significant = p < params.alpha;
    }
    Ok(out)
}

/// Power reached for the minimum detectable effect, and the users per variant it needs.
fn power_for(
    a: &MetricData,
    params: &AnalysisParams,
    design: &PowerDesign,
) -> (Option<f64>, Option<f64>) {
    let n = a.units() as f64;
    match a {
        MetricData::Proportion(c) => {
            let p_a = c.rate();
            let p_b = (p_a * (1.0 + params.mde_relative)).min(1.0);
            (
                power::proportions_power(p_a, p_b, n, design).ok(),
                power::proportions_sample_size(p_a, p_b, params.target_power, design).ok(),
            )
        }
        _ => {
            let Some(sd) = a.unit_sd().filter(|s| *s > 0.0) else {
                return (None, None);
            };
            let delta = params.mde_relative * a.value().abs();
            (
                power::means_power(delta, sd, n, design).ok(),
                power::means_sample_size(delta, sd, params.target_power, design).ok(),
            )
        }
    }
}

/// The sample-ratio check of `users` per variant against the planned `shares`.
pub fn sample_ratio(users: &[u64], shares: &[f64]) -> Result<Srm> {
    let r =
        srm::check(users, shares).map_err(|e| ExperimentError::invalid("shares", e.to_string()))?;
    Ok(Srm {
        chi2: r.test.statistic,
        p_value: r.test.p_value,
        mismatch: r.mismatch,
    })
}

fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

/// The decision in words for one comparison.
pub fn decision(
    metric: &str,
    control: &str,
    c: &Comparison,
    srm: Option<&Srm>,
    params: &AnalysisParams,
) -> String {
    if let Some(s) = srm.filter(|s| s.mismatch) {
        return format!(
            "sample ratio mismatch (p = {:.2e}): the split is broken; do not trust these numbers",
            s.p_value
        );
    }
    let lift = |e: &Estimate| {
        format!(
            "{} [{}, {}]",
            pct(e.estimate),
            pct(e.interval.low),
            pct(e.interval.high)
        )
    };
    if c.significant && c.lift.estimate > 0.0 {
        return format!(
            "{} raises {metric} by {}, p = {:.3}; ship {}",
            c.variant,
            lift(&c.lift),
            c.p_adjusted,
            c.variant
        );
    }
    if c.significant {
        return format!(
            "{} lowers {metric} by {}, p = {:.3}; keep {control}",
            c.variant,
            lift(&c.lift),
            c.p_adjusted
        );
    }
    let mut s = format!(
        "no significant difference in {metric} between {} and {control} yet (lift {}, p = {:.3})",
        c.variant,
        lift(&c.lift),
        c.p_adjusted
    );
    if let (Some(p), Some(n)) = (c.power, c.users_needed) {
        s.push_str(&format!(
            "; {} power to detect a {} lift now, about {:.0} users per variant needed for {}",
            pct(p),
            pct(params.mde_relative),
            n.ceil(),
            pct(params.target_power)
        ));
    }
    s
}
