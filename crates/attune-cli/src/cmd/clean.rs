//! `attune clean --report [--json]`: what the cleaning pass would remove, and why.
//!
//! Reads the app as training reads it (`attune_pipeline::AppData`: the events of users who
//! allow personalization), runs the `[clean]` pass training runs, and prints the per-reason
//! counts, the fitted outlier rules and the most active flagged users and items with their
//! measures. It is a report: nothing is deleted (training applies the same pass to its own
//! copy of the data). Events of users who opted out are counted apart: training never sees
//! them. An app without a catalog is cleaned with every item treated as known, since "unknown
//! item" would otherwise remove every event; the report says so.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::ExitCode;

use attune_core::clean::{self, CleanReport, RobustRule, ValidCleanConfig};
use serde::Serialize;

use super::apps::{open_store, require_app, write_table};
use crate::cli::CleanArgs;
use crate::config::Settings;

pub fn run(args: CleanArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    // Check the parameters before reading any data.
    let config = crate::serving::pipeline_config(settings)?;
    let store = open_store(settings)?;
    let app = args.app.app.as_str();
    require_app(&*store, app)?;
    // The data training reads (consent applied), through the pass training applies.
    let mut data = attune_pipeline::AppData::read(&*store, app)?;
    data.clean(&config.clean);
    let cleaned = data.clean_report().expect("cleaned just now");
    let report = ReportDto::new(
        app,
        cleaned,
        &config.clean,
        data.catalog.len() as u64,
        data.withheld_events as u64,
        args.top,
    );
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &report).map_err(std::io::Error::from)?;
        writeln!(out)?;
    } else {
        report.write_human(&mut out)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The JSON report (`--json`). Core types are not `Serialize`; this is the CLI's contract.
#[derive(Debug, Serialize)]
struct ReportDto {
    app: String,
    /// Always false: the report never changes the store.
    deleted: bool,
    /// Events of users without personalization consent: not trained on, not cleaned.
    withheld_events: u64,
    input_events: u64,
    kept: u64,
    removed: u64,
    /// Every reason, in precedence order (0 when it never fired).
    removed_by_reason: BTreeMap<&'static str, u64>,
    /// Reasons in precedence order (JSON objects carry no order).
    reason_order: Vec<&'static str>,
    catalog_items: u64,
    /// False when the app has no catalog and every item counted as known.
    catalog_used: bool,
    unknown_item_events: u64,
    distinct_unknown_items: u64,
    unavailable_item_events: u64,
    rules: RulesDto,
    flagged_users_total: usize,
    /// The most active flagged users (`--top`).
    flagged_users: Vec<FlaggedUserDto>,
    flagged_items_total: usize,
    flagged_items: Vec<FlaggedItemDto>,
    config: ConfigDto,
}

#[derive(Debug, Serialize)]
struct RulesDto {
    actor_events: RuleDto,
    actor_peak_events: RuleDto,
    item_interactions: RuleDto,
}

/// `median + k · max(MAD, 1)`; `threshold` is null when there was nothing to fit on.
#[derive(Debug, Serialize)]
struct RuleDto {
    n: u64,
    median: f64,
    mad: f64,
    k: f64,
    threshold: Option<f64>,
}

impl From<&RobustRule> for RuleDto {
    fn from(r: &RobustRule) -> Self {
        Self {
            n: r.n,
            median: r.median,
            mad: r.mad,
            k: r.k,
            threshold: r.threshold.is_finite().then_some(r.threshold),
        }
    }
}

#[derive(Debug, Serialize)]
struct FlaggedUserDto {
    actor: String,
    events: u64,
    peak_events_in_window: u64,
    /// `event_count`, `peak_rate` or `count_and_rate`.
    flag: &'static str,
    is_bot: bool,
    removed: bool,
}

#[derive(Debug, Serialize)]
struct FlaggedItemDto {
    item_id: String,
    interactions: u64,
    removed: bool,
}

#[derive(Debug, Serialize)]
struct ConfigDto {
    near_duplicate_window_secs: f64,
    bot_mad_k: f64,
    min_events_for_outlier: u64,
    rate_window_secs: u64,
    bot_min_events_per_sec: f64,
    bot_rule: String,
    drop_bot_users: bool,
    item_outlier_mad_k: f64,
    drop_outlier_items: bool,
    drop_unknown_items: bool,
    drop_unavailable_items: bool,
}

impl ReportDto {
    fn new(
        app: &str,
        r: &CleanReport,
        config: &ValidCleanConfig,
        catalog_items: u64,
        withheld_events: u64,
        top: usize,
    ) -> Self {
        let c = config.config();
        Self {
            app: app.to_string(),
            deleted: false,
            withheld_events,
            input_events: r.input_events,
            kept: r.kept,
            removed: r.removed(),
            removed_by_reason: r
                .removed_by_reason
                .iter()
                .map(|(k, v)| (k.as_str(), *v))
                .collect(),
            reason_order: clean::Reason::ALL.iter().map(|r| r.as_str()).collect(),
            catalog_items,
            catalog_used: catalog_items > 0,
            unknown_item_events: r.unknown_item_events,
            distinct_unknown_items: r.distinct_unknown_items,
            unavailable_item_events: r.unavailable_item_events,
            rules: RulesDto {
                actor_events: (&r.actor_count_rule).into(),
                actor_peak_events: (&r.actor_rate_rule).into(),
                item_interactions: (&r.item_count_rule).into(),
            },
            flagged_users_total: r.flagged_users.len(),
            flagged_users: r
                .flagged_users
                .iter()
                .take(top)
                .map(|f| FlaggedUserDto {
                    actor: f.actor.clone(),
                    events: f.stats.events,
                    peak_events_in_window: f.stats.peak_events_in_window,
                    flag: f.flag.as_str(),
                    is_bot: f.is_bot,
                    removed: f.removed,
                })
                .collect(),
            flagged_items_total: r.flagged_items.len(),
            flagged_items: r
                .flagged_items
                .iter()
                .take(top)
                .map(|f| FlaggedItemDto {
                    item_id: f.item_id.clone(),
                    interactions: f.interactions,
                    removed: f.removed,
                })
                .collect(),
            config: ConfigDto {
                near_duplicate_window_secs: c.near_duplicate_window_secs,
                bot_mad_k: c.bot_mad_k,
                min_events_for_outlier: c.min_events_for_outlier,
                rate_window_secs: c.rate_window_secs,
                bot_min_events_per_sec: c.bot_min_events_per_sec,
                bot_rule: c.bot_rule.to_string(),
                drop_bot_users: c.drop_bot_users,
                item_outlier_mad_k: c.item_outlier_mad_k,
                drop_outlier_items: c.drop_outlier_items,
                drop_unknown_items: c.drop_unknown_items,
                drop_unavailable_items: c.drop_unavailable_items,
            },
        }
    }

    fn write_human(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        let pct = |n: u64| {
            if self.input_events == 0 {
                0.0
            } else {
                100.0 * n as f64 / self.input_events as f64
            }
        };
        writeln!(
            out,
            "Clean report for app {:?} (a report only: nothing was deleted)",
            self.app
        )?;
        writeln!(out)?;
        if self.withheld_events > 0 {
            writeln!(
                out,
                "withheld       {:>10}  events of users without personalization consent (never trained on)",
                self.withheld_events
            )?;
        }
        writeln!(out, "input events   {:>10}", self.input_events)?;
        writeln!(
            out,
            "would keep     {:>10}  {:5.1}%",
            self.kept,
            pct(self.kept)
        )?;
        writeln!(
            out,
            "would remove   {:>10}  {:5.1}%",
            self.removed,
            pct(self.removed)
        )?;
        for reason in &self.reason_order {
            let n = self.removed_by_reason.get(reason).copied().unwrap_or(0);
            writeln!(out, "  {reason:<20} {n:>10}  {:5.1}%", pct(n))?;
        }
        writeln!(out)?;
        if self.catalog_used {
            writeln!(
                out,
                "catalog: {} items; events on unknown items: {} ({} distinct items); on unavailable items: {}",
                self.catalog_items, self.unknown_item_events, self.distinct_unknown_items, self.unavailable_item_events
            )?;
        } else {
            writeln!(
                out,
                "catalog: none imported, so every item counts as known (unknown-item rule skipped)"
            )?;
        }
        let rule = |name: &str, r: &RuleDto| match r.threshold {
            Some(t) => format!(
                "{name}: median {} + {} x MAD {} -> flagged above {t} (over {})",
                r.median, r.k, r.mad, r.n
            ),
            None => format!("{name}: no data"),
        };
        writeln!(
            out,
            "{}",
            rule("events per actor", &self.rules.actor_events)
        )?;
        writeln!(
            out,
            "{} (and at least {} events)",
            rule(
                &format!(
                    "peak events per actor in {} s",
                    self.config.rate_window_secs
                ),
                &self.rules.actor_peak_events
            ),
            self.config.bot_min_events_per_sec * self.config.rate_window_secs as f64
        )?;
        writeln!(
            out,
            "{}",
            rule("interactions per item", &self.rules.item_interactions)
        )?;
        writeln!(
            out,
            "(actors and items with fewer than {} events are never flagged)",
            self.config.min_events_for_outlier
        )?;

        writeln!(out)?;
        if self.flagged_users_total == 0 {
            writeln!(out, "flagged users: none")?;
        } else {
            writeln!(
                out,
                "flagged users: {} (top {} by events)",
                self.flagged_users_total,
                self.flagged_users.len()
            )?;
            let rows: Vec<[String; 6]> = self
                .flagged_users
                .iter()
                .map(|u| {
                    [
                        u.actor.clone(),
                        u.events.to_string(),
                        u.peak_events_in_window.to_string(),
                        u.flag.to_string(),
                        yes_no(u.is_bot),
                        yes_no(u.removed),
                    ]
                })
                .collect();
            let peak = format!("peak/{}s", self.config.rate_window_secs);
            write_table(
                out,
                &["actor", "events", &peak, "flag", "bot", "removed"],
                &rows,
            )?;
        }
        writeln!(out)?;
        if self.flagged_items_total == 0 {
            writeln!(out, "flagged items: none")?;
        } else {
            writeln!(
                out,
                "flagged items: {} (top {} by interactions)",
                self.flagged_items_total,
                self.flagged_items.len()
            )?;
            let rows: Vec<[String; 3]> = self
                .flagged_items
                .iter()
                .map(|i| {
                    [
                        i.item_id.clone(),
                        i.interactions.to_string(),
                        yes_no(i.removed),
                    ]
                })
                .collect();
            write_table(out, &["item", "interactions", "removed"], &rows)?;
        }
        Ok(())
    }
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_string()
}
