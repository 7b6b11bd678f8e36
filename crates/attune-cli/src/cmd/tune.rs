//! `attune tune NAME --algorithm FAMILY [...]`, `attune tune list` (or `--list`), `attune tune
//! show NAME`, `attune tune delete NAME`: the search is `attune_pipeline::tune`'s; this module
//! turns arguments into its options, draws the progress bar and prints studies.

use std::io::{IsTerminal as _, Write as _};
use std::process::ExitCode;
use std::time::Duration;

use attune_core::tune::{TrialState, Value};
use attune_pipeline::tune::{self, SamplerKind, StudyRun, StudyView, TrialRow, TuneOptions};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use super::apps::{open_store, require_app};
use crate::cli::{SamplerArg, TuneArgs, TuneCommand};
use crate::config::Settings;

pub fn run(args: TuneArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    match args.command {
        Some(TuneCommand::List(a)) => return list(settings, &a.app.app, a.json),
        Some(TuneCommand::Show(a)) => return show(settings, &a.app.app, &a.name, a.json),
        Some(TuneCommand::Delete(a)) => {
            let store = open_store(settings)?;
            require_app(&*store, &a.app.app)?;
            let n = tune::delete(&*store, &a.app.app, &a.name)?;
            eprintln!(
                "attune: deleted {n} stud{}",
                if n == 1 { "y" } else { "ies" }
            );
            return Ok(ExitCode::SUCCESS);
        }
        None => {}
    }
    if args.list {
        return list(settings, &args.app.app, args.json);
    }
    let Some(name) = args.name else {
        anyhow::bail!("name the study to run (attune tune NAME --algorithm FAMILY), or list them (attune tune list)");
    };
    let timeout = args
        .timeout
        .map(|t| {
            Duration::try_from_secs_f64(t)
                .map_err(|_| anyhow::anyhow!("--timeout must be a number of seconds >= 0, got {t}"))
        })
        .transpose()?;
    let options = TuneOptions {
        name,
        algorithm: args.algorithm,
        space: args.space,
        sampler: match args.sampler {
            SamplerArg::Tpe => SamplerKind::Tpe,
            SamplerArg::Random => SamplerKind::Random,
            SamplerArg::Grid => SamplerKind::Grid,
        },
        grid_points: args.grid_points,
        trials: args.trials,
        timeout,
        folds: args.folds,
        jobs: args.jobs,
        seed: args.seed,
        k: args.k,
        segment_attr: args.segment_attr,
    };
    let store = open_store(settings)?;
    let app = args.app.app.as_str();
    require_app(&*store, app)?;
    let config = crate::serving::pipeline_config(settings)?;

    let bar = progress_bar(args.json, options.trials);
    let runs = tune::tune(&*store, &config, app, &options, &|p| {
        bar.set_position(p.done as u64);
        let best = p.best.map_or("-".to_string(), |b| format!("{b:.4}"));
        bar.set_message(format!("{}  best ndcg@{} {best}", p.study, options.k));
    });
    bar.finish_and_clear();
    let runs = runs?;

    let mut out = std::io::stdout().lock();
    if args.json {
        let dto: Vec<StudyDto> = runs.iter().map(StudyDto::of_run).collect();
        serde_json::to_writer_pretty(&mut out, &dto)?;
        writeln!(out)?;
    } else {
        for r in &runs {
            write_run(&mut out, r)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Trials done / total and the best so far on stderr; hidden when stderr is not a terminal
/// or the output is JSON.
fn progress_bar(json: bool, total: Option<usize>) -> ProgressBar {
    if json || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let (len, template) = match total {
        Some(n) => (
            Some(n as u64),
            "{elapsed_precise} [{bar:30}] {pos}/{len} trials  {msg}",
        ),
        None => (None, "{elapsed_precise} {spinner} {pos} trials  {msg}"),
    };
    let pb = ProgressBar::with_draw_target(len, ProgressDrawTarget::stderr())
        .with_style(ProgressStyle::with_template(template).expect("valid template"));
    pb.enable_steady_tick(Duration::from_millis(250));
    pb
}

fn list(settings: &Settings, app: &str, json: bool) -> anyhow::Result<ExitCode> {
    let store = open_store(settings)?;
    require_app(&*store, app)?;
    let views = tune::list(&*store, app)?;
    let mut out = std::io::stdout().lock();
    if json {
        let dto: Vec<StudyDto> = views.iter().map(|v| StudyDto::of_view(v, false)).collect();
        serde_json::to_writer_pretty(&mut out, &dto)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    if views.is_empty() {
        writeln!(
            out,
            "no studies in app {app:?} (attune tune NAME --algorithm FAMILY)"
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        out,
        "{:<32} {:<10} {:>6} {:>10}  {:<8} updated",
        "study", "algorithm", "trials", "best", "state"
    )?;
    for v in &views {
        let r = &v.record;
        writeln!(
            out,
            "{:<32} {:<10} {:>6} {:>10}  {:<8} {}",
            r.name,
            r.algorithm,
            r.n_trials,
            r.best_value.map_or("-".into(), |b| format!("{b:.4}")),
            r.state,
            time(r.updated_micros)
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

fn show(settings: &Settings, app: &str, name: &str, json: bool) -> anyhow::Result<ExitCode> {
    let store = open_store(settings)?;
    require_app(&*store, app)?;
    let views = tune::show(&*store, app, name)?;
    let mut out = std::io::stdout().lock();
    if json {
        let dto: Vec<StudyDto> = views.iter().map(|v| StudyDto::of_view(v, true)).collect();
        serde_json::to_writer_pretty(&mut out, &dto)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    for v in &views {
        write_study(&mut out, v)?;
        write_trials(&mut out, &v.rows())?;
        writeln!(out)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn time(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

fn write_study(out: &mut impl std::io::Write, v: &StudyView) -> std::io::Result<()> {
    let r = &v.record;
    let o = &v.objective;
    let validation = match o.validation {
        tune::Validation::Temporal { fraction } => {
            format!(
                "temporal split, latest {:.0}% of each user held out",
                fraction * 100.0
            )
        }
        tune::Validation::KFold { folds, seed } => {
            format!("{folds}-fold cross-validation (seed {seed})")
        }
    };
    writeln!(out, "study {} ({}, {})", r.name, r.algorithm, r.state)?;
    writeln!(out, "  objective: {}@{} on {validation}", o.metric, o.k)?;
    if let Some((attr, value)) = &o.segment {
        writeln!(out, "  segment:   users with {attr}={value}")?;
    }
    let space: Vec<String> = v
        .study
        .space()
        .params()
        .iter()
        .map(|p| {
            format!(
                "{}={}",
                p.name,
                serde_json::to_string(&p.dist).unwrap_or_default()
            )
        })
        .collect();
    writeln!(out, "  space:     {}", space.join(" "))?;
    writeln!(
        out,
        "  trials:    {} (updated {})",
        r.n_trials,
        time(r.updated_micros)
    )?;
    match v.best() {
        Some(b) => writeln!(
            out,
            "  best:      {} = {:.4} (trial {})",
            b.spec,
            b.value.unwrap_or(f64::NAN),
            b.id
        ),
        None => writeln!(out, "  best:      no complete trial yet"),
    }
}

fn write_trials(out: &mut impl std::io::Write, rows: &[TrialRow]) -> std::io::Result<()> {
    writeln!(out, "  {:>5}  {:<8} {:>8}  spec", "trial", "state", "ndcg")?;
    for t in rows {
        writeln!(
            out,
            "  {:>5}  {:<8} {:>8}  {}",
            t.id,
            state(t.state),
            t.value.map_or("-".into(), |v| format!("{v:.4}")),
            t.spec
        )?;
    }
    Ok(())
}

fn write_run(out: &mut impl std::io::Write, r: &StudyRun) -> std::io::Result<()> {
    write_study(out, &r.view)?;
    writeln!(
        out,
        "  this run:  {} trial(s) added{} ({} pruned, {} failed), stopped by {}, {} validation users",
        r.new_trials,
        if r.resumed { " to the stored study" } else { "" },
        r.pruned,
        r.failed,
        match r.stopped {
            "exhausted" => "the grid being covered",
            "timeout" => "the timeout",
            _ => "the trial budget",
        },
        r.validation_users
    )?;
    if let Some(f) = &r.first_failure {
        writeln!(out, "  first failure: {f}")?;
    }
    let mut rows = r.view.rows();
    let first_new = rows.len() - r.new_trials;
    rows.drain(..first_new);
    write_trials(out, &rows)?;
    writeln!(out)
}

fn state(s: TrialState) -> &'static str {
    match s {
        TrialState::Running => "running",
        TrialState::Complete => "complete",
        TrialState::Pruned => "pruned",
        TrialState::Failed => "failed",
    }
}

#[derive(Serialize)]
struct StudyDto {
    name: String,
    algorithm: String,
    state: String,
    objective: tune::ObjectiveSpec,
    space: attune_core::tune::SearchSpace,
    n_trials: u32,
    best: Option<TrialDto>,
    created: String,
    updated: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    trials: Option<Vec<TrialDto>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    run: Option<RunDto>,
}

#[derive(Serialize)]
struct TrialDto {
    id: u64,
    spec: String,
    params: serde_json::Map<String, serde_json::Value>,
    state: &'static str,
    value: Option<f64>,
    intermediate: Vec<f64>,
}

#[derive(Serialize)]
struct RunDto {
    resumed: bool,
    new_trials: usize,
    pruned: usize,
    failed: usize,
    first_failure: Option<String>,
    validation_users: usize,
    stopped: &'static str,
}

impl TrialDto {
    fn of(t: &TrialRow) -> Self {
        Self {
            id: t.id,
            spec: t.spec.clone(),
            params: t
                .params
                .iter()
                .map(|(k, v)| {
                    let v = match v {
                        Value::Int(i) => serde_json::Value::from(*i),
                        Value::Float(f) => serde_json::Value::from(*f),
                        Value::Categorical(c) => serde_json::Value::from(c.clone()),
                    };
                    (k.clone(), v)
                })
                .collect(),
            state: state(t.state),
            value: t.value,
            intermediate: t.intermediate.clone(),
        }
    }
}

impl StudyDto {
    fn of_view(v: &StudyView, trials: bool) -> Self {
        let r = &v.record;
        Self {
            name: r.name.clone(),
            algorithm: r.algorithm.clone(),
            state: r.state.clone(),
            objective: v.objective.clone(),
            space: v.study.space().clone(),
            n_trials: r.n_trials,
            best: v.best().as_ref().map(TrialDto::of),
            created: time(r.created_micros),
            updated: time(r.updated_micros),
            trials: trials.then(|| v.rows().iter().map(TrialDto::of).collect()),
            run: None,
        }
    }

    fn of_run(r: &StudyRun) -> Self {
        Self {
            run: Some(RunDto {
                resumed: r.resumed,
                new_trials: r.new_trials,
                pruned: r.pruned,
                failed: r.failed,
                first_failure: r.first_failure.clone(),
                validation_users: r.validation_users,
                stopped: r.stopped,
            }),
            ..Self::of_view(&r.view, true)
        }
    }
}
