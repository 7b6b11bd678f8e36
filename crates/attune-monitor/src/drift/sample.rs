//! What one window of events looks like for drift: the values of every feature, computed the
//! same way for the reference (the end of the training data) and for the window now.

use std::collections::{BTreeMap, HashMap};

use attune_core::catalog::AttrValue;
use attune_core::event::{Event, EventType};
use attune_store::{EventFilter, Store};
use serde::{Deserialize, Serialize};

use crate::error::Result;

/// Most values a stored reference keeps per feature: a longer sample is thinned to evenly
/// spaced order statistics, which keeps its distribution (deciles, CDF) to within 1/this.
pub const MAX_STORED_VALUES: usize = 20_000;

/// One attribute's values over a window's events.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AttrSample {
    /// Numeric values (numbers; true/false as 1/0).
    pub numbers: Vec<f64>,
    /// Text values' counts.
    pub categories: BTreeMap<String, u64>,
}

/// Every feature's values over one window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Interaction events read (impressions left out: they are what attune served, not what
    /// users did).
    pub events: u64,
    /// Events per type (`event_type`).
    pub event_types: BTreeMap<String, u64>,
    /// Events per item with at least one (`item_events`).
    pub item_events: Vec<f64>,
    /// Events per user with at least one (`user_events`).
    pub user_events: Vec<f64>,
    /// Per event, its item's position in the training popularity ranking (`item_rank`); an
    /// item the ranking does not hold is one past its end.
    pub item_rank: Vec<f64>,
    /// Events whose item the training ranking does not hold.
    pub new_item_events: u64,
    /// `item.<attr>` / `user.<attr>` values, per event.
    pub attributes: BTreeMap<String, AttrSample>,
    /// Model scores of sampled users' top items (`score`; filled by the caller that has the
    /// model).
    pub score: Vec<f64>,
}

/// The interaction events of `app` in `[since, until)` (`since = i64::MIN`: from the first),
/// at most `max_events` (the first of a busier window).
pub fn read_events(
    store: &dyn Store,
    app: &str,
    since_micros: i64,
    until_micros: i64,
    max_events: usize,
) -> Result<Vec<Event>> {
    let filter = EventFilter {
        since_micros: (since_micros > i64::MIN).then_some(since_micros),
        until_micros: Some(until_micros),
        // Left out in the store: at ten impressions per served list, decoding them only to
        // drop them was most of a drift tick's reading.
        skip_impressions: true,
        ..EventFilter::default()
    };
    let mut events = Vec::new();
    store.scan_events(app, &filter, &mut |e| {
        if e.timestamp.utc_micros < until_micros
            && e.event_type != EventType::Impression
            && e.item_id.is_some()
        {
            events.push(e);
        }
        events.len() < max_events
    })?;
    Ok(events)
}

/// The interactions of the window `[since, until)`, at most `max_events`, and the start
/// actually read: when the window holds more, its latest part lasting as long as the first
/// read covered (one more read), as the quality window does, so a busy app's tick stays
/// bounded and judges its latest data.
pub fn read_window(
    store: &dyn Store,
    app: &str,
    since_micros: i64,
    until_micros: i64,
    max_events: usize,
) -> Result<(i64, Vec<Event>)> {
    let events = read_events(store, app, since_micros, until_micros, max_events)?;
    if events.len() < max_events {
        return Ok((since_micros, events));
    }
    let covered = events.last().map_or(0, |e| e.timestamp.utc_micros) - since_micros;
    let since = until_micros - covered.max(1);
    Ok((
        since,
        read_events(store, app, since, until_micros, max_events)?,
    ))
}

/// The popularity ranking of every item in `events`: most events first, ties by id.
pub fn ranking(events: &[Event]) -> Vec<String> {
    let mut counts: HashMap<&str, u64> = HashMap::new();
    for e in events {
        if let Some(item) = e.item_id.as_deref() {
            *counts.entry(item).or_default() += 1;
        }
    }
    let mut items: Vec<(&str, u64)> = counts.into_iter().collect();
    items.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    items.into_iter().map(|(i, _)| i.to_string()).collect()
}

/// Every feature's values over `events` (scores left empty). `rank` is the training
/// ranking as item → position; attributes are read from the store's items and users.
pub fn sample(
    store: &dyn Store,
    app: &str,
    events: &[Event],
    rank: &HashMap<String, u32>,
    attributes: &[String],
) -> Result<Sample> {
    let mut s = Sample {
        events: events.len() as u64,
        ..Sample::default()
    };
    let mut per_item: HashMap<&str, u64> = HashMap::new();
    let mut per_user: HashMap<&str, u64> = HashMap::new();
    let unknown = rank.len() as u32;
    for e in events {
        *s.event_types
            .entry(e.event_type.as_str().to_string())
            .or_default() += 1;
        let item = e.item_id.as_deref().unwrap_or("");
        *per_item.entry(item).or_default() += 1;
        *per_user.entry(e.actor()).or_default() += 1;
        let r = rank.get(item).copied().unwrap_or(unknown);
        if r == unknown {
            s.new_item_events += 1;
        }
        s.item_rank.push(f64::from(r));
    }
    s.item_events = per_item.values().map(|&n| n as f64).collect();
    s.user_events = per_user.values().map(|&n| n as f64).collect();
    for name in attributes {
        s.attributes
            .insert(name.clone(), attribute(store, app, events, name)?);
    }
    Ok(s)
}

/// The values of `item.<attr>` or `user.<attr>` over `events`, one per event that has one.
fn attribute(store: &dyn Store, app: &str, events: &[Event], name: &str) -> Result<AttrSample> {
    let mut cache: HashMap<&str, Option<AttrValue>> = HashMap::new();
    let mut out = AttrSample::default();
    for e in events {
        let key = match name.strip_prefix("item.") {
            Some(_) => e.item_id.as_deref().unwrap_or(""),
            None => e.user_id.as_deref().unwrap_or(""),
        };
        if key.is_empty() {
            continue;
        }
        if !cache.contains_key(key) {
            let v = lookup(store, app, name, key)?;
            cache.insert(key, v);
        }
        match &cache[key] {
            Some(AttrValue::Number(x)) if x.is_finite() => out.numbers.push(*x),
            Some(AttrValue::Bool(b)) => out.numbers.push(f64::from(u8::from(*b))),
            Some(AttrValue::Text(t)) => *out.categories.entry(t.clone()).or_default() += 1,
            _ => {}
        }
    }
    Ok(out)
}

fn lookup(store: &dyn Store, app: &str, name: &str, key: &str) -> Result<Option<AttrValue>> {
    if let Some(attr) = name.strip_prefix("item.") {
        let Some(item) = store.get_item(app, key)? else {
            return Ok(None);
        };
        if attr == "category" {
            return Ok(item.categories.first().cloned().map(AttrValue::Text));
        }
        return Ok(item.attributes.get(attr).cloned());
    }
    let attr = name.strip_prefix("user.").unwrap_or(name);
    Ok(store
        .get_user(app, key)?
        .and_then(|u| u.attributes.get(attr).cloned()))
}

impl Sample {
    /// Thin every value list to at most [`MAX_STORED_VALUES`] (for storing a reference).
    pub fn thinned(mut self) -> Self {
        for v in [
            &mut self.item_events,
            &mut self.user_events,
            &mut self.item_rank,
            &mut self.score,
        ] {
            thin(v);
        }
        for a in self.attributes.values_mut() {
            thin(&mut a.numbers);
        }
        self
    }
}

/// Keep `MAX_STORED_VALUES` evenly spaced order statistics of `v` (sorted).
fn thin(v: &mut Vec<f64>) {
    v.sort_by(f64::total_cmp);
    if v.len() <= MAX_STORED_VALUES {
        return;
    }
    let n = v.len();
    let step = n as f64 / MAX_STORED_VALUES as f64;
    *v = (0..MAX_STORED_VALUES)
        .map(|k| v[((k as f64 + 0.5) * step) as usize])
        .collect();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinning_keeps_the_distribution() {
        let mut v: Vec<f64> = (0..100_000).rev().map(|i| f64::from(i % 1000)).collect();
        thin(&mut v);
        assert_eq!(v.len(), MAX_STORED_VALUES);
        let median = v[v.len() / 2];
        assert!((median - 500.0).abs() <= 1.0, "{median}");
    }

    #[test]
    fn the_ranking_puts_the_busiest_item_first() {
        let e = |item: &str| Event {
            event_id: format!("e-{item}"),
            event_type: EventType::View,
            user_id: Some("u".into()),
            anonymous_id: None,
            item_id: Some(item.into()),
            timestamp: attune_core::time::Timestamp::from_utc_micros(0),
            value: None,
            properties: Default::default(),
            context: Default::default(),
        };
        let events = [e("b"), e("a"), e("b"), e("c"), e("a"), e("b")];
        assert_eq!(ranking(&events), ["b", "a", "c"]);
    }
}
