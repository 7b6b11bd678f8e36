//! `GET /v1/profile`: the report `attune profile --json` prints, read scope, over what training
//! sees.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::common::{api_key, keys_required, session_events, shop_items, TestServer};

const READER: &str = "shop-read-key-000000001";
const TRACKER: &str = "shop-ingest-key-0000001";

async fn with_data(t: &TestServer, headers: &[(&str, &str)]) {
    let c = t.default_app();
    for (path, body) in [
        ("/v1/items", shop_items()),
        ("/v1/events", session_events("ann", "s-1", "a")),
    ] {
        let r = c
            .send(
                Method::POST,
                path,
                headers,
                Some("application/json"),
                body.to_string(),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text);
    }
}

#[tokio::test]
async fn the_profile_has_sizes_days_histograms_cold_start_and_advice() {
    let t = TestServer::with_pipeline();
    with_data(&t, &[]).await;
    let r = t.default_app().get("/v1/profile").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let p = &r.body;
    assert_eq!(p["app"], "default");
    assert_eq!(
        (p["events"].as_u64(), p["users"].as_u64()),
        (Some(5), Some(1))
    );
    assert_eq!(p["catalog_items"], 4);
    // 18:02–18:09 at +01:00 is one UTC day.
    assert_eq!(
        p["events_per_day"],
        json!([{"day": "2026-11-27", "events": 5}])
    );
    // ann: 5 interactions → the 4–7 bin; items: SKU-1001-RED 3, SKU-2040 2, two never touched.
    assert_eq!(
        p["users_by_activity"],
        json!([
            {"min": 0, "max": 0, "count": 0},
            {"min": 1, "max": 1, "count": 0},
            {"min": 2, "max": 3, "count": 0},
            {"min": 4, "max": 7, "count": 1}
        ])
    );
    assert_eq!(
        p["items_by_activity"],
        json!([
            {"min": 0, "max": 0, "count": 2},
            {"min": 1, "max": 1, "count": 0},
            {"min": 2, "max": 3, "count": 2}
        ])
    );
    assert_eq!(p["cold_threshold"], 5);
    assert_eq!(
        (p["cold_users"].as_u64(), p["cold_items"].as_u64()),
        (Some(0), Some(4))
    );
    assert_eq!(p["per_item"]["n"], 4);
    assert!(p["recommended_algorithms"]
        .as_array()
        .is_some_and(|a| !a.is_empty()));
    assert_eq!(p["events_by_type"]["purchase"], 1);
}

#[tokio::test]
async fn the_profile_needs_a_key_with_read_scope_when_keys_are_required() {
    let t = TestServer::with_pipeline_config(keys_required(&[
        api_key("reader", READER, &["read"], &["default"]),
        api_key("tracker", TRACKER, &["ingest"], &["default"]),
        api_key("admin", "default-admin-key-00001", &["admin"], &["default"]),
    ]));
    with_data(&t, &[("x-api-key", "default-admin-key-00001")]).await;
    let c = t.default_app();
    c.get("/v1/profile")
        .await
        .assert_problem(401, "unauthorized", None);
    let wrong = c
        .send(
            Method::GET,
            "/v1/profile",
            &[("x-api-key", "not-a-key-of-this-server")],
            None,
            "",
        )
        .await;
    wrong.assert_problem(401, "unauthorized", None);
    let ingest_only = c
        .send(
            Method::GET,
            "/v1/profile",
            &[("x-api-key", TRACKER)],
            None,
            "",
        )
        .await;
    assert_eq!(
        ingest_only.status,
        StatusCode::FORBIDDEN,
        "{}",
        ingest_only.text
    );
    let read = c
        .send(
            Method::GET,
            "/v1/profile",
            &[("x-api-key", READER)],
            None,
            "",
        )
        .await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.text);
    assert_eq!(read.body["events"], 5);
}

#[tokio::test]
async fn the_profile_of_an_unknown_app_or_without_the_pipeline_is_a_problem() {
    let t = TestServer::with_pipeline();
    t.app("nope")
        .get("/v1/profile")
        .await
        .assert_problem(404, "unknown_app", Some("X-Attune-App"));
    TestServer::new()
        .default_app()
        .get("/v1/profile")
        .await
        .assert_problem(503, "unavailable", None);
}
