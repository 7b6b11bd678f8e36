//! Drift against the training data on a simulated stream: a steady stream raises nothing, and
//! an injected shift (the event mix, a new set of popular items) is flagged within the stated
//! delay (docs/monitoring.md, "Drift": at most one window plus one tick after the shift).
//!
//! The stream (`attune_testkit::stream`): 3,000 items with Zipf(1) popularity, 4,000 users with
//! log-normal activity, 200 events a minute, views/clicks/carts/purchases 70/18/8/4 %. The
//! model is trained on six hours of it; monitoring then ticks every 5 simulated minutes over
//! three hours with the default 60-minute window.

use std::sync::Arc;

use attune_core::event::{EventType, EventWeighting};
use attune_monitor::alerts::AlertRule;
use attune_monitor::drift::Status;
use attune_monitor::MonitorConfig;
use attune_pipeline::{JobState, Pipeline, PipelineConfig, Promote, TrainRequest};
use attune_serving::{Serving, ServingConfig};
use attune_store::{MonitorStore as _, Store as _};
use attune_testkit::stream::{Shift, Stream, StreamConfig};

const MINUTE: i64 = 60_000_000;
const TICK: i64 = 5 * MINUTE;
const TICKS: i64 = 36;
/// The shift starts one hour into monitoring.
const SHIFT_AT: i64 = 60 * MINUTE;

struct Run {
    /// Per tick: minutes since monitoring started, drift_detected, the drifted features, and
    /// the largest judged PSI.
    ticks: Vec<(i64, bool, Vec<String>, f64)>,
    /// Per feature: the largest PSI seen, and whether every tick had enough data to judge it.
    features: std::collections::BTreeMap<String, (f64, bool)>,
    firing_alerts: usize,
    retrain_points: usize,
}

fn simulate(shift: &Shift, retrain_on_drift: bool) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(attune_store::sqlite::SqliteStore::open(dir.path().join("a.db")).unwrap());
    store.create_app("shop").unwrap();
    let stream = Stream::new(StreamConfig::default());
    store.upsert_items("shop", &stream.catalogue()).unwrap();
    // Monitoring starts a day ago (times relative to the clock), after six hours of training
    // data.
    let start = chrono::Utc::now().timestamp_micros() / MINUTE * MINUTE - 86_400_000_000;
    let training = stream.events(start - 360 * MINUTE, start, &Shift::default(), 0);
    store.insert_events("shop", &training).unwrap();
    let engine = Serving::new(
        store.clone(),
        dir.path(),
        ServingConfig::default(),
        EventWeighting::default(),
    );
    let mut pipeline = Pipeline::new(Arc::new(engine), PipelineConfig::default());
    let retrain = TrainRequest {
        algorithm: "popularity".into(),
        promote: Promote::Never,
    };
    if retrain_on_drift {
        pipeline = pipeline.with_retrain_request(retrain.clone());
    }
    let pipeline = Arc::new(pipeline);
    let first = TrainRequest {
        promote: Promote::IfFirst,
        ..retrain
    };
    assert!(pipeline.run("shop", &first, &|_| {}).unwrap().activated);

    let mut config = MonitorConfig {
        alerts: vec![serde_json::from_value::<AlertRule>(serde_json::json!({
            "name": "drift", "metric": "drift_detected", "aggregate": "last",
            "condition": "above", "threshold": 0.5
        }))
        .unwrap()],
        ..MonitorConfig::default()
    };
    config.drift.retrain_on_drift = retrain_on_drift;
    let steady = Shift::default();
    let mut ticks = Vec::new();
    let mut features = std::collections::BTreeMap::<String, (f64, bool)>::new();
    for k in 0..TICKS {
        let (from, to) = (start + k * TICK, start + (k + 1) * TICK);
        let shifted = from - start >= SHIFT_AT;
        let events = stream.events(
            from,
            to,
            if shifted { shift } else { &steady },
            k as u64 + 1,
        );
        store.insert_events("shop", &events).unwrap();
        attune_pipeline::monitoring::monitor_app(&pipeline, &config, "shop", to);
        let r = attune_pipeline::drift::report(
            &pipeline,
            "shop",
            to,
            config.window_micros(),
            &config.drift,
        )
        .unwrap();
        let worst = r
            .features
            .iter()
            .filter(|f| f.judged)
            .filter_map(|f| f.psi)
            .fold(0.0, f64::max);
        for f in &r.features {
            let e = features.entry(f.feature.clone()).or_insert((0.0, true));
            e.0 = e.0.max(f.psi.unwrap_or(0.0));
            e.1 &= f.status != Status::InsufficientData;
        }
        let detected = point(&*store, "drift_detected", to);
        assert_eq!(detected, Some(f64::from(u8::from(r.drift_detected))));
        ticks.push((
            (to - start) / MINUTE,
            r.drift_detected,
            r.drifted().iter().map(|s| s.to_string()).collect(),
            worst,
        ));
    }
    // A retraining started by drift finishes (and succeeds) before the data goes away.
    while pipeline
        .jobs()
        .list("shop")
        .iter()
        .any(|j| j.state == JobState::Running)
    {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(pipeline
        .jobs()
        .list("shop")
        .iter()
        .all(|j| j.state == JobState::Succeeded));
    let firing_alerts = store
        .list_alerts("shop")
        .unwrap()
        .iter()
        .filter(|a| a.state == "firing")
        .count();
    let mut retrain_points = 0;
    store
        .scan_points("shop", "drift_retrain", 0, i64::MAX, &mut |_| {
            retrain_points += 1;
            true
        })
        .unwrap();
    Run {
        ticks,
        features,
        firing_alerts,
        retrain_points,
    }
}

fn point(store: &dyn attune_store::Store, metric: &str, at: i64) -> Option<f64> {
    let mut found = None;
    store
        .scan_points("shop", metric, at, at + 1, &mut |p| {
            found = Some(p.value);
            true
        })
        .unwrap();
    found
}

/// The first tick that flags drift, in minutes after the shift, and what it flagged.
fn first_flag(run: &Run) -> (i64, Vec<String>) {
    let t = run
        .ticks
        .iter()
        .find(|t| t.1)
        .unwrap_or_else(|| panic!("never flagged: {:?}", run.ticks));
    (t.0 - SHIFT_AT / MINUTE, t.2.clone())
}

/// The stated detection delay: one window (60 min) plus one tick (5 min).
const STATED_DELAY_MINUTES: i64 = 65;

#[test]
fn a_stable_stream_raises_no_drift_and_no_alert() {
    let run = simulate(&Shift::default(), false);
    let worst = run.ticks.iter().map(|t| t.3).fold(0.0, f64::max);
    eprintln!(
        "stable: worst judged PSI {worst:.4} over {} ticks; per feature (worst PSI, always judged): {:?}",
        run.ticks.len(),
        run.features
    );
    // Every built-in feature had enough data at every tick, so "no drift" is a verdict.
    for name in attune_monitor::drift::FEATURES {
        assert!(run.features[*name].1, "{name}: {:?}", run.features);
    }
    assert!(run.ticks.iter().all(|t| !t.1), "{:?}", run.ticks);
    assert!(worst < 0.1, "{worst}");
    assert_eq!(run.firing_alerts, 0);
}

#[test]
fn an_event_mix_shift_is_flagged_within_the_stated_delay_and_starts_one_retraining() {
    let shift = Shift {
        mix: Some(vec![
            (EventType::View, 0.45),
            (EventType::Click, 0.15),
            (EventType::AddToCart, 0.25),
            (EventType::Purchase, 0.15),
        ]),
        ..Shift::default()
    };
    let run = simulate(&shift, true);
    let (delay, features) = first_flag(&run);
    eprintln!("event mix: flagged {delay} min after the shift: {features:?}");
    assert!(run
        .ticks
        .iter()
        .filter(|t| t.0 <= SHIFT_AT / MINUTE)
        .all(|t| !t.1));
    assert!(delay <= STATED_DELAY_MINUTES, "{delay}");
    assert!(features.contains(&"event_type".to_string()), "{features:?}");
    assert_eq!(run.firing_alerts, 1);
    // Drift stays detected for the rest of the run, but the cooldown (a day) allows one job.
    assert_eq!(run.retrain_points, 1);
}

#[test]
fn a_new_set_of_popular_items_is_flagged_within_the_stated_delay() {
    let shift = Shift {
        new_items: Some((20, 0.5)),
        ..Shift::default()
    };
    let run = simulate(&shift, false);
    let (delay, features) = first_flag(&run);
    eprintln!("new popular items: flagged {delay} min after the shift: {features:?}");
    assert!(delay <= STATED_DELAY_MINUTES, "{delay}");
    assert!(features.contains(&"item_rank".to_string()), "{features:?}");
    assert_eq!(run.retrain_points, 0);
}
