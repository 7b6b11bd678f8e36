//! `attune profile [--json]`: the shape of an app's data, before choosing an algorithm.
//!
//! The profile is of the data training sees (`attune_pipeline::AppData`: events of users who
//! allow personalization, cleaned by `[clean]` unless `[train].clean` is off), so it describes
//! what a model learns from. The report is `attune_pipeline::profile::ProfileReport`, the one
//! `GET /v1/profile` answers; this command only prints it. Definitions (interactions exclude
//! impressions, quantiles are type 7, "cold" is fewer than 5 interactions) are the core's: see
//! `attune_core::profile`.

use std::io::Write as _;
use std::process::ExitCode;

use attune_pipeline::profile::ProfileReport;

use super::apps::{open_store, require_app};
use crate::cli::ProfileArgs;
use crate::config::Settings;

pub fn run(args: ProfileArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    let store = open_store(settings)?;
    let app = args.app.app.as_str();
    require_app(&*store, app)?;
    // The data training sees: consent applied and, with `[train].clean`, cleaned.
    let config = crate::serving::pipeline_config(settings)?;
    let now_micros = chrono::Utc::now().timestamp_micros();
    let report = ProfileReport::build(&*store, app, &config, now_micros)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &report).map_err(std::io::Error::from)?;
        writeln!(out)?;
    } else {
        write_human(&report, &mut out)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The report as a table for a terminal (`--json` prints the API's document).
fn write_human(r: &ProfileReport, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let pct = |x: f64| format!("{:.1}%", 100.0 * x);
    writeln!(out, "Data profile for app {:?}", r.app)?;
    writeln!(out)?;
    let rows: [(&str, String); 12] = [
        ("events", r.events.to_string()),
        (
            "interactions (excl. impressions)",
            r.interactions.to_string(),
        ),
        ("anonymous events", r.anonymous_events.to_string()),
        (
            "users",
            format!("{} ({} with interactions)", r.users, r.active_users),
        ),
        ("catalog items", r.catalog_items.to_string()),
        (
            "interacted items",
            format!(
                "{} ({} not in the catalog)",
                r.interacted_items, r.unknown_items
            ),
        ),
        ("catalog coverage", pct(r.catalog_coverage)),
        ("distinct user-item pairs", r.distinct_pairs.to_string()),
        (
            "density",
            format!(
                "{:.4}% (sparsity {:.4}%)",
                100.0 * r.density,
                100.0 * r.sparsity
            ),
        ),
        ("items with text", pct(r.items_with_text)),
        ("items with categories", pct(r.items_with_categories)),
        (
            "cold (< 5 interactions)",
            format!(
                "{} users ({}), {} items ({})",
                r.cold_users,
                pct(r.cold_users_share),
                r.cold_items,
                pct(r.cold_items_share)
            ),
        ),
    ];
    for (k, v) in rows {
        writeln!(out, "{k:<34}{v}")?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "{:<34}{}",
        "first event",
        r.first_event.as_deref().unwrap_or("-")
    )?;
    writeln!(
        out,
        "{:<34}{}",
        "last event",
        r.last_event.as_deref().unwrap_or("-")
    )?;
    writeln!(out, "{:<34}{:.1} days", "time span", r.span_days)?;
    if let Some(d) = r.days_since_last_event {
        writeln!(out, "{:<34}{d:.1} days ago", "last event was")?;
    }
    writeln!(
        out,
        "{:<34}{} in the last 7 days, {} in the last 30 (before the last event)",
        "recency",
        pct(r.share_last_7_days),
        pct(r.share_last_30_days)
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "{:<10}{:>8}{:>8}{:>8}{:>8}{:>8}{:>8}{:>8}{:>8}{:>9}{:>7}",
        "per", "n", "min", "p25", "median", "p75", "p90", "p99", "max", "mean", "gini"
    )?;
    for (name, s) in [("user", &r.per_user), ("item", &r.per_item)] {
        writeln!(
            out,
            "{name:<10}{:>8}{:>8}{:>8}{:>8}{:>8}{:>8}{:>8}{:>8}{:>9.2}{:>7.3}",
            s.n,
            num(s.min),
            num(s.p25),
            num(s.median),
            num(s.p75),
            num(s.p90),
            num(s.p99),
            num(s.max),
            s.mean,
            s.gini
        )?;
    }
    writeln!(out)?;
    writeln!(out, "events by type:")?;
    for (t, n) in &r.events_by_type {
        writeln!(out, "  {t:<20}{n:>10}")?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "Recommended algorithms (try in this order; `attune train --algorithm auto` evaluates them):"
    )?;
    for (rank, a) in r.recommended_algorithms.iter().enumerate() {
        writeln!(out, "  {}. {:<12}{}", rank + 1, a.algorithm, a.title)?;
        for reason in &a.reasons {
            writeln!(out, "       - {reason}")?;
        }
    }
    Ok(())
}

/// Quantiles are often whole; print them without a useless `.0`.
fn num(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}
