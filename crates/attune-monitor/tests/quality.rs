//! Online quality over a real SQLite store, on a small window whose every figure is computed
//! by hand below.

use std::collections::BTreeMap;

use attune_core::attribution::names;
use attune_core::catalog::{AttrValue, Item, User};
use attune_core::event::{Context, Event, EventType, PropValue, Properties};
use attune_core::time::Timestamp;
use attune_monitor::quality::{self, QualityConfig};
use attune_monitor::series::labels;
use attune_store::sqlite::SqliteStore;
use attune_store::{MonitorStore as _, Store};

const APP: &str = "shop";
const T0: i64 = 1_780_000_000_000_000;
const HOUR: i64 = 3_600_000_000;

struct List<'a> {
    id: &'a str,
    user: &'a str,
    items: &'a [&'a str],
    version: u32,
    source: &'a str,
    latency_ms: f64,
    variant: Option<&'a str>,
}

fn impressions(l: &List<'_>, t: i64) -> Vec<Event> {
    l.items
        .iter()
        .enumerate()
        .map(|(p, item)| {
            let mut extra = BTreeMap::new();
            extra.insert(
                names::RECOMMENDATION_ID.into(),
                PropValue::Text(l.id.into()),
            );
            extra.insert(names::POSITION.into(), PropValue::Number((p + 1) as f64));
            extra.insert(
                names::MODEL_VERSION.into(),
                PropValue::Number(f64::from(l.version)),
            );
            extra.insert(names::SOURCE.into(), PropValue::Text(l.source.into()));
            if p == 0 {
                extra.insert(names::LATENCY_MS.into(), PropValue::Number(l.latency_ms));
            }
            Event {
                event_id: format!("{}:{}", l.id, p + 1),
                event_type: EventType::Impression,
                user_id: Some(l.user.into()),
                anonymous_id: None,
                item_id: Some((*item).into()),
                timestamp: Timestamp::from_utc_micros(t),
                value: None,
                properties: Properties {
                    extra,
                    ..Properties::default()
                },
                context: Context {
                    experiment: l.variant.map(|_| "ab".to_string()),
                    variant: l.variant.map(str::to_string),
                    ..Context::default()
                },
            }
        })
        .collect()
}

fn outcome(id: &str, kind: EventType, user: &str, item: &str, rec: &str, t: i64) -> Event {
    let mut properties = Properties::default();
    if kind == EventType::Purchase {
        properties.price = Some(20.0);
        properties.quantity = Some(2);
    }
    if kind == EventType::Dwell {
        properties.dwell_ms = Some(30_000);
    }
    Event {
        event_id: id.into(),
        event_type: kind,
        user_id: Some(user.into()),
        anonymous_id: None,
        item_id: Some(item.into()),
        timestamp: Timestamp::from_utc_micros(t),
        value: None,
        properties,
        context: Context {
            recommendation_id: (!rec.is_empty()).then(|| rec.to_string()),
            ..Context::default()
        },
    }
}

fn item(id: &str, cats: &[&str]) -> Item {
    let mut i = Item::new(id);
    i.categories = cats.iter().map(|c| c.to_string()).collect();
    i
}

#[test]
fn every_figure_matches_its_hand_computed_value() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("q.db")).unwrap();
    store.create_app(APP).unwrap();
    // Ten available items (one more unavailable), categories for a, b, c only.
    let mut items = vec![
        item("a", &["shoes"]),
        item("b", &["shoes", "sale"]),
        item("c", &["bags"]),
    ];
    items.extend(["d", "e", "f", "g", "h", "i", "j"].map(|i| item(i, &[])));
    let mut gone = item("k", &[]);
    gone.available = false;
    items.push(gone);
    store.upsert_items(APP, &items).unwrap();
    let mut u1 = User {
        user_id: "u1".into(),
        ..User::default()
    };
    u1.attributes
        .insert("country".into(), AttrValue::Text("de".into()));
    store.upsert_users(APP, &[u1]).unwrap();

    let t = T0 - HOUR / 2;
    let lists = [
        List {
            id: "r1",
            user: "u1",
            items: &["a", "b", "c"],
            version: 2,
            source: "personalized",
            latency_ms: 4.0,
            variant: Some("b"),
        },
        List {
            id: "r2",
            user: "u2",
            items: &["a", "d"],
            version: 2,
            source: "personalized",
            latency_ms: 2.0,
            variant: None,
        },
        List {
            id: "r3",
            user: "u3",
            items: &["e", "f"],
            version: 1,
            source: "cold_start",
            latency_ms: 9.0,
            variant: None,
        },
    ];
    let mut events: Vec<Event> = lists.iter().flat_map(|l| impressions(l, t)).collect();
    events.extend([
        outcome("c1", EventType::Click, "u1", "a", "r1", t + 10),
        outcome("c2", EventType::Click, "u1", "b", "r1", t + 20),
        outcome("p1", EventType::Purchase, "u1", "b", "r1", t + 30),
        outcome("c3", EventType::Click, "u3", "e", "r3", t + 40),
        outcome("w1", EventType::Dwell, "u3", "e", "r3", t + 50),
        // Interactions without a list: popularity only. u4 views a; u2 views a and d.
        outcome("v1", EventType::View, "u4", "a", "", t + 60),
        outcome("v2", EventType::View, "u2", "a", "", t + 70),
        outcome("v3", EventType::View, "u2", "d", "", t + 80),
    ]);
    // Before the window: ignored.
    events.push(outcome(
        "old",
        EventType::Click,
        "u9",
        "a",
        "",
        T0 - 2 * HOUR,
    ));
    store.insert_events(APP, &events).unwrap();

    let config = QualityConfig {
        segment_attribute: "country".into(),
        ..QualityConfig::default()
    };
    let points = quality::record(&store, APP, T0, HOUR, &config).unwrap();
    let get = |metric: &str, l: &[(&str, &str)]| {
        points
            .iter()
            .find(|p| p.metric == metric && p.labels == labels(l))
            .map(|p| p.value)
    };
    let close = |metric: &str, l: &[(&str, &str)], want: f64| {
        let got = get(metric, l).unwrap_or_else(|| panic!("no {metric} {l:?}"));
        assert!(
            (got - want).abs() < 1e-12,
            "{metric} {l:?}: {got} vs {want}"
        );
    };
    // Overall: 3 lists, 7 impressions, 3 users; clicks 3 → CTR 3/7.
    close("lists", &[], 3.0);
    close("impressions", &[], 7.0);
    close("users", &[], 3.0);
    close("ctr", &[], 3.0 / 7.0);
    // u1 bought (2 × 20 = 40): conversion 1/3, revenue 40/3; dwell 30 s / 3 users.
    close("conversion", &[], 1.0 / 3.0);
    close("revenue_per_user", &[], 40.0 / 3.0);
    close("dwell_per_user", &[], 10_000.0);
    // 6 distinct items served (a b c d e f) of 10 available.
    close("coverage", &[], 0.6);
    // Only r1 has two or more categorized items: pairs (a,b) J = 1/2, (a,c) 0, (b,c) 0 →
    // diversity = mean(1/2, 1, 1) = 5/6.
    close("diversity", &[], 5.0 / 6.0);
    // Popularity (distinct users interacting in the window, impressions excluded):
    // a {u1,u4,u2} = 3, b {u1} = 1, d {u2} = 1, e {u3} = 1, c = f = 0 (counted as 1 for
    // novelty). Active users: u1, u2, u3, u4 = 4.
    let info = |p: f64| -(p / 4.0).log2();
    let nov = ((info(3.0) + info(1.0) + info(1.0)) / 3.0
        + (info(3.0) + info(1.0)) / 2.0
        + (info(1.0) + info(1.0)) / 2.0)
        / 3.0;
    close("novelty", &[], nov);
    // ARP per list: r1 (3+1+0)/3, r2 (3+1)/2, r3 (1+0)/2; touched items a b d e mean 6/4.
    let arp = (4.0 / 3.0 + 2.0 + 0.5) / 3.0;
    close("popularity_bias", &[], arp / 1.5);
    close("cold_start_share", &[], 1.0 / 3.0);
    // Latencies 2, 4, 9: nearest-rank p50 = 4, p99 = 9.
    close("latency_p50_ms", &[], 4.0);
    close("latency_p99_ms", &[], 9.0);

    // Per model version, source, variant and segment.
    close("lists", &[("model_version", "2")], 2.0);
    close("ctr", &[("model_version", "2")], 2.0 / 5.0);
    close("ctr", &[("model_version", "1")], 1.0 / 2.0);
    close("cold_start_share", &[("source", "cold_start")], 1.0);
    close("ctr", &[("experiment", "ab"), ("variant", "b")], 2.0 / 3.0);
    close("conversion", &[("segment", "de")], 1.0);
    // Lists without a known segment are in no segment series.
    assert_eq!(get("lists", &[("segment", "fr")]), None);
    // No categorized pair among version 1's lists: no diversity point rather than 0.
    assert_eq!(get("diversity", &[("model_version", "1")]), None);

    // Stored as series at the window's end.
    let mut stored = Vec::new();
    store
        .scan_points(APP, "ctr", T0, T0 + 1, &mut |p| {
            stored.push(p);
            true
        })
        .unwrap();
    // Overall, two versions, two sources, one variant, one segment.
    assert_eq!(stored.len(), 7, "{stored:?}");
    assert!(store
        .metric_names(APP)
        .unwrap()
        .contains(&"latency_p99_ms".to_string()));
}

#[test]
fn an_empty_window_records_zero_lists_and_no_rates() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("q.db")).unwrap();
    store.create_app(APP).unwrap();
    let points = quality::record(&store, APP, T0, HOUR, &QualityConfig::default()).unwrap();
    assert!(points.is_empty(), "{points:?}");
}

#[test]
fn a_busy_window_is_shortened_to_its_latest_part() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("q.db")).unwrap();
    store.create_app(APP).unwrap();
    // 60 lists of 2 items, one a minute over the hour: 120 impressions.
    let mut events = Vec::new();
    let ids: Vec<String> = (0..60).map(|i| format!("r{i}")).collect();
    for (i, id) in ids.iter().enumerate() {
        let l = List {
            id,
            user: "u1",
            items: &["a", "b"],
            version: 1,
            source: "personalized",
            latency_ms: 1.0,
            variant: None,
        };
        events.extend(impressions(&l, T0 - HOUR + i as i64 * 60_000_000));
    }
    store.insert_events(APP, &events).unwrap();
    let all = quality::report(&store, APP, T0, HOUR, &QualityConfig::default()).unwrap();
    assert_eq!(all.since_micros, T0 - HOUR);
    assert_eq!(all.series[0].figures[0], ("lists".to_string(), 60.0));
    // At most 40 events: the window becomes its latest part holding 0.9 × 40 = 36 events,
    // lists 42..59 (two impressions each), starting at list 42's time.
    let capped = QualityConfig {
        max_events: 40,
        ..QualityConfig::default()
    };
    let r = quality::report(&store, APP, T0, HOUR, &capped).unwrap();
    assert_eq!(r.since_micros, T0 - HOUR + 42 * 60_000_000);
    assert_eq!(r.series[0].figures[0], ("lists".to_string(), 18.0));
}
