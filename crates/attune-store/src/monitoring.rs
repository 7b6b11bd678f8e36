//! Rules both backends share for monitoring records: what is valid, and the canonical text
//! of a label set (a JSON object with sorted keys, so one series has one key in the table).

use std::collections::BTreeMap;

use crate::{AlertRecord, MetricPoint, Result, StoreError};

fn invalid(field: &str, reason: impl Into<String>) -> StoreError {
    StoreError::InvalidMonitoring {
        field: field.to_string(),
        reason: reason.into(),
    }
}

/// The stored text of `labels`.
pub(crate) fn labels_text(labels: &BTreeMap<String, String>) -> String {
    serde_json::to_string(labels).expect("strings serialize")
}

/// `labels_text` read back.
pub(crate) fn labels_from(table: &'static str, text: &str) -> Result<BTreeMap<String, String>> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
        table,
        detail: format!("labels {text:?}: {e}"),
    })
}

/// Check a batch of points before anything is written.
pub(crate) fn check_points(points: &[MetricPoint]) -> Result<()> {
    for (i, p) in points.iter().enumerate() {
        if p.metric.is_empty() {
            return Err(invalid(&format!("points[{i}].metric"), "must not be empty"));
        }
        if !p.value.is_finite() {
            return Err(invalid(
                &format!("points[{i}].value"),
                format!("must be finite, got {}", p.value),
            ));
        }
    }
    Ok(())
}

/// Check an alert state.
pub(crate) fn check_alert(a: &AlertRecord) -> Result<()> {
    if a.rule.is_empty() {
        return Err(invalid("rule", "must not be empty"));
    }
    if a.state.is_empty() {
        return Err(invalid("state", "must not be empty"));
    }
    if a.value.is_some_and(|v| !v.is_finite()) {
        return Err(invalid("value", "must be finite"));
    }
    check_object("detail", &a.detail)
}

/// A JSON object, or [`StoreError::InvalidMonitoring`] naming `field`.
pub(crate) fn check_object(field: &str, text: &str) -> Result<()> {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(_)) => Ok(()),
        _ => Err(invalid(field, "must be a JSON object")),
    }
}
