//! A bandit experiment over a real SQLite store: lists and clicks logged as serving logs them,
//! an update recomputes trials and successes per arm from the attributed outcomes, saves an
//! allocation that favours the better arm, and the router draws from it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use attune_core::attribution::names;
use attune_core::event::{Context, Event, EventType, PropValue, Properties};
use attune_core::time::Timestamp;
use attune_experiment::bandit::{self, BanditState};
use attune_experiment::{lifecycle, Definition, Routed, Router};
use attune_store::sqlite::SqliteStore;
use attune_store::Store;

const APP: &str = "shop";

fn impression(rec: &str, user: &str, variant: &str, t: i64) -> Event {
    let mut extra = BTreeMap::new();
    extra.insert(names::RECOMMENDATION_ID.into(), PropValue::Text(rec.into()));
    extra.insert(names::POSITION.into(), PropValue::Number(1.0));
    Event {
        event_id: format!("{rec}:1"),
        event_type: EventType::Impression,
        user_id: Some(user.into()),
        anonymous_id: None,
        item_id: Some("item-1".into()),
        timestamp: Timestamp::from_utc_micros(t),
        value: None,
        properties: Properties {
            extra,
            ..Properties::default()
        },
        context: Context {
            experiment: Some("slot".into()),
            variant: Some(variant.into()),
            ..Context::default()
        },
    }
}

fn click(rec: &str, user: &str, t: i64) -> Event {
    Event {
        event_id: format!("click-{rec}"),
        event_type: EventType::Click,
        user_id: Some(user.into()),
        anonymous_id: None,
        item_id: Some("item-1".into()),
        timestamp: Timestamp::from_utc_micros(t),
        value: None,
        properties: Properties::default(),
        context: Context {
            recommendation_id: Some(rec.into()),
            ..Context::default()
        },
    }
}

#[test]
fn an_update_moves_traffic_to_the_arm_that_earns_more_clicks() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path().join("a.db")).unwrap());
    store.create_app(APP).unwrap();
    let d = Definition::from_json(
        r#"{"variants": [{"name": "plain", "share": 0.5},
                         {"name": "diverse", "share": 0.5, "diversity": 0.6}],
            "allocation": {"kind": "bandit", "policy": "thompson", "floor": 0.05}}"#,
    )
    .unwrap();
    lifecycle::create(&*store, APP, "slot", "recs", &d).unwrap();
    let started = lifecycle::start(&*store, APP, "slot").unwrap();
    let t0 = started.record.started_micros.unwrap() + 1_000_000;
    // 400 lists per arm: 4% clicked on `plain`, 10% on `diverse`.
    let mut events = Vec::new();
    for i in 0..800 {
        let (variant, rate) = if i % 2 == 0 {
            ("plain", 25)
        } else {
            ("diverse", 10)
        };
        let rec = format!("r{i}");
        let user = format!("u{}", i % 97);
        events.push(impression(&rec, &user, variant, t0 + i));
        if (i / 2) % rate == 0 {
            events.push(click(&rec, &user, t0 + i + 5_000_000));
        }
    }
    store.insert_events(APP, &events).unwrap();

    let now = t0 + 3_600_000_000;
    let s: BanditState = bandit::update(&*store, APP, "slot", now).unwrap();
    assert_eq!(s.trials, [400, 400]);
    assert_eq!(s.successes, [16, 40]);
    assert!(s.allocation[1] > 0.9, "{:?}", s.allocation);
    assert!(
        s.allocation[0] >= 0.05 - 1e-12,
        "the floor holds: {:?}",
        s.allocation
    );
    assert!((s.allocation.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    // Regret estimate: 400 lists at (0.10 - 0.04).
    assert!((s.regret - 24.0).abs() < 1e-9, "{}", s.regret);
    // The same events give the same state (idempotent, reproducible).
    assert_eq!(bandit::update(&*store, APP, "slot", now).unwrap(), s);
    assert_eq!(
        bandit::update_running(&*store, APP, now).unwrap(),
        vec!["slot".to_string()]
    );

    // The router draws from the saved allocation: mostly `diverse`, never sticky.
    let router = Router::new(store.clone(), Duration::from_secs(60));
    let mut diverse = 0;
    for u in 0..2_000 {
        match router
            .route(APP, &format!("v{u}"), true, &mut || Ok(None))
            .unwrap()
        {
            Routed::In(a) => {
                assert!(!a.first, "bandit lists record no exposure");
                diverse += usize::from(a.variant == "diverse");
            }
            other => panic!("{other:?}"),
        }
    }
    let expected = s.allocation[1] * 2_000.0;
    assert!(
        (diverse as f64 - expected).abs() < 4.0 * (2_000.0 * 0.25f64).sqrt(),
        "{diverse} vs {expected}"
    );

    // A fixed experiment is not a bandit.
    let fixed = Definition::from_json(
        r#"{"variants": [{"name": "a", "share": 0.5}, {"name": "b", "share": 0.5}]}"#,
    )
    .unwrap();
    lifecycle::create(&*store, APP, "fixed", "other", &fixed).unwrap();
    lifecycle::start(&*store, APP, "fixed").unwrap();
    assert!(bandit::update(&*store, APP, "fixed", now).is_err());
}
