//! `attune alerts`: an app's alert states, the rules in force, one evaluation now, and a
//! test notification. The documents, the evaluation and the delivery are
//! `attune_monitor::alerts`', the code the server and its monitoring tick run.

use std::io::Write as _;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use attune_monitor::alerts::{self, payload, view, Notification, Notifier, Severity, Status};
use attune_store::Store;
use serde_json::json;

use super::apps::{open_store, require_app, write_table};
use crate::cli::{AlertsArgs, AlertsCommand};
use crate::config::Settings;

pub fn run(args: AlertsArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    match args.command {
        None => list(settings, &args.app.app, args.json),
        Some(AlertsCommand::Rules { json }) => rules(settings, json),
        Some(AlertsCommand::Evaluate { json, app }) => evaluate(settings, &app.app, json),
        Some(AlertsCommand::TestWebhook { url, app }) => test_webhook(settings, &app.app, url),
    }
}

fn time(micros: i64) -> String {
    payload::rfc3339(micros)
}

fn list(settings: &Settings, app: &str, as_json: bool) -> anyhow::Result<ExitCode> {
    let store = open_store(settings)?;
    require_app(&*store, app)?;
    let alerts = view::list(&*store, app)?;
    let mut out = std::io::stdout().lock();
    if as_json {
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&json!({ "alerts": alerts }))?
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    if alerts.is_empty() {
        writeln!(out, "no alerts in app {app:?}")?;
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<[String; 6]> = alerts
        .iter()
        .map(|a| {
            let delivery: Vec<String> = a
                .delivery
                .iter()
                .map(|(sink, d)| {
                    let state = serde_json::to_value(d.state).unwrap_or_default();
                    format!(
                        "{sink} {} {} ({} attempts)",
                        d.status.as_str(),
                        state.as_str().unwrap_or_default(),
                        d.attempts
                    )
                })
                .collect();
            [
                a.state.clone(),
                a.rule.clone(),
                alerts::text::labels_text(&a.labels),
                a.value.map_or_else(|| "-".into(), alerts::text::number),
                time(a.since_micros),
                delivery.join(", "),
            ]
        })
        .collect();
    write_table(
        &mut out,
        &["state", "rule", "labels", "value", "since", "delivery"],
        &rows,
    )?;
    Ok(ExitCode::SUCCESS)
}

fn rules(settings: &Settings, as_json: bool) -> anyhow::Result<ExitCode> {
    let m = &settings.monitor;
    let mut out = std::io::stdout().lock();
    if as_json {
        let doc = json!({ "rules": m.alerts, "sinks": m.sinks.names() });
        writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    if m.alerts.is_empty() {
        writeln!(
            out,
            "no alert rules ([[monitor.alerts]] in the config file)"
        )?;
    } else {
        let rows: Vec<[String; 7]> = m
            .alerts
            .iter()
            .map(|r| {
                let baseline = r
                    .baseline_secs
                    .map(|b| format!(" vs {b}s before"))
                    .unwrap_or_default();
                [
                    r.name.clone(),
                    r.metric.clone(),
                    alerts::text::labels_text(&r.match_labels),
                    format!(
                        "{}({}s) {} {}{baseline}",
                        json!(r.aggregate).as_str().unwrap_or_default(),
                        r.window_secs,
                        r.condition.as_str(),
                        alerts::text::number(r.threshold)
                    ),
                    format!("{}s", r.for_secs),
                    r.severity.as_str().into(),
                    json!(r.no_data).as_str().unwrap_or_default().into(),
                ]
            })
            .collect();
        write_table(
            &mut out,
            &[
                "rule",
                "metric",
                "match",
                "condition",
                "for",
                "severity",
                "no_data",
            ],
            &rows,
        )?;
    }
    writeln!(out, "sinks: {}", m.sinks.names().join(", "))?;
    Ok(ExitCode::SUCCESS)
}

/// How long a one-shot command waits for its notifications: the retry policy's worst case
/// and a little.
fn delivery_wait(settings: &Settings) -> Duration {
    let s = &settings.monitor.sinks;
    s.retry().worst_case(s.timeout()) + Duration::from_secs(5)
}

fn evaluate(settings: &Settings, app: &str, as_json: bool) -> anyhow::Result<ExitCode> {
    let store: Arc<dyn Store> = open_store(settings)?.into();
    require_app(&*store, app)?;
    let notifier = Notifier::new(store, &settings.monitor.sinks)
        .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
    let now = chrono::Utc::now().timestamp_micros();
    let changes = alerts::evaluate(&notifier, app, &settings.monitor.alerts, now)?;
    let delivered = notifier.wait_idle(delivery_wait(settings));
    let mut out = std::io::stdout().lock();
    if as_json {
        let changes: Vec<_> = changes
            .iter()
            .map(|c| {
                json!({"rule": c.rule, "labels": c.labels, "from": c.from.as_str(),
                       "to": c.to.as_str(), "value": c.value})
            })
            .collect();
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&json!({"at_micros": now, "changes": changes}))?
        )?;
    } else if changes.is_empty() {
        writeln!(
            out,
            "{} rules evaluated; no alert changed state",
            settings.monitor.alerts.len()
        )?;
    } else {
        for c in &changes {
            writeln!(
                out,
                "{} {} {} -> {} (value {})",
                c.rule,
                alerts::text::labels_text(&c.labels),
                c.from,
                c.to,
                c.value.map_or_else(|| "n/a".into(), alerts::text::number)
            )?;
        }
    }
    anyhow::ensure!(
        delivered,
        "notifications still queued after {:?}; see `attune alerts` for their delivery",
        delivery_wait(settings)
    );
    Ok(ExitCode::SUCCESS)
}

fn attempts(n: u32) -> String {
    if n == 1 {
        "1 attempt".into()
    } else {
        format!("{n} attempts")
    }
}

fn test_webhook(settings: &Settings, app: &str, url: Option<String>) -> anyhow::Result<ExitCode> {
    let sinks = &settings.monitor.sinks;
    let targets: Vec<(String, String)> = match url {
        Some(url) => {
            alerts::sinks::check_webhook_url(&url).map_err(|e| anyhow::anyhow!("{e}"))?;
            vec![("test".to_string(), url)]
        }
        None => sinks
            .webhooks
            .iter()
            .map(|w| (w.name.clone(), w.url.clone()))
            .collect(),
    };
    anyhow::ensure!(
        !targets.is_empty(),
        "no webhook: give a URL or configure [[monitor.sinks.webhooks]]"
    );
    let now = chrono::Utc::now().timestamp_micros();
    let n = Notification {
        app: app.to_string(),
        alertname: "attune_test".into(),
        labels: Default::default(),
        severity: Severity::Info,
        status: Status::Firing,
        annotations: [(
            "summary".to_string(),
            "A test notification from attune alerts test-webhook".to_string(),
        )]
        .into(),
        starts_micros: now,
        ends_micros: None,
    };
    let mut out = std::io::stdout().lock();
    let mut failed = Vec::new();
    for (receiver, url) in &targets {
        let body = serde_json::to_vec(&payload::message(&n, receiver, &sinks.external_url))?;
        let outcome =
            alerts::webhook::Webhook::new(url, sinks.timeout()).deliver(&body, &sinks.retry());
        if outcome.delivered {
            writeln!(out, "{url}: delivered ({})", attempts(outcome.attempts))?;
        } else {
            let error = outcome.error.unwrap_or_default();
            writeln!(
                out,
                "{url}: not delivered after {}: {error}",
                attempts(outcome.attempts)
            )?;
            failed.push(url.clone());
        }
    }
    anyhow::ensure!(failed.is_empty(), "not delivered to {}", failed.join(", "));
    Ok(ExitCode::SUCCESS)
}
