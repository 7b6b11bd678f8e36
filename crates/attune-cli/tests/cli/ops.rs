//! The operational side of `attune serve` as a process: a request in flight when SIGTERM
//! arrives is answered and committed, and API keys from a config file are enforced.

use std::io::{Read as _, Write as _};
use std::time::Duration;

use attune_store::Store as _;

use crate::common::{describe, stdout, Attune};
use crate::server::Server;

#[test]
fn sigterm_finishes_the_request_in_flight_then_refuses_connections() {
    let attune = Attune::new();
    let mut server = Server::start(&attune, None);
    let body =
        r#"{"event_id": "sigterm-1", "type": "view", "user_id": "cust-1", "item_id": "SKU-2040"}"#;
    let mut slow = std::net::TcpStream::connect(&server.addr).unwrap();
    write!(
        slow,
        "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        body.len(),
        &body[..20]
    )
    .unwrap();
    slow.flush().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    // Wait until the server has begun its shutdown, then finish the body.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !server.log().contains("SIGTERM received") {
        assert!(std::time::Instant::now() < deadline, "{}", server.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    // The listener closes right after the signal is seen (allow for a loaded machine).
    while std::net::TcpStream::connect(&server.addr).is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "new connections are still accepted after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    slow.write_all(&body.as_bytes()[20..]).unwrap();
    let mut answer = String::new();
    slow.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains(r#""accepted":1"#), "{answer}");

    let status = server.terminate(Duration::from_secs(30));
    assert_eq!(status.code(), Some(0), "stderr:\n{}", server.log());
    let store = attune_store::sqlite::SqliteStore::open(attune.path().join("attune.db")).unwrap();
    assert_eq!(store.counts("default").unwrap().events, 1);
}

#[test]
fn api_keys_from_the_config_file_are_enforced_and_never_printed() {
    let attune = Attune::new();
    let tracker = "tracker-secret-key-0001";
    let admin = "admin-secret-key-000001";
    let tracker_sha256 = attune_server::auth::sha256_hex(tracker);
    let config = attune.path().join("attune.toml");
    std::fs::write(
        &config,
        format!(
            "[auth]\nrequired = true\nmetrics_require_admin = true\n\n\
             [[auth.keys]]\nname = \"tracker\"\nkey_sha256 = \"{tracker_sha256}\"\nscopes = [\"ingest\"]\napps = [\"*\"]\n\n\
             [[auth.keys]]\nname = \"ops\"\nkey = \"{admin}\"\nscopes = [\"admin\"]\napps = [\"*\"]\n"
        ),
    )
    .unwrap();
    let printed = attune.ok(&["config", "--config", config.to_str().unwrap()]);
    assert!(!printed.contains(admin), "{printed}");
    assert!(
        printed.contains(&attune_server::auth::sha256_hex(admin)),
        "{printed}"
    );

    let server = Server::start_with_env(
        &attune,
        None,
        &[("ATTUNE_CONFIG", config.to_str().unwrap())],
    );
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let post = |key: Option<&str>| {
        let mut req = agent
            .post(server.url("/v1/events"))
            .header("content-type", "application/json");
        if let Some(k) = key {
            req = req.header("authorization", &format!("Bearer {k}"));
        }
        let mut res = req
            .send(r#"{"event_id": "k1", "type": "view", "user_id": "u", "item_id": "i"}"#)
            .unwrap();
        (
            res.status().as_u16(),
            res.body_mut().read_to_string().unwrap(),
        )
    };
    let get = |path: &str, key: &str| {
        let mut res = agent
            .get(server.url(path))
            .header("x-api-key", key)
            .call()
            .unwrap();
        (
            res.status().as_u16(),
            res.body_mut().read_to_string().unwrap(),
        )
    };
    let (status, text) = post(None);
    assert_eq!(status, 401, "{text}");
    let (status, text) = post(Some("guess-guess-guess-guess"));
    assert_eq!(status, 401, "{text}");
    let (status, text) = post(Some(tracker));
    assert_eq!(status, 200, "{text}");
    let (status, text) = get("/v1/items", tracker);
    assert_eq!(status, 403, "{text}");
    assert!(text.contains(r#""required_scope":"read""#), "{text}");
    let (status, text) = get("/metrics", tracker);
    assert_eq!(status, 403, "{text}");
    let (status, text) = get("/metrics", admin);
    assert_eq!(status, 200, "{text}");
    assert!(
        text.contains(r#"attune_events_ingested_total{app="default",outcome="accepted"} 1"#),
        "{text}"
    );
    assert!(!server.log().contains(admin) && !server.log().contains(tracker));

    // A broken key entry stops the binary with one line naming the field.
    std::fs::write(
        &config,
        "[[auth.keys]]\nname = \"x\"\nkey = \"short\"\nscopes = [\"ingest\"]\napps = [\"*\"]\n",
    )
    .unwrap();
    let out = attune.run(&["config", "--config", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        describe(&out).contains("auth.keys[0].key"),
        "{}",
        describe(&out)
    );
    assert!(stdout(&out).is_empty());
}
