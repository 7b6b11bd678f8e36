//! `attune outcomes`: what served lists led to over a time range, by model version, source or
//! experiment variant, and by position (`attune_experiment::outcomes`, what `GET /v1/outcomes`
//! returns).

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::Context as _;
use attune_core::attribution::AttributionParams;
use attune_core::time::Timestamp;
use attune_experiment::outcomes;

use super::apps::{open_store, require_app};
use crate::cli::OutcomesArgs;
use crate::config::Settings;

pub(super) fn time(text: &str, flag: &str) -> anyhow::Result<i64> {
    Timestamp::parse_rfc3339(text)
        .map(|t| t.utc_micros)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("{flag} {text:?}"))
}

pub fn run(args: OutcomesArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    let group = outcomes::group_of(&args.group)?;
    anyhow::ensure!(
        args.days > 0.0 && args.days.is_finite(),
        "--days must be a positive number, got {}",
        args.days
    );
    anyhow::ensure!(
        args.window_hours > 0.0 && args.window_hours <= 2160.0,
        "--window-hours must be in (0, 2160], got {}",
        args.window_hours
    );
    let until = match &args.until {
        Some(t) => time(t, "--until")?,
        None => chrono::Utc::now().timestamp_micros(),
    };
    let since = match &args.since {
        Some(t) => time(t, "--since")?,
        None => until - (args.days * 86_400e6) as i64,
    };
    let store = open_store(settings)?;
    require_app(&*store, &args.app.app)?;
    let o = outcomes::outcomes(
        &*store,
        &args.app.app,
        since,
        until,
        group,
        args.experiment.as_deref(),
        &AttributionParams {
            window_micros: (args.window_hours * 3.6e9) as i64,
            view_through: args.view_through,
        },
    )?;
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&o)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        out,
        "{:<20} {:>7} {:>7} {:>11} {:>7} {:>8} {:>9} {:>10} {:>12} {:>12}",
        o.grouped_by,
        "users",
        "lists",
        "impressions",
        "clicks",
        "ctr",
        "buyers%",
        "purchases",
        "rev/user",
        "dwell s/user"
    )?;
    for g in &o.groups {
        writeln!(
            out,
            "{:<20} {:>7} {:>7} {:>11} {:>7} {:>8.4} {:>9.2} {:>10} {:>12.2} {:>12.1}",
            g.group,
            g.users,
            g.lists,
            g.impressions,
            g.clicks,
            g.ctr,
            100.0 * g.conversion,
            g.purchases,
            g.revenue_per_user,
            g.dwell_ms_per_user / 1000.0
        )?;
    }
    if !o.positions.is_empty() {
        writeln!(out, "position  impressions  clicks  ctr")?;
        for p in &o.positions {
            writeln!(
                out,
                "{:>8} {:>12} {:>7} {:>6.4}",
                p.position, p.impressions, p.clicks, p.ctr
            )?;
        }
    }
    if o.unmatched_outcomes > 0 {
        writeln!(
            out,
            "{} outcomes carried a recommendation id no logged list has (impressions off, dropped, or older)",
            o.unmatched_outcomes
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
