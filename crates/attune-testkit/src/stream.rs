//! A simulated live event stream for monitoring tests: a catalogue with a popularity skew
//! (Zipf), users with an activity skew (log-normal), a fixed event-type mix and a steady rate,
//! so two windows of the same length differ only by sampling noise, unless a [`Shift`]
//! changes the mix or moves traffic to a new set of items.

use attune_core::catalog::Item;
use attune_core::event::{Event, EventType};
use attune_core::time::Timestamp;

use crate::dist::{self, Discrete};

/// The stream's shape.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamConfig {
    /// Catalogue size (`item-0` is the most popular).
    pub items: usize,
    /// Zipf exponent of item popularity.
    pub item_skew: f64,
    /// Users (`user-0` …).
    pub users: usize,
    /// Log-space spread of user activity (log-normal weights).
    pub activity_sigma: f64,
    /// Events per simulated minute.
    pub events_per_minute: usize,
    /// The event-type mix (weights).
    pub mix: Vec<(EventType, f64)>,
    /// Seed.
    pub seed: u64,
}

impl Default for StreamConfig {
    fn default() -> Self {
        Self {
            items: 3_000,
            item_skew: 1.0,
            users: 4_000,
            activity_sigma: 1.0,
            events_per_minute: 200,
            mix: vec![
                (EventType::View, 0.70),
                (EventType::Click, 0.18),
                (EventType::AddToCart, 0.08),
                (EventType::Purchase, 0.04),
            ],
            seed: 42,
        }
    }
}

/// A change of the stream from some time on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Shift {
    /// A different event-type mix.
    pub mix: Option<Vec<(EventType, f64)>>,
    /// `(k, share)`: `share` of events go to `k` items the catalogue did not have
    /// (`new-item-0` …), uniformly.
    pub new_items: Option<(usize, f64)>,
}

/// The stream: draw [`Stream::events`] for any interval.
#[derive(Debug, Clone)]
pub struct Stream {
    config: StreamConfig,
    items: Discrete,
    users: Discrete,
}

impl Stream {
    /// The stream of `config`.
    pub fn new(config: StreamConfig) -> Self {
        let items = Discrete::new((1..=config.items).map(|r| (r as f64).powf(-config.item_skew)));
        let mut rng = dist::stream(config.seed, 1);
        let users = Discrete::new(
            (0..config.users).map(|_| dist::log_normal(&mut rng, 1.0, config.activity_sigma)),
        );
        Self {
            config,
            items,
            users,
        }
    }

    /// The catalogue (every item available).
    pub fn catalogue(&self) -> Vec<Item> {
        (0..self.config.items)
            .map(|i| Item {
                item_id: format!("item-{i}"),
                available: true,
                ..Item::default()
            })
            .collect()
    }

    /// The events of `[from, to)` (UTC micros, whole minutes of `events_per_minute`, at
    /// uniform random times), under `shift`. `part` picks an independent random stream, so
    /// consecutive intervals drawn with different parts do not repeat each other.
    pub fn events(&self, from_micros: i64, to_micros: i64, shift: &Shift, part: u64) -> Vec<Event> {
        let mut rng = dist::stream(self.config.seed, 1_000 + part);
        let minutes = ((to_micros - from_micros) / 60_000_000).max(0) as usize;
        let n = minutes * self.config.events_per_minute;
        let mix = shift.mix.as_ref().unwrap_or(&self.config.mix);
        let types = Discrete::new(mix.iter().map(|(_, w)| *w));
        let span = (to_micros - from_micros) as f64;
        let mut events: Vec<Event> = (0..n)
            .map(|k| {
                let at = from_micros + (dist::unit(&mut rng) * span) as i64;
                let item = match shift.new_items {
                    Some((new, share)) if dist::unit(&mut rng) < share => {
                        format!("new-item-{}", dist::index(&mut rng, new))
                    }
                    _ => format!("item-{}", self.items.sample(&mut rng)),
                };
                Event {
                    event_id: format!("ev-{part}-{k}"),
                    event_type: mix[types.sample(&mut rng)].0.clone(),
                    user_id: Some(format!("user-{}", self.users.sample(&mut rng))),
                    anonymous_id: None,
                    item_id: Some(item),
                    timestamp: Timestamp {
                        utc_micros: at.min(to_micros - 1),
                        offset_secs: 0,
                    },
                    value: None,
                    properties: Default::default(),
                    context: Default::default(),
                }
            })
            .collect();
        events.sort_by_key(|e| e.timestamp.utc_micros);
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interval_has_its_rate_and_a_skewed_popularity() {
        let s = Stream::new(StreamConfig::default());
        let events = s.events(0, 10 * 60_000_000, &Shift::default(), 0);
        assert_eq!(events.len(), 2_000);
        let top = events
            .iter()
            .filter(|e| e.item_id.as_deref() == Some("item-0"))
            .count();
        assert!(top > 50, "{top}");
        assert!(events
            .windows(2)
            .all(|w| w[0].timestamp.utc_micros <= w[1].timestamp.utc_micros));
    }
}
