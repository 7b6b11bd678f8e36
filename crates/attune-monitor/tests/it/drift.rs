//! Drift's reference and attribute features over a real store: a reference survives a save and
//! a load (thinned to the stored cap), item and user attributes are numeric or categorical by
//! their values, and a price change in the catalogue drifts `item.price` and nothing else.

use attune_core::catalog::{AttrValue, User};
use attune_monitor::drift::{self, reference, DriftConfig, Status};
use attune_store::sqlite::SqliteStore;
use attune_store::Store as _;
use attune_testkit::stream::{Shift, Stream, StreamConfig};

const HOUR: i64 = 3_600_000_000;

fn config() -> DriftConfig {
    DriftConfig {
        attributes: vec![
            "item.price".into(),
            "item.category".into(),
            "user.country".into(),
        ],
        ..DriftConfig::default()
    }
}

#[test]
fn a_reference_round_trips_and_a_price_change_drifts_item_price_only() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("d.db")).unwrap();
    store.create_app("shop").unwrap();
    let stream = Stream::new(StreamConfig::default());
    let priced = |factor: f64| {
        let mut items = stream.catalogue();
        for (i, item) in items.iter_mut().enumerate() {
            let price = 5.0 + (i % 50) as f64 * factor;
            item.attributes
                .insert("price".into(), AttrValue::Number(price));
            item.categories = vec![format!("cat-{}", i % 7)];
        }
        items
    };
    store.upsert_items("shop", &priced(1.0)).unwrap();
    let users: Vec<User> = (0..4_000)
        .map(|u| User {
            user_id: format!("user-{u}"),
            attributes: [(
                "country".to_string(),
                AttrValue::Text(["de", "fr", "it"][u % 3].into()),
            )]
            .into(),
            ..User::default()
        })
        .collect();
    store.upsert_users("shop", &users).unwrap();
    let now = chrono::Utc::now().timestamp_micros();
    let cutoff = now - HOUR;
    let training = stream.events(cutoff - 2 * HOUR, cutoff, &Shift::default(), 0);
    store.insert_events("shop", &training).unwrap();
    store
        .insert_events("shop", &stream.events(cutoff, now, &Shift::default(), 1))
        .unwrap();

    let config = config();
    let built = reference::build(&store, "shop", 1, cutoff, HOUR, &config).unwrap();
    assert_eq!(built.since_micros, cutoff - HOUR);
    // 24,000 events at uniform times over two hours: about half in the last one.
    assert!(
        (11_000..13_000).contains(&built.sample.events),
        "{}",
        built.sample.events
    );
    assert!(built.ranking.len() > 1_500, "{}", built.ranking.len());
    reference::save(&store, "shop", HOUR, &built).unwrap();
    let loaded = reference::load(&store, "shop", 1, HOUR).unwrap().unwrap();
    assert_eq!(loaded, built.clone().thinned());
    assert_eq!(reference::load(&store, "shop", 1, 2 * HOUR).unwrap(), None);

    let report = |store: &SqliteStore| {
        let events = drift::read_events(store, "shop", now - HOUR, now, usize::MAX).unwrap();
        let current = drift::sample_events(store, "shop", &events, &loaded, &config).unwrap();
        drift::compare("shop", &loaded, &current, now - HOUR, now, &config)
    };
    let steady = report(&store);
    let by_name = |r: &drift::DriftReport, name: &str| {
        r.features
            .iter()
            .find(|f| f.feature == name)
            .cloned()
            .unwrap_or_else(|| panic!("no {name} in {r:?}"))
    };
    assert!(!steady.drift_detected, "{steady:?}");
    assert_eq!(by_name(&steady, "item.price").kind, "numeric");
    assert_eq!(by_name(&steady, "item.category").kind, "categorical");
    assert_eq!(by_name(&steady, "user.country").kind, "categorical");
    for f in &steady.features {
        assert_eq!(f.status, Status::Stable, "{f:?}");
    }

    // Prices double after the model was trained: the reference keeps the old ones.
    store.upsert_items("shop", &priced(2.0)).unwrap();
    let repriced = report(&store);
    assert_eq!(repriced.drifted(), ["item.price"], "{repriced:?}");
}

#[test]
fn a_busy_window_is_shortened_to_its_latest_part() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("d.db")).unwrap();
    store.create_app("shop").unwrap();
    let stream = Stream::new(StreamConfig {
        events_per_minute: 10,
        ..StreamConfig::default()
    });
    let now = chrono::Utc::now().timestamp_micros();
    // 600 events over the hour; a cap of 200 keeps about the last 20 minutes.
    let events = stream.events(now - HOUR, now, &Shift::default(), 0);
    store.insert_events("shop", &events).unwrap();
    let (since, read) = drift::read_window(&store, "shop", now - HOUR, now, 200).unwrap();
    assert!(read.len() <= 200 && read.len() > 150, "{}", read.len());
    let minutes = (now - since) as f64 / 60e6;
    assert!((15.0..25.0).contains(&minutes), "{minutes}");
    assert!(read.iter().all(|e| e.timestamp.utc_micros >= since));
    let (since, all) = drift::read_window(&store, "shop", now - HOUR, now, 1_000).unwrap();
    assert_eq!((since, all.len()), (now - HOUR, 600));
}
