//! Annotation text with the evaluation's numbers in it: a rule's `summary` and `description`
//! may say `{value}`, `{threshold}`, `{baseline}`, `{metric}`, `{labels}` and `{rule}`. A
//! plain replacement, not a template language: anything else in braces stays as written.

use std::collections::BTreeMap;

use crate::alerts::rule::AlertRule;
use crate::alerts::window::Reading;
use crate::series::Labels;

/// A number as annotations show it: up to 6 significant decimals, no trailing zeros.
pub fn number(v: f64) -> String {
    let s = format!("{v:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.into()
    }
}

/// `{a="x", b="y"}`.
pub fn labels_text(labels: &Labels) -> String {
    let pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", pairs.join(", "))
}

/// `text` with the placeholders replaced (an unknown value reads `n/a`).
pub fn render(text: &str, rule: &AlertRule, labels: &Labels, reading: &Reading) -> String {
    let opt = |v: Option<f64>| v.map_or_else(|| "n/a".to_string(), number);
    text.replace("{value}", &opt(reading.value))
        .replace("{threshold}", &number(rule.threshold))
        .replace("{baseline}", &opt(reading.baseline))
        .replace("{metric}", &rule.metric)
        .replace("{labels}", &labels_text(labels))
        .replace("{rule}", &rule.name)
}

/// The annotations of a rule's alert: its `summary` and `description` rendered (a default
/// summary when it has none), and the numbers as `value`, `threshold` and `baseline`.
pub fn annotations(
    rule: &AlertRule,
    labels: &Labels,
    reading: &Reading,
) -> BTreeMap<String, String> {
    let mut a = BTreeMap::new();
    let summary = if rule.summary.is_empty() {
        let cond = match rule.condition {
            crate::alerts::rule::Condition::Above => "above {threshold}",
            crate::alerts::rule::Condition::Below => "below {threshold}",
            crate::alerts::rule::Condition::Drop => {
                "dropped {threshold} (as a fraction) from {baseline}"
            }
        };
        format!("{{metric}} {{labels}} is {{value}}, {cond}")
    } else {
        rule.summary.clone()
    };
    a.insert("summary".into(), render(&summary, rule, labels, reading));
    if !rule.description.is_empty() {
        a.insert(
            "description".into(),
            render(&rule.description, rule, labels, reading),
        );
    }
    if let Some(v) = reading.value {
        a.insert("value".into(), number(v));
    }
    a.insert("threshold".into(), number(rule.threshold));
    if let Some(b) = reading.baseline {
        a.insert("baseline".into(), number(b));
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::rule::{Aggregate, Condition, NoData, Severity};
    use crate::series::labels;

    fn rule(summary: &str) -> AlertRule {
        AlertRule {
            name: "ctr_low".into(),
            metric: "ctr".into(),
            match_labels: BTreeMap::new(),
            window_secs: 60,
            aggregate: Aggregate::Mean,
            condition: Condition::Below,
            threshold: 0.02,
            baseline_secs: None,
            for_secs: 0,
            severity: Severity::Warning,
            no_data: NoData::Keep,
            summary: summary.into(),
            description: String::new(),
        }
    }

    #[test]
    fn numbers_are_short() {
        assert_eq!(number(0.0125), "0.0125");
        assert_eq!(number(2.0), "2");
        assert_eq!(number(1.0 / 3.0), "0.333333");
        assert_eq!(number(-0.0000001), "0");
    }

    #[test]
    fn placeholders_are_replaced_and_others_kept() {
        let r = Reading {
            value: Some(0.01),
            baseline: None,
            holds: Some(true),
        };
        let l = labels(&[("variant", "b")]);
        let text = render(
            "{rule}: {metric} {labels} = {value} < {threshold} (baseline {baseline}) {other}",
            &rule(""),
            &l,
            &r,
        );
        assert_eq!(
            text,
            "ctr_low: ctr {variant=\"b\"} = 0.01 < 0.02 (baseline n/a) {other}"
        );
    }

    #[test]
    fn annotations_carry_a_default_summary_and_the_numbers() {
        let r = Reading {
            value: Some(0.01),
            baseline: None,
            holds: Some(true),
        };
        let a = annotations(&rule(""), &labels(&[]), &r);
        assert_eq!(a["summary"], "ctr {} is 0.01, below 0.02");
        assert_eq!(a["value"], "0.01");
        assert_eq!(a["threshold"], "0.02");
        assert!(!a.contains_key("description") && !a.contains_key("baseline"));
        let a = annotations(&rule("CTR is {value}"), &labels(&[]), &r);
        assert_eq!(a["summary"], "CTR is 0.01");
    }
}
