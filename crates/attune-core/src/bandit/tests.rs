//! Cross-policy checks: the simulated comparison `docs/bandits.md` reports (the same
//! configuration as `examples/bandit_simulation.rs`, run in full: it takes well under a second
//! at attune-core's dev opt-level), replicas syncing through state deltas, and the allocation
//! invariants of every policy under random states.

use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;

const CTRS: [f64; 3] = [0.050, 0.055, 0.060];
const IMPRESSIONS: usize = 50_000;
const BATCH: usize = 500;
const SEEDS: u64 = 20;

fn mean_over_seeds<P: Policy>(make: impl Fn() -> P, measure: impl Fn(&SimOutcome) -> f64) -> f64 {
    let sim = BernoulliSim::new(CTRS.to_vec(), IMPRESSIONS, BATCH).unwrap();
    let values: Vec<f64> = (0..SEEDS)
        .map(|seed| measure(&sim.run(&mut make(), seed).unwrap()))
        .collect();
    summarize(&values).mean
}

fn thompson() -> ThompsonBeta {
    ThompsonBetaParams::new(3).check().unwrap().build()
}

#[test]
fn thompson_sends_over_80_percent_of_the_second_half_to_the_best_arm() {
    let late = mean_over_seeds(thompson, |o| o.best_share_last_half);
    assert!(
        late >= 0.80,
        "mean share of the second half on the best arm: {late}"
    );
}

#[test]
fn thompson_mean_regret_is_below_ucb1_and_epsilon_greedy() {
    let regret = |o: &SimOutcome| o.regret;
    let ts = mean_over_seeds(thompson, regret);
    let ucb = mean_over_seeds(|| Ucb1Params::new(3).check().unwrap().build(), regret);
    let eg = mean_over_seeds(
        || {
            EpsilonGreedyParams::new(3)
                .epsilon(0.1)
                .check()
                .unwrap()
                .build()
        },
        regret,
    );
    assert!(
        ts < ucb && ts < eg,
        "Thompson {ts}, UCB1 {ucb}, ε-greedy {eg}"
    );
}

#[test]
fn linucb_on_the_segment_has_a_fraction_of_pooled_thompsons_regret() {
    let sim = SegmentSim::new(
        vec![vec![0.06, 0.04, 0.03], vec![0.03, 0.04, 0.06]],
        IMPRESSIONS,
        BATCH,
    )
    .unwrap();
    let (mut pooled, mut linucb) = (Vec::new(), Vec::new());
    for seed in 0..SEEDS {
        pooled.push(sim.run_pooled(&mut thompson(), seed).unwrap().regret);
        let mut policy = LinUcbParams::new(3, 2).check().unwrap().build();
        linucb.push(sim.run_contextual(&mut policy, seed).unwrap().regret);
    }
    let (p, l) = (summarize(&pooled).mean, summarize(&linucb).mean);
    assert!(l < 0.25 * p, "LinUCB {l} vs pooled Thompson {p}");
    assert!(linucb.iter().zip(&pooled).all(|(l, p)| l < p));
}

#[test]
fn replicas_that_sync_deltas_count_every_outcome_once() {
    // Two replicas serve alternate halves of each round from the stored state, send their
    // deltas, and rebuild from the merged state: the store ends with exactly the outcomes a
    // single policy would have recorded.
    let params = ThompsonBetaParams::new(3).floor(0.02).check().unwrap();
    let mut stored = ArmsState::new(3);
    let mut all_outcomes = Vec::new();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for _round in 0..20 {
        let base = stored.clone();
        let mut deltas = Vec::new();
        for _replica in 0..2 {
            let mut local = params.from_state(base.clone()).unwrap();
            let mut batch = Vec::new();
            for _ in 0..250 {
                let arm = local.choose(&mut rng);
                batch.push((arm, f64::from(rng.random_bool(CTRS[arm]))));
            }
            local.update_batch(&batch).unwrap();
            all_outcomes.extend(batch);
            deltas.push(local.to_state().delta_since(&base).unwrap());
        }
        // Deltas arrive in either order.
        deltas.reverse();
        for d in &deltas {
            stored = stored.merge(d).unwrap();
        }
    }
    let mut single = params.build();
    single.update_batch(&all_outcomes).unwrap();
    assert_eq!(&stored, single.state());
    assert_eq!(stored.total(), 20 * 2 * 250);
}

/// The four plain policies behind `dyn Policy`, fresh, with their defaults.
fn every_policy() -> Vec<Box<dyn Policy>> {
    vec![
        Box::new(thompson()),
        Box::new(ThompsonGaussianParams::new(3).check().unwrap().build()),
        Box::new(Ucb1Params::new(3).check().unwrap().build()),
        Box::new(EpsilonGreedyParams::new(3).check().unwrap().build()),
    ]
}

#[test]
fn every_policy_is_object_safe_and_replays_exactly_given_the_seed() {
    let sim = BernoulliSim::new(CTRS.to_vec(), 5_000, BATCH).unwrap();
    let (mut first, mut second) = (every_policy(), every_policy());
    for (a, b) in first.iter_mut().zip(&mut second) {
        let (ra, rb) = (
            sim.run(a.as_mut(), 3).unwrap(),
            sim.run(b.as_mut(), 3).unwrap(),
        );
        assert_eq!(ra, rb);
        assert_eq!(a.state(), b.state());
    }
}

/// A random valid state of `k` arms with Bernoulli rewards.
fn arms_state(k: usize) -> impl Strategy<Value = ArmsState> {
    prop::collection::vec((0u64..200, 0.0f64..=1.0), k).prop_map(|arms| {
        let mut s = ArmsState::new(arms.len());
        for (i, (n, rate)) in arms.into_iter().enumerate() {
            let clicks = (n as f64 * rate).floor();
            s.counts[i] = n;
            s.sums[i] = clicks;
            s.sums_sq[i] = clicks;
        }
        s
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Every policy's allocation sums to one and gives every arm at least the floor, and its
    /// state survives the trip through `from_state`.
    #[test]
    fn allocations_respect_the_floor(
        (k, state, floor_frac, seed) in (2usize..6).prop_flat_map(|k| (Just(k), arms_state(k), 0.0f64..=1.0, any::<u64>()))
    ) {
        let floor = floor_frac / k as f64;
        let policies: Vec<Box<dyn Policy>> = vec![
            Box::new(ThompsonBetaParams::new(k).floor(floor).check().unwrap().from_state(state.clone()).unwrap()),
            Box::new(ThompsonGaussianParams::new(k).floor(floor).check().unwrap().from_state(state.clone()).unwrap()),
            Box::new(Ucb1Params::new(k).floor(floor).check().unwrap().from_state(state.clone()).unwrap()),
            Box::new(EpsilonGreedyParams::new(k).floor(floor).check().unwrap().from_state(state.clone()).unwrap()),
        ];
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for p in &policies {
            let shares = p.allocation(&mut rng, 200);
            prop_assert!((shares.iter().sum::<f64>() - 1.0).abs() < 1e-9, "{:?}", shares);
            prop_assert!(shares.iter().all(|&s| s >= floor - 1e-12), "{:?} floor {}", shares, floor);
            prop_assert!(p.choose(&mut rng) < k);
            prop_assert_eq!(p.state(), &state);
        }
    }

    /// Merging is commutative on counts and exact on integer rewards; a delta re-merged onto
    /// its base gives the state back.
    #[test]
    fn merge_and_delta_are_inverse((a, b) in (2usize..6).prop_flat_map(|k| (arms_state(k), arms_state(k)))) {
        let ab = a.merge(&b).unwrap();
        prop_assert_eq!(&ab, &b.merge(&a).unwrap());
        prop_assert_eq!(&a.merge(&ab.delta_since(&a).unwrap()).unwrap(), &ab);
    }
}
