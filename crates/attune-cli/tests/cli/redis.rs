//! `attune serve` with `[serving] redis_url` against its own real `redis-server` (on a free
//! port, so stopping it disturbs nobody): Redis going away degrades the service, which keeps
//! answering; Redis coming back is used again.

use std::time::{Duration, Instant};

use attune_testsupport::RedisServer;

use crate::common::Attune;
use crate::server::Server;

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
    let url = redis.url();
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
