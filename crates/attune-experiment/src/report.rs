//! An experiment's report: per variant its users and outcomes, per metric every variant against
//! the control ([`crate::analysis`]), the sample-ratio check, bandit state, and the decision in
//! words. `attune experiment report` and `GET /v1/experiments/{name}/results` both return
//! [`Report`] (its JSON is the documented form), so they give one answer.

use std::collections::BTreeMap;

use attune_core::attribution::UserOutcomes;
use attune_core::stats::{Counts, PairSums, Summary};
use attune_store::{ExperimentStatus, Store};
use serde::Serialize;

use crate::analysis::{self, AnalysisParams, Comparison, MetricData, Srm};
use crate::data::{phase_data, PhaseData, PreActivity};
use crate::definition::{Allocation, Metric};
use crate::error::{ExperimentError, Result};

/// A value with its interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct WithInterval {
    /// The point estimate.
    pub estimate: f64,
    /// Lower end.
    pub low: f64,
    /// Upper end.
    pub high: f64,
}

/// One variant's totals.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VariantTotals {
    /// Its name.
    pub name: String,
    /// Its planned share.
    pub share: f64,
    /// Users exposed (first serves recorded), or served for a bandit.
    pub users: u64,
    /// Lists served.
    pub lists: u64,
    /// Items shown.
    pub impressions: u64,
    /// Clicks attributed.
    pub clicks: u64,
    /// Purchases attributed.
    pub purchases: u64,
    /// Their revenue.
    pub revenue: f64,
    /// Users with a purchase.
    pub converted_users: u64,
    /// Attributed dwell, milliseconds.
    pub dwell_ms: u64,
}

/// One variant against the control on one metric.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricResult {
    /// The variant.
    pub variant: String,
    /// The control's value.
    pub control_value: f64,
    /// The variant's value.
    pub value: f64,
    /// B − A.
    pub difference: WithInterval,
    /// B / A − 1.
    pub lift: WithInterval,
    /// Fixed-horizon p-value.
    pub p_value: f64,
    /// Holm-adjusted across variants.
    pub p_adjusted: f64,
    /// Always-valid p-value (safe under peeking).
    pub sequential_p_value: f64,
    /// Always-valid interval of the difference.
    pub sequential_interval: [f64; 2],
    /// Probability to beat the control (proportions).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prob_beats_control: Option<f64>,
    /// Expected loss of shipping it (proportions).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_loss: Option<f64>,
    /// Power reached for the minimum detectable effect.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub power: Option<f64>,
    /// Users per variant the minimum detectable effect needs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub users_needed: Option<f64>,
    /// Significant after correction.
    pub significant: bool,
    /// In words.
    pub decision: String,
    /// The same comparison with CUPED variance reduction (per-user metrics with pre-period
    /// activity).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cuped: Option<CupedResult>,
}

/// A comparison on the CUPED-adjusted metric.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CupedResult {
    /// θ fitted on every variant pooled.
    pub theta: f64,
    /// Pooled correlation of the covariate with the metric.
    pub correlation: f64,
    /// `1 − ρ²`: the adjusted variance over the raw one.
    pub variance_factor: f64,
    /// B − A on the adjusted metric.
    pub difference: WithInterval,
    /// B / A − 1 on the adjusted metric.
    pub lift: WithInterval,
    /// Welch's p-value on the adjusted metric.
    pub p_value: f64,
}

/// The sample-ratio check.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SrmResult {
    /// χ² statistic.
    pub chi2: f64,
    /// Its p-value.
    pub p_value: f64,
    /// `p < 0.001`.
    pub mismatch: bool,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The experiment.
    pub experiment: String,
    /// The phase reported.
    pub phase: u32,
    /// `running` or `stopped`.
    pub status: String,
    /// The decision metric.
    pub metric: String,
    /// The control variant.
    pub control: String,
    /// Per variant, definition order.
    pub variants: Vec<VariantTotals>,
    /// The sample-ratio check (fixed allocation only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub srm: Option<SrmResult>,
    /// Per metric name, every variant against the control.
    pub metrics: BTreeMap<String, Vec<MetricResult>>,
    /// Outcomes that carried a recommendation id no logged list has.
    pub unmatched_outcomes: usize,
    /// The decision on the decision metric, in words.
    pub decision: String,
    /// A bandit's saved state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bandit: Option<crate::bandit::BanditState>,
}

fn interval(e: &attune_core::stats::Estimate) -> WithInterval {
    WithInterval {
        estimate: e.estimate,
        low: e.interval.low,
        high: e.interval.high,
    }
}

fn result(c: &Comparison, decision: String) -> MetricResult {
    MetricResult {
        variant: c.variant.clone(),
        control_value: c.control_value,
        value: c.value,
        difference: interval(&c.difference),
        lift: interval(&c.lift),
        p_value: c.p_value,
        p_adjusted: c.p_adjusted,
        sequential_p_value: c.sequential_p,
        sequential_interval: [c.sequential_interval.low, c.sequential_interval.high],
        prob_beats_control: c.prob_beats_control,
        expected_loss: c.expected_loss,
        power: c.power,
        users_needed: c.users_needed,
        significant: c.significant,
        decision,
        cuped: None,
    }
}

/// The per-user metric's value and its pre-period covariate for CUPED (`None`: not a
/// per-user mean).
fn cuped_pair(metric: Metric, u: &UserOutcomes, pre: Option<&PreActivity>) -> Option<(f64, f64)> {
    let pre = pre.copied().unwrap_or_default();
    Some(match metric {
        Metric::RevenuePerUser => (pre.revenue, u.revenue),
        Metric::DwellPerUser => (pre.dwell_ms as f64, u.dwell_ms as f64),
        Metric::ClicksPerUser => (pre.clicks as f64, u.clicks as f64),
        Metric::Ctr | Metric::Conversion => return None,
    })
}

/// CUPED comparisons of every variant against the control (`None` where it does not apply:
/// ratio and proportion metrics, no pre-period activity, too few users).
fn cuped_results(
    metric: Metric,
    data: &PhaseData,
    per_user: &[BTreeMap<String, UserOutcomes>],
    control: usize,
    params: &AnalysisParams,
) -> Option<Vec<CupedResult>> {
    let groups: Vec<PairSums> = per_user
        .iter()
        .map(|users| {
            let pairs: Vec<(f64, f64)> = users
                .iter()
                .map(|(k, u)| cuped_pair(metric, u, data.pre_period.get(k)))
                .collect::<Option<_>>()?;
            PairSums::from_pairs(&pairs).ok()
        })
        .collect::<Option<_>>()?;
    let fit = attune_core::stats::cuped::fit(&groups).ok()?;
    let adjusted: Vec<Summary> = groups
        .iter()
        .map(|g| fit.adjusted_summary(g).ok())
        .collect::<Option<_>>()?;
    let a = &adjusted[control];
    let mut out = Vec::new();
    for (i, b) in adjusted.iter().enumerate() {
        if i == control {
            continue;
        }
        use attune_core::stats::means;
        out.push(CupedResult {
            theta: fit.theta,
            correlation: fit.correlation,
            variance_factor: fit.variance_factor,
            difference: interval(&means::difference_ci(a, b, params.confidence).ok()?),
            lift: interval(&means::lift_ci(a, b, params.confidence).ok()?),
            p_value: means::welch_test(a, b).ok()?.p_value,
        });
    }
    Some(out)
}

/// The metric's per-variant data from per-user rows (`None`: too few users).
pub fn metric_data(metric: Metric, users: &BTreeMap<String, UserOutcomes>) -> Option<MetricData> {
    let rows: Vec<&UserOutcomes> = users.values().collect();
    let n = rows.len() as u64;
    if n < 2 {
        return None;
    }
    let mean = |f: &dyn Fn(&UserOutcomes) -> f64| {
        let v: Vec<f64> = rows.iter().map(|u| f(u)).collect();
        Summary::from_sample(&v).ok().map(MetricData::Mean)
    };
    match metric {
        Metric::Ctr => {
            let pairs: Vec<(f64, f64)> = rows
                .iter()
                .map(|u| (u.clicks as f64, u.impressions as f64))
                .collect();
            PairSums::from_pairs(&pairs).ok().map(MetricData::Ratio)
        }
        Metric::Conversion => {
            let converted = rows.iter().filter(|u| u.converted()).count() as u64;
            Counts::new(converted, n).ok().map(MetricData::Proportion)
        }
        Metric::RevenuePerUser => mean(&|u| u.revenue),
        Metric::DwellPerUser => mean(&|u| u.dwell_ms as f64),
        Metric::ClicksPerUser => mean(&|u| u.clicks as f64),
    }
}

/// The report of `data` (one phase of `name`).
pub fn of_phase(
    name: &str,
    phase: u32,
    status: ExperimentStatus,
    data: &PhaseData,
    params: &AnalysisParams,
) -> Result<Report> {
    let d = &data.definition;
    let per_user = data.per_user(name);
    let control = d.control();
    let variants: Vec<VariantTotals> = d
        .variants
        .iter()
        .zip(&per_user)
        .map(|(v, users)| {
            let mut t = VariantTotals {
                name: v.name.clone(),
                share: v.share,
                users: users.len() as u64,
                lists: 0,
                impressions: 0,
                clicks: 0,
                purchases: 0,
                revenue: 0.0,
                converted_users: 0,
                dwell_ms: 0,
            };
            for u in users.values() {
                t.lists += u.lists;
                t.impressions += u.impressions;
                t.clicks += u.clicks;
                t.purchases += u.purchases;
                t.revenue += u.revenue;
                t.converted_users += u64::from(u.converted());
                t.dwell_ms += u.dwell_ms;
            }
            t
        })
        .collect();
    if variants.iter().all(|v| v.users == 0) {
        return Err(ExperimentError::NoData(format!(
            "experiment {name:?} phase {phase} has no exposed users yet: nothing to report"
        )));
    }
    let srm = match d.allocation {
        Allocation::Fixed => {
            let users: Vec<u64> = variants.iter().map(|v| v.users).collect();
            let shares: Vec<f64> = d.variants.iter().map(|v| v.share).collect();
            analysis::sample_ratio(&users, &shares).ok()
        }
        Allocation::Bandit { .. } => None,
    };
    let mut metrics = BTreeMap::new();
    let mut decision = String::new();
    for metric in Metric::ALL {
        let rows: Option<Vec<(String, MetricData)>> = d
            .variants
            .iter()
            .zip(&per_user)
            .map(|(v, users)| Some((v.name.clone(), metric_data(metric, users)?)))
            .collect();
        let Some(rows) = rows else { continue };
        let Ok(comparisons) = analysis::compare(&rows, control, params) else {
            continue;
        };
        let cuped = cuped_results(metric, data, &per_user, control, params);
        let results: Vec<MetricResult> = comparisons
            .iter()
            .enumerate()
            .map(|(k, c)| {
                let text = analysis::decision(
                    metric.as_str(),
                    &d.variants[control].name,
                    c,
                    srm.as_ref(),
                    params,
                );
                let mut r = result(c, text);
                r.cuped = cuped.as_ref().and_then(|v| v.get(k).copied());
                r
            })
            .collect();
        if metric == d.metric {
            decision = summary(&results, srm.as_ref());
        }
        metrics.insert(metric.as_str().to_string(), results);
    }
    if decision.is_empty() {
        decision = format!(
            "not enough data for {} yet (every variant needs at least two users with data)",
            d.metric.as_str()
        );
    }
    Ok(Report {
        experiment: name.to_string(),
        phase,
        status: status.as_str().to_string(),
        metric: d.metric.as_str().to_string(),
        control: d.variants[control].name.clone(),
        variants,
        srm: srm.map(|s: Srm| SrmResult {
            chi2: s.chi2,
            p_value: s.p_value,
            mismatch: s.mismatch,
        }),
        metrics,
        unmatched_outcomes: data.attribution.unmatched_ids,
        decision,
        bandit: None,
    })
}

/// The decision over all variants: a broken split first, then the best significant winner,
/// else each variant's sentence.
fn summary(results: &[MetricResult], srm: Option<&Srm>) -> String {
    if srm.is_some_and(|s| s.mismatch) {
        return results
            .first()
            .map(|r| r.decision.clone())
            .unwrap_or_default();
    }
    if let Some(best) = results
        .iter()
        .filter(|r| r.significant && r.lift.estimate > 0.0)
        .max_by(|a, b| a.lift.estimate.total_cmp(&b.lift.estimate))
    {
        return best.decision.clone();
    }
    results
        .iter()
        .map(|r| r.decision.as_str())
        .collect::<Vec<_>>()
        .join("; ")
}

/// The report of experiment `name` (its current phase, or `phase`) at `now_micros`.
pub fn report(
    store: &dyn Store,
    app: &str,
    name: &str,
    phase: Option<u32>,
    now_micros: i64,
    params: &AnalysisParams,
) -> Result<Report> {
    let exp = crate::lifecycle::get(store, app, name)?;
    let want = phase.unwrap_or(exp.record.phase);
    let p = store
        .experiment_phases(app, name)?
        .into_iter()
        .find(|p| p.phase == want)
        .ok_or_else(|| match exp.record.phase {
            0 => ExperimentError::NoData(format!("experiment {name:?} was never started")),
            _ => ExperimentError::invalid(
                "phase",
                format!("experiment {name:?} has no phase {want}"),
            ),
        })?;
    let data = phase_data(store, app, name, &p, now_micros)?;
    let status = if p.stopped_micros.is_some() {
        ExperimentStatus::Stopped
    } else {
        ExperimentStatus::Running
    };
    let mut r = of_phase(name, want, status, &data, params)?;
    if matches!(data.definition.allocation, Allocation::Bandit { .. }) {
        r.bandit = store
            .get_experiment_state(app, name)?
            .and_then(|(text, _)| serde_json::from_str(&text).ok());
    }
    Ok(r)
}
