//! The generators must be deterministic and produce the structure they promise: the planted
//! bots, duplicates and deleted items must be found by the cleaner, tastes must be visible in
//! the interactions, and the usual shape of real data (long tail, funnel, evening peak) must hold.

use std::collections::{BTreeSet, HashMap, HashSet};

use attune_core::clean::{self, CatalogIndex, Reason, ValidCleanConfig};
use attune_core::event::EventType;
use attune_core::profile::DataProfile;
use attune_core::time::MICROS_PER_DAY;

use super::*;

fn small() -> SyntheticData {
    generate(&SyntheticConfig::default())
}

#[test]
fn same_seed_same_data_other_seed_other_data() {
    let a = small();
    assert_eq!(a, small());
    let b = generate(&SyntheticConfig {
        seed: 43,
        ..Default::default()
    });
    assert_ne!(a.events, b.events);
    assert_ne!(a.items, b.items);
    assert_eq!(
        interactions(500, 300, 10_000, 9),
        interactions(500, 300, 10_000, 9)
    );
    assert_ne!(
        interactions(500, 300, 10_000, 9),
        interactions(500, 300, 10_000, 10)
    );
}

#[test]
fn log_is_time_ordered_with_positional_ids_and_exact_size() {
    let config = SyntheticConfig::default();
    let d = generate(&config);
    assert_eq!(d.events.len(), config.n_events);
    assert!(d
        .events
        .windows(2)
        .all(|w| w[0].timestamp.utc_micros <= w[1].timestamp.utc_micros));
    assert_eq!(d.events[0].event_id, "syn-42-0");
    assert_eq!(d.events[123].event_id, "syn-42-123");
    let end = config.start_micros + i64::from(config.span_days) * MICROS_PER_DAY;
    assert!(d
        .events
        .iter()
        .all(|e| (config.start_micros..end + MICROS_PER_DAY).contains(&e.timestamp.utc_micros)));
    assert_eq!(
        (d.items.len(), d.users.len()),
        (config.n_items, config.n_users)
    );
}

#[test]
fn catalog_and_profiles_are_valid_and_rich() {
    let d = small();
    for it in &d.items {
        it.validate(&Default::default()).unwrap();
        assert_eq!(it.categories.len(), 2);
        assert!(it.description.as_ref().unwrap().split(' ').count() >= 12);
    }
    for u in &d.users {
        u.validate(&Default::default()).unwrap();
    }
    let unavailable = d.items.iter().filter(|i| !i.available).count();
    assert!((5..=40).contains(&unavailable), "{unavailable}");
    let missing_age = d
        .users
        .iter()
        .filter(|u| !u.attributes.contains_key("age"))
        .count();
    assert!(
        missing_age > 0 && missing_age < 40,
        "imputation needs some gaps: {missing_age}"
    );
    let onboarded = d
        .users
        .iter()
        .filter(|u| !u.preferred_categories.is_empty())
        .count();
    assert!((150..=260).contains(&onboarded), "{onboarded}");
}

#[test]
fn text_is_topical_per_category() {
    let d = small();
    // Words of "kitchen" titles/descriptions should rarely appear in "books" items and vice versa.
    let words_of = |cat: &str| -> HashMap<String, usize> {
        let mut m = HashMap::new();
        for it in d.items.iter().filter(|i| i.categories[0] == cat) {
            for w in it
                .description
                .as_ref()
                .unwrap()
                .to_lowercase()
                .split(|c: char| !c.is_alphanumeric())
            {
                *m.entry(w.to_string()).or_insert(0) += 1;
            }
        }
        m
    };
    let kitchen = words_of("kitchen");
    let books = words_of("books");
    assert!(kitchen.get("skillet").copied().unwrap_or(0) > 3);
    assert_eq!(books.get("skillet"), None);
    assert!(
        kitchen.contains_key("quality") || kitchen.contains_key("design"),
        "generic words are shared"
    );
}

#[test]
fn profile_shows_a_long_tail_and_a_funnel() {
    let d = small();
    let p = DataProfile::compute(&d.events, &d.items);
    assert!(
        p.per_item.gini > 0.5,
        "popularity should be concentrated: {}",
        p.per_item.gini
    );
    assert!(
        p.per_user.gini > 0.3,
        "activity should be uneven: {}",
        p.per_user.gini
    );
    assert!(p.density < 0.2, "{}", p.density);
    assert_eq!((p.items_with_text, p.items_with_categories), (1.0, 1.0));
    let n = |t: EventType| p.events_by_type.get(&t).copied().unwrap_or(0);
    let (views, clicks, carts, buys, ratings) = (
        n(EventType::View),
        n(EventType::Click),
        n(EventType::AddToCart),
        n(EventType::Purchase),
        n(EventType::Rating),
    );
    assert!(
        views > clicks && clicks > carts && carts > buys && buys > 0 && ratings > 0,
        "{:?}",
        p.events_by_type
    );
    assert!(n(EventType::Dwell) > 0 && n(EventType::Scroll) > 0);
    assert_eq!(
        p.unknown_items,
        d.events
            .iter()
            .filter_map(|e| e.item_id.as_deref())
            .filter(|i| i.starts_with("item-gone"))
            .collect::<HashSet<_>>()
            .len() as u64
    );
}

#[test]
fn typed_properties_are_in_range() {
    let d = small();
    for e in &d.events {
        match e.event_type {
            EventType::Dwell => assert!(e.properties.dwell_ms.is_some()),
            EventType::Scroll => assert!((0.0..=1.0).contains(&e.properties.scroll_depth.unwrap())),
            EventType::Rating => {
                let r = e.properties.rating.unwrap();
                assert!((1.0..=5.0).contains(&r) && r.fract() == 0.0 && e.value == Some(r));
            }
            EventType::Purchase | EventType::AddToCart => {
                assert!(e.properties.price.unwrap() > 0.0 && e.properties.quantity.unwrap() >= 1)
            }
            _ => {}
        }
    }
    let mut dwell: Vec<u64> = d
        .events
        .iter()
        .filter_map(|e| e.properties.dwell_ms)
        .collect();
    dwell.sort_unstable();
    let median = dwell[dwell.len() / 2];
    assert!(
        (10_000..60_000).contains(&median),
        "dwell median {median} ms"
    );
}

#[test]
fn tastes_are_visible_in_interactions() {
    let d = small();
    let category: HashMap<&str, &str> = d
        .items
        .iter()
        .map(|i| (i.item_id.as_str(), i.categories[0].as_str()))
        .collect();
    let (mut in_taste, mut total) = (0usize, 0usize);
    let (mut good, mut rated) = (0usize, 0usize);
    for e in &d.events {
        let (Some(user), Some(item)) = (e.user_id.as_deref(), e.item_id.as_deref()) else {
            continue;
        };
        let Some(u) = user
            .strip_prefix("user-")
            .and_then(|s| s.parse::<usize>().ok())
        else {
            continue;
        };
        let (Some(tastes), Some(cat)) = (d.truth.user_tastes.get(u), category.get(item)) else {
            continue;
        };
        let matched = tastes.iter().any(|t| t == cat);
        if e.event_type == EventType::Purchase {
            total += 1;
            in_taste += usize::from(matched);
        }
        if e.event_type == EventType::Rating {
            rated += 1;
            good += usize::from(matched == (e.properties.rating.unwrap() >= 4.0));
        }
    }
    assert!(
        in_taste as f64 / total as f64 > 0.8,
        "{in_taste}/{total} purchases in taste"
    );
    assert!(
        good as f64 / rated as f64 > 0.8,
        "{good}/{rated} ratings agree with taste"
    );
}

#[test]
fn timestamps_carry_several_offsets_and_an_evening_peak() {
    let d = small();
    let offsets: BTreeSet<i32> = d.events.iter().map(|e| e.timestamp.offset_secs).collect();
    assert!(offsets.len() >= 6, "{offsets:?}");
    assert!(
        offsets.contains(&(5 * 3600 + 1800)),
        "Mumbai's half-hour offset"
    );
    let evening = d
        .events
        .iter()
        .filter(|e| (18..23).contains(&e.timestamp.local_hour()))
        .count();
    let night = d
        .events
        .iter()
        .filter(|e| (2..7).contains(&e.timestamp.local_hour()))
        .count();
    assert!(evening > 4 * night, "evening {evening} vs night {night}");
}

#[test]
fn anonymous_devices_log_in_later() {
    let config = SyntheticConfig::default();
    let d = generate(&config);
    let login_at = config.start_micros + i64::from(config.span_days) * MICROS_PER_DAY / 3;
    assert_eq!(d.truth.identified_devices.len(), config.anonymous_devices);
    let mut stitched = 0;
    for (anon, user) in &d.truth.identified_devices {
        let mine: Vec<_> = d
            .events
            .iter()
            .filter(|e| e.anonymous_id.as_deref() == Some(anon))
            .collect();
        assert!(mine
            .iter()
            .all(|e| (e.user_id.is_none()) == (e.timestamp.utc_micros < login_at)));
        assert!(mine
            .iter()
            .filter_map(|e| e.user_id.as_deref())
            .all(|u| u == user));
        let before = mine.iter().any(|e| e.user_id.is_none());
        let after = mine.iter().any(|e| e.user_id.is_some());
        stitched += usize::from(before && after);
    }
    assert!(
        stitched >= 3,
        "{stitched} of {} devices seen both before and after login",
        config.anonymous_devices
    );
}

#[test]
fn the_cleaner_finds_exactly_what_was_planted() {
    let d = small();
    let c = clean::clean(
        &d.events,
        &CatalogIndex::new(&d.items),
        &ValidCleanConfig::default(),
    );
    let bots: Vec<&str> = c
        .report
        .flagged_users
        .iter()
        .filter(|f| f.is_bot)
        .map(|f| f.actor.as_str())
        .collect();
    let planted: Vec<&str> = d.truth.bot_actors.iter().map(String::as_str).collect();
    assert_eq!(bots, planted);
    let r = &c.report.removed_by_reason;
    assert_eq!(r[&Reason::BotUser], 1000);
    assert_eq!(r[&Reason::UnknownItem], d.truth.unknown_item_events as u64);
    assert!(d.truth.near_duplicates > 10);
    let near = r[&Reason::NearDuplicate] as usize;
    assert!(
        near >= d.truth.near_duplicates && near <= d.truth.near_duplicates + 5,
        "{near} vs {}",
        d.truth.near_duplicates
    );
    assert_eq!(r[&Reason::DuplicateEventId], 0);
}

#[test]
fn many_categories_and_tiny_configs_work() {
    let d = generate(&SyntheticConfig {
        n_categories: 20,
        n_items: 200,
        n_events: 2_000,
        ..Default::default()
    });
    assert!(d.truth.categories.contains(&"category-19".to_string()));
    let tiny = generate(&SyntheticConfig {
        n_users: 1,
        n_items: 1,
        n_events: 20,
        n_categories: 1,
        bot_users: 0,
        anonymous_devices: 0,
        ..Default::default()
    });
    assert_eq!(tiny.events.len(), 20);
    assert!(tiny
        .events
        .iter()
        .all(|e| e.item_id.as_deref() == Some("item-0")
            || e.item_id.as_deref().unwrap().starts_with("item-gone")));
}

#[test]
fn fast_interactions_are_distinct_sorted_and_long_tailed() {
    let (n_users, n_items, nnz) = (5_000u32, 2_000u32, 200_000usize);
    let triples = interactions(n_users, n_items, nnz, 1);
    assert_eq!(triples.len(), nnz);
    assert!(
        triples
            .windows(2)
            .all(|w| (w[0].0, w[0].1) < (w[1].0, w[1].1)),
        "sorted and distinct"
    );
    assert!(triples
        .iter()
        .all(|&(u, i, w)| u < n_users && i < n_items && w >= 1.0 && w.fract() == 0.0));
    let mut per_item = vec![0u64; n_items as usize];
    let mut per_user = vec![0u64; n_users as usize];
    for &(u, i, _) in &triples {
        per_item[i as usize] += 1;
        per_user[u as usize] += 1;
    }
    assert!(per_user
        .iter()
        .all(|&c| c >= 1 && c <= u64::from(n_items).div_ceil(2)));
    per_item.sort_unstable();
    per_user.sort_unstable();
    let item_gini = attune_core::profile::gini_sorted(&per_item);
    let user_gini = attune_core::profile::gini_sorted(&per_user);
    assert!(
        item_gini > 0.3 && user_gini > 0.3,
        "item {item_gini}, user {user_gini}"
    );
}

#[test]
fn fast_interactions_edge_sizes() {
    // Fewer interactions than users: some users get none; a user may take half the catalog.
    assert_eq!(interactions(100, 10, 50, 3).len(), 50);
    let dense = interactions(4, 10, 20, 3);
    assert_eq!(dense.len(), 20);
    assert!(dense
        .chunks(5)
        .enumerate()
        .all(|(u, c)| c.iter().all(|t| t.0 == u as u32)));
}
