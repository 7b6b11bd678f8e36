//! Fairness over HTTP: `[serving.fairness]` re-ranks the lists `GET /v1/users/{id}/recommendations`
//! serves (the long tail's exposure share rises with it on), and `GET /v1/fairness` measures
//! the served lists from the impression log; bad specifications are problems naming the field.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use attune_core::fairness::groups::popularity_buckets;
use attune_core::fairness::{discount, ItemGroupSpec, TargetSpec};
use attune_store::{EventFilter, Store as _};
use serde_json::json;

use crate::common::TestServer;

const USERS: usize = 40;

/// A synthetic shop, a trained item-kNN model, and every user's top 10 (with fairness on: 70% of
/// the exposure asked for the tail bucket). Returns the lists and
/// each item's popularity (distinct users in the training events), the model's.
async fn served(fairness: bool) -> (TestServer, Vec<Vec<String>>, BTreeMap<String, f64>) {
    let serving = attune_serving::ServingConfig {
        fairness: fairness.then_some(attune_serving::fairness::FairnessConfig {
            item_groups: ItemGroupSpec::Popularity(3),
            targets: "head=0.1,mid=0.2,tail=0.7".parse::<TargetSpec>().unwrap(),
            lambda: 1.0,
            candidates: 60,
        }),
        ..attune_serving::ServingConfig::default()
    };
    let t = TestServer::with_pipeline_serving(serving);
    let data = attune_testkit::generate(&attune_testkit::SyntheticConfig {
        n_users: 120,
        n_items: 60,
        n_events: 5_000,
        seed: 33,
        ..attune_testkit::SyntheticConfig::default()
    });
    t.store.upsert_items("default", &data.items).unwrap();
    t.store.upsert_users("default", &data.users).unwrap();
    t.store.insert_events("default", &data.events).unwrap();
    let mut users_of: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for e in &data.events {
        if let (Some(i), Some(u)) = (&e.item_id, e.user_key()) {
            users_of.entry(i.clone()).or_default().insert(u.to_string());
        }
    }
    let popularity = users_of
        .into_iter()
        .map(|(i, u)| (i, u.len() as f64))
        .collect();
    let c = t.default_app();
    let r = c
        .post_json(
            "/v1/models/train",
            &json!({"algorithm": "item-knn:neighbours=20", "promote": "always"}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 202, "{}", r.text);
    let id = r.body["job_id"].as_str().unwrap().to_string();
    let started = Instant::now();
    while c.get(&format!("/v1/models/jobs/{id}")).await.body["status"] != "succeeded" {
        assert!(started.elapsed() < Duration::from_secs(60));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut lists = Vec::new();
    for u in data.users.iter().take(USERS) {
        let list = c
            .get(&format!("/v1/users/{}/recommendations?n=10", u.user_id))
            .await;
        assert_eq!(list.status.as_u16(), 200, "{}", list.text);
        lists.push(
            list.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["item_id"].as_str().unwrap().to_string())
                .collect(),
        );
    }
    (t, lists, popularity)
}

/// The tail bucket's share of position-discounted exposure, buckets from `popularity`.
fn tail_share(lists: &[Vec<String>], popularity: &BTreeMap<String, f64>) -> f64 {
    let ids: Vec<&String> = popularity.keys().collect();
    let pop: Vec<f64> = popularity.values().copied().collect();
    let groups = popularity_buckets(&pop, 3).unwrap();
    let (mut tail, mut total) = (0.0, 0.0);
    for l in lists {
        for (p, item) in l.iter().enumerate() {
            total += discount(p);
            let i = ids.binary_search(&item).expect("a known item");
            if groups.group_of(i as u32) == 2 {
                tail += discount(p);
            }
        }
    }
    tail / total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reranking_raises_the_tail_share_of_served_lists_and_the_online_figures_see_it() {
    let (_off_server, off, popularity) = served(false).await;
    let (t, on, _) = served(true).await;
    let (off_share, on_share) = (tail_share(&off, &popularity), tail_share(&on, &popularity));
    assert!(
        on_share > off_share + 0.02,
        "tail share on {on_share} vs off {off_share}"
    );

    // The online figures read the same lists back from the impression log.
    let c = t.default_app();
    let started = Instant::now();
    loop {
        let mut n = 0;
        t.store
            .scan_events("default", &EventFilter::default(), &mut |e| {
                n += usize::from(e.event_type == attune_core::event::EventType::Impression);
                true
            })
            .unwrap();
        if n >= USERS * 10 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let r = c
        .get("/v1/fairness?window_secs=3600&item_groups=attr:brand&user_groups=attr:gender")
        .await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.text);
    assert_eq!(r.body["lists"], USERS as u64, "{}", r.text);
    let shares: f64 = r.body["exposure"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["share"].as_f64().unwrap())
        .sum();
    assert!((shares - 1.0).abs() < 1e-9, "{}", r.text);
    let users: u64 = r.body["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["lists"].as_u64().unwrap())
        .sum();
    assert_eq!(users, USERS as u64, "{}", r.text);

    for (query, field) in [
        ("item_groups=pop:3", "item_groups"),
        ("user_groups=activity:3", "user_groups"),
        ("item_groups=attr:colour", "item_groups"),
        ("window_secs=0", "window_secs"),
    ] {
        let r = c.get(&format!("/v1/fairness?{query}")).await;
        r.assert_problem(400, "invalid_request", Some(field));
    }
}
