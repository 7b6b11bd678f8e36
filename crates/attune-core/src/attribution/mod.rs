//! Outcome attribution: which served list caused which click, cart add, purchase or dwell.
//!
//! Serving logs every list as impression events (one per item) that carry the list's
//! `recommendation_id` (property `recommendation_id`), the item's `position` (1-based), the
//! `model_version` and the list's `source`, and, for users in an experiment, `experiment` and
//! `variant` in the event's context. An outcome is attributed to a list when:
//! - **click-through:** it carries the list's `recommendation_id` (in `context` or as a
//!   property) and happened within `window` after the list was served; its position is the
//!   position of its item in that list (none when the item was not listed: a purchase of
//!   something else after clicking through);
//! - **view-through** (optional): it carries no id, its user saw its item in a list within
//!   `window` before it, and no click-through already claimed it; the latest such list wins.
//!
//! Outcomes are `click`, `add_to_cart`, `purchase` (revenue = price × quantity) and `dwell`
//! (milliseconds). Each outcome event is attributed once. The unit of analysis downstream is
//! the user: [`Attribution::per_user`] sums everything per (group, user), where the group is
//! what a report compares (variant, model version, source).
//!
//! Pure: events in, facts out; the caller reads the store.

mod aggregate;

use std::collections::HashMap;

use crate::event::{Event, EventType, PropValue};

pub use aggregate::{Group, UserOutcomes};

/// Property and context names the impression log writes and attribution reads.
pub mod names {
    /// The list's id (a property of impressions; outcomes carry it in `context`).
    pub const RECOMMENDATION_ID: &str = "recommendation_id";
    /// 1-based position of the item in the list.
    pub const POSITION: &str = "position";
    /// The model version that produced the list.
    pub const MODEL_VERSION: &str = "model_version";
    /// Where the list came from (`personalized`, `cold_start`, ...).
    pub const SOURCE: &str = "source";
    /// Why the item was listed: the reason kind (`because`, `interest`, `for_you`,
    /// `popular_in`, `trending`, `popular`), so explanations can be audited later.
    pub const REASON: &str = "reason";
    /// Milliseconds the server took to compute the list (on the first item's impression).
    pub const LATENCY_MS: &str = "latency_ms";
}

/// How attribution is done.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AttributionParams {
    /// An outcome counts for a list served at most this long before it (microseconds).
    pub window_micros: i64,
    /// Also attribute outcomes without a recommendation id to the latest list that showed
    /// their item to their user within the window.
    pub view_through: bool,
}

impl Default for AttributionParams {
    /// A 24-hour window, click-through only.
    fn default() -> Self {
        Self {
            window_micros: 24 * 3_600 * 1_000_000,
            view_through: false,
        }
    }
}

/// One served list, rebuilt from its impressions.
#[derive(Debug, Clone, PartialEq)]
pub struct ServedList {
    /// Its recommendation id.
    pub recommendation_id: String,
    /// Whom it was served to (user id, else device id).
    pub user: String,
    /// When (the earliest impression), UTC micros.
    pub served_micros: i64,
    /// Items by position (index 0 is position 1).
    pub items: Vec<String>,
    /// The model version, if logged.
    pub model_version: Option<u32>,
    /// The list's source, if logged.
    pub source: Option<String>,
    /// Experiment and variant, when the user was in one.
    pub experiment: Option<(String, String)>,
    /// Milliseconds the server took to compute it, if logged.
    pub latency_ms: Option<f64>,
}

/// What an outcome was.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Outcome {
    /// A click.
    Click,
    /// An item added to the cart.
    AddToCart,
    /// A purchase and its revenue (0 without a price).
    Purchase {
        /// price × quantity.
        revenue: f64,
    },
    /// Time spent on the item.
    Dwell {
        /// Milliseconds.
        ms: u64,
    },
}

impl Outcome {
    /// The outcome an event is, if it is one.
    pub fn of(e: &Event) -> Option<Outcome> {
        match e.event_type {
            EventType::Click => Some(Outcome::Click),
            EventType::AddToCart => Some(Outcome::AddToCart),
            EventType::Purchase => Some(Outcome::Purchase {
                revenue: e.revenue().unwrap_or(0.0),
            }),
            EventType::Dwell => e.properties.dwell_ms.map(|ms| Outcome::Dwell { ms }),
            _ => None,
        }
    }
}

/// An outcome attributed to a list.
#[derive(Debug, Clone, PartialEq)]
pub struct Attributed {
    /// Index into [`Attribution::lists`].
    pub list: usize,
    /// What happened.
    pub outcome: Outcome,
    /// The position of the outcome's item in the list (`None`: not listed).
    pub position: Option<u32>,
    /// Attributed without an id, by user and item (view-through).
    pub view_through: bool,
    /// When, UTC micros.
    pub at_micros: i64,
}

/// Lists and the outcomes attributed to them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Attribution {
    /// Every list seen in the impressions, by served time.
    pub lists: Vec<ServedList>,
    /// Every attributed outcome.
    pub outcomes: Vec<Attributed>,
    /// Outcomes that carried an id no impression has (impressions dropped or not logged).
    pub unmatched_ids: usize,
    /// Outcomes with an id that came after the window (or before the list).
    pub outside_window: usize,
}

fn text<'a>(e: &'a Event, name: &str) -> Option<&'a str> {
    match e.properties.extra.get(name) {
        Some(PropValue::Text(t)) => Some(t.as_str()),
        _ => None,
    }
}

fn number(e: &Event, name: &str) -> Option<f64> {
    match e.properties.extra.get(name) {
        Some(PropValue::Number(x)) => Some(*x),
        _ => None,
    }
}

/// The recommendation id an outcome carries: `context.recommendation_id`, else the property.
fn carried_id(e: &Event) -> Option<&str> {
    e.context
        .recommendation_id
        .as_deref()
        .or_else(|| text(e, names::RECOMMENDATION_ID))
}

/// Attribute `events` (any order) by `params`.
pub fn attribute(events: &[Event], params: &AttributionParams) -> Attribution {
    // 1. Lists from impressions.
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut lists: Vec<ServedList> = Vec::new();
    let mut positions: Vec<Vec<(u32, String)>> = Vec::new();
    for e in events
        .iter()
        .filter(|e| e.event_type == EventType::Impression)
    {
        let (Some(id), Some(item), Some(user)) = (
            text(e, names::RECOMMENDATION_ID),
            e.item_id.as_deref(),
            e.user_key(),
        ) else {
            continue;
        };
        let k = *index.entry(id).or_insert_with(|| {
            lists.push(ServedList {
                recommendation_id: id.to_string(),
                user: user.to_string(),
                served_micros: e.timestamp.utc_micros,
                items: Vec::new(),
                model_version: number(e, names::MODEL_VERSION)
                    .filter(|v| *v >= 0.0 && v.fract() == 0.0)
                    .map(|v| v as u32),
                source: text(e, names::SOURCE).map(str::to_string),
                experiment: e.context.experiment.clone().zip(e.context.variant.clone()),
                latency_ms: None,
            });
            positions.push(Vec::new());
            lists.len() - 1
        });
        let l = &mut lists[k];
        l.served_micros = l.served_micros.min(e.timestamp.utc_micros);
        if let Some(ms) = number(e, names::LATENCY_MS).filter(|x| x.is_finite() && *x >= 0.0) {
            l.latency_ms = Some(ms);
        }
        let pos = number(e, names::POSITION)
            .filter(|p| *p >= 1.0 && p.fract() == 0.0)
            .map_or(positions[k].len() as u32 + 1, |p| p as u32);
        positions[k].push((pos, item.to_string()));
    }
    for (l, mut p) in lists.iter_mut().zip(positions) {
        p.sort();
        p.dedup_by(|a, b| a.0 == b.0);
        l.items = p.into_iter().map(|(_, item)| item).collect();
    }
    // Lists by served time; the index follows.
    let mut order: Vec<usize> = (0..lists.len()).collect();
    order.sort_by(|&a, &b| {
        (lists[a].served_micros, &lists[a].recommendation_id)
            .cmp(&(lists[b].served_micros, &lists[b].recommendation_id))
    });
    let lists: Vec<ServedList> = order.iter().map(|&k| lists[k].clone()).collect();
    let by_id: HashMap<&str, usize> = lists
        .iter()
        .enumerate()
        .map(|(k, l)| (l.recommendation_id.as_str(), k))
        .collect();
    // (user, item) -> lists that showed the item to the user, by time (view-through).
    let mut shown: HashMap<(&str, &str), Vec<usize>> = HashMap::new();
    if params.view_through {
        for (k, l) in lists.iter().enumerate() {
            for item in &l.items {
                shown
                    .entry((l.user.as_str(), item.as_str()))
                    .or_default()
                    .push(k);
            }
        }
    }

    // 2. Outcomes.
    let mut out = Attribution {
        lists: Vec::new(),
        outcomes: Vec::new(),
        unmatched_ids: 0,
        outside_window: 0,
    };
    let in_window = |l: &ServedList, t: i64| {
        t >= l.served_micros && t - l.served_micros <= params.window_micros
    };
    let position = |l: &ServedList, item: Option<&str>| {
        item.and_then(|i| l.items.iter().position(|x| x == i))
            .map(|p| p as u32 + 1)
    };
    for e in events {
        let Some(outcome) = Outcome::of(e) else {
            continue;
        };
        let t = e.timestamp.utc_micros;
        match carried_id(e) {
            Some(id) => match by_id.get(id) {
                None => out.unmatched_ids += 1,
                Some(&k) if in_window(&lists[k], t) => out.outcomes.push(Attributed {
                    list: k,
                    outcome,
                    position: position(&lists[k], e.item_id.as_deref()),
                    view_through: false,
                    at_micros: t,
                }),
                Some(_) => out.outside_window += 1,
            },
            None if params.view_through => {
                let (Some(user), Some(item)) = (e.user_key(), e.item_id.as_deref()) else {
                    continue;
                };
                let latest = shown
                    .get(&(user, item))
                    .and_then(|ks| ks.iter().rev().copied().find(|&k| in_window(&lists[k], t)));
                if let Some(k) = latest {
                    out.outcomes.push(Attributed {
                        list: k,
                        outcome,
                        position: position(&lists[k], Some(item)),
                        view_through: true,
                        at_micros: t,
                    });
                }
            }
            None => {}
        }
    }
    out.lists = lists;
    out
}

#[cfg(test)]
mod tests;
