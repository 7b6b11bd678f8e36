//! Issue 17: every part of an input is limited by `[limits]` — ids, texts, labels, property and
//! attribute *names* (charset, length, count) — and nesting by shape and depth; a record over a
//! limit is a 422 naming the field, and nothing is stored.

use attune_core::limits::InputLimits;
use axum::http::{Method, StatusCode};
use serde_json::{json, Map, Value};

use crate::common::TestServer;

fn view_with(properties: Value) -> Value {
    json!({"type": "view", "user_id": "cust-1", "item_id": "SKU-1", "properties": properties})
}

fn many(n: usize, prefix: &str) -> Value {
    let m: Map<String, Value> = (0..n).map(|k| (format!("{prefix}{k}"), json!(1))).collect();
    Value::Object(m)
}

#[tokio::test]
async fn property_names_are_checked_on_ingestion() {
    let t = TestServer::new();
    let c = t.default_app();
    let cases: Vec<(&str, Value)> = vec![
        ("empty name", json!({"": "x"})),
        ("NUL in a name", json!({"a\u{0}b": "x"})),
        ("escape sequence", json!({"\u{1b}[2Jwipe": 1})),
        ("newline", json!({"two\nlines": true})),
        ("10 KB name", json!({ "n".repeat(10 * 1024): 1 })),
        ("50,000 names", many(50_000, "p")),
        (
            "too large in total",
            json!({"a": "x".repeat(8000), "b": "x".repeat(8000), "c": "x".repeat(8000),
                   "d": "x".repeat(8000), "e": "x".repeat(8000), "f": "x".repeat(8000),
                   "g": "x".repeat(8000), "h": "x".repeat(8000), "i": "x".repeat(8000)}),
        ),
    ];
    for (what, props) in cases {
        let r = c.post_json("/v1/events", &view_with(props)).await;
        r.assert_problem(422, "validation_failed", Some("properties"));
        assert_eq!(r.body["errors"][0]["field"], "properties", "{what}");
        // The answer stays short however large the input was.
        assert!(r.text.len() < 2_000, "{what}: {} bytes", r.text.len());
    }
    assert!(
        t.snapshot("default").events.is_empty(),
        "a refused event was stored"
    );
    // Within the limits: 64 properties of which one typed, names with spaces, commas, Unicode.
    let mut ok = many(61, "p");
    ok["price"] = json!(9.5);
    ok["gift wrap, red"] = json!(true);
    ok["größe"] = json!("M");
    let r = c.post_json("/v1/events", &view_with(ok)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

#[tokio::test]
async fn attribute_names_are_checked_on_items_and_users() {
    let t = TestServer::new();
    let c = t.default_app();
    for (what, attrs) in [
        ("empty name", json!({"": 1})),
        ("control character", json!({"br\u{7}and": "x"})),
        ("257 attributes", many(257, "a")),
    ] {
        let r = c
            .put_json("/v1/items/SKU-1", &json!({ "attributes": attrs }))
            .await;
        r.assert_problem(422, "validation_failed", Some("attributes"));
        let r = c
            .post_json(
                "/v1/items",
                &json!([{"item_id": "SKU-2", "attributes": attrs}]),
            )
            .await;
        assert_eq!(r.status.as_u16(), 422, "{what}: {}", r.text);
        assert_eq!(r.body["errors"][0]["field"], "attributes", "{what}");
        let r = c
            .put_json("/v1/users/cust-1", &json!({ "attributes": attrs }))
            .await;
        r.assert_problem(422, "validation_failed", Some("attributes"));
    }
    let snap = t.snapshot("default");
    assert!(
        snap.items.is_empty() && snap.users.is_empty(),
        "a refused record was stored"
    );
}

#[tokio::test]
async fn limits_come_from_the_configuration() {
    let mut config = attune_server::ServerConfig::default();
    config.event_rules.limits = InputLimits {
        max_name_len: 8,
        max_event_properties: 2,
        max_user_attributes: 1,
        ..InputLimits::default()
    };
    let t = TestServer::with_config(config);
    let c = t.default_app();
    let r = c.post_json("/v1/events", &view_with(many(3, "p"))).await;
    r.assert_problem(422, "validation_failed", Some("properties"));
    assert!(
        r.text.contains("limits.max_event_properties"),
        "the answer names the setting: {}",
        r.text
    );
    let r = c
        .post_json("/v1/events", &view_with(json!({"ninechars": 1})))
        .await;
    r.assert_problem(422, "validation_failed", Some("properties"));
    let r = c
        .put_json("/v1/users/u", &json!({"attributes": {"a": 1, "b": 2}}))
        .await;
    r.assert_problem(422, "validation_failed", Some("attributes"));
    let r = c.post_json("/v1/events", &view_with(many(2, "p"))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

/// Ids and texts follow `[limits]` wherever they arrive: a path, a body, a batch of user ids.
#[tokio::test]
async fn id_and_text_limits_come_from_the_configuration() {
    let mut config = attune_server::ServerConfig::default();
    config.event_rules.limits = InputLimits {
        max_id_len: 8,
        max_event_text_len: 16,
        max_item_text_len: 32,
        max_labels: 2,
        ..InputLimits::default()
    };
    let t = TestServer::with_pipeline_config(config);
    let c = t.default_app();
    let long_id = "u-123456789";
    let r = c
        .post_json(
            "/v1/events",
            &json!({"type": "view", "user_id": long_id, "item_id": "i1"}),
        )
        .await;
    r.assert_problem(422, "validation_failed", Some("user_id"));
    assert!(r.text.contains("at most 8 bytes"), "{}", r.text);
    let r = c
        .post_json(
            "/v1/events",
            &json!({"type": "view", "user_id": "u1", "item_id": "i1",
                    "context": {"page": "/a/page/longer/than/sixteen"}}),
        )
        .await;
    r.assert_problem(422, "validation_failed", Some("context.page"));
    let r = c
        .put_json(&format!("/v1/users/{long_id}"), &json!({}))
        .await;
    r.assert_problem(422, "validation_failed", Some("user_id"));
    let r = c.get(&format!("/v1/users/{long_id}/recommendations")).await;
    r.assert_problem(422, "validation_failed", Some("user_id"));
    let r = c
        .post_json("/v1/recommendations", &json!({"users": ["u1", long_id]}))
        .await;
    assert_eq!(r.status.as_u16(), 422, "{}", r.text);
    assert!(r.text.contains("users[1]"), "{}", r.text);
    let r = c
        .put_json(
            "/v1/items/i1",
            &json!({"title": "a title of more than thirty-two bytes"}),
        )
        .await;
    r.assert_problem(422, "validation_failed", Some("title"));
    let r = c
        .put_json("/v1/items/i1", &json!({"categories": ["a", "b", "c"]}))
        .await;
    r.assert_problem(422, "validation_failed", Some("categories"));
    assert!(r.text.contains("limits.max_labels"), "{}", r.text);
    // Within the limits, all of it is accepted.
    let r = c
        .put_json(
            "/v1/items/i1",
            &json!({"title": "short", "categories": ["a", "b"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = c
        .post_json(
            "/v1/events",
            &json!({"type": "view", "user_id": "u1", "item_id": "i1",
                    "context": {"page": "/p/1"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

/// Values are scalars (or, on items and users, one flat array of numbers: a dense vector), and
/// a body nested past the decoder's depth is refused before anything else looks at it.
#[tokio::test]
async fn nesting_is_refused_by_shape_and_depth() {
    let t = TestServer::new();
    let c = t.default_app();
    let r = c
        .post_json("/v1/events", &view_with(json!({"nested": {"a": 1}})))
        .await;
    r.assert_problem(422, "validation_failed", Some("properties.nested"));
    let r = c
        .put_json("/v1/items/i1", &json!({"attributes": {"dims": [[1, 2]]}}))
        .await;
    r.assert_problem(422, "validation_failed", Some("attributes.dims"));
    let r = c
        .put_json(
            "/v1/items/i1",
            &json!({"attributes": {"embedding": [0.5, 1e39]}}),
        )
        .await;
    r.assert_problem(422, "validation_failed", Some("attributes.embedding[1]"));
    let deep = format!(
        r#"{{"type":"view","user_id":"u1","item_id":"i1","properties":{{"x":{}1{}}}}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let r = c
        .send(
            Method::POST,
            "/v1/events",
            &[],
            Some("application/json"),
            deep,
        )
        .await;
    assert_eq!(r.status.as_u16(), 400, "{}", r.text);
    assert!(r.text.contains("recursion limit"), "{}", r.text);
    assert!(t.snapshot("default").events.is_empty());
}
