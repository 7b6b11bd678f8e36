//! New items without retraining (issue 16, deliverable 4): an item PUT after training appears
//! in the list of a user whose recent history matches its text, within one second, with a
//! reason naming the history item it is like; users it does not match, users who dismissed
//! its category, and unavailable or deleted new items do not get it.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::{Client, TestServer};
use crate::models::train;

const GROUPS: [(&str, &str); 3] = [
    ("shoes", "Trail running shoe"),
    ("kitchen", "Chef kitchen knife"),
    ("home", "Reading desk lamp"),
];
const NAMES: [&str; 10] = [
    "Alder", "Birch", "Cedar", "Dune", "Ember", "Fjord", "Glade", "Heath", "Isle", "Juniper",
];

/// Ten items per group, eight users per group who each viewed five of their group's items
/// (in November, before training). Returns the items each user viewed.
async fn shop(c: &Client<'_>) -> Vec<(String, Vec<String>)> {
    let items: Vec<Value> = GROUPS
        .iter()
        .flat_map(|(cat, title)| {
            NAMES.iter().map(move |n| {
                json!({"item_id": format!("{cat}-{n}"), "title": format!("{title} {n}"),
                       "categories": [cat], "available": true})
            })
        })
        .collect();
    let r = c.post_json("/v1/items", &json!(items)).await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.text);
    let mut events = Vec::new();
    let mut viewed = Vec::new();
    for (g, (cat, _)) in GROUPS.iter().enumerate() {
        for u in 0..8 {
            let user = format!("{cat}-fan-{u}");
            let mine: Vec<String> = (0..5)
                .map(|k| format!("{cat}-{}", NAMES[(u + 2 * k) % NAMES.len()]))
                .collect();
            for (k, item) in mine.iter().enumerate() {
                events.push(json!({"event_id": format!("e-{g}-{u}-{k}"), "type": "view",
                    "user_id": user, "item_id": item,
                    "timestamp": format!("2026-11-{:02}T10:00:00Z", 1 + u + k)}));
            }
            viewed.push((user, mine));
        }
    }
    c.ingest_ok(&json!(events)).await;
    viewed
}

fn ids(list: &Value) -> Vec<&str> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["item_id"].as_str().unwrap())
        .collect()
}

async fn list(c: &Client<'_>, user: &str) -> Value {
    let r = c
        .get(&format!("/v1/users/{user}/recommendations?n=5"))
        .await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.text);
    r.body
}

/// The user's list once it contains `item`, polled for at most one second.
async fn within_a_second(c: &Client<'_>, user: &str, item: &str) -> Value {
    let started = Instant::now();
    loop {
        let l = list(c, user).await;
        if ids(&l).contains(&item) {
            return l;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{item} not in {user}'s list after 1 s: {l}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_item_put_after_training_is_listed_within_a_second_for_users_it_matches() {
    let t = TestServer::with_pipeline();
    let c = t.default_app();
    let viewed = shop(&c).await;
    let j = train(
        &c,
        json!({"algorithm": "ease:lambda=50", "promote": "always"}),
    )
    .await;
    assert_eq!(j["status"], "succeeded", "{j}");
    let (runner, runner_viewed) = &viewed[0];
    // Cached before the item exists: the catalog change must reach it anyway.
    let before = list(&c, runner).await;
    assert_eq!(before["source"], "personalized", "{before}");
    assert!(!ids(&before).contains(&"shoes-Zephyr"));

    let r = c
        .put_json(
            "/v1/items/shoes-Zephyr",
            &json!({"title": "Trail running shoe Zephyr", "categories": ["shoes"]}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.text);
    let l = within_a_second(&c, runner, "shoes-Zephyr").await;
    assert_eq!(l["cached"], false, "{l}");
    // Second place: the model's first pick is never displaced (fresh::interleave).
    let at = ids(&l).iter().position(|&i| i == "shoes-Zephyr").unwrap();
    assert_eq!(at, 1, "{l}");
    let item = &l["items"][at];
    let why = &item["explanation"];
    assert_eq!(why["kind"], "new_item_like", "{l}");
    let because = why["item_id"].as_str().unwrap();
    assert!(runner_viewed.iter().any(|v| v == because), "{l}");
    assert!(
        why["text"]
            .as_str()
            .unwrap()
            .starts_with("New, like Trail running shoe "),
        "{l}"
    );
    assert_eq!(item["title"], "Trail running shoe Zephyr");
    let scores: Vec<f64> = l["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["score"].as_f64().unwrap())
        .collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{l}");
    // The next request is a cache hit again, with the item.
    let again = list(&c, runner).await;
    assert_eq!(
        (again["cached"].as_bool(), ids(&again)),
        (Some(true), ids(&l))
    );

    // A user whose history is about knives does not get it, nor does a user with no history.
    let (cook, _) = &viewed[8];
    assert!(cook.starts_with("kitchen"));
    assert!(!ids(&list(&c, cook).await).contains(&"shoes-Zephyr"));
    let stranger = list(&c, "stranger").await;
    assert_eq!(stranger["source"], "cold_start");
    assert!(!ids(&stranger).contains(&"shoes-Zephyr"));

    // A new item that is unavailable is never listed; another runner who dismissed the
    // category stops getting the available one at once.
    let r = c
        .put_json(
            "/v1/items/shoes-Yarrow",
            &json!({"title": "Trail running shoe Yarrow", "categories": ["shoes"],
                    "available": false}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.text);
    let (runner2, _) = &viewed[1];
    let l2 = within_a_second(&c, runner2, "shoes-Zephyr").await;
    assert!(!ids(&l2).contains(&"shoes-Yarrow"), "{l2}");
    assert!(!ids(&list(&c, runner).await).contains(&"shoes-Yarrow"));
    c.ingest_ok(&json!({"type": "not_interested", "user_id": runner2,
                        "properties": {"category": "shoes"}}))
        .await;
    let l2 = list(&c, runner2).await;
    assert!(!ids(&l2).iter().any(|i| i.starts_with("shoes-")), "{l2}");

    // Made available, it is listed; deleted, it is gone from the next list.
    let r = c
        .put_json(
            "/v1/items/shoes-Yarrow",
            &json!({"title": "Trail running shoe Yarrow", "categories": ["shoes"]}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.text);
    let l = within_a_second(&c, runner, "shoes-Yarrow").await;
    assert!(ids(&l).contains(&"shoes-Zephyr"), "two slots: {l}");
    assert_eq!(
        c.delete("/v1/items/shoes-Zephyr").await.status.as_u16(),
        204
    );
    assert!(!ids(&list(&c, runner).await).contains(&"shoes-Zephyr"));
}
