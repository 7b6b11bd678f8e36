//! Segments recomputed on a schedule while serving (`[serving.segments]
//! recompute_every_secs`), on a real SQLite store and real artifacts: a lapsed ("dormant")
//! user comes back, the scheduler's segment loop moves them to "active", and their next list
//! comes from the version that serves "active", without a restart.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use attune_core::catalog::AttrValue;
use attune_core::event::{Event, EventType, EventWeighting};
use attune_core::segment::RuleSegments;
use attune_core::time::Timestamp;
use attune_pipeline::resegment::{resegment_all, SaveAs, SegmentSchedule};
use attune_pipeline::schedule::{Schedule, Scheduler};
use attune_pipeline::{Pipeline, PipelineConfig, Promote, TrainRequest};
use attune_serving::segments::SegmentServing;
use attune_serving::{RecList, RecRequest, Serving, ServingConfig};
use attune_store::Store as _;

const APP: &str = "shop";
const DAY: i64 = 86_400_000_000;

fn list(engine: &Serving, user: &str) -> RecList {
    let req = RecRequest {
        n: 5,
        ..RecRequest::default()
    };
    engine.recommend(APP, user, &req, true).unwrap()
}

fn stored_segment(store: &dyn attune_store::Store, user: &str) -> Option<String> {
    match store
        .get_user(APP, user)
        .unwrap()?
        .attributes
        .get("segment")
    {
        Some(AttrValue::Text(s)) => Some(s.clone()),
        _ => None,
    }
}

#[test]
fn a_returning_user_is_moved_to_the_active_segment_and_its_version_on_schedule() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(attune_store::sqlite::SqliteStore::open(dir.path().join("a.db")).unwrap());
    store.create_app(APP).unwrap();
    // Everyone last acted 140 days ago or earlier: dormant by the default rules.
    let now = chrono::Utc::now().timestamp_micros();
    let shop = attune_testkit::generate(&attune_testkit::SyntheticConfig {
        n_users: 60,
        n_items: 80,
        n_events: 3_000,
        bot_users: 0,
        anonymous_devices: 0,
        start_micros: now - 200 * DAY,
        ..attune_testkit::SyntheticConfig::default()
    });
    store.upsert_items(APP, &shop.items).unwrap();
    store.upsert_users(APP, &shop.users).unwrap();
    store.insert_events(APP, &shop.events).unwrap();

    // Two versions: popularity is active, EASE will serve the "active" segment.
    let plain = Serving::new(
        store.clone(),
        dir.path(),
        ServingConfig::default(),
        EventWeighting::default(),
    );
    let trainer = Pipeline::new(Arc::new(plain), PipelineConfig::default());
    let train = |algorithm: &str, promote| {
        let request = TrainRequest {
            algorithm: algorithm.into(),
            promote,
        };
        trainer.run(APP, &request, &|_| {}).unwrap()
    };
    let popular = train("popularity", Promote::IfFirst);
    assert!(popular.activated);
    let ease = train("ease:lambda=50", Promote::Never);
    assert!(!ease.activated);

    // The replica: serving by segment, "active" users on the EASE version.
    let engine = Serving::new(
        store.clone(),
        dir.path(),
        ServingConfig {
            segments: Some(SegmentServing {
                attribute: "segment".into(),
                models: BTreeMap::from([("active".to_string(), ease.version)]),
                prior_users: 20.0,
            }),
            ..ServingConfig::default()
        },
        EventWeighting::default(),
    );
    engine.refresh(APP).unwrap();
    let pipeline = Arc::new(Pipeline::new(Arc::new(engine), PipelineConfig::default()));
    let engine = pipeline.engine().clone();
    let schedule = SegmentSchedule {
        rules: RuleSegments {
            heavy_min_actions: Some(1_000_000),
            ..RuleSegments::default()
        }
        .check()
        .unwrap(),
        save: SaveAs {
            attribute: "segment".into(),
            limits: attune_core::limits::InputLimits::default(),
        },
    };

    // A first run (what `attune segment --save-as segment --method rules` also does): everyone
    // is dormant, served by the active version.
    let runs = resegment_all(&pipeline, &schedule);
    assert_eq!(runs.len(), 1);
    // (Profiles without a single action are "new".)
    let sizes = runs[0].sizes();
    assert_eq!(sizes.keys().collect::<Vec<_>>(), [&"dormant", &"new"]);
    assert_eq!(sizes.values().sum::<usize>(), 60);
    assert_eq!(runs[0].changed.len(), 60, "every profile got its segment");
    assert_eq!(runs[0].reloaded, 60, "the changed users are forgotten");
    // One dormant user comes back, another stays away.
    let report = &runs[0].report;
    let mut dormant = report
        .users
        .iter()
        .zip(&report.labels)
        .filter(|(_, l)| *l == "dormant")
        .map(|(u, _)| u.as_str());
    let (back, away) = (dormant.next().unwrap(), dormant.next().unwrap());
    assert_eq!(stored_segment(&*store, back).as_deref(), Some("dormant"));
    let before = list(&engine, back);
    assert_eq!(
        (before.model_version, before.segment.as_deref()),
        (Some(popular.version), Some("dormant"))
    );

    // The user comes back: five views in the last hours, committed and observed live.
    let visits: Vec<Event> = (0..5)
        .map(|j| Event {
            event_id: format!("back-{j}"),
            event_type: EventType::View,
            user_id: Some(back.to_string()),
            anonymous_id: None,
            item_id: Some(shop.items[j * 7].item_id.clone()),
            timestamp: Timestamp::from_utc_micros(now - (5 - j as i64) * 3_600_000_000),
            value: None,
            properties: Default::default(),
            context: Default::default(),
        })
        .collect();
    store.insert_events(APP, &visits).unwrap();
    engine.observe(APP, &visits);
    // Behaviour alone does not move the segment: it is still the one read with the profile.
    let unchanged = list(&engine, back);
    assert_eq!(
        (unchanged.model_version, unchanged.segment.as_deref()),
        (Some(popular.version), Some("dormant"))
    );

    // The scheduler's segment loop, as `attune serve` runs it.
    let scheduler = Scheduler::start(
        pipeline.clone(),
        Schedule {
            refresh_every: Duration::from_secs(3600),
            retrain_every: None,
            retrain: TrainRequest {
                algorithm: "popularity".into(),
                promote: Promote::Never,
            },
            bandits_every: None,
            monitor: None,
            retention: None,
            segments: Some((Duration::from_millis(100), schedule.clone())),
        },
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let moved = loop {
        let l = list(&engine, back);
        if l.segment.as_deref() != Some("dormant") || Instant::now() > deadline {
            break l;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    drop(scheduler);
    assert_eq!(moved.segment.as_deref(), Some("active"), "{moved:?}");
    assert_eq!(
        moved.model_version,
        Some(ease.version),
        "served by the active segment's version"
    );
    assert_eq!(moved.items.len(), 5);
    assert_eq!(stored_segment(&*store, back).as_deref(), Some("active"));
    // Who did not come back stays where they were.
    let stayed = list(&engine, away);
    assert_eq!(
        (stayed.model_version, stayed.segment.as_deref()),
        (Some(popular.version), Some("dormant"))
    );
    assert_eq!(stored_segment(&*store, away).as_deref(), Some("dormant"));
    // A further run finds nothing to change and writes nothing.
    let again = resegment_all(&pipeline, &schedule);
    assert!(again[0].changed.is_empty(), "{:?}", again[0].changed);
    assert_eq!(again[0].sizes().get("active"), Some(&1));
}
