//! What an analysis of one phase reads: the phase's exposures (who saw which variant first)
//! and its lists and outcomes attributed ([`attune_core::attribution`]), from the store's
//! events between the phase's start and its end (or now) plus the attribution window, so the
//! last lists' late outcomes count.

use std::collections::BTreeMap;

use attune_core::attribution::{attribute, Attribution, AttributionParams, Group, UserOutcomes};
use attune_core::event::{Event, EventType};
use attune_store::{EventFilter, ExperimentPhase, Store};

use crate::definition::Definition;
use crate::error::Result;

/// One phase's data.
#[derive(Debug, Clone)]
pub struct PhaseData {
    /// The definition in effect.
    pub definition: Definition,
    /// Exposed users per variant (definition order): user key → first serve (UTC micros).
    pub exposed: Vec<BTreeMap<String, i64>>,
    /// The phase's lists and their attributed outcomes.
    pub attribution: Attribution,
    /// Per user: activity in the `cuped_days` before the phase (the CUPED covariate).
    pub pre_period: BTreeMap<String, PreActivity>,
}

/// A user's activity before the phase started, whatever was served: the covariates of the
/// per-user metrics (CUPED).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PreActivity {
    /// Clicks.
    pub clicks: u64,
    /// Purchase revenue.
    pub revenue: f64,
    /// Dwell, milliseconds.
    pub dwell_ms: u64,
}

impl PhaseData {
    /// Per variant (definition order), per user: their sums. Exposed users without any
    /// attributed list count with zeros; for a bandit (no exposures) the users who were served.
    pub fn per_user(&self, experiment: &str) -> Vec<BTreeMap<String, UserOutcomes>> {
        let mut by_name = self.attribution.per_user(Group::Variant, Some(experiment));
        self.definition
            .variants
            .iter()
            .zip(&self.exposed)
            .map(|(v, exposed)| {
                let mut users = by_name.remove(&v.name).unwrap_or_default();
                for user in exposed.keys() {
                    users.entry(user.clone()).or_default();
                }
                users
            })
            .collect()
    }
}

/// The events attribution reads between `since` and `until` (UTC micros): impressions that
/// pass `list` and every outcome (click, cart add, purchase, dwell).
pub fn attributable_events(
    store: &dyn Store,
    app: &str,
    since_micros: i64,
    until_micros: i64,
    list: &dyn Fn(&Event) -> bool,
) -> Result<Vec<Event>> {
    let filter = EventFilter {
        since_micros: Some(since_micros),
        until_micros: Some(until_micros),
        ..EventFilter::default()
    };
    let mut events: Vec<Event> = Vec::new();
    store.scan_events(app, &filter, &mut |e| {
        let keep = match e.event_type {
            EventType::Impression => list(&e),
            EventType::Click | EventType::AddToCart | EventType::Purchase | EventType::Dwell => {
                true
            }
            _ => false,
        };
        if keep {
            events.push(e);
        }
        true
    })?;
    Ok(events)
}

/// Read one phase of `name`: its exposures and attributed events up to `now_micros`.
pub fn phase_data(
    store: &dyn Store,
    app: &str,
    name: &str,
    phase: &ExperimentPhase,
    now_micros: i64,
) -> Result<PhaseData> {
    let definition = Definition::from_json(&phase.definition)?;
    let index: BTreeMap<&str, usize> = definition
        .variants
        .iter()
        .enumerate()
        .map(|(i, v)| (v.name.as_str(), i))
        .collect();
    let mut exposed = vec![BTreeMap::new(); definition.variants.len()];
    store.scan_exposures(app, name, phase.phase, &mut |x| {
        if let Some(&i) = index.get(x.variant.as_str()) {
            exposed[i].insert(x.user_key, x.at_micros);
        }
        true
    })?;
    let window_micros = (definition.attribution.window_hours * 3.6e9) as i64;
    let end = phase.stopped_micros.unwrap_or(now_micros).min(now_micros);
    // Only this experiment's lists, and only lists served during the phase.
    let events = attributable_events(
        store,
        app,
        phase.started_micros,
        end.saturating_add(window_micros),
        &|e| e.context.experiment.as_deref() == Some(name) && e.timestamp.utc_micros <= end,
    )?;
    let attribution = attribute(
        &events,
        &AttributionParams {
            window_micros,
            view_through: definition.attribution.view_through,
        },
    );
    let mut pre_period: BTreeMap<String, PreActivity> = BTreeMap::new();
    if definition.cuped_days > 0.0 {
        let filter = EventFilter {
            since_micros: Some(phase.started_micros - (definition.cuped_days * 86_400e6) as i64),
            until_micros: Some(phase.started_micros - 1),
            ..EventFilter::default()
        };
        store.scan_events(app, &filter, &mut |e| {
            let Some(user) = e.user_key() else {
                return true;
            };
            if !matches!(
                e.event_type,
                EventType::Click | EventType::Purchase | EventType::Dwell
            ) {
                return true;
            }
            let p = pre_period.entry(user.to_string()).or_default();
            match e.event_type {
                EventType::Click => p.clicks += 1,
                EventType::Purchase => p.revenue += e.revenue().unwrap_or(0.0),
                _ => p.dwell_ms += e.properties.dwell_ms.unwrap_or(0),
            }
            true
        })?;
    }
    Ok(PhaseData {
        definition,
        exposed,
        attribution,
        pre_period,
    })
}
