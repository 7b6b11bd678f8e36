//! Online fairness figures over a real SQLite store, on a small window whose every figure is
//! computed by hand below.

use std::collections::BTreeMap;

use attune_core::attribution::names;
use attune_core::catalog::{AttrValue, Item, User};
use attune_core::event::{Context, Event, EventType, PropValue, Properties};
use attune_core::fairness::ItemGroupSpec;
use attune_core::time::Timestamp;
use attune_monitor::fairness::{online_fairness, FairnessQuery};
use attune_monitor::MonitorError;
use attune_store::sqlite::SqliteStore;
use attune_store::Store;

const APP: &str = "shop";
const T0: i64 = 1_780_000_000_000_000;
const MINUTE: i64 = 60_000_000;

fn event(id: &str, kind: EventType, user: &str, item: &str, t: i64) -> Event {
    Event {
        event_id: id.into(),
        event_type: kind,
        user_id: Some(user.into()),
        anonymous_id: None,
        item_id: Some(item.into()),
        timestamp: Timestamp::from_utc_micros(t),
        value: None,
        properties: Properties::default(),
        context: Context::default(),
    }
}

fn list(rec: &str, user: &str, items: &[&str], t: i64) -> Vec<Event> {
    items
        .iter()
        .enumerate()
        .map(|(p, item)| {
            let mut e = event(&format!("{rec}:{p}"), EventType::Impression, user, item, t);
            let mut extra = BTreeMap::new();
            extra.insert(names::RECOMMENDATION_ID.into(), PropValue::Text(rec.into()));
            extra.insert(names::POSITION.into(), PropValue::Number((p + 1) as f64));
            e.properties.extra = extra;
            e
        })
        .collect()
}

fn click(id: &str, user: &str, item: &str, rec: &str, t: i64) -> Event {
    let mut e = event(id, EventType::Click, user, item, t);
    e.context.recommendation_id = Some(rec.into());
    e
}

fn attr(mut v: BTreeMap<String, AttrValue>, k: &str, s: &str) -> BTreeMap<String, AttrValue> {
    v.insert(k.into(), AttrValue::Text(s.into()));
    v
}

fn store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("f.db")).unwrap();
    store.create_app(APP).unwrap();
    // Brand x: a, b, c; brand y: d, e, f.
    let items: Vec<Item> = ["a", "b", "c", "d", "e", "f"]
        .iter()
        .map(|id| {
            let mut i = Item::new(*id);
            let brand = if *id <= "c" { "x" } else { "y" };
            i.attributes = attr(BTreeMap::new(), "brand", brand);
            i
        })
        .collect();
    store.upsert_items(APP, &items).unwrap();
    // u1 is F, u2 is M, u3 has no profile.
    let users: Vec<User> = [("u1", "F"), ("u2", "M")]
        .iter()
        .map(|(id, g)| User {
            user_id: id.to_string(),
            attributes: attr(BTreeMap::new(), "gender", g),
            ..User::default()
        })
        .collect();
    store.upsert_users(APP, &users).unwrap();
    let t = T0 - 30 * MINUTE;
    let mut events = list("r1", "u1", &["a", "b", "d"], t);
    events.extend(list("r2", "u2", &["a", "e"], t));
    events.extend(list("r3", "u3", &["b"], t));
    events.push(click("c1", "u1", "d", "r1", t + MINUTE));
    events.push(click("c2", "u2", "a", "r2", t + MINUTE));
    store.insert_events(APP, &events).unwrap();
    (dir, store)
}

fn query(user_groups: Option<&str>) -> FairnessQuery {
    FairnessQuery {
        until_micros: T0,
        window_secs: 3600,
        item_groups: ItemGroupSpec::Attribute("brand".into()),
        user_groups: user_groups.map(|s| s.parse().unwrap()),
        max_events: 10_000,
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

#[test]
fn exposure_and_ctr_by_group_match_hand_computed_values() {
    let (_dir, store) = store();
    let r = online_fairness(&store, APP, &query(Some("attr:gender"))).unwrap();
    let d2 = 1.0 / 3f64.log2();
    // Exposure by rank (1, d2 = 0.631, 0.5): a rank 1 in r1 and r2: 2; b rank 2 in r1 and
    // rank 1 in r3: 1 + d2; d rank 3 in r1: 0.5; e rank 2 in r2: d2; c and f never shown.
    // x = 3 + d2, y = 0.5 + d2, total 3.5 + 2 d2.
    let total = 3.5 + 2.0 * d2;
    let e = &r.exposure;
    assert_eq!(e.lists, 3);
    assert_eq!(
        (e.groups[0].label.as_str(), e.groups[1].label.as_str()),
        ("x", "y")
    );
    assert!(close(e.groups[0].share, (3.0 + d2) / total));
    assert!(close(e.groups[1].share, (0.5 + d2) / total));
    assert!(close(e.gap, 2.5 / total));
    // Catalogue shares 1/2 each: ratios are twice the shares.
    assert!(close(e.ratio_gap, 5.0 / total));
    // Two of three items of each brand shown.
    assert!(close(e.groups[0].recommended_rate, 2.0 / 3.0));
    assert!(close(e.recommended_rate_gap, 0.0));
    // Per item sorted 0, 0, 0.5, d2, 1 + d2, 2 with weights −5, −3, −1, 1, 3, 5.
    assert!(close(e.gini, (12.5 + 4.0 * d2) / (6.0 * total)));
    // CTR: (none) = u3: 0 of 1; F = u1: 1 of 3; M = u2: 1 of 2. DP gap 1/2 − 0.
    let g = r.user_groups.as_ref().unwrap();
    let rows: Vec<(&str, usize, usize, usize)> = g
        .iter()
        .map(|g| (g.label.as_str(), g.lists, g.impressions, g.clicks))
        .collect();
    assert_eq!(rows, [("(none)", 1, 1, 0), ("F", 1, 3, 1), ("M", 1, 2, 1)]);
    assert!(close(g[1].ctr, 1.0 / 3.0));
    assert!(close(r.dp_gap.unwrap(), 0.5));
    let doc = r.to_json(&query(Some("attr:gender")));
    assert_eq!(doc["users"][2]["ctr"], 0.5);
    assert_eq!(doc["item_groups"], "attr:brand");
}

#[test]
fn bad_queries_name_the_field() {
    let (_dir, store) = store();
    let mut q = query(Some("activity:3"));
    let Err(MonitorError::Invalid { field, .. }) = online_fairness(&store, APP, &q) else {
        panic!("activity groups are offline only")
    };
    assert_eq!(field, "user_groups");
    q.user_groups = None;
    q.item_groups = ItemGroupSpec::Attribute("colour".into());
    let Err(MonitorError::Invalid { field, reason }) = online_fairness(&store, APP, &q) else {
        panic!("no item has a colour")
    };
    assert_eq!(field, "item_groups");
    assert!(reason.contains("no catalog item"), "{reason}");
    q.window_secs = 0;
    assert!(online_fairness(&store, APP, &q).is_err());
}
