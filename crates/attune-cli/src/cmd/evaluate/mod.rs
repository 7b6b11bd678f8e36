//! `attune evaluate`: compare algorithms offline on an app's data or on a bring-your-own split.
//!
//! The pieces, each in its own file:
//! - [`source`]: the data as (user, item) cells — an app through `attune_pipeline::Dataset` (what
//!   training sees), or `--train`/`--test` files;
//! - [`plan`]: the split as folds over cells (core `eval::split` does the splitting);
//! - [`run`]: fit one candidate on one fold and measure it;
//! - [`lists`]: another tool's ranked lists, measured by the same code;
//! - [`report`]: the table and the JSON.
//!
//! With a validation part (`--split ratio`, `--protocol recbole`) every candidate of an
//! `--algorithm` grid is fitted on the training part and scored on validation; the best one
//! (by `--select-by`) is the column's result on test — the model is never chosen on test.

mod lists;
pub(crate) mod plan;
mod report;
pub(crate) mod run;
mod segments;
pub(crate) mod source;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use attune_core::eval::{evaluate_lists, test_users, Candidates};
use attune_core::model::ParamError;
use attune_core::model::TrainedModel as _;
use attune_core::sparse::{HistoryWeights, RatedHistory, UserRecency};
use serde_json::json;

pub use lists::ListsArg;
pub use plan::SplitKind;

use super::apps::{open_store, require_app};
use crate::cli::EvaluateArgs;
use crate::config::Settings;
use attune_pipeline::train::grid;
use attune_pipeline::Dataset;
use plan::{Fold, SplitOptions};
use report::{Column, Report};
use run::{FoldData, Measure, Phase};
use source::{EvalData, FileData};

/// Published protocols `--protocol` reproduces (docs/evaluation.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Protocol {
    /// Surprise's `cross_validate(algo, data, measures=["RMSE", "MAE"], cv=5)`.
    Surprise,
    /// RecBole's default full-sort top-10 evaluation (ML-100K config).
    Recbole,
}

/// Everything the evaluation runs with, after the protocol has set its parts.
struct Setup {
    split: Option<SplitOptions>,
    measure: Measure,
    /// Drop rated pairs below this before splitting (RecBole's `val_interval`).
    drop_below_rating: Option<f32>,
    select_by: String,
    clean: Option<bool>,
    protocol_name: String,
}

fn setup(args: &EvaluateArgs) -> anyhow::Result<Setup> {
    anyhow::ensure!(
        args.k > 0,
        "invalid -k 0: the list length must be at least 1"
    );
    let split = SplitOptions {
        kind: args.split,
        test_fraction: args.test_fraction,
        folds: args.folds,
        last_n: args.last_n,
        fold_in_fraction: args.fold_in_fraction,
        ratios: args.ratios.clone(),
        seed: args.seed,
    };
    let candidates = match args.sampled_negatives {
        None => Candidates::All,
        Some(negatives) => Candidates::Sampled {
            negatives,
            seed: args.seed,
        },
    };
    let mut measure = Measure {
        k: args.k,
        ranking: true,
        rating: true,
        candidates,
        min_relevant_rating: args.min_relevant_rating,
        diversity_users: 2000,
        long_tail: args.long_tail,
    };
    let clean = args.no_clean.then_some(false);
    Ok(match args.protocol {
        None => Setup {
            protocol_name: match (&args.train, args.split) {
                (Some(t), _) => format!("bring-your-own split: train {}", t.display()),
                (None, SplitKind::Kfold) => format!("{}-fold cross-validation", args.folds),
                (None, k) => format!("{} split", split_name(k)),
            },
            select_by: args
                .select_by
                .clone()
                .unwrap_or_else(|| format!("ndcg@{}", args.k)),
            split: args.train.is_none().then_some(split),
            measure,
            drop_below_rating: None,
            clean,
        },
        Some(Protocol::Surprise) => {
            measure.ranking = false;
            Setup {
                protocol_name: "Surprise protocol: 5-fold cross-validation of rating prediction"
                    .into(),
                split: Some(SplitOptions {
                    kind: SplitKind::Kfold,
                    folds: 5,
                    ..split
                }),
                measure,
                drop_below_rating: None,
                select_by: "rmse".into(),
                clean: Some(false),
            }
        }
        Some(Protocol::Recbole) => {
            anyhow::ensure!(
                args.k == 10,
                "--protocol recbole evaluates top-10; leave -k at 10"
            );
            measure.rating = false;
            Setup {
                protocol_name:
                    "RecBole protocol: ratings >= 3, per-user random 8:1:1, full-sort top-10".into(),
                split: Some(SplitOptions {
                    kind: SplitKind::Ratio,
                    ratios: vec![0.8, 0.1, 0.1],
                    ..split
                }),
                measure,
                drop_below_rating: Some(3.0),
                select_by: args.select_by.clone().unwrap_or_else(|| "mrr@10".into()),
                clean: Some(false),
            }
        }
    })
}

pub fn run(args: EvaluateArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    let setup = setup(&args)?;
    anyhow::ensure!(
        !args.algorithms.is_empty() || !args.lists.is_empty(),
        "name at least one --algorithm (or --lists with --train/--test)"
    );
    // Bad specs fail before any data is read.
    let groups: Vec<(String, Vec<grid::Candidate>)> = args
        .algorithms
        .iter()
        .map(|a| Ok((a.clone(), grid::expand(a)?)))
        .collect::<anyhow::Result<_>>()?;
    if setup.measure.rating && !setup.measure.ranking {
        for (label, cands) in &groups {
            anyhow::ensure!(
                cands.iter().all(|c| c.spec.algorithm().name() == "mf"),
                "--protocol surprise measures rating prediction; {label:?} does not predict ratings (use mf)"
            );
        }
    }

    let mut masks: Vec<(String, Vec<bool>)> = Vec::new();
    let (mut data, fixed): (Box<dyn EvalData>, Option<Fold>) = match (&args.train, &args.test) {
        (Some(train), Some(test)) => {
            let d = FileData::read(train, test)?;
            let fold = plan::fixed(&d.in_test);
            (Box::new(d), Some(fold))
        }
        _ => {
            let store = open_store(settings)?;
            let app = args.app.app.as_str();
            require_app(&*store, app)?;
            let config = crate::serving::pipeline_config(settings)?;
            let d = Dataset::load(&*store, app, &config, setup.clean)?;
            anyhow::ensure!(
                !d.cells.is_empty(),
                "app {app:?} has no interactions to evaluate on; import events first"
            );
            if let Some(attr) = &args.by {
                masks = attune_pipeline::segments::attribute_masks(&*store, app, &d, attr)?;
            }
            (Box::new(d), None)
        }
    };
    let histories = history_grid(&args, settings, data.history_weights())?;
    let eligible: Vec<bool> = data
        .cells()
        .iter()
        .map(|c| match (setup.drop_below_rating, c.rating) {
            (Some(min), Some(r)) => r >= min,
            _ => true,
        })
        .collect();
    let folds = match (&fixed, &setup.split) {
        (Some(f), _) => vec![f.clone()],
        (None, Some(s)) => plan::folds(&*data, &eligible, s)?,
        (None, None) => unreachable!("a split unless files were given"),
    };
    let has_validation = folds.iter().all(|f| !f.valid.is_empty());
    anyhow::ensure!(
        has_validation || (histories.len() == 1 && !args.refit),
        "--user-recency or --history-rating-exponent with several values and --refit choose on a validation part, and this split has none; use --split user-temporal or ratio"
    );
    anyhow::ensure!(
        args.by.is_none() || (has_validation && folds.len() == 1),
        "--by chooses per segment on validation: use a split with one validation part (user-temporal, ratio or --protocol recbole)"
    );
    if let Some(dir) = &args.save_split {
        save_split(&*data, dir, &folds[0])?;
    }
    let mut segment_rows = Vec::new();
    tracing::info!(
        users = data.n_users(),
        items = data.n_items(),
        pairs = data.cells().len(),
        folds = folds.len(),
        "evaluating"
    );

    let mut columns: Vec<Column> = groups
        .iter()
        .map(|(label, _)| Column {
            label: label.clone(),
            ..Column::default()
        })
        .collect();
    let mut list_columns: Vec<Column> = args
        .lists
        .iter()
        .map(|l| Column {
            label: l.name.clone(),
            ..Column::default()
        })
        .collect();
    for (f, fold) in folds.iter().enumerate() {
        let mut fds = Vec::with_capacity(histories.len());
        for &h in &histories {
            data.set_history_weights(h);
            fds.push(FoldData::new(&*data, fold, &setup.measure)?);
        }
        let grid = HistoryGrid {
            values: &histories,
            label_recency: !args.user_recency.is_empty(),
            label_rating: !args.history_rating_exponent.is_empty(),
        };
        for ((_, cands), col) in groups.iter().zip(&mut columns) {
            let chosen = choose(cands, &fds, &grid, &setup.measure, &setup.select_by, f)?;
            if !masks.is_empty() {
                let inputs = segments::Inputs {
                    fold,
                    fds: &fds,
                    grid: &grid,
                    measure: &setup.measure,
                    select_by: &setup.select_by,
                    refit: args.refit,
                };
                let global = (chosen.history, chosen.candidate);
                segment_rows.extend(segments::compare(
                    &mut *data, &inputs, &col.label, cands, global, &masks,
                )?);
            }
            let g = if args.refit {
                data.set_history_weights(histories[chosen.history]);
                let refit =
                    FoldData::new(&*data, &fold.with_validation_in_training(), &setup.measure)?;
                tracing::info!(fold = f + 1, spec = %chosen.fitted.model.spec(), "refitting on training and validation");
                let fitted = run::fit(chosen.fitted.model.spec(), &refit)?;
                chosen.finish(
                    Some(&fitted),
                    &refit,
                    &setup.measure,
                    &setup.select_by,
                    &grid,
                )?
            } else {
                let fd = &fds[chosen.history];
                chosen.finish(None, fd, &setup.measure, &setup.select_by, &grid)?
            };
            col.specs.push(g.spec);
            col.folds.push(g.metrics);
            col.validation.push(g.validation);
        }
        for (l, col) in args.lists.iter().zip(&mut list_columns) {
            col.specs.push(l.path.display().to_string());
            col.folds
                .push(measure_lists(&l.path, &*data, fold, &setup.measure)?);
        }
    }
    columns.extend(list_columns);

    let mut setup_json = BTreeMap::new();
    setup_json.insert("k".to_string(), json!(args.k));
    setup_json.insert("seed".to_string(), json!(args.seed));
    setup_json.insert("folds".to_string(), json!(folds.len()));
    setup_json.insert("users".to_string(), json!(data.n_users()));
    setup_json.insert("items".to_string(), json!(data.n_items()));
    setup_json.insert("pairs".to_string(), json!(data.cells().len()));
    setup_json.insert(
        "pairs_evaluated".to_string(),
        json!(eligible.iter().filter(|&&e| e).count()),
    );
    if let Some(s) = &setup.split {
        setup_json.insert(
            "split".to_string(),
            json!({"kind": split_name(s.kind), "test_fraction": s.test_fraction,
                   "folds": s.folds, "last_n": s.last_n, "fold_in_fraction": s.fold_in_fraction,
                   "ratios": s.ratios}),
        );
    }
    if let Some(n) = args.sampled_negatives {
        setup_json.insert("sampled_negatives".to_string(), json!(n));
    }
    let report = Report {
        protocol: setup.protocol_name.clone(),
        setup: setup_json,
        select_by: folds
            .iter()
            .any(|f| !f.valid.is_empty())
            .then(|| setup.select_by.clone()),
        columns,
    };
    let mut out = std::io::stdout().lock();
    report.write_table(&mut out)?;
    if let Some(attr) = &args.by {
        segments::write_table(&mut out, attr, &setup.select_by, &segment_rows)?;
    }
    if let Some(path) = &args.json {
        let mut json = report.to_json();
        if args.by.is_some() {
            json["by_segment"] = segments::to_json(&segment_rows);
        }
        let text = serde_json::to_string_pretty(&json)?;
        std::fs::write(path, text + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
        writeln!(out, "wrote {}", path.display())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// One `--algorithm` group's result on one fold.
struct GroupResult {
    /// The canonical spec measured on test (the chosen one), with its user recency and history
    /// rating exponent when `--user-recency` or `--history-rating-exponent` was given.
    spec: String,
    metrics: run::Metrics,
    /// Every candidate's validation score (empty without a validation part).
    validation: Vec<(String, f64)>,
}

/// The history weights tried (`--user-recency` x `--history-rating-exponent`), one fold data
/// per point.
struct HistoryGrid<'a> {
    values: &'a [HistoryWeights],
    /// Name the half-life in specs (it was asked for).
    label_recency: bool,
    /// Name the history rating exponent in specs (it was asked for).
    label_rating: bool,
}

impl HistoryGrid<'_> {
    fn label(&self, spec: &str, h: usize) -> String {
        let mut label = spec.to_string();
        let h = self.values[h];
        if self.label_recency {
            match h.recency {
                None => label.push_str(" user-recency=off"),
                Some(r) => label.push_str(&format!(" user-recency={}", r.half_life())),
            }
        }
        if self.label_rating {
            let exponent = h.rating.map_or(0.0, |r| r.exponent());
            label.push_str(&format!(" history-rating-exponent={exponent}"));
        }
        label
    }
}

/// The points of the history grid: every `--user-recency` half-life with every
/// `--history-rating-exponent` (each defaults to what the data set is configured with; the
/// rating pivot is `[train] history_rating_pivot`).
fn history_grid(
    args: &EvaluateArgs,
    settings: &Settings,
    configured: HistoryWeights,
) -> anyhow::Result<Vec<HistoryWeights>> {
    let recencies = grid_values(
        &args.user_recency,
        configured.recency,
        "--user-recency",
        UserRecency::new,
    )?;
    let pivot = settings.train.history_rating_pivot;
    let ratings = grid_values(
        &args.history_rating_exponent,
        configured.rating,
        "--history-rating-exponent",
        |p| RatedHistory::new(p, pivot),
    )?;
    Ok(recencies
        .iter()
        .flat_map(|&recency| {
            ratings
                .iter()
                .map(move |&rating| HistoryWeights { recency, rating })
        })
        .collect())
}

/// The values of one history-grid flag (`0`: off), or the configured one when the flag is
/// not given.
fn grid_values<T: Copy>(
    given: &[f32],
    configured: Option<T>,
    flag: &str,
    make: impl Fn(f32) -> Result<T, ParamError>,
) -> anyhow::Result<Vec<Option<T>>> {
    if given.is_empty() {
        return Ok(vec![configured]);
    }
    given
        .iter()
        .map(|&v| {
            (v != 0.0)
                .then(|| make(v))
                .transpose()
                .map_err(|e| anyhow::anyhow!("{flag} {v}: {}", e.rule))
        })
        .collect()
}

/// The candidate (and history weights) a group chose on validation, or its only candidate.
struct Chosen {
    fitted: run::FittedCandidate,
    /// Index into the history grid.
    history: usize,
    /// Index of the chosen candidate in its group.
    candidate: usize,
    validation: Vec<(String, f64)>,
    score: Option<f64>,
}

impl Chosen {
    /// Measure the chosen model (or its refit) on the test part of `fd`.
    fn finish(
        self,
        refit: Option<&run::FittedCandidate>,
        fd: &FoldData,
        m: &Measure,
        select_by: &str,
        grid: &HistoryGrid,
    ) -> anyhow::Result<GroupResult> {
        let fitted = refit.unwrap_or(&self.fitted);
        let mut metrics = run::measure(fitted, fd, m, Phase::Test)?;
        if let Some(v) = self.score {
            metrics.insert(format!("validation_{select_by}"), v);
        }
        Ok(GroupResult {
            spec: grid.label(&fitted.model.spec().to_string(), self.history),
            metrics,
            validation: self.validation,
        })
    }
}

/// Choose among one `--algorithm` group's candidates (times the history weights) on
/// the fold's validation part; without one, the group must be a single candidate.
fn choose(
    cands: &[grid::Candidate],
    fds: &[FoldData],
    grid: &HistoryGrid,
    m: &Measure,
    select_by: &str,
    fold: usize,
) -> anyhow::Result<Chosen> {
    if !fds[0].has_validation() {
        anyhow::ensure!(
            cands.len() == 1,
            "{} is a grid of {} candidates, but this split has no validation part to choose on; use --split ratio (or list them as separate --algorithm values)",
            cands[0].label,
            cands.len()
        );
        tracing::info!(fold = fold + 1, spec = %cands[0].spec, "fitting");
        return Ok(Chosen {
            fitted: run::fit(&cands[0].spec, &fds[0])?,
            history: 0,
            candidate: 0,
            validation: Vec::new(),
            score: None,
        });
    }
    let lower_is_better = matches!(select_by, "rmse" | "mae");
    // The history weights change only what users are folded in from, not the training part:
    // each candidate is fitted once and scored with every point of the history grid.
    let mut best: Option<(usize, usize, f64)> = None;
    let mut best_fitted: Option<run::FittedCandidate> = None;
    let mut validation = Vec::new();
    for (c, cand) in cands.iter().enumerate() {
        tracing::info!(fold = fold + 1, spec = %cand.spec, "fitting");
        let fitted = run::fit(&cand.spec, &fds[0])?;
        let mut took = false;
        for (h, fd) in fds.iter().enumerate() {
            let v = run::measure(&fitted, fd, m, Phase::Validation)?;
            let score = *v.get(select_by).with_context(|| {
                format!(
                    "--select-by {select_by:?} is not a validation metric here; one of {}",
                    v.keys().cloned().collect::<Vec<_>>().join(", ")
                )
            })?;
            validation.push((grid.label(&cand.spec.to_string(), h), score));
            let better = best.as_ref().is_none_or(|(_, _, b)| {
                if lower_is_better {
                    score < *b
                } else {
                    score > *b
                }
            });
            if better {
                best = Some((h, c, score));
                took = true;
            }
        }
        if took {
            best_fitted = Some(fitted);
        }
    }
    let (history, candidate, score) = best.expect("at least one candidate");
    let fitted = best_fitted.expect("fitted with the best score");
    Ok(Chosen {
        fitted,
        history,
        candidate,
        validation,
        score: Some(score),
    })
}

/// Another tool's lists for the fold's test users, measured like a model's.
fn measure_lists(
    path: &Path,
    data: &dyn EvalData,
    fold: &Fold,
    m: &Measure,
) -> anyhow::Result<run::Metrics> {
    let fd = FoldData::new(data, fold, m)?;
    let lists = lists::read(path, data)?;
    let (relevant, train) = fd.test_and_training();
    let users = test_users(relevant);
    let ranked: Vec<Vec<u32>> = users
        .iter()
        .map(|u| lists.get(u).cloned().unwrap_or_default())
        .collect();
    let report = evaluate_lists(train, relevant, m.k, &users, &ranked);
    let mut out = run::Metrics::new();
    run::insert_ranking(&mut out, &report);
    let cut: Vec<Vec<u32>> = ranked
        .iter()
        .map(|l| l.iter().take(m.k).copied().collect())
        .collect();
    out.insert(
        format!("diversity@{}", m.k),
        run::diversity(&cut, fd.cosine(), m.diversity_users),
    );
    Ok(out)
}

/// Write the fold as `train.csv`, `valid.csv` (when there is a validation part) and
/// `test.csv`: `user_id,item_id,weight,rating,timestamp` (seconds since the epoch).
fn save_split(data: &dyn EvalData, dir: &Path, fold: &Fold) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let train: Vec<usize> = (0..data.cells().len()).filter(|&c| fold.train[c]).collect();
    let mut parts = vec![("train.csv", train), ("test.csv", fold.test.clone())];
    if !fold.valid.is_empty() {
        parts.insert(1, ("valid.csv", fold.valid.clone()));
    }
    for (name, cells) in parts {
        let path = dir.join(name);
        let mut w = csv::Writer::from_path(&path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        w.write_record(["user_id", "item_id", "weight", "rating", "timestamp"])?;
        for c in cells {
            let cell = data.cells()[c];
            w.write_record([
                data.users().name(cell.user).unwrap_or_default(),
                data.items().name(cell.item).unwrap_or_default(),
                &cell.weight.to_string(),
                &cell.rating.map(|r| r.to_string()).unwrap_or_default(),
                &seconds(cell.first_micros),
            ])?;
        }
        w.flush()?;
    }
    Ok(())
}

/// Seconds since the epoch: whole seconds as an integer, else with the fraction.
fn seconds(micros: i64) -> String {
    if micros % 1_000_000 == 0 {
        (micros / 1_000_000).to_string()
    } else {
        (micros as f64 / 1e6).to_string()
    }
}

/// `--long-tail MIN-MAX`: an inclusive range of training-user counts.
pub fn parse_range(s: &str) -> Result<(usize, usize), String> {
    let (lo, hi) = s
        .split_once('-')
        .ok_or_else(|| format!("expected MIN-MAX, e.g. 1-5; got {s:?}"))?;
    let lo: usize = lo
        .trim()
        .parse()
        .map_err(|_| format!("{lo:?} is not a count"))?;
    let hi: usize = hi
        .trim()
        .parse()
        .map_err(|_| format!("{hi:?} is not a count"))?;
    if lo == 0 || lo > hi {
        return Err(format!("need 1 <= MIN <= MAX; got {lo}-{hi}"));
    }
    Ok((lo, hi))
}

/// The `--split` value of a kind (`last-n`, `new-items`).
fn split_name(kind: SplitKind) -> String {
    clap::ValueEnum::to_possible_value(&kind)
        .map(|v| v.get_name().to_string())
        .unwrap_or_default()
}
