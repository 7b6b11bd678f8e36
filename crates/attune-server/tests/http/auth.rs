//! API keys: 401 without a valid key (when required), 403 for the wrong scope or app, open
//! routes stay open, and a refused request changes nothing.

use attune_server::auth::sha256_hex;
use attune_server::{ApiKeySpec, AuthConfig, ServerConfig};
use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::common::{api_key, shop_items, Client, Resp, TestServer};

const TRACKER: &str = "tracker-key-shop-0001";
const READER: &str = "reader-key-shop-00001";
const SHOP_ADMIN: &str = "admin-key-shop-000001";
const ROOT: &str = "root-key-every-app-01";

fn keys() -> Vec<ApiKeySpec> {
    vec![
        api_key("shop-tracker", TRACKER, &["ingest"], &["shop"]),
        api_key("shop-storefront", READER, &["read"], &["shop"]),
        api_key("shop-admin", SHOP_ADMIN, &["admin"], &["shop"]),
        // The root key is configured by hash only.
        ApiKeySpec {
            key: None,
            key_sha256: Some(sha256_hex(ROOT)),
            ..api_key("root", "unused-unused-unused", &["admin"], &["*"])
        },
    ]
}

fn server(required: bool, metrics_require_admin: bool) -> TestServer {
    TestServer::with_config(ServerConfig {
        auth: AuthConfig::new(required, metrics_require_admin, &keys()).unwrap(),
        ..ServerConfig::default()
    })
}

fn bearer(key: &str) -> String {
    format!("Bearer {key}")
}

async fn call(c: &Client<'_>, method: Method, path: &str, key: Option<&str>, body: &str) -> Resp {
    let auth = key.map(bearer);
    let headers: Vec<(&str, &str)> = auth
        .as_deref()
        .map(|a| vec![("authorization", a)])
        .unwrap_or_default();
    let ct = (!body.is_empty()).then_some("application/json");
    c.send(method, path, &headers, ct, body.to_string()).await
}

const EVENT: &str =
    r#"{"event_id": "a1", "type": "view", "user_id": "cust-1", "item_id": "SKU-2040"}"#;

/// Create `shop` with the root key and load its catalog with the shop's admin key.
async fn setup(t: &TestServer) {
    let r = call(
        &t.default_app(),
        Method::POST,
        "/v1/apps",
        Some(ROOT),
        r#"{"name": "shop"}"#,
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = call(
        &t.app("shop"),
        Method::POST,
        "/v1/items",
        Some(SHOP_ADMIN),
        &shop_items().to_string(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = call(
        &t.app("shop"),
        Method::PUT,
        "/v1/users/cust-1",
        Some(SHOP_ADMIN),
        r#"{"attributes": {"tier": "gold"}}"#,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

#[tokio::test]
async fn required_keys_refuse_anonymous_and_unknown_keys_with_401() {
    let t = server(true, false);
    setup(&t).await;
    let shop = t.app("shop");
    let before = t.snapshot("shop");

    let r = call(&shop, Method::POST, "/v1/events", None, EVENT).await;
    r.assert_problem(401, "unauthorized", Some("Authorization"));
    assert_eq!(r.header("www-authenticate"), r#"Bearer realm="attune""#);
    assert!(
        r.body["detail"].as_str().unwrap().contains("ingest scope"),
        "{}",
        r.text
    );

    for bad in [
        "not-a-key",
        &TRACKER[..TRACKER.len() - 1],
        "tracker-key-shop-0002",
    ] {
        let r = call(&shop, Method::POST, "/v1/events", Some(bad), EVENT).await;
        r.assert_problem(401, "unauthorized", Some("Authorization"));
        assert_eq!(
            r.header("www-authenticate"),
            r#"Bearer realm="attune", error="invalid_token""#
        );
        assert!(!r.text.contains(bad), "the key is not echoed: {}", r.text);
    }
    let r = shop
        .send(
            Method::GET,
            "/v1/items/SKU-2040",
            &[("authorization", "Basic dXNlcjpwYXNz")],
            None,
            "",
        )
        .await;
    r.assert_problem(401, "unauthorized", None);
    assert!(r.body["detail"].as_str().unwrap().contains("Bearer"));
    assert_eq!(
        t.snapshot("shop"),
        before,
        "a refused request changed nothing"
    );

    // Reads are refused the same way.
    let r = call(&shop, Method::GET, "/v1/items/SKU-2040", None, "").await;
    r.assert_problem(401, "unauthorized", None);
}

#[tokio::test]
async fn keys_work_from_bearer_or_x_api_key() {
    let t = server(true, false);
    setup(&t).await;
    let shop = t.app("shop");
    let r = call(&shop, Method::POST, "/v1/events", Some(TRACKER), EVENT).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["accepted"], 1);
    let r = shop
        .send(
            Method::POST,
            "/v1/events",
            &[("x-api-key", TRACKER)],
            Some("application/json"),
            EVENT,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["duplicates"], 1);
    let r = shop
        .send(
            Method::GET,
            "/v1/items/SKU-2040",
            &[("X-API-KEY", READER)],
            None,
            "",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["item_id"], "SKU-2040");
}

#[tokio::test]
async fn each_route_needs_its_scope() {
    let t = server(true, false);
    setup(&t).await;
    let shop = t.app("shop");
    let identify = r#"{"anonymous_id": "dev-1", "user_id": "cust-1"}"#;
    let item = r#"{"item_id": "SKU-9", "title": "Socks"}"#;
    let user = r#"{"attributes": {"tier": "gold"}}"#;
    // (method, path, body, the scope it needs)
    let routes: [(Method, &str, &str, &str); 12] = [
        (Method::POST, "/v1/events", EVENT, "ingest"),
        (Method::POST, "/v1/identify", identify, "ingest"),
        (Method::GET, "/v1/items", "", "read"),
        (Method::GET, "/v1/items/SKU-2040", "", "read"),
        (Method::GET, "/v1/users/cust-1", "", "read"),
        (Method::GET, "/v1/users/cust-1/events", "", "read"),
        (Method::PUT, "/v1/items/SKU-9", item, "admin"),
        (Method::POST, "/v1/items", item, "admin"),
        (Method::PUT, "/v1/users/cust-9", user, "admin"),
        (Method::DELETE, "/v1/items/SKU-3300", "", "admin"),
        (Method::DELETE, "/v1/users/cust-9", "", "admin"),
        (Method::GET, "/v1/items?limit=1", "", "read"),
    ];
    for (key, scope) in [(TRACKER, "ingest"), (READER, "read")] {
        for (method, path, body, needs) in &routes {
            if *needs == scope {
                continue;
            }
            let before = t.snapshot("shop");
            let r = call(&shop, method.clone(), path, Some(key), body).await;
            r.assert_problem(403, "forbidden", None);
            assert_eq!(r.body["required_scope"], *needs, "{method} {path}");
            let detail = r.body["detail"].as_str().unwrap();
            assert!(
                detail.contains(&format!("lacks the {needs} scope")),
                "{detail}"
            );
            assert_eq!(t.snapshot("shop"), before, "{method} {path}");
        }
    }
    // Each key can do what its scope allows; admin can do everything, in order.
    for (method, path, body, needs) in &routes {
        let key = match *needs {
            "ingest" => TRACKER,
            "read" => READER,
            _ => SHOP_ADMIN,
        };
        let r = call(&shop, method.clone(), path, Some(key), body).await;
        assert!(r.status.is_success(), "{method} {path}: {}", r.text);
        let r = call(&shop, method.clone(), path, Some(SHOP_ADMIN), body).await;
        assert!(
            r.status.is_success() || r.status == StatusCode::NOT_FOUND,
            "admin on {method} {path}: {}",
            r.text
        );
    }
}

#[tokio::test]
async fn keys_are_limited_to_their_apps() {
    let t = server(true, false);
    setup(&t).await;
    // The shop's tracker on the default app (no header), on another existing app, and on an
    // app that does not exist: 403 each time, so the key cannot probe which apps exist.
    let r = call(
        &t.default_app(),
        Method::POST,
        "/v1/events",
        Some(TRACKER),
        EVENT,
    )
    .await;
    r.assert_problem(403, "forbidden", Some("X-Attune-App"));
    assert!(r.body["detail"].as_str().unwrap().contains("\"default\""));
    let r = call(
        &t.app("nope"),
        Method::POST,
        "/v1/events",
        Some(TRACKER),
        EVENT,
    )
    .await;
    r.assert_problem(403, "forbidden", Some("X-Attune-App"));
    let r = call(
        &t.app("nope"),
        Method::POST,
        "/v1/events",
        Some(ROOT),
        EVENT,
    )
    .await;
    r.assert_problem(404, "unknown_app", Some("X-Attune-App"));
    assert_eq!(t.snapshot("default").counts.events, 0);

    // Managing apps needs an admin key for every app.
    for (method, body) in [(Method::GET, ""), (Method::POST, r#"{"name": "blog"}"#)] {
        let r = call(
            &t.default_app(),
            method.clone(),
            "/v1/apps",
            Some(SHOP_ADMIN),
            body,
        )
        .await;
        r.assert_problem(403, "forbidden", None);
        assert!(r.body["detail"].as_str().unwrap().contains("every app"));
        let r = call(
            &t.default_app(),
            method.clone(),
            "/v1/apps",
            Some(TRACKER),
            body,
        )
        .await;
        r.assert_problem(403, "forbidden", None);
        assert_eq!(r.body["required_scope"], "admin");
    }
    let r = call(&t.default_app(), Method::GET, "/v1/apps", Some(ROOT), "").await;
    assert_eq!(r.body, json!({"apps": ["default", "shop"]}));
}

#[tokio::test]
async fn open_routes_need_no_key_and_unknown_routes_stay_404() {
    let t = server(true, false);
    let c = t.default_app();
    for path in ["/health", "/ready", "/v1/openapi.json", "/metrics"] {
        let r = c.get(path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text);
    }
    // A bad key on an open route is not looked at.
    let r = call(&c, Method::GET, "/health", Some("not-a-key"), "").await;
    assert_eq!(r.status, StatusCode::OK);
    c.get("/v1/nothing-here")
        .await
        .assert_problem(404, "not_found", None);
    c.request(Method::PATCH, "/v1/events", None, "")
        .await
        .assert_problem(405, "method_not_allowed", None);
}

#[tokio::test]
async fn metrics_can_require_an_admin_key_for_every_app() {
    let t = server(true, true);
    let c = t.default_app();
    c.get("/metrics")
        .await
        .assert_problem(401, "unauthorized", None);
    let r = call(&c, Method::GET, "/metrics", Some(SHOP_ADMIN), "").await;
    r.assert_problem(403, "forbidden", None);
    let r = call(&c, Method::GET, "/metrics", Some(READER), "").await;
    r.assert_problem(403, "forbidden", None);
    assert_eq!(r.body["required_scope"], "admin");
    let r = call(&c, Method::GET, "/metrics", Some(ROOT), "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.text.contains("attune_http_requests_total"), "{}", r.text);
    // Health stays open.
    assert_eq!(c.get("/health").await.status, StatusCode::OK);
}

#[tokio::test]
async fn optional_auth_allows_anonymous_requests_but_checks_sent_keys() {
    let t = server(false, false);
    setup(&t).await;
    let shop = t.app("shop");
    // No key: allowed everything (the single-user default).
    let r = call(
        &shop,
        Method::PUT,
        "/v1/items/SKU-9",
        None,
        r#"{"title": "x"}"#,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // A key that is sent is checked: unknown is 401, a too-narrow one is 403.
    let r = call(
        &shop,
        Method::PUT,
        "/v1/items/SKU-9",
        Some("wrong-key"),
        "{}",
    )
    .await;
    r.assert_problem(401, "unauthorized", None);
    let r = call(&shop, Method::PUT, "/v1/items/SKU-9", Some(TRACKER), "{}").await;
    r.assert_problem(403, "forbidden", None);
    let r = call(&shop, Method::POST, "/v1/events", Some(TRACKER), EVENT).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

#[tokio::test]
async fn without_keys_configured_nothing_changes() {
    let t = TestServer::new();
    let r = t
        .default_app()
        .post_json("/v1/apps", &json!({"name": "shop"}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    // A key sent to a server without keys is simply not valid.
    let r = call(&t.app("shop"), Method::GET, "/v1/items", Some(TRACKER), "").await;
    r.assert_problem(401, "unauthorized", None);
    let r = call(&t.app("shop"), Method::GET, "/v1/items", None, "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}
