//! Health, readiness, and the real server with graceful shutdown.

use std::sync::Arc;

use attune_server::{serve, AppState, ServerConfig};
use attune_store::sqlite::SqliteStore;
use axum::http::StatusCode;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::TestServer;

#[tokio::test]
async fn health_and_ready() {
    let t = TestServer::new();
    let r = t.default_app().get("/health").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, json!({"status": "ok"}));
    let r = t.default_app().get("/ready").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body, json!({"status": "ready", "backend": "sqlite"}));
    // Health does not depend on the app header.
    assert_eq!(t.app("nope").get("/health").await.status, StatusCode::OK);
}

async fn raw_request(addr: std::net::SocketAddr, request: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut out = String::new();
    stream.read_to_string(&mut out).await.unwrap();
    out
}

#[tokio::test]
async fn serve_answers_and_stops_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("attune.db")).unwrap());
    let state = AppState::new(store.clone(), ServerConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, state, async move {
        let _ = stop_rx.await;
    }));

    let health = raw_request(
        addr,
        "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.ends_with(r#"{"status":"ok"}"#), "{health}");

    let body = r#"{"event_id":"tcp-1","type":"view","user_id":"cust-1","item_id":"SKU-2040"}"#;
    let req = format!(
        "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let res = raw_request(addr, &req).await;
    assert!(res.starts_with("HTTP/1.1 200"), "{res}");
    assert_eq!(
        attune_store::Store::counts(store.as_ref(), "default")
            .unwrap()
            .events,
        1
    );

    // A request whose body is still arriving when shutdown starts is finished, not dropped.
    let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
    let body = r#"{"event_id":"tcp-2","type":"view","user_id":"cust-1","item_id":"SKU-2040"}"#;
    let head = format!(
        "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    slow.write_all(head.as_bytes()).await.unwrap();
    slow.write_all(&body.as_bytes()[..10]).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    stop_tx.send(()).unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    slow.write_all(&body.as_bytes()[10..]).await.unwrap();
    let mut out = String::new();
    slow.read_to_string(&mut out).await.unwrap();
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");

    tokio::time::timeout(std::time::Duration::from_secs(10), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        attune_store::Store::counts(store.as_ref(), "default")
            .unwrap()
            .events,
        2
    );
    // No new connections after shutdown.
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn store_failures_are_500_without_internals_and_ready_is_503() {
    use std::sync::atomic::Ordering;
    let (store, router, _dir) = crate::common::flaky_server();
    let send = |req: axum::http::Request<axum::body::Body>| {
        let router = router.clone();
        async move {
            let res = tower::ServiceExt::oneshot(router, req).await.unwrap();
            let status = res.status();
            let ct = res
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_string());
            let bytes = http_body_util::BodyExt::collect(res.into_body())
                .await
                .unwrap()
                .to_bytes();
            (status, ct, String::from_utf8(bytes.to_vec()).unwrap())
        }
    };
    let post = |body: &str| {
        axum::http::Request::post("/v1/events")
            .header("content-type", "application/json")
            .body(axum::body::Body::from(body.to_string()))
            .unwrap()
    };
    let event = r#"{"event_id": "e1", "type": "view", "user_id": "cust-1", "item_id": "SKU-1"}"#;
    store.broken.store(true, Ordering::SeqCst);

    let (status, ct, text) = send(post(event)).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{text}");
    assert_eq!(ct.as_deref(), Some("application/problem+json"));
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["code"], "internal");
    assert!(
        !text.contains("secret") && !text.contains("fire"),
        "internals leaked: {text}"
    );

    let item = axum::http::Request::put("/v1/items/SKU-1")
        .header("content-type", "application/json")
        .body(axum::body::Body::from("{}"))
        .unwrap();
    let (status, _, text) = send(item).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{text}");

    let (status, ct, text) = send(
        axum::http::Request::get("/ready")
            .body(axum::body::Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{text}");
    assert_eq!(ct.as_deref(), Some("application/problem+json"));
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        (body["code"].clone(), body["backend"].clone()),
        (json!("not_ready"), json!("sqlite"))
    );
    assert!(!text.contains("fire"), "{text}");
    let (status, _, _) = send(
        axum::http::Request::get("/health")
            .body(axum::body::Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "health does not depend on the store"
    );
    assert_eq!(
        attune_store::Store::counts(&store.inner, "default")
            .unwrap()
            .events,
        0
    );

    // Once the store recovers, the same request succeeds (the failed one stored nothing).
    store.broken.store(false, Ordering::SeqCst);
    let (status, _, text) = send(post(event)).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(text.contains(r#""accepted":1"#), "{text}");
}
