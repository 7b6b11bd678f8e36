//! `attune train --algorithm SPEC|GRID|auto [--activate] [--output PATH]`: fit one model on an
//! app's data with the pipeline (`attune_pipeline`), register it as the app's next version and
//! print what happened.
//!
//! Activation: an app's first model is activated automatically (so `train` then `recommend`
//! works on a fresh install); later models only with `--activate`, because replacing what
//! serves is a decision. Activation goes through the serving engine, which verifies the
//! artifact first. `--output PATH` writes an ad-hoc file that is not registered (serve it with
//! `--model`).

use std::io::Write as _;
use std::process::ExitCode;

use attune_core::model::TrainedModel as _;

use attune_pipeline::train::{Choice, K};
use attune_pipeline::{Promote, TrainOptions};
use attune_serving::model::version_name;

use super::apps::{open_store, require_app};
use crate::cli::TrainArgs;
use crate::config::Settings;

pub fn run(args: TrainArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    // A bad algorithm or setting fails before any data is read.
    let algorithm = args.algorithm.parse()?;
    let mut config = crate::serving::pipeline_config(settings)?;
    config.validation_fraction = args.validation_fraction;
    config.seed = args.seed;
    let store = open_store(settings)?;
    let app = args.app.app.as_str();
    require_app(&*store, app)?;
    let engine = crate::serving::engine(settings, store.into())?;
    let pipeline = attune_pipeline::Pipeline::new(engine, config);
    let mut out = std::io::stdout().lock();

    let tune = match args.tune_trials {
        None => None,
        Some(trials) => Some(attune_pipeline::train::AutoTune {
            trials,
            timeout: args
                .tune_timeout
                .map(|t| {
                    std::time::Duration::try_from_secs_f64(t).map_err(|_| {
                        anyhow::anyhow!("--tune-timeout must be a number of seconds >= 0, got {t}")
                    })
                })
                .transpose()?,
        }),
    };
    let options = TrainOptions {
        algorithm,
        validate: false,
        tune,
    };
    let model = pipeline.train(app, &options, &|_| {})?;
    if let Some(choice) = &model.choice {
        write_table(choice, &mut out)?;
    }
    writeln!(
        out,
        "trained {} on app {app:?}: {} users, {} items, {} interactions, {:.2}s",
        model.fitted.spec(),
        model.data.n_users(),
        model.data.n_items(),
        model.history.nnz(),
        model.fit_secs
    )?;
    if let Some(path) = &args.output {
        pipeline.write_file(&model, path, &|_| {})?;
        writeln!(
            out,
            "wrote model to {} (not registered: serve it with --model {})",
            path.display(),
            path.display()
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    let registered = pipeline.register(&model, &|_| {})?;
    let name = version_name(registered.version);
    writeln!(
        out,
        "registered model {name}: {}",
        registered.path.display()
    )?;
    let policy = match args.canary {
        Some(share) => {
            let params = attune_pipeline::rollout::CanaryParams {
                min_users: args.canary_min_users,
                margin: args.canary_margin,
                ..attune_pipeline::rollout::CanaryParams::new(share)
            };
            if let Err((field, rule)) = params.check() {
                let flag = match field {
                    "min_users" => "--canary-min-users",
                    "margin" => "--canary-margin",
                    _ => "--canary",
                };
                anyhow::bail!("{flag} {rule}");
            }
            Promote::Canary(params)
        }
        None if args.activate => Promote::Always,
        None => Promote::IfFirst,
    };
    let p = pipeline
        .promote(app, registered.version, &model.metrics, &policy)
        .map_err(|e| {
            anyhow::Error::new(e).context(format!(
                "model {name} is registered but could not be activated (attune models activate {name})"
            ))
        })?;
    match (p.activated, p.previous, p.seq) {
        (true, Some(prev), Some(seq)) if prev != registered.version => writeln!(
            out,
            "activated {name} (was {}; activation {seq})",
            version_name(prev)
        )?,
        (true, None, _) => writeln!(out, "activated {name}: the app's first model")?,
        (true, _, seq) => writeln!(
            out,
            "activated {name} (activation {})",
            seq.map_or_else(|| "-".into(), |s| s.to_string())
        )?,
        (false, _, _) => writeln!(out, "{}", p.reason)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// The candidates compared on validation, best marked.
fn write_table(choice: &Choice, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    if !choice.tuned.is_empty() {
        writeln!(out, "Tuned (TPE on the validation split, NDCG@{K}):")?;
        let ndcg = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.4}"));
        for t in &choice.tuned {
            writeln!(
                out,
                "  {:<12} {:>3} trials, defaults {}, best trial {} -> {}",
                t.family,
                t.trials,
                ndcg(t.default_ndcg),
                ndcg(t.best_ndcg),
                t.chosen
            )?;
        }
    }
    writeln!(
        out,
        "Candidates (validation: {} users, NDCG@{K} over all items):",
        choice.validation_users
    )?;
    // Families are told apart by name; a grid's candidates by their full spec.
    let mut names: Vec<&str> = choice
        .candidates
        .iter()
        .map(|c| c.spec.algorithm().name())
        .collect();
    names.sort_unstable();
    names.dedup();
    let by_name = names.len() == choice.candidates.len();
    let labels: Vec<String> = choice
        .candidates
        .iter()
        .map(|c| match by_name {
            true => c.spec.algorithm().name().to_string(),
            false => c.spec.to_string(),
        })
        .collect();
    let w = labels.iter().map(String::len).max().unwrap_or(0).max(13) + 1;
    writeln!(
        out,
        "  {:<w$}{:>10}{:>11}{:>10}{:>10}{:>9}  ",
        "algorithm", "ndcg@10", "recall@10", "prec@10", "hit@10", "fit s"
    )?;
    for (t, (c, label)) in choice.candidates.iter().zip(&labels).enumerate() {
        let mark = if t == choice.best { "*" } else { " " };
        match &c.outcome {
            Ok(r) => writeln!(
                out,
                "{mark} {label:<w$}{:>10.4}{:>11.4}{:>10.4}{:>10.4}{:>9.2}",
                r.ndcg, r.recall, r.precision, r.hit_rate, c.fit_secs
            )?,
            Err(e) => writeln!(out, "{mark} {label:<w$}failed: {e}")?,
        }
    }
    for (name, why) in &choice.skipped {
        writeln!(out, "  {name:<w$}skipped: {why}")?;
    }
    writeln!(
        out,
        "best: {} (the model is now trained on all the data)",
        choice.best_spec()
    )
}
