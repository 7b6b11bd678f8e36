//! `attune fairness online`: the online figures of the lists served in a window, the
//! document `GET /v1/fairness` returns (`attune_monitor::fairness::online_fairness`).

use std::io::Write as _;
use std::process::ExitCode;

use attune_monitor::fairness::{online_fairness, FairnessQuery};

use crate::cli::FairnessOnlineArgs;
use crate::cmd::apps::{open_store, require_app};
use crate::config::Settings;

pub fn run(args: FairnessOnlineArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    let store = open_store(settings)?;
    let app = args.app.app.as_str();
    require_app(&*store, app)?;
    let q = FairnessQuery {
        until_micros: chrono::Utc::now().timestamp_micros() + 1,
        window_secs: args.window_secs.unwrap_or(settings.monitor.window_secs),
        item_groups: args.item_groups,
        user_groups: args.user_groups,
        max_events: settings.monitor.quality.max_events.max(1),
    };
    let r = online_fairness(&*store, app, &q)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &r.to_json(&q))?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    let e = &r.exposure;
    writeln!(
        out,
        "online fairness of app {app:?}: {} lists served in the last {} s",
        e.lists, q.window_secs
    )?;
    writeln!(
        out,
        "item groups {}: exposure gap {:.4}, ratio gap {:.3}, item-exposure Gini {:.4}",
        q.item_groups, e.gap, e.ratio_gap, e.gini
    )?;
    writeln!(
        out,
        "{:<16} {:>7} {:>8} {:>10} {:>7} {:>12}",
        "group", "items", "share", "catalogue", "ratio", "recommended"
    )?;
    for g in &e.groups {
        writeln!(
            out,
            "{:<16} {:>7} {:>7.1}% {:>9.1}% {:>7.3} {:>11.1}%",
            g.label,
            g.items,
            100.0 * g.share,
            100.0 * g.catalogue_share,
            g.ratio,
            100.0 * g.recommended_rate
        )?;
    }
    if let (Some(spec), Some(groups)) = (&q.user_groups, &r.user_groups) {
        writeln!(
            out,
            "\nuser groups {spec}: demographic-parity gap (CTR) {:.4}",
            r.dp_gap.unwrap_or(0.0)
        )?;
        writeln!(
            out,
            "{:<16} {:>6} {:>6} {:>11} {:>7} {:>7}",
            "group", "users", "lists", "impressions", "clicks", "ctr"
        )?;
        for g in groups {
            writeln!(
                out,
                "{:<16} {:>6} {:>6} {:>11} {:>7} {:>7.4}",
                g.label, g.users, g.lists, g.impressions, g.clicks, g.ctr
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
