//! An app's alerts as `GET /v1/alerts` and `attune alerts --json` show them: one document
//! built here, so both front-ends say the same thing.

use std::collections::BTreeMap;

use attune_store::{AlertRecord, Store};
use serde::Serialize;

use crate::alerts::detail::{AlertDetail, Delivery, Source};
use crate::alerts::rule::Severity;
use crate::alerts::state::AlertState;
use crate::error::Result;
use crate::series::Labels;

/// One alert.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertView {
    /// The rule (or event) name: the `alertname`.
    pub rule: String,
    /// The series' labels.
    pub labels: Labels,
    /// `firing`, `pending`, `resolved` or `inactive`.
    pub state: String,
    /// When the state began, UTC micros.
    pub since_micros: i64,
    /// When it was last evaluated (or sent), UTC micros.
    pub updated_micros: i64,
    /// The window's value at the last evaluation (`null`: no data, or an event).
    pub value: Option<f64>,
    /// `rule` or `event`.
    pub source: Source,
    /// The severity it is sent with.
    pub severity: Option<Severity>,
    /// `summary`, `description`, `value`, `threshold`, ...
    pub annotations: BTreeMap<String, String>,
    /// When it last started firing, UTC micros.
    pub fired_micros: Option<i64>,
    /// The last notification per sink.
    pub delivery: BTreeMap<String, Delivery>,
}

impl From<AlertRecord> for AlertView {
    fn from(r: AlertRecord) -> Self {
        let d = AlertDetail::parse(&r.detail);
        Self {
            rule: r.rule,
            labels: r.labels,
            state: r.state,
            since_micros: r.since_micros,
            updated_micros: r.updated_micros,
            value: r.value,
            source: d.source,
            severity: d.severity,
            annotations: d.annotations,
            fired_micros: d.fired_micros,
            delivery: d.delivery,
        }
    }
}

/// Sort rank of a stored state: firing, pending, resolved, inactive, then anything else.
fn rank(state: &str) -> u8 {
    match AlertState::parse(state) {
        Some(AlertState::Firing) => 0,
        Some(AlertState::Pending) => 1,
        Some(AlertState::Resolved) => 2,
        Some(AlertState::Inactive) => 3,
        None => 4,
    }
}

/// Every alert of `app`, firing first, then pending, resolved and inactive; by rule and
/// labels within a state.
pub fn list(store: &dyn Store, app: &str) -> Result<Vec<AlertView>> {
    let mut all: Vec<AlertView> = store
        .list_alerts(app)?
        .into_iter()
        .map(AlertView::from)
        .collect();
    all.sort_by(|a, b| {
        (rank(&a.state), &a.rule, &a.labels).cmp(&(rank(&b.state), &b.rule, &b.labels))
    });
    Ok(all)
}
