//! `attune profile [--json]`: the shape of an app's data, before choosing an algorithm.
//!
//! The profile is of the data training sees (`attune_pipeline::AppData`: events of users who
//! allow personalization, cleaned by `[clean]` unless `[train].clean` is off), so it describes
//! what a model learns from. Definitions (interactions exclude impressions, quantiles are type 7,
//! "cold" is fewer than 5 interactions) are the core's: see `attune_core::profile`.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::ExitCode;

use attune_core::profile::advice::{advise, Advice};
use attune_core::profile::{CountSummary, DataProfile, COLD_THRESHOLD};
use attune_core::time::MICROS_PER_DAY;
use serde::Serialize;

use super::apps::{open_store, require_app};
use crate::cli::ProfileArgs;
use crate::config::Settings;

pub fn run(args: ProfileArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    let store = open_store(settings)?;
    let app = args.app.app.as_str();
    require_app(&*store, app)?;
    // The data training sees: consent applied and, with `[train].clean`, cleaned.
    let config = crate::serving::pipeline_config(settings)?;
    let data = attune_pipeline::AppData::for_training(&*store, app, &config, None)?;
    let profile = data.profile();
    let now_micros = chrono::Utc::now().timestamp_micros();
    let dto = ProfileDto::new(app, &profile, now_micros);
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &dto).map_err(std::io::Error::from)?;
        writeln!(out)?;
    } else {
        dto.write_human(&mut out)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The JSON profile (`--json`); shares are fractions in 0..=1.
#[derive(Debug, Serialize)]
struct ProfileDto {
    app: String,
    events: u64,
    interactions: u64,
    anonymous_events: u64,
    users: u64,
    active_users: u64,
    catalog_items: u64,
    interacted_items: u64,
    unknown_items: u64,
    catalog_coverage: f64,
    distinct_pairs: u64,
    density: f64,
    sparsity: f64,
    per_user: CountsDto,
    per_item: CountsDto,
    items_with_text: f64,
    items_with_categories: f64,
    /// RFC 3339, in the offset the event was written in.
    first_event: Option<String>,
    last_event: Option<String>,
    span_days: f64,
    /// Days from the last event to now (how stale the data is).
    days_since_last_event: Option<f64>,
    share_last_7_days: f64,
    share_last_30_days: f64,
    /// Fewer interactions than this is cold.
    cold_threshold: u64,
    cold_users: u64,
    cold_users_share: f64,
    cold_items: u64,
    cold_items_share: f64,
    events_by_type: BTreeMap<String, u64>,
    /// Algorithm families to try first, best first (`attune_core::profile::advice`).
    recommended_algorithms: Vec<AdviceDto>,
}

/// One suggested algorithm family.
#[derive(Debug, Serialize)]
struct AdviceDto {
    /// Name for `attune train --algorithm`.
    algorithm: &'static str,
    title: &'static str,
    priority: u8,
    reasons: Vec<String>,
}

impl From<&Advice> for AdviceDto {
    fn from(a: &Advice) -> Self {
        Self {
            algorithm: a.family.algorithm(),
            title: a.family.title(),
            priority: a.priority,
            reasons: a.reasons.clone(),
        }
    }
}

#[derive(Debug, Serialize)]
struct CountsDto {
    n: u64,
    min: f64,
    p25: f64,
    median: f64,
    p75: f64,
    p90: f64,
    p99: f64,
    max: f64,
    mean: f64,
    gini: f64,
}

impl From<&CountSummary> for CountsDto {
    fn from(s: &CountSummary) -> Self {
        Self {
            n: s.n,
            min: s.min,
            p25: s.p25,
            median: s.median,
            p75: s.p75,
            p90: s.p90,
            p99: s.p99,
            max: s.max,
            mean: s.mean,
            gini: s.gini,
        }
    }
}

impl ProfileDto {
    fn new(app: &str, p: &DataProfile, now_micros: i64) -> Self {
        Self {
            app: app.to_string(),
            events: p.events,
            interactions: p.interactions,
            anonymous_events: p.anonymous_events,
            users: p.users,
            active_users: p.active_users,
            catalog_items: p.catalog_items,
            interacted_items: p.interacted_items,
            unknown_items: p.unknown_items,
            catalog_coverage: p.catalog_coverage,
            distinct_pairs: p.distinct_pairs,
            density: p.density,
            sparsity: p.sparsity(),
            per_user: (&p.per_user).into(),
            per_item: (&p.per_item).into(),
            items_with_text: p.items_with_text,
            items_with_categories: p.items_with_categories,
            first_event: p.first_event.map(|t| t.to_rfc3339()),
            last_event: p.last_event.map(|t| t.to_rfc3339()),
            span_days: p.span_days,
            days_since_last_event: p
                .last_event
                .map(|t| (now_micros - t.utc_micros) as f64 / MICROS_PER_DAY as f64),
            share_last_7_days: p.share_last_7_days,
            share_last_30_days: p.share_last_30_days,
            cold_threshold: COLD_THRESHOLD,
            cold_users: p.cold_users,
            cold_users_share: p.cold_users_share,
            cold_items: p.cold_items,
            cold_items_share: p.cold_items_share,
            events_by_type: p
                .events_by_type
                .iter()
                .map(|(t, n)| (t.as_str().to_string(), *n))
                .collect(),
            recommended_algorithms: advise(p).iter().map(AdviceDto::from).collect(),
        }
    }

    fn write_human(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        let pct = |x: f64| format!("{:.1}%", 100.0 * x);
        writeln!(out, "Data profile for app {:?}", self.app)?;
        writeln!(out)?;
        let rows: [(&str, String); 12] = [
            ("events", self.events.to_string()),
            (
                "interactions (excl. impressions)",
                self.interactions.to_string(),
            ),
            ("anonymous events", self.anonymous_events.to_string()),
            (
                "users",
                format!("{} ({} with interactions)", self.users, self.active_users),
            ),
            ("catalog items", self.catalog_items.to_string()),
            (
                "interacted items",
                format!(
                    "{} ({} not in the catalog)",
                    self.interacted_items, self.unknown_items
                ),
            ),
            ("catalog coverage", pct(self.catalog_coverage)),
            ("distinct user-item pairs", self.distinct_pairs.to_string()),
            (
                "density",
                format!(
                    "{:.4}% (sparsity {:.4}%)",
                    100.0 * self.density,
                    100.0 * self.sparsity
                ),
            ),
            ("items with text", pct(self.items_with_text)),
            ("items with categories", pct(self.items_with_categories)),
            (
                "cold (< 5 interactions)",
                format!(
                    "{} users ({}), {} items ({})",
                    self.cold_users,
                    pct(self.cold_users_share),
                    self.cold_items,
                    pct(self.cold_items_share)
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
            self.first_event.as_deref().unwrap_or("-")
        )?;
        writeln!(
            out,
            "{:<34}{}",
            "last event",
            self.last_event.as_deref().unwrap_or("-")
        )?;
        writeln!(out, "{:<34}{:.1} days", "time span", self.span_days)?;
        if let Some(d) = self.days_since_last_event {
            writeln!(out, "{:<34}{d:.1} days ago", "last event was")?;
        }
        writeln!(
            out,
            "{:<34}{} in the last 7 days, {} in the last 30 (before the last event)",
            "recency",
            pct(self.share_last_7_days),
            pct(self.share_last_30_days)
        )?;
        writeln!(out)?;
        writeln!(
            out,
            "{:<10}{:>8}{:>8}{:>8}{:>8}{:>8}{:>8}{:>8}{:>8}{:>9}{:>7}",
            "per", "n", "min", "p25", "median", "p75", "p90", "p99", "max", "mean", "gini"
        )?;
        for (name, s) in [("user", &self.per_user), ("item", &self.per_item)] {
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
        for (t, n) in &self.events_by_type {
            writeln!(out, "  {t:<20}{n:>10}")?;
        }
        writeln!(out)?;
        writeln!(
            out,
            "Recommended algorithms (try in this order; `attune train --algorithm auto` evaluates them):"
        )?;
        for (rank, a) in self.recommended_algorithms.iter().enumerate() {
            writeln!(out, "  {}. {:<12}{}", rank + 1, a.algorithm, a.title)?;
            for r in &a.reasons {
                writeln!(out, "       - {r}")?;
            }
        }
        Ok(())
    }
}

/// Quantiles are often whole; print them without a useless `.0`.
fn num(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}
