//! `attune alerts` against a real data directory and real HTTP receivers: a rule configured in
//! the file fires on stored points, `alerts evaluate` posts Alertmanager's webhook JSON and
//! records the delivery, `alerts` lists it, the metric recovers and it resolves;
//! `alerts rules` prints the configuration and `alerts test-webhook` retries and reports.

use attune_store::sqlite::SqliteStore;
use attune_store::{MetricPoint, MonitorStore as _, Store as _};
use attune_testsupport::HookReceiver;
use serde_json::Value;

use crate::common::{describe, stdout, Attune};

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// A config file with one rule and one webhook to `hook`; returns its path.
fn config(env: &Attune, hook: &HookReceiver) -> String {
    let path = env.path().join("alerts.toml");
    let text = format!(
        r#"
[[monitor.alerts]]
name = "ctr_low"
metric = "ctr"
match_labels = {{ source = "model" }}
window_secs = 300
condition = "below"
threshold = 0.02
severity = "critical"
summary = "CTR {{value}} below {{threshold}}"

[monitor.sinks]
external_url = "http://attune.test:8080"
initial_backoff_ms = 5
max_backoff_ms = 20

[[monitor.sinks.webhooks]]
name = "ops"
url = "{}"
"#,
        hook.url("/hook")
    );
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

fn put_ctr(env: &Attune, seconds_ago: i64, value: f64) {
    let store = SqliteStore::open(env.path().join("attune.db")).unwrap();
    store.create_app("default").unwrap();
    let now = chrono::Utc::now().timestamp_micros();
    store
        .put_points(
            "default",
            &[MetricPoint {
                metric: "ctr".into(),
                labels: [("source".to_string(), "model".to_string())].into(),
                at_micros: now - seconds_ago * 1_000_000,
                value,
            }],
        )
        .unwrap();
}

#[test]
fn a_configured_rule_fires_to_a_webhook_is_listed_and_resolves() {
    let env = Attune::new();
    let hook = HookReceiver::start();
    let cfg = config(&env, &hook);
    put_ctr(&env, 60, 0.01);

    let out = json(&env.ok(&["--config", &cfg, "alerts", "evaluate", "--json"]));
    let changes = out["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{out}");
    assert_eq!(changes[0]["rule"], "ctr_low");
    assert_eq!(
        (changes[0]["from"].as_str(), changes[0]["to"].as_str()),
        (Some("inactive"), Some("firing"))
    );
    // The evaluation waited for delivery: the receiver has it.
    let got = hook.received();
    assert_eq!(got.len(), 1, "{got:?}");
    let m = json(&got[0].body);
    assert_eq!(m["version"], "4");
    assert_eq!(m["status"], "firing");
    assert_eq!(m["receiver"], "ops");
    assert_eq!(m["alerts"][0]["labels"]["alertname"], "ctr_low");
    assert_eq!(m["alerts"][0]["labels"]["app"], "default");
    assert_eq!(
        m["alerts"][0]["annotations"]["summary"],
        "CTR 0.01 below 0.02"
    );
    assert_eq!(m["alerts"][0]["endsAt"], "0001-01-01T00:00:00Z");
    assert_eq!(
        m["alerts"][0]["generatorURL"],
        "http://attune.test:8080/v1/alerts"
    );

    let list = json(&env.ok(&["--config", &cfg, "alerts", "--json"]));
    let a = &list["alerts"][0];
    assert_eq!(a["state"], "firing");
    assert_eq!(a["value"], 0.01);
    assert_eq!(a["delivery"]["webhook:ops"]["state"], "delivered");
    let text = env.ok(&["--config", &cfg, "alerts"]);
    assert!(
        text.contains("firing")
            && text.contains("ctr_low")
            && text.contains("webhook:ops firing delivered"),
        "{text}"
    );

    // Evaluating again while it still holds sends nothing more.
    let out = json(&env.ok(&["--config", &cfg, "alerts", "evaluate", "--json"]));
    assert_eq!(out["changes"], serde_json::json!([]));
    assert_eq!(hook.received().len(), 1);

    // The metric recovers: the window's mean is now above the threshold.
    put_ctr(&env, 10, 0.5);
    let text = env.ok(&["--config", &cfg, "alerts", "evaluate"]);
    assert!(
        text.contains("ctr_low") && text.contains("firing -> resolved"),
        "{text}"
    );
    let got = hook.received();
    assert_eq!(got.len(), 2);
    let r = json(&got[1].body);
    assert_eq!(r["status"], "resolved");
    assert_eq!(r["alerts"][0]["startsAt"], m["alerts"][0]["startsAt"]);
    assert_ne!(r["alerts"][0]["endsAt"], "0001-01-01T00:00:00Z");
    let list = json(&env.ok(&["--config", &cfg, "alerts", "--json"]));
    assert_eq!(list["alerts"][0]["state"], "resolved");
}

#[test]
fn rules_are_printed_as_configured() {
    let env = Attune::new();
    let hook = HookReceiver::start();
    let cfg = config(&env, &hook);
    let doc = json(&env.ok(&["--config", &cfg, "alerts", "rules", "--json"]));
    assert_eq!(doc["sinks"], serde_json::json!(["log", "webhook:ops"]));
    assert_eq!(doc["rules"][0]["name"], "ctr_low");
    assert_eq!(doc["rules"][0]["match_labels"]["source"], "model");
    assert_eq!(doc["rules"][0]["for_secs"], 0);
    let text = env.ok(&["--config", &cfg, "alerts", "rules"]);
    assert!(text.contains("mean(300s) below 0.02"), "{text}");
    // Without rules, listing works and says so.
    assert!(env.ok(&["alerts", "rules"]).contains("no alert rules"));
    assert!(env.ok(&["alerts"]).contains("no alerts"));
}

#[test]
fn test_webhook_retries_and_reports_failures() {
    let env = Attune::new();
    let hook = HookReceiver::with_statuses(&[500]);
    let cfg = config(&env, &hook);
    let url = hook.url("/test");
    let text = env.ok(&["--config", &cfg, "alerts", "test-webhook", &url]);
    assert!(text.contains("delivered (2 attempts)"), "{text}");
    let got = hook.received();
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].path, "/test");
    let m = json(&got[1].body);
    assert_eq!(m["alerts"][0]["labels"]["alertname"], "attune_test");

    // Without a URL: every configured webhook (this one, answering 200 now).
    let text = env.ok(&["--config", &cfg, "alerts", "test-webhook"]);
    assert!(text.contains("/hook: delivered (1 attempt)"), "{text}");

    let refusing = HookReceiver::with_statuses(&[400]);
    let out = env.run(&[
        "--config",
        &cfg,
        "alerts",
        "test-webhook",
        &refusing.url("/x"),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        stdout(&out).contains("not delivered after 1 attempt: HTTP 400"),
        "{}",
        describe(&out)
    );
    assert_eq!(refusing.received().len(), 1, "a 4xx is not retried");

    let out = env.run(&["alerts", "test-webhook", "https://hooks.example/x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        describe(&out).contains("https is not supported"),
        "{}",
        describe(&out)
    );
}
