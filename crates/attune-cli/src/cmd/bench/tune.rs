//! `attune bench tune`: does TPE find better values than random search for the same budget?
//!
//! For each seed, random search, TPE (Optuna's defaults) and multivariate TPE each run the
//! largest budget on Branin and Hartmann-6 (attune_core::tune::bench); every budget reads the
//! run's best-so-far at that trial count. Reported per objective, budget and sampler: the mean
//! and standard deviation over seeds of the best value, its mean gap to the known minimum, and
//! the share of seeds where TPE beat random (ties count half). Deterministic for given
//! arguments: no timings, so the numbers in docs/benchmarks.md can be reproduced exactly.
//!
//! With `--als DIR` (MovieLens-100K, `scripts/fetch-movielens.sh`) random search and
//! multivariate TPE also tune implicit ALS for validation NDCG@10 ([`als`]), over
//! `--als-seeds` seeds and `--als-budgets` trials; the table is deterministic too, and the
//! wall time of that part is printed beside it.

mod als;

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context as _};
use attune_core::tune::bench::{best_so_far, Objective, BRANIN, HARTMANN6};
use attune_core::tune::{Direction, RandomSampler, Sampler, TpeConfig, TpeSampler};
use serde::Serialize;

use crate::cli::BenchTuneArgs;

const SAMPLERS: [&str; 3] = ["random", "tpe", "tpe-multivariate"];
/// The ALS objective costs a model fit per trial: only random and the better TPE run on it.
const ALS_SAMPLERS: [&str; 2] = ["random", "tpe-multivariate"];
/// The ALS objective's name in the report.
const ALS_NAME: &str = "als-ml100k";

fn sampler(name: &str, seed: u64) -> Box<dyn Sampler> {
    match name {
        "random" => Box::new(RandomSampler::new(seed)),
        "tpe" => Box::new(TpeSampler::new(seed, TpeConfig::default())),
        _ => Box::new(TpeSampler::new(
            seed,
            TpeConfig {
                multivariate: true,
                ..TpeConfig::default()
            },
        )),
    }
}

/// One row of the report.
#[derive(Debug, Serialize)]
struct Row {
    objective: &'static str,
    budget: usize,
    sampler: &'static str,
    mean: f64,
    std: f64,
    /// Mean distance to the known optimum; `None` when it is unknown (ALS).
    mean_gap: Option<f64>,
    /// Share of seeds where this sampler's best beat random's (ties half); `None` for random.
    win_ratio_vs_random: Option<f64>,
}

/// Sorted, deduplicated, all positive; `what` names the flags in the error.
fn budgets_of(raw: &[usize], seeds: u64, what: &str) -> anyhow::Result<Vec<usize>> {
    let mut budgets = raw.to_vec();
    budgets.sort_unstable();
    budgets.dedup();
    if seeds == 0 || budgets.is_empty() || budgets[0] == 0 {
        bail!("{what} must be positive");
    }
    Ok(budgets)
}

pub fn run(args: BenchTuneArgs) -> anyhow::Result<ExitCode> {
    let budgets = budgets_of(
        &args.budgets,
        args.seeds,
        "--seeds and every --budgets value",
    )?;
    let als_budgets = budgets_of(
        &args.als_budgets,
        args.als_seeds,
        "--als-seeds and every --als-budgets value",
    )?;
    // A bad --als directory fails before anything runs.
    let als = match &args.als {
        Some(dir) => {
            let started = Instant::now();
            let objective = als::AlsObjective::load(dir)?;
            let (users, items, pairs) = objective.shape;
            eprintln!(
                "{}: {users} users x {items} items, {pairs} pairs rated >= 3, split 8:1:1 (seed {}) in {:.2} s",
                dir.join(als::INTER_FILE).display(),
                als::SPLIT_SEED,
                started.elapsed().as_secs_f64()
            );
            Some(objective)
        }
        None => None,
    };
    let max = *budgets.last().expect("non-empty");
    let mut rows = Vec::new();
    for objective in [BRANIN, HARTMANN6] {
        rows.extend(compare(&objective, args.seeds, &budgets, max));
    }
    print(&rows, args.seeds)?;
    if let Some(objective) = &als {
        let started = Instant::now();
        let als_rows = compare_als(objective, args.als_seeds, &als_budgets)?;
        let secs = started.elapsed().as_secs_f64();
        let trials = ALS_SAMPLERS.len() as f64
            * args.als_seeds as f64
            * *als_budgets.last().expect("non-empty") as f64;
        print_als(&als_rows, args.als_seeds, secs, trials)?;
        rows.extend(als_rows);
    }
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&rows)?;
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The rows of one objective: every sampler at every budget.
fn compare(objective: &Objective, seeds: u64, budgets: &[usize], max: usize) -> Vec<Row> {
    // curves[sampler][seed] = best-so-far after each trial.
    let curves: Vec<Vec<Vec<f64>>> = SAMPLERS
        .iter()
        .map(|name| {
            (0..seeds)
                .map(|seed| best_so_far(objective, sampler(name, seed).as_ref(), max))
                .collect()
        })
        .collect();
    summarize(
        objective.name,
        &SAMPLERS,
        &curves,
        budgets,
        Direction::Minimize,
        Some(objective.minimum),
    )
}

/// The rows of the ALS objective: random and multivariate TPE at every budget, each seed's run
/// going to the largest budget. Progress (per seed, with the elapsed time) goes to stderr.
fn compare_als(
    objective: &als::AlsObjective,
    seeds: u64,
    budgets: &[usize],
) -> anyhow::Result<Vec<Row>> {
    let max = *budgets.last().expect("non-empty");
    let started = Instant::now();
    let mut curves: Vec<Vec<Vec<f64>>> = vec![Vec::new(); ALS_SAMPLERS.len()];
    for seed in 0..seeds {
        for (s, name) in ALS_SAMPLERS.iter().enumerate() {
            curves[s].push(objective.best_so_far(sampler(name, seed).as_ref(), max)?);
        }
        let last = |s: usize| curves[s].last().and_then(|c| c.last()).copied();
        eprintln!(
            "{ALS_NAME} seed {seed}: best {} random {:.4}, tpe-multivariate {:.4} ({:.0} s)",
            als::METRIC,
            last(0).unwrap_or(f64::NAN),
            last(1).unwrap_or(f64::NAN),
            started.elapsed().as_secs_f64()
        );
    }
    for c in curves.iter().flatten() {
        anyhow::ensure!(c.len() == max, "a sampler stopped before {max} trials");
    }
    Ok(summarize(
        ALS_NAME,
        &ALS_SAMPLERS,
        &curves,
        budgets,
        Direction::Maximize,
        None,
    ))
}

/// Mean, std and win share against `samplers[0]` (random) of `curves[sampler][seed]` read at
/// each budget.
fn summarize(
    objective: &'static str,
    samplers: &[&'static str],
    curves: &[Vec<Vec<f64>>],
    budgets: &[usize],
    direction: Direction,
    optimum: Option<f64>,
) -> Vec<Row> {
    let mut rows = Vec::new();
    for &budget in budgets {
        let at = |s: usize| -> Vec<f64> { curves[s].iter().map(|c| c[budget - 1]).collect() };
        let random = at(0);
        for (s, name) in samplers.iter().enumerate() {
            let best = at(s);
            let n = best.len() as f64;
            let mean = best.iter().sum::<f64>() / n;
            let var = best.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
            let wins = best
                .iter()
                .zip(&random)
                .map(|(&b, &r)| {
                    if direction.better(b, r) {
                        1.0
                    } else if b == r {
                        0.5
                    } else {
                        0.0
                    }
                })
                .sum::<f64>();
            rows.push(Row {
                objective,
                budget,
                sampler: name,
                mean,
                std: var.sqrt(),
                mean_gap: optimum.map(|o| (mean - o).abs()),
                win_ratio_vs_random: (s > 0).then_some(wins / n),
            });
        }
    }
    rows
}

fn print(rows: &[Row], seeds: u64) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "best value found (mean ± std over {seeds} seeds; minima: branin {:.6}, hartmann6 {:.5})",
        BRANIN.minimum, HARTMANN6.minimum
    )?;
    writeln!(
        out,
        "{:<10} {:>6}  {:<17} {:>10} {:>9} {:>9} {:>8}",
        "objective", "budget", "sampler", "mean", "std", "gap", "win%"
    )?;
    for r in rows {
        let win = r
            .win_ratio_vs_random
            .map_or("-".to_string(), |w| format!("{:.0}%", 100.0 * w));
        let gap = r.mean_gap.map_or("-".to_string(), |g| format!("{g:.4}"));
        writeln!(
            out,
            "{:<10} {:>6}  {:<17} {:>10.4} {:>9.4} {:>9} {:>8}",
            r.objective, r.budget, r.sampler, r.mean, r.std, gap, win
        )?;
    }
    writeln!(
        out,
        "win% = share of seeds where the sampler's best beat random's (ties half)"
    )?;
    Ok(())
}

fn print_als(rows: &[Row], seeds: u64, secs: f64, trials: f64) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "\nALS on MovieLens-100K: best validation {} (mean ± std over {seeds} seeds, higher is better)",
        als::METRIC
    )?;
    writeln!(
        out,
        "{:<10} {:>6}  {:<17} {:>10} {:>9} {:>8}",
        "objective", "budget", "sampler", "mean", "std", "win%"
    )?;
    for r in rows {
        let win = r
            .win_ratio_vs_random
            .map_or("-".to_string(), |w| format!("{:.0}%", 100.0 * w));
        writeln!(
            out,
            "{:<10} {:>6}  {:<17} {:>10.4} {:>9.4} {:>8}",
            r.objective, r.budget, r.sampler, r.mean, r.std, win
        )?;
    }
    writeln!(
        out,
        "{trials:.0} ALS trials in {secs:.1} s ({:.3} s per trial: fit and validation top-10)",
        secs / trials.max(1.0)
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compare_reports_every_sampler_at_every_budget() {
        let rows = compare(&BRANIN, 3, &[5, 12], 12);
        assert_eq!(rows.len(), 2 * SAMPLERS.len());
        for r in &rows {
            assert!(r.mean >= BRANIN.minimum && r.std >= 0.0 && r.mean_gap >= Some(0.0));
            match r.win_ratio_vs_random {
                None => assert_eq!(r.sampler, "random"),
                Some(w) => assert!((0.0..=1.0).contains(&w)),
            }
        }
        // Same arguments, same numbers: the report has no timings.
        let again = compare(&BRANIN, 3, &[5, 12], 12);
        assert!(rows.iter().zip(&again).all(|(a, b)| a.mean == b.mean));
    }
}
