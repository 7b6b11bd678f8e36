//! Ingestion: formats, ids, duplicates, partial batches, round trip.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::{session_events, TestServer};

#[tokio::test]
async fn json_array_is_stored_with_offsets_and_context() {
    let t = TestServer::new();
    let c = t.default_app();
    let r = c
        .ingest_ok(&session_events("cust-1042", "sess-a1", "ev-1042"))
        .await;
    assert_eq!(r.body["accepted"], 5);
    assert_eq!(r.body["duplicates"], 0);
    assert_eq!(r.body["errors"], json!([]));
    let listed: Vec<_> = r.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_id"].clone())
        .collect();
    assert_eq!(
        listed,
        [
            "ev-1042-1",
            "ev-1042-2",
            "ev-1042-3",
            "ev-1042-4",
            "ev-1042-5"
        ]
    );
    assert_eq!(
        r.body["events"][2],
        json!({"index": 2, "event_id": "ev-1042-3", "status": "accepted"})
    );

    let h = c.get("/v1/users/cust-1042/events").await;
    assert_eq!(h.status, StatusCode::OK, "{}", h.text);
    let events = h.body["events"].as_array().unwrap();
    assert_eq!(events.len(), 5);
    // Stored exactly as sent: export = import.
    assert_eq!(
        Value::Array(events.clone()),
        session_events("cust-1042", "sess-a1", "ev-1042")
    );
    assert_eq!(events[1]["timestamp"], "2026-11-27T18:02:58+01:00");
    assert_eq!(events[4]["properties"]["coupon"], "BF26");
    assert_eq!(t.snapshot("default").counts.events, 5);
}

#[tokio::test]
async fn single_object_gets_a_generated_uuid_v7_and_server_time() {
    let t = TestServer::new();
    let before = chrono::Utc::now();
    let r = t
        .default_app()
        .ingest_ok(&json!({"type": "view", "anonymous_id": "dev-9f3a", "item_id": "SKU-3300"}))
        .await;
    assert_eq!(r.body["accepted"], 1);
    let id = r.body["events"][0]["event_id"].as_str().unwrap();
    let uuid = uuid::Uuid::parse_str(id).unwrap();
    assert_eq!(uuid.get_version_num(), 7, "{id}");
    let snap = t.snapshot("default");
    assert_eq!(snap.events[0]["event_id"], id);
    let ts = chrono::DateTime::parse_from_rfc3339(snap.events[0]["timestamp"].as_str().unwrap())
        .unwrap();
    assert!(
        ts >= before - chrono::Duration::seconds(1) && ts <= chrono::Utc::now(),
        "{ts}"
    );

    // Generated ids are time-ordered.
    let r2 = t
        .default_app()
        .ingest_ok(&json!({"type": "click", "anonymous_id": "dev-9f3a", "item_id": "SKU-3300"}))
        .await;
    let id2 = r2.body["events"][0]["event_id"].as_str().unwrap();
    assert!(id2 > id, "{id2} should sort after {id}");
}

#[tokio::test]
async fn ndjson_with_blank_lines_and_crlf() {
    let t = TestServer::new();
    let events = session_events("cust-7", "sess-n1", "nd-7");
    let mut body = String::from("\n");
    for e in events.as_array().unwrap() {
        body.push_str(&format!("{e}\r\n\n"));
    }
    let r = t
        .default_app()
        .request(
            Method::POST,
            "/v1/events",
            Some("application/x-ndjson"),
            body,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["accepted"], 5);
    assert_eq!(
        r.body["events"][4]["index"], 4,
        "indices count records, not lines"
    );
    assert_eq!(t.snapshot("default").events, *events.as_array().unwrap());
}

#[tokio::test]
async fn duplicates_within_and_across_batches_are_stored_once() {
    let t = TestServer::new();
    let c = t.default_app();
    let view = json!({"event_id": "dup-1", "type": "view", "user_id": "cust-1", "item_id": "SKU-2040",
                      "timestamp": "2026-11-27T10:00:00Z"});
    let other = json!({"event_id": "dup-2", "type": "click", "user_id": "cust-1", "item_id": "SKU-2040",
                       "timestamp": "2026-11-27T10:00:05Z"});
    let r = c.ingest_ok(&json!([view, view, other])).await;
    assert_eq!(
        (r.body["accepted"].clone(), r.body["duplicates"].clone()),
        (json!(2), json!(1))
    );
    assert_eq!(
        r.body["events"][1],
        json!({"index": 1, "event_id": "dup-1", "status": "duplicate"})
    );

    let r = c.ingest_ok(&json!([other, view])).await;
    assert_eq!(
        (r.body["accepted"].clone(), r.body["duplicates"].clone()),
        (json!(0), json!(2))
    );
    let snap = t.snapshot("default");
    assert_eq!(snap.counts.events, 2);
    assert_eq!(snap.events, vec![view, other]);
}

#[tokio::test]
async fn partial_stores_only_the_valid_events() {
    let t = TestServer::new();
    let c = t.default_app();
    let batch = json!([
        {"event_id": "p-0", "type": "view", "user_id": "cust-3", "item_id": "SKU-1001-RED"},
        {"event_id": "p-1", "type": "scroll", "user_id": "cust-3", "item_id": "SKU-1001-RED", "properties": {"scroll_depth": 1.4}},
        {"event_id": "p-2", "type": "purchase", "user_id": "cust-3", "item_id": "SKU-2040", "properties": {"price": 24.5, "quantity": 1}},
        {"event_id": "p-3", "type": "view", "item_id": "SKU-2040"},
        {"event_id": "p-4", "type": "view", "user_id": "cust-3", "item_id": "SKU-3300", "value": "high"}
    ]);
    let r = c.post_json("/v1/events?partial=true", &batch).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["accepted"], 2);
    assert_eq!(r.body["rejected"], 3);
    let indices: Vec<_> = r.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["index"].as_u64().unwrap())
        .collect();
    assert_eq!(indices, [0, 2]);
    let errors: Vec<_> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["index"].as_u64().unwrap(),
                e["field"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        errors,
        [
            (1, "properties.scroll_depth".to_string()),
            (3, "user_id".to_string()),
            (4, "value".to_string())
        ]
    );
    let stored: Vec<_> = t
        .snapshot("default")
        .events
        .iter()
        .map(|e| e["event_id"].clone())
        .collect();
    assert_eq!(stored, ["p-0", "p-2"]);
}

#[tokio::test]
async fn atomic_batch_lists_every_error_and_stores_nothing() {
    let t = TestServer::new();
    let c = t.default_app();
    c.ingest_ok(&session_events("cust-1", "s-1", "keep")).await;
    let before = t.snapshot("default");
    let mut batch = session_events("cust-2", "s-2", "new")
        .as_array()
        .unwrap()
        .clone();
    batch[1]["properties"]["dwell_ms"] = json!(-5);
    batch[3]["timestamp"] = json!("yesterday");
    batch[3]["properties"]["quantity"] = json!(0);
    let r = c.post_json("/v1/events", &Value::Array(batch)).await;
    r.assert_problem(422, "validation_failed", Some("properties.dwell_ms"));
    assert_eq!(r.body["error_count"], 3);
    let errors = r.body["errors"].as_array().unwrap();
    assert_eq!(
        errors[0],
        json!({"index": 1, "field": "properties.dwell_ms",
        "reason": "must be a non-negative whole number of milliseconds, got -5"})
    );
    assert_eq!(
        (errors[1]["index"].clone(), errors[1]["field"].clone()),
        (json!(3), json!("properties.quantity"))
    );
    assert_eq!(
        (errors[2]["index"].clone(), errors[2]["field"].clone()),
        (json!(3), json!("timestamp"))
    );
    assert!(
        r.body["detail"].as_str().unwrap().contains("2 of 5 events"),
        "{}",
        r.text
    );
    assert_eq!(t.snapshot("default"), before);
}

#[tokio::test]
async fn many_invalid_events_are_capped_in_the_list_but_counted() {
    let t = TestServer::new();
    let batch: Vec<Value> = (0..250)
        .map(|i| json!({"event_id": format!("x{i}"), "type": "view", "item_id": "SKU-1"}))
        .collect();
    let r = t
        .default_app()
        .post_json("/v1/events", &Value::Array(batch))
        .await;
    r.assert_problem(422, "validation_failed", Some("user_id"));
    assert_eq!(r.body["errors"].as_array().unwrap().len(), 100);
    assert_eq!(r.body["error_count"], 250);
    assert_eq!(t.snapshot("default").counts.events, 0);
}

#[tokio::test]
async fn export_reimports_identically_into_another_app() {
    let t = TestServer::new();
    t.create_app("replica").await;
    let c = t.default_app();
    c.ingest_ok(&session_events("cust-5", "s-5", "rt")).await;
    c.ingest_ok(&json!({"event_id": "rt-r", "type": "rating", "user_id": "cust-5", "item_id": "SKU-2040", "value": 4.5,
                        "timestamp": "2026-11-28T07:30:00.250-05:00", "properties": {"note": "comfy", "gift": false}}))
        .await;
    let exported = c.get("/v1/users/cust-5/events").await.body["events"].clone();
    assert_eq!(exported.as_array().unwrap().len(), 6);
    t.app("replica").ingest_ok(&exported).await;
    assert_eq!(t.snapshot("replica").events, t.snapshot("default").events);
    assert_eq!(
        exported[5]["properties"]["rating"], 4.5,
        "the value fallback is made explicit"
    );
}

#[tokio::test]
async fn custom_event_types_follow_the_configured_rules() {
    let config = attune_server::ServerConfig {
        event_rules: attune_core::event::EventRules {
            custom_types: vec!["share".into()],
            ..Default::default()
        },
        ..Default::default()
    };
    let t = TestServer::with_config(config);
    let c = t.default_app();
    c.ingest_ok(
        &json!({"type": "share", "user_id": "cust-1", "properties": {"channel": "whatsapp"}}),
    )
    .await;
    let r = c
        .post_json(
            "/v1/events",
            &json!({"type": "like", "user_id": "cust-1", "item_id": "SKU-1"}),
        )
        .await;
    r.assert_problem(422, "validation_failed", Some("type"));
    assert!(
        r.body["errors"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("share"),
        "{}",
        r.text
    );
}

#[tokio::test]
async fn lenient_mode_ignores_unknown_fields() {
    let config = attune_server::ServerConfig {
        strict_fields: false,
        ..Default::default()
    };
    let t = TestServer::with_config(config);
    let r = t
        .default_app()
        .ingest_ok(&json!({"type": "view", "user_id": "u", "item_id": "SKU-1", "colour": "red", "context": {"ab": 1}}))
        .await;
    assert_eq!(r.body["accepted"], 1);
}

#[tokio::test]
async fn empty_array_is_a_no_op() {
    let t = TestServer::new();
    let r = t.default_app().ingest_ok(&json!([])).await;
    assert_eq!(
        r.body,
        json!({"accepted": 0, "duplicates": 0, "rejected": 0, "events": [], "errors": []})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_batches_with_overlapping_ids_count_each_event_once() {
    let t = std::sync::Arc::new(TestServer::new());
    let mut tasks = Vec::new();
    for task in 0..24 {
        let t = t.clone();
        tasks.push(tokio::spawn(async move {
            let batch: Vec<Value> = (0..10)
                .map(|j| {
                    let n = (task * 10 + j) % 60;
                    json!({"event_id": format!("c-{n}"), "type": "view", "user_id": format!("cust-{}", n % 7),
                           "item_id": format!("SKU-{n:04}"), "timestamp": "2026-11-27T10:00:00Z"})
                })
                .collect();
            let r = t.default_app().ingest_ok(&Value::Array(batch)).await;
            (r.body["accepted"].as_u64().unwrap(), r.body["duplicates"].as_u64().unwrap())
        }));
    }
    let (mut accepted, mut duplicates) = (0, 0);
    for task in tasks {
        let (a, d) = task.await.unwrap();
        accepted += a;
        duplicates += d;
    }
    assert_eq!(accepted, 60, "each distinct id accepted exactly once");
    assert_eq!(duplicates, 240 - 60);
    assert_eq!(t.snapshot("default").counts.events, 60);
}
