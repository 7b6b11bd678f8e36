//! `attune experiment create|update|start|stop|list|show|report|bandit|analyze|simulate`: the
//! experiments of `attune_experiment`, the same calls `/v1/experiments` makes, printed for a
//! person (or as the API's JSON with `--json`).

use std::io::{Read as _, Write as _};
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use attune_core::stats::{Counts, PairSums, Summary};
use attune_experiment::analysis::{self, AnalysisParams, MetricData};
use attune_experiment::report::{self, Report};
use attune_experiment::{lifecycle, Definition, Experiment};
use serde_json::{json, Value};

use super::apps::{open_store, require_app};
use crate::cli::{AnalysisArgs, ExperimentCommand};
use crate::config::Settings;

mod simulate;

pub fn run(command: ExperimentCommand, settings: &Settings) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    match command {
        ExperimentCommand::Analyze {
            file,
            control,
            shares,
            json,
            analysis,
        } => {
            return analyze(
                &file,
                control.as_deref(),
                &shares,
                json,
                &params(&analysis)?,
                &mut out,
            )
        }
        ExperimentCommand::Simulate(args) => return simulate::run(&args, &mut out),
        _ => {}
    }
    let store = open_store(settings)?;
    match command {
        ExperimentCommand::Create {
            name,
            file,
            layer,
            start,
            app,
        } => {
            require_app(&*store, &app.app)?;
            let d = definition(&file)?;
            lifecycle::create(&*store, &app.app, &name, &layer, &d)?;
            writeln!(
                out,
                "created experiment {name:?} in layer {layer:?} (draft)"
            )?;
            if start {
                started(&lifecycle::start(&*store, &app.app, &name)?, &mut out)?;
            }
        }
        ExperimentCommand::Update { name, file, app } => {
            require_app(&*store, &app.app)?;
            lifecycle::update(&*store, &app.app, &name, &definition(&file)?)?;
            writeln!(
                out,
                "updated experiment {name:?}; start it to begin a new phase"
            )?;
        }
        ExperimentCommand::Start { name, app } => {
            require_app(&*store, &app.app)?;
            started(&lifecycle::start(&*store, &app.app, &name)?, &mut out)?;
        }
        ExperimentCommand::Stop { name, app } => {
            require_app(&*store, &app.app)?;
            let e = lifecycle::stop(&*store, &app.app, &name)?;
            writeln!(
                out,
                "stopped experiment {name:?} (phase {})",
                e.record.phase
            )?;
        }
        ExperimentCommand::List { json, app } => {
            require_app(&*store, &app.app)?;
            let all = lifecycle::list(&*store, &app.app)?;
            if json {
                let v: Vec<Value> = all.iter().map(summary_json).collect();
                writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(&json!({"experiments": v}))?
                )?;
            } else if all.is_empty() {
                writeln!(out, "app {:?} has no experiments", app.app)?;
            } else {
                for e in &all {
                    let r = &e.record;
                    writeln!(
                        out,
                        "{:<24} {:<10} layer {:<12} phase {:<3} {} variants, traffic {}",
                        r.name,
                        r.status.as_str(),
                        r.layer,
                        r.phase,
                        e.definition.variants.len(),
                        e.definition.traffic
                    )?;
                }
            }
        }
        ExperimentCommand::Show { name, app } => {
            require_app(&*store, &app.app)?;
            let e = lifecycle::get(&*store, &app.app, &name)?;
            let phases = store.experiment_phases(&app.app, &name)?;
            let mut v = summary_json(&e);
            v["phases"] = phases
                .iter()
                .map(|p| {
                    json!({"phase": p.phase, "buckets": [p.buckets.0, p.buckets.1],
                           "started_micros": p.started_micros, "stopped_micros": p.stopped_micros})
                })
                .collect();
            writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        }
        ExperimentCommand::Report {
            name,
            phase,
            json,
            analysis,
            app,
        } => {
            require_app(&*store, &app.app)?;
            let now = chrono::Utc::now().timestamp_micros();
            let r = report::report(&*store, &app.app, &name, phase, now, &params(&analysis)?)?;
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&r)?)?;
            } else {
                write_report(&r, &mut out)?;
            }
        }
        ExperimentCommand::Bandit { name, json, app } => {
            require_app(&*store, &app.app)?;
            let now = chrono::Utc::now().timestamp_micros();
            let state = attune_experiment::bandit::update(&*store, &app.app, &name, now)?;
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&state)?)?;
            } else {
                let e = lifecycle::get(&*store, &app.app, &name)?;
                let names: Vec<&str> = e
                    .definition
                    .variants
                    .iter()
                    .map(|v| v.name.as_str())
                    .collect();
                write_bandit(&state, &names, &mut out)?;
            }
        }
        ExperimentCommand::Analyze { .. } | ExperimentCommand::Simulate(_) => unreachable!(),
    }
    Ok(ExitCode::SUCCESS)
}

fn params(a: &AnalysisArgs) -> anyhow::Result<AnalysisParams> {
    anyhow::ensure!(
        a.confidence > 0.0 && a.confidence < 1.0,
        "--confidence must be between 0 and 1, got {}",
        a.confidence
    );
    anyhow::ensure!(
        a.alpha > 0.0 && a.alpha < 1.0,
        "--alpha must be between 0 and 1, got {}",
        a.alpha
    );
    anyhow::ensure!(
        a.mde > 0.0 && a.mde.is_finite(),
        "--mde must be a positive number, got {}",
        a.mde
    );
    Ok(AnalysisParams {
        confidence: a.confidence,
        alpha: a.alpha,
        mde_relative: a.mde,
        ..AnalysisParams::default()
    })
}

fn read_file(file: &Path) -> anyhow::Result<String> {
    if file == Path::new("-") {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        return Ok(s);
    }
    std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))
}

fn definition(file: &Path) -> anyhow::Result<Definition> {
    Definition::from_json(&read_file(file)?)
        .with_context(|| format!("invalid experiment definition in {}", file.display()))
}

fn started(e: &Experiment, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let r = &e.record;
    writeln!(
        out,
        "started experiment {:?}: phase {}, layer {:?} buckets {:?}",
        r.name, r.phase, r.layer, r.buckets
    )
}

fn summary_json(e: &Experiment) -> Value {
    let r = &e.record;
    json!({
        "name": r.name, "layer": r.layer, "status": r.status.as_str(), "phase": r.phase,
        "buckets": r.buckets.map(|b| json!([b.0, b.1])),
        "definition": serde_json::from_str::<Value>(&r.definition).unwrap_or(Value::Null),
    })
}

fn pct(x: f64) -> String {
    format!("{:+.2}%", 100.0 * x)
}

fn write_report(r: &Report, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    writeln!(
        out,
        "experiment {:?} phase {} ({}), decision metric {}, control {}",
        r.experiment, r.phase, r.status, r.metric, r.control
    )?;
    writeln!(
        out,
        "{:<16} {:>7} {:>8} {:>8} {:>12} {:>8} {:>8} {:>10}",
        "variant", "share", "users", "lists", "impressions", "clicks", "buyers", "revenue"
    )?;
    for v in &r.variants {
        writeln!(
            out,
            "{:<16} {:>7.3} {:>8} {:>8} {:>12} {:>8} {:>8} {:>10.2}",
            v.name,
            v.share,
            v.users,
            v.lists,
            v.impressions,
            v.clicks,
            v.converted_users,
            v.revenue
        )?;
    }
    if let Some(s) = &r.srm {
        writeln!(
            out,
            "sample ratio: chi2 {:.3}, p = {:.4}{}",
            s.chi2,
            s.p_value,
            if s.mismatch { "  MISMATCH" } else { "" }
        )?;
    }
    for (metric, results) in &r.metrics {
        for m in results {
            writeln!(
                out,
                "{metric:<18} {:<16} {:>10.5} vs {:<10.5} lift {} [{}, {}]  p {:.4} (adj {:.4}, seq {:.4}){}",
                m.variant,
                m.value,
                m.control_value,
                pct(m.lift.estimate),
                pct(m.lift.low),
                pct(m.lift.high),
                m.p_value,
                m.p_adjusted,
                m.sequential_p_value,
                if m.significant { " *" } else { "" }
            )?;
        }
    }
    if let Some(b) = &r.bandit {
        let names: Vec<&str> = r.variants.iter().map(|v| v.name.as_str()).collect();
        write_bandit(b, &names, out)?;
    }
    writeln!(out, "decision: {}", r.decision)
}

/// A bandit's state: per arm, then (contextual) per context.
fn write_bandit(
    b: &attune_experiment::bandit::BanditState,
    names: &[&str],
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    writeln!(
        out,
        "bandit (phase {}): estimated regret {:.1} lists",
        b.phase, b.regret
    )?;
    writeln!(
        out,
        "{:<16} {:>8} {:>10} {:>8} {:>11}",
        "arm", "lists", "successes", "rate", "allocation"
    )?;
    for (i, name) in names.iter().enumerate() {
        let (t, s) = (b.trials[i], b.successes[i]);
        let rate = if t > 0 { s as f64 / t as f64 } else { 0.0 };
        writeln!(
            out,
            "{name:<16} {t:>8} {s:>10} {rate:>8.4} {:>11.3}",
            b.allocation[i]
        )?;
    }
    if let Some(c) = &b.contextual {
        for share in &c.contexts {
            let values: Vec<String> = share
                .values
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            let arms: Vec<String> = names
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    format!(
                        "{n} {:.3} ({}/{})",
                        share.allocation[i], share.successes[i], share.trials[i]
                    )
                })
                .collect();
            writeln!(out, "  {}: {}", values.join(" "), arms.join(", "))?;
        }
    }
    Ok(())
}

/// The rows of an aggregates file, per variant in file order.
fn rows_of(text: &str) -> anyhow::Result<Vec<(String, MetricData)>> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()?
        .iter()
        .map(|h| h.to_ascii_lowercase())
        .collect();
    let col = |name: &str| header.iter().position(|h| h == name);
    let records: Vec<csv::StringRecord> = reader.records().collect::<Result<_, _>>()?;
    let num = |r: &csv::StringRecord, i: usize, line: usize| -> anyhow::Result<f64> {
        let cell = r.get(i).unwrap_or("");
        cell.parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
            .with_context(|| {
                format!(
                    "line {}: column {:?} is not a number: {cell:?}",
                    line + 2,
                    header[i]
                )
            })
    };
    let v = col("variant").context("the header must name a `variant` column")?;
    let mut order: Vec<String> = Vec::new();
    let mut groups: std::collections::BTreeMap<String, Vec<(usize, &csv::StringRecord)>> =
        Default::default();
    for (line, r) in records.iter().enumerate() {
        let name = r.get(v).unwrap_or("").to_string();
        anyhow::ensure!(!name.is_empty(), "line {}: empty variant", line + 2);
        if !order.contains(&name) {
            order.push(name.clone());
        }
        groups.entry(name).or_default().push((line, r));
    }
    let stat = |e: attune_core::stats::StatsError| anyhow::anyhow!("{e}");
    let one = |name: &str| -> anyhow::Result<(usize, &csv::StringRecord)> {
        let g = &groups[name];
        anyhow::ensure!(
            g.len() == 1,
            "variant {name:?} has {} rows; aggregates need one",
            g.len()
        );
        Ok(g[0])
    };
    let mut out = Vec::new();
    for name in &order {
        let data = match (col("users"), col("conversions"), col("n"), col("mean"), col("variance"), col("value"), col("numerator"), col("denominator")) {
            (Some(u), Some(c), ..) => {
                let (line, r) = one(name)?;
                let (users, conv) = (num(r, u, line)?, num(r, c, line)?);
                anyhow::ensure!(users.fract() == 0.0 && conv.fract() == 0.0, "line {}: users and conversions are whole numbers", line + 2);
                MetricData::Proportion(Counts::new(conv as u64, users as u64).map_err(stat)?)
            }
            (_, _, Some(n), Some(m), Some(var), ..) => {
                let (line, r) = one(name)?;
                MetricData::Mean(Summary::new(num(r, n, line)? as u64, num(r, m, line)?, num(r, var, line)?).map_err(stat)?)
            }
            (.., Some(value), None, None) => {
                let values: Vec<f64> = groups[name].iter().map(|(line, r)| num(r, value, *line)).collect::<anyhow::Result<_>>()?;
                MetricData::Mean(Summary::from_sample(&values).map_err(stat)?)
            }
            (.., Some(x), Some(y)) => {
                let pairs: Vec<(f64, f64)> = groups[name]
                    .iter()
                    .map(|(line, r)| Ok((num(r, x, *line)?, num(r, y, *line)?)))
                    .collect::<anyhow::Result<_>>()?;
                MetricData::Ratio(PairSums::from_pairs(&pairs).map_err(stat)?)
            }
            _ => anyhow::bail!(
                "unrecognized columns {header:?}; expected variant,users,conversions | variant,n,mean,variance | \
                 variant,user,value | variant,user,numerator,denominator"
            ),
        };
        out.push((name.clone(), data));
    }
    Ok(out)
}

fn analyze(
    file: &Path,
    control: Option<&str>,
    shares: &[String],
    as_json: bool,
    params: &AnalysisParams,
    out: &mut dyn std::io::Write,
) -> anyhow::Result<ExitCode> {
    let rows = rows_of(&read_file(file)?)?;
    anyhow::ensure!(
        rows.len() >= 2,
        "need at least two variants, found {}",
        rows.len()
    );
    let control_index = match control {
        None => 0,
        Some(c) => rows
            .iter()
            .position(|(n, _)| n == c)
            .with_context(|| format!("--control {c:?} is not a variant of the file"))?,
    };
    let comparisons = analysis::compare(&rows, control_index, params)?;
    let srm = if shares.is_empty() {
        None
    } else {
        let mut planned = vec![f64::NAN; rows.len()];
        for s in shares {
            let (name, share) = s
                .split_once('=')
                .with_context(|| format!("--shares takes name=share, got {s:?}"))?;
            let i = rows
                .iter()
                .position(|(n, _)| n == name)
                .with_context(|| format!("--shares names {name:?}, not a variant of the file"))?;
            planned[i] = share
                .parse()
                .with_context(|| format!("--shares: {share:?} is not a number"))?;
        }
        anyhow::ensure!(
            planned.iter().all(|s| s.is_finite()),
            "--shares must name every variant"
        );
        let users: Vec<u64> = rows.iter().map(|(_, d)| d.units()).collect();
        Some(analysis::sample_ratio(&users, &planned)?)
    };
    let control_name = rows[control_index].0.clone();
    let results: Vec<Value> = comparisons
        .iter()
        .map(|c| {
            let decision = analysis::decision("the metric", &control_name, c, srm.as_ref(), params);
            json!({
                "variant": c.variant, "control_value": c.control_value, "value": c.value,
                "difference": {"estimate": c.difference.estimate, "std_error": c.difference.std_error,
                               "low": c.difference.interval.low, "high": c.difference.interval.high},
                "lift": {"estimate": c.lift.estimate, "std_error": c.lift.std_error,
                         "low": c.lift.interval.low, "high": c.lift.interval.high},
                "p_value": c.p_value, "p_adjusted": c.p_adjusted,
                "sequential_p_value": c.sequential_p,
                "prob_beats_control": c.prob_beats_control, "expected_loss": c.expected_loss,
                "power": c.power, "users_needed": c.users_needed,
                "significant": c.significant, "decision": decision,
            })
        })
        .collect();
    if as_json {
        let doc = json!({
            "control": control_name,
            "srm": srm.map(|s| json!({"chi2": s.chi2, "p_value": s.p_value, "mismatch": s.mismatch})),
            "comparisons": results,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
    } else {
        if let Some(s) = &srm {
            writeln!(
                out,
                "sample ratio: chi2 {:.4}, p = {:.6}{}",
                s.chi2,
                s.p_value,
                if s.mismatch { "  MISMATCH" } else { "" }
            )?;
        }
        for r in &results {
            writeln!(out, "{}", r["decision"].as_str().unwrap_or_default())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
