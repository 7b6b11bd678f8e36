//! One evaluation of an app's rules (the monitoring tick's alert step): read each rule's
//! window, move each series' alert by [`crate::alerts::state::next`], save it and notify on
//! firing and resolution.
//!
//! The series evaluated are those with points in the rule's window (or baseline) and those
//! with a stored alert of the rule. A series with a stored alert but no points has an unknown
//! condition: it keeps its state (`no_data = "keep"`) or counts as not holding
//! (`no_data = "resolve"`). A series never seen holding gets no record, so inactive series
//! cost nothing. Every replica may evaluate: the state lives in the store, so a transition
//! made by one is seen by the others at their next tick.

use std::collections::{BTreeMap, BTreeSet};

use attune_store::AlertRecord;

use crate::alerts::detail::{AlertDetail, Source};
use crate::alerts::notification::{Notification, Status};
use crate::alerts::notifier::Notifier;
use crate::alerts::rule::{AlertRule, NoData};
use crate::alerts::state::{self, AlertState, StateSince};
use crate::alerts::text;
use crate::alerts::window::{self, Reading};
use crate::error::Result;
use crate::series::Labels;

/// One alert that changed state.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// The rule.
    pub rule: String,
    /// The series.
    pub labels: Labels,
    /// The state before.
    pub from: AlertState,
    /// The state after.
    pub to: AlertState,
    /// The window's value.
    pub value: Option<f64>,
}

const UNKNOWN: Reading = Reading {
    value: None,
    baseline: None,
    holds: None,
};

/// Evaluate every rule of `app` at `now_micros`, saving and notifying through `notifier`
/// (which holds the store). Returns the alerts that changed state. A rule whose series
/// cannot be read is logged and skipped; the others still run.
pub fn evaluate(
    notifier: &Notifier,
    app: &str,
    rules: &[AlertRule],
    now_micros: i64,
) -> Result<Vec<Change>> {
    if rules.is_empty() {
        return Ok(Vec::new());
    }
    let store = notifier.store();
    let mut stored: BTreeMap<(String, Labels), AlertRecord> = store
        .list_alerts(app)?
        .into_iter()
        .map(|r| ((r.rule.clone(), r.labels.clone()), r))
        .collect();
    let mut changes = Vec::new();
    for rule in rules {
        let readings = match window::read(&**store, app, rule, now_micros) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(app, rule = rule.name, error = %e, "alert rule not evaluated");
                continue;
            }
        };
        let mut series: BTreeSet<Labels> = readings.keys().cloned().collect();
        series.extend(
            stored
                .keys()
                .filter(|(r, _)| r == &rule.name)
                .map(|(_, l)| l.clone()),
        );
        for labels in series {
            let reading = readings.get(&labels).copied().unwrap_or(UNKNOWN);
            let record = stored.remove(&(rule.name.clone(), labels.clone()));
            match step(notifier, app, rule, labels, &reading, record, now_micros) {
                Ok(Some(change)) => changes.push(change),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(app, rule = rule.name, error = %e, "alert state not saved");
                }
            }
        }
    }
    Ok(changes)
}

/// One series of one rule.
fn step(
    notifier: &Notifier,
    app: &str,
    rule: &AlertRule,
    labels: Labels,
    reading: &Reading,
    record: Option<AlertRecord>,
    now_micros: i64,
) -> Result<Option<Change>> {
    let previous = record.as_ref().map_or(StateSince::NEW, |r| StateSince {
        state: AlertState::parse(&r.state).unwrap_or(AlertState::Inactive),
        since_micros: r.since_micros,
    });
    let holds = reading.holds.or(match rule.no_data {
        NoData::Keep => None,
        NoData::Resolve => Some(false),
    });
    let next = state::next(previous, holds, now_micros, rule.for_micros());
    if record.is_none() && next.state == AlertState::Inactive {
        return Ok(None);
    }
    let mut detail = record
        .as_ref()
        .map(|r| AlertDetail::parse(&r.detail))
        .unwrap_or_default();
    detail.source = Source::Rule;
    detail.severity = Some(rule.severity);
    if reading.value.is_some() {
        detail.annotations = text::annotations(rule, &labels, reading);
        detail.baseline = reading.baseline;
    }
    if next.state == AlertState::Firing && previous.state != AlertState::Firing {
        detail.fired_micros = Some(now_micros);
    }
    let notification = state::notifies(previous.state, next.state).map(|to| {
        let status = if to == AlertState::Firing {
            Status::Firing
        } else {
            Status::Resolved
        };
        Notification {
            app: app.into(),
            alertname: rule.name.clone(),
            labels: labels.clone(),
            severity: rule.severity,
            status,
            annotations: detail.annotations.clone(),
            starts_micros: detail.fired_micros.unwrap_or(now_micros),
            ends_micros: (status == Status::Resolved).then_some(now_micros),
        }
    });
    let value = reading.value;
    let out = AlertRecord {
        rule: rule.name.clone(),
        labels: labels.clone(),
        state: next.state.as_str().into(),
        since_micros: next.since_micros,
        updated_micros: now_micros,
        value,
        detail: String::new(),
    };
    notifier.commit(app, out, detail, notification.as_ref(), now_micros)?;
    if next.state == previous.state {
        return Ok(None);
    }
    tracing::debug!(
        app,
        rule = rule.name,
        labels = text::labels_text(&labels),
        from = previous.state.as_str(),
        to = next.state.as_str(),
        "alert state changed"
    );
    Ok(Some(Change {
        rule: rule.name.clone(),
        labels,
        from: previous.state,
        to: next.state,
        value,
    }))
}
