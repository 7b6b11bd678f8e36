//! An alert rule as configured (`[[monitor.alerts]]`): which series, over what window, what
//! condition, how long it must hold, and what the notification says. The same shape is what
//! `GET /v1/alerts/rules` returns, so an operator reads back exactly what they wrote.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{MonitorError, Result};

/// How the points of a window become one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregate {
    /// The arithmetic mean (smooths one bad tick away).
    #[default]
    Mean,
    /// The largest point (alerts on any spike).
    Max,
    /// The smallest point (alerts on any dip).
    Min,
    /// The newest point (the state now, no smoothing).
    Last,
}

impl Aggregate {
    /// The value of `points` (oldest first); `None` without points.
    pub fn apply(self, points: &[(i64, f64)]) -> Option<f64> {
        let values = points.iter().map(|&(_, v)| v);
        match self {
            Aggregate::Mean if !points.is_empty() => {
                Some(values.sum::<f64>() / points.len() as f64)
            }
            Aggregate::Mean => None,
            Aggregate::Max => values.reduce(f64::max),
            Aggregate::Min => values.reduce(f64::min),
            Aggregate::Last => points.last().map(|&(_, v)| v),
        }
    }
}

/// When a rule's condition holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// The window's value is greater than `threshold`.
    Above,
    /// The window's value is less than `threshold`.
    Below,
    /// The window's value is lower than the baseline window's by at least `threshold`, a
    /// fraction of the baseline (0.2: 20 % lower). The baseline window ends where the window
    /// starts, so a slow decline is compared with what came just before it.
    Drop,
}

impl Condition {
    /// The configuration word.
    pub fn as_str(self) -> &'static str {
        match self {
            Condition::Above => "above",
            Condition::Below => "below",
            Condition::Drop => "drop",
        }
    }
}

/// How urgent a rule is; sent as the `severity` label, the convention Alertmanager routes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// For the record.
    Info,
    /// Someone should look today.
    #[default]
    Warning,
    /// Someone should look now.
    Critical,
}

impl Severity {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// What a series without points in its window (or without a usable baseline) does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoData {
    /// The condition is unknown: the alert stays in its state. A monitor that stopped
    /// writing must not look like a recovery.
    #[default]
    Keep,
    /// The condition counts as not holding: a firing alert resolves. For series that end by
    /// design, such as those labelled with a model version that no longer serves.
    Resolve,
}

/// The default window of a rule, seconds.
pub const DEFAULT_WINDOW_SECS: u64 = 300;

fn default_window() -> u64 {
    DEFAULT_WINDOW_SECS
}

/// One `[[monitor.alerts]]` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertRule {
    /// The rule's name: the `alertname` label, unique among rules.
    pub name: String,
    /// The metric it watches (any series name in the store: `ctr`, `drift_psi`, ...).
    pub metric: String,
    /// Only series whose labels include all of these; every matching label set is its own
    /// alert (empty: every series of the metric).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
    /// The window the condition reads, seconds, ending at the evaluation time.
    #[serde(default = "default_window")]
    pub window_secs: u64,
    /// How the window's points become one value.
    #[serde(default)]
    pub aggregate: Aggregate,
    /// `above`, `below` or `drop`.
    pub condition: Condition,
    /// The bound (`above`, `below`) or the relative drop, a fraction in (0, 1] (`drop`).
    pub threshold: f64,
    /// `drop` only: the baseline window's length, seconds (default: `window_secs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_secs: Option<u64>,
    /// How long the condition must hold before the alert fires (0: at once), seconds.
    #[serde(default)]
    pub for_secs: u64,
    /// `info`, `warning` (default) or `critical`.
    #[serde(default)]
    pub severity: Severity,
    /// `keep` (default) or `resolve`: see [`NoData`].
    #[serde(default)]
    pub no_data: NoData,
    /// One line for the notification; `{value}`, `{threshold}`, `{baseline}`, `{metric}`,
    /// `{labels}` and `{rule}` are replaced.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub summary: String,
    /// More detail, same placeholders.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

fn invalid(field: &str, key: &str, reason: impl Into<String>) -> MonitorError {
    MonitorError::invalid(format!("{field}.{key}"), reason)
}

/// Whether `name` may be a rule or alert name: 1 to 128 of `A-Z a-z 0-9 _ . : -` (safe in
/// logs, URLs and every receiver's label rules).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b':' | b'-'))
}

impl AlertRule {
    /// The window in micros.
    pub fn window_micros(&self) -> i64 {
        secs_to_micros(self.window_secs)
    }

    /// The baseline window in micros (`drop`).
    pub fn baseline_micros(&self) -> i64 {
        secs_to_micros(self.baseline_secs.unwrap_or(self.window_secs))
    }

    /// `for_secs` in micros.
    pub fn for_micros(&self) -> i64 {
        secs_to_micros(self.for_secs)
    }

    /// Whether the condition holds for a window's value and (for `drop`) its baseline's;
    /// `None` when it cannot be known (no baseline, or a baseline of 0 a fraction of which
    /// means nothing).
    pub fn holds(&self, value: f64, baseline: Option<f64>) -> Option<bool> {
        match self.condition {
            Condition::Above => Some(value > self.threshold),
            Condition::Below => Some(value < self.threshold),
            Condition::Drop => {
                let b = baseline?;
                if b == 0.0 {
                    return None;
                }
                Some((b - value) / b.abs() >= self.threshold)
            }
        }
    }

    /// Check the rule; `field` is where it sits (`monitor.alerts[2]`), and an error names the
    /// key at fault below it (`monitor.alerts[2].threshold`).
    pub fn check(&self, field: &str) -> Result<()> {
        if !valid_name(&self.name) {
            return Err(invalid(
                field,
                "name",
                format!(
                    "{:?} is not a valid rule name: 1 to 128 characters A-Z, a-z, 0-9, '_', '.', ':' or '-'",
                    self.name
                ),
            ));
        }
        if self.metric.is_empty() {
            return Err(invalid(field, "metric", "must not be empty"));
        }
        if let Some(k) = self.match_labels.keys().find(|k| k.is_empty()) {
            return Err(invalid(
                field,
                "match_labels",
                format!("label names must not be empty ({k:?})"),
            ));
        }
        if self.window_secs == 0 {
            return Err(invalid(field, "window_secs", "must be at least 1"));
        }
        if !self.threshold.is_finite() {
            return Err(invalid(
                field,
                "threshold",
                format!("must be a finite number, got {}", self.threshold),
            ));
        }
        match self.condition {
            Condition::Drop => {
                if !(self.threshold > 0.0 && self.threshold <= 1.0) {
                    return Err(invalid(
                        field,
                        "threshold",
                        format!(
                            "a drop is a fraction of the baseline in (0, 1] (0.2: 20 % lower), got {}",
                            self.threshold
                        ),
                    ));
                }
                if self.baseline_secs == Some(0) {
                    return Err(invalid(field, "baseline_secs", "must be at least 1"));
                }
            }
            Condition::Above | Condition::Below => {
                if self.baseline_secs.is_some() {
                    return Err(invalid(
                        field,
                        "baseline_secs",
                        format!(
                            "applies to condition = \"drop\" only (this rule is {:?})",
                            self.condition.as_str()
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Check every rule (`monitor.alerts[i]`) and that names are unique.
pub fn check_rules(rules: &[AlertRule], field: &str) -> Result<()> {
    for (i, rule) in rules.iter().enumerate() {
        let at = format!("{field}[{i}]");
        rule.check(&at)?;
        if let Some(j) = rules[..i].iter().position(|r| r.name == rule.name) {
            return Err(invalid(
                &at,
                "name",
                format!("{:?} is already the name of {field}[{j}]", rule.name),
            ));
        }
    }
    Ok(())
}

fn secs_to_micros(secs: u64) -> i64 {
    (secs.min(i64::MAX as u64 / 1_000_000) as i64) * 1_000_000
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule() -> AlertRule {
        AlertRule {
            name: "ctr_low".into(),
            metric: "ctr".into(),
            match_labels: BTreeMap::new(),
            window_secs: 300,
            aggregate: Aggregate::Mean,
            condition: Condition::Below,
            threshold: 0.02,
            baseline_secs: None,
            for_secs: 600,
            severity: Severity::Warning,
            no_data: NoData::Keep,
            summary: String::new(),
            description: String::new(),
        }
    }

    fn field_of(rule: &AlertRule) -> String {
        match rule.check("monitor.alerts[2]").unwrap_err() {
            MonitorError::Invalid { field, .. } => field,
            other => panic!("{other}"),
        }
    }

    #[test]
    fn a_sound_rule_passes() {
        rule().check("monitor.alerts[0]").unwrap();
        let mut drop = rule();
        drop.condition = Condition::Drop;
        drop.threshold = 0.2;
        drop.baseline_secs = Some(3600);
        drop.check("monitor.alerts[0]").unwrap();
    }

    #[test]
    fn a_bad_name_is_named() {
        for name in ["", "ctr low", &"x".repeat(129)] {
            let mut r = rule();
            r.name = name.into();
            assert_eq!(field_of(&r), "monitor.alerts[2].name", "{name:?}");
        }
    }

    #[test]
    fn an_empty_metric_is_named() {
        let mut r = rule();
        r.metric.clear();
        assert_eq!(field_of(&r), "monitor.alerts[2].metric");
    }

    #[test]
    fn an_empty_label_name_is_named() {
        let mut r = rule();
        r.match_labels.insert(String::new(), "x".into());
        assert_eq!(field_of(&r), "monitor.alerts[2].match_labels");
    }

    #[test]
    fn a_zero_window_is_named() {
        let mut r = rule();
        r.window_secs = 0;
        assert_eq!(field_of(&r), "monitor.alerts[2].window_secs");
    }

    #[test]
    fn a_threshold_that_is_not_a_number_is_named() {
        let mut r = rule();
        r.threshold = f64::NAN;
        assert_eq!(field_of(&r), "monitor.alerts[2].threshold");
    }

    #[test]
    fn a_drop_threshold_must_be_a_fraction() {
        for t in [0.0, -0.1, 1.5] {
            let mut r = rule();
            r.condition = Condition::Drop;
            r.threshold = t;
            assert_eq!(field_of(&r), "monitor.alerts[2].threshold", "{t}");
        }
    }

    #[test]
    fn a_baseline_belongs_to_drop_only_and_is_not_zero() {
        let mut r = rule();
        r.baseline_secs = Some(60);
        assert_eq!(field_of(&r), "monitor.alerts[2].baseline_secs");
        r.condition = Condition::Drop;
        r.threshold = 0.5;
        r.baseline_secs = Some(0);
        assert_eq!(field_of(&r), "monitor.alerts[2].baseline_secs");
    }

    #[test]
    fn names_are_unique() {
        let err = check_rules(&[rule(), rule()], "monitor.alerts").unwrap_err();
        assert!(
            err.to_string().starts_with("monitor.alerts[1].name:")
                && err.to_string().contains("monitor.alerts[0]"),
            "{err}"
        );
    }

    #[test]
    fn aggregates_summarize_points_and_nothing_is_none() {
        let p = [(1, 3.0), (2, 1.0), (3, 2.0)];
        assert_eq!(Aggregate::Mean.apply(&p), Some(2.0));
        assert_eq!(Aggregate::Max.apply(&p), Some(3.0));
        assert_eq!(Aggregate::Min.apply(&p), Some(1.0));
        assert_eq!(Aggregate::Last.apply(&p), Some(2.0));
        for a in [
            Aggregate::Mean,
            Aggregate::Max,
            Aggregate::Min,
            Aggregate::Last,
        ] {
            assert_eq!(a.apply(&[]), None);
        }
    }

    #[test]
    fn conditions_compare_strictly_and_drop_is_relative_to_the_baseline() {
        let mut r = rule();
        assert_eq!(r.holds(0.01, None), Some(true));
        assert_eq!(r.holds(0.02, None), Some(false));
        r.condition = Condition::Above;
        assert_eq!(r.holds(0.03, None), Some(true));
        assert_eq!(r.holds(0.02, None), Some(false));
        r.condition = Condition::Drop;
        r.threshold = 0.25;
        assert_eq!(r.holds(0.75, Some(1.0)), Some(true));
        assert_eq!(r.holds(0.76, Some(1.0)), Some(false));
        assert_eq!(r.holds(1.5, Some(1.0)), Some(false));
        // Against a negative baseline, lower is still a drop.
        assert_eq!(r.holds(-2.0, Some(-1.0)), Some(true));
        assert_eq!(r.holds(0.5, None), None);
        assert_eq!(r.holds(0.5, Some(0.0)), None);
    }

    #[test]
    fn toml_shape_reads_with_defaults() {
        let r: AlertRule = serde_json::from_value(serde_json::json!({
            "name": "psi", "metric": "drift_psi", "condition": "above", "threshold": 0.2
        }))
        .unwrap();
        assert_eq!(r.window_secs, DEFAULT_WINDOW_SECS);
        assert_eq!(r.aggregate, Aggregate::Mean);
        assert_eq!(r.for_secs, 0);
        assert_eq!(r.severity, Severity::Warning);
        assert_eq!(r.no_data, NoData::Keep);
        let err = serde_json::from_value::<AlertRule>(serde_json::json!({
            "name": "psi", "metric": "drift_psi", "condition": "above", "threshold": 0.2,
            "treshold": 1
        }))
        .unwrap_err();
        assert!(err.to_string().contains("treshold"), "{err}");
    }
}
