//! Every kind of malformed input gets the right 4xx problem naming the field, and changes
//! nothing already stored.

use axum::body::Body;
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::{session_events, shop_items, Client, Resp, TestServer};

/// A server holding a shop's catalog, a profile and one session, plus its snapshot.
async fn seeded(config: attune_server::ServerConfig) -> TestServer {
    let t = TestServer::with_config(config);
    let c = t.default_app();
    let r = c.post_json("/v1/items", &shop_items()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = c
        .put_json(
            "/v1/users/cust-1042",
            &json!({"attributes": {"tier": "gold"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    c.ingest_ok(&session_events("cust-1042", "sess-a1", "seed"))
        .await;
    let r = c
        .post_json(
            "/v1/identify",
            &json!({"anonymous_id": "dev-seed", "user_id": "cust-1042"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    t
}

fn view() -> Value {
    json!({"event_id": "bad-1", "type": "view", "user_id": "cust-9", "item_id": "SKU-2040",
           "timestamp": "2026-11-27T12:00:00Z"})
}

fn with(mut v: Value, path: &[&str], new: Value) -> Value {
    let mut slot = &mut v;
    for p in &path[..path.len() - 1] {
        slot = &mut slot[*p];
    }
    slot[path[path.len() - 1]] = new;
    v
}

fn without(mut v: Value, key: &str) -> Value {
    v.as_object_mut().unwrap().remove(key);
    v
}

/// Send a request that must fail, check the problem, and check the app is unchanged (store
/// snapshot and a few reads through the API).
async fn rejected(
    t: &TestServer,
    c: &Client<'_>,
    send: impl AsyncFnOnce(&Client<'_>) -> Resp,
) -> Resp {
    let before = t.snapshot("default");
    let item = t.default_app().get("/v1/items/SKU-2040").await.body;
    let history = t.default_app().get("/v1/users/cust-1042/events").await.body;
    let r = send(c).await;
    assert_eq!(
        t.snapshot("default"),
        before,
        "a rejected request changed stored data: {}",
        r.text
    );
    assert_eq!(t.default_app().get("/v1/items/SKU-2040").await.body, item);
    assert_eq!(
        t.default_app().get("/v1/users/cust-1042/events").await.body,
        history
    );
    r
}

#[tokio::test]
async fn invalid_events_are_422_naming_the_field_and_store_nothing() {
    let t = seeded(Default::default()).await;
    let c = t.default_app();
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "value of the wrong type",
            with(view(), &["value"], json!("high")),
            "value",
        ),
        (
            "dwell_ms of the wrong type",
            with(view(), &["properties"], json!({"dwell_ms": "abc"})),
            "properties.dwell_ms",
        ),
        ("no user or device", without(view(), "user_id"), "user_id"),
        ("no item", without(view(), "item_id"), "item_id"),
        ("no type", without(view(), "type"), "type"),
        (
            "unknown type",
            with(view(), &["type"], json!("like")),
            "type",
        ),
        (
            "naive timestamp",
            with(view(), &["timestamp"], json!("2026-11-27 12:00:00")),
            "timestamp",
        ),
        (
            "timestamp not a string",
            with(view(), &["timestamp"], json!(1764244800)),
            "timestamp",
        ),
        (
            "far-future timestamp",
            // Two years ahead of the clock: far beyond the allowed skew, whenever this runs.
            with(
                view(),
                &["timestamp"],
                json!((chrono::Utc::now() + chrono::Duration::days(730)).to_rfc3339()),
            ),
            "timestamp",
        ),
        (
            "epoch-zero timestamp",
            with(view(), &["timestamp"], json!("1970-01-01T00:00:00Z")),
            "timestamp",
        ),
        (
            "scroll depth above 1",
            with(
                with(view(), &["type"], json!("scroll")),
                &["properties"],
                json!({"scroll_depth": 1.5}),
            ),
            "properties.scroll_depth",
        ),
        (
            "rating off the scale",
            with(view(), &["properties"], json!({"rating": 9})),
            "properties.rating",
        ),
        (
            // Issue 17: the member the client sent, not the property it stands for.
            "rating event whose value is off the scale",
            with(
                with(view(), &["type"], json!("rating")),
                &["value"],
                json!(99),
            ),
            "value",
        ),
        (
            "rating event without rating",
            with(view(), &["type"], json!("rating")),
            "properties.rating",
        ),
        (
            "zero quantity",
            with(view(), &["properties"], json!({"quantity": 0})),
            "properties.quantity",
        ),
        (
            "fractional quantity",
            with(view(), &["properties"], json!({"quantity": 1.5})),
            "properties.quantity",
        ),
        (
            "negative price",
            with(view(), &["properties"], json!({"price": -3})),
            "properties.price",
        ),
        (
            "nested extra property",
            with(view(), &["properties"], json!({"sizes": [42, 43]})),
            "properties.sizes",
        ),
        (
            "unknown top-level field",
            with(view(), &["colour"], json!("red")),
            "colour",
        ),
        (
            "unknown context field",
            with(view(), &["context"], json!({"referer": "x"})),
            "context.referer",
        ),
        (
            "context of the wrong type",
            with(view(), &["context"], json!("mobile")),
            "context",
        ),
        (
            "empty user id",
            with(view(), &["user_id"], json!("")),
            "user_id",
        ),
        (
            "overlong item id",
            with(view(), &["item_id"], json!("S".repeat(300))),
            "item_id",
        ),
        (
            "item id with a control char",
            with(view(), &["item_id"], json!("SKU\n1")),
            "item_id",
        ),
        ("event not an object", json!(["view"]), "event"),
    ];
    for (what, body, field) in cases {
        let r = rejected(&t, &c, async |c| c.post_json("/v1/events", &body).await).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{what}: {}",
            r.text
        );
        r.assert_problem(422, "validation_failed", Some(field));
        assert_eq!(r.body["errors"][0]["field"], field, "{what}");
        assert_eq!(r.body["errors"][0]["index"], 0, "{what}");
        // Same batch, valid event first: still atomic.
        let batch = json!([session_events("cust-1042", "s", "new")[0], body]);
        let r = rejected(&t, &c, async |c| c.post_json("/v1/events", &batch).await).await;
        r.assert_problem(422, "validation_failed", Some(field));
        assert_eq!(r.body["errors"][0]["index"], 1, "{what}");
    }
}

#[tokio::test]
async fn type_errors_say_what_was_expected_and_got() {
    let t = seeded(Default::default()).await;
    let r = t
        .default_app()
        .post_json(
            "/v1/events",
            &with(view(), &["properties"], json!({"dwell_ms": "abc"})),
        )
        .await;
    assert_eq!(
        r.body["errors"][0]["reason"],
        r#"expected a number, got "abc""#
    );
    assert_eq!(
        r.body["detail"],
        r#"1 of 1 events are invalid and nothing was stored (send ?partial=true to store the valid ones): properties.dwell_ms: expected a number, got "abc""#
    );
}

#[tokio::test]
async fn malformed_json_is_400_with_line_and_column() {
    let t = seeded(Default::default()).await;
    let c = t.default_app();
    let r = rejected(&t, &c, async |c| {
        c.request(
            Method::POST,
            "/v1/events",
            Some("application/json"),
            "[\n {\"type\": \"view\",\n  \"user_id\": }\n]",
        )
        .await
    })
    .await;
    r.assert_problem(400, "invalid_json", Some("body"));
    assert_eq!(r.body["line"], 3, "{}", r.text);
    assert!(r.body["column"].as_u64().unwrap() > 0, "{}", r.text);
    assert!(
        r.body["detail"].as_str().unwrap().contains("line 3 column"),
        "{}",
        r.text
    );

    for body in ["", "42", "\"view\"", "{\"type\": \"view\"", "[{}]]"] {
        let r = rejected(&t, &c, async |c| {
            c.request(Method::POST, "/v1/events", Some("application/json"), body)
                .await
        })
        .await;
        r.assert_problem(400, "invalid_json", Some("body"));
    }
}

#[tokio::test]
async fn ndjson_sent_as_json_gets_a_hint() {
    let t = seeded(Default::default()).await;
    let c = t.default_app();
    let lines: Vec<String> = session_events("cust-1", "s", "h")
        .as_array()
        .unwrap()
        .iter()
        .map(Value::to_string)
        .collect();
    let body = lines.join("\n");
    let r = rejected(&t, &c, async |c| {
        c.request(Method::POST, "/v1/events", Some("application/json"), body)
            .await
    })
    .await;
    r.assert_problem(400, "invalid_json", Some("body"));
    assert_eq!(r.body["line"], 2, "{}", r.text);
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("application/x-ndjson"),
        "{}",
        r.text
    );
}

#[tokio::test]
async fn malformed_ndjson_line_is_400_naming_the_line() {
    let t = seeded(Default::default()).await;
    let c = t.default_app();
    let good = session_events("cust-1042", "s", "nd")[0].to_string();
    let body = format!("{good}\n\n{{\"type\": \"view\", oops}}\n");
    let r = rejected(&t, &c, async |c| {
        c.request(
            Method::POST,
            "/v1/events",
            Some("application/x-ndjson"),
            body,
        )
        .await
    })
    .await;
    r.assert_problem(400, "invalid_json", Some("body"));
    assert_eq!(r.body["line"], 3, "{}", r.text);
}

#[tokio::test]
async fn wrong_content_type_is_415() {
    let t = seeded(Default::default()).await;
    let c = t.default_app();
    let body = view().to_string();
    for ct in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let b = body.clone();
        let r = rejected(&t, &c, async |c| {
            c.request(Method::POST, "/v1/events", ct, b).await
        })
        .await;
        r.assert_problem(415, "unsupported_media_type", Some("Content-Type"));
    }
    // NDJSON is for batches only.
    let r = rejected(&t, &c, async |c| {
        c.request(
            Method::PUT,
            "/v1/items/SKU-2040",
            Some("application/x-ndjson"),
            "{}",
        )
        .await
    })
    .await;
    r.assert_problem(415, "unsupported_media_type", Some("Content-Type"));
    // Compressed bodies are refused by name, not misread as bad JSON.
    let req = axum::http::Request::post("/v1/events")
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(Body::from(vec![0x1f, 0x8b, 8, 0]))
        .unwrap();
    let res = tower::ServiceExt::oneshot(t.router.clone(), req)
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let bytes = http_body_util::BodyExt::collect(res.into_body())
        .await
        .unwrap()
        .to_bytes();
    let problem: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(problem["field"], "Content-Encoding");
    // Parameters and +json types are fine.
    let r = c
        .request(
            Method::POST,
            "/v1/events",
            Some("application/json; charset=utf-8"),
            body,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

#[tokio::test]
async fn oversized_body_is_413_naming_max_body_bytes() {
    let config = attune_server::ServerConfig {
        max_body_bytes: 4096,
        ..Default::default()
    };
    let t = seeded(config).await;
    let c = t.default_app();
    let batch: Vec<Value> = (0..100)
        .map(|i| with(view(), &["event_id"], json!(format!("big-{i}"))))
        .collect();
    let body = Value::Array(batch).to_string();
    assert!(body.len() > 4096);
    // Without Content-Length (streamed): the limit trips while reading.
    let b = body.clone();
    let r = rejected(&t, &c, async |c| {
        c.request(Method::POST, "/v1/events", Some("application/json"), b)
            .await
    })
    .await;
    r.assert_problem(413, "payload_too_large", Some("max_body_bytes"));
    assert_eq!(r.body["limit"], 4096);
    // With a declared Content-Length: refused before reading.
    let req = axum::http::Request::post("/v1/events")
        .header("content-type", "application/json")
        .header("content-length", body.len())
        .body(Body::from(body))
        .unwrap();
    let res = tower::ServiceExt::oneshot(t.router.clone(), req)
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    // The same limit guards item and user writes.
    let big = json!({"title": "x".repeat(5000)});
    let r = rejected(&t, &c, async |c| {
        c.put_json("/v1/items/SKU-2040", &big).await
    })
    .await;
    r.assert_problem(413, "payload_too_large", Some("max_body_bytes"));
}

#[tokio::test]
async fn too_many_events_or_items_is_413_naming_the_limit() {
    let config = attune_server::ServerConfig {
        max_batch_events: 5,
        max_batch_items: 4,
        ..Default::default()
    };
    let t = seeded(config).await;
    let c = t.default_app();
    let mut six = session_events("cust-1", "s", "many")
        .as_array()
        .unwrap()
        .clone();
    six.push(with(view(), &["event_id"], json!("many-6")));
    let r = rejected(&t, &c, async |c| {
        c.post_json("/v1/events", &Value::Array(six.clone())).await
    })
    .await;
    r.assert_problem(413, "batch_too_large", Some("max_batch_events"));
    assert_eq!(r.body["limit"], 5);
    let lines = six;
    let r = rejected(&t, &c, async |c| c.post_ndjson("/v1/events", &lines).await).await;
    r.assert_problem(413, "batch_too_large", Some("max_batch_events"));
    let mut items = shop_items();
    items
        .as_array_mut()
        .unwrap()
        .push(json!({"item_id": "SKU-5000"}));
    let r = rejected(&t, &c, async |c| c.post_json("/v1/items", &items).await).await;
    r.assert_problem(413, "batch_too_large", Some("max_batch_items"));
}

#[tokio::test]
async fn unknown_app_is_404_naming_the_header_on_every_route() {
    let t = seeded(Default::default()).await;
    let ghost = t.app("ghost");
    let routes: Vec<(Method, &str, Option<Value>)> = vec![
        (Method::POST, "/v1/events", Some(view())),
        (
            Method::POST,
            "/v1/identify",
            Some(json!({"anonymous_id": "d", "user_id": "u"})),
        ),
        (
            Method::PUT,
            "/v1/items/SKU-2040",
            Some(json!({"title": "x"})),
        ),
        (Method::GET, "/v1/items/SKU-2040", None),
        (Method::DELETE, "/v1/items/SKU-2040", None),
        (Method::POST, "/v1/items", Some(shop_items())),
        (Method::GET, "/v1/items", None),
        (Method::PUT, "/v1/users/cust-1042", Some(json!({}))),
        (Method::GET, "/v1/users/cust-1042", None),
        (Method::DELETE, "/v1/users/cust-1042", None),
        (Method::GET, "/v1/users/cust-1042/events", None),
    ];
    for (method, path, body) in routes {
        let (ct, body) = match body {
            Some(b) => (Some("application/json"), b.to_string()),
            None => (None, String::new()),
        };
        let r = rejected(&t, &ghost, async |c| {
            c.request(method.clone(), path, ct, body).await
        })
        .await;
        r.assert_problem(404, "unknown_app", Some("X-Attune-App"));
        assert!(
            r.body["detail"].as_str().unwrap().contains("ghost"),
            "{}",
            r.text
        );
    }
    // Names that can never be apps are the same 404.
    let r = t.app("Not An App").get("/v1/items").await;
    r.assert_problem(404, "unknown_app", Some("X-Attune-App"));
}

#[tokio::test]
async fn invalid_path_ids_are_422_naming_the_id() {
    let t = seeded(Default::default()).await;
    let c = t.default_app();
    let long = "x".repeat(300);
    let cases = [
        (Method::GET, "/v1/items/%20SKU-1".to_string(), "item_id"),
        (Method::DELETE, format!("/v1/items/{long}"), "item_id"),
        (Method::GET, "/v1/users/a%00b".to_string(), "user_id"),
        (Method::DELETE, "/v1/users/%20".to_string(), "user_id"),
        (
            Method::GET,
            "/v1/users/%09tab/events".to_string(),
            "user_id",
        ),
    ];
    for (method, path, field) in cases {
        let r = rejected(&t, &c, async |c| {
            c.request(method, &path, None, Body::empty()).await
        })
        .await;
        r.assert_problem(422, "validation_failed", Some(field));
    }
    let r = rejected(&t, &c, async |c| {
        c.put_json("/v1/items/%20x", &json!({})).await
    })
    .await;
    r.assert_problem(422, "validation_failed", Some("item_id"));
    let r = rejected(&t, &c, async |c| {
        c.put_json("/v1/users/%20x", &json!({})).await
    })
    .await;
    r.assert_problem(422, "validation_failed", Some("user_id"));
}

#[tokio::test]
async fn invalid_items_and_users_are_422_naming_the_field() {
    let t = seeded(Default::default()).await;
    let c = t.default_app();
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "/v1/items/SKU-2040",
            json!({"item_id": "SKU-9999"}),
            "item_id",
        ),
        (
            "/v1/items/SKU-2040",
            json!({"categories": "socks"}),
            "categories",
        ),
        (
            "/v1/items/SKU-2040",
            json!({"categories": ["socks", ""]}),
            "categories[1]",
        ),
        (
            "/v1/items/SKU-2040",
            json!({"attributes": {"sizes": [1, "2"]}}),
            "attributes.sizes",
        ),
        (
            "/v1/items/SKU-2040",
            json!({"published_at": "last week"}),
            "published_at",
        ),
        (
            "/v1/items/SKU-2040",
            json!({"available": "yes"}),
            "available",
        ),
        ("/v1/items/SKU-2040", json!({"price": 3}), "price"),
        (
            "/v1/users/cust-1042",
            json!({"user_id": "cust-1"}),
            "user_id",
        ),
        (
            "/v1/users/cust-1042",
            json!({"consent": {"personalization": "no"}}),
            "consent.personalization",
        ),
        (
            "/v1/users/cust-1042",
            json!({"consent": {"marketing": true}}),
            "consent.marketing",
        ),
        ("/v1/users/cust-1042", json!({"age": 30}), "age"),
    ];
    for (path, body, field) in cases {
        let r = rejected(&t, &c, async |c| c.put_json(path, &body).await).await;
        r.assert_problem(422, "validation_failed", Some(field));
    }
    let r = rejected(&t, &c, async |c| {
        c.put_json("/v1/items/SKU-2040", &json!([1])).await
    })
    .await;
    r.assert_problem(400, "invalid_json", Some("body"));

    // Bulk: atomic, every bad record listed with its index.
    let mut items = shop_items();
    items[1]["title"] = json!(7);
    items[3] = json!({"title": "no id"});
    let r = rejected(&t, &c, async |c| c.post_json("/v1/items", &items).await).await;
    r.assert_problem(422, "validation_failed", Some("title"));
    let errs: Vec<_> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["index"].clone(), e["field"].clone()))
        .collect();
    assert_eq!(
        errs,
        [(json!(1), json!("title")), (json!(3), json!("item_id"))]
    );
}

#[tokio::test]
async fn invalid_identify_is_422() {
    let t = seeded(Default::default()).await;
    let c = t.default_app();
    let cases = [
        (json!({"anonymous_id": "dev-1"}), "user_id"),
        (json!({"user_id": "cust-1"}), "anonymous_id"),
        (
            json!({"anonymous_id": 5, "user_id": "cust-1"}),
            "anonymous_id",
        ),
        (json!({"anonymous_id": "dev-1", "user_id": ""}), "user_id"),
        (
            json!({"anonymous_id": "dev-1", "user_id": "cust-1", "email": "a@b"}),
            "email",
        ),
    ];
    for (body, field) in cases {
        let r = rejected(&t, &c, async |c| c.post_json("/v1/identify", &body).await).await;
        r.assert_problem(422, "validation_failed", Some(field));
    }
}

#[tokio::test]
async fn bad_query_parameters_are_400_naming_the_parameter() {
    let t = seeded(Default::default()).await;
    let c = t.default_app();
    for (path, field) in [
        ("/v1/items?limit=abc", "limit"),
        ("/v1/items?limit=0", "limit"),
        ("/v1/items?limit=100000", "limit"),
        ("/v1/users/cust-1042/events?limit=-1", "limit"),
    ] {
        let r = rejected(&t, &c, async |c| c.get(path).await).await;
        r.assert_problem(400, "invalid_request", Some(field));
    }
    let r = rejected(&t, &c, async |c| {
        c.post_json("/v1/events?partial=maybe", &view()).await
    })
    .await;
    r.assert_problem(400, "invalid_request", Some("partial"));
}

#[tokio::test]
async fn axum_level_errors_are_problems_too() {
    let t = seeded(Default::default()).await;
    let c = t.default_app();
    let r = rejected(&t, &c, async |c| c.get("/v2/events").await).await;
    r.assert_problem(404, "not_found", Some("path"));
    assert_eq!(r.body["instance"], "/v2/events");
    let r = rejected(&t, &c, async |c| c.delete("/v1/events").await).await;
    r.assert_problem(405, "method_not_allowed", None);
    assert!(r.headers.contains_key("allow"), "{:?}", r.headers);
    let r = rejected(&t, &c, async |c| {
        c.request(Method::PATCH, "/v1/items/SKU-2040", None, Body::empty())
            .await
    })
    .await;
    r.assert_problem(405, "method_not_allowed", None);
}
