//! What one window of an app's stored events holds for quality: the lists served and the
//! outcomes attributed to them, item popularity among the window's active users, and the
//! catalogue.

use std::collections::{BTreeMap, HashMap, HashSet};

use attune_core::attribution::{attribute, Attribution, AttributionParams};
use attune_core::event::{Event, EventType};
use attune_store::{EventFilter, Store};

use crate::error::Result;

/// One window's data, with items indexed (`u32`) for the core's list metrics.
#[derive(Debug, Clone)]
pub struct Window {
    /// Lists served in the window and outcomes attributed to them (within the window).
    pub attribution: Attribution,
    /// Item id → index.
    pub index: HashMap<String, u32>,
    /// Per item index: distinct users who interacted with it in the window (not counting
    /// impressions).
    pub popularity: Vec<u32>,
    /// Distinct users who interacted with anything in the window.
    pub active_users: usize,
    /// Available items in the catalogue (0: no catalogue registered).
    pub catalogue: usize,
    /// The start of the events read: the window's, or later when it held more than the cap.
    pub since_micros: i64,
    /// Per item index: its categories (empty when unknown).
    pub categories: Vec<Vec<String>>,
}

impl Window {
    /// Read `[since, until)` of `app`, at most `max_events` events: when the window holds
    /// more, it is shortened to its latest part holding 90% of the cap, so a tick's cost
    /// stays bounded however busy the app. Where that part starts is found in the store's
    /// time index ([`Store::nth_newest_event_ts`]) without decoding events: one read of the
    /// events, not two (a capped window used to be read once to learn its rate).
    pub fn read(
        store: &dyn Store,
        app: &str,
        since_micros: i64,
        until_micros: i64,
        max_events: usize,
    ) -> Result<Self> {
        let mut since_micros = since_micros;
        let cap = max_events.max(1);
        let full = store
            .nth_newest_event_ts(app, until_micros, cap)?
            .is_some_and(|ts| ts >= since_micros);
        if full {
            let keep = ((cap as f64) * 0.9).ceil().max(1.0) as usize;
            if let Some(ts) = store.nth_newest_event_ts(app, until_micros, keep)? {
                since_micros = since_micros.max(ts);
            }
        }
        let events = Self::scan(store, app, since_micros, until_micros, cap)?;
        Self::build(store, app, events, since_micros, until_micros)
    }

    fn scan(
        store: &dyn Store,
        app: &str,
        since_micros: i64,
        until_micros: i64,
        max_events: usize,
    ) -> Result<Vec<Event>> {
        let filter = EventFilter {
            since_micros: Some(since_micros),
            until_micros: Some(until_micros),
            ..EventFilter::default()
        };
        let mut events: Vec<Event> = Vec::new();
        store.scan_events(app, &filter, &mut |e| {
            // Events are inclusive of `until` in the filter; the window is half-open.
            if e.timestamp.utc_micros < until_micros && e.item_id.is_some() {
                events.push(e);
            }
            events.len() < max_events
        })?;
        Ok(events)
    }

    fn build(
        store: &dyn Store,
        app: &str,
        events: Vec<Event>,
        since_micros: i64,
        until_micros: i64,
    ) -> Result<Self> {
        let attribution = attribute(
            &events,
            &AttributionParams {
                window_micros: until_micros - since_micros,
                view_through: false,
            },
        );
        let mut index: HashMap<String, u32> = HashMap::new();
        let id = |item: &str, index: &mut HashMap<String, u32>| -> u32 {
            let n = index.len() as u32;
            *index.entry(item.to_string()).or_insert(n)
        };
        let mut users_of: BTreeMap<u32, HashSet<&str>> = BTreeMap::new();
        let mut active: HashSet<&str> = HashSet::new();
        for e in &events {
            if e.event_type == EventType::Impression {
                continue;
            }
            let (Some(item), Some(user)) = (e.item_id.as_deref(), e.user_key()) else {
                continue;
            };
            let i = id(item, &mut index);
            users_of.entry(i).or_default().insert(user);
            active.insert(user);
        }
        for l in &attribution.lists {
            for item in &l.items {
                id(item, &mut index);
            }
        }
        let mut popularity = vec![0u32; index.len()];
        for (i, users) in users_of {
            popularity[i as usize] = users.len() as u32;
        }
        let active_users = active.len();
        let mut categories = vec![Vec::new(); index.len()];
        let mut catalogue = 0usize;
        store.scan_items(app, &mut |item| {
            if item.available {
                catalogue += 1;
            }
            if let Some(&i) = index.get(&item.item_id) {
                categories[i as usize] = item.categories;
            }
            true
        })?;
        Ok(Self {
            attribution,
            index,
            popularity,
            active_users,
            catalogue,
            categories,
            since_micros,
        })
    }

    /// Each served user's value of the profile attribute `attribute` (as experiment targeting
    /// reads it: `user_type` is `known` or `anonymous`); users without one are left out.
    pub fn segments(
        &self,
        store: &dyn Store,
        app: &str,
        attribute: &str,
    ) -> Result<HashMap<String, String>> {
        let mut out = HashMap::new();
        let users: HashSet<&str> = self
            .attribution
            .lists
            .iter()
            .map(|l| l.user.as_str())
            .collect();
        for user in users {
            let profile = store.get_user(app, user)?;
            if let Some(v) = attune_experiment::assign::attribute(profile.as_ref(), attribute) {
                out.insert(user.to_string(), v);
            }
        }
        Ok(out)
    }

    /// The index of a served item (every listed item has one).
    pub fn item(&self, id: &str) -> u32 {
        self.index[id]
    }
}
