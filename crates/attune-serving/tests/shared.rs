//! Several serving replicas sharing one SQLite store and one real Redis: events ingested by one
//! replica show in another's next list, lists computed by one are served by another, and an
//! outage (a killed Redis, a replica cut off from it) is answered in degraded mode and
//! recovered from. Every test runs its own `redis-server` on a free port, so stopping it
//! disturbs nothing else.

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use attune_core::event::{Event, EventType};
use attune_serving::{
    RecRequest, RedisConfig, RedisShared, Serving, SharedGeneration, SharedState, Source,
};
use attune_testsupport::RedisServer;
use common::{engine, event, ids, parity, shop, train, Shop, ALS, APP, T0};

/// A client of the test's own Redis, to inspect or change it behind the replicas' backs.
fn connect(redis: &RedisServer) -> redis::Connection {
    redis::Client::open(redis.url())
        .unwrap()
        .get_connection()
        .unwrap()
}

/// Short pauses so the tests see recovery quickly; production defaults otherwise.
fn backend(url: &str) -> RedisShared {
    RedisShared::open(RedisConfig {
        url: url.into(),
        retry_interval: Duration::from_millis(200),
        ..RedisConfig::default()
    })
    .unwrap()
}

/// A serving replica over the shop's store and models, sharing state through `url`.
fn replica(shop: &Shop, url: &str) -> Serving {
    engine(shop).with_shared(Arc::new(backend(url)))
}

fn req(n: usize) -> RecRequest {
    RecRequest {
        n,
        ..RecRequest::default()
    }
}

/// u04 (an even user) suddenly buys odd items, committed to the store.
fn odd_burst(shop: &Shop) -> Vec<Event> {
    let burst: Vec<Event> = [1u32, 3, 5, 7, 9, 11, 13, 15]
        .iter()
        .enumerate()
        .map(|(n, i)| {
            event(
                n + 100,
                "u04",
                &format!("i{i:02}"),
                EventType::Purchase,
                T0 + 2_000_000_000 + n as i64,
            )
        })
        .collect();
    shop.store.insert_events(APP, &burst).unwrap();
    burst
}

fn odd_count(list: &attune_serving::RecList) -> usize {
    ids(list).iter().filter(|i| parity(i) == 1).count()
}

fn count(c: &std::sync::atomic::AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}

/// Call `f` until `done`, every 10 ms, for at most `limit`; how long it took.
fn until(limit: Duration, mut f: impl FnMut() -> bool) -> Option<Duration> {
    let t = Instant::now();
    while t.elapsed() < limit {
        if f() {
            return Some(t.elapsed());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

#[test]
fn an_event_ingested_by_one_replica_shows_in_the_next_list_of_another() {
    let redis = RedisServer::start();
    let shop = shop();
    train(&shop, ALS, true);
    let a = replica(&shop, &redis.url());
    let b = replica(&shop, &redis.url());
    // A replica without shared state, for contrast: it cannot know.
    let alone = engine(&shop);
    let before = b.recommend(APP, "u04", &req(6), true).unwrap();
    assert!(odd_count(&before) <= 1, "{:?}", ids(&before));
    a.recommend(APP, "u04", &req(6), true).unwrap();
    alone.recommend(APP, "u04", &req(6), true).unwrap();

    let burst = odd_burst(&shop);
    a.observe(APP, &burst);

    let after = b.recommend(APP, "u04", &req(6), true).unwrap();
    assert!(!after.cached, "B reloaded u04 and computed a new list");
    assert!(
        odd_count(&after) >= 4,
        "after buying odd items: {:?}",
        ids(&after)
    );
    assert!(
        ids(&after)
            .iter()
            .all(|i| !["i01", "i03", "i05"].contains(&i.as_str())),
        "bought items are seen: {:?}",
        ids(&after)
    );
    // A's own state was stamped before its event, so it reloads too, and finds B's list.
    let hits = count(&a.stats.shared_hits);
    let on_a = a.recommend(APP, "u04", &req(6), true).unwrap();
    assert_eq!(ids(&on_a), ids(&after));
    assert!(on_a.cached);
    assert_eq!(count(&a.stats.shared_hits), hits + 1);
    // The same request on the lone replica still answers from its old state.
    let stale = alone.recommend(APP, "u04", &req(6), true).unwrap();
    assert!(
        stale.cached && ids(&stale) == ids(&before),
        "{:?}",
        ids(&stale)
    );
    for r in [&a, &b] {
        assert_eq!(count(&r.stats.shared_errors), 0);
        assert!(!r.stats.is_degraded());
    }
}

#[test]
fn a_list_computed_by_one_replica_is_served_by_another_until_activation() {
    let redis = RedisServer::start();
    let shop = shop();
    let v1 = train(&shop, "item-knn:neighbours=10", true);
    let a = replica(&shop, &redis.url());
    let b = replica(&shop, &redis.url());
    let computed = a.recommend(APP, "u07", &req(5), true).unwrap();
    assert!(!computed.cached);
    let shared = b.recommend(APP, "u07", &req(5), true).unwrap();
    assert!(shared.cached);
    assert_eq!(count(&b.stats.shared_hits), 1);
    assert_eq!(count(&b.stats.cache_misses), 0, "B computed nothing");
    // Same items, scores, reasons and explanations (rendered from B's own snapshot); a new
    // recommendation id.
    assert_eq!(shared.items, computed.items);
    assert_eq!(shared.source, Source::Personalized);
    assert_eq!(shared.model_version, Some(v1));
    assert_ne!(shared.recommendation_id, computed.recommendation_id);
    // Next time B has it in memory; other parameters are another list.
    assert!(b.recommend(APP, "u07", &req(5), true).unwrap().cached);
    assert_eq!(
        (count(&b.stats.cache_hits), count(&b.stats.shared_hits)),
        (1, 1)
    );
    assert!(!b.recommend(APP, "u07", &req(3), true).unwrap().cached);
    assert_eq!(count(&b.stats.cache_misses), 1);

    // Latency of a request answered from memory, with the generation read from Redis first,
    // against a replica without shared state (printed, not asserted: the machine is shared).
    let alone = engine(&shop);
    alone.recommend(APP, "u07", &req(5), true).unwrap();
    let per_request = |s: &Serving| {
        let t = Instant::now();
        for _ in 0..2000 {
            assert!(s.recommend(APP, "u07", &req(5), true).unwrap().cached);
        }
        t.elapsed() / 2000
    };
    let (with_redis, without) = (per_request(&b), per_request(&alone));
    let t = Instant::now();
    let n_shared = 200;
    for u in 0..n_shared {
        a.recommend(APP, &format!("u{:02}", u % 40), &req(4 + u / 40), true)
            .unwrap();
    }
    let computed_and_put = t.elapsed() / n_shared as u32;
    let t = Instant::now();
    for u in 0..n_shared {
        let l = b
            .recommend(APP, &format!("u{:02}", u % 40), &req(4 + u / 40), true)
            .unwrap();
        assert!(l.cached);
    }
    let from_redis = t.elapsed() / n_shared as u32;
    eprintln!(
        "per request: local hit {without:?} alone, {with_redis:?} with the Redis generation \
         read; computed + shared {computed_and_put:?}; served from Redis {from_redis:?}"
    );

    // A new version: B's lists of v1 are not served for v2.
    let v2 = train(&shop, "ease:lambda=10", false);
    a.activate(APP, v2).unwrap();
    assert_eq!(b.refresh(APP).unwrap(), Some(v2));
    let hits = count(&b.stats.shared_hits);
    let next = b.recommend(APP, "u07", &req(5), true).unwrap();
    assert_eq!(next.model_version, Some(v2));
    assert!(!next.cached);
    assert_eq!(count(&b.stats.shared_hits), hits);
    assert!(!a.stats.is_degraded() && !b.stats.is_degraded());
}

#[test]
fn a_killed_redis_degrades_replicas_and_a_restarted_one_is_used_again() {
    let mut redis = RedisServer::start();
    let shop = shop();
    train(&shop, ALS, true);
    let a = replica(&shop, &redis.url());
    let b = replica(&shop, &redis.url());
    a.recommend(APP, "u10", &req(5), true).unwrap();
    // B holds a pooled connection to the server about to die.
    assert!(b.recommend(APP, "u10", &req(5), true).unwrap().cached);
    assert!(!a.stats.is_degraded());

    redis.kill();
    let mut slowest = Duration::ZERO;
    for n in 0..50 {
        let t = Instant::now();
        // Users already loaded and new ones: all answered from this replica's memory/store.
        let user = format!("u{:02}", 10 + n % 5);
        let list = a.recommend(APP, &user, &req(5), true).unwrap();
        assert_eq!(list.items.len(), 5);
        slowest = slowest.max(t.elapsed());
    }
    assert!(a.stats.is_degraded());
    let errors = count(&a.stats.shared_errors);
    assert!(
        errors >= 50,
        "every request's generation read failed: {errors}"
    );
    // Events keep being applied locally while their generations cannot be recorded.
    let burst = odd_burst(&shop);
    a.observe(APP, &burst);
    let on_a = a.recommend(APP, "u04", &req(6), true).unwrap();
    assert!(odd_count(&on_a) >= 4, "{:?}", ids(&on_a));
    assert!(slowest < Duration::from_secs(1), "slowest {slowest:?}");

    let down_at = Instant::now();
    redis.restart();
    let restarted = down_at.elapsed();
    let recovery = until(Duration::from_secs(5), || {
        a.recommend(APP, "u10", &req(5), true).unwrap();
        !a.stats.is_degraded()
    })
    .expect("A uses Redis again within 5 s of its restart");
    eprintln!(
        "outage: slowest request {slowest:?}; redis-server restarted in {restarted:?}, \
         A back on Redis {recovery:?} later"
    );
    // Shared again: a list A computes now is served to B from Redis.
    let errors = count(&a.stats.shared_errors);
    a.recommend(APP, "u20", &req(5), true).unwrap();
    let shared = b.recommend(APP, "u20", &req(5), true).unwrap();
    assert!(shared.cached);
    assert_eq!(count(&b.stats.shared_hits), 2);
    // B's pooled connection died with the old server; it reconnected without an error.
    assert_eq!(count(&b.stats.shared_errors), 0);
    assert_eq!(count(&a.stats.shared_errors), errors);
    assert!(!a.stats.is_degraded() && !b.stats.is_degraded());
    // The outage's events are in B's view too (it loads u04 from the store).
    let on_b = b.recommend(APP, "u04", &req(6), true).unwrap();
    assert_eq!(ids(&on_b), ids(&on_a));
}

#[test]
fn a_replica_cut_off_from_redis_makes_the_others_reload_when_it_returns() {
    let redis = RedisServer::start();
    let mut admin = connect(&redis);
    let acl = |admin: &mut redis::Connection, args: &[&str]| {
        redis::cmd("ACL").arg(args).query::<()>(admin).unwrap();
    };
    acl(
        &mut admin,
        &["SETUSER", "replica-a", "on", ">secret", "~*", "&*", "+@all"],
    );
    let shop = shop();
    train(&shop, ALS, true);
    let a = replica(
        &shop,
        &format!("redis://replica-a:secret@127.0.0.1:{}", redis.port()),
    );
    let b = replica(&shop, &redis.url());
    let before = a.recommend(APP, "u04", &req(6), true).unwrap();
    assert!(b.recommend(APP, "u04", &req(6), true).unwrap().cached);

    // Cut A off (Redis keeps running and keeps its data): A's events change u04, but no
    // generation records it.
    acl(&mut admin, &["SETUSER", "replica-a", "off"]);
    redis::cmd("CLIENT")
        .arg(&["KILL", "USER", "replica-a"])
        .query::<()>(&mut admin)
        .unwrap();
    let burst = odd_burst(&shop);
    a.observe(APP, &burst);
    assert!(a.stats.is_degraded());
    assert!(count(&a.stats.shared_errors) >= 1);
    // B cannot know yet: it answers what it had (the honest limit of a partition).
    let stale = b.recommend(APP, "u04", &req(6), true).unwrap();
    assert_eq!(ids(&stale), ids(&before));
    assert!(!b.stats.is_degraded());

    // A is let back in; its first successful call gives the app a new epoch.
    acl(&mut admin, &["SETUSER", "replica-a", "on"]);
    until(Duration::from_secs(5), || {
        a.recommend(APP, "u06", &req(5), true).unwrap();
        !a.stats.is_degraded()
    })
    .expect("A uses Redis again within 5 s");
    let after = b.recommend(APP, "u04", &req(6), true).unwrap();
    assert!(!after.cached, "B reloaded u04: {:?}", ids(&after));
    assert!(odd_count(&after) >= 4, "{:?}", ids(&after));
}

#[test]
fn the_redis_backend_hands_out_generations_that_never_come_back() {
    let redis = RedisServer::start();
    let r = backend(&redis.url());
    let g = |u: &str| r.user_generation(APP, u).unwrap();
    let g1 = g("u1");
    assert_eq!(g("u1"), g1, "reading does not change it");
    let other = g("u2");
    assert_eq!(other.epoch, g1.epoch);
    r.bump_users(APP, &["u1".into()]).unwrap();
    let g2 = g("u1");
    assert_ne!(g2, g1);
    assert_eq!((g2.epoch, g("u2")), (g1.epoch, other));
    r.renew_epoch(APP).unwrap();
    let g3 = g("u1");
    assert_ne!(g3.epoch, g2.epoch);
    assert_eq!(g3.user, g2.user);
    // A key Redis lost (evicted, expired, flushed) comes back as a new token, never an old one.
    let mut admin = connect(&redis);
    redis::cmd("DEL")
        .arg(attune_serving::shared::generation_key(APP, "u1"))
        .query::<()>(&mut admin)
        .unwrap();
    let g4 = g("u1");
    assert!(![g1.user, g2.user].contains(&g4.user));
    redis::cmd("FLUSHALL").query::<()>(&mut admin).unwrap();
    let g5: SharedGeneration = g("u1");
    assert!(![g1.epoch, g3.epoch].contains(&g5.epoch));
    assert!(![g1.user, g2.user, g4.user].contains(&g5.user));
    // Lists expire after their TTL.
    r.put_list(
        "attune:shop:list:test",
        b"bytes",
        Duration::from_millis(150),
    )
    .unwrap();
    assert_eq!(
        r.get_list("attune:shop:list:test").unwrap(),
        Some(b"bytes".to_vec())
    );
    std::thread::sleep(Duration::from_millis(250));
    assert_eq!(r.get_list("attune:shop:list:test").unwrap(), None);
}

#[test]
fn a_redis_restored_from_an_older_snapshot_changes_every_generation() {
    let mut redis = RedisServer::start();
    let r = backend(&redis.url());
    let g = |u: &str| r.user_generation(APP, u).unwrap();
    let seen = g("u1");
    let mut admin = connect(&redis);
    redis::cmd("SAVE").query::<()>(&mut admin).unwrap();
    // A change the snapshot does not have, then a crash and a restart that loads the snapshot.
    r.bump_users(APP, &["u1".into()]).unwrap();
    assert_ne!(g("u1"), seen);
    redis.restart();
    let mut admin = connect(&redis);
    let restored: Option<String> = redis::cmd("GET")
        .arg(attune_serving::shared::generation_key(APP, "u1"))
        .query(&mut admin)
        .unwrap();
    assert_eq!(
        restored,
        Some(seen.user.to_string()),
        "the old token is back"
    );
    // Yet no replica can mistake it for the generation it loaded u1 at.
    let after = g("u1");
    assert_eq!(after.user, seen.user);
    assert_ne!(after, seen);
}
