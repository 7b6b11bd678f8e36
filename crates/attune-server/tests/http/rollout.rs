//! Guarded rollout under simulated traffic, in-process: a better model on a canary share is
//! promoted; a deliberately bad one (random scores: BPR left at its random initial factors)
//! is rolled back automatically, with the reason recorded, while requests keep being served
//! without a single failure.
//!
//! Simulated users click the first listed item among the five most popular (what these
//! shoppers want), so the popularity model earns about one click per list and random scores
//! about one in five.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use attune_store::{MonitorStore as _, Store as _};
use serde_json::{json, Value};

use crate::common::{Client, TestServer};

/// A model whose scores are random: BPR with its seeded random initial factors, trained for
/// one epoch at a learning rate that leaves them unchanged.
const RANDOM: &str = "bpr:epochs=1,learning_rate=0.000000001";

async fn train(c: &Client<'_>, body: Value) -> u64 {
    let r = c.post_json("/v1/models/train", &body).await;
    assert_eq!(r.status.as_u16(), 202, "{}", r.text);
    let id = r.body["job_id"].as_str().unwrap().to_string();
    let started = Instant::now();
    loop {
        let j = c.get(&format!("/v1/models/jobs/{id}")).await.body;
        if j["status"] == "succeeded" {
            return j["version"].as_u64().unwrap();
        }
        assert_ne!(j["status"], "failed", "{j}");
        assert!(started.elapsed() < Duration::from_secs(120), "{j}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Serve `users`, clicking the first wanted item of each list; returns the lists per model
/// version.
async fn traffic(
    c: &Client<'_>,
    users: std::ops::Range<usize>,
    wanted: &HashSet<String>,
) -> BTreeMap<u64, usize> {
    let mut by_version = BTreeMap::new();
    for u in users {
        let user = format!("user-{u}");
        let r = c
            .get(&format!(
                "/v1/users/{user}/recommendations?n=5&exclude_seen=false"
            ))
            .await;
        assert_eq!(r.status.as_u16(), 200, "{}", r.text);
        let list = r.body;
        *by_version
            .entry(list["model_version"].as_u64().unwrap())
            .or_default() += 1;
        let hit = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| wanted.contains(i["item_id"].as_str().unwrap()));
        if let Some(item) = hit {
            let click = json!({"type": "click", "user_id": user, "item_id": item["item_id"],
                               "context": {"recommendation_id": list["recommendation_id"]}});
            assert_eq!(c.post_json("/v1/events", &click).await.status.as_u16(), 200);
        }
    }
    by_version
}

/// Wait until the rollout's report counts `users` exposed users (exposures and impressions
/// are written off the request path).
async fn exposed(c: &Client<'_>, experiment: &str, users: u64) {
    let started = Instant::now();
    loop {
        let r = c
            .get(&format!("/v1/experiments/{experiment}/results"))
            .await;
        if r.status.as_u16() == 200 {
            let n: u64 = r.body["variants"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["users"].as_u64().unwrap())
                .sum();
            let lists: u64 = r.body["variants"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["lists"].as_u64().unwrap())
                .sum();
            if n == users && lists == users {
                return;
            }
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{}", r.text);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_better_canary_is_promoted_and_a_random_one_rolled_back_without_failed_requests() {
    let t = TestServer::with_pipeline();
    let data = attune_testkit::generate(&attune_testkit::SyntheticConfig {
        n_users: 700,
        n_items: 120,
        n_events: 20_000,
        seed: 8,
        ..attune_testkit::SyntheticConfig::default()
    });
    t.store.upsert_items("default", &data.items).unwrap();
    t.store.insert_events("default", &data.events).unwrap();
    // The five most popular items by distinct users: what the simulated shoppers click.
    let mut users_of: BTreeMap<&str, HashSet<&str>> = BTreeMap::new();
    for e in &data.events {
        if let (Some(i), Some(u)) = (e.item_id.as_deref(), e.user_key()) {
            users_of.entry(i).or_default().insert(u);
        }
    }
    let mut by_pop: Vec<(&str, usize)> = users_of.iter().map(|(i, u)| (*i, u.len())).collect();
    by_pop.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let wanted: HashSet<String> = by_pop.iter().take(5).map(|(i, _)| i.to_string()).collect();

    let c = t.default_app();
    let engine = t.pipeline.as_ref().unwrap().engine().clone();
    let notifier = t.pipeline.as_ref().unwrap().notifier().clone();
    let v1 = train(&c, json!({"algorithm": RANDOM, "promote": "always"})).await;
    // Bad input: a canary share out of range names the field and starts nothing.
    c.post_json(
        "/v1/models/train",
        &json!({"algorithm": "popularity", "promote": "canary", "canary": {"share": 0.9}}),
    )
    .await
    .assert_problem(422, "validation_failed", Some("canary.share"));

    // 1. Popularity as a canary on half the users (the other half is the control): promoted.
    let canary = json!({"share": 0.5, "min_users": 80, "margin": 0.05});
    let v2 = train(
        &c,
        json!({"algorithm": "popularity", "promote": "canary", "canary": canary}),
    )
    .await;
    assert_eq!(
        engine
            .store()
            .active_model("default")
            .unwrap()
            .unwrap()
            .version as u64,
        v1
    );
    let served = traffic(&c, 0..300, &wanted).await;
    assert_eq!(served.len(), 2, "both versions serve: {served:?}");
    exposed(&c, &format!("rollout-v{v2:04}"), 300).await;
    let now = chrono::Utc::now().timestamp_micros();
    let decided = attune_pipeline::rollout::evaluate(&engine, &notifier, "default", now).unwrap();
    assert_eq!(decided.len(), 1);
    assert_eq!(
        decided[0].verdict,
        attune_pipeline::rollout::Verdict::Promoted,
        "{}",
        decided[0].reason
    );
    assert_eq!(
        engine
            .store()
            .active_model("default")
            .unwrap()
            .unwrap()
            .version as u64,
        v2
    );
    let after = traffic(&c, 300..340, &wanted).await;
    assert_eq!(
        after.keys().copied().collect::<Vec<_>>(),
        vec![v2],
        "the canary serves everyone"
    );

    // 2. Random scores as a canary: rolled back while traffic flows.
    let canary = json!({"share": 0.5, "min_users": 100000, "margin": 0.05});
    let v3 = train(
        &c,
        json!({"algorithm": RANDOM, "promote": "canary", "canary": canary}),
    )
    .await;
    let served = traffic(&c, 340..640, &wanted).await;
    assert!(served.contains_key(&v3), "{served:?}");
    exposed(&c, &format!("rollout-v{v3:04}"), 300).await;
    // Requests keep coming from other tasks while the verdict is taken and applied.
    let failures = Arc::new(AtomicUsize::new(0));
    let served_during = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let router = t.router.clone();
    let background = {
        let (failures, served_during, stop) =
            (failures.clone(), served_during.clone(), stop.clone());
        tokio::spawn(async move {
            use tower::ServiceExt;
            let mut u = 0;
            while !stop.load(Ordering::Relaxed) {
                let req = axum::http::Request::get(format!(
                    "/v1/users/user-{}/recommendations?n=5",
                    640 + u % 60
                ))
                .body(axum::body::Body::empty())
                .unwrap();
                let res = router.clone().oneshot(req).await.unwrap();
                if !res.status().is_success() {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
                served_during.fetch_add(1, Ordering::Relaxed);
                u += 1;
            }
        })
    };
    let now = chrono::Utc::now().timestamp_micros();
    let (e2, n2) = (engine.clone(), notifier.clone());
    let decided = tokio::task::spawn_blocking(move || {
        attune_pipeline::rollout::evaluate(&e2, &n2, "default", now).unwrap()
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    background.await.unwrap();
    assert_eq!(failures.load(Ordering::Relaxed), 0);
    assert!(served_during.load(Ordering::Relaxed) > 0);
    assert_eq!(decided.len(), 1);
    let r = &decided[0];
    assert_eq!(
        r.verdict,
        attune_pipeline::rollout::Verdict::RolledBack,
        "{}",
        r.reason
    );
    assert!(r.reason.starts_with("worse: ctr"), "{}", r.reason);
    assert_eq!(
        engine
            .store()
            .active_model("default")
            .unwrap()
            .unwrap()
            .version as u64,
        v2
    );
    // Alerted, with the reason.
    let alerts = t.store.list_alerts("default").unwrap();
    let alert = alerts
        .iter()
        .find(|a| a.rule == attune_pipeline::rollout::ROLLED_BACK_ALERT)
        .unwrap_or_else(|| panic!("{alerts:?}"));
    assert_eq!(alert.state, "firing");
    assert_eq!(alert.labels["model_version"], v3.to_string());
    assert!(alert.detail.contains("worse: ctr"), "{}", alert.detail);
    let after = traffic(&c, 640..680, &wanted).await;
    assert_eq!(
        after.keys().copied().collect::<Vec<_>>(),
        vec![v2],
        "withdrawn everywhere"
    );

    // Both decisions, with their reasons, over the API.
    let list = c.get("/v1/models/rollouts").await;
    assert_eq!(list.status.as_u16(), 200, "{}", list.text);
    let rollouts = list.body["rollouts"].as_array().unwrap();
    assert_eq!(rollouts.len(), 2, "{}", list.text);
    assert_eq!(rollouts[0]["canary"], v3);
    assert_eq!(rollouts[0]["verdict"], "rolled_back");
    assert_eq!(rollouts[1]["verdict"], "promoted");
    assert!(rollouts[1]["reason"]
        .as_str()
        .unwrap()
        .starts_with("not worse"));
}
