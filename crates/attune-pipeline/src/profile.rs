//! The data profile report: what `attune profile` prints and `GET /v1/profile` answers.
//!
//! One builder for both front-ends, so the CLI and the dashboard show the same numbers: the
//! profile of the data training sees ([`AppData::for_training`]: consent applied and, with
//! `[train].clean`, cleaned), in the wire form (shares are fractions in 0..=1, times RFC 3339).
//! Definitions (interactions exclude impressions, type-7 quantiles, "cold" below
//! [`COLD_THRESHOLD`] interactions, power-of-two activity bins) are the core's:
//! [`attune_core::profile`].

use std::collections::BTreeMap;

use attune_core::profile::advice::{advise, Advice};
use attune_core::profile::{ActivityBin, CountSummary, DataProfile, COLD_THRESHOLD};
use attune_core::time::MICROS_PER_DAY;
use attune_store::Store;
use serde::Serialize;

use crate::{AppData, PipelineConfig, Result};

/// The profile of one app's training data, ready to print or send.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProfileReport {
    /// The app profiled.
    pub app: String,
    /// Events of every type.
    pub events: u64,
    /// Events on an item, impressions excluded.
    pub interactions: u64,
    /// Events without a user id.
    pub anonymous_events: u64,
    /// Distinct actors.
    pub users: u64,
    /// Actors with at least one interaction.
    pub active_users: u64,
    /// Items in the catalog.
    pub catalog_items: u64,
    /// Items with at least one interaction.
    pub interacted_items: u64,
    /// Interacted items missing from the catalog.
    pub unknown_items: u64,
    /// Share of catalog items with an interaction.
    pub catalog_coverage: f64,
    /// Distinct (user, item) pairs with an interaction.
    pub distinct_pairs: u64,
    /// Filled share of the interaction matrix.
    pub density: f64,
    /// `1 - density`.
    pub sparsity: f64,
    /// Interactions per user.
    pub per_user: Counts,
    /// Interactions per item (never-touched catalog items count 0).
    pub per_item: Counts,
    /// Share of catalog items with a title or description.
    pub items_with_text: f64,
    /// Share of catalog items with a category.
    pub items_with_categories: f64,
    /// RFC 3339, in the offset the event was written in.
    pub first_event: Option<String>,
    /// RFC 3339, in the offset the event was written in.
    pub last_event: Option<String>,
    /// Days between the first and the last event.
    pub span_days: f64,
    /// Days from the last event to now (how stale the data is).
    pub days_since_last_event: Option<f64>,
    /// Share of events in the 7 days up to the last event.
    pub share_last_7_days: f64,
    /// Share of events in the 30 days up to the last event.
    pub share_last_30_days: f64,
    /// Fewer interactions than this is cold.
    pub cold_threshold: u64,
    /// Users with fewer than `cold_threshold` interactions.
    pub cold_users: u64,
    /// `cold_users / users`.
    pub cold_users_share: f64,
    /// Items with fewer than `cold_threshold` interactions.
    pub cold_items: u64,
    /// `cold_items / per_item.n`.
    pub cold_items_share: f64,
    /// Events per type name.
    pub events_by_type: BTreeMap<String, u64>,
    /// Events per UTC day, oldest first; days without events are left out.
    pub events_per_day: Vec<DayCount>,
    /// Users by number of interactions, in power-of-two bins.
    pub users_by_activity: Vec<Bin>,
    /// Items by number of interactions, in power-of-two bins.
    pub items_by_activity: Vec<Bin>,
    /// Algorithm families to try first, best first.
    pub recommended_algorithms: Vec<Suggestion>,
}

/// A count's distribution.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[allow(missing_docs)] // the fields are the quantiles they are named after
pub struct Counts {
    pub n: u64,
    pub min: f64,
    pub p25: f64,
    pub median: f64,
    pub p75: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
    pub gini: f64,
}

/// Events of one UTC day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DayCount {
    /// `YYYY-MM-DD`.
    pub day: String,
    /// Events that day.
    pub events: u64,
}

/// One histogram bin: `count` users (or items) have `min..=max` interactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Bin {
    /// Fewest interactions in the bin.
    pub min: u64,
    /// Most interactions in the bin.
    pub max: u64,
    /// Users (or items) in it.
    pub count: u64,
}

/// One suggested algorithm family.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Suggestion {
    /// Name for `attune train --algorithm`.
    pub algorithm: &'static str,
    /// In words.
    pub title: &'static str,
    /// Lower is tried first.
    pub priority: u8,
    /// Why, from the profile.
    pub reasons: Vec<String>,
}

impl ProfileReport {
    /// Read `app` as training sees it and profile it; `now_micros` dates the staleness.
    pub fn build(
        store: &dyn Store,
        app: &str,
        config: &PipelineConfig,
        now_micros: i64,
    ) -> Result<Self> {
        let data = AppData::for_training(store, app, config, None)?;
        Ok(Self::new(app, &data.profile(), now_micros))
    }

    /// The report of a computed profile.
    pub fn new(app: &str, p: &DataProfile, now_micros: i64) -> Self {
        Self {
            app: app.to_string(),
            events: p.events,
            interactions: p.interactions,
            anonymous_events: p.anonymous_events,
            users: p.users,
            active_users: p.active_users,
            catalog_items: p.catalog_items,
            interacted_items: p.interacted_items,
            unknown_items: p.unknown_items,
            catalog_coverage: p.catalog_coverage,
            distinct_pairs: p.distinct_pairs,
            density: p.density,
            sparsity: p.sparsity(),
            per_user: (&p.per_user).into(),
            per_item: (&p.per_item).into(),
            items_with_text: p.items_with_text,
            items_with_categories: p.items_with_categories,
            first_event: p.first_event.map(|t| t.to_rfc3339()),
            last_event: p.last_event.map(|t| t.to_rfc3339()),
            span_days: p.span_days,
            days_since_last_event: p
                .last_event
                .map(|t| (now_micros - t.utc_micros) as f64 / MICROS_PER_DAY as f64),
            share_last_7_days: p.share_last_7_days,
            share_last_30_days: p.share_last_30_days,
            cold_threshold: COLD_THRESHOLD,
            cold_users: p.cold_users,
            cold_users_share: p.cold_users_share,
            cold_items: p.cold_items,
            cold_items_share: p.cold_items_share,
            events_by_type: p
                .events_by_type
                .iter()
                .map(|(t, n)| (t.as_str().to_string(), *n))
                .collect(),
            events_per_day: p
                .events_per_day
                .iter()
                .map(|(&day, &events)| DayCount {
                    day: utc_date(day),
                    events,
                })
                .collect(),
            users_by_activity: p.users_by_activity.iter().map(Bin::from).collect(),
            items_by_activity: p.items_by_activity.iter().map(Bin::from).collect(),
            recommended_algorithms: advise(p).iter().map(Suggestion::from).collect(),
        }
    }
}

/// `YYYY-MM-DD` of a day counted from 1970-01-01 (UTC).
fn utc_date(day: i64) -> String {
    chrono::DateTime::from_timestamp(day * 86_400, 0)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

impl From<&CountSummary> for Counts {
    fn from(s: &CountSummary) -> Self {
        Self {
            n: s.n,
            min: s.min,
            p25: s.p25,
            median: s.median,
            p75: s.p75,
            p90: s.p90,
            p99: s.p99,
            max: s.max,
            mean: s.mean,
            gini: s.gini,
        }
    }
}

impl From<&ActivityBin> for Bin {
    fn from(b: &ActivityBin) -> Self {
        Self {
            min: b.min,
            max: b.max,
            count: b.count,
        }
    }
}

impl From<&Advice> for Suggestion {
    fn from(a: &Advice) -> Self {
        Self {
            algorithm: a.family.algorithm(),
            title: a.family.title(),
            priority: a.priority,
            reasons: a.reasons.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use attune_core::event::{Context, Event, EventType, Properties};
    use attune_core::time::Timestamp;

    fn view(user: &str, item: &str, utc_micros: i64) -> Event {
        Event {
            event_id: format!("{user}-{item}-{utc_micros}"),
            event_type: EventType::View,
            user_id: Some(user.into()),
            anonymous_id: None,
            item_id: Some(item.into()),
            timestamp: Timestamp::from_utc_micros(utc_micros),
            value: None,
            properties: Properties::default(),
            context: Context::default(),
        }
    }

    #[test]
    fn days_are_utc_dates_and_bins_and_staleness_carry_over() {
        // 2026-11-28T00:00:00Z and one microsecond before it (the day before).
        let midnight = 1_795_824_000_000_000;
        let events = vec![
            view("u", "a", midnight - 1),
            view("u", "b", midnight),
            view("v", "a", midnight + 1),
        ];
        let p = DataProfile::compute(&events, &[]);
        let r = ProfileReport::new("shop", &p, midnight + 2 * MICROS_PER_DAY);
        let days: Vec<_> = r
            .events_per_day
            .iter()
            .map(|d| (d.day.as_str(), d.events))
            .collect();
        assert_eq!(days, vec![("2026-11-27", 1), ("2026-11-28", 2)]);
        assert_eq!(
            r.users_by_activity,
            vec![
                Bin {
                    min: 0,
                    max: 0,
                    count: 0
                },
                Bin {
                    min: 1,
                    max: 1,
                    count: 1
                },
                Bin {
                    min: 2,
                    max: 3,
                    count: 1
                },
            ]
        );
        assert_eq!(
            r.days_since_last_event,
            Some(2.0 - 1.0 / MICROS_PER_DAY as f64)
        );
        assert_eq!(r.events_by_type["view"], 3);
        assert_eq!(r.cold_threshold, COLD_THRESHOLD);
    }
}
