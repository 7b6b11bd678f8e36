//! `attune models list|show|activate|rollback|history`: the model registry for operators.
//!
//! The store keeps the records and the activation history (`attune_store::Store` registry
//! methods). Activation and rollback go through the serving engine, the one that answers
//! requests (`attune_serving::Serving::activate` / `rollback`): it loads the target version
//! exactly as serving would, and a missing, corrupt, substituted or unreadable file is refused
//! with the active version left as it was. The store call is conditional on the activation seq
//! read before the check, so a change made meanwhile by someone else is reported instead of
//! overwritten.

use std::io::Write as _;
use std::process::ExitCode;

use attune_core::time::Timestamp;
use attune_store::{ActiveModel, ModelRecord, ModelStatus, Store, StoreError};
use serde_json::{json, Value};

use super::apps::{open_store, require_app};
use crate::cli::ModelsCommand;
use crate::config::Settings;
use crate::models::{self, version_name};
use attune_serving::{Serving, ServingError};

pub fn run(command: ModelsCommand, settings: &Settings) -> anyhow::Result<ExitCode> {
    let store = open_store(settings)?;
    let mut out = std::io::stdout().lock();
    match command {
        ModelsCommand::List { json, app } => {
            require_app(&*store, &app.app)?;
            list(&*store, settings, &app.app, json, &mut out)?
        }
        ModelsCommand::Show { version, json, app } => {
            require_app(&*store, &app.app)?;
            let v = models::parse_version(&version)?;
            show(&*store, settings, &app.app, v, json, &mut out)?
        }
        ModelsCommand::Activate { version, app } => {
            require_app(&*store, &app.app)?;
            let v = models::parse_version(&version)?;
            let engine = crate::serving::engine(settings, store.into())?;
            activate(&engine, settings, &app.app, v, &mut out)?
        }
        ModelsCommand::Rollback { app } => {
            require_app(&*store, &app.app)?;
            let engine = crate::serving::engine(settings, store.into())?;
            rollback(&engine, settings, &app.app, &mut out)?
        }
        ModelsCommand::Rollouts { json, app } => {
            require_app(&*store, &app.app)?;
            let all = attune_pipeline::rollout::list(&*store, &app.app)?;
            if json {
                writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({ "rollouts": all }))?
                )?;
            } else if all.is_empty() {
                writeln!(out, "app {:?} has no guarded rollouts", app.app)?;
            } else {
                for r in &all {
                    writeln!(
                        out,
                        "{} against {}: {:?} — {}",
                        version_name(r.canary),
                        version_name(r.incumbent),
                        r.verdict,
                        r.reason
                    )?;
                }
            }
        }
        ModelsCommand::History { json, app } => {
            require_app(&*store, &app.app)?;
            history(&*store, &app.app, json, &mut out)?
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn time(micros: i64) -> String {
    Timestamp::from_utc_micros(micros).to_rfc3339()
}

/// `12.3 MiB`.
fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut x = n as f64 / 1024.0;
    let mut unit = UNITS[0];
    for u in &UNITS[1..] {
        if x < 1024.0 {
            break;
        }
        x /= 1024.0;
        unit = u;
    }
    format!("{x:.1} {unit}")
}

/// The list's metrics cell: the headline metric (NDCG if evaluated) and how many more there
/// are (`models show` lists them all).
fn metrics_summary(r: &ModelRecord) -> String {
    let m = &r.info.metrics;
    let Some((name, value)) = m
        .iter()
        .find(|(k, _)| k.contains("ndcg"))
        .or_else(|| m.iter().next())
    else {
        return "-".to_string();
    };
    match m.len() - 1 {
        0 => format!("{name}={value:.4}"),
        more => format!("{name}={value:.4} (+{more} more)"),
    }
}

/// RFC 3339 to the second, for tables.
fn short_time(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| time(micros))
}

/// JSON text stored by `train` back to a value (kept as text if it is not JSON after all).
fn parsed(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
}

fn active_json(a: &ActiveModel) -> Value {
    json!({
        "version": a.version,
        "name": version_name(a.version),
        "seq": a.seq,
        "since": time(a.since_micros),
        "rollback_to": a.rollback_to,
    })
}

fn record_json(settings: &Settings, r: &ModelRecord) -> Value {
    let path = models::path_of(&settings.data_dir, &r.info.artifact.location);
    json!({
        "version": r.version,
        "name": version_name(r.version),
        "status": r.status.as_str(),
        "active": r.status == ModelStatus::Active,
        "algorithm": r.info.algorithm,
        "created_at": time(r.info.created_micros),
        "registered_at": time(r.registered_micros),
        "metrics": r.info.metrics,
        "params": parsed(&r.info.params),
        "data": parsed(&r.info.data_snapshot),
        "artifact": {
            "location": r.info.artifact.location,
            "path": path.display().to_string(),
            "checksum": format!("{:016x}", r.info.artifact.checksum),
            "size_bytes": r.info.artifact.size_bytes,
            "present": path.exists(),
        },
    })
}

fn write_json(out: &mut dyn std::io::Write, v: &Value) -> anyhow::Result<()> {
    serde_json::to_writer_pretty(&mut *out, v).map_err(std::io::Error::from)?;
    writeln!(out)?;
    Ok(())
}

fn list(
    store: &dyn Store,
    settings: &Settings,
    app: &str,
    as_json: bool,
    out: &mut dyn std::io::Write,
) -> anyhow::Result<()> {
    let records = store.list_models(app)?;
    let active = store.active_model(app)?;
    if as_json {
        let doc = json!({
            "app": app,
            "active": active.as_ref().map(active_json),
            "models": records.iter().map(|r| record_json(settings, r)).collect::<Vec<_>>(),
        });
        return write_json(out, &doc);
    }
    if records.is_empty() {
        writeln!(
            out,
            "app {app:?} has no registered models yet (attune train --app {app} --algorithm auto)"
        )?;
        return Ok(());
    }
    match &active {
        Some(a) => writeln!(
            out,
            "app {app:?}: {} active (activation {}, since {}){}",
            version_name(a.version),
            a.seq,
            short_time(a.since_micros),
            a.rollback_to
                .map(|v| format!("; rollback returns to {}", version_name(v)))
                .unwrap_or_default()
        )?,
        None => writeln!(
            out,
            "app {app:?}: no active model (attune models activate VERSION --app {app})"
        )?,
    }
    let header = [
        "",
        "version",
        "status",
        "algorithm",
        "created",
        "size",
        "metrics",
    ];
    let rows: Vec<[String; 7]> = records
        .iter()
        .map(|r| {
            let present = models::path_of(&settings.data_dir, &r.info.artifact.location).exists();
            [
                if r.status == ModelStatus::Active {
                    "*"
                } else {
                    ""
                }
                .to_string(),
                version_name(r.version),
                r.status.as_str().to_string(),
                r.info.algorithm.clone(),
                short_time(r.info.created_micros),
                if present {
                    human_bytes(r.info.artifact.size_bytes)
                } else {
                    "missing".to_string()
                },
                metrics_summary(r),
            ]
        })
        .collect();
    write_left_table(out, &header, &rows)?;
    Ok(())
}

/// A left-aligned text table (the model table mixes names, times and numbers).
fn write_left_table<const N: usize>(
    out: &mut dyn std::io::Write,
    header: &[&str; N],
    rows: &[[String; N]],
) -> std::io::Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut line = |cells: &mut dyn Iterator<Item = &str>| -> std::io::Result<()> {
        let text: Vec<String> = cells
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        writeln!(out, "{}", text.join("  ").trim_end())
    };
    line(&mut header.iter().copied())?;
    for row in rows {
        line(&mut row.iter().map(String::as_str))?;
    }
    Ok(())
}

fn show(
    store: &dyn Store,
    settings: &Settings,
    app: &str,
    v: u32,
    as_json: bool,
    out: &mut dyn std::io::Write,
) -> anyhow::Result<()> {
    let r = models::registered(settings, store, app, v)?;
    // Informational: a damaged artifact is reported, not an error of `show`.
    let check = match models::load_registered(settings, app, &r) {
        Ok(_) => "ok".to_string(),
        Err(e) => format!("{e:#}"),
    };
    let mut doc = record_json(settings, &r);
    doc["artifact"]["check"] = Value::String(check.clone());
    if as_json {
        return write_json(out, &doc);
    }
    let a = &r.info.artifact;
    writeln!(out, "model {} of app {app:?}", version_name(r.version))?;
    writeln!(out, "  status      {}", r.status.as_str())?;
    writeln!(out, "  algorithm   {}", r.info.algorithm)?;
    writeln!(out, "  parameters  {}", doc["params"])?;
    writeln!(out, "  created     {}", time(r.info.created_micros))?;
    writeln!(out, "  registered  {}", time(r.registered_micros))?;
    if r.info.metrics.is_empty() {
        writeln!(out, "  metrics     -")?;
    }
    for (i, (name, value)) in r.info.metrics.iter().enumerate() {
        let label = if i == 0 { "metrics" } else { "" };
        writeln!(out, "  {label:<10}  {name} = {value}")?;
    }
    writeln!(out, "  data        {}", doc["data"])?;
    writeln!(
        out,
        "  artifact    {} ({}, {} bytes, xxh64 {:016x})",
        doc["artifact"]["path"].as_str().unwrap_or_default(),
        human_bytes(a.size_bytes),
        a.size_bytes,
        a.checksum
    )?;
    writeln!(out, "  check       {check}")?;
    Ok(())
}

/// The error of an activation or rollback through the engine: a refused artifact says what
/// stays active, a lost race says nothing changed.
fn refused(e: ServingError, refusing: String) -> anyhow::Error {
    match e {
        ServingError::Store(e @ StoreError::StaleActivation { .. }) => anyhow::Error::new(e)
            .context("another activation happened while the artifact was being verified; run the command again"),
        ServingError::Store(e) => e.into(),
        e => anyhow::Error::new(e).context(refusing),
    }
}

fn activate(
    engine: &Serving,
    settings: &Settings,
    app: &str,
    v: u32,
    out: &mut dyn std::io::Write,
) -> anyhow::Result<()> {
    let store = &**engine.store();
    let name = version_name(v);
    models::registered(settings, store, app, v)?;
    let before = store.active_model(app)?;
    if let Some(a) = before.filter(|a| a.version == v) {
        writeln!(out, "{name} is already active (activation {})", a.seq)?;
        return Ok(());
    }
    let keeps = match before {
        Some(a) => format!("{} stays active", version_name(a.version)),
        None => "no model is active".to_string(),
    };
    let o = engine
        .activate(app, v)
        .map_err(|e| refused(e, format!("refusing to activate {name}; {keeps}")))?;
    match before {
        Some(p) => writeln!(
            out,
            "activated {name} (was {}; activation {})",
            version_name(p.version),
            o.seq
        )?,
        None => writeln!(out, "activated {name} (activation {})", o.seq)?,
    }
    Ok(())
}

fn rollback(
    engine: &Serving,
    settings: &Settings,
    app: &str,
    out: &mut dyn std::io::Write,
) -> anyhow::Result<()> {
    let store = &**engine.store();
    let Some(active) = store.active_model(app)? else {
        anyhow::bail!("app {app:?} has no active model; there is nothing to roll back");
    };
    let current = version_name(active.version);
    let Some(target) = active.rollback_to else {
        return Err(anyhow::Error::new(StoreError::NoRollbackTarget {
            app: app.to_string(),
        })
        .context(format!("{current} stays active")));
    };
    models::registered(settings, store, app, target)?;
    let o = engine.rollback(app).map_err(|e| {
        refused(
            e,
            format!(
                "refusing to roll back to {}; {current} stays active",
                version_name(target)
            ),
        )
    })?;
    writeln!(
        out,
        "rolled back to {} (was {current}; activation {})",
        version_name(o.version),
        o.seq
    )?;
    Ok(())
}

fn history(
    store: &dyn Store,
    app: &str,
    as_json: bool,
    out: &mut dyn std::io::Write,
) -> anyhow::Result<()> {
    let entries = store.model_activations(app)?;
    if as_json {
        let rows: Vec<Value> = entries
            .iter()
            .map(|a| {
                json!({
                    "seq": a.seq,
                    "action": a.kind.as_str(),
                    "version": a.version,
                    "previous": a.previous,
                    "at": time(a.at_micros),
                })
            })
            .collect();
        return write_json(out, &json!({ "app": app, "activations": rows }));
    }
    if entries.is_empty() {
        writeln!(out, "app {app:?} has never activated a model")?;
        return Ok(());
    }
    let rows: Vec<[String; 5]> = entries
        .iter()
        .map(|a| {
            [
                a.seq.to_string(),
                a.kind.as_str().to_string(),
                version_name(a.version),
                a.previous.map_or_else(|| "-".to_string(), version_name),
                short_time(a.at_micros),
            ]
        })
        .collect();
    write_left_table(out, &["seq", "action", "version", "previous", "at"], &rows)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_ls_h() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(5 * 1024 * 1024), "5.0 MiB");
        assert_eq!(human_bytes(3 << 30), "3.0 GiB");
    }

    #[test]
    fn tables_align_every_column() {
        let mut out = Vec::new();
        let rows = [
            ["*".to_string(), "v0002".to_string(), "active".to_string()],
            [String::new(), "v0001".to_string(), "inactive".to_string()],
        ];
        write_left_table(&mut out, &["", "version", "status"], &rows).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "   version  status\n*  v0002    active\n   v0001    inactive\n"
        );
    }
}
