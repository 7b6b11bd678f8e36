//! The serving engine against a real SQLite store and real artifact files: a small shop with
//! two taste groups (even users view even items, odd users odd items).

mod common;

use attune_core::catalog::{Consent, User};
use attune_core::event::{Event, EventType};
use attune_serving::model::{app_dir, version_path};
use attune_serving::{Reason, RecRequest, Serving, ServingConfig, ServingError, Source};
use common::{event, fit, ids, parity, shop, train, viewed, views, ALS, APP, T0};

#[test]
fn a_training_user_gets_unseen_items_of_their_taste_with_reasons() {
    let shop = shop();
    let v = train(&shop, "item-knn:neighbours=10", true);
    let req = RecRequest {
        n: 5,
        ..RecRequest::default()
    };
    let list = shop.serving.recommend(APP, "u03", &req, true).unwrap();
    assert_eq!(list.model_version, Some(v));
    assert_eq!(list.source, Source::Personalized);
    let seen: Vec<String> = viewed(3).iter().map(|i| format!("i{i:02}")).collect();
    for r in list.items.iter() {
        assert!(!seen.contains(&r.item_id), "{} was seen", r.item_id);
        assert_eq!(parity(&r.item_id), 1, "{:?}", ids(&list));
        assert_ne!(r.item_id, "i22", "unavailable items are never served");
    }
    // Item-kNN explains by the viewed item most similar to the recommended one.
    let r = &list.items[0];
    let Reason::Because { .. } = r.reason else {
        panic!("{r:?}")
    };
    assert!(seen.contains(r.reason_item.as_ref().unwrap()), "{r:?}");
    assert!(
        r.explanation.starts_with("Because you viewed Item "),
        "{}",
        r.explanation
    );
    // The same request again: from the cache, with a new recommendation id.
    let again = shop.serving.recommend(APP, "u03", &req, true).unwrap();
    assert!(again.cached && !list.cached);
    assert_eq!(ids(&again), ids(&list));
    assert_ne!(again.recommendation_id, list.recommendation_id);
    // Without exclusion the user's own items come back; a category filter is honoured.
    let all = shop
        .serving
        .recommend(
            APP,
            "u03",
            &RecRequest {
                n: 12,
                exclude_seen: false,
                ..RecRequest::default()
            },
            true,
        )
        .unwrap();
    assert!(ids(&all).iter().any(|i| seen.contains(i)));
    let even = shop
        .serving
        .recommend(
            APP,
            "u03",
            &RecRequest {
                n: 3,
                categories: vec!["even".into()],
                ..RecRequest::default()
            },
            true,
        )
        .unwrap();
    assert!(
        ids(&even).iter().all(|i| parity(i) == 0),
        "{:?}",
        ids(&even)
    );
    // Paging: offset 2 starts at the third item.
    let page = shop
        .serving
        .recommend(
            APP,
            "u03",
            &RecRequest {
                n: 2,
                offset: 2,
                ..RecRequest::default()
            },
            true,
        )
        .unwrap();
    assert_eq!(ids(&page), ids(&list)[2..4].to_vec());
}

/// Every training user's served top-6 under `spec` is the model's own ranking of their
/// unseen, available items, with the model's scores.
fn assert_served_as_the_model_ranks(shop: &common::Shop, spec: &str) {
    train(shop, spec, true);
    let req = RecRequest {
        n: 6,
        ..RecRequest::default()
    };
    let history = views();
    let fitted = fit(spec, &history);
    let model = fitted.model().as_recommender();
    for u in 0..common::USERS {
        let list = shop
            .serving
            .recommend(APP, &format!("u{u:02}"), &req, true)
            .unwrap();
        assert_eq!(list.source, Source::Personalized);
        let (cols, vals) = history.row(u as usize);
        let h: Vec<(u32, f32)> = cols.iter().copied().zip(vals.iter().copied()).collect();
        let mut scores = vec![0.0; model.n_items()];
        model.score_all_into(&model.fold_in(&h), &mut scores);
        let mut want: Vec<u32> = (0..model.n_items() as u32)
            .filter(|i| !cols.contains(i) && *i != 22)
            .collect();
        want.sort_by(|a, b| {
            scores[*b as usize]
                .total_cmp(&scores[*a as usize])
                .then(a.cmp(b))
        });
        let want: Vec<String> = want[..6].iter().map(|i| format!("i{i:02}")).collect();
        assert_eq!(ids(&list), want, "{spec}: u{u:02}");
        for r in list.items.iter() {
            let i: usize = r.item_id[1..].parse().unwrap();
            assert!((r.score - scores[i]).abs() < 1e-4, "{r:?} vs {}", scores[i]);
        }
    }
}

/// `als-transition` is served through the engine's own pass (ALS's part shared with concurrent
/// requests, then the model's blend arithmetic): the list is the model's own ranking.
#[test]
fn an_als_blend_is_scored_in_the_shared_pass_and_ranks_as_the_model_does() {
    let shop = shop();
    assert_served_as_the_model_ranks(
        &shop,
        "als-transition:factors=4,alpha=5,reg=1,iterations=15,seed=1,window=2,mix=0.4",
    );
    let snap = shop.serving.app(APP).unwrap().snapshot().unwrap();
    assert_eq!(
        snap.score_batching().1,
        u64::from(common::USERS),
        "every list took the shared pass"
    );
}

/// `seq-knn` is ranked from its votes alone (items no neighbour holds score 0 without being
/// scored): the list is still the model's own ranking over the whole catalog, zeros included
/// (few neighbours, so some users' lists run out of voted items).
#[test]
fn a_seq_knn_list_from_its_votes_ranks_as_the_model_does() {
    let shop = shop();
    assert_served_as_the_model_ranks(&shop, "seq-knn:neighbours=2,sample=5,position_decay=2");
}

#[test]
fn a_burst_of_events_changes_the_next_list_before_any_retrain() {
    let shop = shop();
    train(&shop, ALS, true);
    let req = RecRequest {
        n: 6,
        ..RecRequest::default()
    };
    let before = shop.serving.recommend(APP, "u04", &req, true).unwrap();
    assert!(
        ids(&before).iter().filter(|i| parity(i) == 0).count() >= 5,
        "{:?}",
        ids(&before)
    );
    // u04 (an even user) suddenly buys odd items: committed, then observed.
    let burst: Vec<Event> = [1u32, 3, 5, 7, 9, 11, 13, 15]
        .iter()
        .enumerate()
        .map(|(n, i)| {
            event(
                n + 100,
                "u04",
                &format!("i{i:02}"),
                EventType::Purchase,
                T0 + 2_000_000_000 + n as i64,
            )
        })
        .collect();
    shop.store.insert_events(APP, &burst).unwrap();
    shop.serving.observe(APP, &burst);
    let after = shop.serving.recommend(APP, "u04", &req, true).unwrap();
    assert!(
        !after.cached,
        "an event invalidates the user's cached lists"
    );
    let odd = ids(&after).iter().filter(|i| parity(i) == 1).count();
    assert!(odd >= 4, "after buying odd items: {:?}", ids(&after));
    // Bought items are now seen.
    assert!(ids(&after)
        .iter()
        .all(|i| !["i01", "i03", "i05"].contains(&i.as_str())));
    // Another engine (a restarted server) reads the same events from the store.
    let fresh = Serving::new(
        shop.store.clone(),
        &shop.data_dir,
        ServingConfig::default(),
        attune_core::event::EventWeighting::default(),
    );
    let restarted = fresh.recommend(APP, "u04", &req, true).unwrap();
    assert_eq!(ids(&restarted), ids(&after));
}

#[test]
fn with_a_history_rating_factor_live_ratings_pull_by_how_much_they_were_liked() {
    use attune_core::event::weight::EventWeightParams;
    let shop = shop();
    // EASE scores a user linearly in their history's weights, so a weight's effect is plain.
    train(&shop, "ease:lambda=10", true);
    let rated = EventWeightParams {
        history_rating: Some((2.0, 3.0)),
        ..EventWeightParams::default()
    }
    .check()
    .unwrap();
    let engine = |weighting| {
        Serving::new(
            shop.store.clone(),
            &shop.data_dir,
            ServingConfig::default(),
            weighting,
        )
    };
    let (plain, weighed) = (
        engine(attune_core::event::EventWeighting::default()),
        engine(rated),
    );
    // Two even users rate odd items: first u06 too, one star each; then u08, five stars.
    let ratings = |user: &str, stars: f64, at: i64| -> Vec<Event> {
        [1u32, 3, 5, 7]
            .iter()
            .enumerate()
            .map(|(n, i)| {
                let mut e = event(n + 300, user, &format!("i{i:02}"), EventType::Rating, at);
                e.value = Some(stars);
                e
            })
            .collect()
    };
    // The best odd item's score over the best even item's, in one list of every unseen item.
    let odd_pull = |serving: &Serving, user: &str| {
        let all = RecRequest {
            n: 24,
            ..RecRequest::default()
        };
        let list = serving.recommend(APP, user, &all, true).unwrap();
        let best = |p: u32| {
            list.items
                .iter()
                .filter(|r| parity(&r.item_id) == p)
                .map(|r| r.score)
                .fold(f32::MIN, f32::max)
        };
        best(1) / best(0)
    };
    for (user, stars) in [("u06", 1.0), ("u08", 5.0)] {
        let events = ratings(user, stars, T0 + 3_000_000_000);
        shop.store.insert_events(APP, &events).unwrap();
        plain.observe(APP, &events);
        weighed.observe(APP, &events);
    }
    // Without the factor a rating weighs what a view does, however many stars. With it, a
    // one-star rating weighs (1/3)² of a view and pulls odd items up less; a five-star one
    // (5/3)² and pulls them up more.
    let (disliked_plain, disliked) = (odd_pull(&plain, "u06"), odd_pull(&weighed, "u06"));
    let (loved_plain, loved) = (odd_pull(&plain, "u08"), odd_pull(&weighed, "u08"));
    assert!(
        disliked < disliked_plain && loved > loved_plain,
        "odd pull of one star {disliked} (plain {disliked_plain}), five {loved} (plain {loved_plain})"
    );
}

#[test]
fn consent_off_means_popular_items_and_no_profile() {
    let shop = shop();
    train(&shop, "ease:lambda=10", true);
    shop.store
        .upsert_users(
            APP,
            &[User {
                user_id: "u05".into(),
                consent: Consent {
                    personalization: false,
                },
                ..User::default()
            }],
        )
        .unwrap();
    let list = shop
        .serving
        .recommend(APP, "u05", &RecRequest::default(), true)
        .unwrap();
    assert_eq!(list.source, Source::NonPersonalized);
    assert!(list.items.iter().all(|r| r.reason == Reason::Popular));
    let popular = shop
        .serving
        .popular(APP, &RecRequest::default(), true)
        .unwrap();
    assert_eq!(ids(&list), ids(&popular));
    // Turning it back on (the server forgets the cached state on a consent change).
    shop.store
        .upsert_users(
            APP,
            &[User {
                user_id: "u05".into(),
                ..User::default()
            }],
        )
        .unwrap();
    shop.serving.forget_user(APP, "u05");
    let list = shop
        .serving
        .recommend(APP, "u05", &RecRequest::default(), true)
        .unwrap();
    assert_eq!(list.source, Source::Personalized);
}

#[test]
fn new_users_get_the_cold_start_chain() {
    let shop = shop();
    train(&shop, "item-knn", true);
    shop.store
        .upsert_users(
            APP,
            &[User {
                user_id: "newbie".into(),
                preferred_categories: vec!["odd".into()],
                ..User::default()
            }],
        )
        .unwrap();
    let list = shop
        .serving
        .recommend(
            APP,
            "newbie",
            &RecRequest {
                n: 5,
                ..RecRequest::default()
            },
            true,
        )
        .unwrap();
    assert_eq!(list.source, Source::ColdStart);
    assert!(
        list.items.iter().all(|r| parity(&r.item_id) == 1),
        "{:?}",
        ids(&list)
    );
    assert!(
        list.items.iter().all(|r| r.explanation == "Popular in odd"),
        "{:?}",
        list.items
    );
    // Nobody at all: trending / popular, never an error.
    let stranger = shop
        .serving
        .recommend(APP, "stranger", &RecRequest::default(), true)
        .unwrap();
    assert_eq!(stranger.source, Source::ColdStart);
    assert_eq!(stranger.items.len(), 10);
    // Their first click makes them personalized at once.
    let click = [event(
        7,
        "stranger",
        "i08",
        EventType::Click,
        T0 + 3_000_000_000,
    )];
    shop.store.insert_events(APP, &click).unwrap();
    shop.serving.observe(APP, &click);
    let list = shop
        .serving
        .recommend(APP, "stranger", &RecRequest::default(), true)
        .unwrap();
    assert_eq!(list.source, Source::Personalized);
    assert!(!ids(&list).contains(&"i08".to_string()));
}

#[test]
fn corrupt_versions_are_refused_and_rollback_swaps_back() {
    let shop = shop();
    let v1 = train(&shop, "item-knn", true);
    let v2 = train(&shop, "ease:lambda=10", false);
    // Flip a byte in the middle of v2's file: activation must refuse it.
    let path = version_path(&app_dir(&shop.data_dir, APP), v2);
    let mut bytes = std::fs::read(&path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    let err = shop.serving.activate(APP, v2).unwrap_err();
    assert!(matches!(err, ServingError::Load(_)), "{err}");
    assert_eq!(shop.store.active_model(APP).unwrap().unwrap().version, v1);
    let list = shop
        .serving
        .recommend(APP, "u01", &RecRequest::default(), true)
        .unwrap();
    assert_eq!(list.model_version, Some(v1));
    // A good v3, then rollback to v1.
    let v3 = train(&shop, "ease:lambda=10", false);
    let a = shop.serving.activate(APP, v3).unwrap();
    assert!(a.changed);
    assert_eq!(
        shop.serving
            .recommend(APP, "u01", &RecRequest::default(), true)
            .unwrap()
            .model_version,
        Some(v3)
    );
    let r = shop.serving.rollback(APP).unwrap();
    assert_eq!(r.version, v1);
    assert_eq!(
        shop.serving
            .recommend(APP, "u01", &RecRequest::default(), true)
            .unwrap()
            .model_version,
        Some(v1)
    );
    // A second engine sharing the store follows the registry when it refreshes.
    let other = Serving::new(
        shop.store.clone(),
        &shop.data_dir,
        ServingConfig::default(),
        attune_core::event::EventWeighting::default(),
    );
    assert_eq!(other.refresh(APP).unwrap(), Some(v1));
    shop.serving.activate(APP, v3).unwrap();
    assert_eq!(other.refresh(APP).unwrap(), Some(v3));
}

#[test]
fn similar_trending_diversity_and_bad_requests() {
    let shop = shop();
    train(&shop, "item-knn:neighbours=10", true);
    let sim = shop
        .serving
        .similar(
            APP,
            "i04",
            &RecRequest {
                n: 4,
                ..RecRequest::default()
            },
            true,
        )
        .unwrap();
    assert_eq!(sim.items.len(), 4);
    assert!(sim
        .items
        .iter()
        .all(|r| parity(&r.item_id) == 0 && r.item_id != "i04"));
    assert_eq!(sim.items[0].explanation, "Similar to Item 4");
    assert!(matches!(
        shop.serving
            .similar(APP, "nope", &RecRequest::default(), true),
        Err(ServingError::UnknownItem { .. })
    ));
    // Trending is warmed up from stored events; a burst on one item puts it first.
    let burst: Vec<Event> = (0..30)
        .map(|n| {
            event(
                n + 500,
                &format!("x{n}"),
                "i07",
                EventType::Purchase,
                T0 + 4_000_000_000,
            )
        })
        .collect();
    shop.store.insert_events(APP, &burst).unwrap();
    shop.serving.observe(APP, &burst);
    std::thread::sleep(std::time::Duration::from_millis(1100)); // the ranked counts refresh each second
    let t = shop
        .serving
        .trending(
            APP,
            &RecRequest {
                n: 3,
                ..RecRequest::default()
            },
            true,
        )
        .unwrap();
    assert_eq!(t.items[0].item_id, "i07");
    assert_eq!(t.items[0].reason, Reason::Trending);
    // Diversity: λ = 1 is the model's order; λ = 0 still returns n distinct items.
    let plain = shop
        .serving
        .recommend(
            APP,
            "u02",
            &RecRequest {
                n: 5,
                ..RecRequest::default()
            },
            true,
        )
        .unwrap();
    let same = shop
        .serving
        .recommend(
            APP,
            "u02",
            &RecRequest {
                n: 5,
                diversity: Some(1.0),
                ..RecRequest::default()
            },
            true,
        )
        .unwrap();
    assert_eq!(ids(&plain), ids(&same));
    let diverse = shop
        .serving
        .recommend(
            APP,
            "u02",
            &RecRequest {
                n: 5,
                diversity: Some(0.0),
                ..RecRequest::default()
            },
            true,
        )
        .unwrap();
    assert_eq!(diverse.items.len(), 5);
    for bad in [
        RecRequest {
            n: 0,
            ..RecRequest::default()
        },
        RecRequest {
            n: 500,
            ..RecRequest::default()
        },
        RecRequest {
            diversity: Some(1.5),
            ..RecRequest::default()
        },
    ] {
        assert!(matches!(
            shop.serving.recommend(APP, "u02", &bad, true),
            Err(ServingError::InvalidRequest { .. })
        ));
    }
    // Without store access, an unloaded user is a NeedsStore, never a blocking call.
    assert!(matches!(
        shop.serving
            .recommend(APP, "u09", &RecRequest::default(), false),
        Err(ServingError::NeedsStore)
    ));
}

/// `[serving.fairness]` on: the same model's lists move toward the target shares, giving the
/// long tail more exposure. The catalog marks i00..i11 as `head` and i12..i23 as `tail` (an
/// item attribute, so the groups are known exactly); the target asks for 80% tail.
#[test]
fn fairness_reranking_raises_the_tail_share_of_served_lists() {
    use attune_core::catalog::{AttrValue, Item};
    use attune_core::fairness::{discount, ItemGroupSpec, TargetSpec};
    use attune_serving::fairness::FairnessConfig;

    let shop = shop();
    let items: Vec<Item> = (0..common::ITEMS)
        .map(|i| {
            let mut item = Item {
                item_id: format!("i{i:02}"),
                categories: vec![if i % 2 == 0 { "even" } else { "odd" }.into()],
                available: i != 22,
                ..Item::default()
            };
            let segment = if i < 12 { "head" } else { "tail" };
            item.attributes
                .insert("segment".into(), AttrValue::Text(segment.into()));
            item
        })
        .collect();
    shop.store.upsert_items(APP, &items).unwrap();
    let v = train(&shop, "item-knn:neighbours=10", true);
    let fair = Serving::new(
        shop.store.clone(),
        &shop.data_dir,
        ServingConfig {
            fairness: Some(FairnessConfig {
                item_groups: ItemGroupSpec::Attribute("segment".into()),
                targets: "head=0.2,tail=0.8".parse::<TargetSpec>().unwrap(),
                lambda: 2.0,
                candidates: 20,
            }),
            ..ServingConfig::default()
        },
        attune_core::event::EventWeighting::default(),
    );
    fair.activate(APP, v).unwrap();
    let tail_share = |serving: &Serving| {
        let req = RecRequest {
            n: 4,
            ..RecRequest::default()
        };
        let (mut tail, mut total) = (0.0, 0.0);
        for u in 0..common::USERS {
            let list = serving
                .recommend(APP, &format!("u{u:02}"), &req, true)
                .unwrap();
            for (p, id) in ids(&list).iter().enumerate() {
                total += discount(p);
                if id[1..].parse::<u32>().unwrap() >= 12 {
                    tail += discount(p);
                }
            }
        }
        tail / total
    };
    let off = tail_share(&shop.serving);
    let on = tail_share(&fair);
    assert!(on > off + 0.05, "tail share on {on} vs off {off}");
    assert!((on - 0.8).abs() < (off - 0.8).abs(), "on {on}, off {off}");
}
