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

fn profile(id: &str, country: &str) -> attune_core::catalog::User {
    let mut u = attune_core::catalog::User {
        user_id: id.into(),
        ..Default::default()
    };
    u.attributes.insert(
        "country".into(),
        attune_core::catalog::AttrValue::Text(country.into()),
    );
    u
}

#[test]
fn a_contextual_bandit_learns_a_different_best_arm_per_country() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path().join("a.db")).unwrap());
    store.create_app(APP).unwrap();
    let d = Definition::from_json(
        r#"{"variants": [{"name": "plain", "share": 0.5},
                         {"name": "diverse", "share": 0.5, "diversity": 0.6}],
            "targeting": [{"attribute": "country", "in": ["de", "fr"]}],
            "allocation": {"kind": "bandit", "policy": "lin_thompson", "floor": 0.05,
                           "context": ["country"]}}"#,
    )
    .unwrap();
    lifecycle::create(&*store, APP, "slot", "recs", &d).unwrap();
    let started = lifecycle::start(&*store, APP, "slot").unwrap();
    let users: Vec<_> = (0..100)
        .map(|u| profile(&format!("u{u}"), if u % 2 == 0 { "de" } else { "fr" }))
        .collect();
    store.upsert_users(APP, &users).unwrap();

    // Before any update the router splits by the definition's shares and applies targeting.
    let router = Router::new(store.clone(), Duration::from_secs(0));
    store
        .upsert_users(APP, &[profile("it-1", "it"), profile("de-1", "de")])
        .unwrap();
    let out = router.route(APP, "it-1", true, &mut || Ok(store.get_user(APP, "it-1")?));
    assert_eq!(out.unwrap(), Routed::Out, "targeting holds for bandits");

    // 1,600 lists, alternating arms; user u{i % 100}: even users are in Germany, odd in
    // France. Germans click `plain` 1 in 8 and `diverse` 1 in 40; the French the reverse, so
    // pooled over countries the arms are equal.
    let t0 = started.record.started_micros.unwrap() + 1_000_000;
    let mut events = Vec::new();
    let mut clicks = [[0u64; 2]; 2];
    let mut served = [[0u64; 2]; 2];
    for i in 0..1_600i64 {
        let arm = (i / 100 % 2) as usize;
        let u = i % 100;
        let country = (u % 2) as usize;
        let rec = format!("r{i}");
        let user = format!("u{u}");
        let variant = ["plain", "diverse"][arm];
        events.push(impression(&rec, &user, variant, t0 + i));
        let every = if arm == country { 8 } else { 40 };
        served[country][arm] += 1;
        if served[country][arm] % every == 0 {
            events.push(click(&rec, &user, t0 + i + 5_000_000));
            clicks[country][arm] += 1;
        }
    }
    store.insert_events(APP, &events).unwrap();
    let now = t0 + 3_600_000_000;
    let s = bandit::update(&*store, APP, "slot", now).unwrap();
    assert_eq!(served, [[400, 400], [400, 400]]);
    assert_eq!(clicks, [[50, 10], [10, 50]]);
    assert_eq!(s.trials, [800, 800]);
    let c = s.contextual.as_ref().expect("a contextual state");
    assert_eq!(c.encoder.values, [vec!["de".to_string(), "fr".to_string()]]);
    assert_eq!(c.model.dim, 1 + 3);
    assert_eq!(c.model.counts, [800, 800]);
    assert_eq!(c.contexts.len(), 2);
    for share in &c.contexts {
        let country = usize::from(share.values["country"] == "fr");
        assert_eq!(share.trials, [400, 400]);
        assert_eq!(share.successes.to_vec(), clicks[country].to_vec());
        // The arm with more clicks in this country gets nearly everything, the floor the rest.
        let best = country;
        assert!(
            share.allocation[best] > 0.9,
            "{:?} in {:?}",
            share.allocation,
            share.values
        );
        assert!(share.allocation[1 - best] >= 0.05 - 1e-12);
    }
    // Regret per country, summed: 400 lists at (50 - 10) / 400 in each. (Pooled, the arms
    // look equal and the non-contextual estimate would be 0.)
    assert!((s.regret - 80.0).abs() < 1e-9, "{}", s.regret);
    assert_eq!(
        bandit::update(&*store, APP, "slot", now).unwrap(),
        s,
        "reproducible"
    );

    // The router rebuilds the policy and chooses per country.
    let router = Router::new(store.clone(), Duration::from_secs(60));
    let mut plain = [0usize; 2];
    for u in 0..400 {
        let country = if u % 2 == 0 { "de" } else { "fr" };
        let id = format!("w{u}");
        let p = profile(&id, country);
        let routed = router
            .route(APP, &id, true, &mut || Ok(Some(p.clone())))
            .unwrap();
        let Routed::In(a) = routed else {
            panic!("{routed:?}")
        };
        plain[u % 2] += usize::from(a.variant == "plain");
    }
    assert!(plain[0] > 170, "Germans get plain: {plain:?}");
    assert!(plain[1] < 30, "the French get diverse: {plain:?}");

    // A profile not read yet needs the store; once read it is reused without one.
    assert_eq!(
        router
            .route(APP, "de-1", false, &mut || unreachable!())
            .unwrap(),
        Routed::NeedsStore
    );
    router
        .route(APP, "de-1", true, &mut || Ok(store.get_user(APP, "de-1")?))
        .unwrap();
    assert!(matches!(
        router
            .route(APP, "de-1", false, &mut || unreachable!())
            .unwrap(),
        Routed::In(_)
    ));
}
