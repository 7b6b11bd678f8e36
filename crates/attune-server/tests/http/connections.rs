//! Connection hygiene on the real server over real sockets: the header-read and idle
//! deadlines close connections that hold no request, a slow body gets its 408, a request that
//! runs too long its 503, and over the connection cap the answer is 503 `overloaded`.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use attune_server::{ServerConfig, Timeouts};
use attune_store::Store;
use axum::http::StatusCode;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{FlakyStore, LiveServer};

fn fast_timeouts() -> Timeouts {
    Timeouts {
        header_read: Duration::from_millis(300),
        body_read: Duration::from_millis(600),
        idle: Duration::from_millis(1500),
        request: Duration::from_secs(10),
    }
}

async fn server(config: ServerConfig) -> (LiveServer, Arc<FlakyStore>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FlakyStore::open(dir.path()));
    let server = LiveServer::start(store.clone(), config).await;
    (server, store, dir)
}

/// Read until the server closes the connection (at most 10 s); what arrived and when.
async fn read_to_close(stream: &mut TcpStream) -> (String, Duration) {
    let start = Instant::now();
    let mut got = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut got)).await;
    assert!(read.is_ok(), "the server never closed the connection");
    (String::from_utf8_lossy(&got).into_owned(), start.elapsed())
}

/// Read one response on a keep-alive connection (head, then `content-length` bytes).
async fn read_response(stream: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&got).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length: ")
                        .map(|v| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            if body.len() >= len {
                return text;
            }
        }
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
            .await
            .expect("an answer within 10 s")
            .unwrap();
        assert!(n > 0, "closed before the answer was complete: {text}");
        got.extend_from_slice(&buf[..n]);
    }
}

/// The body of a raw response, as JSON.
fn body_json(raw: &str) -> Value {
    let (_, body) = raw.split_once("\r\n\r\n").expect("a complete response");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {raw}"))
}

/// The value of one sample line of `/metrics` (0 when the series is absent), scraped on a
/// connection the server closes after the answer, so scrapes do not count each other open.
async fn metric(server: &LiveServer, series: &str) -> f64 {
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let (text, _) = read_to_close(&mut stream).await;
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_without_a_request_are_closed_by_the_header_and_idle_deadlines() {
    let (server, _store, _dir) = server(ServerConfig {
        timeouts: fast_timeouts(),
        ..ServerConfig::default()
    })
    .await;

    // Connects and sends nothing: closed at the shorter deadline (header read), no answer.
    let opened = Instant::now();
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    // Starts a head and stops half-way (slowloris): closed by the header-read deadline.
    let mut half = TcpStream::connect(server.addr).await.unwrap();
    half.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    for stream in [&mut silent, &mut half] {
        let (got, _) = read_to_close(stream).await;
        let took = opened.elapsed();
        assert_eq!(
            got, "",
            "a connection without a complete head gets no answer"
        );
        assert!(
            took >= Duration::from_millis(200) && took < Duration::from_secs(3),
            "closed after {took:?}, header_read_timeout is 300 ms"
        );
    }

    // A keep-alive connection: idle between requests for longer than the header-read
    // deadline is fine; idle for the idle timeout is not.
    let mut kept = TcpStream::connect(server.addr).await.unwrap();
    let request = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
    kept.write_all(request).await.unwrap();
    assert!(read_response(&mut kept).await.starts_with("HTTP/1.1 200"));
    tokio::time::sleep(Duration::from_millis(700)).await;
    kept.write_all(request).await.unwrap();
    assert!(read_response(&mut kept).await.starts_with("HTTP/1.1 200"));
    let (got, took) = read_to_close(&mut kept).await;
    assert_eq!(got, "");
    assert!(
        took >= Duration::from_millis(1300) && took < Duration::from_secs(5),
        "closed {took:?} after the answer, idle_timeout is 1.5 s"
    );

    // The half-sent head is a header timeout; the silent and the kept-alive ones are idle.
    assert!(
        metric(
            &server,
            "attune_http_connection_timeouts_total{phase=\"header\"}"
        )
        .await
            >= 1.0
    );
    assert!(
        metric(
            &server,
            "attune_http_connection_timeouts_total{phase=\"idle\"}"
        )
        .await
            >= 2.0
    );
    // The three are no longer counted open (the scrapes' own connections close soon too).
    let deadline = Instant::now() + Duration::from_secs(5);
    while metric(&server, "attune_http_connections_open").await > 1.0 {
        assert!(Instant::now() < deadline, "connections stay counted open");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickled_body_gets_408_at_its_deadline_and_the_connection_is_closed() {
    let (server, store, _dir) = server(ServerConfig {
        timeouts: fast_timeouts(),
        ..ServerConfig::default()
    })
    .await;
    let event =
        r#"{"event_id": "slow-1", "type": "view", "user_id": "cust-1", "item_id": "SKU-2040"}"#;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        event.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let start = Instant::now();
    // One byte every 50 ms: every read is quick, the whole body would take 4 s.
    let (mut reader, mut writer) = stream.into_split();
    let trickle = tokio::spawn(async move {
        for b in event.as_bytes() {
            if writer.write_all(&[*b]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let mut got = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), reader.read_to_end(&mut got))
        .await
        .expect("answered and closed within 10 s")
        .ok();
    let took = start.elapsed();
    trickle.abort();
    let raw = String::from_utf8_lossy(&got).into_owned();
    assert!(raw.starts_with("HTTP/1.1 408 "), "{raw}");
    let head = raw.split_once("\r\n\r\n").unwrap().0.to_ascii_lowercase();
    assert!(
        head.contains("content-type: application/problem+json"),
        "{raw}"
    );
    assert!(head.contains("connection: close"), "{raw}");
    let body = body_json(&raw);
    assert_eq!(body["code"], "request_timeout");
    assert_eq!(body["field"], "body");
    assert_eq!(body["instance"], "/v1/events");
    assert!(
        took >= Duration::from_millis(500) && took < Duration::from_secs(3),
        "answered after {took:?}, body_read_timeout is 600 ms"
    );
    assert_eq!(store.inner.counts("default").unwrap().events, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_runs_too_long_gets_503_timeout_and_its_work_still_commits() {
    let (server, store, _dir) = server(ServerConfig {
        timeouts: Timeouts {
            request: Duration::from_millis(500),
            body_read: Duration::from_millis(500),
            ..Timeouts::default()
        },
        ..ServerConfig::default()
    })
    .await;
    store.insert_delay_ms.store(1500, Ordering::SeqCst);
    let start = Instant::now();
    let r = server
        .post_json(
            "/v1/events",
            &[],
            &json!({"event_id": "late-1", "type": "view", "user_id": "cust-1", "item_id": "SKU-2040"}),
        )
        .await;
    r.assert_problem(503, "timeout", None);
    assert_eq!(r.header("retry-after"), "1");
    assert!(
        start.elapsed() < Duration::from_millis(1400),
        "{:?}",
        start.elapsed()
    );
    // The commit was already under way: it completes, so retrying with the same event_id is
    // what a client should do (a duplicate changes nothing).
    let deadline = Instant::now() + Duration::from_secs(10);
    while store.inner.counts("default").unwrap().events < 1 {
        assert!(Instant::now() < deadline, "the event never committed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_connection_cap_the_answer_is_503_overloaded_until_a_slot_frees() {
    let (server, _store, _dir) = server(ServerConfig {
        max_connections: 2,
        ..ServerConfig::default()
    })
    .await;
    // Two idle connections take both slots (the default header-read deadline is 10 s).
    let held: Vec<TcpStream> = vec![
        TcpStream::connect(server.addr).await.unwrap(),
        TcpStream::connect(server.addr).await.unwrap(),
    ];
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut third = TcpStream::connect(server.addr).await.unwrap();
    third
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (raw, took) = read_to_close(&mut third).await;
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert!(raw.starts_with("HTTP/1.1 503 "), "{raw}");
    let head = raw.split_once("\r\n\r\n").unwrap().0.to_ascii_lowercase();
    assert!(
        head.contains("content-type: application/problem+json"),
        "{raw}"
    );
    assert!(head.contains("retry-after: 1"), "{raw}");
    assert!(head.contains("connection: close"), "{raw}");
    let body = body_json(&raw);
    assert_eq!(body["code"], "overloaded");
    assert_eq!(body["status"], 503);
    assert_eq!(body["limit"], 2);
    assert_eq!(body["field"], "max_connections");

    // Closing the idle ones frees their slots: requests are served again.
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let (raw, _) = read_to_close(&mut stream).await;
        if raw.starts_with("HTTP/1.1 200 ") {
            let rejected: f64 = raw
                .lines()
                .find_map(|l| l.strip_prefix("attune_http_connections_rejected_total "))
                .map(|v| v.parse().unwrap())
                .unwrap_or(0.0);
            assert!(rejected >= 1.0, "{raw}");
            break;
        }
        assert!(Instant::now() < deadline, "the slots never freed: {raw}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        server.get("/health", &[]).await.status,
        StatusCode::OK,
        "served normally again"
    );
}
