//! `attune bench tune`: does TPE find better values than random search for the same budget?
//!
//! For each seed, random search, TPE (Optuna's defaults) and multivariate TPE each run the
//! largest budget on Branin and Hartmann-6 (attune_core::tune::bench); every budget reads the
//! run's best-so-far at that trial count. Reported per objective, budget and sampler: the mean
//! and standard deviation over seeds of the best value, its mean gap to the known minimum, and
//! the share of seeds where TPE beat random (ties count half). Deterministic for given
//! arguments: no timings, so the numbers in docs/benchmarks.md can be reproduced exactly.

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use attune_core::tune::bench::{best_so_far, Objective, BRANIN, HARTMANN6};
use attune_core::tune::{RandomSampler, Sampler, TpeConfig, TpeSampler};
use serde::Serialize;

use crate::cli::BenchTuneArgs;

const SAMPLERS: [&str; 3] = ["random", "tpe", "tpe-multivariate"];

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
    mean_gap: f64,
    /// Share of seeds where this sampler's best beat random's (ties half); `None` for random.
    win_ratio_vs_random: Option<f64>,
}

pub fn run(args: BenchTuneArgs) -> anyhow::Result<ExitCode> {
    let mut budgets = args.budgets.clone();
    budgets.sort_unstable();
    budgets.dedup();
    if args.seeds == 0 || budgets.is_empty() || budgets[0] == 0 {
        bail!("--seeds and every --budgets value must be positive");
    }
    let max = *budgets.last().expect("non-empty");
    let mut rows = Vec::new();
    for objective in [BRANIN, HARTMANN6] {
        rows.extend(compare(&objective, args.seeds, &budgets, max));
    }
    print(&rows, args.seeds)?;
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
    let mut rows = Vec::new();
    for &budget in budgets {
        let at = |s: usize| -> Vec<f64> { curves[s].iter().map(|c| c[budget - 1]).collect() };
        let random = at(0);
        for (s, name) in SAMPLERS.iter().enumerate() {
            let best = at(s);
            let n = best.len() as f64;
            let mean = best.iter().sum::<f64>() / n;
            let var = best.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
            let wins = best
                .iter()
                .zip(&random)
                .map(|(b, r)| match b.total_cmp(r) {
                    std::cmp::Ordering::Less => 1.0,
                    std::cmp::Ordering::Equal => 0.5,
                    std::cmp::Ordering::Greater => 0.0,
                })
                .sum::<f64>();
            rows.push(Row {
                objective: objective.name,
                budget,
                sampler: name,
                mean,
                std: var.sqrt(),
                mean_gap: mean - objective.minimum,
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
        writeln!(
            out,
            "{:<10} {:>6}  {:<17} {:>10.4} {:>9.4} {:>9.4} {:>8}",
            r.objective, r.budget, r.sampler, r.mean, r.std, r.mean_gap, win
        )?;
    }
    writeln!(
        out,
        "win% = share of seeds where the sampler's best beat random's (ties half)"
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
            assert!(r.mean >= BRANIN.minimum && r.std >= 0.0 && r.mean_gap >= 0.0);
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
