//! Alerts end to end: metric points in a real SQLite store, rules evaluated at explicit
//! times, notifications posted to a real HTTP receiver in Alertmanager's webhook format,
//! retried with backoff, and the states and delivery outcomes read back as the API lists
//! them.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use attune_monitor::alerts::detail::DeliveryState;
use attune_monitor::alerts::payload::{fingerprint, WebhookMessage, ZERO_TIME};
use attune_monitor::alerts::{
    evaluate, view, Aggregate, AlertRule, AlertState, Condition, EventAlert, NoData, Notifier,
    Severity, SinksConfig, WebhookConfig,
};
use attune_monitor::series::labels;
use attune_store::sqlite::SqliteStore;
use attune_store::{MetricPoint, MonitorStore as _, Store};
use attune_testsupport::{HookReceiver, Received};

const APP: &str = "shop";
const MIN: i64 = 60_000_000;
/// An arbitrary start, far from the epoch.
const T0: i64 = 1_700_000_000_000_000;
/// Long enough for any delivery here; only reached when a test is failing.
const WAIT: Duration = Duration::from_secs(30);

struct Env {
    store: Arc<SqliteStore>,
    _dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(dir.path().join("attune.db")).unwrap());
        store.create_app(APP).unwrap();
        Self { store, _dir: dir }
    }

    fn notifier(&self, hook: &HookReceiver, max_attempts: u32) -> Notifier {
        let config = SinksConfig {
            webhooks: vec![WebhookConfig {
                name: "ops".into(),
                url: hook.url("/hook"),
            }],
            external_url: "http://attune.test:8080".into(),
            max_attempts,
            initial_backoff_ms: 5,
            max_backoff_ms: 20,
            timeout_ms: 10_000,
            ..SinksConfig::default()
        };
        Notifier::new(self.store.clone(), &config).unwrap()
    }

    /// One `ctr` point of the model-served series per minute in `[from, to)`.
    fn ctr(&self, from: i64, to: i64, value: f64) {
        let points: Vec<MetricPoint> = (from..to)
            .step_by(MIN as usize)
            .map(|at| MetricPoint {
                metric: "ctr".into(),
                labels: labels(&[("source", "model"), ("model_version", "3")]),
                at_micros: at,
                value,
            })
            .collect();
        self.store.put_points(APP, &points).unwrap();
    }
}

fn ctr_low(for_secs: u64) -> AlertRule {
    AlertRule {
        name: "ctr_low".into(),
        metric: "ctr".into(),
        match_labels: labels(&[("source", "model")]),
        window_secs: 300,
        aggregate: Aggregate::Mean,
        condition: Condition::Below,
        threshold: 0.02,
        baseline_secs: None,
        for_secs,
        severity: Severity::Critical,
        no_data: NoData::Keep,
        summary: "CTR of {labels} is {value}, below {threshold}".into(),
        description: String::new(),
    }
}

fn message(r: &Received) -> WebhookMessage {
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/hook");
    assert_eq!(r.content_type.as_deref(), Some("application/json"));
    serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("{e}: {}", r.body))
}

fn state_of(store: &dyn Store, rule: &str) -> view::AlertView {
    view::list(store, APP)
        .unwrap()
        .into_iter()
        .find(|a| a.rule == rule)
        .unwrap_or_else(|| panic!("no alert of {rule}"))
}

#[test]
fn a_rule_fires_to_a_real_receiver_once_then_resolves_when_the_metric_recovers() {
    let env = Env::new();
    let hook = HookReceiver::start();
    let notifier = env.notifier(&hook, 3);
    let rules = [ctr_low(600)];
    // Low CTR from T0 on.
    env.ctr(T0, T0 + 30 * MIN, 0.01);

    // The condition holds from the first tick, but fires only once it has held 10 minutes.
    let mut fired_at = None;
    for minute in 5..=20 {
        let now = T0 + minute * MIN;
        let changes = evaluate(&notifier, APP, &rules, now).unwrap();
        let st = state_of(&*env.store, "ctr_low");
        if minute < 15 {
            assert_eq!(st.state, "pending", "minute {minute}");
            assert_eq!(st.since_micros, T0 + 5 * MIN);
        } else {
            assert_eq!(st.state, "firing", "minute {minute}");
        }
        if minute == 15 {
            assert_eq!(changes.len(), 1);
            assert_eq!(
                (changes[0].from, changes[0].to),
                (AlertState::Pending, AlertState::Firing)
            );
            fired_at = Some(now);
        }
    }
    let fired_at = fired_at.unwrap();
    assert!(notifier.wait_idle(WAIT));
    let got = hook.received();
    assert_eq!(got.len(), 1, "exactly one firing notification: {got:?}");
    let m = message(&got[0]);
    assert_eq!(m.version, "4");
    assert_eq!(m.status, "firing");
    assert_eq!(m.receiver, "ops");
    assert_eq!(m.external_url, "http://attune.test:8080");
    assert_eq!(m.group_key, r#"{}:{alertname="ctr_low", app="shop"}"#);
    assert_eq!(m.truncated_alerts, 0);
    assert_eq!(m.alerts.len(), 1);
    let a = &m.alerts[0];
    let want_labels = labels(&[
        ("alertname", "ctr_low"),
        ("app", "shop"),
        ("severity", "critical"),
        ("source", "model"),
        ("model_version", "3"),
    ]);
    assert_eq!(a.status, "firing");
    assert_eq!(a.labels, want_labels);
    assert_eq!(a.fingerprint, fingerprint(&want_labels));
    assert_eq!(a.ends_at, ZERO_TIME);
    assert_eq!(
        a.starts_at,
        attune_monitor::alerts::payload::rfc3339(fired_at)
    );
    assert_eq!(a.generator_url, "http://attune.test:8080/v1/alerts");
    assert_eq!(
        a.annotations["summary"],
        r#"CTR of {model_version="3", source="model"} is 0.01, below 0.02"#
    );
    assert_eq!(a.annotations["value"], "0.01");
    assert_eq!(m.common_labels, a.labels);
    let st = state_of(&*env.store, "ctr_low");
    assert_eq!(st.delivery["webhook:ops"].state, DeliveryState::Delivered);
    assert_eq!(st.delivery["webhook:ops"].attempts, 1);
    assert_eq!(st.value, Some(0.01));

    // The metric recovers: once the 5-minute window is above the threshold, it resolves.
    env.ctr(T0 + 30 * MIN, T0 + 60 * MIN, 0.05);
    let mut resolved_at = None;
    for minute in 30..=40 {
        let now = T0 + minute * MIN;
        let changes = evaluate(&notifier, APP, &rules, now).unwrap();
        if changes.iter().any(|c| c.to == AlertState::Resolved) {
            resolved_at.get_or_insert(now);
        }
    }
    let resolved_at = resolved_at.expect("resolved");
    // The window [now - 5 min, now] holds 6 points: at minute 30, five of 0.01 and one of
    // 0.05 (mean 0.0167, still below); at minute 31, four and two (0.0233, above).
    assert_eq!(resolved_at, T0 + 31 * MIN);
    assert!(notifier.wait_idle(WAIT));
    let got = hook.received();
    assert_eq!(got.len(), 2, "one firing and one resolved: {got:?}");
    let r = message(&got[1]);
    assert_eq!(r.status, "resolved");
    assert_eq!(r.alerts[0].status, "resolved");
    assert_eq!(r.alerts[0].fingerprint, a.fingerprint);
    assert_eq!(r.alerts[0].starts_at, a.starts_at);
    assert_eq!(
        r.alerts[0].ends_at,
        attune_monitor::alerts::payload::rfc3339(resolved_at)
    );
    let st = state_of(&*env.store, "ctr_low");
    assert_eq!(st.state, "resolved");
    assert_eq!(st.since_micros, resolved_at);
    assert_eq!(st.fired_micros, Some(fired_at));
    assert_eq!(st.delivery["webhook:ops"].status.as_str(), "resolved");
    assert_eq!(st.delivery["webhook:ops"].state, DeliveryState::Delivered);
}

#[test]
fn a_receiver_that_fails_twice_gets_the_notification_on_the_third_attempt() {
    let env = Env::new();
    let hook = HookReceiver::with_statuses(&[500, 500]);
    let notifier = env.notifier(&hook, 5);
    env.ctr(T0, T0 + 5 * MIN, 0.01);
    let changes = evaluate(&notifier, APP, &[ctr_low(0)], T0 + 5 * MIN).unwrap();
    assert_eq!(changes[0].to, AlertState::Firing);
    assert!(notifier.wait_idle(WAIT));
    let got = hook.received();
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(
        got.iter().all(|r| r.body == got[0].body),
        "the same body each time"
    );
    let d = &state_of(&*env.store, "ctr_low").delivery["webhook:ops"];
    assert_eq!(d.state, DeliveryState::Delivered);
    assert_eq!(d.attempts, 3);
    assert_eq!(d.error, None);
}

#[test]
fn attempts_are_bounded_and_the_failure_recorded() {
    let env = Env::new();
    let hook = HookReceiver::with_statuses(&[503; 10]);
    let notifier = env.notifier(&hook, 3);
    env.ctr(T0, T0 + 5 * MIN, 0.01);
    evaluate(&notifier, APP, &[ctr_low(0)], T0 + 5 * MIN).unwrap();
    assert!(notifier.wait_idle(WAIT));
    assert_eq!(hook.received().len(), 3);
    let d = &state_of(&*env.store, "ctr_low").delivery["webhook:ops"];
    assert_eq!(d.state, DeliveryState::Failed);
    assert_eq!(d.attempts, 3);
    assert_eq!(d.error.as_deref(), Some("HTTP 503"));
    // The alert still fired: delivery failing does not change what the data says.
    assert_eq!(state_of(&*env.store, "ctr_low").state, "firing");
}

#[test]
fn a_client_error_is_not_retried() {
    let env = Env::new();
    let hook = HookReceiver::with_statuses(&[400]);
    let notifier = env.notifier(&hook, 5);
    env.ctr(T0, T0 + 5 * MIN, 0.01);
    evaluate(&notifier, APP, &[ctr_low(0)], T0 + 5 * MIN).unwrap();
    assert!(notifier.wait_idle(WAIT));
    assert_eq!(hook.received().len(), 1);
    let d = &state_of(&*env.store, "ctr_low").delivery["webhook:ops"];
    assert_eq!((d.state, d.attempts), (DeliveryState::Failed, 1));
}

#[test]
fn evaluation_does_not_wait_for_a_receiver_that_has_not_answered() {
    let env = Env::new();
    let hook = HookReceiver::start();
    hook.hold();
    let notifier = env.notifier(&hook, 3);
    env.ctr(T0, T0 + 5 * MIN, 0.01);
    let changes = evaluate(&notifier, APP, &[ctr_low(0)], T0 + 5 * MIN).unwrap();
    assert_eq!(changes[0].to, AlertState::Firing);
    // The receiver has the request and has not answered, yet evaluation has returned with
    // the state saved and the notification queued.
    assert_eq!(hook.wait_for(1, WAIT).len(), 1);
    let st = state_of(&*env.store, "ctr_low");
    assert_eq!(st.state, "firing");
    assert_eq!(st.delivery["webhook:ops"].state, DeliveryState::Queued);
    // Later ticks run meanwhile.
    evaluate(&notifier, APP, &[ctr_low(0)], T0 + 6 * MIN).unwrap();
    hook.release();
    assert!(notifier.wait_idle(WAIT));
    let st = state_of(&*env.store, "ctr_low");
    assert_eq!(st.delivery["webhook:ops"].state, DeliveryState::Delivered);
    assert_eq!(
        st.updated_micros,
        T0 + 6 * MIN,
        "the later tick's write is kept"
    );
}

#[test]
fn missing_data_keeps_the_state_unless_the_rule_says_resolve() {
    let env = Env::new();
    let hook = HookReceiver::start();
    let notifier = env.notifier(&hook, 3);
    env.ctr(T0, T0 + 5 * MIN, 0.01);
    let mut keep = ctr_low(0);
    keep.name = "keep".into();
    let mut resolve = ctr_low(0);
    resolve.name = "resolve".into();
    resolve.no_data = NoData::Resolve;
    let rules = [keep, resolve];
    evaluate(&notifier, APP, &rules, T0 + 4 * MIN).unwrap();
    assert_eq!(state_of(&*env.store, "keep").state, "firing");
    assert_eq!(state_of(&*env.store, "resolve").state, "firing");
    // An hour later no point is in any window.
    let changes = evaluate(&notifier, APP, &rules, T0 + 60 * MIN).unwrap();
    let keep = state_of(&*env.store, "keep");
    assert_eq!(keep.state, "firing");
    assert_eq!(keep.value, None, "no value without data");
    assert_eq!(keep.updated_micros, T0 + 60 * MIN);
    assert_eq!(state_of(&*env.store, "resolve").state, "resolved");
    assert_eq!(changes.len(), 1);
    assert!(notifier.wait_idle(WAIT));
    let statuses: Vec<String> = hook
        .received()
        .iter()
        .map(|r| {
            format!(
                "{}:{}",
                message(r).alerts[0].labels["alertname"],
                message(r).status
            )
        })
        .collect();
    assert_eq!(statuses.len(), 3);
    assert!(
        statuses.contains(&"resolve:resolved".to_string()),
        "{statuses:?}"
    );
}

#[test]
fn a_drop_rule_compares_the_window_with_the_baseline_before_it() {
    let env = Env::new();
    let hook = HookReceiver::start();
    let notifier = env.notifier(&hook, 3);
    let rule = AlertRule {
        name: "ctr_drop".into(),
        condition: Condition::Drop,
        threshold: 0.3,
        baseline_secs: Some(3600),
        window_secs: 600,
        ..ctr_low(0)
    };
    env.ctr(T0, T0 + 60 * MIN, 0.05);
    // A 20 % drop: not enough.
    env.ctr(T0 + 60 * MIN, T0 + 70 * MIN, 0.04);
    evaluate(&notifier, APP, std::slice::from_ref(&rule), T0 + 69 * MIN).unwrap();
    assert!(
        view::list(&*env.store, APP).unwrap().is_empty(),
        "inactive series leave no record"
    );
    // A 60 % drop fires.
    env.ctr(T0 + 70 * MIN, T0 + 80 * MIN, 0.02);
    let changes = evaluate(&notifier, APP, std::slice::from_ref(&rule), T0 + 79 * MIN).unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].to, AlertState::Firing);
    // Window [69, 79] min: one 0.04 and ten 0.02; baseline [9, 69): fifty-one 0.05 and nine
    // 0.04.
    let st = state_of(&*env.store, "ctr_drop");
    let value = st.value.unwrap();
    let baseline: f64 = st.annotations["baseline"].parse().unwrap();
    assert!((value - 0.24 / 11.0).abs() < 1e-12, "{value}");
    assert!((baseline - 2.91 / 60.0).abs() < 1e-6, "{baseline}");
}

#[test]
fn every_matching_series_is_its_own_alert_and_others_are_ignored() {
    let env = Env::new();
    let hook = HookReceiver::start();
    let notifier = env.notifier(&hook, 3);
    let mut points = Vec::new();
    for (feature, psi) in [("price", 0.4), ("category", 0.05), ("brand", 0.3)] {
        points.push(MetricPoint {
            metric: "drift_psi".into(),
            labels: labels(&[("feature", feature)]),
            at_micros: T0,
            value: psi,
        });
    }
    env.store.put_points(APP, &points).unwrap();
    let rule = AlertRule {
        name: "drift".into(),
        metric: "drift_psi".into(),
        match_labels: BTreeMap::new(),
        condition: Condition::Above,
        threshold: 0.25,
        aggregate: Aggregate::Max,
        ..ctr_low(0)
    };
    evaluate(&notifier, APP, &[rule], T0 + MIN).unwrap();
    let alerts = view::list(&*env.store, APP).unwrap();
    let features: Vec<&str> = alerts
        .iter()
        .map(|a| a.labels["feature"].as_str())
        .collect();
    assert_eq!(features, vec!["brand", "price"]);
    assert!(alerts.iter().all(|a| a.state == "firing"));
    assert!(notifier.wait_idle(WAIT));
    assert_eq!(hook.received().len(), 2);
}

#[test]
fn event_alerts_go_to_the_same_sinks_and_are_listed_firing_first() {
    let env = Env::new();
    let hook = HookReceiver::start();
    let notifier = env.notifier(&hook, 3);
    // A pending rule alert to sort against.
    env.ctr(T0, T0 + 5 * MIN, 0.01);
    evaluate(&notifier, APP, &[ctr_low(3600)], T0 + 5 * MIN).unwrap();
    let event = EventAlert::firing("model_rolled_back")
        .label("model_version", "7")
        .annotation("summary", "v7 rolled back to v6: CTR fell 40 %")
        .severity(Severity::Critical);
    notifier.send_at(APP, &event, T0 + 6 * MIN).unwrap();
    let list = view::list(&*env.store, APP).unwrap();
    assert_eq!(
        list.iter()
            .map(|a| (a.rule.as_str(), a.state.as_str()))
            .collect::<Vec<_>>(),
        vec![("model_rolled_back", "firing"), ("ctr_low", "pending")]
    );
    assert_eq!(list[0].value, None);
    let resolved = EventAlert {
        status: attune_monitor::alerts::Status::Resolved,
        ..event.clone()
    };
    notifier.send_at(APP, &resolved, T0 + 9 * MIN).unwrap();
    assert!(notifier.wait_idle(WAIT));
    let got = hook.received();
    assert_eq!(got.len(), 2, "{got:?}");
    let f = message(&got[0]);
    let r = message(&got[1]);
    assert_eq!(f.alerts[0].labels["alertname"], "model_rolled_back");
    assert_eq!(f.alerts[0].labels["model_version"], "7");
    assert_eq!(f.alerts[0].labels["severity"], "critical");
    assert_eq!(r.status, "resolved");
    assert_eq!(r.alerts[0].starts_at, f.alerts[0].starts_at);
    assert_eq!(
        r.alerts[0].ends_at,
        attune_monitor::alerts::payload::rfc3339(T0 + 9 * MIN)
    );
    let st = state_of(&*env.store, "model_rolled_back");
    assert_eq!(st.state, "resolved");
    assert_eq!(st.delivery["webhook:ops"].state, DeliveryState::Delivered);

    // A rule's alert cannot be sent as an event.
    let err = notifier
        .send_at(
            APP,
            &EventAlert::firing("ctr_low")
                .label("source", "model")
                .label("model_version", "3"),
            T0,
        )
        .unwrap_err();
    assert!(err.to_string().contains("configured rule"), "{err}");
    let err = notifier
        .send_at(APP, &EventAlert::firing("bad name"), T0)
        .unwrap_err();
    assert!(err.to_string().starts_with("alertname:"), "{err}");
    assert_eq!(hook.received().len(), 2, "refused events send nothing");
}

#[test]
fn a_full_queue_drops_and_records_it() {
    let env = Env::new();
    let hook = HookReceiver::start();
    hook.hold();
    let config = SinksConfig {
        webhooks: vec![WebhookConfig {
            name: "ops".into(),
            url: hook.url("/hook"),
        }],
        queue_capacity: 1,
        initial_backoff_ms: 5,
        max_backoff_ms: 5,
        ..SinksConfig::default()
    };
    let notifier = Notifier::new(env.store.clone(), &config).unwrap();
    // The first is taken by the delivery thread (held at the receiver), the second waits in
    // the queue, the third finds it full.
    notifier
        .send_at(APP, &EventAlert::firing("e1"), T0)
        .unwrap();
    assert_eq!(hook.wait_for(1, WAIT).len(), 1);
    notifier
        .send_at(APP, &EventAlert::firing("e2"), T0)
        .unwrap();
    notifier
        .send_at(APP, &EventAlert::firing("e3"), T0)
        .unwrap();
    let d = &state_of(&*env.store, "e3").delivery["webhook:ops"];
    assert_eq!(d.state, DeliveryState::Dropped);
    hook.release();
    assert!(notifier.wait_idle(WAIT));
    assert_eq!(hook.received().len(), 2);
    assert_eq!(
        state_of(&*env.store, "e2").delivery["webhook:ops"].state,
        DeliveryState::Delivered
    );
}
