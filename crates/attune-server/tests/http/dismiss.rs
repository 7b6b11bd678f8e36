//! "Not interested": a `not_interested` event removes the item (or, with
//! `properties.category`, the category) from the user's very next list, and the dismissal
//! outlives a retrain (the new model's snapshot is after the event).

use std::time::{Duration, Instant};

use attune_store::Store as _;
use serde_json::{json, Value};

use crate::common::{Client, TestServer};

async fn train(c: &Client<'_>) {
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
}

fn ids(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["item_id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_interested_removes_the_item_and_the_category_at_once_and_for_good() {
    let t = TestServer::with_pipeline();
    let data = attune_testkit::generate(&attune_testkit::SyntheticConfig {
        n_users: 100,
        n_items: 80,
        n_events: 4_000,
        seed: 12,
        ..attune_testkit::SyntheticConfig::default()
    });
    t.store.upsert_items("default", &data.items).unwrap();
    t.store.insert_events("default", &data.events).unwrap();
    let c = t.default_app();
    train(&c).await;
    let path = "/v1/users/user-7/recommendations?n=10";
    let before = c.get(path).await.body;
    let first = ids(&before)[0].clone();

    // The item: gone from the next list.
    let r = c
        .post_json(
            "/v1/events",
            &json!({"type": "not_interested", "user_id": "user-7", "item_id": first}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.text);
    let after = c.get(path).await.body;
    assert!(!ids(&after).contains(&first), "{after}");
    assert_eq!(ids(&after)[0], ids(&before)[1], "the rest moves up");

    // A category: none of its items in the next list.
    let second = ids(&after)[0].clone();
    let item = c.get(&format!("/v1/items/{second}")).await.body;
    let category = item["categories"][0].as_str().unwrap().to_string();
    let r = c
        .post_json(
            "/v1/events",
            &json!({"type": "not_interested", "user_id": "user-7",
                    "properties": {"category": category}}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.text);
    let of_category = |list: &Value| -> Vec<String> {
        data.items
            .iter()
            .filter(|i| i.categories.contains(&category) && ids(list).contains(&i.item_id))
            .map(|i| i.item_id.clone())
            .collect()
    };
    assert!(!of_category(&before).is_empty());
    let now = c.get(path).await.body;
    assert!(of_category(&now).is_empty(), "{now}");
    assert_eq!(ids(&now).len(), 10, "still a full list");

    // Neither comes back after a retrain, nor for another user.
    train(&c).await;
    let retrained = c.get(path).await.body;
    assert!(!ids(&retrained).contains(&first));
    assert!(of_category(&retrained).is_empty(), "{retrained}");
    let other = c
        .get("/v1/users/user-8/recommendations?n=80&exclude_seen=false")
        .await
        .body;
    assert!(ids(&other).contains(&first));

    // Neither an item nor a category: refused, naming the field.
    c.post_json(
        "/v1/events",
        &json!({"type": "not_interested", "user_id": "user-7"}),
    )
    .await
    .assert_problem(422, "validation_failed", Some("item_id"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strength_turns_personalization_down_to_popularity() {
    let t = TestServer::with_pipeline();
    let data = attune_testkit::generate(&attune_testkit::SyntheticConfig {
        n_users: 120,
        n_items: 80,
        n_events: 5_000,
        seed: 14,
        ..attune_testkit::SyntheticConfig::default()
    });
    t.store.upsert_items("default", &data.items).unwrap();
    t.store.insert_events("default", &data.events).unwrap();
    let c = t.default_app();
    let r = c
        .post_json(
            "/v1/models/train",
            &json!({"algorithm": "ease:lambda=50", "promote": "always"}),
        )
        .await;
    let id = r.body["job_id"].as_str().unwrap().to_string();
    let started = Instant::now();
    while c.get(&format!("/v1/models/jobs/{id}")).await.body["status"] != "succeeded" {
        assert!(started.elapsed() < Duration::from_secs(60));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let base = "/v1/users/user-3/recommendations?n=10&exclude_seen=false";
    let model = c.get(base).await.body;
    let full = c.get(&format!("{base}&strength=1")).await.body;
    assert_eq!(ids(&full), ids(&model));
    let popular = c.get("/v1/popular?n=10").await.body;
    let none = c.get(&format!("{base}&strength=0")).await.body;
    assert_eq!(ids(&none), ids(&popular), "strength 0 is the popular list");
    assert!(none["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i["explanation"]["kind"] == "popular"));
    assert_ne!(
        ids(&model),
        ids(&popular),
        "the model is personal for this user"
    );
    // Half way: a list that is neither, drawing on both.
    let half = c.get(&format!("{base}&strength=0.5")).await.body;
    let (h, m, p) = (ids(&half), ids(&model), ids(&popular));
    assert!(h != m && h != p, "{h:?}");
    assert!(h.iter().any(|i| m.contains(i) && !p.contains(i)));
    assert!(h.iter().any(|i| p.contains(i) && !m.contains(i)));
    c.get(&format!("{base}&strength=1.5")).await.assert_problem(
        400,
        "invalid_request",
        Some("strength"),
    );
    let batch = c
        .post_json(
            "/v1/recommendations",
            &json!({"users": ["user-3"], "n": 10, "exclude_seen": false, "strength": 0.0}),
        )
        .await;
    assert_eq!(ids(&batch.body["results"][0]), p);
}
