//! Issue 17: `/ready` tells the truth. It is 200 only when the store answers and every app's
//! active model is loaded (or the app has none); a refused active model at start is
//! "degraded", in `/ready` and in `/metrics`.

use std::time::{Duration, Instant};

use attune_store::Store as _;
use serde_json::{json, Value};

use crate::common::TestServer;
use crate::models::{shop, train};

/// A server whose default app has an active model, restarted: nothing is loaded yet.
async fn restarted_with_a_model() -> (TestServer, String) {
    let t = TestServer::with_pipeline();
    shop(&t);
    let j = train(
        &t.default_app(),
        json!({"algorithm": "ease:lambda=50", "promote": "always"}),
    )
    .await;
    assert_eq!(j["activated"], true, "{j}");
    let mut user = String::new();
    t.store
        .scan_users("default", &mut |u| {
            user = u.user_id;
            false
        })
        .unwrap();
    (t.restart(), user)
}

/// Wait until `/ready` stops saying "loading"; returns its last answer.
async fn settled(t: &TestServer) -> (u16, Value) {
    let started = Instant::now();
    loop {
        let r = t.default_app().get("/ready").await;
        if r.body["readiness"] != "loading" {
            return (r.status.as_u16(), r.body);
        }
        assert!(started.elapsed() < Duration::from_secs(60), "{}", r.text);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ready_is_never_200_while_a_request_would_get_no_active_model() {
    let (t, user) = restarted_with_a_model().await;
    let c = t.default_app();
    let path = format!("/v1/users/{user}/recommendations?n=5");
    // From the start, in rounds: ask /ready, then (after its answer) send a burst of
    // recommendation requests. A round whose /ready said 200 must serve every one of them.
    let started = Instant::now();
    let (mut rounds, mut not_ready_rounds, mut ready_rounds) = (0, 0, 0);
    while ready_rounds < 20 {
        assert!(started.elapsed() < Duration::from_secs(60), "never ready");
        let ready = c.get("/ready").await;
        let (a, b, d, e, f, g) = tokio::join!(
            c.get(&path),
            c.get(&path),
            c.get(&path),
            c.get(&path),
            c.get(&path),
            c.get(&path)
        );
        let burst = [a, b, d, e, f, g];
        rounds += 1;
        if ready.status.as_u16() == 200 {
            ready_rounds += 1;
            for r in &burst {
                assert_eq!(
                    r.status.as_u16(),
                    200,
                    "round {rounds}: /ready said 200, a request got: {}",
                    r.text
                );
            }
        } else {
            not_ready_rounds += 1;
            ready.assert_problem(503, "not_ready", None);
            assert_eq!(ready.body["readiness"], "loading", "{}", ready.text);
            assert_eq!(ready.body["apps"][0]["app"], "default", "{}", ready.text);
        }
    }
    eprintln!("{rounds} rounds, {not_ready_rounds} before ready");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_active_model_at_start_is_degraded_in_ready_and_metrics() {
    let (t, _) = restarted_with_a_model().await;
    // Damage the active version's file before the restarted server loads it: the loader
    // thread may already be reading (and have it mapped: hence a rename, not a rewrite in
    // place), so restart once more over the damaged file.
    let record = &t.store.list_models("default").unwrap()[0];
    let file = t.dir().join(&record.info.artifact.location);
    attune_testsupport::flip_middle_byte(&file);
    let t = t.restart();

    let (status, body) = settled(&t).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["code"], "not_ready", "{body}");
    assert_eq!(body["readiness"], "degraded", "{body}");
    assert_eq!(body["apps"][0]["app"], "default", "{body}");
    assert_eq!(body["apps"][0]["state"], "degraded", "{body}");
    assert_eq!(body["apps"][0]["version"], 1, "{body}");
    let dir = t.dir().display().to_string();
    assert!(!body.to_string().contains(&dir), "{body}");
    let m = t.default_app().get("/metrics").await.text;
    assert!(
        m.contains("attune_degraded{app=\"default\",reason=\"model_refused\"} 1"),
        "{m}"
    );
    // Another app without a model does not change that; a good version activated fixes it.
    let j = train(
        &t.default_app(),
        json!({"algorithm": "popularity", "promote": "always"}),
    )
    .await;
    assert_eq!(j["activated"], true, "{j}");
    let r = t.default_app().get("/ready").await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.text);
    let m = t.default_app().get("/metrics").await.text;
    assert!(
        m.contains("attune_degraded{app=\"default\",reason=\"model_refused\"} 0"),
        "{m}"
    );
}
