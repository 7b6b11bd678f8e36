//! Graceful shutdown on the real server: requests in flight when the shutdown future fires are
//! answered 2xx and committed, new connections are refused at once, and `serve` returns only
//! after the ingest queue is drained.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use attune_server::ServerConfig;
use attune_store::Store;
use axum::http::StatusCode;
use serde_json::json;

use crate::common::{FlakyStore, LiveServer};

/// `attune_http_requests_in_flight` as the server reports it (the scrape itself included).
async fn in_flight(server: &LiveServer) -> f64 {
    let r = server.get("/metrics", &[]).await;
    let line = r
        .text
        .lines()
        .find(|l| l.starts_with("attune_http_requests_in_flight "))
        .unwrap();
    line.rsplit_once(' ').unwrap().1.parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_in_flight_finish_and_new_connections_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FlakyStore::open(dir.path()));
    // Every commit takes 400 ms, so the requests below are reliably still in flight.
    store.insert_delay_ms.store(400, Ordering::SeqCst);
    let mut server = LiveServer::start(store.clone(), ServerConfig::default()).await;
    let addr = server.addr;
    let n = 4;
    let mut clients = Vec::new();
    for i in 0..n {
        let body = json!({"event_id": format!("inflight-{i}"), "type": "view",
                          "user_id": "cust-1", "item_id": "SKU-2040"});
        clients.push(tokio::spawn(async move {
            let probe = LiveServer::client_for(addr);
            probe.post_json("/v1/events", &[], &body).await
        }));
    }
    // Wait until all of them are inside the server (the scrape is the fifth).
    let deadline = Instant::now() + Duration::from_secs(10);
    while in_flight(&server).await < (n + 1) as f64 {
        assert!(Instant::now() < deadline, "the requests never arrived");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    server.begin_shutdown();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let refused = tokio::net::TcpStream::connect(addr).await;
    assert!(
        refused.is_err(),
        "a new connection was accepted during shutdown"
    );
    assert!(
        store.inner.counts("default").unwrap().events < n,
        "the requests were still in flight when shutdown began"
    );

    for c in clients {
        let r = c.await.unwrap();
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.body["accepted"], 1, "{}", r.text);
    }
    server.stopped().await;
    assert_eq!(store.inner.counts("default").unwrap().events, n);
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
