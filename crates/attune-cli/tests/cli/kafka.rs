//! `[ingest.kafka]` against a real Kafka-protocol broker (tansu, one per test on a free port):
//! exactly-once storage through a kill -9 and a rebalance, the dead-letter topic, a click
//! sent to one replica changing the other's next list, and a broker that is away at start or
//! goes away. Built only with `--features kafka` (CI runs `--all-features`).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use attune_stream::tools::{create_topics, read_topic, Publisher};
use attune_stream::KafkaConfig;
use attune_testsupport::KafkaBroker;
use serde_json::{json, Value};

use crate::common::{describe, stdout, Attune};
use crate::server::Server;

fn kafka(broker: &KafkaBroker) -> KafkaConfig {
    KafkaConfig {
        brokers: broker.brokers(),
        ..KafkaConfig::default()
    }
}

fn create(c: &KafkaConfig) {
    let changes = c.changes_topic.clone().unwrap();
    let p = &c.publish;
    create_topics(
        c,
        &[
            (&c.topic, 4),
            (&c.dead_letter_topic, 1),
            (&changes, 1),
            (&p.lists, 1),
            (&p.impressions, 1),
            (&p.outcomes, 1),
        ],
    )
    .unwrap();
}

/// A config file: the broker, small batches (many commits per run), and group timings a test
/// can wait for (a dead member's partitions move after `session.timeout.ms`).
fn config_file(env: &Attune, brokers: &str, extra: &str) -> PathBuf {
    let path = env.path().join("kafka.toml");
    std::fs::write(
        &path,
        format!(
            r#"[ingest.kafka]
brokers = "{brokers}"
max_batch = 250
{extra}

[ingest.kafka.client]
"session.timeout.ms" = "6000"
"heartbeat.interval.ms" = "500"
"#
        ),
    )
    .unwrap();
    path
}

/// Message `i` of the stream: every 50th invalid (a rating out of range), the others valid;
/// half of the valid ones without an `event_id` (their id then comes from the log position).
fn message(i: usize) -> (String, Value, bool) {
    let user = format!("user-{}", i % 300);
    let item = format!("item-{}", (i * 7) % 500);
    if i % 50 == 49 {
        let v = json!({"event_id": format!("bad-{i}"), "type": "rating",
                       "user_id": user, "item_id": item, "value": 9});
        return (user, v, false);
    }
    let mut v = json!({"type": "click", "user_id": user, "item_id": item});
    if i.is_multiple_of(2) {
        v["event_id"] = json!(format!("e-{i}"));
    }
    (user, v, true)
}

fn stored_event_ids(env: &Attune) -> Vec<String> {
    stdout(&env.run(&["export", "events"]))
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            v["event_id"].as_str().unwrap().to_string()
        })
        .collect()
}

#[test]
fn every_valid_event_stored_once_through_a_kill_and_a_rebalance() {
    let broker = KafkaBroker::start();
    let c = kafka(&broker);
    create(&c);
    let env = Attune::new();
    let cfg = config_file(&env, &c.brokers, "");
    let consumer = || {
        env.command(&["consume", "--idle-exit-secs", "12", "--json"])
            .env("ATTUNE_CONFIG", &cfg)
            .env("ATTUNE_LOG__LEVEL", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn attune consume")
    };
    const N: usize = 30_000;
    let producer = {
        let c = c.clone();
        std::thread::spawn(move || {
            let p = Publisher::new(&c, Duration::from_millis(5)).unwrap();
            // About 5,000 a second, so both consumers and the kill land mid-stream.
            for chunk in (0..N).collect::<Vec<_>>().chunks(500) {
                let records: Vec<(String, Vec<u8>)> = chunk
                    .iter()
                    .map(|&i| {
                        let (key, v, _) = message(i);
                        (key, v.to_string().into_bytes())
                    })
                    .collect();
                p.send_all(&c.topic, &records).unwrap();
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    let mut a = consumer();
    std::thread::sleep(Duration::from_millis(1500));
    // B joins: the group rebalances the four partitions between A and B.
    let b = consumer();
    std::thread::sleep(Duration::from_millis(2500));
    // A dies without a word, mid-stream, holding partitions and perhaps a written but
    // uncommitted batch; its partitions move to B.
    a.kill().unwrap();
    a.wait().unwrap();
    producer.join().unwrap();
    let out = b.wait_with_output().unwrap();
    assert!(out.status.success(), "consumer B: {}", describe(&out));
    let totals: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("partitions assigned"), "{stderr}");

    let valid: Vec<usize> = (0..N).filter(|&i| message(i).2).collect();
    let invalid: Vec<usize> = (0..N).filter(|&i| !message(i).2).collect();
    // B did not read everything: A consumed part of the stream before it was killed.
    assert!(
        (totals["received"].as_u64().unwrap() as usize) < N,
        "{totals}"
    );

    let ids = stored_event_ids(&env);
    let unique: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "an event stored twice");
    assert_eq!(
        ids.len(),
        valid.len(),
        "stored {} of {} valid events",
        ids.len(),
        valid.len()
    );
    for i in valid.iter().filter(|&&i| i % 2 == 0) {
        assert!(unique.contains(&format!("e-{i}")), "e-{i} missing");
    }
    // The others got their id from where they sit in the log.
    let derived = ids
        .iter()
        .filter(|id| id.starts_with(&format!("{}-", c.topic)));
    assert_eq!(
        derived.count(),
        valid.iter().filter(|&&i| i % 2 == 1).count()
    );

    // Every invalid message is in the dead-letter topic with its reason (at least once).
    let letters = read_topic(
        &c,
        &c.dead_letter_topic,
        invalid.len() * 2,
        Duration::from_secs(10),
    )
    .unwrap();
    let mut dead = BTreeSet::new();
    for l in &letters {
        let v: Value = serde_json::from_slice(l).unwrap();
        assert_eq!(v["errors"][0]["field"], "value", "{v}");
        let payload: Value = serde_json::from_str(v["payload"].as_str().unwrap()).unwrap();
        dead.insert(payload["event_id"].as_str().unwrap().to_string());
    }
    let expected: BTreeSet<String> = invalid.iter().map(|i| format!("bad-{i}")).collect();
    assert_eq!(dead, expected, "consumer B's totals: {totals}");
}

/// The top item of `user`'s list on `server`.
fn list(server: &Server, user: &str) -> Vec<String> {
    let a = server
        .client()
        .get(&format!("/v1/users/{user}/recommendations?n=10"))
        .unwrap();
    assert_eq!(a.status, 200, "{}", a.body);
    a.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["item_id"].as_str().unwrap().to_string())
        .collect()
}

/// Poll `server` until `item` leaves `user`'s list; the time it took.
fn until_gone(server: &Server, user: &str, item: &str, start: Instant) -> Duration {
    loop {
        if !list(server, user).iter().any(|i| i == item) {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{item} still in {user}'s list on {} after 10 s; log:\n{}",
            server.addr,
            server.log()
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn a_click_on_one_replica_changes_the_other_replicas_next_list() {
    let broker = KafkaBroker::start();
    let c = kafka(&broker);
    create(&c);
    let env = Attune::new();
    env.ok(&[
        "demo",
        "--no-serve",
        "--data-dir",
        env.path().to_str().unwrap(),
    ]);
    let cfg = config_file(&env, &c.brokers, "fanout = true");
    let cfg_consume = env.path().join("kafka-consume.toml");
    std::fs::write(
        &cfg_consume,
        std::fs::read_to_string(&cfg).unwrap().replace(
            "fanout = true",
            "fanout = true\nconsume = true\npublish = true",
        ),
    )
    .unwrap();
    let a = Server::start_with_env(
        &env,
        None,
        &[("ATTUNE_CONFIG", cfg_consume.to_str().unwrap())],
    );
    let b = Server::start_with_env(&env, None, &[("ATTUNE_CONFIG", cfg.to_str().unwrap())]);

    // Over HTTP to A: B's list loses the purchased item. B has the user loaded, so only the
    // fan-out can tell it.
    let on_b = list(&b, "user-8");
    let served = a
        .client()
        .get("/v1/users/user-8/recommendations?n=10")
        .unwrap()
        .json();
    let top = top_of(&served);
    assert!(on_b.contains(&top), "{on_b:?} {served}");
    let rec_id = served["recommendation_id"].as_str().unwrap().to_string();
    let start = Instant::now();
    let body = json!({"type": "purchase", "user_id": "user-8", "item_id": top,
                      "context": {"recommendation_id": rec_id}})
    .to_string();
    let r = a.client().post("/v1/events", body.as_bytes()).unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let http_delay = until_gone(&b, "user-8", &top, start);

    // Through the events topic, consumed by A alone: both lists change. First a warm-up
    // event, so the delay measured is not A's group join.
    let p = Publisher::new(&c, Duration::ZERO).unwrap();
    let warm = json!({"type": "view", "user_id": "user-1", "item_id": "item-1"}).to_string();
    p.send_all(&c.topic, &[("user-1".into(), warm.into_bytes())])
        .unwrap();
    let written = "attune_stream_messages_total{source=\"kafka\",stage=\"written\"}";
    let deadline = Instant::now() + Duration::from_secs(30);
    while !a
        .client()
        .get("/metrics")
        .unwrap()
        .body
        .contains(&format!("{written} 1"))
    {
        assert!(
            Instant::now() < deadline,
            "the warm-up event was never written"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let top = list(&b, "user-9")[0].clone();
    assert!(list(&a, "user-9").contains(&top));
    let start = Instant::now();
    let event = json!({"type": "purchase", "user_id": "user-9", "item_id": top}).to_string();
    p.send_all(&c.topic, &[("user-9".into(), event.into_bytes())])
        .unwrap();
    let on_a = until_gone(&a, "user-9", &top, start);
    let on_b = until_gone(&b, "user-9", &top, start);
    eprintln!(
        "fan-out delay: HTTP on A -> list on B {http_delay:?}; Kafka -> A {on_a:?}, -> B {on_b:?}"
    );
    assert!(http_delay < Duration::from_secs(2), "{http_delay:?}");
    assert!(on_b < Duration::from_secs(2), "{on_b:?}");

    // The stream stages are in /metrics.
    let metrics = a.client().get("/metrics").unwrap().body;
    assert!(metrics.contains(&format!("{written} 2")), "{metrics}");
    assert!(metrics.contains("attune_stream_connected{source=\"kafka-changes\"} 1"));

    // A catalog change on A reaches B the same way: B applies one more change.
    let applied = |s: &Server| {
        let body = s.client().get("/metrics").unwrap().body;
        let line = "attune_stream_messages_total{source=\"kafka-changes\",stage=\"written\"} ";
        body.lines()
            .find_map(|l| l.strip_prefix(line))
            .map_or(0.0, |v| v.parse::<f64>().unwrap())
    };
    let before = applied(&b);
    let item = json!({"title": "Trail running shoes", "categories": ["shoes"]}).to_string();
    let r = a
        .client()
        .put("/v1/items/sku-new-1", item.as_bytes())
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let deadline = Instant::now() + Duration::from_secs(5);
    while applied(&b) < before + 1.0 {
        assert!(Instant::now() < deadline, "B never applied the item change");
        std::thread::sleep(Duration::from_millis(10));
    }

    // A published the list it served, its impressions and the purchase that named it.
    let read = |topic: &str, n: usize| -> Vec<Value> {
        read_topic(&c, topic, n, Duration::from_secs(15))
            .unwrap()
            .iter()
            .map(|m| serde_json::from_slice(m).unwrap())
            .collect()
    };
    let lists = read(&c.publish.lists, 3);
    let list8 = lists
        .iter()
        .find(|l| l["recommendation_id"] == rec_id.as_str())
        .unwrap_or_else(|| panic!("{lists:?}"));
    assert_eq!(list8["user_id"], "user-8");
    assert_eq!(list8["app"], "default");
    assert_eq!(list8["items"][0]["item_id"], top_of(&served));
    let impressions = read(&c.publish.impressions, 30);
    let of_list: Vec<&Value> = impressions
        .iter()
        .filter(|e| e["properties"]["recommendation_id"] == rec_id.as_str())
        .collect();
    assert_eq!(
        of_list.len(),
        served["items"].as_array().unwrap().len(),
        "{impressions:?}"
    );
    assert_eq!(of_list[0]["type"], "impression");
    let outcomes = read(&c.publish.outcomes, 1);
    assert_eq!(outcomes.len(), 1, "{outcomes:?}");
    assert_eq!(outcomes[0]["type"], "purchase");
    assert_eq!(outcomes[0]["context"]["recommendation_id"], rec_id.as_str());
}

fn top_of(list: &Value) -> String {
    list["items"][0]["item_id"].as_str().unwrap().to_string()
}

#[test]
fn a_broker_away_makes_the_replica_unready_and_nothing_is_lost_when_it_returns() {
    let mut broker = KafkaBroker::start();
    let c = kafka(&broker);
    broker.kill();
    let env = Attune::new();
    let cfg = config_file(&env, &c.brokers, "consume = true");
    let server = Server::start_listening(&env, &[("ATTUNE_CONFIG", cfg.to_str().unwrap())]);
    let unready = |server: &Server| {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let r = server.client().get("/ready").unwrap();
            if r.status == 503 {
                assert_eq!(r.json()["readiness"], "stream_unreachable", "{}", r.body);
                assert_eq!(r.json()["streams"][0]["source"], "kafka");
                return;
            }
            assert!(Instant::now() < deadline, "still ready: {}", r.body);
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    unready(&server);

    let stored = |n: usize| {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let count = stdout(&env.run(&["export", "events"])).lines().count();
            if count == n {
                return;
            }
            assert!(count < n, "{count} stored, expected {n}");
            assert!(
                Instant::now() < deadline,
                "{count} of {n} stored; log:\n{}",
                server.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    };

    // The broker comes up: the consumer finds it, the replica becomes ready, events flow.
    broker.spawn();
    create(&c);
    server.wait_ready();
    send_events(&c, 0, 500);
    stored(500);

    // It goes away (frozen, as behind a partition): unready, and what was stored stays.
    broker.pause();
    unready(&server);
    stored(500);
    // Events sent meanwhile wait in the producer; when the broker is back they are delivered,
    // consumed and stored, and nothing stored before is lost or repeated.
    let sender = std::thread::spawn({
        let c = c.clone();
        move || send_events(&c, 500, 800)
    });
    std::thread::sleep(Duration::from_secs(3));
    broker.resume();
    sender.join().unwrap();
    server.wait_ready();
    stored(800);
}

fn send_events(c: &KafkaConfig, from: usize, to: usize) {
    let p = Publisher::new(c, Duration::from_millis(5)).unwrap();
    let records: Vec<(String, Vec<u8>)> = (from..to)
        .map(|i| {
            let v = json!({"event_id": format!("e-{i}"), "type": "view",
                           "user_id": format!("user-{}", i % 10), "item_id": "item-1"});
            (format!("user-{}", i % 10), v.to_string().into_bytes())
        })
        .collect();
    p.send_all(&c.topic, &records).unwrap();
}

/// RabbitMQ (the machine's broker on 5672, queues unique to this test): two competing
/// consumers, one killed mid-stream; every valid event stored once, every invalid one (and
/// every one that has neither an `event_id` nor a `message_id`) in the dead-letter queue.
#[test]
fn rabbitmq_stores_every_valid_event_once_through_a_kill() {
    use attune_stream::rabbit::{drain_queue, publish_all};
    let url = "amqp://guest:guest@127.0.0.1:5672/%2f";
    let tag = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_micros()
    );
    let queue = format!("attune-test-{tag}");
    let dead_queue = format!("attune-test-{tag}-dead");
    const N: usize = 12_000;
    // Message i: every 50th invalid (a rating out of range); of the valid ones, every 3rd
    // without an event_id but with a message_id, and every 997th with neither (refused).
    let messages: Vec<(Option<String>, Vec<u8>, &str)> = (0..N)
        .map(|i| {
            let (_, mut v, valid) = message(i);
            v.as_object_mut().unwrap().remove("event_id");
            let (id, kind) = if !valid {
                v["event_id"] = json!(format!("bad-{i}"));
                (None, "invalid")
            } else if i % 997 == 0 {
                (None, "anonymous")
            } else if i % 3 == 0 {
                (Some(format!("m-{i}")), "message_id")
            } else {
                v["event_id"] = json!(format!("e-{i}"));
                (None, "event_id")
            };
            (id, v.to_string().into_bytes(), kind)
        })
        .collect();
    let to_send: Vec<(Option<String>, Vec<u8>)> = messages
        .iter()
        .map(|(id, p, _)| (id.clone(), p.clone()))
        .collect();
    publish_all(url, &queue, &to_send).unwrap();

    let env = Attune::new();
    let cfg = env.path().join("rabbit.toml");
    std::fs::write(
        &cfg,
        format!(
            "[ingest.rabbitmq]\nurl = \"{url}\"\nqueue = \"{queue}\"\ndead_letter_queue = \"{dead_queue}\"\nmax_batch = 500\n"
        ),
    )
    .unwrap();
    let consumer = || {
        env.command(&[
            "consume",
            "--source",
            "rabbitmq",
            "--idle-exit-secs",
            "4",
            "--json",
        ])
        .env("ATTUNE_CONFIG", &cfg)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn attune consume")
    };
    let mut a = consumer();
    let b = consumer();
    std::thread::sleep(Duration::from_millis(1200));
    // A dies holding unacknowledged deliveries: the broker gives them to B.
    a.kill().unwrap();
    a.wait().unwrap();
    let out = b.wait_with_output().unwrap();
    assert!(out.status.success(), "consumer B: {}", describe(&out));
    let totals: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert!(
        (totals["received"].as_u64().unwrap() as usize) < N,
        "A consumed nothing: {totals}"
    );

    let stored_ids = stored_event_ids(&env);
    let unique: BTreeSet<&String> = stored_ids.iter().collect();
    assert_eq!(unique.len(), stored_ids.len(), "an event stored twice");
    let expected: BTreeSet<String> = messages
        .iter()
        .enumerate()
        .filter_map(|(i, (_, _, kind))| match *kind {
            "event_id" => Some(format!("e-{i}")),
            "message_id" => Some(format!("{queue}-m-{i}")),
            _ => None,
        })
        .collect();
    assert_eq!(unique.len(), expected.len());
    assert!(expected.iter().all(|id| unique.contains(id)));

    let n_dead = messages
        .iter()
        .filter(|m| m.2 == "invalid" || m.2 == "anonymous")
        .count();
    let letters = drain_queue(url, &dead_queue, n_dead * 2, Duration::from_secs(5)).unwrap();
    let mut fields = BTreeSet::new();
    let mut dead = BTreeSet::new();
    for l in &letters {
        let v: Value = serde_json::from_slice(l).unwrap();
        fields.insert(v["errors"][0]["field"].as_str().unwrap().to_string());
        dead.insert(v["payload"].as_str().unwrap().to_string());
    }
    let expected_dead: BTreeSet<String> = messages
        .iter()
        .filter(|m| m.2 == "invalid" || m.2 == "anonymous")
        .map(|m| String::from_utf8(m.1.clone()).unwrap())
        .collect();
    assert_eq!(dead, expected_dead);
    assert_eq!(
        fields,
        BTreeSet::from(["event_id".to_string(), "value".to_string()])
    );
}
