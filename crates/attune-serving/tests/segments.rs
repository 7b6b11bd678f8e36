//! Serving by user segment (`[serving.segments]`) against a real SQLite store and real
//! artifact files: the shop's even users are segment "even", its odd users "odd"; "odd" is
//! served by its own version, and users without history get their segment's popular items.

mod common;

use std::collections::BTreeMap;

use attune_core::catalog::{AttrValue, User};
use attune_serving::segments::SegmentServing;
use attune_serving::{Reason, RecRequest, Serving, ServingConfig, Source};
use common::{ids, parity, shop, train, Shop, ALS, APP, USERS};

fn profile(user: &str, segment: &str) -> User {
    let mut u = User::new(user);
    u.attributes
        .insert("segment".into(), AttrValue::Text(segment.into()));
    u
}

fn by_segment(shop: &Shop, odd_version: u32) -> Serving {
    Serving::new(
        shop.store.clone(),
        &shop.data_dir,
        ServingConfig {
            segments: Some(SegmentServing {
                attribute: "segment".into(),
                models: BTreeMap::from([("odd".to_string(), odd_version)]),
                prior_users: 2.0,
            }),
            ..ServingConfig::default()
        },
        attune_core::event::EventWeighting::default(),
    )
}

fn five() -> RecRequest {
    RecRequest {
        n: 5,
        ..RecRequest::default()
    }
}

#[test]
fn each_segment_is_served_by_its_version_and_the_list_says_which() {
    let shop = shop();
    let profiles: Vec<User> = (0..USERS)
        .map(|u| profile(&format!("u{u:02}"), ["even", "odd"][(u % 2) as usize]))
        .collect();
    shop.store.upsert_users(APP, &profiles).unwrap();
    let active = train(&shop, "item-knn:neighbours=10", false);
    let odd = train(&shop, ALS, false);
    let serving = by_segment(&shop, odd);
    serving.activate(APP, active).unwrap();

    let even_list = serving.recommend(APP, "u02", &five(), true).unwrap();
    assert_eq!(even_list.model_version, Some(active));
    assert_eq!(even_list.segment.as_deref(), Some("even"));
    let odd_list = serving.recommend(APP, "u03", &five(), true).unwrap();
    assert_eq!(odd_list.model_version, Some(odd), "{odd_list:?}");
    assert_eq!(odd_list.segment.as_deref(), Some("odd"));
    assert_eq!(odd_list.source, Source::Personalized);
    // Served again: the segment's version's cache, still tagged.
    let again = serving.recommend(APP, "u03", &five(), true).unwrap();
    assert!(again.cached);
    assert_eq!(
        (again.model_version, again.segment.as_deref()),
        (Some(odd), Some("odd"))
    );

    // The user moves segment (a new profile, as `attune segment --save-as` writes it): the
    // next list comes from the active version.
    shop.store
        .upsert_users(APP, &[profile("u03", "even")])
        .unwrap();
    serving.forget_user(APP, "u03");
    let moved = serving.recommend(APP, "u03", &five(), true).unwrap();
    assert_eq!(moved.model_version, Some(active));
    assert_eq!(moved.segment.as_deref(), Some("even"));

    // Without a segment: the active version, no segment on the list.
    let stranger = serving.recommend(APP, "stranger", &five(), true).unwrap();
    assert_eq!(
        (stranger.model_version, stranger.segment),
        (Some(active), None)
    );

    // The engine without [serving.segments] never tags a list.
    let plain = common::engine(&shop);
    plain.activate(APP, active).unwrap();
    let l = plain.recommend(APP, "u03", &five(), true).unwrap();
    assert_eq!((l.model_version, l.segment), (Some(active), None));
}

#[test]
fn users_without_history_get_what_their_segment_engaged_with() {
    let shop = shop();
    let mut profiles: Vec<User> = (0..USERS)
        .map(|u| profile(&format!("u{u:02}"), ["even", "odd"][(u % 2) as usize]))
        .collect();
    profiles.push(profile("new-even", "even"));
    profiles.push(profile("new-odd", "odd"));
    profiles.push(profile("new-unseen", "a segment nobody trained in"));
    shop.store.upsert_users(APP, &profiles).unwrap();
    let v = train(&shop, "item-knn:neighbours=10", false);
    let serving = by_segment(&shop, v);
    serving.activate(APP, v).unwrap();

    for (user, want_parity) in [("new-even", 0), ("new-odd", 1)] {
        let list = serving.recommend(APP, user, &five(), true).unwrap();
        assert_eq!(list.source, Source::ColdStart, "{user}");
        assert_eq!(list.items.len(), 5);
        let segment = ["even", "odd"][want_parity as usize];
        for r in list.items.iter() {
            assert_eq!(parity(&r.item_id), want_parity, "{user}: {:?}", ids(&list));
            assert!(matches!(r.reason, Reason::PopularInSegment { .. }), "{r:?}");
            assert_eq!(
                r.explanation,
                format!("Popular with users like you ({segment})")
            );
        }
        assert_eq!(list.segment.as_deref(), Some(segment));
        // Scores never rise down the list.
        assert!(list.items.windows(2).all(|w| w[0].score >= w[1].score));
    }
    // A segment no training user is in has no preferences: the chain goes on to popular.
    let list = serving.recommend(APP, "new-unseen", &five(), true).unwrap();
    assert_eq!(list.source, Source::ColdStart);
    assert!(list
        .items
        .iter()
        .all(|r| !matches!(r.reason, Reason::PopularInSegment { .. })));
    assert_eq!(list.items.len(), 5);
}

/// Segments recomputed and saved by another replica: this one saw no change in the store, so
/// it compares the users it has loaded with the new segments and reloads only those that
/// moved; their next list comes from their new segment's version.
#[test]
fn recomputed_segments_reload_only_the_loaded_users_that_moved() {
    let shop = shop();
    let profiles: Vec<User> = (0..USERS)
        .map(|u| profile(&format!("u{u:02}"), ["even", "odd"][(u % 2) as usize]))
        .collect();
    shop.store.upsert_users(APP, &profiles).unwrap();
    let active = train(&shop, "item-knn:neighbours=10", false);
    let odd = train(&shop, ALS, false);
    let serving = by_segment(&shop, odd);
    serving.activate(APP, active).unwrap();
    for user in ["u03", "u05"] {
        assert_eq!(
            serving
                .recommend(APP, user, &five(), true)
                .unwrap()
                .model_version,
            Some(odd)
        );
    }
    // Another replica moved u03 to "even" and wrote it; u05 stays "odd"; u07 is not loaded.
    shop.store
        .upsert_users(APP, &[profile("u03", "even"), profile("u07", "even")])
        .unwrap();
    let still = serving.recommend(APP, "u03", &five(), true).unwrap();
    assert_eq!(
        (still.model_version, still.segment.as_deref()),
        (Some(odd), Some("odd")),
        "a loaded user keeps the segment read with their profile"
    );
    let recomputed = [("u03", "even"), ("u05", "odd"), ("u07", "even")];
    assert_eq!(serving.segments_changed(APP, recomputed, &[]), 1);
    let moved = serving.recommend(APP, "u03", &five(), true).unwrap();
    assert_eq!(
        (moved.model_version, moved.segment.as_deref()),
        (Some(active), Some("even"))
    );
    assert!(!moved.cached);
    let kept = serving.recommend(APP, "u05", &five(), true).unwrap();
    assert!(
        kept.cached,
        "a user whose segment did not move keeps their cached list"
    );
    // Users named as changed are forgotten whether or not they were loaded.
    assert_eq!(
        serving.segments_changed(APP, recomputed, &["u07".to_string()]),
        1
    );
}
