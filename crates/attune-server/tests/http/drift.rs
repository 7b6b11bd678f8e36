//! `GET /v1/monitor/drift` in-process: 409 before a model is active, the report once one is
//! (a steady simulated stream: nothing drifted), a bad window names its field, and a server
//! without the pipeline answers 503.

use std::time::{Duration, Instant};

use attune_store::Store as _;
use attune_testkit::stream::{Shift, Stream, StreamConfig};
use serde_json::json;

use crate::common::TestServer;

const HOUR: i64 = 3_600_000_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_is_reported_against_the_active_model_and_refused_without_one() {
    let t = TestServer::with_pipeline();
    let stream = Stream::new(StreamConfig::default());
    let now = chrono::Utc::now().timestamp_micros();
    t.store
        .upsert_items("default", &stream.catalogue())
        .unwrap();
    let training = stream.events(now - 3 * HOUR, now - HOUR, &Shift::default(), 0);
    t.store.insert_events("default", &training).unwrap();
    let c = t.default_app();

    let r = c.get("/v1/monitor/drift").await;
    r.assert_problem(409, "conflict", None);
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("no active model"),
        "{}",
        r.text
    );

    let r = c
        .post_json(
            "/v1/models/train",
            &json!({"algorithm": "popularity", "promote": "always"}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 202, "{}", r.text);
    let id = r.body["job_id"].as_str().unwrap().to_string();
    let started = Instant::now();
    while c.get(&format!("/v1/models/jobs/{id}")).await.body["status"] != "succeeded" {
        assert!(started.elapsed() < Duration::from_secs(60));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let live = stream.events(now - HOUR, now, &Shift::default(), 1);
    t.store.insert_events("default", &live).unwrap();

    let r = c.get("/v1/monitor/drift?window_secs=3600").await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.text);
    assert_eq!(r.body["model_version"], 1, "{}", r.text);
    assert_eq!(r.body["drift_detected"], false, "{}", r.text);
    // Tail items the training hours never saw count as new, on both sides alike.
    let new = r.body["new_items_share"].as_f64().unwrap();
    let before = r.body["reference_new_items_share"].as_f64().unwrap();
    assert!(new < 0.1 && (new - before).abs() < 0.02, "{}", r.text);
    let features: Vec<&str> = r.body["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["feature"].as_str().unwrap())
        .collect();
    assert_eq!(
        features,
        [
            "event_type",
            "item_events",
            "item_rank",
            "user_events",
            "score"
        ],
        "{}",
        r.text
    );
    let rank = &r.body["features"][2];
    assert_eq!(rank["kind"], "numeric");
    assert_eq!(rank["status"], "stable", "{}", r.text);
    assert!(rank["psi"].as_f64().unwrap() < 0.05, "{}", r.text);
    assert!(rank["ks_p_value"].as_f64().is_some(), "{}", r.text);
    assert_eq!(r.body["features"][4]["judged"], false, "{}", r.text);

    for bad in ["0", "x", "99999999"] {
        c.get(&format!("/v1/monitor/drift?window_secs={bad}"))
            .await
            .assert_problem(400, "invalid_request", Some("window_secs"));
    }
}

#[tokio::test]
async fn a_server_without_the_pipeline_has_no_drift() {
    let t = TestServer::new();
    t.default_app()
        .get("/v1/monitor/drift")
        .await
        .assert_problem(503, "unavailable", None);
}
