//! `attune monitor drift`: `attune_pipeline::drift::report`, the call behind
//! `GET /v1/monitor/drift`, printed.

use std::io::Write;

use attune_monitor::drift::{DriftReport, Status};
use attune_store::Store;

use crate::cmd::apps::require_app;
use crate::config::Settings;

pub fn run(
    out: &mut impl Write,
    store: Box<dyn Store>,
    settings: &Settings,
    app: &str,
    window_secs: Option<u64>,
    json: bool,
) -> anyhow::Result<()> {
    require_app(&*store, app)?;
    let secs = window_secs.unwrap_or(settings.monitor.window_secs);
    anyhow::ensure!(
        (1..=90 * 86_400).contains(&secs),
        "--window-secs must be 1 to 7776000, got {secs}"
    );
    let pipeline = crate::serving::pipeline(settings, store.into())?;
    let now = chrono::Utc::now().timestamp_micros();
    let r = attune_pipeline::drift::report(
        &pipeline,
        app,
        now,
        secs as i64 * 1_000_000,
        &settings.monitor.drift,
    )?;
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&r)?)?;
    } else {
        print(out, &r)?;
    }
    Ok(())
}

fn print(out: &mut impl Write, r: &DriftReport) -> anyhow::Result<()> {
    writeln!(
        out,
        "app {:?}, model v{}: {} events in the window against the training window ending {}",
        r.app,
        r.model_version,
        r.events,
        attune_core::time::Timestamp::from_utc_micros(r.reference_until_micros).to_rfc3339()
    )?;
    let num = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.4}"));
    for f in &r.features {
        let status = match f.status {
            Status::Stable => "stable",
            Status::Drifted => "DRIFTED",
            Status::InsufficientData => "insufficient data",
        };
        writeln!(
            out,
            "  {:<20} psi {:>8}  ks {:>7} (p {:>8})  n {}/{}  {status}{}",
            f.feature,
            num(f.psi),
            num(f.ks_statistic),
            num(f.ks_p_value),
            f.reference_values,
            f.current_values,
            if f.judged { "" } else { " (not judged)" }
        )?;
    }
    if let Some(s) = r.new_items_share {
        let before = r.reference_new_items_share.map_or(String::new(), |b| {
            format!(" (reference window: {:.2}%)", b * 100.0)
        });
        writeln!(out, "  unranked items: {:.2}% of events{before}", s * 100.0)?;
    }
    let drifted = r.drifted();
    if drifted.is_empty() {
        writeln!(out, "no drift detected")?;
    } else {
        writeln!(out, "drift detected: {}", drifted.join(", "))?;
    }
    Ok(())
}
