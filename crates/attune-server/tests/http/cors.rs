//! CORS: preflights from allowed origins are answered (before any key check), answers carry
//! `Access-Control-Allow-Origin`, other origins get nothing, and CORS is off by default.

use attune_server::{ApiKeySpec, AuthConfig, CorsConfig, ServerConfig};
use axum::http::{Method, StatusCode};

use crate::common::{Resp, TestServer};

const SHOP: &str = "https://shop.example";

fn server(origins: &[&str]) -> TestServer {
    let key = ApiKeySpec {
        name: "tracker".into(),
        key: Some("tracker-key-0123456789".into()),
        key_sha256: None,
        scopes: vec!["ingest".into()],
        apps: vec!["*".into()],
    };
    let origins: Vec<String> = origins.iter().map(|s| s.to_string()).collect();
    TestServer::with_config(ServerConfig {
        auth: AuthConfig::new(true, false, &[key]).unwrap(),
        cors: CorsConfig::new(&origins).unwrap(),
        ..ServerConfig::default()
    })
}

async fn preflight(t: &TestServer, origin: &str) -> Resp {
    t.default_app()
        .send(
            Method::OPTIONS,
            "/v1/events",
            &[
                ("origin", origin),
                ("access-control-request-method", "POST"),
                (
                    "access-control-request-headers",
                    "content-type,authorization,x-attune-app",
                ),
            ],
            None,
            "",
        )
        .await
}

#[tokio::test]
async fn preflight_from_an_allowed_origin_is_answered_without_a_key() {
    let t = server(&[SHOP, "http://localhost:3000"]);
    let r = preflight(&t, SHOP).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.header("access-control-allow-origin"), SHOP);
    let methods = r
        .header("access-control-allow-methods")
        .to_ascii_uppercase();
    assert!(
        methods.contains("POST") && methods.contains("DELETE"),
        "{methods}"
    );
    let headers = r
        .header("access-control-allow-headers")
        .to_ascii_lowercase();
    for h in ["content-type", "authorization", "x-api-key", "x-attune-app"] {
        assert!(headers.contains(h), "{h} not in {headers}");
    }
    assert_eq!(r.header("access-control-max-age"), "600");
    assert!(r.header("access-control-allow-credentials").is_empty());

    // The real request carries the header too, also when it is refused, so the page can read
    // the problem.
    let r = t
        .default_app()
        .send(
            Method::POST,
            "/v1/events",
            &[("origin", SHOP)],
            Some("application/json"),
            r#"{"type": "view", "user_id": "u", "item_id": "i"}"#,
        )
        .await;
    r.assert_problem(401, "unauthorized", None);
    assert_eq!(r.header("access-control-allow-origin"), SHOP);
    assert!(r
        .header("access-control-expose-headers")
        .to_ascii_lowercase()
        .contains("www-authenticate"));
    let r = t
        .default_app()
        .send(
            Method::POST,
            "/v1/events",
            &[
                ("origin", SHOP),
                ("authorization", "Bearer tracker-key-0123456789"),
            ],
            Some("application/json"),
            r#"{"type": "view", "user_id": "u", "item_id": "i"}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.header("access-control-allow-origin"), SHOP);
}

#[tokio::test]
async fn other_origins_get_no_cors_headers() {
    let t = server(&[SHOP]);
    for origin in [
        "https://evil.example",
        "https://shop.example.evil.example",
        "http://shop.example",
    ] {
        let r = preflight(&t, origin).await;
        assert!(
            r.header("access-control-allow-origin").is_empty(),
            "{origin}: {:?}",
            r.headers
        );
    }
}

#[tokio::test]
async fn any_origin_with_star() {
    let t = server(&["*"]);
    let r = preflight(&t, "https://anything.example").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("access-control-allow-origin"), "*");
}

#[tokio::test]
async fn cors_is_off_by_default() {
    let t = TestServer::new();
    let r = preflight(&t, SHOP).await;
    assert!(
        r.header("access-control-allow-origin").is_empty(),
        "{:?}",
        r.headers
    );
    r.assert_problem(405, "method_not_allowed", None);
    let r = t
        .default_app()
        .send(Method::GET, "/health", &[("origin", SHOP)], None, "")
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.header("access-control-allow-origin").is_empty());
}
