//! The `stats` calibration simulations at full size; prints the numbers docs/experiments.md
//! quotes. The unit tests in `stats::simulate` run the same functions (2,000 experiments each)
//! and assert the bounds.
//!
//!   cargo run -p attune-core --example stats_simulations [EXPERIMENTS]
//!
//! EXPERIMENTS defaults to 20,000 per check (about 4 s; attune-core builds at opt-level 3 even
//! in the dev profile). docs/experiments.md quotes 200,000 (about 40 s).

use std::time::Instant;

use attune_core::stats::simulate::{
    aa_false_positive_rate, cuped_variance_reduction, observed_power, peeking_false_positive_rates,
    AaConfig, CupedConfig, PeekingConfig, PowerConfig,
};
use attune_core::stats::StatsError;

fn main() -> Result<(), StatsError> {
    let experiments: u64 = std::env::args()
        .nth(1)
        .map(|s| s.parse().expect("EXPERIMENTS must be a whole number"))
        .unwrap_or(20_000);
    println!("{experiments} simulated experiments per check (seeded, deterministic)\n");

    let t = Instant::now();
    let aa = aa_false_positive_rate(&AaConfig {
        experiments,
        users_per_arm: 5000,
        rate: 0.05,
        alpha: 0.05,
        seed: 11,
    })?;
    println!(
        "A/A, two-proportion z-test, 5,000 users per arm at 5%, alpha 0.05: false-positive rate {aa:.4} ({:.1} s)",
        t.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    let peek = peeking_false_positive_rates(&PeekingConfig {
        experiments,
        looks: 20,
        users_per_look: 500,
        rate: 0.05,
        alpha: 0.05,
        tau2: 0.005f64.powi(2),
        seed: 12,
    })?;
    println!(
        "A/A with 20 daily looks, 500 users per arm per day at 5%, alpha 0.05, tau = 0.005:\n  \
         naive z-test, stop at first p < 0.05: {:.4}\n  \
         naive z-test, last look only:         {:.4}\n  \
         mSPRT always-valid p <= 0.05:          {:.4}   ({:.1} s)",
        peek.naive_any_look,
        peek.naive_last_look,
        peek.msprt_any_look,
        t.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    let power = observed_power(&PowerConfig {
        experiments,
        p_a: 0.05,
        p_b: 0.06,
        power: 0.8,
        alpha: 0.05,
        seed: 13,
    })?;
    println!(
        "Power, 5% -> 6%, planned for 0.80: {} users per arm, predicted {:.4}, observed {:.4} ({:.1} s)",
        power.users_per_arm,
        power.predicted,
        power.observed,
        t.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    let cuped = cuped_variance_reduction(&CupedConfig {
        experiments,
        users_per_arm: 500,
        correlation: 0.7,
        seed: 14,
    })?;
    println!(
        "CUPED, rho = 0.7, 500 users per arm: variance factor observed {:.4}, fitted 1 - rho^2 {:.4}, predicted {:.4} ({:.1} s)",
        cuped.observed_factor,
        cuped.fitted_factor,
        cuped.predicted_factor,
        t.elapsed().as_secs_f64()
    );
    Ok(())
}
