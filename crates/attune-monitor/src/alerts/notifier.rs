//! The notifier: every alert state change is written to the store and handed to the sinks
//! here, so evaluation, events sent by other parts (a rollback) and delivery outcomes go
//! through one place.
//!
//! - The log sink writes at once (a tracing event).
//! - Each webhook has its own bounded queue and delivery thread, which posts Alertmanager's
//!   JSON and retries with backoff ([`crate::alerts::retry`]). The evaluation tick only
//!   enqueues (`try_send`), so a slow or dead receiver never holds it; a full queue drops the
//!   notification, logs an error and records `dropped`.
//! - How each notification went is recorded in the alert's detail (`delivery`, per sink):
//!   `queued` when enqueued, then `delivered` or `failed` with the attempts and the last error.
//!
//! Alert records of this process are written under one lock, which also holds the latest
//! delivery per alert and sink, so an evaluation and a delivery thread writing the same
//! alert never lose each other's update. Delivery is at least once: a notification whose
//! state could not be saved is sent again at the next tick. Queued notifications die with
//! the process.

use std::collections::{BTreeMap, HashMap};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use attune_store::{AlertRecord, Store};

use crate::alerts::detail::{AlertDetail, Delivery, DeliveryState, Source};
use crate::alerts::notification::{Notification, Status};
use crate::alerts::payload;
use crate::alerts::retry::{self, Attempt, RetryPolicy};
use crate::alerts::rule::{valid_name, Severity};
use crate::alerts::sinks::{webhook_sink, SinksConfig};
use crate::alerts::state::AlertState;
use crate::alerts::webhook::Webhook;
use crate::error::{MonitorError, Result};
use crate::series::Labels;

/// An alert's identity in an app: rule (or event) name and series labels.
type Key = (String, String, Labels);

/// One notification waiting for a webhook.
struct Job {
    key: Key,
    status: Status,
    body: Vec<u8>,
}

/// A webhook's queue.
struct Queue {
    /// `webhook:<name>`.
    sink: String,
    receiver: String,
    tx: SyncSender<Job>,
}

/// What the delivery threads share with the notifier.
struct Inner {
    store: Arc<dyn Store>,
    /// The latest delivery per alert and sink; its lock serializes alert writes.
    ledger: Mutex<HashMap<Key, BTreeMap<String, Delivery>>>,
    /// Notifications queued or being delivered.
    busy: Mutex<usize>,
    idle: Condvar,
}

/// Sends alert notifications to the configured sinks and records their state.
pub struct Notifier {
    inner: Arc<Inner>,
    log: bool,
    external_url: String,
    queues: Vec<Queue>,
    sinks: Vec<String>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("sinks", &self.sinks())
            .finish_non_exhaustive()
    }
}

/// An alert sent by another part of attune (the guarded rollout when it rolls a model back):
/// it goes to the same sinks as rule alerts and is listed with them.
#[derive(Debug, Clone, PartialEq)]
pub struct EventAlert {
    /// The `alertname` (not the name of a configured rule).
    pub name: String,
    /// Labels that tell this alert from others of the name (`model_version`, ...).
    pub labels: Labels,
    /// `summary`, `description`, ...
    pub annotations: BTreeMap<String, String>,
    /// The `severity` label.
    pub severity: Severity,
    /// Firing, or resolved (ends a firing one).
    pub status: Status,
}

impl EventAlert {
    /// A firing alert named `name` (severity warning).
    pub fn firing(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            labels: Labels::new(),
            annotations: BTreeMap::new(),
            severity: Severity::Warning,
            status: Status::Firing,
        }
    }

    /// The end of the firing alert `name` with the same labels.
    pub fn resolved(name: impl Into<String>) -> Self {
        Self {
            status: Status::Resolved,
            ..Self::firing(name)
        }
    }

    /// With a label.
    pub fn label(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(name.into(), value.into());
        self
    }

    /// With an annotation (`summary`, `description`, ...).
    pub fn annotation(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.annotations.insert(name.into(), value.into());
        self
    }

    /// With a severity.
    pub fn severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

impl Notifier {
    /// A notifier over `store` with the sinks of `config` (checked here), starting one
    /// delivery thread per webhook. The threads end when the notifier is dropped and their
    /// queue is empty.
    pub fn new(store: Arc<dyn Store>, config: &SinksConfig) -> Result<Self> {
        config.check("monitor.sinks")?;
        let inner = Arc::new(Inner {
            store,
            ledger: Mutex::default(),
            busy: Mutex::new(0),
            idle: Condvar::new(),
        });
        let mut queues = Vec::new();
        for w in &config.webhooks {
            let (tx, rx) = mpsc::sync_channel::<Job>(config.queue_capacity);
            let sink = webhook_sink(&w.name);
            let hook = Webhook::new(&w.url, config.timeout());
            let policy = config.retry();
            let shared = inner.clone();
            let thread_sink = sink.clone();
            std::thread::Builder::new()
                .name(format!("attune-alert-{}", w.name))
                .spawn(move || {
                    for job in rx {
                        deliver(&shared, &thread_sink, &hook, &policy, &job);
                        let mut busy = lock(&shared.busy);
                        *busy -= 1;
                        if *busy == 0 {
                            shared.idle.notify_all();
                        }
                    }
                })
                .map_err(|e| {
                    MonitorError::invalid(
                        "monitor.sinks.webhooks",
                        format!("cannot start a delivery thread: {e}"),
                    )
                })?;
            queues.push(Queue {
                sink,
                receiver: w.name.clone(),
                tx,
            });
        }
        Ok(Self {
            inner,
            log: config.log,
            external_url: config.external_url.clone(),
            queues,
            sinks: config.names(),
        })
    }

    /// A notifier that only logs (no thread): what a pipeline has until one is configured.
    pub fn log_only(store: Arc<dyn Store>) -> Self {
        Self::new(store, &SinksConfig::default()).expect("the default sinks are valid")
    }

    /// The store alerts are recorded in.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// The sinks' names: `log`, `webhook:<name>`, ...
    pub fn sinks(&self) -> &[String] {
        &self.sinks
    }

    /// Send an event alert of `app` now (see [`Notifier::send_at`]).
    pub fn send(&self, app: &str, event: &EventAlert) -> Result<()> {
        self.send_at(app, event, now_micros())
    }

    /// Send an event alert of `app` at `now_micros` to every sink and record it, so it is
    /// listed with the rule alerts. Firing again re-sends (an event is news each time);
    /// resolved ends it (`startsAt` is when it fired). Fails, sending nothing, if the name is
    /// invalid or belongs to a configured rule's alert.
    pub fn send_at(&self, app: &str, event: &EventAlert, now_micros: i64) -> Result<()> {
        if !valid_name(&event.name) {
            return Err(MonitorError::invalid(
                "alertname",
                format!(
                    "{:?} is not a valid alert name: 1 to 128 characters A-Z, a-z, 0-9, '_', '.', ':' or '-'",
                    event.name
                ),
            ));
        }
        let previous = self
            .inner
            .store
            .list_alerts(app)?
            .into_iter()
            .find(|r| r.rule == event.name && r.labels == event.labels);
        let mut detail = previous
            .as_ref()
            .map(|r| AlertDetail::parse(&r.detail))
            .unwrap_or_default();
        if previous.is_some() && detail.source == Source::Rule {
            return Err(MonitorError::invalid(
                "alertname",
                format!("{:?} is a configured rule's alert", event.name),
            ));
        }
        let was_firing = previous
            .as_ref()
            .is_some_and(|r| r.state == AlertState::Firing.as_str());
        let fired = match (event.status, was_firing) {
            (Status::Firing, true) => detail.fired_micros.unwrap_or(now_micros),
            (Status::Firing, false) => now_micros,
            (Status::Resolved, _) => detail.fired_micros.unwrap_or(now_micros),
        };
        detail.source = Source::Event;
        detail.severity = Some(event.severity);
        detail.annotations = event.annotations.clone();
        detail.fired_micros = Some(fired);
        let state = match event.status {
            Status::Firing => AlertState::Firing,
            Status::Resolved => AlertState::Resolved,
        };
        let since = match (&previous, event.status, was_firing) {
            (Some(r), Status::Firing, true) => r.since_micros,
            _ => now_micros,
        };
        let record = AlertRecord {
            rule: event.name.clone(),
            labels: event.labels.clone(),
            state: state.as_str().into(),
            since_micros: since,
            updated_micros: now_micros,
            value: None,
            detail: String::new(),
        };
        let n = Notification {
            app: app.into(),
            alertname: event.name.clone(),
            labels: event.labels.clone(),
            severity: event.severity,
            status: event.status,
            annotations: event.annotations.clone(),
            starts_micros: fired,
            ends_micros: (event.status == Status::Resolved).then_some(now_micros),
        };
        self.commit(app, record, detail, Some(&n), now_micros)
    }

    /// Save `record` (its detail is `detail` with the latest deliveries merged in) and, with
    /// a notification, hand it to every sink first. The one path alert records take.
    pub(crate) fn commit(
        &self,
        app: &str,
        mut record: AlertRecord,
        mut detail: AlertDetail,
        notification: Option<&Notification>,
        now_micros: i64,
    ) -> Result<()> {
        let key: Key = (app.to_string(), record.rule.clone(), record.labels.clone());
        let mut ledger = lock(&self.inner.ledger);
        if let Some(n) = notification {
            if self.log {
                log(n);
            }
            for q in &self.queues {
                let state = self.enqueue(q, &key, n);
                let delivery = Delivery {
                    status: n.status,
                    state,
                    attempts: 0,
                    at_micros: now_micros,
                    error: (state == DeliveryState::Dropped).then(|| "queue full".to_string()),
                };
                ledger
                    .entry(key.clone())
                    .or_default()
                    .insert(q.sink.clone(), delivery);
            }
        }
        if let Some(latest) = ledger.get(&key) {
            detail
                .delivery
                .extend(latest.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        record.detail = detail.to_text();
        self.inner.store.put_alert(app, &record)?;
        Ok(())
    }

    fn enqueue(&self, q: &Queue, key: &Key, n: &Notification) -> DeliveryState {
        let message = payload::message(n, &q.receiver, &self.external_url);
        let body = serde_json::to_vec(&message).expect("plain data serializes");
        *lock(&self.inner.busy) += 1;
        let job = Job {
            key: key.clone(),
            status: n.status,
            body,
        };
        match q.tx.try_send(job) {
            Ok(()) => DeliveryState::Queued,
            Err(e) => {
                let mut busy = lock(&self.inner.busy);
                *busy -= 1;
                if *busy == 0 {
                    self.inner.idle.notify_all();
                }
                let why = match e {
                    TrySendError::Full(_) => "its queue is full",
                    TrySendError::Disconnected(_) => "its delivery thread has stopped",
                };
                // Data loss an operator must know about: ERROR.
                tracing::error!(
                    sink = q.sink,
                    app = n.app,
                    alertname = n.alertname,
                    status = n.status.as_str(),
                    "alert notification dropped: {why}"
                );
                DeliveryState::Dropped
            }
        }
    }

    /// Wait until every queued notification has been delivered or given up on, at most
    /// `timeout`; whether the queues are empty. For tests and one-shot commands (`attune
    /// alerts evaluate`); the server never waits.
    pub fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut busy = lock(&self.inner.busy);
        while *busy > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            busy = self
                .inner
                .idle
                .wait_timeout(busy, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        true
    }
}

/// The log sink.
fn log(n: &Notification) {
    let summary = n.annotations.get("summary").map_or("", String::as_str);
    let labels = crate::alerts::text::labels_text(&n.labels);
    match (n.status, n.severity) {
        (Status::Firing, Severity::Critical) => tracing::error!(
            app = n.app,
            alertname = n.alertname,
            labels,
            severity = n.severity.as_str(),
            "alert firing: {summary}"
        ),
        (Status::Firing, _) => tracing::warn!(
            app = n.app,
            alertname = n.alertname,
            labels,
            severity = n.severity.as_str(),
            "alert firing: {summary}"
        ),
        (Status::Resolved, _) => tracing::info!(
            app = n.app,
            alertname = n.alertname,
            labels,
            severity = n.severity.as_str(),
            "alert resolved: {summary}"
        ),
    }
}

/// Deliver one job on a webhook's thread, recording progress after each failed attempt and
/// the outcome at the end.
fn deliver(inner: &Inner, sink: &str, hook: &Webhook, policy: &RetryPolicy, job: &Job) {
    let record = |state, attempts, error: Option<String>| {
        let d = Delivery {
            status: job.status,
            state,
            attempts,
            at_micros: now_micros(),
            error,
        };
        record_delivery(inner, &job.key, sink, d);
    };
    let outcome = retry::run(
        policy,
        |n| {
            let a = hook.post_once(&job.body);
            if let Attempt::Retry(e) = &a {
                if n < policy.max_attempts {
                    tracing::debug!(sink, attempt = n, error = %e, "alert notification failed; retrying");
                    record(DeliveryState::Queued, n, Some(e.clone()));
                }
            }
            a
        },
        std::thread::sleep,
    );
    if outcome.delivered {
        tracing::debug!(
            sink,
            attempts = outcome.attempts,
            "alert notification delivered"
        );
        record(DeliveryState::Delivered, outcome.attempts, None);
    } else {
        let error = outcome.error.unwrap_or_default();
        tracing::warn!(
            sink,
            app = job.key.0,
            alertname = job.key.1,
            attempts = outcome.attempts,
            error,
            "alert notification not delivered"
        );
        record(DeliveryState::Failed, outcome.attempts, Some(error));
    }
}

/// Remember `d` and write it into the alert's stored record, if it has one yet (otherwise
/// the commit that creates it carries it).
fn record_delivery(inner: &Inner, key: &Key, sink: &str, d: Delivery) {
    let mut ledger = lock(&inner.ledger);
    ledger
        .entry(key.clone())
        .or_default()
        .insert(sink.to_string(), d.clone());
    let (app, rule, labels) = key;
    let stored = match inner.store.list_alerts(app) {
        Ok(all) => all
            .into_iter()
            .find(|r| &r.rule == rule && &r.labels == labels),
        Err(e) => {
            tracing::warn!(app, alertname = rule, error = %e, "cannot record an alert delivery");
            return;
        }
    };
    if let Some(mut r) = stored {
        let mut detail = AlertDetail::parse(&r.detail);
        detail.delivery.insert(sink.to_string(), d);
        r.detail = detail.to_text();
        if let Err(e) = inner.store.put_alert(app, &r) {
            tracing::warn!(app, alertname = rule, error = %e, "cannot record an alert delivery");
        }
    }
    drop(ledger);
}
