//! Profiles, identity stitching, erasure, histories.

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::common::{session_events, TestServer};

#[tokio::test]
async fn profile_put_get_with_defaults() {
    let t = TestServer::new();
    let c = t.default_app();
    let body = json!({"attributes": {"age": 34, "city": "Bergen", "newsletter": true},
                      "preferred_categories": ["running", "outdoor"]});
    let r = c.put_json("/v1/users/cust-1042", &body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let expected = json!({"user_id": "cust-1042", "attributes": {"age": 34, "city": "Bergen", "newsletter": true},
                          "preferred_categories": ["running", "outdoor"], "consent": {"personalization": true}});
    assert_eq!(r.body, expected);
    assert_eq!(c.get("/v1/users/cust-1042").await.body, expected);
    let r = c
        .put_json(
            "/v1/users/cust-1042",
            &json!({"user_id": "cust-1042", "consent": {"personalization": false}}),
        )
        .await;
    assert_eq!(r.body["consent"]["personalization"], false);
    assert_eq!(r.body["attributes"], json!({}), "PUT replaces the profile");
    c.get("/v1/users/nobody")
        .await
        .assert_problem(404, "user_not_found", Some("user_id"));
}

fn anon_browse(device: &str) -> Value {
    json!([
        {"event_id": format!("{device}-a"), "type": "view", "anonymous_id": device, "item_id": "SKU-1001-RED",
         "timestamp": "2026-11-26T21:14:00+01:00", "context": {"session_id": "sess-anon", "device": "desktop"}},
        {"event_id": format!("{device}-b"), "type": "dwell", "anonymous_id": device, "item_id": "SKU-1001-RED",
         "timestamp": "2026-11-26T21:15:10+01:00", "properties": {"dwell_ms": 70000}}
    ])
}

#[tokio::test]
async fn identify_reattributes_anonymous_events() {
    let t = TestServer::new();
    let c = t.default_app();
    c.ingest_ok(&anon_browse("dev-9f3a")).await;
    c.ingest_ok(&session_events("cust-1042", "sess-b", "b"))
        .await;
    assert_eq!(
        c.get("/v1/users/cust-1042/events").await.body["events"]
            .as_array()
            .unwrap()
            .len(),
        5
    );

    let r = c
        .post_json(
            "/v1/identify",
            &json!({"anonymous_id": "dev-9f3a", "user_id": "cust-1042"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body, json!({"reattributed": 2}));
    let history = c.get("/v1/users/cust-1042/events").await.body["events"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(history.len(), 7);
    assert_eq!(
        history[0]["event_id"], "dev-9f3a-a",
        "oldest first, newest last"
    );
    assert_eq!(history[6]["event_id"], "b-5");

    // Later anonymous events from the linked device count for the user too.
    c.ingest_ok(&json!({"event_id": "late", "type": "click", "anonymous_id": "dev-9f3a", "item_id": "SKU-2040"})).await;
    let history = c.get("/v1/users/cust-1042/events").await.body["events"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(history.last().unwrap()["event_id"], "late");

    // Identify again with the same pair: nothing more to move.
    let r = c
        .post_json(
            "/v1/identify",
            &json!({"anonymous_id": "dev-9f3a", "user_id": "cust-1042"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    // limit keeps the newest.
    let last2 = c.get("/v1/users/cust-1042/events?limit=2").await.body["events"].clone();
    let ids: Vec<_> = last2
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_id"].clone())
        .collect();
    assert_eq!(ids, [json!("b-5"), json!("late")]);
}

#[tokio::test]
async fn identify_conflict_is_409_and_changes_nothing() {
    let t = TestServer::new();
    let c = t.default_app();
    c.ingest_ok(&anon_browse("dev-shared")).await;
    let r = c
        .post_json(
            "/v1/identify",
            &json!({"anonymous_id": "dev-shared", "user_id": "cust-1"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let before = t.snapshot("default");
    let r = c
        .post_json(
            "/v1/identify",
            &json!({"anonymous_id": "dev-shared", "user_id": "cust-2"}),
        )
        .await;
    r.assert_problem(409, "conflict", None);
    assert_eq!(t.snapshot("default"), before);
    assert_eq!(
        c.get("/v1/users/cust-1/events").await.body["events"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        c.get("/v1/users/cust-2/events").await.body["events"],
        json!([])
    );
}

#[tokio::test]
async fn delete_erases_profile_events_and_identities() {
    let t = TestServer::new();
    let c = t.default_app();
    c.put_json(
        "/v1/users/cust-1042",
        &json!({"attributes": {"tier": "gold"}}),
    )
    .await;
    c.ingest_ok(&session_events("cust-1042", "s1", "mine"))
        .await;
    c.ingest_ok(&anon_browse("dev-1042")).await;
    c.post_json(
        "/v1/identify",
        &json!({"anonymous_id": "dev-1042", "user_id": "cust-1042"}),
    )
    .await;
    c.ingest_ok(&session_events("cust-7", "s7", "theirs")).await;
    c.put_json("/v1/users/cust-7", &json!({})).await;

    let r = c.delete("/v1/users/cust-1042").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.body,
        json!({"events": 7, "identities": 1, "profile": true})
    );
    c.get("/v1/users/cust-1042")
        .await
        .assert_problem(404, "user_not_found", Some("user_id"));
    assert_eq!(
        c.get("/v1/users/cust-1042/events").await.body["events"],
        json!([])
    );
    let snap = t.snapshot("default");
    assert_eq!(snap.counts.events, 5, "the other customer's events stay");
    assert_eq!(snap.counts.identities, 0);
    assert_eq!(snap.counts.users, 1);
    assert!(snap.events.iter().all(|e| e["user_id"] == "cust-7"));
    // The device is free again: it can be linked to someone else.
    let r = c
        .post_json(
            "/v1/identify",
            &json!({"anonymous_id": "dev-1042", "user_id": "cust-7"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    c.delete("/v1/users/cust-1042")
        .await
        .assert_problem(404, "user_not_found", Some("user_id"));
}

#[tokio::test]
async fn delete_user_with_only_events() {
    let t = TestServer::new();
    let c = t.default_app();
    c.ingest_ok(&session_events("cust-3", "s", "e")).await;
    let r = c.delete("/v1/users/cust-3").await;
    assert_eq!(
        r.body,
        json!({"events": 5, "identities": 0, "profile": false}),
        "{}",
        r.text
    );
}

/// A profile replaced through `PUT /v1/users/{id}` is read again for the very next list: here
/// the segment serving by segment routes by (it is read with the user's live state, which the
/// first list loaded).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_profile_is_what_the_next_list_reads() {
    use attune_store::Store as _;
    let t = TestServer::with_pipeline_serving(attune_serving::ServingConfig {
        segments: Some(attune_serving::segments::SegmentServing {
            attribute: "segment".into(),
            models: Default::default(),
            prior_users: 20.0,
        }),
        ..attune_serving::ServingConfig::default()
    });
    let data = attune_testkit::generate(&attune_testkit::SyntheticConfig {
        n_users: 50,
        n_items: 60,
        n_events: 2_000,
        ..attune_testkit::SyntheticConfig::default()
    });
    t.store.upsert_items("default", &data.items).unwrap();
    t.store.insert_events("default", &data.events).unwrap();
    let c = t.default_app();
    let r = c
        .post_json(
            "/v1/models/train",
            &json!({"algorithm": "popularity", "promote": "always"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    let job = format!("/v1/models/jobs/{}", r.body["job_id"].as_str().unwrap());
    let started = std::time::Instant::now();
    while c.get(&job).await.body["status"] != "succeeded" {
        assert!(started.elapsed() < std::time::Duration::from_secs(60));
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let path = "/v1/users/user-7/recommendations?n=5";
    for segment in ["heavy", "dormant"] {
        let r = c
            .put_json(
                "/v1/users/user-7",
                &json!({"attributes": {"segment": segment}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let list = c.get(path).await;
        assert_eq!(list.body["segment"], segment, "{}", list.text);
    }
}
