//! Rate limits per API key and app: a burst beyond the bucket gets 429 with `Retry-After`,
//! other keys, apps and anonymous clients keep their own buckets, the bucket refills, and
//! limited requests change nothing and are counted in `/metrics`.

use std::time::Duration;

use attune_server::{AuthConfig, Bucket, RateLimits, ServerConfig};
use axum::body::Body;
use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::common::{api_key, Resp, TestServer};

const TRACKER: &str = "tracker-key-limits-01";
const OTHER: &str = "other-tracker-key-002";
const READER: &str = "reader-key-limits-003";

fn server(limits: RateLimits) -> TestServer {
    let keys = [
        api_key("tracker", TRACKER, &["ingest"], &["shop", "blog"]),
        api_key("other-tracker", OTHER, &["ingest"], &["shop"]),
        api_key("reader", READER, &["read"], &["shop"]),
    ];
    TestServer::with_config(ServerConfig {
        auth: AuthConfig::new(false, false, &keys).unwrap(),
        rate_limits: limits,
        ..ServerConfig::default()
    })
}

async fn send_event(t: &TestServer, app: &str, key: Option<&str>, id: &str) -> Resp {
    let auth = key.map(|k| format!("Bearer {k}"));
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("authorization", a.as_str())).collect();
    let event = json!({"event_id": id, "type": "view", "user_id": "cust-1", "item_id": "SKU-2040"});
    t.app(app)
        .send(
            Method::POST,
            "/v1/events",
            &headers,
            Some("application/json"),
            event.to_string(),
        )
        .await
}

#[tokio::test]
async fn a_burst_beyond_the_bucket_is_429_with_retry_after_and_other_buckets_are_untouched() {
    // Three at once, then one every 5 s.
    let t = server(RateLimits {
        ingest: Bucket::new("ingest", 0.2, 3).unwrap(),
        read: None,
    });
    t.create_app("shop").await;
    t.create_app("blog").await;
    for i in 0..3 {
        let r = send_event(&t, "shop", Some(TRACKER), &format!("burst-{i}")).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    let r = send_event(&t, "shop", Some(TRACKER), "burst-3").await;
    r.assert_problem(429, "rate_limited", Some("ingest_per_sec"));
    // The next token is (just under) 5 s away: whole seconds, rounded up.
    let retry: u64 = r.header("retry-after").parse().unwrap();
    assert!((4..=5).contains(&retry), "{}", r.text);
    assert_eq!(r.body["retry_after"], retry);
    assert_eq!(r.body["burst"], 3);
    assert!(
        r.body["detail"].as_str().unwrap().contains("\"tracker\""),
        "{}",
        r.text
    );
    assert_eq!(
        t.snapshot("shop").counts.events,
        3,
        "the limited request stored nothing"
    );

    // The same key on another app, another key on the same app and a client without a key
    // each have their own bucket.
    let r = send_event(&t, "blog", Some(TRACKER), "blog-1").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = send_event(&t, "shop", Some(OTHER), "other-1").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = send_event(&t, "shop", None, "anonymous-1").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // Reads are not limited (read_per_sec is off), nor are admin and open routes.
    let bearer = format!("Bearer {READER}");
    for _ in 0..10 {
        let r = t
            .app("shop")
            .send(
                Method::GET,
                "/v1/items",
                &[("authorization", bearer.as_str())],
                None,
                Body::empty(),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(t.default_app().get("/health").await.status, StatusCode::OK);
    }

    let metrics = t.default_app().get("/metrics").await.text;
    let line = "attune_rate_limited_total{class=\"ingest\",app=\"shop\",key=\"tracker\"} 1";
    assert!(
        metrics.lines().any(|l| l == line),
        "missing {line:?} in\n{metrics}"
    );
    assert!(
        metrics.lines().any(|l| l.starts_with(
            "attune_http_requests_total{method=\"POST\",route=\"/v1/events\",status=\"429\"} 1"
        )),
        "{metrics}"
    );
}

#[tokio::test]
async fn the_bucket_refills_at_its_rate() {
    // Two at once, then one every 500 ms.
    let t = server(RateLimits {
        ingest: None,
        read: Bucket::new("read", 2.0, 2).unwrap(),
    });
    let read = || async { t.default_app().get("/v1/items").await };
    assert_eq!(read().await.status, StatusCode::OK);
    assert_eq!(read().await.status, StatusCode::OK);
    let r = read().await;
    r.assert_problem(429, "rate_limited", Some("read_per_sec"));
    assert_eq!(
        r.header("retry-after"),
        "1",
        "under a second rounds up to 1"
    );
    // 600 ms at 2/s: one token back, not two.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let r = read().await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = read().await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
}

#[tokio::test]
async fn reads_have_their_own_buckets_and_made_up_app_names_share_one() {
    let t = server(RateLimits {
        ingest: Bucket::new("ingest", 0.1, 1).unwrap(),
        read: Bucket::new("read", 0.1, 2).unwrap(),
    });
    t.create_app("shop").await;
    let read = |app: &'static str| {
        let t = &t;
        async move {
            t.app(app)
                .send(Method::GET, "/v1/items", &[], None, Body::empty())
                .await
        }
    };
    assert_eq!(read("shop").await.status, StatusCode::OK);
    assert_eq!(read("shop").await.status, StatusCode::OK);
    let r = read("shop").await;
    r.assert_problem(429, "rate_limited", Some("read_per_sec"));
    assert_eq!(r.header("retry-after"), "10");
    // Ingestion draws from its own bucket.
    let r = send_event(&t, "shop", None, "ingest-1").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    // Apps that do not exist share one bucket: inventing names does not escape the limit.
    read("nope-1")
        .await
        .assert_problem(404, "unknown_app", Some("X-Attune-App"));
    read("nope-2")
        .await
        .assert_problem(404, "unknown_app", Some("X-Attune-App"));
    read("nope-3")
        .await
        .assert_problem(429, "rate_limited", Some("read_per_sec"));
    let metrics = t.default_app().get("/metrics").await.text;
    let line = "attune_rate_limited_total{class=\"read\",app=\"-\",key=\"anonymous\"} 1";
    assert!(
        metrics.lines().any(|l| l == line),
        "missing {line:?} in\n{metrics}"
    );
}

/// `GET /v1/items` over a fresh connection from the local address `from`: the status line.
async fn get_items_from(addr: std::net::SocketAddr, from: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    let mut stream = socket.connect(addr).await.unwrap();
    stream
        .write_all(b"GET /v1/items HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let text = String::from_utf8_lossy(&answer).into_owned();
    text.lines().next().unwrap_or("").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_without_a_key_are_limited_by_their_address() {
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(crate::common::FlakyStore::open(dir.path()));
    let server = crate::common::LiveServer::start(
        store,
        ServerConfig {
            rate_limits: RateLimits {
                ingest: None,
                read: Bucket::new("read", 0.1, 1).unwrap(),
            },
            ..ServerConfig::default()
        },
    )
    .await;
    assert!(get_items_from(server.addr, "127.0.0.1")
        .await
        .starts_with("HTTP/1.1 200"));
    assert!(get_items_from(server.addr, "127.0.0.1")
        .await
        .starts_with("HTTP/1.1 429"));
    // Another address (loopback answers the whole 127/8) has its own bucket.
    assert!(get_items_from(server.addr, "127.0.0.2")
        .await
        .starts_with("HTTP/1.1 200"));
    assert!(get_items_from(server.addr, "127.0.0.2")
        .await
        .starts_with("HTTP/1.1 429"));
}
