//! `GET /v1/alerts` and `GET /v1/alerts/rules` over alert states the monitoring evaluation
//! wrote to the store (a firing rule alert whose webhook refused the connection, a pending
//! one, an event alert), through the real router.

use std::sync::Arc;
use std::time::Duration;

use attune_monitor::alerts::{self, AlertRule, EventAlert, Notifier, SinksConfig, WebhookConfig};
use attune_monitor::series::labels;
use attune_store::{MetricPoint, MonitorStore as _};
use serde_json::json;

use crate::common::TestServer;

const MIN: i64 = 60_000_000;

fn rules() -> Vec<AlertRule> {
    serde_json::from_value(json!([
        {"name": "ctr_low", "metric": "ctr", "match_labels": {"source": "model"},
         "window_secs": 600, "condition": "below", "threshold": 0.02, "severity": "critical",
         "summary": "CTR {value} below {threshold}"},
        {"name": "latency_high", "metric": "latency_p99_ms", "condition": "above",
         "threshold": 250, "for_secs": 3600}
    ]))
    .unwrap()
}

#[tokio::test]
async fn alerts_are_listed_firing_first_with_their_delivery_and_rules_as_configured() {
    let mut notifier = None;
    let t = TestServer::with_state(|state, store, dir| {
        let engine = attune_serving::Serving::new(
            store.clone(),
            dir,
            attune_serving::ServingConfig::default(),
            attune_core::event::EventWeighting::default(),
        );
        // A receiver that is not there: the delivery fails, and the listing says so.
        let sinks = SinksConfig {
            webhooks: vec![WebhookConfig {
                name: "ops".into(),
                url: "http://127.0.0.1:9/hook".into(),
            }],
            max_attempts: 1,
            ..SinksConfig::default()
        };
        let n = Arc::new(Notifier::new(store.clone(), &sinks).unwrap());
        notifier = Some(n.clone());
        let pipeline = attune_pipeline::Pipeline::new(
            Arc::new(engine),
            attune_pipeline::PipelineConfig::default(),
        )
        .with_notifier(n);
        state
            .with_pipeline(Arc::new(pipeline))
            .with_alert_rules(rules())
    });
    let notifier = notifier.unwrap();
    let now = chrono::Utc::now().timestamp_micros();
    let point = |metric: &str, l: &[(&str, &str)], value: f64| MetricPoint {
        metric: metric.into(),
        labels: labels(l),
        at_micros: now - MIN,
        value,
    };
    t.store
        .put_points(
            "default",
            &[
                point("ctr", &[("source", "model")], 0.01),
                point("ctr", &[("source", "popular")], 0.001),
                point("latency_p99_ms", &[], 400.0),
            ],
        )
        .unwrap();
    let n = notifier.clone();
    tokio::task::spawn_blocking(move || {
        alerts::evaluate(&n, "default", &rules(), now).unwrap();
        n.send_at(
            "default",
            &EventAlert::resolved("model_rolled_back").label("model_version", "4"),
            now,
        )
        .unwrap();
        assert!(n.wait_idle(Duration::from_secs(30)));
    })
    .await
    .unwrap();

    let r = t.default_app().get("/v1/alerts").await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.text);
    let list = r.body["alerts"].as_array().unwrap();
    let order: Vec<(&str, &str)> = list
        .iter()
        .map(|a| (a["rule"].as_str().unwrap(), a["state"].as_str().unwrap()))
        .collect();
    assert_eq!(
        order,
        vec![
            ("ctr_low", "firing"),
            ("latency_high", "pending"),
            ("model_rolled_back", "resolved"),
        ]
    );
    let ctr = &list[0];
    assert_eq!(ctr["labels"], json!({"source": "model"}));
    assert_eq!(ctr["value"], 0.01);
    assert_eq!(ctr["since_micros"], now);
    assert_eq!(ctr["fired_micros"], now);
    assert_eq!(ctr["source"], "rule");
    assert_eq!(ctr["severity"], "critical");
    assert_eq!(ctr["annotations"]["summary"], "CTR 0.01 below 0.02");
    let d = &ctr["delivery"]["webhook:ops"];
    assert_eq!(d["status"], "firing");
    assert_eq!(d["state"], "failed");
    assert_eq!(d["attempts"], 1);
    assert!(d["error"].as_str().is_some_and(|e| !e.is_empty()), "{d}");
    assert_eq!(
        list[1]["delivery"],
        json!({}),
        "pending alerts notify nobody"
    );
    assert_eq!(list[2]["source"], "event");
    assert_eq!(list[2]["value"], serde_json::Value::Null);

    let r = t.default_app().get("/v1/alerts/rules").await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.text);
    assert_eq!(r.body["sinks"], json!(["log", "webhook:ops"]));
    assert_eq!(r.body["rules"][0]["name"], "ctr_low");
    assert_eq!(
        r.body["rules"][0]["aggregate"], "mean",
        "defaults are filled in"
    );
    assert_eq!(r.body["rules"][1]["for_secs"], 3600);
    let back: Vec<AlertRule> = serde_json::from_value(r.body["rules"].clone()).unwrap();
    assert_eq!(
        back,
        rules(),
        "the document reads back as the configuration"
    );

    // Another app has none; an unknown one is a problem naming the header.
    t.create_app("other").await;
    let r = t.app("other").get("/v1/alerts").await;
    assert_eq!(r.body, json!({"alerts": []}));
    t.app("nope")
        .get("/v1/alerts")
        .await
        .assert_problem(404, "unknown_app", None);
}
