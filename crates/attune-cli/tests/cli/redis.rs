//! `attune serve` with `[serving] redis_url` against its own real `redis-server` (on a free
//! port, so stopping it disturbs nobody): Redis going away degrades the service, which keeps
//! answering; Redis coming back is used again.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::Attune;
use crate::server::Server;

struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
}

impl RedisServer {
    fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut r = Self {
            child: None,
            port,
            dir: tempfile::tempdir().unwrap(),
        };
        r.spawn();
        r
    }

    fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--dir"])
            .arg(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server on PATH");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !ping(self.port) {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn ping(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
    let mut buf = [0u8; 7];
    s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
}

fn metric(server: &Server, prefix: &str) -> Option<f64> {
    let body = server.client().get("/metrics").unwrap().body;
    body.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[test]
fn redis_outage_degrades_and_recovers_without_failed_requests() {
    let mut redis = RedisServer::start();
    let env = Attune::new();
    env.ok(&[
        "demo",
        "--no-serve",
        "--data-dir",
        env.path().to_str().unwrap(),
    ]);
    let url = format!("redis://127.0.0.1:{}", redis.port);
    let server = Server::start_with_env(&env, None, &[("ATTUNE_SERVING__REDIS_URL", &url)]);
    let c = server.client();
    let ok = |path: &str| {
        let a = c.get(path).unwrap();
        assert_eq!(a.status, 200, "{path}: {}", a.body);
        a.json()
    };
    ok("/v1/users/user-8/recommendations?n=5");
    // The second request is a hit (local, with the generation checked in Redis).
    assert_eq!(ok("/v1/users/user-8/recommendations?n=5")["cached"], true);
    assert_eq!(
        metric(&server, "attune_degraded{app=\"default\",reason=\"redis\"}"),
        Some(0.0)
    );

    redis.kill();
    // Every request still succeeds, from the in-process path.
    for u in 0..20 {
        ok(&format!("/v1/users/user-{u}/recommendations?n=5"));
    }
    assert_eq!(
        metric(&server, "attune_degraded{app=\"default\",reason=\"redis\"}"),
        Some(1.0)
    );
    let errors = metric(&server, "attune_serving_events{kind=\"shared_errors\"}").unwrap();
    assert!(errors >= 1.0, "{errors}");
    // Events are still ingested and reflected while Redis is down.
    let a = c
        .post(
            "/v1/events",
            br#"{"type":"purchase","user_id":"user-8","item_id":"item-1"}"#,
        )
        .unwrap();
    assert_eq!(a.status, 200, "{}", a.body);

    redis.spawn();
    let start = Instant::now();
    loop {
        ok("/v1/users/user-8/recommendations?n=5");
        if metric(&server, "attune_degraded{app=\"default\",reason=\"redis\"}") == Some(0.0) {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "never recovered");
        std::thread::sleep(Duration::from_millis(100));
    }
    let hits = metric(&server, "attune_serving_events{kind=\"shared_hits\"}");
    assert!(hits.is_some());
}
