//! `attune serve` under a small open-file limit, flooded with connections that send nothing
//! or half a header: the deadlines reap them, failed accepts are paused and counted rather
//! than spun on or logged per attempt, and normal requests keep being answered.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::common::Attune;
use crate::server::Server;

/// One request on a fresh connection (`Connection: close`): the whole answer and its time.
fn fresh_request(addr: &str, request: &str) -> (String, Duration) {
    let start = Instant::now();
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    (
        String::from_utf8_lossy(&answer).into_owned(),
        start.elapsed(),
    )
}

fn post_event(addr: &str, id: &str) -> (String, Duration) {
    let body = format!(
        r#"{{"event_id": "{id}", "type": "view", "user_id": "cust-1", "item_id": "SKU-2040"}}"#
    );
    fresh_request(
        addr,
        &format!(
            "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
}

/// The value of one sample of `/metrics` (0 when absent).
fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

#[test]
fn idle_and_half_sent_connections_beyond_the_open_file_limit_do_not_stop_normal_requests() {
    let attune = Attune::new();
    let server = Server::start_in_shell(
        &attune,
        "ulimit -n 256",
        &[
            ("ATTUNE_SERVER__HEADER_READ_TIMEOUT_SECS", "2"),
            ("ATTUNE_SERVER__IDLE_TIMEOUT_SECS", "2"),
        ],
    );
    let addr = server.addr.clone();
    // The default cap (512) cannot be reached with 256 descriptors: the server says so (the
    // line is written before the first request is served; its reader thread may lag).
    let deadline = Instant::now() + Duration::from_secs(10);
    while !server
        .log()
        .contains("server.max_connections is more than the open-file limit")
    {
        assert!(Instant::now() < deadline, "no warning:\n{}", server.log());
        std::thread::sleep(Duration::from_millis(20));
    }

    // 300 connections, more than the process may hold: half send nothing, half stop in the
    // middle of a request head.
    let flood_start = Instant::now();
    let mut flood = Vec::new();
    for i in 0..300 {
        let mut s = TcpStream::connect(&addr).expect("the kernel completes the handshake");
        if i % 2 == 1 {
            s.write_all(b"GET /v1/items HTTP/1.1\r\nHost: x\r\nX-Attune-App: default\r\n")
                .unwrap();
        }
        flood.push(s);
    }

    // Normal requests, each on a fresh connection, keep being answered: the first once the
    // deadlines (2 s) have reaped what the server could accept, the rest promptly.
    let mut times = Vec::new();
    for i in 0..10 {
        let (answer, took) = post_event(&addr, &format!("normal-{i}"));
        assert!(
            answer.starts_with("HTTP/1.1 200 ") && answer.contains(r#""accepted":1"#),
            "request {i} after {:?}: {answer:?}\nserver log:\n{}",
            flood_start.elapsed(),
            server.log()
        );
        times.push(took);
    }
    assert!(
        times[0] < Duration::from_secs(10),
        "the first request waited {:?}",
        times[0]
    );
    assert!(
        times[1..].iter().all(|t| *t < Duration::from_secs(5)),
        "{times:?}"
    );

    // Every flood connection is closed by the server, without an answer.
    for (i, s) in flood.iter_mut().enumerate() {
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut got = Vec::new();
        match s.read_to_end(&mut got) {
            Ok(_) => assert!(got.is_empty(), "connection {i} got {got:?}"),
            Err(e) => assert!(
                e.kind() != std::io::ErrorKind::WouldBlock
                    && e.kind() != std::io::ErrorKind::TimedOut,
                "connection {i} was never closed: {e}"
            ),
        }
    }
    let reaped = flood_start.elapsed();
    drop(flood);

    let (metrics, _) = fresh_request(
        &addr,
        "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(metrics.starts_with("HTTP/1.1 200 "), "{metrics}");
    let accept_errors = metric(&metrics, "attune_http_accept_errors_total");
    assert!(accept_errors >= 1.0, "no accept error counted:\n{metrics}");
    let idle = metric(
        &metrics,
        "attune_http_connection_timeouts_total{phase=\"idle\"}",
    );
    let header = metric(
        &metrics,
        "attune_http_connection_timeouts_total{phase=\"header\"}",
    );
    assert!(
        idle >= 150.0 && header >= 150.0,
        "idle {idle}, header {header}"
    );

    // Paused and summarised, not logged per attempt.
    let log = server.log();
    let errors = log.matches("cannot accept connections").count();
    assert!(errors == 1, "{errors} accept error lines:\n{log}");
    assert!(
        log.matches("accepting connections again").count() <= 1,
        "{log}"
    );
    eprintln!(
        "flood of 300 under ulimit -n 256: {accept_errors} failed accepts, first normal request {:?}, \
         others at most {:?}, all flood connections closed after {reaped:?}",
        times[0],
        times[1..].iter().max().unwrap()
    );
}
