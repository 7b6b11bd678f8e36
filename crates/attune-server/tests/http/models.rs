//! The model lifecycle in-process, no binary spawned: train as a background job through the
//! pipeline, publish, activate, roll back and recommend, over the real router.

use std::time::{Duration, Instant};

use attune_store::Store as _;
use axum::body::Body;
use axum::http::Method;
use serde_json::{json, Value};

use crate::common::{Client, TestServer};

/// A small synthetic shop (seeded) in the default app.
pub(crate) fn shop(t: &TestServer) {
    let data = attune_testkit::generate(&attune_testkit::SyntheticConfig {
        n_users: 120,
        n_items: 60,
        n_events: 6_000,
        seed: 11,
        ..attune_testkit::SyntheticConfig::default()
    });
    t.store.upsert_items("default", &data.items).unwrap();
    t.store.upsert_users("default", &data.users).unwrap();
    t.store.insert_events("default", &data.events).unwrap();
}

/// Start a training job and wait for it to finish; returns the finished job.
pub(crate) async fn train(c: &Client<'_>, body: Value) -> Value {
    let r = c.post_json("/v1/models/train", &body).await;
    assert_eq!(r.status.as_u16(), 202, "{}", r.text);
    let id = r.body["job_id"].as_str().unwrap().to_string();
    assert_eq!(r.body["status_url"], format!("/v1/models/jobs/{id}"));
    let started = Instant::now();
    loop {
        let j = c.get(&format!("/v1/models/jobs/{id}")).await;
        assert_eq!(j.status.as_u16(), 200, "{}", j.text);
        if j.body["status"] != "running" {
            return j.body;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "job hangs: {}",
            j.text
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn served_version(c: &Client<'_>, user: &str) -> Value {
    let r = c
        .get(&format!("/v1/users/{user}/recommendations?n=5"))
        .await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.text);
    assert_eq!(r.body["items"].as_array().unwrap().len(), 5, "{}", r.text);
    r.body["model_version"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn train_publish_activate_roll_back_and_recommend_in_process() {
    let t = TestServer::with_pipeline();
    shop(&t);
    let c = t.default_app();

    // Nothing trained yet: no list.
    let none = c.get("/v1/users/user-3/recommendations").await;
    assert_eq!(none.status.as_u16(), 409, "{}", none.text);

    // v1: validated and promoted by metric (nothing is active, so it goes live).
    let j1 = train(&c, json!({"algorithm": "ease:lambda=50"})).await;
    assert_eq!(j1["status"], "succeeded", "{j1}");
    assert_eq!(
        (j1["version"].clone(), j1["activated"].clone()),
        (json!(1), json!(true))
    );
    assert!(
        j1["metrics"]["validation.ndcg@10"].as_f64().unwrap() > 0.0,
        "{j1}"
    );
    let progress: Vec<&str> = j1["progress"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(
        progress.iter().any(|p| p.starts_with("loaded ")),
        "{progress:?}"
    );
    assert!(progress.contains(&"registered v0001"), "{progress:?}");
    let list = c.get("/v1/users/user-3/recommendations?n=5").await;
    assert_eq!(list.body["model_version"], 1, "{}", list.text);
    assert_eq!(list.body["source"], "personalized", "{}", list.text);
    assert!(
        list.body["items"][0]["explanation"]["text"]
            .as_str()
            .unwrap()
            .len()
            > 3
    );

    // v2: never promoted; v1 keeps serving until it is activated.
    let j2 = train(
        &c,
        json!({"algorithm": "als:factors=8,iterations=5", "promote": "never"}),
    )
    .await;
    assert_eq!(
        (j2["version"].clone(), j2["activated"].clone()),
        (json!(2), json!(false))
    );
    assert_eq!(served_version(&c, "user-3").await, 1);
    let models = c.get("/v1/models").await.body;
    let statuses: Vec<(u64, &str)> = models["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["version"].as_u64().unwrap(),
                m["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(statuses, [(1, "active"), (2, "candidate")], "{models}");

    // Activate v2, then roll back to v1: each change is served by the next request.
    let a = c
        .request(Method::POST, "/v1/models/v2/activate", None, Body::empty())
        .await;
    assert_eq!(a.status.as_u16(), 200, "{}", a.text);
    assert_eq!(
        (a.body["version"].clone(), a.body["changed"].clone()),
        (json!(2), json!(true))
    );
    assert_eq!(served_version(&c, "user-3").await, 2);
    let r = c
        .request(Method::POST, "/v1/models/rollback", None, Body::empty())
        .await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.text);
    assert_eq!(r.body["version"], 1);
    assert_eq!(served_version(&c, "user-3").await, 1);
    assert_eq!(t.store.active_model("default").unwrap().unwrap().version, 1);

    // The jobs are in /metrics.
    let m = c.get("/metrics").await.text;
    assert!(
        m.contains("attune_training_jobs{app=\"default\",state=\"succeeded\"} 2"),
        "{m}"
    );
    assert!(
        m.contains("attune_training_jobs{app=\"default\",state=\"running\"} 0"),
        "{m}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_algorithm_is_refused_before_any_job_and_a_failed_job_changes_nothing() {
    let t = TestServer::with_pipeline();
    let c = t.default_app();
    // Refused at once with 422, naming the member (issue 17): no job, no version.
    for bad in [
        "rm -rf /",
        "als:factors=0",
        "als:factors=-3",
        "ease:lambda=1|",
        "ease:nope=1",
    ] {
        let r = c
            .post_json("/v1/models/train", &json!({"algorithm": bad}))
            .await;
        r.assert_problem(422, "validation_failed", Some("algorithm"));
    }
    for (body, field) in [
        (
            json!({"algorithm": "ease", "promote": "sometimes"}),
            "promote",
        ),
        (json!({"algorithm": "ease", "margin": -1}), "margin"),
    ] {
        let r = c.post_json("/v1/models/train", &body).await;
        r.assert_problem(422, "validation_failed", Some(field));
    }
    assert!(t.store.list_models("default").unwrap().is_empty());
    assert_eq!(t.pipeline.as_ref().unwrap().jobs().list("default").len(), 0);
    // Checked before anything else, with the parser training uses: a server without the
    // pipeline says the request is bad, not that training is unavailable.
    let plain = TestServer::new();
    let r = plain
        .default_app()
        .post_json("/v1/models/train", &json!({"algorithm": "rm -rf /"}))
        .await;
    r.assert_problem(422, "validation_failed", Some("algorithm"));

    // A valid spec on an app without events fails in the background, and says why.
    let j = train(&c, json!({"algorithm": "popularity"})).await;
    assert_eq!(j["status"], "failed", "{j}");
    assert!(
        j["error"].as_str().unwrap().contains("no interactions"),
        "{j}"
    );
    assert!(t.store.list_models("default").unwrap().is_empty());
    assert!(t.store.active_model("default").unwrap().is_none());
    let m = c.get("/metrics").await.text;
    assert!(
        m.contains("attune_training_jobs{app=\"default\",state=\"failed\"} 1"),
        "{m}"
    );
}

/// Issue 17: an answer on a model route never carries the server's absolute file paths (the
/// data directory), whether the artifact is damaged or gone; the log keeps the full message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn model_errors_do_not_reveal_server_paths() {
    let t = TestServer::with_pipeline();
    shop(&t);
    let c = t.default_app();
    let j = train(&c, json!({"algorithm": "popularity", "promote": "never"})).await;
    assert_eq!(j["status"], "succeeded", "{j}");
    let record = &t.store.list_models("default").unwrap()[0];
    let file = t.dir().join(&record.info.artifact.location);
    let dir = t.dir().display().to_string();
    assert!(file.exists(), "{}", file.display());

    // Damaged: a byte in the middle flipped.
    let mut bytes = std::fs::read(&file).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&file, &bytes).unwrap();
    let r = c.post_json("/v1/models/v1/activate", &json!({})).await;
    r.assert_problem(422, "model_unservable", Some("version"));
    assert!(
        !r.text.contains(&dir),
        "the answer names the data directory: {}",
        r.text
    );
    assert!(r.text.contains("v0001.attune"), "{}", r.text);

    // Gone.
    std::fs::remove_file(&file).unwrap();
    let r = c.post_json("/v1/models/v1/activate", &json!({})).await;
    r.assert_problem(422, "model_unservable", Some("version"));
    assert!(
        !r.text.contains(&dir),
        "the answer names the data directory: {}",
        r.text
    );
    for path in ["/v1/models", "/v1/models/rollouts"] {
        let r = c.get(path).await;
        assert!(!r.text.contains(&dir), "{path}: {}", r.text);
    }
}
