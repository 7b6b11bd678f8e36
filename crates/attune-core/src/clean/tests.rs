//! Cleaning on hand-made logs that look like real traffic: browsing sessions spread over two
//! weeks, plus the specific faults each rule is meant to catch.

use std::collections::HashMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;
use crate::event::{Event, EventType, Properties};
use crate::time::{Timestamp, MICROS_PER_DAY, MICROS_PER_SEC};

/// 2026-11-01T00:00:00Z
const T0: i64 = 1_793_491_200 * MICROS_PER_SEC;

struct Log {
    events: Vec<Event>,
    next_id: usize,
}

impl Log {
    fn new() -> Self {
        Self {
            events: Vec::new(),
            next_id: 0,
        }
    }

    fn push(&mut self, actor: &str, item: &str, event_type: EventType, micros: i64) -> String {
        let event_id = format!("ev-{}", self.next_id);
        self.next_id += 1;
        self.events
            .push(ev(&event_id, actor, item, event_type, micros));
        event_id
    }

    /// A browsing session: views with the odd click, dwell and scroll, 5-40 s apart.
    fn session(&mut self, rng: &mut ChaCha8Rng, actor: &str, start: i64, n_items: usize) -> i64 {
        let mut t = start;
        for _ in 0..n_items {
            let item = format!("sku-{}", rng.random_range(0..200));
            self.push(actor, &item, EventType::View, t);
            t += rng.random_range(5..40) * MICROS_PER_SEC;
            if rng.random_bool(0.4) {
                self.push(actor, &item, EventType::Click, t);
                t += rng.random_range(5..40) * MICROS_PER_SEC;
                self.push(actor, &item, EventType::Dwell, t);
                t += rng.random_range(5..40) * MICROS_PER_SEC;
            }
        }
        t
    }

    /// `n_users` ordinary shoppers, each with a handful of sessions over 14 days.
    fn shoppers(&mut self, rng: &mut ChaCha8Rng, n_users: usize) {
        for u in 0..n_users {
            let actor = format!("user-{u}");
            for _ in 0..rng.random_range(4..9) {
                let start = T0 + rng.random_range(0..14 * MICROS_PER_DAY);
                let n = rng.random_range(5..15);
                self.session(rng, &actor, start, n);
            }
        }
    }
}

fn ev(event_id: &str, actor: &str, item: &str, event_type: EventType, micros: i64) -> Event {
    Event {
        event_id: event_id.to_string(),
        event_type,
        user_id: Some(actor.to_string()),
        anonymous_id: None,
        item_id: Some(item.to_string()),
        timestamp: Timestamp::from_utc_micros(micros),
        value: None,
        properties: Properties::default(),
        context: Default::default(),
    }
}

/// sku-0 .. sku-199, all available.
fn catalog() -> HashMap<String, bool> {
    (0..200).map(|i| (format!("sku-{i}"), true)).collect()
}

fn run(events: &[Event], config: CleanConfig) -> Cleaned {
    clean(events, &catalog(), &config.check().unwrap())
}

fn verdict_of(events: &[Event], cleaned: &Cleaned, event_id: &str) -> Option<Reason> {
    let i = events
        .iter()
        .position(|e| e.event_id == event_id)
        .expect("event exists");
    cleaned.verdicts[i]
}

fn removed(c: &Cleaned, r: Reason) -> u64 {
    c.report.removed_by_reason[&r]
}

#[test]
fn bot_clicking_500_times_in_a_minute_is_removed_and_shoppers_are_untouched() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut log = Log::new();
    log.shoppers(&mut rng, 40);
    let shopper_events = log.events.len() as u64;
    let start = T0 + 3 * MICROS_PER_DAY;
    for k in 0..500 {
        let item = format!("sku-{}", k % 200);
        log.push("scraper-7", &item, EventType::Click, start + k * 120_000); // every 120 ms
    }

    let c = run(&log.events, CleanConfig::default());
    let r = &c.report;
    assert_eq!(r.flagged_users.len(), 1, "{:?}", r.flagged_users);
    let bot = &r.flagged_users[0];
    assert_eq!(bot.actor, "scraper-7");
    assert_eq!(bot.flag, ActorFlag::CountAndRate);
    assert!(bot.is_bot && bot.removed);
    assert_eq!(
        bot.stats,
        ActorStats {
            events: 500,
            peak_events_in_window: 500
        }
    );
    assert_eq!(removed(&c, Reason::BotUser), 500);
    assert_eq!(r.kept, shopper_events);
    assert!(c.kept(&log.events).all(|e| e.actor() != "scraper-7"));
    // The rules were fitted on the shoppers: their peak rate is a handful per minute.
    assert!(r.actor_rate_rule.median < 10.0, "{:?}", r.actor_rate_rule);
}

#[test]
fn double_submitted_click_300_ms_apart_is_a_near_duplicate() {
    let mut log = Log::new();
    let t = T0 + 3600 * MICROS_PER_SEC;
    let first = log.push("alice", "sku-1", EventType::Click, t);
    let double = log.push("alice", "sku-1", EventType::Click, t + 300_000);
    let later = log.push("alice", "sku-1", EventType::Click, t + 45 * MICROS_PER_SEC);
    let other_type = log.push("alice", "sku-1", EventType::Dwell, t + 300_000);
    let other_item = log.push("alice", "sku-2", EventType::Click, t + 300_000);
    let other_user = log.push("bob", "sku-1", EventType::Click, t + 300_000);

    let c = run(&log.events, CleanConfig::default());
    assert_eq!(
        verdict_of(&log.events, &c, &double),
        Some(Reason::NearDuplicate)
    );
    for id in [&first, &later, &other_type, &other_item, &other_user] {
        assert_eq!(verdict_of(&log.events, &c, id), None, "{id}");
    }
    assert_eq!(c.report.kept, 5);

    let off = run(
        &log.events,
        CleanConfig {
            near_duplicate_window_secs: 0.0,
            ..Default::default()
        },
    );
    assert_eq!(off.report.kept, 6, "a zero window disables the rule");
}

#[test]
fn near_duplicate_window_is_anchored_on_the_last_kept_event() {
    // A retry storm: clicks at 0, 1.0, 1.9, 2.5 and 3.0 s with a 2 s window keep 0 and 2.5.
    let mut log = Log::new();
    let ids: Vec<String> = [0, 1_000_000, 1_900_000, 2_500_000, 3_000_000]
        .iter()
        .map(|&dt| log.push("carol", "sku-9", EventType::Click, T0 + dt))
        .collect();
    let c = run(&log.events, CleanConfig::default());
    let got: Vec<bool> = ids
        .iter()
        .map(|id| verdict_of(&log.events, &c, id).is_none())
        .collect();
    assert_eq!(got, vec![true, false, false, true, false]);
}

#[test]
fn file_imported_twice_keeps_the_earliest_copy_even_when_unsorted() {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let mut log = Log::new();
    log.shoppers(&mut rng, 10);
    let original = log.events.clone();
    // Re-import the first 30 events, appended at the end (out of time order).
    log.events.extend(original[..30].iter().cloned());

    let c = run(&log.events, CleanConfig::default());
    assert_eq!(removed(&c, Reason::DuplicateEventId), 30);
    assert!(c.verdicts[..original.len()]
        .iter()
        .all(|v| *v != Some(Reason::DuplicateEventId)));
    assert!(c.verdicts[original.len()..]
        .iter()
        .all(|v| *v == Some(Reason::DuplicateEventId)));

    // When the copy differs in time, the earlier one wins regardless of input position.
    let mut early = original[5].clone();
    early.timestamp.utc_micros -= MICROS_PER_SEC;
    let events = vec![original[5].clone(), early];
    let c = run(&events, CleanConfig::default());
    assert_eq!(c.verdicts, vec![Some(Reason::DuplicateEventId), None]);
}

#[test]
fn unknown_and_unavailable_items_follow_their_switches() {
    let mut log = Log::new();
    log.push("dave", "sku-1", EventType::View, T0);
    log.push("dave", "sku-deleted", EventType::View, T0 + MICROS_PER_SEC);
    log.push(
        "erin",
        "sku-deleted",
        EventType::Purchase,
        T0 + 9 * MICROS_PER_SEC,
    );
    log.push(
        "erin",
        "sku-typo ",
        EventType::View,
        T0 + 10 * MICROS_PER_SEC,
    );
    log.push("erin", "sku-3", EventType::View, T0 + 11 * MICROS_PER_SEC);
    let mut cat = catalog();
    cat.insert("sku-3".into(), false);

    let dflt = clean(&log.events, &cat, &ValidCleanConfig::default());
    assert_eq!(removed(&dflt, Reason::UnknownItem), 3);
    assert_eq!(
        removed(&dflt, Reason::UnavailableItem),
        0,
        "unavailable items are kept by default"
    );
    assert_eq!(
        (
            dflt.report.unknown_item_events,
            dflt.report.distinct_unknown_items,
            dflt.report.unavailable_item_events
        ),
        (3, 2, 1)
    );

    let flipped = CleanConfig {
        drop_unknown_items: false,
        drop_unavailable_items: true,
        ..Default::default()
    };
    let c = clean(&log.events, &cat, &flipped.check().unwrap());
    assert_eq!(removed(&c, Reason::UnknownItem), 0);
    assert_eq!(removed(&c, Reason::UnavailableItem), 1);
    assert_eq!(c.report.unknown_item_events, 3, "detected even when kept");

    let no_catalog = clean(&log.events, &AnyItem, &ValidCleanConfig::default());
    assert_eq!(no_catalog.report.kept, 5);
}

#[test]
fn each_removed_event_has_the_first_reason_in_precedence_order() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut log = Log::new();
    log.shoppers(&mut rng, 30);
    let start = T0 + MICROS_PER_DAY;
    let mut bot_ids = Vec::new();
    for k in 0..500 {
        let item = if k < 10 {
            "sku-gone".to_string()
        } else {
            format!("sku-{}", k % 50)
        };
        bot_ids.push(log.push("bot-1", &item, EventType::View, start + k * 150_000));
    }
    // An exact duplicate of a bot event on an unknown item: duplicate wins.
    let dup = log
        .events
        .iter()
        .find(|e| e.event_id == bot_ids[0])
        .cloned()
        .unwrap();
    log.events.push(dup);

    let c = run(&log.events, CleanConfig::default());
    let reasons: Vec<Option<Reason>> = bot_ids
        .iter()
        .map(|id| verdict_of(&log.events, &c, id))
        .collect();
    assert!(reasons[..10]
        .iter()
        .all(|r| *r == Some(Reason::UnknownItem)));
    assert!(reasons[10..].iter().all(|r| *r == Some(Reason::BotUser)));
    assert_eq!(c.verdicts.last(), Some(&Some(Reason::DuplicateEventId)));
    let total: u64 = c.report.removed_by_reason.values().sum();
    assert_eq!(total, c.report.removed());
    assert_eq!(
        c.report
            .removed_by_reason
            .keys()
            .copied()
            .collect::<Vec<_>>(),
        Reason::ALL.to_vec()
    );
    assert_eq!(c.removed().count() as u64, total);
}

#[test]
fn heavy_human_is_flagged_but_only_a_bot_under_count_or_rate() {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let mut log = Log::new();
    log.shoppers(&mut rng, 40);
    // A loyal customer: 60 sessions spread over two weeks, at human speed.
    for s in 0..60 {
        log.session(&mut rng, "loyal", T0 + s * 5 * 3600 * MICROS_PER_SEC, 10);
    }
    let c = run(&log.events, CleanConfig::default());
    let flagged: Vec<_> = c
        .report
        .flagged_users
        .iter()
        .map(|f| (f.actor.as_str(), f.flag, f.is_bot))
        .collect();
    assert_eq!(flagged, vec![("loyal", ActorFlag::EventCount, false)]);
    assert_eq!(removed(&c, Reason::BotUser), 0);

    let either = run(
        &log.events,
        CleanConfig {
            bot_rule: BotRule::CountOrRate,
            ..Default::default()
        },
    );
    assert!(either.report.flagged_users[0].removed);
    assert!(removed(&either, Reason::BotUser) > 500);

    let report_only = run(
        &log.events,
        CleanConfig {
            bot_rule: BotRule::CountOrRate,
            drop_bot_users: false,
            ..Default::default()
        },
    );
    assert_eq!(removed(&report_only, Reason::BotUser), 0);
    assert!(
        report_only.report.flagged_users[0].is_bot && !report_only.report.flagged_users[0].removed
    );
}

#[test]
fn short_bursts_below_min_events_are_never_flagged() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut log = Log::new();
    log.shoppers(&mut rng, 40);
    // Someone rating 30 films in one minute: fast, but a person, and below the 50-event floor.
    for k in 0..30 {
        log.push(
            "film-buff",
            &format!("sku-{k}"),
            EventType::Rating,
            T0 + k * 2 * MICROS_PER_SEC,
        );
    }
    let c = run(&log.events, CleanConfig::default());
    assert!(
        c.report.flagged_users.is_empty(),
        "{:?}",
        c.report.flagged_users
    );

    let strict = run(
        &log.events,
        CleanConfig {
            min_events_for_outlier: 20,
            bot_rule: BotRule::CountOrRate,
            bot_min_events_per_sec: 0.0,
            ..Default::default()
        },
    );
    assert_eq!(strict.report.flagged_users[0].actor, "film-buff");
    assert_eq!(strict.report.flagged_users[0].flag, ActorFlag::PeakRate);
}

#[test]
fn impressions_do_not_make_a_feed_reader_a_bot() {
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    let mut log = Log::new();
    log.shoppers(&mut rng, 40);
    for k in 0..400 {
        log.push(
            "reader",
            &format!("sku-{}", k % 200),
            EventType::Impression,
            T0 + k * 100_000,
        );
    }
    log.push(
        "reader",
        "sku-4",
        EventType::Click,
        T0 + 50 * MICROS_PER_SEC,
    );
    let c = run(&log.events, CleanConfig::default());
    assert!(c.report.flagged_users.is_empty());
    assert_eq!(c.report.kept, log.events.len() as u64);
}

#[test]
fn outlier_item_is_reported_and_dropped_only_on_request() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut log = Log::new();
    log.shoppers(&mut rng, 40);
    // A broken widget re-fires views of sku-77 for everybody, all day.
    for k in 0..3000 {
        let actor = format!("user-{}", k % 40);
        log.push(
            &actor,
            "sku-77",
            EventType::View,
            T0 + k * 400 * MICROS_PER_SEC,
        );
    }
    let c = run(&log.events, CleanConfig::default());
    assert_eq!(
        c.report.flagged_items.len(),
        1,
        "{:?}",
        c.report.flagged_items
    );
    assert_eq!(c.report.flagged_items[0].item_id, "sku-77");
    assert!(!c.report.flagged_items[0].removed);
    assert_eq!(removed(&c, Reason::OutlierItem), 0);
    assert!(
        c.report.flagged_users.is_empty(),
        "spread over 40 users, nobody is a bot"
    );

    let dropping = run(
        &log.events,
        CleanConfig {
            drop_outlier_items: true,
            ..Default::default()
        },
    );
    let n = dropping.report.flagged_items[0].interactions;
    assert!(n >= 3000, "{n}");
    assert_eq!(removed(&dropping, Reason::OutlierItem), n);
    assert!(dropping
        .kept(&log.events)
        .all(|e| e.item_id.as_deref() != Some("sku-77")));
}

#[test]
fn verdicts_do_not_depend_on_input_order() {
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let mut log = Log::new();
    log.shoppers(&mut rng, 30);
    for k in 0..600 {
        log.push("bot-2", "sku-5", EventType::Click, T0 + k * 200_000);
    }
    let t = T0 + 7 * MICROS_PER_DAY;
    log.push("user-3", "sku-8", EventType::Click, t);
    log.push("user-3", "sku-8", EventType::Click, t + 500_000);
    let sorted_view = run(&log.events, CleanConfig::default());

    let mut shuffled = log.events.clone();
    // Deterministic Fisher-Yates.
    for i in (1..shuffled.len()).rev() {
        shuffled.swap(i, rng.random_range(0..=i));
    }
    let shuffled_view = run(&shuffled, CleanConfig::default());
    let by_id = |events: &[Event], c: &Cleaned| -> HashMap<String, Option<Reason>> {
        events
            .iter()
            .zip(&c.verdicts)
            .map(|(e, v)| (e.event_id.clone(), *v))
            .collect()
    };
    assert_eq!(
        by_id(&log.events, &sorted_view),
        by_id(&shuffled, &shuffled_view)
    );
    assert_eq!(sorted_view.report, shuffled_view.report);
    assert_eq!(removed(&sorted_view, Reason::NearDuplicate), 1);
    assert_eq!(removed(&sorted_view, Reason::BotUser), 600);
}

#[test]
fn empty_input_gives_an_empty_report() {
    let c = run(&[], CleanConfig::default());
    assert_eq!((c.report.input_events, c.report.kept), (0, 0));
    assert!(c.report.flagged_users.is_empty() && c.report.flagged_items.is_empty());
    assert_eq!(c.keep_mask(), Vec::<bool>::new());
}

#[test]
fn peak_window_is_half_open() {
    let s = MICROS_PER_SEC;
    assert_eq!(
        peak_in_window(&[0, 30 * s, 59 * s, 60 * s, 61 * s], 60 * s),
        4
    );
    assert_eq!(peak_in_window(&[0, 60 * s, 120 * s], 60 * s), 1);
    assert_eq!(peak_in_window(&[], 60 * s), 0);
    assert_eq!(peak_in_window(&[5, 5, 5], 60 * s), 3);
}

#[test]
fn fast_heavy_rater_is_not_a_bot_thanks_to_the_pace_floor() {
    // Like MovieLens user 13: hundreds of ratings, entered 30 a minute from a list page.
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let mut log = Log::new();
    log.shoppers(&mut rng, 40);
    for burst in 0..20 {
        for k in 0..30 {
            let t = T0 + burst * MICROS_PER_DAY / 2 + k * 2 * MICROS_PER_SEC;
            log.push(
                "cinephile",
                &format!("sku-{}", (burst * 30 + k) % 200),
                EventType::Rating,
                t,
            );
        }
    }
    let c = run(&log.events, CleanConfig::default());
    let f = &c.report.flagged_users[0];
    assert_eq!(
        (f.actor.as_str(), f.flag, f.is_bot),
        ("cinephile", ActorFlag::EventCount, false)
    );
    assert_eq!(f.stats.peak_events_in_window, 30);
    assert!(
        c.report.actor_rate_rule.is_outlier(30.0),
        "relative to shoppers, 30/min is an outlier"
    );

    let no_floor = run(
        &log.events,
        CleanConfig {
            bot_min_events_per_sec: 0.0,
            ..Default::default()
        },
    );
    assert_eq!(
        no_floor.report.flagged_users[0].flag,
        ActorFlag::CountAndRate
    );
    assert_eq!(removed(&no_floor, Reason::BotUser), 600);
}
