//! A statistical profile of an app's interaction data.
//!
//! The first thing to look at before choosing an algorithm: how sparse the user-item matrix is,
//! how concentrated popularity is, how many users and items are cold, whether the catalog has the
//! text and categories content-based methods need, and how fresh the data is.
//!
//! A store scan visits events one at a time, so the profile is built by streaming:
//! [`ProfileBuilder::push`] each event, then [`ProfileBuilder::finish`] with the catalog. Memory
//! grows with the number of distinct actors, items and user-item pairs (and minutes spanned),
//! not with the number of events. [`DataProfile::compute`] does both steps for a slice.
//!
//! # Definitions
//! - An *interaction* is an event on an item that the person did: every type except
//!   impressions, which the page emits (see [`crate::clean::is_user_action`]).
//! - *Users* are distinct actors ([`Event::actor`]: user id, else anonymous id).
//! - *Quantiles* use linear interpolation between closest ranks (Hyndman & Fan type 7, the
//!   default of numpy and R): for sorted `x[0..n]` and level `q`, `h = (n - 1)·q` and the result
//!   is `x[⌊h⌋] + (h - ⌊h⌋)·(x[⌊h⌋+1] - x[⌊h⌋])`.
//! - *Gini* of counts sorted ascending `x_1..x_n`: `Σ (2i - n - 1)·x_i / (n·Σ x_i)`; 0 when every
//!   count is equal (or all are 0), approaching 1 when one entry holds everything.
//! - *Activity histograms* bin per-user and per-item interaction counts by powers of two
//!   (`0`, `1`, `2–3`, `4–7`, ...): activity is heavy-tailed, so equal-width bins would put
//!   nearly everyone in the first one. See [`activity_histogram`].

pub mod advice;

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::catalog::Item;
use crate::clean::is_user_action;
use crate::event::{Event, EventType};
use crate::time::{Timestamp, MICROS_PER_DAY, MICROS_PER_SEC};

/// Users and items with fewer interactions than this are *cold*.
pub const COLD_THRESHOLD: u64 = 5;

/// Distribution of a per-user or per-item count.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CountSummary {
    /// How many users (or items) the summary covers, zero counts included.
    pub n: u64,
    /// Smallest count.
    pub min: f64,
    /// 25th percentile.
    pub p25: f64,
    /// Median.
    pub median: f64,
    /// 75th percentile.
    pub p75: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest count.
    pub max: f64,
    /// Mean count.
    pub mean: f64,
    /// Gini coefficient of the counts (concentration).
    pub gini: f64,
}

impl CountSummary {
    /// Summarize `counts`, sorting them in place. All fields are 0 for no counts.
    pub fn from_counts(counts: &mut [u64]) -> Self {
        counts.sort_unstable();
        if counts.is_empty() {
            return Self {
                n: 0,
                min: 0.0,
                p25: 0.0,
                median: 0.0,
                p75: 0.0,
                p90: 0.0,
                p99: 0.0,
                max: 0.0,
                mean: 0.0,
                gini: 0.0,
            };
        }
        let sorted: Vec<f64> = counts.iter().map(|&c| c as f64).collect();
        let q = |level| quantile_sorted(&sorted, level);
        let total: f64 = sorted.iter().sum();
        Self {
            n: counts.len() as u64,
            min: sorted[0],
            p25: q(0.25),
            median: q(0.5),
            p75: q(0.75),
            p90: q(0.9),
            p99: q(0.99),
            max: sorted[sorted.len() - 1],
            mean: total / sorted.len() as f64,
            gini: gini_sorted(counts),
        }
    }
}

/// Quantile `q` (0..=1) of ascending `sorted` values by linear interpolation (type 7).
///
/// # Panics
/// If `sorted` is empty.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    assert!(!sorted.is_empty(), "quantile of an empty sample");
    let h = (sorted.len() - 1) as f64 * q.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    match sorted.get(lo + 1) {
        Some(&next) => sorted[lo] + (h - lo as f64) * (next - sorted[lo]),
        None => sorted[lo],
    }
}

/// Gini coefficient of ascending counts; 0 for an empty or all-zero input.
pub fn gini_sorted(sorted: &[u64]) -> f64 {
    let n = sorted.len() as f64;
    let total: f64 = sorted.iter().map(|&c| c as f64).sum();
    if total == 0.0 {
        return 0.0;
    }
    let weighted: f64 = sorted
        .iter()
        .enumerate()
        .map(|(i, &c)| (2.0 * (i as f64 + 1.0) - n - 1.0) * c as f64)
        .sum();
    weighted / (n * total)
}

/// One bin of an activity histogram: how many users (or items) have between `min` and `max`
/// interactions, both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActivityBin {
    /// Fewest interactions in the bin.
    pub min: u64,
    /// Most interactions in the bin.
    pub max: u64,
    /// Users (or items) in it.
    pub count: u64,
}

/// Counts binned by powers of two: `[0]`, `[1]`, `[2, 3]`, `[4, 7]`, ... up to the bin of the
/// largest count, empty bins included (a chart's x axis). Empty for no counts.
pub fn activity_histogram(counts: &[u64]) -> Vec<ActivityBin> {
    let Some(&top) = counts.iter().max() else {
        return Vec::new();
    };
    // Bin 0 holds 0; bin k ≥ 1 holds [2^(k-1), 2^k - 1], i.e. the counts of bit length k.
    let bin = |c: u64| (u64::BITS - c.leading_zeros()) as usize;
    let mut bins: Vec<ActivityBin> = (0..=bin(top))
        .map(|k| match k {
            0 => ActivityBin {
                min: 0,
                max: 0,
                count: 0,
            },
            k => ActivityBin {
                min: 1 << (k - 1),
                max: (1u64 << (k - 1)) - 1 + (1u64 << (k - 1)),
                count: 0,
            },
        })
        .collect();
    for &c in counts {
        bins[bin(c)].count += 1;
    }
    bins
}

/// The profile of one app's data.
#[derive(Debug, Clone, PartialEq)]
pub struct DataProfile {
    /// Events of every type.
    pub events: u64,
    /// Interactions (events on an item, impressions excluded).
    pub interactions: u64,
    /// Events with no user id (anonymous devices).
    pub anonymous_events: u64,
    /// Distinct actors.
    pub users: u64,
    /// Actors with at least one interaction (the rows of an interaction matrix).
    pub active_users: u64,
    /// Distinct items in the catalog.
    pub catalog_items: u64,
    /// Distinct items with at least one interaction (the columns of an interaction matrix).
    pub interacted_items: u64,
    /// Interacted items missing from the catalog (0 when no catalog was given).
    pub unknown_items: u64,
    /// Share of catalog items with at least one interaction (0 for an empty catalog).
    pub catalog_coverage: f64,
    /// Distinct (user, item) pairs with at least one interaction.
    pub distinct_pairs: u64,
    /// `distinct_pairs / (active_users × interacted_items)`: the filled share of the interaction
    /// matrix. Pairs rather than events, so repeat views cannot push it past 1.
    pub density: f64,
    /// Interactions per user, over all users.
    pub per_user: CountSummary,
    /// Interactions per item, over catalog items and interacted unknown items (never-touched
    /// catalog items count as 0: they are the coldest of all).
    pub per_item: CountSummary,
    /// Share of catalog items with a non-blank title or description.
    pub items_with_text: f64,
    /// Share of catalog items with at least one category.
    pub items_with_categories: f64,
    /// Earliest event.
    pub first_event: Option<Timestamp>,
    /// Latest event.
    pub last_event: Option<Timestamp>,
    /// Days between the first and last event.
    pub span_days: f64,
    /// Share of events in the 7 days up to the last event (minute resolution: the 7×1440 whole
    /// UTC minutes ending with the last event's minute).
    pub share_last_7_days: f64,
    /// Same for 30 days.
    pub share_last_30_days: f64,
    /// Users with fewer than [`COLD_THRESHOLD`] interactions.
    pub cold_users: u64,
    /// `cold_users / users`.
    pub cold_users_share: f64,
    /// Items (as in `per_item`) with fewer than [`COLD_THRESHOLD`] interactions.
    pub cold_items: u64,
    /// `cold_items / per_item.n`.
    pub cold_items_share: f64,
    /// Events per type.
    pub events_by_type: BTreeMap<EventType, u64>,
    /// Events per UTC day, keyed by days since 1970-01-01, days without events left out.
    pub events_per_day: BTreeMap<i64, u64>,
    /// Users by their number of interactions ([`activity_histogram`] of the counts `per_user`
    /// summarizes).
    pub users_by_activity: Vec<ActivityBin>,
    /// Items by their number of interactions (the counts `per_item` summarizes).
    pub items_by_activity: Vec<ActivityBin>,
}

impl DataProfile {
    /// Profile a slice of events against a catalog.
    pub fn compute(events: &[Event], items: &[Item]) -> Self {
        let mut b = ProfileBuilder::default();
        for e in events {
            b.push(e);
        }
        b.finish(items)
    }

    /// `1 - density`.
    pub fn sparsity(&self) -> f64 {
        1.0 - self.density
    }
}

const MICROS_PER_MINUTE: i64 = 60 * MICROS_PER_SEC;

/// Accumulates a [`DataProfile`] one event at a time.
#[derive(Debug, Clone, Default)]
pub struct ProfileBuilder {
    actor_index: HashMap<String, u32>,
    user_interactions: Vec<u64>,
    item_index: HashMap<String, u32>,
    item_interactions: Vec<u64>,
    pairs: HashSet<u64>,
    events: u64,
    interactions: u64,
    anonymous_events: u64,
    by_type: BTreeMap<EventType, u64>,
    first: Option<Timestamp>,
    last: Option<Timestamp>,
    per_minute: BTreeMap<i64, u64>,
}

fn intern(index: &mut HashMap<String, u32>, counts: &mut Vec<u64>, key: &str) -> u32 {
    if let Some(&i) = index.get(key) {
        return i;
    }
    let i = counts.len() as u32;
    index.insert(key.to_string(), i);
    counts.push(0);
    i
}

impl ProfileBuilder {
    /// Account for one event (any order).
    pub fn push(&mut self, e: &Event) {
        self.events += 1;
        if e.user_id.is_none() {
            self.anonymous_events += 1;
        }
        match self.by_type.get_mut(&e.event_type) {
            Some(c) => *c += 1,
            None => {
                self.by_type.insert(e.event_type.clone(), 1);
            }
        }
        let t = e.timestamp;
        if self.first.is_none_or(|f| t.utc_micros < f.utc_micros) {
            self.first = Some(t);
        }
        if self.last.is_none_or(|l| t.utc_micros > l.utc_micros) {
            self.last = Some(t);
        }
        *self
            .per_minute
            .entry(t.utc_micros.div_euclid(MICROS_PER_MINUTE))
            .or_insert(0) += 1;

        let u = intern(
            &mut self.actor_index,
            &mut self.user_interactions,
            e.actor(),
        );
        if let (Some(item), true) = (e.item_id.as_deref(), is_user_action(&e.event_type)) {
            let i = intern(&mut self.item_index, &mut self.item_interactions, item);
            self.interactions += 1;
            self.user_interactions[u as usize] += 1;
            self.item_interactions[i as usize] += 1;
            self.pairs.insert((u64::from(u) << 32) | u64::from(i));
        }
    }

    /// Finish against the catalog.
    pub fn finish(self, items: &[Item]) -> DataProfile {
        let catalog: HashMap<&str, &Item> =
            items.iter().map(|it| (it.item_id.as_str(), it)).collect();
        let catalog_items = catalog.len() as u64;
        let share = |part: u64, whole: u64| {
            if whole == 0 {
                0.0
            } else {
                part as f64 / whole as f64
            }
        };

        let interacted_items = self.item_interactions.iter().filter(|&&c| c > 0).count() as u64;
        let (mut unknown_items, mut covered) = (0u64, 0u64);
        if !catalog.is_empty() {
            for id in self.item_index.keys() {
                if catalog.contains_key(id.as_str()) {
                    covered += 1;
                } else {
                    unknown_items += 1;
                }
            }
        }
        // Per-item counts: interacted items, plus catalog items never touched (count 0).
        let mut item_counts = self.item_interactions.clone();
        let untouched = catalog
            .keys()
            .filter(|id| !self.item_index.contains_key(**id))
            .count();
        item_counts.resize(item_counts.len() + untouched, 0);
        let cold_items = item_counts.iter().filter(|&&c| c < COLD_THRESHOLD).count() as u64;
        let items_by_activity = activity_histogram(&item_counts);
        let per_item = CountSummary::from_counts(&mut item_counts);

        let users = self.user_interactions.len() as u64;
        let active_users = self.user_interactions.iter().filter(|&&c| c > 0).count() as u64;
        let cold_users = self
            .user_interactions
            .iter()
            .filter(|&&c| c < COLD_THRESHOLD)
            .count() as u64;
        let users_by_activity = activity_histogram(&self.user_interactions);
        let mut user_counts = self.user_interactions;
        let per_user = CountSummary::from_counts(&mut user_counts);

        let distinct_pairs = self.pairs.len() as u64;
        let cells = active_users as f64 * interacted_items as f64;
        let density = if cells > 0.0 {
            distinct_pairs as f64 / cells
        } else {
            0.0
        };

        let has_text = |t: &Option<String>| t.as_deref().is_some_and(|s| !s.trim().is_empty());
        let with_text = catalog
            .values()
            .filter(|it| has_text(&it.title) || has_text(&it.description))
            .count() as u64;
        let with_categories = catalog
            .values()
            .filter(|it| !it.categories.is_empty())
            .count() as u64;

        let recent = |days: i64| -> u64 {
            let Some(last) = self.last else { return 0 };
            let last_minute = last.utc_micros.div_euclid(MICROS_PER_MINUTE);
            let from = last_minute - days * 1440;
            self.per_minute.range(from + 1..).map(|(_, c)| c).sum()
        };
        let span_days = match (self.first, self.last) {
            (Some(f), Some(l)) => (l.utc_micros - f.utc_micros) as f64 / MICROS_PER_DAY as f64,
            _ => 0.0,
        };
        let minutes_per_day = MICROS_PER_DAY / MICROS_PER_MINUTE;
        let mut events_per_day = BTreeMap::new();
        for (minute, n) in &self.per_minute {
            *events_per_day
                .entry(minute.div_euclid(minutes_per_day))
                .or_insert(0) += n;
        }

        DataProfile {
            events: self.events,
            interactions: self.interactions,
            anonymous_events: self.anonymous_events,
            users,
            active_users,
            catalog_items,
            interacted_items,
            unknown_items,
            catalog_coverage: share(covered, catalog_items),
            distinct_pairs,
            density,
            per_user,
            cold_items_share: share(cold_items, per_item.n),
            per_item,
            items_with_text: share(with_text, catalog_items),
            items_with_categories: share(with_categories, catalog_items),
            first_event: self.first,
            last_event: self.last,
            span_days,
            share_last_7_days: share(recent(7), self.events),
            share_last_30_days: share(recent(30), self.events),
            cold_users,
            cold_users_share: share(cold_users, users),
            cold_items,
            events_by_type: self.by_type,
            events_per_day,
            users_by_activity,
            items_by_activity,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Properties;

    /// 2026-11-28T00:00:00Z
    const LAST_DAY: i64 = 1_795_824_000 * MICROS_PER_SEC;

    fn ev(actor: &str, item: Option<&str>, t: EventType, days_before: f64) -> Event {
        Event {
            event_id: format!("{actor}-{item:?}-{days_before}"),
            event_type: t,
            user_id: (!actor.starts_with("anon")).then(|| actor.to_string()),
            anonymous_id: actor.starts_with("anon").then(|| actor.to_string()),
            item_id: item.map(str::to_string),
            timestamp: Timestamp::from_utc_micros(
                LAST_DAY - (days_before * MICROS_PER_DAY as f64) as i64,
            ),
            value: None,
            properties: Properties::default(),
            context: Default::default(),
        }
    }

    fn catalog() -> Vec<Item> {
        let mut a = Item::new("book-a");
        a.title = Some("Dune".into());
        a.categories = vec!["books".into(), "sci-fi".into()];
        let mut b = Item::new("book-b");
        b.description = Some("A cookbook of Sicilian recipes".into());
        let mut c = Item::new("book-c");
        c.title = Some("   ".into()); // blank: no text
        c.categories = vec!["books".into()];
        let d = Item::new("book-d"); // never touched
        vec![a, b, c, d]
    }

    /// A small bookshop log, with hand-computed answers below.
    fn log() -> Vec<Event> {
        use EventType::*;
        let mut v = vec![
            ev("ann", Some("book-a"), Impression, 40.0),
            ev("ann", Some("book-a"), View, 40.0),
            ev("ann", Some("book-a"), View, 20.0),
            ev("ann", Some("book-a"), Purchase, 20.0),
            ev("ann", Some("book-b"), View, 10.0),
            ev("ann", Some("book-c"), View, 6.0),
            ev("ann", Some("book-c"), Rating, 6.0),
            ev("bob", Some("book-a"), View, 3.0),
            ev("bob", Some("book-x"), Click, 2.0), // not in the catalog
            ev("anon-7", Some("book-a"), Impression, 1.0),
            ev("anon-7", Some("book-a"), View, 0.0),
        ];
        v.push(ev("bob", None, Custom("share".into()), 0.5));
        v
    }

    #[test]
    fn bookshop_profile_matches_hand_computation() {
        let p = DataProfile::compute(&log(), &catalog());
        assert_eq!((p.events, p.interactions, p.anonymous_events), (12, 9, 2));
        assert_eq!((p.users, p.active_users), (3, 3));
        assert_eq!(
            (p.catalog_items, p.interacted_items, p.unknown_items),
            (4, 4, 1)
        );
        assert_eq!(p.catalog_coverage, 0.75);
        // Pairs: ann×{a,b,c}, bob×{a,x}, anon-7×{a} = 6 of 3 users × 4 items.
        assert_eq!(p.distinct_pairs, 6);
        assert_eq!(p.density, 0.5);
        assert_eq!(p.sparsity(), 0.5);
        // Users: ann 6, bob 2, anon-7 1 interactions.
        assert_eq!(
            (
                p.per_user.min,
                p.per_user.median,
                p.per_user.max,
                p.per_user.mean
            ),
            (1.0, 2.0, 6.0, 3.0)
        );
        // Items: a 5, b 1, c 2, x 1, d 0.
        assert_eq!(p.per_item.n, 5);
        assert_eq!(
            (p.per_item.p25, p.per_item.median, p.per_item.p75),
            (1.0, 1.0, 2.0)
        );
        // Gini of 0,1,1,2,5: (-4·0 - 2·1 + 0·1 + 2·2 + 4·5) / (5·9) = 22/45.
        assert!((p.per_item.gini - 22.0 / 45.0).abs() < 1e-12);
        assert_eq!((p.cold_users, p.cold_items), (2, 4));
        assert_eq!(p.cold_items_share, 0.8);
        assert_eq!((p.items_with_text, p.items_with_categories), (0.5, 0.5));
        assert_eq!(p.span_days, 40.0);
        // Last 7 days: the 6-day rating and view, 3, 2, 1, 0.5 and 0 days = 7 of 12.
        assert_eq!(p.share_last_7_days, 7.0 / 12.0);
        // Last 30 days: all but the two 40-day-old events.
        assert_eq!(p.share_last_30_days, 10.0 / 12.0);
        assert_eq!(p.events_by_type[&EventType::View], 6);
        assert_eq!(p.events_by_type[&EventType::Custom("share".into())], 1);
        assert_eq!(
            p.first_event.unwrap().utc_micros,
            LAST_DAY - 40 * MICROS_PER_DAY
        );
    }

    #[test]
    fn bookshop_days_and_activity_histograms_match_hand_computation() {
        let p = DataProfile::compute(&log(), &catalog());
        // LAST_DAY is day 20785; events 40, 20, 10, 6, 3, 2, 1, 0.5 and 0 days before it
        // (half a day before midnight is the previous day).
        let day = LAST_DAY / MICROS_PER_DAY;
        let want: BTreeMap<i64, u64> = [
            (day - 40, 2),
            (day - 20, 2),
            (day - 10, 1),
            (day - 6, 2),
            (day - 3, 1),
            (day - 2, 1),
            (day - 1, 2),
            (day, 1),
        ]
        .into();
        assert_eq!(p.events_per_day, want);
        assert_eq!(p.events_per_day.values().sum::<u64>(), p.events);
        // Users: ann 6, bob 2, anon-7 1 → bins [1] 1, [2,3] 1, [4,7] 1.
        let bins = |h: &[ActivityBin]| {
            h.iter()
                .map(|b| (b.min, b.max, b.count))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            bins(&p.users_by_activity),
            vec![(0, 0, 0), (1, 1, 1), (2, 3, 1), (4, 7, 1)]
        );
        // Items: a 5, b 1, c 2, x 1, d 0.
        assert_eq!(
            bins(&p.items_by_activity),
            vec![(0, 0, 1), (1, 1, 2), (2, 3, 1), (4, 7, 1)]
        );
    }

    #[test]
    fn activity_bins_are_powers_of_two_up_to_the_largest_count() {
        let h = activity_histogram(&[8, 0, 15, 16]);
        let got: Vec<_> = h.iter().map(|b| (b.min, b.max, b.count)).collect();
        assert_eq!(
            got,
            vec![
                (0, 0, 1),
                (1, 1, 0),
                (2, 3, 0),
                (4, 7, 0),
                (8, 15, 2),
                (16, 31, 1)
            ]
        );
        assert!(activity_histogram(&[]).is_empty());
        let top = activity_histogram(&[u64::MAX]);
        assert_eq!(
            top.last().map(|b| (b.min, b.max)),
            Some((1 << 63, u64::MAX))
        );
    }

    #[test]
    fn streaming_order_does_not_matter() {
        let mut events = log();
        let forward = DataProfile::compute(&events, &catalog());
        events.reverse();
        events.rotate_left(5);
        assert_eq!(DataProfile::compute(&events, &catalog()), forward);
    }

    #[test]
    fn recency_window_boundary_is_exclusive_at_minute_resolution() {
        use EventType::View;
        // Exactly 7 days before the last event is outside; one minute later is inside.
        let events = vec![
            ev("u", Some("i"), View, 7.0),
            ev("u", Some("i"), View, 7.0 - 1.0 / 1440.0),
            ev("u", Some("i"), View, 0.0),
        ];
        let p = DataProfile::compute(&events, &[]);
        assert_eq!(p.share_last_7_days, 2.0 / 3.0);
        assert_eq!(p.unknown_items, 0, "no catalog, nothing is unknown");
        assert_eq!(p.catalog_coverage, 0.0);
    }

    #[test]
    fn gini_hand_values() {
        assert_eq!(gini_sorted(&[1, 1, 1, 1]), 0.0);
        assert_eq!(gini_sorted(&[0, 0, 0, 1]), 0.75);
        assert_eq!(gini_sorted(&[1, 2, 3, 4]), 0.25);
        assert_eq!(gini_sorted(&[]), 0.0);
        assert_eq!(gini_sorted(&[0, 0]), 0.0);
    }

    #[test]
    fn quantiles_interpolate_linearly() {
        let x = [1.0, 2.0, 3.0, 4.0];
        let got: Vec<f64> = [0.0, 0.25, 0.5, 0.75, 0.9, 1.0]
            .iter()
            .map(|&q| quantile_sorted(&x, q))
            .collect();
        assert_eq!(got, vec![1.0, 1.75, 2.5, 3.25, 3.7, 4.0]);
        assert_eq!(quantile_sorted(&[7.0], 0.99), 7.0);
        let s = CountSummary::from_counts(&mut [4, 1, 3, 2]);
        assert_eq!((s.p25, s.median, s.mean, s.gini), (1.75, 2.5, 2.5, 0.25));
        assert!((s.p99 - 3.97).abs() < 1e-12);
    }

    #[test]
    fn empty_input_profiles_to_zeros() {
        let p = DataProfile::compute(&[], &[]);
        assert_eq!(
            (p.events, p.users, p.density, p.share_last_7_days),
            (0, 0, 0.0, 0.0)
        );
        assert_eq!(p.first_event, None);
        assert_eq!(p.per_user.n, 0);
        assert!(p.events_per_day.is_empty() && p.users_by_activity.is_empty());
    }
}
