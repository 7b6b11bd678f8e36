//! One feature's verdict: PSI (and, for numeric features, KS) of the window against the
//! reference, and whether that is drift.

use std::collections::BTreeSet;

use attune_core::stats::{ks, psi};
use serde::Serialize;

use super::DriftConfig;

/// A feature's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Within the thresholds.
    Stable,
    /// PSI at or above the threshold (and, for numeric features, KS p below `ks_alpha`).
    Drifted,
    /// Fewer than `min_values` values on one side: shown, not judged.
    InsufficientData,
}

/// One feature compared with its reference.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeatureDrift {
    /// `event_type`, `item_events`, `item_rank`, `user_events`, `item.<attr>`, `user.<attr>`,
    /// `score`.
    pub feature: String,
    /// `numeric` (quantile-binned PSI and KS) or `categorical` (PSI over categories).
    pub kind: &'static str,
    /// Values in the reference.
    pub reference_values: u64,
    /// Values in the window.
    pub current_values: u64,
    /// The population stability index (absent when a side has no value).
    pub psi: Option<f64>,
    /// The KS statistic (numeric features).
    pub ks_statistic: Option<f64>,
    /// Its p-value.
    pub ks_p_value: Option<f64>,
    /// Whether this feature's verdict counts toward `drift_detected`.
    pub judged: bool,
    /// The verdict.
    pub status: Status,
}

/// Compare numeric values.
pub fn numeric(
    feature: &str,
    reference: &[f64],
    current: &[f64],
    judged: bool,
    config: &DriftConfig,
) -> FeatureDrift {
    let (psi_value, test) = if reference.is_empty() || current.is_empty() {
        (None, None)
    } else {
        (
            psi::psi(reference, current).ok(),
            ks::ks_2samp(reference, current).ok(),
        )
    };
    let mut f = FeatureDrift {
        feature: feature.to_string(),
        kind: "numeric",
        reference_values: reference.len() as u64,
        current_values: current.len() as u64,
        psi: psi_value,
        ks_statistic: test.map(|t| t.statistic),
        ks_p_value: test.map(|t| t.p_value),
        judged,
        status: Status::Stable,
    };
    f.status = verdict(&f, config);
    f
}

/// Compare category counts (a category missing on one side counts 0 there).
pub fn categorical(
    feature: &str,
    reference: &std::collections::BTreeMap<String, u64>,
    current: &std::collections::BTreeMap<String, u64>,
    judged: bool,
    config: &DriftConfig,
) -> FeatureDrift {
    let names: BTreeSet<&String> = reference.keys().chain(current.keys()).collect();
    let r: Vec<u64> = names
        .iter()
        .map(|n| reference.get(*n).copied().unwrap_or(0))
        .collect();
    let c: Vec<u64> = names
        .iter()
        .map(|n| current.get(*n).copied().unwrap_or(0))
        .collect();
    let mut f = FeatureDrift {
        feature: feature.to_string(),
        kind: "categorical",
        reference_values: r.iter().sum(),
        current_values: c.iter().sum(),
        psi: psi::psi_counts(&r, &c).ok(),
        ks_statistic: None,
        ks_p_value: None,
        judged,
        status: Status::Stable,
    };
    f.status = verdict(&f, config);
    f
}

fn verdict(f: &FeatureDrift, config: &DriftConfig) -> Status {
    if f.reference_values < config.min_values || f.current_values < config.min_values {
        return Status::InsufficientData;
    }
    let psi_high = f.psi.is_some_and(|p| p >= config.psi_threshold);
    let ks_low = f.ks_p_value.is_none_or(|p| p < config.ks_alpha);
    if psi_high && ks_low {
        Status::Drifted
    } else {
        Status::Stable
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> DriftConfig {
        DriftConfig {
            min_values: 100,
            ..DriftConfig::default()
        }
    }

    #[test]
    fn a_shifted_numeric_feature_drifts_and_a_same_one_does_not() {
        let r: Vec<f64> = (0..2000).map(|i| f64::from(i % 100)).collect();
        let same: Vec<f64> = (0..1500).map(|i| f64::from((i * 7) % 100)).collect();
        let shifted: Vec<f64> = (0..1500).map(|i| f64::from(i % 100 + 40)).collect();
        assert_eq!(
            numeric("x", &r, &same, true, &config()).status,
            Status::Stable
        );
        assert_eq!(
            numeric("x", &r, &shifted, true, &config()).status,
            Status::Drifted
        );
    }

    #[test]
    fn too_few_values_are_not_judged() {
        let r: Vec<f64> = (0..50).map(f64::from).collect();
        let shifted: Vec<f64> = (100..150).map(f64::from).collect();
        let f = numeric("x", &r, &shifted, true, &config());
        assert_eq!(f.status, Status::InsufficientData);
        assert!(f.psi.unwrap() > 1.0);
    }

    #[test]
    fn a_new_category_share_drifts() {
        let r = [("view".to_string(), 900u64), ("purchase".to_string(), 100)].into();
        let c = [("view".to_string(), 600u64), ("purchase".to_string(), 400)].into();
        assert_eq!(
            categorical("event_type", &r, &c, true, &config()).status,
            Status::Drifted
        );
        assert_eq!(
            categorical("event_type", &r, &r, true, &config()).status,
            Status::Stable
        );
    }
}
