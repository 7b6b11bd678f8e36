//! The catalog routes.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::{shop_items, TestServer};

#[tokio::test]
async fn put_get_replace_delete() {
    let t = TestServer::new();
    let c = t.default_app();
    let item = json!({"title": "Merino socks (3 pack)", "description": "Cushioned hiking socks",
                      "categories": ["apparel", "socks"], "tags": ["wool"],
                      "attributes": {"price": 24.5, "brand": "Ullvik", "pack": 3, "on_sale": false},
                      "published_at": "2026-09-01T06:00:00+02:00"});
    let r = c.put_json("/v1/items/SKU-2040", &item).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["item_id"], "SKU-2040");
    assert_eq!(r.body["available"], true, "available defaults to true");
    assert_eq!(
        r.body["published_at"], "2026-09-01T04:00:00Z",
        "published_at is kept in UTC"
    );

    let g = c.get("/v1/items/SKU-2040").await;
    assert_eq!(g.status, StatusCode::OK);
    assert_eq!(g.body, r.body);
    assert_eq!(
        g.body["attributes"],
        json!({"price": 24.5, "brand": "Ullvik", "pack": 3, "on_sale": false})
    );

    // Same id in the body is fine; PUT replaces the whole item.
    let r = c
        .put_json(
            "/v1/items/SKU-2040",
            &json!({"item_id": "SKU-2040", "title": "Socks", "available": false}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let g = c.get("/v1/items/SKU-2040").await;
    assert_eq!(
        g.body,
        json!({"item_id": "SKU-2040", "title": "Socks", "categories": [], "tags": [],
                              "attributes": {}, "available": false})
    );

    let d = c.delete("/v1/items/SKU-2040").await;
    assert_eq!(d.status, StatusCode::NO_CONTENT);
    assert!(d.text.is_empty());
    c.get("/v1/items/SKU-2040")
        .await
        .assert_problem(404, "item_not_found", Some("item_id"));
    c.delete("/v1/items/SKU-2040")
        .await
        .assert_problem(404, "item_not_found", Some("item_id"));
}

/// A dense vector (a text embedding, image features) is an attribute holding an array of
/// numbers; it is stored and read back exactly (issue 16, text embeddings).
#[tokio::test]
async fn a_dense_vector_attribute_round_trips() {
    let t = TestServer::new();
    let c = t.default_app();
    let item = json!({"title": "Trail trainers",
                      "attributes": {"embedding": [0.5, -0.25, 0.125], "brand": "Ullvik"}});
    let r = c.put_json("/v1/items/SKU-1", &item).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let g = c.get("/v1/items/SKU-1").await;
    assert_eq!(
        g.body["attributes"],
        json!({"embedding": [0.5, -0.25, 0.125], "brand": "Ullvik"})
    );
    c.put_json("/v1/items/SKU-1", &json!({"attributes": {"embedding": []}}))
        .await
        .assert_problem(422, "validation_failed", Some("attributes.embedding"));
}

#[tokio::test]
async fn ids_with_slashes_and_unicode_work_when_encoded() {
    let t = TestServer::new();
    let c = t.default_app();
    let r = c
        .put_json(
            "/v1/items/books%2F978-0-14-044913-6",
            &json!({"title": "Crime and Punishment"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["item_id"], "books/978-0-14-044913-6");
    let r = c.put_json("/v1/items/k%C3%A4se-42", &json!({})).await;
    assert_eq!(r.body["item_id"], "käse-42");
    assert_eq!(c.get("/v1/items/k%C3%A4se-42").await.status, StatusCode::OK);
}

#[tokio::test]
async fn bulk_upsert_array_and_ndjson_then_list_pages() {
    let t = TestServer::new();
    let c = t.default_app();
    let r = c.post_json("/v1/items", &shop_items()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body, json!({"upserted": 4}));
    let more: Vec<Value> = (0..7)
        .map(|i| json!({"item_id": format!("SKU-9{i:03}"), "title": format!("Gift card {i}")}))
        .collect();
    let r = c.post_ndjson("/v1/items", &more).await;
    assert_eq!(r.body, json!({"upserted": 7}), "{}", r.text);
    // Upsert replaces.
    let r = c
        .post_json(
            "/v1/items",
            &json!({"item_id": "SKU-3300", "title": "Headlamp 500 lm", "available": true}),
        )
        .await;
    assert_eq!(r.body, json!({"upserted": 1}));

    let mut seen = Vec::new();
    let mut path = "/v1/items?limit=4".to_string();
    loop {
        let page = c.get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        let items = page.body["items"].as_array().unwrap();
        assert!(items.len() <= 4);
        seen.extend(
            items
                .iter()
                .map(|i| i["item_id"].as_str().unwrap().to_string()),
        );
        match page.body["next_after"].as_str() {
            Some(after) => path = format!("/v1/items?limit=4&after={after}"),
            None => break,
        }
    }
    let mut expected: Vec<String> = shop_items()
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["item_id"].as_str().unwrap().into())
        .collect();
    expected.extend(
        more.iter()
            .map(|i| i["item_id"].as_str().unwrap().to_string()),
    );
    expected.sort();
    assert_eq!(seen, expected);
    let all = c.get("/v1/items").await;
    assert_eq!(all.body["items"].as_array().unwrap().len(), 11);
    assert_eq!(all.body["next_after"], Value::Null);
    let lamp = all.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["item_id"] == "SKU-3300")
        .unwrap();
    assert_eq!(lamp["title"], "Headlamp 500 lm");
}

#[tokio::test]
async fn listing_round_trips_into_bulk_import() {
    let t = TestServer::new();
    t.create_app("copy").await;
    let c = t.default_app();
    c.post_json("/v1/items", &shop_items()).await;
    let listed = c.get("/v1/items").await.body["items"].clone();
    let r = t
        .app("copy")
        .request(
            Method::POST,
            "/v1/items",
            Some("application/json"),
            listed.to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(t.snapshot("copy").items, t.snapshot("default").items);
}
