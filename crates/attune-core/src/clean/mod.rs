//! The cleaning pass: duplicates, bots, outlier items and events for unknown items.
//!
//! Used by `attune clean --report` (report only) and by training (keep only the clean events).
//! [`clean`] never copies or reorders events: it returns one verdict per input event
//! ([`Cleaned::verdicts`], `None` = keep) plus a [`CleanReport`] that explains every removal.
//!
//! # Rules and precedence
//! Every removed event carries exactly one [`Reason`]: the first rule below that fires. The order
//! is also the order of [`Reason`]'s variants (and so of [`CleanReport::removed_by_reason`]).
//!
//! 1. [`Reason::DuplicateEventId`]: the same `event_id` seen again (a file imported twice). The
//!    earliest occurrence is kept.
//! 2. [`Reason::UnknownItem`] (if `drop_unknown_items`): the item is not in the catalog.
//! 3. [`Reason::UnavailableItem`] (if `drop_unavailable_items`): the item is withdrawn.
//! 4. [`Reason::BotUser`] (if `drop_bot_users`): every event of an actor whose activity is a
//!    robust outlier (see below).
//! 5. [`Reason::NearDuplicate`]: same actor, item and type less than
//!    `near_duplicate_window_secs` after the last *kept* such event (a double-submitted click).
//!    Anchoring on the last kept event means a long burst keeps one event per window rather
//!    than collapsing to a single event.
//! 6. [`Reason::OutlierItem`] (if `drop_outlier_items`): every event on an item whose
//!    interaction count is a robust outlier.
//!
//! "First" and "earliest" mean time order (`timestamp.utc_micros`), ties broken by input
//! position, so the verdicts do not depend on how the input was sorted.
//!
//! # Bots and outliers
//! Per actor ([`Event::actor`]) two measures are taken over all events except exact duplicates
//! and impressions: the event count and the peak count in any `rate_window_secs` window.
//! Impressions are left out because the page emits them, not the person: a feed that shows ten
//! cards per scroll would make every reader look like a bot. Each measure gets its own
//! `median + bot_mad_k · MAD` rule ([`RobustRule`]) over all actors; an actor with at least
//! `min_events_for_outlier` events that exceeds a rule is *flagged*, and is a *bot* when the
//! configured [`BotRule`] says so. The peak rate must also reach an absolute pace
//! (`bot_min_events_per_sec`, default one event per second), because a rule relative to the
//! population calls fast but human raters bots. Per item, the interaction count (non-impression events that
//! survived rules 1–5) gets the same rule with `item_outlier_mad_k`.
//!
//! Bot statistics include events on unknown items (a scraper hitting dead links is still a
//! scraper) and near duplicates (rapid repeats are exactly what a bot does).

mod config;
mod lookup;
pub mod robust;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

pub use config::{
    BotRule, CleanConfig, ParamError, ValidCleanConfig, MAX_NEAR_DUPLICATE_WINDOW_SECS,
    MAX_RATE_WINDOW_SECS,
};
pub use lookup::{AnyItem, CatalogIndex, ItemCatalog, ItemStatus};
pub use robust::RobustRule;

use crate::event::{Event, EventType};

/// Why an event was removed. The variant order is the precedence order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    /// The same `event_id` occurred earlier.
    DuplicateEventId,
    /// The item is not in the catalog.
    UnknownItem,
    /// The item is in the catalog but unavailable.
    UnavailableItem,
    /// The actor is a bot.
    BotUser,
    /// A repeat of the same actor/item/type within the near-duplicate window.
    NearDuplicate,
    /// The item's interaction count is an outlier.
    OutlierItem,
}

impl Reason {
    /// Every reason, in precedence order.
    pub const ALL: [Reason; 6] = [
        Reason::DuplicateEventId,
        Reason::UnknownItem,
        Reason::UnavailableItem,
        Reason::BotUser,
        Reason::NearDuplicate,
        Reason::OutlierItem,
    ];

    /// A stable snake_case name for reports and metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::DuplicateEventId => "duplicate_event_id",
            Reason::UnknownItem => "unknown_item",
            Reason::UnavailableItem => "unavailable_item",
            Reason::BotUser => "bot_user",
            Reason::NearDuplicate => "near_duplicate",
            Reason::OutlierItem => "outlier_item",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether an event is something the person did, as opposed to something shown to them.
///
/// Impressions are emitted by the page; counting them as activity or interest would make heavy
/// feed readers look like bots and make the recommender's own picks look popular.
pub fn is_user_action(event_type: &EventType) -> bool {
    !matches!(event_type, EventType::Impression)
}

/// The activity measures of one actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActorStats {
    /// Events (excluding impressions and exact duplicates).
    pub events: u64,
    /// Most of those events in any `rate_window_secs` window.
    pub peak_events_in_window: u64,
}

/// Which robust rule(s) an actor exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ActorFlag {
    /// Only the event count is an outlier (a heavy user, or a slow scraper).
    EventCount,
    /// Only the peak rate is an outlier (a burst).
    PeakRate,
    /// Both.
    CountAndRate,
}

impl ActorFlag {
    /// A stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ActorFlag::EventCount => "event_count",
            ActorFlag::PeakRate => "peak_rate",
            ActorFlag::CountAndRate => "count_and_rate",
        }
    }
}

/// An actor whose activity exceeded at least one robust rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlaggedActor {
    /// The actor id (user id, or anonymous id when there is no user id).
    pub actor: String,
    /// Which rules fired.
    pub flag: ActorFlag,
    /// Whether the configured [`BotRule`] classifies the actor as a bot.
    pub is_bot: bool,
    /// Whether the actor's events were removed (`is_bot` and `drop_bot_users`).
    pub removed: bool,
    /// The measures that were compared.
    pub stats: ActorStats,
}

/// An item whose interaction count exceeded the robust rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlaggedItem {
    /// The item id.
    pub item_id: String,
    /// Interactions (non-impression events that survived rules 1–5).
    pub interactions: u64,
    /// Whether its events were removed (`drop_outlier_items`).
    pub removed: bool,
}

/// What the cleaning pass found and removed.
#[derive(Debug, Clone, PartialEq)]
pub struct CleanReport {
    /// Events given.
    pub input_events: u64,
    /// Events kept.
    pub kept: u64,
    /// Removed events per reason; every [`Reason`] is present (0 when it never fired), in
    /// precedence order. The values sum to `input_events - kept`.
    pub removed_by_reason: BTreeMap<Reason, u64>,
    /// Events (not exact duplicates) whose item is not in the catalog, removed or not.
    pub unknown_item_events: u64,
    /// Distinct item ids not in the catalog.
    pub distinct_unknown_items: u64,
    /// Events (not exact duplicates) whose item is unavailable, removed or not.
    pub unavailable_item_events: u64,
    /// Actors that exceeded a rule, most active first (ties by id).
    pub flagged_users: Vec<FlaggedActor>,
    /// Items that exceeded the rule, most interacted first (ties by id).
    pub flagged_items: Vec<FlaggedItem>,
    /// The fitted rule over per-actor event counts.
    pub actor_count_rule: RobustRule,
    /// The fitted rule over per-actor peak counts.
    pub actor_rate_rule: RobustRule,
    /// The fitted rule over per-item interaction counts.
    pub item_count_rule: RobustRule,
}

impl CleanReport {
    /// Events removed for any reason.
    pub fn removed(&self) -> u64 {
        self.input_events - self.kept
    }
}

/// The result of [`clean`]: a verdict per input event and the report.
#[derive(Debug, Clone, PartialEq)]
pub struct Cleaned {
    /// One entry per input event, in input order: `None` to keep, `Some(reason)` to remove.
    pub verdicts: Vec<Option<Reason>>,
    /// Totals, flags and fitted rules.
    pub report: CleanReport,
}

impl Cleaned {
    /// Whether the event at input position `index` is kept.
    pub fn is_kept(&self, index: usize) -> bool {
        self.verdicts[index].is_none()
    }

    /// `true` for every kept event, in input order.
    pub fn keep_mask(&self) -> Vec<bool> {
        self.verdicts.iter().map(Option::is_none).collect()
    }

    /// The kept events, in input order, without copying.
    ///
    /// # Panics
    /// If `events` is not the slice that was cleaned (different length).
    pub fn kept<'e>(&'e self, events: &'e [Event]) -> impl Iterator<Item = &'e Event> + 'e {
        assert_eq!(
            events.len(),
            self.verdicts.len(),
            "kept() needs the slice that was cleaned"
        );
        events
            .iter()
            .zip(&self.verdicts)
            .filter(|(_, v)| v.is_none())
            .map(|(e, _)| e)
    }

    /// `(input position, reason)` of every removed event, in input order.
    pub fn removed(&self) -> impl Iterator<Item = (usize, Reason)> + '_ {
        self.verdicts
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.map(|r| (i, r)))
    }
}

/// Input positions in time order, ties by position. Skips the sort when already in order (a
/// store scan usually is).
fn time_order(events: &[Event]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..events.len()).collect();
    let sorted = events
        .windows(2)
        .all(|w| w[0].timestamp.utc_micros <= w[1].timestamp.utc_micros);
    if !sorted {
        // Stable, so equal timestamps stay in input order.
        order.sort_by_key(|&i| events[i].timestamp.utc_micros);
    }
    order
}

/// Most timestamps in any half-open window `[t, t + window)`; `ts` must be sorted.
fn peak_in_window(ts: &[i64], window: i64) -> u64 {
    let mut start = 0;
    let mut peak = 0;
    for end in 0..ts.len() {
        while ts[end] - ts[start] >= window {
            start += 1;
        }
        peak = peak.max(end - start + 1);
    }
    peak as u64
}

/// Run the cleaning pass over `events` (any order) against `catalog`.
///
/// Deterministic: the verdicts and the report depend only on the inputs, not on their order
/// (beyond tie-breaking between events with identical timestamps).
pub fn clean<C: ItemCatalog + ?Sized>(
    events: &[Event],
    catalog: &C,
    config: &ValidCleanConfig,
) -> Cleaned {
    let cfg = config.config();
    let order = time_order(events);
    let mut verdicts: Vec<Option<Reason>> = vec![None; events.len()];

    // 1. Exact duplicates.
    let mut seen_ids: HashSet<&str> = HashSet::with_capacity(events.len());
    for &i in &order {
        if !seen_ids.insert(events[i].event_id.as_str()) {
            verdicts[i] = Some(Reason::DuplicateEventId);
        }
    }
    drop(seen_ids);

    // 2-3. Catalog membership, counted whether or not the events are dropped.
    let mut unknown_items: HashSet<&str> = HashSet::new();
    let (mut unknown_item_events, mut unavailable_item_events) = (0u64, 0u64);
    for (e, verdict) in events.iter().zip(verdicts.iter_mut()) {
        let (None, Some(item)) = (*verdict, e.item_id.as_deref()) else {
            continue;
        };
        match catalog.status(item) {
            ItemStatus::Available => {}
            ItemStatus::Unknown => {
                unknown_item_events += 1;
                unknown_items.insert(item);
                if cfg.drop_unknown_items {
                    *verdict = Some(Reason::UnknownItem);
                }
            }
            ItemStatus::Unavailable => {
                unavailable_item_events += 1;
                if cfg.drop_unavailable_items {
                    *verdict = Some(Reason::UnavailableItem);
                }
            }
        }
    }

    // 4. Per-actor activity over everything but exact duplicates and impressions.
    let mut actor_index: HashMap<&str, usize> = HashMap::new();
    let mut actor_times: Vec<Vec<i64>> = Vec::new();
    for &i in &order {
        let e = &events[i];
        if verdicts[i] == Some(Reason::DuplicateEventId) || !is_user_action(&e.event_type) {
            continue;
        }
        let next = actor_times.len();
        let a = *actor_index.entry(e.actor()).or_insert(next);
        if a == next {
            actor_times.push(Vec::new());
        }
        actor_times[a].push(e.timestamp.utc_micros);
    }
    let window = config.rate_window_micros();
    let stats: Vec<ActorStats> = actor_times
        .iter()
        .map(|ts| ActorStats {
            events: ts.len() as u64,
            peak_events_in_window: peak_in_window(ts, window),
        })
        .collect();
    drop(actor_times);
    let mut scratch = Vec::with_capacity(stats.len());
    let actor_count_rule = RobustRule::fit(
        stats.iter().map(|s| s.events as f64),
        cfg.bot_mad_k,
        &mut scratch,
    );
    let actor_rate_rule = RobustRule::fit(
        stats.iter().map(|s| s.peak_events_in_window as f64),
        cfg.bot_mad_k,
        &mut scratch,
    );

    let mut is_bot = vec![false; stats.len()];
    let mut flagged_users = Vec::new();
    for (actor, &a) in &actor_index {
        let s = stats[a];
        if s.events < cfg.min_events_for_outlier {
            continue;
        }
        let by_count = actor_count_rule.is_outlier(s.events as f64);
        let peak = s.peak_events_in_window as f64;
        let by_rate = actor_rate_rule.is_outlier(peak) && peak >= config.min_bot_peak_events();
        let flag = match (by_count, by_rate) {
            (true, true) => ActorFlag::CountAndRate,
            (true, false) => ActorFlag::EventCount,
            (false, true) => ActorFlag::PeakRate,
            (false, false) => continue,
        };
        let bot = match cfg.bot_rule {
            BotRule::CountAndRate => flag == ActorFlag::CountAndRate,
            BotRule::CountOrRate => true,
        };
        is_bot[a] = bot;
        flagged_users.push(FlaggedActor {
            actor: (*actor).to_string(),
            flag,
            is_bot: bot,
            removed: bot && cfg.drop_bot_users,
            stats: s,
        });
    }
    flagged_users.sort_by(|a, b| {
        b.stats
            .events
            .cmp(&a.stats.events)
            .then_with(|| a.actor.cmp(&b.actor))
    });
    if cfg.drop_bot_users && is_bot.contains(&true) {
        for (e, verdict) in events.iter().zip(verdicts.iter_mut()) {
            if verdict.is_none() && actor_index.get(e.actor()).is_some_and(|&a| is_bot[a]) {
                *verdict = Some(Reason::BotUser);
            }
        }
    }
    drop(actor_index);

    // 5. Near duplicates, anchored on the last kept event of each (actor, item, type).
    let near_window = config.near_duplicate_window_micros();
    if near_window > 0 {
        let mut last_kept: HashMap<(&str, Option<&str>, &EventType), i64> = HashMap::new();
        for &i in &order {
            if verdicts[i].is_some() {
                continue;
            }
            let e = &events[i];
            let t = e.timestamp.utc_micros;
            let key = (e.actor(), e.item_id.as_deref(), &e.event_type);
            match last_kept.get_mut(&key) {
                Some(last) if t - *last < near_window => verdicts[i] = Some(Reason::NearDuplicate),
                Some(last) => *last = t,
                None => {
                    last_kept.insert(key, t);
                }
            }
        }
    }

    // 6. Outlier items over what survived so far.
    let mut item_counts: HashMap<&str, u64> = HashMap::new();
    for (e, verdict) in events.iter().zip(&verdicts) {
        if let (None, Some(item), true) =
            (verdict, e.item_id.as_deref(), is_user_action(&e.event_type))
        {
            *item_counts.entry(item).or_insert(0) += 1;
        }
    }
    let item_count_rule = RobustRule::fit(
        item_counts.values().map(|&c| c as f64),
        cfg.item_outlier_mad_k,
        &mut scratch,
    );
    let mut flagged_items: Vec<FlaggedItem> = item_counts
        .iter()
        .filter(|(_, &c)| c >= cfg.min_events_for_outlier && item_count_rule.is_outlier(c as f64))
        .map(|(id, &c)| FlaggedItem {
            item_id: (*id).to_string(),
            interactions: c,
            removed: cfg.drop_outlier_items,
        })
        .collect();
    flagged_items.sort_by(|a, b| {
        b.interactions
            .cmp(&a.interactions)
            .then_with(|| a.item_id.cmp(&b.item_id))
    });
    if cfg.drop_outlier_items && !flagged_items.is_empty() {
        let outliers: HashSet<&str> = flagged_items.iter().map(|f| f.item_id.as_str()).collect();
        for (e, verdict) in events.iter().zip(verdicts.iter_mut()) {
            if verdict.is_none() && e.item_id.as_deref().is_some_and(|it| outliers.contains(it)) {
                *verdict = Some(Reason::OutlierItem);
            }
        }
    }

    let mut removed_by_reason: BTreeMap<Reason, u64> =
        Reason::ALL.iter().map(|&r| (r, 0)).collect();
    let mut kept = 0u64;
    for v in &verdicts {
        match v {
            None => kept += 1,
            Some(r) => *removed_by_reason.entry(*r).or_insert(0) += 1,
        }
    }
    let report = CleanReport {
        input_events: events.len() as u64,
        kept,
        removed_by_reason,
        unknown_item_events,
        distinct_unknown_items: unknown_items.len() as u64,
        unavailable_item_events,
        flagged_users,
        flagged_items,
        actor_count_rule,
        actor_rate_rule,
        item_count_rule,
    };
    Cleaned { verdicts, report }
}
