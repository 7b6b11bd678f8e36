//! What every sink receives: one alert that fired or resolved, from a rule or from an event
//! (a rollback, sent by whoever made it through [`crate::alerts::Notifier::send`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::alerts::rule::Severity;
use crate::series::Labels;

/// A notification's status (Alertmanager's two).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The alert is active.
    Firing,
    /// The alert has ended.
    Resolved,
}

impl Status {
    /// The wire word.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Firing => "firing",
            Status::Resolved => "resolved",
        }
    }
}

/// One alert's notification.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// The app it concerns (the `app` label).
    pub app: String,
    /// The rule or event name (the `alertname` label).
    pub alertname: String,
    /// The series' labels (the stored alert's key).
    pub labels: Labels,
    /// The `severity` label.
    pub severity: Severity,
    /// Firing or resolved.
    pub status: Status,
    /// `summary`, `description`, `value`, ...
    pub annotations: BTreeMap<String, String>,
    /// When it started firing, UTC micros.
    pub starts_micros: i64,
    /// When it resolved (resolved notifications), UTC micros.
    pub ends_micros: Option<i64>,
}

/// The label names attune adds to a series' labels; they take precedence over a series label
/// of the same name.
pub const ALERTNAME: &str = "alertname";
/// The app label.
pub const APP: &str = "app";
/// The severity label.
pub const SEVERITY: &str = "severity";

impl Notification {
    /// The labels receivers see: the series' plus `alertname`, `app` and `severity`.
    pub fn wire_labels(&self) -> BTreeMap<String, String> {
        let mut l = self.labels.clone();
        l.insert(ALERTNAME.into(), self.alertname.clone());
        l.insert(APP.into(), self.app.clone());
        l.insert(SEVERITY.into(), self.severity.as_str().into());
        l
    }

    /// The labels a notification is grouped by (`groupLabels`).
    pub fn group_labels(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (ALERTNAME.to_string(), self.alertname.clone()),
            (APP.to_string(), self.app.clone()),
        ])
    }
}
