//! The hybrid trained on profile attributes (issue 15, 5a), through the one train path on a
//! real SQLite store and real artifacts: train, register, activate, serve. A new user who
//! filled in a profile but has no history gets their group's items; without the profile they
//! get the cold-start list, the same for everyone.

use std::collections::BTreeMap;
use std::sync::Arc;

use attune_core::catalog::{AttrValue, Item, User};
use attune_core::event::{Context, Event, EventType, EventWeighting, Properties};
use attune_core::time::Timestamp;
use attune_pipeline::{Pipeline, PipelineConfig, Promote, TrainRequest};
use attune_serving::explain::Reason;
use attune_serving::{RecList, RecRequest, Serving, ServingConfig, Source};
use attune_store::Store as _;

const APP: &str = "club";
const N_USERS: usize = 80;
const N_ITEMS: usize = 40;
const DAY: i64 = 86_400_000_000;

/// Item `i` belongs to taste group `i % 2`; shelves (categories) 0 and 2 hold group 0.
fn items() -> Vec<Item> {
    (0..N_ITEMS)
        .map(|i| {
            let mut it = Item::new(format!("i{i:02}"));
            it.title = Some(format!("Item {i}"));
            it.categories = vec![format!("shelf{}", i % 4)];
            it
        })
        .collect()
}

fn user(id: &str, group: usize) -> User {
    let mut u = User::new(id);
    u.attributes = BTreeMap::from([
        ("club".to_string(), AttrValue::Text(format!("club{group}"))),
        (
            "age".to_string(),
            AttrValue::Number(25.0 + 20.0 * group as f64),
        ),
    ]);
    u
}

/// Each user views six distinct items of their group, which ones depending on the user.
fn events(now: i64) -> Vec<Event> {
    let mut out = Vec::new();
    for u in 0..N_USERS {
        let g = u % 2;
        for k in 0..6 {
            let rank = (u * 7 + k * k * 3) % 10;
            let item = 2 * rank + g;
            out.push(Event {
                event_id: format!("e{u}-{k}"),
                event_type: EventType::View,
                user_id: Some(format!("u{u:03}")),
                anonymous_id: None,
                item_id: Some(format!("i{item:02}")),
                timestamp: Timestamp::from_utc_micros(now - DAY + (u * 10 + k) as i64 * 1_000_000),
                value: None,
                properties: Properties::default(),
                context: Context::default(),
            });
        }
    }
    out
}

fn list(engine: &Serving, user: &str) -> RecList {
    let req = RecRequest {
        n: 10,
        ..RecRequest::default()
    };
    engine.recommend(APP, user, &req, true).unwrap()
}

fn group_hits(l: &RecList, g: usize) -> usize {
    l.items
        .iter()
        .filter(|r| r.item_id[1..].parse::<usize>().unwrap() % 2 == g)
        .count()
}

#[test]
fn a_new_user_with_a_profile_gets_the_items_of_their_group() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(attune_store::sqlite::SqliteStore::open(dir.path().join("a.db")).unwrap());
    store.create_app(APP).unwrap();
    let now = chrono::Utc::now().timestamp_micros();
    let users: Vec<User> = (0..N_USERS)
        .map(|u| user(&format!("u{u:03}"), u % 2))
        .collect();
    store.upsert_items(APP, &items()).unwrap();
    store.upsert_users(APP, &users).unwrap();
    store.insert_events(APP, &events(now)).unwrap();

    let engine = Serving::new(
        store.clone(),
        dir.path(),
        ServingConfig::default(),
        EventWeighting::default(),
    );
    let pipeline = Pipeline::new(Arc::new(engine), PipelineConfig::default());
    let request = TrainRequest {
        algorithm: "hybrid:factors=16,epochs=40,seed=3".into(),
        promote: Promote::Always,
    };
    let trained = pipeline.run(APP, &request, &|_| {}).unwrap();
    assert!(trained.activated);
    let engine = pipeline.engine().clone();

    // New users after training: two with profiles, one without.
    store
        .upsert_users(APP, &[user("new0", 0), user("new1", 1)])
        .unwrap();
    let bare = list(&engine, "nobody");
    assert_eq!(bare.source, Source::ColdStart);
    let mut profiled = 0;
    for g in 0..2 {
        let l = list(&engine, &format!("new{g}"));
        assert_eq!(l.model_version, Some(trained.version));
        assert_ne!(
            l.source,
            Source::ColdStart,
            "the profile is scored by the model"
        );
        let hits = group_hits(&l, g);
        assert!(
            hits >= 8,
            "new{g}: {hits} of 10 from the group: {:?}",
            l.items
        );
        // No history item to name: the model ranked them for this user.
        assert!(l.items.iter().all(|r| r.reason == Reason::ForYou));
        profiled += hits;
    }
    // One list for both groups without a profile: it serves both only half as well.
    let unprofiled = group_hits(&bare, 0) + group_hits(&bare, 1);
    assert_eq!(unprofiled, 10);
    assert!(profiled > unprofiled + 5, "{profiled} vs {unprofiled}");
}
