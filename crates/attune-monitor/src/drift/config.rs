//! `[monitor.drift]`: which features are judged, against what thresholds, and whether drift
//! may start a retraining.

use serde::{Deserialize, Serialize};

use crate::error::{MonitorError, Result};

/// The `[monitor.drift]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DriftConfig {
    /// Compute drift at every monitoring tick (the API and CLI answer either way).
    pub enabled: bool,
    /// A feature drifts when its PSI reaches this (0.2: the usual "significant shift").
    pub psi_threshold: f64,
    /// ... and, for numeric features, the KS p-value is below this.
    pub ks_alpha: f64,
    /// Fewer values than this on either side: "insufficient data", not judged (PSI and KS of
    /// a few hundred values are mostly noise).
    pub min_values: u64,
    /// Item and user attributes to watch: `item.<attribute>` (`item.category` reads the
    /// item's first category) and `user.<attribute>`, each counted once per event.
    pub attributes: Vec<String>,
    /// Whether the model's score distribution counts toward `drift_detected`. Off by
    /// default: scores move legitimately (new items, a retrained model's scale).
    pub judge_score: bool,
    /// Most users whose scores are sampled per tick.
    pub score_users: usize,
    /// Most events one computation reads from the window (a busier window is shortened to
    /// its latest part).
    pub max_events: usize,
    /// Start a retraining when drift is detected (besides the schedule).
    pub retrain_on_drift: bool,
    /// At least this long between two drift-triggered retrainings of an app, seconds.
    pub retrain_cooldown_secs: u64,
}

impl Default for DriftConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            psi_threshold: 0.2,
            ks_alpha: 0.01,
            min_values: 1_000,
            attributes: Vec::new(),
            judge_score: false,
            score_users: 200,
            max_events: 200_000,
            retrain_on_drift: false,
            retrain_cooldown_secs: 86_400,
        }
    }
}

impl DriftConfig {
    /// Check every value; an error names `<prefix>.<key>`.
    pub fn check(&self, prefix: &str) -> Result<()> {
        if !(self.psi_threshold.is_finite() && self.psi_threshold > 0.0) {
            return Err(MonitorError::invalid(
                format!("{prefix}.psi_threshold"),
                format!("must be a positive number, got {}", self.psi_threshold),
            ));
        }
        if !(self.ks_alpha > 0.0 && self.ks_alpha < 1.0) {
            return Err(MonitorError::invalid(
                format!("{prefix}.ks_alpha"),
                format!("must be in (0, 1), got {}", self.ks_alpha),
            ));
        }
        if self.max_events == 0 {
            return Err(MonitorError::invalid(
                format!("{prefix}.max_events"),
                "must be at least 1",
            ));
        }
        for (i, a) in self.attributes.iter().enumerate() {
            let ok = a
                .strip_prefix("item.")
                .or_else(|| a.strip_prefix("user."))
                .is_some_and(|name| !name.is_empty());
            if !ok {
                return Err(MonitorError::invalid(
                    format!("{prefix}.attributes[{i}]"),
                    format!("must be item.<attribute> or user.<attribute>, got {a:?}"),
                ));
            }
        }
        Ok(())
    }

    /// The cooldown in micros.
    pub fn cooldown_micros(&self) -> i64 {
        (self.retrain_cooldown_secs as i64).saturating_mul(1_000_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_pass() {
        DriftConfig::default().check("monitor.drift").unwrap();
    }

    #[test]
    fn each_rule_names_its_field() {
        let bad = |c: DriftConfig| c.check("monitor.drift").unwrap_err().to_string();
        let d = DriftConfig::default;
        assert!(bad(DriftConfig {
            psi_threshold: 0.0,
            ..d()
        })
        .starts_with("monitor.drift.psi_threshold"));
        assert!(bad(DriftConfig {
            ks_alpha: 1.0,
            ..d()
        })
        .starts_with("monitor.drift.ks_alpha"));
        assert!(bad(DriftConfig {
            max_events: 0,
            ..d()
        })
        .starts_with("monitor.drift.max_events"));
        assert!(bad(DriftConfig {
            attributes: vec!["price".into()],
            ..d()
        })
        .starts_with("monitor.drift.attributes[0]"));
    }
}
