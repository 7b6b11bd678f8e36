//! The bandit comparison of `docs/bandits.md`: regret and traffic share of each policy over 20
//! seeds, on three click arms (5.0%, 5.5%, 6.0%) and on two segments whose best arms differ.
//!
//! ```text
//! CARGO_TARGET_DIR=/work/target-bandit cargo run -p attune-core --example bandit_simulation
//! ```
//!
//! The unit tests in `attune_core::bandit` assert the headline claims on the same
//! configuration; this prints the whole table.

use attune_core::bandit::{
    summarize, BernoulliSim, ContextualPolicy, EpsilonDecay, EpsilonGreedyParams,
    LinThompsonParams, LinUcbParams, Policy, SegmentSim, SimOutcome, ThompsonBetaParams,
    ThompsonGaussianParams, Ucb1Params,
};

const SEEDS: u64 = 20;
const IMPRESSIONS: usize = 50_000;
const BATCH: usize = 500;

type MakePolicy = fn() -> Box<dyn Policy>;
type MakeContextual = fn() -> Box<dyn ContextualPolicy>;

fn plain_policies() -> Vec<(&'static str, MakePolicy)> {
    vec![
        ("Thompson Beta(1,1)", || {
            Box::new(ThompsonBetaParams::new(3).check().unwrap().build())
        }),
        ("Thompson Beta(1,1), floor 0.01", || {
            Box::new(
                ThompsonBetaParams::new(3)
                    .floor(0.01)
                    .check()
                    .unwrap()
                    .build(),
            )
        }),
        ("Thompson Gaussian (NIG, mu0=0.05, a0=1, b0=0.05)", || {
            let p = ThompsonGaussianParams::new(3)
                .prior_mean(0.05, 1.0)
                .prior_variance(1.0, 0.05);
            Box::new(p.check().unwrap().build())
        }),
        ("UCB1 (c=1)", || {
            Box::new(Ucb1Params::new(3).check().unwrap().build())
        }),
        ("UCB1 (c=0.25)", || {
            Box::new(
                Ucb1Params::new(3)
                    .exploration(0.25)
                    .check()
                    .unwrap()
                    .build(),
            )
        }),
        ("epsilon-greedy (eps=0.05)", || {
            Box::new(
                EpsilonGreedyParams::new(3)
                    .epsilon(0.05)
                    .check()
                    .unwrap()
                    .build(),
            )
        }),
        ("epsilon-greedy (eps=0.1)", || {
            Box::new(
                EpsilonGreedyParams::new(3)
                    .epsilon(0.1)
                    .check()
                    .unwrap()
                    .build(),
            )
        }),
        ("epsilon-greedy (eps=0.2)", || {
            Box::new(
                EpsilonGreedyParams::new(3)
                    .epsilon(0.2)
                    .check()
                    .unwrap()
                    .build(),
            )
        }),
        ("epsilon-greedy (eps=1, decay c=50)", || {
            let decay = EpsilonDecay::InverseTime { c: 50.0 };
            let p = EpsilonGreedyParams::new(3).epsilon(1.0).decay(decay);
            Box::new(p.check().unwrap().build())
        }),
        ("epsilon-greedy (eps=1, decay c=500)", || {
            let decay = EpsilonDecay::InverseTime { c: 500.0 };
            let p = EpsilonGreedyParams::new(3).epsilon(1.0).decay(decay);
            Box::new(p.check().unwrap().build())
        }),
    ]
}

fn contextual_policies() -> Vec<(&'static str, MakeContextual)> {
    vec![
        ("LinUCB (alpha=1, lambda=1)", || {
            Box::new(LinUcbParams::new(3, 2).check().unwrap().build())
        }),
        ("LinUCB (alpha=0.25, lambda=1)", || {
            Box::new(LinUcbParams::new(3, 2).alpha(0.25).check().unwrap().build())
        }),
        ("LinUCB (alpha=0.25, lambda=1), floor 0.01", || {
            let p = LinUcbParams::new(3, 2).alpha(0.25).floor(0.01);
            Box::new(p.check().unwrap().build())
        }),
        ("linear Thompson (v=1, lambda=1)", || {
            Box::new(LinThompsonParams::new(3, 2).check().unwrap().build())
        }),
        ("linear Thompson (v=0.25, lambda=1)", || {
            Box::new(
                LinThompsonParams::new(3, 2)
                    .v(0.25)
                    .check()
                    .unwrap()
                    .build(),
            )
        }),
    ]
}

fn main() {
    let started = std::time::Instant::now();
    let sim = BernoulliSim::new(vec![0.050, 0.055, 0.060], IMPRESSIONS, BATCH).expect("valid sim");
    println!(
        "Three click arms (CTR 5.0%, 5.5%, 6.0%), {IMPRESSIONS} impressions, updates every \
         {BATCH}, {SEEDS} seeds"
    );
    header();
    let mut reference: Option<Vec<SimOutcome>> = None;
    for (name, make) in plain_policies() {
        let runs: Vec<SimOutcome> = (0..SEEDS)
            .map(|seed| sim.run(make().as_mut(), seed).expect("run"))
            .collect();
        row(name, &runs, reference.as_deref());
        reference.get_or_insert(runs);
    }

    let segments = SegmentSim::new(
        vec![vec![0.06, 0.04, 0.03], vec![0.03, 0.04, 0.06]],
        IMPRESSIONS,
        BATCH,
    )
    .expect("valid sim");
    println!();
    println!(
        "Two equally large segments, CTRs A = (6%, 4%, 3%), B = (3%, 4%, 6%); \
         context = one-hot segment"
    );
    header();
    let pooled: Vec<SimOutcome> = (0..SEEDS)
        .map(|seed| {
            let mut policy = ThompsonBetaParams::new(3).check().unwrap().build();
            segments.run_pooled(&mut policy, seed).expect("run")
        })
        .collect();
    row("Thompson Beta(1,1), no context", &pooled, None);
    for (name, make) in contextual_policies() {
        let runs: Vec<SimOutcome> = (0..SEEDS)
            .map(|seed| segments.run_contextual(make().as_mut(), seed).expect("run"))
            .collect();
        row(name, &runs, Some(&pooled));
    }
    println!();
    println!("({:.1} s)", started.elapsed().as_secs_f64());
}

fn header() {
    println!(
        "| {:<50} | {:>15} | {:>14} | {:>17} | {:>22} | {:>15} | {:>13} |",
        "policy",
        "regret mean±sd",
        "regret median",
        "best arm, all %",
        "best arm, 2nd half %",
        "2nd half, min %",
        "below 1st row"
    );
    println!(
        "|{:-<52}|{:->17}|{:->16}|{:->19}|{:->24}|{:->17}|{:->15}|",
        "", "", "", "", "", "", ""
    );
}

/// One table row; the last column counts the seeds on which this policy's regret is below the
/// reference's with the same seed (paired: both saw the same click outcomes).
fn row(name: &str, runs: &[SimOutcome], reference: Option<&[SimOutcome]>) {
    let wins = match reference {
        Some(r) => {
            let n = runs
                .iter()
                .zip(r)
                .filter(|(a, b)| a.regret < b.regret)
                .count();
            format!("{n}/{}", runs.len())
        }
        None => "-".to_string(),
    };
    let regrets: Vec<f64> = runs.iter().map(|r| r.regret).collect();
    let regret = summarize(&regrets);
    let best = summarize(
        &runs
            .iter()
            .map(|r| 100.0 * r.best_share)
            .collect::<Vec<_>>(),
    );
    let late = summarize(
        &runs
            .iter()
            .map(|r| 100.0 * r.best_share_last_half)
            .collect::<Vec<_>>(),
    );
    let late_min = runs
        .iter()
        .map(|r| 100.0 * r.best_share_last_half)
        .fold(f64::INFINITY, f64::min);
    println!(
        "| {:<50} | {:>7.1} ± {:>5.1} | {:>14.1} | {:>9.1} ± {:>5.1} | {:>14.1} ± {:>5.1} | {:>15.1} | {:>13} |",
        name,
        regret.mean,
        regret.sd,
        median(&regrets),
        best.mean,
        best.sd,
        late.mean,
        late.sd,
        late_min,
        wins
    );
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}
