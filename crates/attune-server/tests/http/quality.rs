//! Monitoring of served lists in-process: lists served and clicked over HTTP are logged with
//! their reasons and latency; the quality report computes the figures from them; a
//! monitoring tick records them as series (read back over HTTP) and exports them at
//! `/metrics`; bad parameters are problems naming the field.

use std::time::{Duration, Instant};

use attune_store::{EventFilter, Store as _};
use serde_json::{json, Value};

use crate::common::TestServer;

fn shop(t: &TestServer) {
    let data = attune_testkit::generate(&attune_testkit::SyntheticConfig {
        n_users: 120,
        n_items: 60,
        n_events: 5_000,
        seed: 33,
        ..attune_testkit::SyntheticConfig::default()
    });
    t.store.upsert_items("default", &data.items).unwrap();
    t.store.insert_events("default", &data.events).unwrap();
}

fn impressions(t: &TestServer) -> Vec<attune_core::event::Event> {
    let mut out = Vec::new();
    t.store
        .scan_events("default", &EventFilter::default(), &mut |e| {
            if e.event_type == attune_core::event::EventType::Impression {
                out.push(e);
            }
            true
        })
        .unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn served_lists_become_quality_figures_series_and_metrics() {
    let t = TestServer::with_pipeline();
    shop(&t);
    let c = t.default_app();
    let r = c
        .post_json(
            "/v1/models/train",
            &json!({"algorithm": "popularity", "promote": "always"}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 202, "{}", r.text);
    let id = r.body["job_id"].as_str().unwrap().to_string();
    let started = Instant::now();
    while c.get(&format!("/v1/models/jobs/{id}")).await.body["status"] != "succeeded" {
        assert!(started.elapsed() < Duration::from_secs(60));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // 20 lists of 5; every fourth user clicks the first item.
    let mut reasons = std::collections::BTreeMap::new();
    let mut clicks = 0;
    for u in 0..20 {
        let user = format!("user-{u}");
        let list = c
            .get(&format!("/v1/users/{user}/recommendations?n=5"))
            .await
            .body;
        for item in list["items"].as_array().unwrap() {
            reasons.insert(
                (
                    list["recommendation_id"].as_str().unwrap().to_string(),
                    item["item_id"].as_str().unwrap().to_string(),
                ),
                item["explanation"]["kind"].as_str().unwrap().to_string(),
            );
        }
        if u % 4 == 0 {
            let click = json!({"type": "click", "user_id": user,
                               "item_id": list["items"][0]["item_id"],
                               "context": {"recommendation_id": list["recommendation_id"]}});
            assert_eq!(c.post_json("/v1/events", &click).await.status.as_u16(), 200);
            clicks += 1;
        }
    }
    // Impressions are written off the request path.
    let started = Instant::now();
    while impressions(&t).len() < 100 {
        assert!(started.elapsed() < Duration::from_secs(30));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Every impression carries the reason its item was served with; the first of each list
    // the time the list took.
    let logged = impressions(&t);
    assert_eq!(logged.len(), 100);
    for e in &logged {
        let text = |k: &str| match e.properties.extra.get(k) {
            Some(attune_core::event::PropValue::Text(t)) => t.clone(),
            other => panic!("{k}: {other:?}"),
        };
        let key = (text("recommendation_id"), e.item_id.clone().unwrap());
        assert_eq!(text("reason"), reasons[&key], "{e:?}");
        let first = e.event_id.ends_with(":1");
        assert_eq!(
            e.properties.extra.contains_key("latency_ms"),
            first,
            "{e:?}"
        );
    }

    let q = c.get("/v1/monitor/quality?window_secs=3600").await;
    assert_eq!(q.status.as_u16(), 200, "{}", q.text);
    let overall = &q.body["series"][0];
    assert_eq!(overall["labels"], json!({}), "{}", q.text);
    let figure = |s: &Value, name: &str| {
        s["figures"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f[0] == name)
            .map(|f| f[1].as_f64().unwrap())
    };
    assert_eq!(figure(overall, "lists"), Some(20.0));
    assert_eq!(figure(overall, "impressions"), Some(100.0));
    assert_eq!(figure(overall, "ctr"), Some(f64::from(clicks) / 100.0));
    assert!(figure(overall, "latency_p99_ms").unwrap() > 0.0);
    assert!(figure(overall, "coverage").unwrap() > 0.0);

    // A tick records the series; they are read back and exported.
    let pipeline = t.pipeline.as_ref().unwrap();
    let now = chrono::Utc::now().timestamp_micros();
    attune_pipeline::monitoring::monitor_app(
        pipeline,
        &attune_monitor::MonitorConfig::default(),
        "default",
        now,
    );
    let s = c
        .get("/v1/monitor/series?metric=ctr&labels=source:personalized")
        .await;
    assert_eq!(s.status.as_u16(), 200, "{}", s.text);
    let series = s.body["series"].as_array().unwrap();
    assert_eq!(series.len(), 1, "{}", s.text);
    assert_eq!(series[0]["points"][0][0], now);
    let personalized = q.body["series"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["labels"] == json!({"source": "personalized"}))
        .unwrap();
    assert_eq!(
        series[0]["points"][0][1].as_f64(),
        figure(personalized, "ctr")
    );
    let m = c.get("/metrics").await;
    let line = m
        .text
        .lines()
        .find(|l| {
            l.starts_with("attune_quality{")
                && l.contains("metric=\"ctr\"")
                && l.contains("group=\"all\"")
        })
        .unwrap_or_else(|| panic!("{}", m.text));
    let value: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert_eq!(value, f64::from(clicks) / 100.0);

    c.get("/v1/monitor/quality?window_secs=0")
        .await
        .assert_problem(400, "invalid_request", Some("window_secs"));
    c.get("/v1/monitor/series")
        .await
        .assert_problem(400, "invalid_request", Some("metric"));
    c.get("/v1/monitor/series?metric=ctr&labels=version")
        .await
        .assert_problem(400, "invalid_request", Some("labels"));
}
