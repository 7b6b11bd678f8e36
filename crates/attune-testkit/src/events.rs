//! The behavioural event log: sessions with funnels, bots, double submits, deleted items and
//! anonymous devices that log in later.

use std::collections::HashMap;

use attune_core::event::{Context, Event, EventType, Properties};
use attune_core::time::{Timestamp, MICROS_PER_DAY, MICROS_PER_SEC};
use rand_chacha::ChaCha8Rng;

use crate::catalog::{People, Shop};
use crate::dist::{self, Discrete};
use crate::SyntheticConfig;

/// The generated log plus what was planted in it.
pub struct Log {
    /// Events in time order, ids assigned.
    pub events: Vec<Event>,
    /// Bot actor ids.
    pub bot_actors: Vec<String>,
    /// `(anonymous_id, user_id)` of devices that later logged in.
    pub identified_devices: Vec<(String, String)>,
    /// Double-submitted clicks emitted.
    pub near_duplicates: usize,
    /// Events on deleted items emitted.
    pub unknown_item_events: usize,
}

/// Relative session starts per local hour: quiet nights, a lunch bump, an evening peak.
const HOUR_WEIGHTS: [f64; 24] = [
    1.0, 0.5, 0.3, 0.2, 0.2, 0.3, 0.8, 1.5, 2.0, 2.0, 2.0, 2.0, 2.5, 2.5, 2.0, 2.0, 2.0, 2.5, 3.5,
    4.5, 5.0, 4.5, 3.0, 2.0,
];

/// Collects events up to a budget; `push` returns `None` once it is full, ending the session.
struct Emitter {
    events: Vec<Event>,
    budget: usize,
}

impl Emitter {
    fn push(&mut self, e: Event) -> Option<()> {
        if self.events.len() >= self.budget {
            return None;
        }
        self.events.push(e);
        Some(())
    }
}

/// Who acts in a session and where.
struct Actor<'a> {
    user_id: Option<String>,
    anonymous_id: Option<String>,
    offset_secs: i32,
    context: Context,
    tastes: &'a [usize],
}

impl Actor<'_> {
    fn event(
        &self,
        event_type: EventType,
        item: &str,
        micros: i64,
        properties: Properties,
    ) -> Event {
        let value = properties.rating;
        Event {
            event_id: String::new(),
            event_type,
            user_id: self.user_id.clone(),
            anonymous_id: self.anonymous_id.clone(),
            item_id: Some(item.to_string()),
            timestamp: Timestamp {
                utc_micros: micros,
                offset_secs: self.offset_secs,
            },
            value,
            properties,
            context: self.context.clone(),
        }
    }
}

fn secs(s: f64) -> i64 {
    (s * MICROS_PER_SEC as f64) as i64
}

fn rating(rng: &mut ChaCha8Rng, taste_match: bool) -> f64 {
    let x = dist::unit(rng);
    if taste_match {
        if x < 0.6 {
            5.0
        } else if x < 0.95 {
            4.0
        } else {
            3.0
        }
    } else if x < 0.15 {
        4.0
    } else {
        (1 + dist::index(rng, 3)) as f64
    }
}

struct Session<'a> {
    config: &'a SyntheticConfig,
    shop: &'a Shop,
    near_duplicates: usize,
    unknown_item_events: usize,
}

impl Session<'_> {
    /// One browsing session starting at `t`; `None` when the budget ran out.
    fn run(
        &mut self,
        rng: &mut ChaCha8Rng,
        out: &mut Emitter,
        who: &Actor<'_>,
        mut t: i64,
    ) -> Option<()> {
        let shop = self.shop;
        let scope = (dist::unit(rng) < self.config.taste_strength)
            .then(|| who.tastes[dist::index(rng, who.tastes.len())]);
        let n_items = (1 + dist::exponential(rng, 3.0) as usize).min(30);
        for _ in 0..n_items {
            if dist::unit(rng) < self.config.unknown_item_share {
                let gone = format!("item-gone-{}", dist::index(rng, 50));
                out.push(who.event(EventType::View, &gone, t, Properties::default()))?;
                self.unknown_item_events += 1;
                t += secs(2.0 + dist::exponential(rng, 15.0));
                continue;
            }
            let item = match scope {
                Some(c) => {
                    let (members, popularity) = &shop.by_category[c];
                    members[popularity.sample(rng)]
                }
                None => shop.popularity.sample(rng),
            };
            let id = shop.items[item].item_id.as_str();
            let taste_match = who.tastes.contains(&shop.category[item]);
            out.push(who.event(EventType::View, id, t, Properties::default()))?;
            t += secs(1.0 + dist::exponential(rng, 15.0));

            let p_click = if taste_match { 0.5 } else { 0.2 };
            if dist::unit(rng) < p_click {
                out.push(who.event(EventType::Click, id, t, Properties::default()))?;
                if dist::unit(rng) < self.config.near_duplicate_share {
                    let again = t + 150_000 + dist::index(rng, 750_000) as i64;
                    out.push(who.event(EventType::Click, id, again, Properties::default()))?;
                    self.near_duplicates += 1;
                }
                let median_dwell = if taste_match { 40_000.0 } else { 15_000.0 };
                let dwell_ms = dist::log_normal(rng, median_dwell, 0.9).round() as u64;
                t += secs(0.5) + dwell_ms as i64 * 1000;
                let dwell = Properties {
                    dwell_ms: Some(dwell_ms),
                    ..Default::default()
                };
                out.push(who.event(EventType::Dwell, id, t, dwell))?;
                if dist::unit(rng) < 0.7 {
                    let depth = (dist::unit(rng).powf(0.6) * 100.0).round() / 100.0;
                    let scroll = Properties {
                        scroll_depth: Some(depth),
                        ..Default::default()
                    };
                    out.push(who.event(EventType::Scroll, id, t + secs(1.0), scroll))?;
                    t += secs(1.0);
                }
                let p_cart = if taste_match { 0.18 } else { 0.06 };
                if dist::unit(rng) < p_cart {
                    t += secs(1.0 + dist::exponential(rng, 10.0));
                    let line = |quantity| Properties {
                        price: Some(shop.price[item]),
                        quantity: Some(quantity),
                        ..Default::default()
                    };
                    out.push(who.event(EventType::AddToCart, id, t, line(1)))?;
                    if dist::unit(rng) < 0.45 {
                        t += secs(5.0 + dist::exponential(rng, 60.0));
                        let x = dist::unit(rng);
                        let quantity = if x < 0.8 {
                            1
                        } else if x < 0.95 {
                            2
                        } else {
                            3
                        };
                        out.push(who.event(EventType::Purchase, id, t, line(quantity)))?;
                        if dist::unit(rng) < self.config.rating_share {
                            t += secs(2.0 + dist::exponential(rng, 30.0));
                            let r = Properties {
                                rating: Some(rating(rng, taste_match)),
                                ..Default::default()
                            };
                            out.push(who.event(EventType::Rating, id, t, r))?;
                        }
                    }
                } else if dist::unit(rng) < self.config.rating_share / 10.0 {
                    t += secs(2.0 + dist::exponential(rng, 10.0));
                    let r = Properties {
                        rating: Some(rating(rng, taste_match)),
                        ..Default::default()
                    };
                    out.push(who.event(EventType::Rating, id, t, r))?;
                }
            }
            t += secs(2.0 + dist::exponential(rng, 20.0));
        }
        Some(())
    }
}

/// Generate the log.
pub fn events(config: &SyntheticConfig, shop: &Shop, people: &People) -> Log {
    let mut rng = dist::stream(config.seed, 3);
    let start = config.start_micros;
    let span = i64::from(config.span_days) * MICROS_PER_DAY;
    let bot_total = config.bot_users * config.bot_events_per_user;
    let mut out = Emitter {
        events: Vec::with_capacity(config.n_events),
        budget: config.n_events - bot_total,
    };

    let anon_users = dist::distinct(&mut rng, config.n_users, config.anonymous_devices);
    let anon_id: HashMap<usize, String> = anon_users
        .iter()
        .enumerate()
        .map(|(k, &u)| (u, format!("anon-{}-{k}", config.seed)))
        .collect();
    let login_at = start + span / 3;
    let hours = Discrete::new(HOUR_WEIGHTS);

    let mut session = Session {
        config,
        shop,
        near_duplicates: 0,
        unknown_item_events: 0,
    };
    let mut session_n = 0u64;
    while out.events.len() < out.budget {
        let u = people.activity.sample(&mut rng);
        let offset = people.offset_secs[u];
        let day = dist::index(&mut rng, config.span_days as usize) as i64;
        let local_secs = (hours.sample(&mut rng) * 3600 + dist::index(&mut rng, 3600)) as i64;
        let mut t =
            start + day * MICROS_PER_DAY + (local_secs - i64::from(offset)) * MICROS_PER_SEC;
        if t < start {
            t += MICROS_PER_DAY;
        } else if t >= start + span {
            t -= MICROS_PER_DAY;
        }
        let user_id = format!("user-{u}");
        let (user_id, anonymous_id) = match anon_id.get(&u) {
            Some(anon) if t < login_at => (None, Some(anon.clone())),
            Some(anon) => (Some(user_id), Some(anon.clone())),
            None => (Some(user_id), None),
        };
        let who = Actor {
            user_id,
            anonymous_id,
            offset_secs: offset,
            context: Context {
                session_id: Some(format!("s-{}-{session_n}", config.seed)),
                device: Some(people.device[u].to_string()),
                ..Default::default()
            },
            tastes: &people.tastes[u],
        };
        session_n += 1;
        if session.run(&mut rng, &mut out, &who, t).is_none() {
            break;
        }
    }

    // Bots: one burst each, ~8 events per second on random items, clicks and views.
    let mut bot_actors = Vec::with_capacity(config.bot_users);
    for k in 0..config.bot_users {
        let actor = format!("user-{}", config.n_users + k);
        let who = Actor {
            user_id: Some(actor.clone()),
            anonymous_id: None,
            offset_secs: 0,
            context: Context::default(),
            tastes: &[],
        };
        let mut t =
            start + (dist::unit(&mut rng) * (span - 3600 * MICROS_PER_SEC).max(0) as f64) as i64;
        for n in 0..config.bot_events_per_user {
            let item = &shop.items[dist::index(&mut rng, shop.items.len())].item_id;
            let event_type = if n % 2 == 0 {
                EventType::View
            } else {
                EventType::Click
            };
            out.events
                .push(who.event(event_type, item, t, Properties::default()));
            t += 80_000 + dist::index(&mut rng, 80_000) as i64;
        }
        bot_actors.push(actor);
    }

    let mut events = out.events;
    // Stable: events at the same instant stay in generation order.
    events.sort_by_key(|e| e.timestamp.utc_micros);
    for (n, e) in events.iter_mut().enumerate() {
        e.event_id = format!("syn-{}-{n}", config.seed);
    }
    let identified_devices = anon_users
        .iter()
        .map(|u| (anon_id[u].clone(), format!("user-{u}")))
        .collect();
    Log {
        events,
        bot_actors,
        identified_devices,
        near_duplicates: session.near_duplicates,
        unknown_item_events: session.unknown_item_events,
    }
}
