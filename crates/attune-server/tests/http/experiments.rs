//! `/v1/experiments` in-process: create, start, stop; lists tagged with their variant and
//! served by the variant's model version; impressions and clicks attributed; results; and every
//! refusal a problem naming the field, with nothing stored.

use std::time::{Duration, Instant};

use attune_store::{ExperimentStore as _, Store as _};
use axum::body::Body;
use axum::http::Method;
use serde_json::{json, Value};

use crate::common::{Client, TestServer};

fn shop(t: &TestServer) {
    let data = attune_testkit::generate(&attune_testkit::SyntheticConfig {
        n_users: 150,
        n_items: 60,
        n_events: 6_000,
        seed: 21,
        ..attune_testkit::SyntheticConfig::default()
    });
    t.store.upsert_items("default", &data.items).unwrap();
    t.store.insert_events("default", &data.events).unwrap();
}

async fn train(c: &Client<'_>, algorithm: &str, promote: &str) -> u64 {
    let r = c
        .post_json(
            "/v1/models/train",
            &json!({"algorithm": algorithm, "promote": promote}),
        )
        .await;
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

async fn post(c: &Client<'_>, path: &str) -> crate::common::Resp {
    c.request(Method::POST, path, None, Body::empty()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_name_the_field_and_store_nothing() {
    let t = TestServer::with_pipeline();
    shop(&t);
    let c = t.default_app();
    train(&c, "popularity", "always").await;
    for (body, field) in [
        (
            json!({"name": "e", "variants": [{"name": "a", "share": 0.5}, {"name": "b", "share": 0.6}]}),
            "variants",
        ),
        (
            json!({"name": "e", "variants": [{"name": "a", "share": 0.5}, {"name": "b", "share": 0.5, "model_version": 7}]}),
            "variants[1].model_version",
        ),
        (
            json!({"name": "e", "variants": [{"name": "a", "share": 0.5}, {"name": "b", "share": "half"}]}),
            "variants[1].share",
        ),
        (
            json!({"name": "e", "traffic": 0, "variants": [{"name": "a", "share": 0.5}, {"name": "b", "share": 0.5}]}),
            "traffic",
        ),
        (
            json!({"name": "", "variants": [{"name": "a", "share": 0.5}, {"name": "b", "share": 0.5}]}),
            "name",
        ),
    ] {
        let r = c.post_json("/v1/experiments", &body).await;
        r.assert_problem(400, "invalid_request", Some(field));
    }
    assert!(t.store.list_experiments("default").unwrap().is_empty());

    let half = json!([{"name": "a", "share": 0.5}, {"name": "b", "share": 0.5}]);
    let r = c
        .post_json(
            "/v1/experiments",
            &json!({"name": "one", "traffic": 0.6, "variants": half, "start": true}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.text);
    assert_eq!(r.body["status"], "running");
    // Overlapping experiments in one layer: the second cannot start (and stays a draft).
    let r = c
        .post_json(
            "/v1/experiments",
            &json!({"name": "two", "traffic": 0.6, "variants": half}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.text);
    post(&c, "/v1/experiments/two/start")
        .await
        .assert_problem(409, "conflict", Some("traffic"));
    assert_eq!(c.get("/v1/experiments/two").await.body["status"], "draft");
    // A running phase cannot change.
    let r = c
        .request(
            Method::PUT,
            "/v1/experiments/one",
            Some("application/json"),
            json!({"variants": half, "traffic": 0.3}).to_string(),
        )
        .await;
    r.assert_problem(409, "conflict", None);
    // A report on no data, an unknown experiment.
    c.get("/v1/experiments/one/results")
        .await
        .assert_problem(409, "conflict", None);
    c.get("/v1/experiments/nope")
        .await
        .assert_problem(404, "experiment_not_found", Some("name"));
    c.get("/v1/experiments/one/results?alpha=2")
        .await
        .assert_problem(400, "invalid_request", Some("alpha"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn variants_serve_their_model_and_clicks_reach_the_report() {
    let t = TestServer::with_pipeline();
    shop(&t);
    let c = t.default_app();
    let v1 = train(&c, "ease:lambda=50", "always").await;
    let v2 = train(&c, "popularity", "never").await;
    let r = c
        .post_json(
            "/v1/experiments",
            &json!({"name": "ab", "start": true,
                    "variants": [{"name": "ease", "share": 0.5},
                                 {"name": "popular", "share": 0.5, "model_version": v2}]}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.text);
    let mut by_variant = std::collections::BTreeMap::<String, usize>::new();
    for u in 0..120 {
        let user = format!("user-{u}");
        let list = c
            .get(&format!("/v1/users/{user}/recommendations?n=5"))
            .await
            .body;
        let variant = list["experiment"]["variant"].as_str().unwrap().to_string();
        let want = if variant == "popular" { v2 } else { v1 };
        assert_eq!(list["model_version"], want, "{list}");
        assert_eq!(list["experiment"]["name"], "ab");
        *by_variant.entry(variant.clone()).or_default() += 1;
        // Users of `popular` click the first item; half of the `ease` users do.
        if variant == "popular" || u % 2 == 0 {
            let click = json!({"type": "click", "user_id": user,
                               "item_id": list["items"][0]["item_id"],
                               "context": {"recommendation_id": list["recommendation_id"]}});
            let r = c.post_json("/v1/events", &click).await;
            assert_eq!(r.status.as_u16(), 200, "{}", r.text);
        }
        // Asked again: the same variant (sticky), not a first serve.
        let again = c
            .get(&format!("/v1/users/{user}/recommendations?n=5"))
            .await
            .body;
        assert_eq!(again["experiment"]["variant"], variant.as_str());
    }
    assert_eq!(by_variant.len(), 2, "{by_variant:?}");
    // Exposures and impressions are written off the request path.
    let started = Instant::now();
    let report = loop {
        let r = c.get("/v1/experiments/ab/results").await;
        if r.status.as_u16() == 200
            && r.body["variants"][0]["users"].as_u64().unwrap_or(0)
                + r.body["variants"][1]["users"].as_u64().unwrap_or(0)
                == 120
            && r.body["variants"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["impressions"].as_u64().unwrap())
                .sum::<u64>()
                == 120 * 10
        {
            break r.body;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{}", r.text);
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let totals: Value = report["variants"].clone();
    for v in totals.as_array().unwrap() {
        let users = by_variant[v["name"].as_str().unwrap()] as u64;
        assert_eq!(v["users"], users, "{report}");
        assert_eq!(v["lists"], 2 * users, "{report}");
    }
    let ctr = &report["metrics"]["ctr"][0];
    assert_eq!(ctr["variant"], "popular");
    // 1 click per 10 impressions against about 1 per 20.
    assert!(ctr["value"].as_f64().unwrap() > ctr["control_value"].as_f64().unwrap());
    assert_eq!(report["srm"]["mismatch"], false, "{report}");
    assert!(report["decision"].as_str().unwrap().len() > 10);

    // The same lists and clicks, outside the experiment's report: by model version and by
    // position (every click was on the first item).
    let o = c.get("/v1/outcomes?group=model_version").await.body;
    let groups: std::collections::BTreeMap<String, Value> = o["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["group"].as_str().unwrap().to_string(), g.clone()))
        .collect();
    let total_clicks: u64 = groups.values().map(|g| g["clicks"].as_u64().unwrap()).sum();
    assert_eq!(
        groups[&format!("v{v2:04}")]["users"],
        by_variant["popular"] as u64,
        "{o}"
    );
    assert_eq!(
        groups[&format!("v{v1:04}")]["users"],
        by_variant["ease"] as u64,
        "{o}"
    );
    assert_eq!(o["positions"][0]["position"], 1);
    assert_eq!(o["positions"][0]["clicks"], total_clicks, "{o}");
    assert_eq!(o["positions"][1]["clicks"], 0, "{o}");
    let by_var = c.get("/v1/outcomes?group=variant&experiment=ab").await.body;
    assert_eq!(by_var["groups"].as_array().unwrap().len(), 2, "{by_var}");
    c.get("/v1/outcomes?group=variant").await.assert_problem(
        400,
        "invalid_request",
        Some("experiment"),
    );
    c.get("/v1/outcomes?since=yesterday").await.assert_problem(
        400,
        "invalid_request",
        Some("since"),
    );

    // Stopped: no more routing into it.
    let r = post(&c, "/v1/experiments/ab/stop").await;
    assert_eq!(r.body["status"], "stopped", "{}", r.text);
    let list = c.get("/v1/users/user-999/recommendations?n=5").await.body;
    assert!(list.get("experiment").is_none(), "{list}");
}

/// Lists served to `users`, clicking the first item when `clicks(country, variant)`; returns
/// per country (0 = de, 1 = fr) the lists of each variant (0 = plain, 1 = diverse).
async fn serve_round(
    c: &Client<'_>,
    users: usize,
    clicks: impl Fn(usize, usize) -> bool,
) -> [[usize; 2]; 2] {
    let mut served = [[0usize; 2]; 2];
    for u in 0..users {
        let user = format!("user-{u}");
        let list = c
            .get(&format!("/v1/users/{user}/recommendations?n=5"))
            .await
            .body;
        assert_eq!(list["experiment"]["name"], "slot", "{list}");
        let arm = usize::from(list["experiment"]["variant"] == "diverse");
        let country = u % 2;
        served[country][arm] += 1;
        if clicks(country, arm) {
            let click = json!({"type": "click", "user_id": user,
                               "item_id": list["items"][0]["item_id"],
                               "context": {"recommendation_id": list["recommendation_id"]}});
            let r = c.post_json("/v1/events", &click).await;
            assert_eq!(r.status.as_u16(), 200, "{}", r.text);
        }
    }
    served
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contextual_bandit_serves_each_country_its_better_variant() {
    let t = TestServer::with_pipeline();
    shop(&t);
    let c = t.default_app();
    train(&c, "popularity", "always").await;
    for u in 0..80 {
        let country = if u % 2 == 0 { "de" } else { "fr" };
        let r = c
            .put_json(
                &format!("/v1/users/user-{u}"),
                &json!({"attributes": {"country": country}}),
            )
            .await;
        assert!(r.status.is_success(), "{}", r.text);
    }
    let r = c
        .post_json(
            "/v1/experiments",
            &json!({"name": "slot", "start": true,
                    "variants": [{"name": "plain", "share": 0.5},
                                 {"name": "diverse", "share": 0.5, "diversity": 0.6}],
                    "allocation": {"kind": "bandit", "policy": "lin_thompson",
                                   "context": ["country"], "floor": 0.05}}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.text);
    // A contextual policy without a context is refused, naming the field.
    c.post_json(
        "/v1/experiments",
        &json!({"name": "bad", "variants": [{"name": "a", "share": 0.5}, {"name": "b", "share": 0.5}],
                "allocation": {"kind": "bandit", "policy": "linucb"}}),
    )
    .await
    .assert_problem(400, "invalid_request", Some("allocation.context"));

    // Germans click only `plain` lists, the French only `diverse` ones: pooled, the variants
    // are even, so only the context tells them apart.
    let prefers = |country: usize, arm: usize| country == arm;
    let first = serve_round(&c, 80, prefers).await;
    let started = Instant::now();
    let state = loop {
        let r = post(&c, "/v1/experiments/slot/bandit").await;
        assert_eq!(r.status.as_u16(), 200, "{}", r.text);
        let trials: u64 = r.body["trials"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_u64().unwrap())
            .sum();
        let successes: u64 = r.body["successes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_u64().unwrap())
            .sum();
        if trials == 80 && successes == (first[0][0] + first[1][1]) as u64 {
            break r.body;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{}", r.text);
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let contexts = state["contextual"]["contexts"].as_array().unwrap();
    assert_eq!(contexts.len(), 2, "{state}");
    for ctx in contexts {
        let better = usize::from(ctx["values"]["country"] == "fr");
        let share = ctx["allocation"][better].as_f64().unwrap();
        assert!(share > 0.8, "{ctx}");
    }

    // Served again: each country mostly gets its better variant (the floor keeps 5% each).
    let second = serve_round(&c, 80, prefers).await;
    assert!(second[0][0] >= 30, "Germans: {second:?}");
    assert!(second[1][1] >= 30, "the French: {second:?}");

    // The report carries the bandit's state, per context.
    let report = c.get("/v1/experiments/slot/results").await;
    assert_eq!(report.status.as_u16(), 200, "{}", report.text);
    assert_eq!(
        report.body["bandit"]["contextual"]["encoder"]["attributes"],
        json!(["country"])
    );
    // Not a bandit: refused, naming why.
    let r = c
        .post_json(
            "/v1/experiments",
            &json!({"name": "fixed", "layer": "other",
                    "variants": [{"name": "a", "share": 0.5}, {"name": "b", "share": 0.5}]}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.text);
    post(&c, "/v1/experiments/fixed/bandit")
        .await
        .assert_problem(400, "invalid_request", Some("status"));
    post(&c, "/v1/experiments/nope/bandit")
        .await
        .assert_problem(404, "experiment_not_found", Some("name"));
}
