//! Live state: what happened since the model was trained, so the next request reflects a
//! click without a retrain.
//!
//! - [`LiveUsers`]: per user, the implicit weights and ratings of events after the model's data
//!   snapshot (keyed by item id, so they mean the same under any model version), the most
//!   recent items, consent, onboarding preferences, and what they said they are not interested
//!   in (read whole from the store's dismissals, whenever they were made). An entry is created on the user's first
//!   request by reading their events after the snapshot from the store, and kept current by
//!   [`LiveUsers::observe`] as events are committed; it is bounded (least recently used
//!   entries are dropped and simply re-read later).
//! - Every change gives the user a new **generation** from one counter; cached lists carry the
//!   generation they were computed at, so a list computed before an event (even one that raced
//!   with it) never matches again, and an entry that was dropped and re-read gets a generation
//!   no old list has.
//! - With several replicas, an entry also remembers the shared generation it was loaded at
//!   ([`crate::shared`]); the engine reloads it when another replica moved that generation.
//! - [`Trending`]: exponentially decayed interaction counts per item, updated as events arrive.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use attune_core::event::{Dismissal, Event};

use crate::shared::SharedGeneration;
use attune_core::event::EventWeighting;

/// One user's live state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LiveUser {
    /// Changes with every event or reload (see the module docs).
    pub generation: u64,
    /// Personalization allowed (the user's consent; `true` when they have no profile).
    pub personalization: bool,
    /// Onboarding category preferences, in order.
    pub preferred_categories: Vec<String>,
    /// Implicit weight per item id, summed over events after the model's snapshot.
    pub implicit: BTreeMap<String, f32>,
    /// Latest rating per item id after the snapshot.
    pub ratings: BTreeMap<String, f32>,
    /// The most recent item ids with a positive weight, newest last.
    pub recent: VecDeque<String>,
    /// Items the user said they are not interested in: never listed again.
    pub dismissed_items: BTreeSet<String>,
    /// Categories the user said they are not interested in: none of their items is listed.
    pub dismissed_categories: BTreeSet<String>,
    /// The shared generation read just before the events were (`None`: no shared state, or it
    /// was unreachable). Local events observed later do not change it.
    pub shared: Option<SharedGeneration>,
    /// Their segment (`[serving.segments]`: the profile attribute), read with their profile.
    pub segment: Option<String>,
    /// Their profile encoded as the snapshot's hybrid model's user features (empty for other
    /// models, or without a usable attribute): encoded once at load, so a request only sums a
    /// few embeddings.
    pub profile_features: Vec<(u32, f32)>,
}

/// What a user's profile and dismissals say, read with their live state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserFacts {
    /// Personalization allowed (their consent; `true` without a profile).
    pub personalization: bool,
    /// Onboarding category preferences, in order.
    pub preferred: Vec<String>,
    /// Everything they said they are not interested in.
    pub dismissed: Vec<Dismissal>,
    /// Their segment, when serving by segment is on.
    pub segment: Option<String>,
    /// Their profile as the model's user features ([`LiveUser::profile_features`]).
    pub profile_features: Vec<(u32, f32)>,
}

/// Bounded per-user live state of one app under one model version.
pub struct LiveUsers {
    users: moka::sync::Cache<String, Arc<Mutex<LiveUser>>>,
    clock: AtomicU64,
    max_recent: usize,
}

impl LiveUsers {
    /// At most `capacity` users, `max_recent` recent items each.
    pub fn new(capacity: u64, max_recent: usize) -> Self {
        Self {
            users: moka::sync::Cache::new(capacity),
            clock: AtomicU64::new(1),
            max_recent,
        }
    }

    fn tick(&self) -> u64 {
        self.clock.fetch_add(1, Ordering::Relaxed)
    }

    /// The user's state, if it is loaded.
    pub fn get(&self, user: &str) -> Option<LiveUser> {
        let entry = self.users.get(user)?;
        let u = entry.lock().unwrap_or_else(PoisonError::into_inner);
        Some(u.clone())
    }

    /// The user's generation and the shared generation it was loaded at, if the user is
    /// loaded: what a cache hit needs, without copying the state.
    pub fn generation(&self, user: &str) -> Option<(u64, Option<SharedGeneration>)> {
        let entry = self.users.get(user)?;
        let u = entry.lock().unwrap_or_else(PoisonError::into_inner);
        Some((u.generation, u.shared))
    }

    /// The user's segment if the user is loaded and current with the shared generation
    /// `shared` (as [`LiveUsers::generation`] would have it): what routing by segment needs on
    /// the hot path, without copying the state. `Some(None)`: loaded, without a segment.
    pub fn segment(&self, user: &str, shared: Option<SharedGeneration>) -> Option<Option<String>> {
        let entry = self.users.get(user)?;
        let u = entry.lock().unwrap_or_else(PoisonError::into_inner);
        (shared.is_none() || u.shared == shared).then(|| u.segment.clone())
    }

    /// Load the user: `events` are their stored events after the model's snapshot (oldest
    /// first), `facts` from their profile and dismissals (whenever made), `shared` the shared
    /// generation read before them. Events that arrived in the meantime through
    /// [`LiveUsers::observe`] are part of what the store returned, so the entry simply replaces
    /// any half-built one.
    pub fn load(
        &self,
        user: &str,
        facts: UserFacts,
        events: &[Event],
        weighting: &EventWeighting,
        shared: Option<SharedGeneration>,
    ) -> LiveUser {
        let mut u = LiveUser {
            generation: self.tick(),
            personalization: facts.personalization,
            preferred_categories: facts.preferred,
            shared,
            segment: facts.segment,
            profile_features: facts.profile_features,
            ..LiveUser::default()
        };
        for d in facts.dismissed {
            dismiss(&mut u, d);
        }
        if u.personalization {
            for e in events {
                apply(&mut u, e, weighting, self.max_recent);
            }
        }
        self.users
            .insert(user.to_string(), Arc::new(Mutex::new(u.clone())));
        u
    }

    /// Apply committed events to the users that are loaded (others read them from the store
    /// when they are next needed). A user who opted out gets no profile: their events are not
    /// applied, but their generation still moves (their lists may change, e.g. trending).
    /// Returns the users whose state changed.
    pub fn observe(&self, events: &[Event], weighting: &EventWeighting) -> Vec<String> {
        let mut touched = Vec::new();
        for e in events {
            let Some(key) = e.user_key() else { continue };
            let Some(entry) = self.users.get(key) else {
                continue;
            };
            let mut u = entry.lock().unwrap_or_else(PoisonError::into_inner);
            // A dismissal is a control, not a preference: it holds whatever the consent.
            if let Some(d) = e.dismissal() {
                dismiss(&mut u, d);
            }
            if u.personalization {
                apply(&mut u, e, weighting, self.max_recent);
            }
            u.generation = self.tick();
            touched.push(key.to_string());
        }
        touched.sort_unstable();
        touched.dedup();
        touched
    }

    /// Drop a user's state (consent or profile changed, user erased): the next request reads
    /// it again.
    pub fn forget(&self, user: &str) {
        self.users.invalidate(user);
    }

    /// Users loaded (approximate, for metrics).
    pub fn len(&self) -> u64 {
        self.users.entry_count()
    }

    /// Whether no user is loaded (approximate).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn dismiss(u: &mut LiveUser, d: Dismissal) {
    match d {
        Dismissal::Item(i) => u.dismissed_items.insert(i),
        Dismissal::Category(c) => u.dismissed_categories.insert(c),
    };
}

fn apply(u: &mut LiveUser, e: &Event, weighting: &EventWeighting, max_recent: usize) {
    let Some(item) = e.item_id.as_deref() else {
        return;
    };
    if let Some(r) = e.rating() {
        u.ratings.insert(item.to_string(), r as f32);
    }
    let w = weighting.live_history_weight(e);
    if w > 0.0 {
        *u.implicit.entry(item.to_string()).or_insert(0.0) += w;
        u.recent.retain(|i| i != item);
        u.recent.push_back(item.to_string());
        while u.recent.len() > max_recent {
            u.recent.pop_front();
        }
    }
}

/// Exponentially decayed counts per item id: `value · 2^(−Δt / half_life) + weight` on each
/// event, read at a given time.
pub struct Trending {
    half_life_micros: f64,
    items: Mutex<HashMap<String, (f64, i64)>>,
    latest: std::sync::atomic::AtomicI64,
}

impl Trending {
    /// Counts halving every `half_life_micros`.
    pub fn new(half_life_micros: i64) -> Self {
        Self {
            half_life_micros: half_life_micros.max(1) as f64,
            items: Mutex::default(),
            latest: std::sync::atomic::AtomicI64::new(i64::MIN),
        }
    }

    fn decayed(&self, value: f64, from: i64, to: i64) -> f64 {
        value * (-((to - from).max(0) as f64) / self.half_life_micros).exp2()
    }

    /// Count events (weighed by `weighting`; weight-0 events are skipped).
    pub fn observe(&self, events: &[Event], weighting: &EventWeighting) {
        let mut items = self.items.lock().unwrap_or_else(PoisonError::into_inner);
        for e in events {
            let (Some(item), w) = (e.item_id.as_deref(), weighting.live_weight(e)) else {
                continue;
            };
            if w <= 0.0 {
                continue;
            }
            let t = e.timestamp.utc_micros;
            self.latest.fetch_max(t, Ordering::Relaxed);
            let entry = items.entry(item.to_string()).or_insert((0.0, t));
            // Events may arrive slightly out of order: decay to the later of the two times.
            let (value, at) = *entry;
            *entry = if t >= at {
                (self.decayed(value, at, t) + f64::from(w), t)
            } else {
                (value + self.decayed(f64::from(w), t, at), at)
            };
        }
    }

    /// Every item's count at `now_micros`, highest first (ties by id).
    pub fn ranked(&self, now_micros: i64) -> Vec<(String, f64)> {
        let items = self.items.lock().unwrap_or_else(PoisonError::into_inner);
        let mut v: Vec<(String, f64)> = items
            .iter()
            .map(|(k, &(value, at))| (k.clone(), self.decayed(value, at, now_micros.max(at))))
            .collect();
        drop(items);
        v.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v
    }

    /// The time of the latest event counted: "now" for trending, so a replay of historical
    /// data ranks as it did then (`None` before any event).
    pub fn latest_micros(&self) -> Option<i64> {
        Some(self.latest.load(Ordering::Relaxed)).filter(|&t| t != i64::MIN)
    }

    /// Items counted.
    pub fn len(&self) -> usize {
        self.items
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether nothing was counted.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use attune_core::event::{Context, EventType, Properties};
    use attune_core::time::{Timestamp, MICROS_PER_DAY};

    fn ev(user: &str, item: &str, t: EventType, micros: i64) -> Event {
        Event {
            event_id: format!("{user}-{item}-{micros}"),
            event_type: t,
            user_id: Some(user.into()),
            anonymous_id: None,
            item_id: Some(item.into()),
            timestamp: Timestamp::from_utc_micros(micros),
            value: None,
            properties: Properties::default(),
            context: Context::default(),
        }
    }

    #[test]
    fn observe_updates_loaded_users_and_moves_generations() {
        let w = EventWeighting::default();
        let live = LiveUsers::new(100, 2);
        let u = live.load(
            "u1",
            UserFacts {
                personalization: true,
                ..UserFacts::default()
            },
            &[ev("u1", "a", EventType::View, 1)],
            &w,
            None,
        );
        assert_eq!(u.implicit["a"], 1.0);
        let g0 = u.generation;
        let touched = live.observe(
            &[
                ev("u1", "b", EventType::Purchase, 2),
                ev("u1", "a", EventType::Click, 3),
                ev("u1", "c", EventType::Impression, 4),
                ev("stranger", "a", EventType::View, 5),
            ],
            &w,
        );
        assert_eq!(touched, vec!["u1".to_string()]);
        let u = live.get("u1").unwrap();
        assert!(u.generation > g0);
        assert_eq!((u.implicit["a"], u.implicit["b"]), (2.0, 5.0));
        assert!(
            !u.implicit.contains_key("c"),
            "impressions carry no preference"
        );
        // Two recent items kept, newest last.
        assert_eq!(
            u.recent,
            VecDeque::from(vec!["b".to_string(), "a".to_string()])
        );
        assert!(live.get("stranger").is_none());
        live.forget("u1");
        assert!(live.get("u1").is_none());
        // A reload gets a generation no earlier state had.
        let again = live.load(
            "u1",
            UserFacts {
                personalization: true,
                ..UserFacts::default()
            },
            &[],
            &w,
            None,
        );
        assert!(again.generation > u.generation);
    }

    #[test]
    fn opted_out_users_build_no_profile() {
        let w = EventWeighting::default();
        let live = LiveUsers::new(100, 5);
        let u = live.load(
            "u",
            UserFacts {
                personalization: false,
                preferred: vec![],
                dismissed: vec![Dismissal::Item("z".into())],
                segment: Some("heavy".into()),
                profile_features: vec![(0, 1.5)],
            },
            &[ev("u", "a", EventType::View, 1)],
            &w,
            None,
        );
        assert!(u.implicit.is_empty());
        // The encoded profile is kept as loaded (even without personalization: it is not a
        // history, and `compute` never reads it for such users).
        assert_eq!(u.profile_features, [(0, 1.5)]);
        live.observe(&[ev("u", "b", EventType::Purchase, 2)], &w);
        let u = live.get("u").unwrap();
        assert!(u.implicit.is_empty() && u.recent.is_empty());
        // "Not interested" is a control, not a profile: it holds without consent too.
        assert!(u.dismissed_items.contains("z"));
        // The segment is a profile fact, read whatever the consent (it picks the version).
        assert_eq!(live.segment("u", None), Some(Some("heavy".to_string())));
        assert_eq!(live.segment("nobody", None), None);
        let g = u.generation;
        live.observe(&[ev("u", "y", EventType::NotInterested, 3)], &w);
        let u = live.get("u").unwrap();
        assert!(u.dismissed_items.contains("y") && u.generation > g);
        assert!(u.implicit.is_empty());
    }

    #[test]
    fn trending_decays_by_half_lives() {
        let w = EventWeighting::default();
        let t = Trending::new(MICROS_PER_DAY);
        let day = MICROS_PER_DAY;
        t.observe(
            &[
                ev("u", "old", EventType::Purchase, 0),
                ev("u", "new", EventType::View, 2 * day),
                ev("v", "new", EventType::View, 2 * day),
            ],
            &w,
        );
        let r = t.ranked(2 * day);
        // old: 5 · 2^-2 = 1.25 < new: 2.
        assert_eq!(r[0].0, "new");
        assert!(
            (r[0].1 - 2.0).abs() < 1e-9 && (r[1].1 - 1.25).abs() < 1e-9,
            "{r:?}"
        );
        // An event older than the item's last one is decayed to that time.
        t.observe(&[ev("u", "new", EventType::View, day)], &w);
        let r = t.ranked(2 * day);
        assert!((r[0].1 - 2.5).abs() < 1e-9, "{r:?}");
    }
}
