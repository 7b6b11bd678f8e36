//! `attune monitor quality|drift|series`: what monitoring sees (`attune_monitor` and
//! `attune_pipeline::drift`, the same calls as `GET /v1/monitor/quality`, `/drift` and
//! `/series`).

mod drift;

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::Context as _;
use serde_json::json;

use super::apps::{open_store, require_app};
use super::outcomes::time;
use crate::cli::MonitorCommand;
use crate::config::Settings;

pub fn run(command: MonitorCommand, settings: &Settings) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    let store = open_store(settings)?;
    match command {
        MonitorCommand::Quality {
            window_secs,
            json,
            app,
        } => {
            require_app(&*store, &app.app)?;
            let secs = window_secs.unwrap_or(settings.monitor.window_secs);
            anyhow::ensure!(
                (1..=90 * 86_400).contains(&secs),
                "--window-secs must be 1 to 7776000, got {secs}"
            );
            let now = chrono::Utc::now().timestamp_micros();
            let r = attune_monitor::quality::report(
                &*store,
                &app.app,
                now,
                secs as i64 * 1_000_000,
                &settings.monitor.quality,
            )?;
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&r)?)?;
            } else if r.series.is_empty() {
                writeln!(
                    out,
                    "no lists served to app {:?} in the last {secs} s",
                    app.app
                )?;
            } else {
                for s in &r.series {
                    let name = if s.labels.is_empty() {
                        "all lists".to_string()
                    } else {
                        s.labels
                            .iter()
                            .map(|(k, v)| format!("{k}={v}"))
                            .collect::<Vec<_>>()
                            .join(" ")
                    };
                    let figures: Vec<String> = s
                        .figures
                        .iter()
                        .map(|(m, v)| format!("{m} {v:.4}"))
                        .collect();
                    writeln!(out, "{name}: {}", figures.join(", "))?;
                }
            }
        }
        MonitorCommand::Drift {
            window_secs,
            json,
            app,
        } => drift::run(&mut out, store, settings, &app.app, window_secs, json)?,
        MonitorCommand::Series {
            metric,
            since,
            until,
            labels,
            json,
            app,
        } => {
            require_app(&*store, &app.app)?;
            let until = match &until {
                Some(t) => time(t, "--until")?,
                None => chrono::Utc::now().timestamp_micros() + 1,
            };
            let since = match &since {
                Some(t) => time(t, "--since")?,
                None => until - 86_400_000_000,
            };
            let matching = attune_monitor::series::parse_matcher(&labels)
                .with_context(|| format!("--labels {labels:?}"))?;
            let found =
                attune_monitor::series::read(&*store, &app.app, &metric, &matching, since, until)?;
            if json {
                let series: Vec<_> = found
                    .iter()
                    .map(|(l, p)| json!({"labels": l, "points": p.iter().map(|(t, v)| json!([t, v])).collect::<Vec<_>>()}))
                    .collect();
                let doc = json!({"metric": metric, "since_micros": since, "until_micros": until, "series": series});
                writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
            } else if found.is_empty() {
                writeln!(out, "no points of {metric:?} in that range")?;
            } else {
                for (l, points) in &found {
                    let name: Vec<String> = l.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    writeln!(out, "{metric}{{{}}}", name.join(","))?;
                    for (t, v) in points {
                        let at = attune_core::time::Timestamp::from_utc_micros(*t);
                        writeln!(out, "  {} {v}", at.to_rfc3339())?;
                    }
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
