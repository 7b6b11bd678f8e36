//! Apps (tenants): creation, naming rule, isolation.

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::common::{session_events, shop_items, TestServer};

#[tokio::test]
async fn create_and_list_apps() {
    let t = TestServer::new();
    let c = t.default_app();
    assert_eq!(c.get("/v1/apps").await.body, json!({"apps": ["default"]}));
    let r = c.post_json("/v1/apps", &json!({"name": "shop"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body, json!({"name": "shop"}));
    let r = c.post_json("/v1/apps", &json!({"name": "shop"})).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "creating an existing app is idempotent: {}",
        r.text
    );
    t.create_app("news-2026_eu").await;
    assert_eq!(
        c.get("/v1/apps").await.body,
        json!({"apps": ["default", "news-2026_eu", "shop"]})
    );
    // An app created outside this process (another replica, the CLI) is found too.
    attune_store::Store::create_app(t.store.as_ref(), "made-elsewhere").unwrap();
    assert_eq!(
        t.app("made-elsewhere").get("/v1/items").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn app_names_follow_the_rule() {
    let t = TestServer::new();
    let c = t.default_app();
    let too_long = "a".repeat(64);
    for bad in [
        "",
        "Shop",
        "-shop",
        "_x",
        "my shop",
        "shop!",
        "ünï",
        too_long.as_str(),
    ] {
        let r = c.post_json("/v1/apps", &json!({"name": bad})).await;
        r.assert_problem(422, "validation_failed", Some("name"));
    }
    c.post_json("/v1/apps", &json!({})).await.assert_problem(
        422,
        "validation_failed",
        Some("name"),
    );
    c.post_json("/v1/apps", &json!({"name": 5}))
        .await
        .assert_problem(422, "validation_failed", Some("name"));
    c.post_json("/v1/apps", &json!({"name": "x", "owner": "me"}))
        .await
        .assert_problem(422, "validation_failed", Some("owner"));
    assert_eq!(
        c.post_json("/v1/apps", &json!({"name": "a".repeat(63)}))
            .await
            .status,
        StatusCode::CREATED
    );
    assert_eq!(
        c.post_json("/v1/apps", &json!({"name": "0"})).await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        c.get("/v1/apps").await.body["apps"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

fn ids(v: &Value, key: &str) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|e| e[key].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn apps_never_see_each_other() {
    let t = TestServer::new();
    t.create_app("shop").await;
    t.create_app("news").await;
    let shop = t.app("shop");
    let news = t.app("news");

    // Overlapping ids everywhere: item SKU-2040, user cust-1042, event ids, device dev-1.
    shop.post_json("/v1/items", &shop_items()).await;
    news.put_json(
        "/v1/items/SKU-2040",
        &json!({"title": "Why socks matter", "categories": ["opinion"]}),
    )
    .await;
    shop.put_json(
        "/v1/users/cust-1042",
        &json!({"attributes": {"tier": "gold"}}),
    )
    .await;
    news.put_json(
        "/v1/users/cust-1042",
        &json!({"preferred_categories": ["politics"]}),
    )
    .await;
    shop.ingest_ok(&session_events("cust-1042", "shop-s", "ev"))
        .await;
    let news_events = json!([
        {"event_id": "ev-1", "type": "view", "user_id": "cust-1042", "item_id": "SKU-2040", "timestamp": "2026-11-27T07:00:00Z"},
        {"event_id": "ev-9", "type": "view", "anonymous_id": "dev-1", "item_id": "SKU-2040", "timestamp": "2026-11-27T07:05:00Z"}
    ]);
    let r = news.ingest_ok(&news_events).await;
    assert_eq!(
        r.body["accepted"], 2,
        "the same event id in another app is not a duplicate"
    );
    shop.post_json(
        "/v1/identify",
        &json!({"anonymous_id": "dev-1", "user_id": "cust-1042"}),
    )
    .await;

    // Items.
    assert_eq!(
        ids(&shop.get("/v1/items").await.body["items"], "item_id").len(),
        4
    );
    assert_eq!(
        ids(&news.get("/v1/items").await.body["items"], "item_id"),
        ["SKU-2040"]
    );
    assert_eq!(
        shop.get("/v1/items/SKU-2040").await.body["title"],
        "Merino socks (3 pack)"
    );
    assert_eq!(
        news.get("/v1/items/SKU-2040").await.body["title"],
        "Why socks matter"
    );
    news.get("/v1/items/SKU-1001-RED")
        .await
        .assert_problem(404, "item_not_found", Some("item_id"));
    t.default_app()
        .get("/v1/items/SKU-2040")
        .await
        .assert_problem(404, "item_not_found", Some("item_id"));

    // Users and histories.
    assert_eq!(
        shop.get("/v1/users/cust-1042").await.body["attributes"],
        json!({"tier": "gold"})
    );
    assert_eq!(
        news.get("/v1/users/cust-1042").await.body["preferred_categories"],
        json!(["politics"])
    );
    assert_eq!(
        shop.get("/v1/users/cust-1042/events").await.body["events"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
    // The device link made in shop does not stitch news' anonymous event.
    assert_eq!(
        ids(
            &news.get("/v1/users/cust-1042/events").await.body["events"],
            "event_id"
        ),
        ["ev-1"]
    );

    // Erasing in one app leaves the other alone.
    let r = news.delete("/v1/users/cust-1042").await;
    assert_eq!(
        r.body,
        json!({"events": 1, "identities": 0, "profile": true}),
        "{}",
        r.text
    );
    assert_eq!(shop.get("/v1/users/cust-1042").await.status, StatusCode::OK);
    assert_eq!(t.snapshot("shop").counts.events, 5);
    assert_eq!(t.snapshot("news").counts.events, 1);
    assert_eq!(t.snapshot("default").counts.events, 0);

    // Deleting in one app leaves the other's item.
    assert_eq!(
        news.delete("/v1/items/SKU-2040").await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(shop.get("/v1/items/SKU-2040").await.status, StatusCode::OK);

    // Writing to an app that does not exist is 404 and creates nothing.
    let r = t.app("blog").post_json("/v1/events", &news_events).await;
    r.assert_problem(404, "unknown_app", Some("X-Attune-App"));
    t.app("blog")
        .put_json("/v1/items/x", &json!({}))
        .await
        .assert_problem(404, "unknown_app", Some("X-Attune-App"));
    assert_eq!(
        t.default_app().get("/v1/apps").await.body,
        json!({"apps": ["default", "news", "shop"]})
    );
}
