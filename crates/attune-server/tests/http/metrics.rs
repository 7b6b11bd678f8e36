//! `/metrics` on the real server (TCP): after known traffic, the counters carry exactly the
//! right labels and values, routes are templates, and both exposition formats are served.

use std::collections::HashMap;
use std::sync::Arc;

use attune_server::ServerConfig;
use attune_store::sqlite::SqliteStore;
use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::common::{session_events, shop_items, LiveServer};

/// `name{labels}` -> value, for every sample line.
fn samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (k, v) = l.rsplit_once(' ').unwrap();
            (k.to_string(), v.parse::<f64>().unwrap())
        })
        .collect()
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_and_events_by_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("attune.db")).unwrap());
    let server = LiveServer::start(store, ServerConfig::default()).await;
    let shop = [("x-attune-app", "shop")];

    let r = server
        .post_json("/v1/apps", &[], &json!({"name": "shop"}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    for item in shop_items().as_array().unwrap() {
        let path = format!("/v1/items/{}", item["item_id"].as_str().unwrap());
        let r = server.put_json(&path, &shop, item).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    for path in [
        "/v1/items/SKU-2040",
        "/v1/items/SKU-1001-RED",
        "/v1/items/NOPE",
    ] {
        server.get(path, &shop).await;
    }
    // 5 new events, then the same 5 again (duplicates) plus 2 new in one batch.
    let s1 = session_events("cust-1", "s1", "e");
    let r = server.post_json("/v1/events", &shop, &s1).await;
    assert_eq!(r.body["accepted"], 5, "{}", r.text);
    let mut again = s1.as_array().unwrap().clone();
    again.extend(
        session_events("cust-2", "s2", "f").as_array().unwrap()[..2]
            .iter()
            .cloned(),
    );
    let r = server.post_json("/v1/events", &shop, &json!(again)).await;
    assert_eq!(
        (r.body["accepted"].clone(), r.body["duplicates"].clone()),
        (json!(2), json!(5))
    );
    // Partial mode: 1 stored, 2 rejected. Atomic mode: 1 rejected fails the batch of 2.
    let bad = json!({"type": "view", "user_id": "cust-3"});
    let good =
        json!({"event_id": "g1", "type": "view", "user_id": "cust-3", "item_id": "SKU-2040"});
    let r = server
        .post_json("/v1/events?partial=true", &shop, &json!([bad, good, bad]))
        .await;
    assert_eq!(r.body["rejected"], 2, "{}", r.text);
    let r = server
        .post_json(
            "/v1/events",
            &shop,
            &json!([{"event_id": "g2", "type": "view", "user_id": "u", "item_id": "i"}, bad]),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    server.get("/no/such/path", &[]).await;
    server.get("/health", &[]).await;

    let r = server.get("/metrics", &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.header("content-type"),
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let m = samples(&r.text);
    let get = |k: &str| {
        *m.get(k)
            .unwrap_or_else(|| panic!("no sample {k} in\n{}", r.text))
    };
    let req = |method: &str, route: &str, status: u16| {
        get(&format!(
            "attune_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}}"
        ))
    };
    assert_eq!(req("POST", "/v1/apps", 201), 1.0);
    assert_eq!(req("PUT", "/v1/items/{id}", 200), 4.0);
    assert_eq!(req("GET", "/v1/items/{id}", 200), 2.0);
    assert_eq!(req("GET", "/v1/items/{id}", 404), 1.0);
    assert_eq!(req("POST", "/v1/events", 200), 3.0);
    assert_eq!(req("POST", "/v1/events", 422), 1.0);
    assert_eq!(req("GET", "unmatched", 404), 1.0);
    assert_eq!(req("GET", "/health", 200), 1.0);
    let hist = |route: &str, suffix: &str| {
        get(&format!(
            "attune_http_request_duration_seconds_{suffix}{{method=\"PUT\",route=\"{route}\"}}"
        ))
    };
    assert_eq!(hist("/v1/items/{id}", "count"), 4.0);
    assert!(hist("/v1/items/{id}", "sum") > 0.0);
    assert_eq!(
        get("attune_http_request_duration_seconds_bucket{method=\"PUT\",route=\"/v1/items/{id}\",le=\"+Inf\"}"),
        4.0
    );
    let ingested = |outcome: &str| {
        get(&format!(
            "attune_events_ingested_total{{app=\"shop\",outcome=\"{outcome}\"}}"
        ))
    };
    assert_eq!(ingested("accepted"), 8.0);
    assert_eq!(ingested("duplicate"), 5.0);
    assert_eq!(ingested("rejected"), 3.0);
    // Three batches reached the writer: 5 + 7 + 1 events.
    assert_eq!(get("attune_ingest_commit_events_count"), 3.0);
    assert_eq!(get("attune_ingest_commit_events_sum"), 13.0);
    assert_eq!(get("attune_ingest_commit_requests_sum"), 3.0);
    assert_eq!(get("attune_ingest_commit_duration_seconds_count"), 3.0);
    assert_eq!(get("attune_store_info{backend=\"sqlite\"}"), 1.0);
    // The store's size is the database file plus its WAL, as on disk right now.
    let on_disk: u64 = ["attune.db", "attune.db-wal"]
        .iter()
        .map(|f| std::fs::metadata(dir.path().join(f)).map_or(0, |m| m.len()))
        .sum();
    let reported = get("attune_store_bytes");
    assert!(
        reported > 0.0 && reported <= on_disk as f64,
        "{reported} vs {on_disk}"
    );
    assert_eq!(
        get(&format!(
            "attune_build_info{{version=\"{}\"}}",
            env!("CARGO_PKG_VERSION")
        )),
        1.0
    );
    // This very request is the only one in flight.
    assert_eq!(get("attune_http_requests_in_flight"), 1.0);
    // Raw paths never become labels.
    for raw in ["SKU-", "NOPE", "/no/such/path", "partial"] {
        assert!(
            !r.text.contains(raw),
            "{raw} leaked into a label:\n{}",
            r.text
        );
    }

    // The scrape itself is counted, and OpenMetrics is served when asked for.
    let r = server
        .get(
            "/metrics",
            &[(
                "accept",
                "application/openmetrics-text;version=1.0.0,text/plain;q=0.5",
            )],
        )
        .await;
    assert!(r
        .header("content-type")
        .starts_with("application/openmetrics-text"));
    assert!(r.text.ends_with("# EOF\n"), "{}", r.text);
    assert!(
        r.text.contains(
            "attune_http_requests_total{method=\"GET\",route=\"/metrics\",status=\"200\"} 1\n"
        ),
        "{}",
        r.text
    );
    let r = server.request(Method::HEAD, "/metrics", &[], "").await;
    assert_eq!(r.status, StatusCode::OK);
}
