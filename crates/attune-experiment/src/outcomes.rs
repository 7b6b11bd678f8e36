//! What served lists led to, outside any experiment too: attributed outcomes over a time range,
//! grouped by model version, list source, experiment variant or nothing, and by position.
//! `attune outcomes` and `GET /v1/outcomes` return [`Outcomes`].

use std::collections::BTreeMap;

use attune_core::attribution::{attribute, AttributionParams, Group};
use attune_store::Store;
use serde::Serialize;

use crate::error::{ExperimentError, Result};

/// One group's totals over its users.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupOutcomes {
    /// The group (`v0003`, `personalized`, a variant, `all`).
    pub group: String,
    /// Users served a list.
    pub users: u64,
    /// Lists served.
    pub lists: u64,
    /// Items shown.
    pub impressions: u64,
    /// Clicks attributed.
    pub clicks: u64,
    /// Clicks per impression.
    pub ctr: f64,
    /// Cart adds attributed.
    pub add_to_carts: u64,
    /// Purchases attributed.
    pub purchases: u64,
    /// Share of users with a purchase.
    pub conversion: f64,
    /// Revenue attributed.
    pub revenue: f64,
    /// Revenue per user.
    pub revenue_per_user: f64,
    /// Dwell attributed per user, milliseconds.
    pub dwell_ms_per_user: f64,
}

/// Impressions and clicks at one position.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PositionOutcomes {
    /// 1-based.
    pub position: u32,
    /// Items shown there.
    pub impressions: u64,
    /// Clicks on them.
    pub clicks: u64,
    /// Clicks per impression.
    pub ctr: f64,
}

/// The outcomes of a time range.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcomes {
    /// What the groups are.
    pub grouped_by: String,
    /// From (UTC micros, lists served at or after).
    pub since_micros: i64,
    /// Until (lists served before).
    pub until_micros: i64,
    /// Per group.
    pub groups: Vec<GroupOutcomes>,
    /// Per position, over every list.
    pub positions: Vec<PositionOutcomes>,
    /// Outcomes carrying an id no impression has (impressions off, dropped, or older).
    pub unmatched_outcomes: usize,
}

/// A grouping by name: `model_version`, `source`, `variant` (with `experiment`), `all`.
pub fn group_of(name: &str) -> Result<Group> {
    Ok(match name {
        "model_version" => Group::ModelVersion,
        "source" => Group::Source,
        "variant" => Group::Variant,
        "all" => Group::All,
        other => {
            return Err(ExperimentError::invalid(
                "group",
                format!("must be model_version, source, variant or all, got {other:?}"),
            ))
        }
    })
}

/// Outcomes of the lists served in `[since, until)`, outcomes counted up to `window` after.
pub fn outcomes(
    store: &dyn Store,
    app: &str,
    since_micros: i64,
    until_micros: i64,
    group: Group,
    experiment: Option<&str>,
    params: &AttributionParams,
) -> Result<Outcomes> {
    if until_micros <= since_micros {
        return Err(ExperimentError::invalid("until", "must be after since"));
    }
    if group == Group::Variant && experiment.is_none() {
        return Err(ExperimentError::invalid(
            "experiment",
            "is required to group by variant",
        ));
    }
    let events = crate::data::attributable_events(
        store,
        app,
        since_micros,
        until_micros.saturating_add(params.window_micros),
        &|e| e.timestamp.utc_micros < until_micros,
    )?;
    let a = attribute(&events, params);
    let groups = a
        .per_user(group, experiment)
        .into_iter()
        .map(|(name, users)| {
            let n = users.len() as u64;
            let mut g = GroupOutcomes {
                group: name,
                users: n,
                lists: 0,
                impressions: 0,
                clicks: 0,
                ctr: 0.0,
                add_to_carts: 0,
                purchases: 0,
                conversion: 0.0,
                revenue: 0.0,
                revenue_per_user: 0.0,
                dwell_ms_per_user: 0.0,
            };
            let mut converted = 0u64;
            let mut dwell = 0u64;
            for u in users.values() {
                g.lists += u.lists;
                g.impressions += u.impressions;
                g.clicks += u.clicks;
                g.add_to_carts += u.add_to_carts;
                g.purchases += u.purchases;
                g.revenue += u.revenue;
                converted += u64::from(u.converted());
                dwell += u.dwell_ms;
            }
            let per = |x: f64| if n > 0 { x / n as f64 } else { 0.0 };
            g.ctr = if g.impressions > 0 {
                g.clicks as f64 / g.impressions as f64
            } else {
                0.0
            };
            g.conversion = per(converted as f64);
            g.revenue_per_user = per(g.revenue);
            g.dwell_ms_per_user = per(dwell as f64);
            g
        })
        .collect();
    let positions = a
        .by_position()
        .into_iter()
        .map(|(position, (impressions, clicks))| PositionOutcomes {
            position,
            impressions,
            clicks,
            ctr: if impressions > 0 {
                clicks as f64 / impressions as f64
            } else {
                0.0
            },
        })
        .collect();
    let grouped_by = match group {
        Group::ModelVersion => "model_version",
        Group::Source => "source",
        Group::Variant => "variant",
        Group::All => "all",
    };
    Ok(Outcomes {
        grouped_by: grouped_by.to_string(),
        since_micros,
        until_micros,
        groups,
        positions,
        unmatched_outcomes: a.unmatched_ids,
    })
}

/// Totals by group, as a map (for tests and callers that look one up).
pub fn by_group(o: &Outcomes) -> BTreeMap<&str, &GroupOutcomes> {
    o.groups.iter().map(|g| (g.group.as_str(), g)).collect()
}
