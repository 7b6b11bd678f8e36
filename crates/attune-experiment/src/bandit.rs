//! Bandit allocation of an experiment's traffic. A bandit experiment is not sticky: each list
//! draws its variant from the allocation last saved (the router reads it). An update
//! recomputes, from every list of the running phase and the outcomes attributed to it, each
//! arm's trials (lists served) and successes (lists with an attributed click, or purchase),
//! rebuilds the policy from those sufficient statistics ([`attune_core::bandit`]) and saves
//! its allocation. Recomputing from the phase's events instead of adding increments makes an
//! update idempotent and lets late outcomes count; replicas need no coordination (the latest
//! save wins, and every save is computed from the same stored events).

use attune_core::attribution::Outcome;
use attune_core::bandit::{ArmsState, EpsilonGreedyParams, Policy, ThompsonBetaParams, Ucb1Params};
use attune_store::{ExperimentStatus, Store};
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use crate::data::phase_data;
use crate::definition::{Allocation, BanditPolicy, Definition, Reward};
use crate::error::{ExperimentError, Result};

/// Draws used to estimate Thompson sampling's allocation (the share of draws each arm wins).
const ALLOCATION_DRAWS: usize = 20_000;

/// What a bandit experiment saves in the store after each update.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BanditState {
    /// The phase it was computed for.
    pub phase: u32,
    /// Per variant (definition order): lists served.
    pub trials: Vec<u64>,
    /// Per variant: lists with a success.
    pub successes: Vec<u64>,
    /// The allocation the router draws from (sums to 1).
    pub allocation: Vec<f64>,
    /// Estimated regret so far: Σ trials × (best observed rate − the arm's rate).
    pub regret: f64,
    /// When it was computed, UTC micros.
    pub at_micros: i64,
}

/// The allocation saved for `name`, if it fits the definition (one share per variant).
pub fn saved_allocation(
    store: &dyn Store,
    app: &str,
    name: &str,
    definition: &Definition,
) -> Option<Vec<f64>> {
    let (text, _) = store.get_experiment_state(app, name).ok()??;
    let state: BanditState = serde_json::from_str(&text).ok()?;
    (state.allocation.len() == definition.variants.len()
        && state.allocation.iter().all(|x| x.is_finite() && *x >= 0.0))
    .then_some(state.allocation)
}

/// The allocation `policy` gives arms with `state` (Thompson: estimated with a generator
/// seeded from `seed`, so an update is reproducible).
pub fn allocation(
    allocation: &Allocation,
    state: ArmsState,
    seed: u64,
) -> std::result::Result<Vec<f64>, ExperimentError> {
    let Allocation::Bandit {
        policy,
        floor,
        epsilon,
        ..
    } = allocation
    else {
        return Err(ExperimentError::invalid("allocation", "is not a bandit"));
    };
    let k = state.n_arms();
    let bad =
        |e: attune_core::bandit::BanditError| ExperimentError::invalid("allocation", e.to_string());
    let param =
        |e: attune_core::model::ParamError| ExperimentError::invalid("allocation", e.to_string());
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    Ok(match policy {
        BanditPolicy::Thompson => ThompsonBetaParams::new(k)
            .floor(*floor)
            .check()
            .map_err(param)?
            .from_state(state)
            .map_err(bad)?
            .allocation(&mut rng, ALLOCATION_DRAWS),
        BanditPolicy::Ucb1 => Ucb1Params::new(k)
            .floor(*floor)
            .check()
            .map_err(param)?
            .from_state(state)
            .map_err(bad)?
            .allocation(&mut rng, ALLOCATION_DRAWS),
        BanditPolicy::EpsilonGreedy => EpsilonGreedyParams::new(k)
            .epsilon(epsilon.unwrap_or(0.1))
            .floor(*floor)
            .check()
            .map_err(param)?
            .from_state(state)
            .map_err(bad)?
            .allocation(&mut rng, ALLOCATION_DRAWS),
    })
}

/// Recompute and save the allocation of the running bandit experiment `name` at `now_micros`.
pub fn update(store: &dyn Store, app: &str, name: &str, now_micros: i64) -> Result<BanditState> {
    let exp = crate::lifecycle::get(store, app, name)?;
    if exp.record.status != ExperimentStatus::Running {
        return Err(ExperimentError::invalid(
            "status",
            format!("experiment {name:?} is not running"),
        ));
    }
    let Allocation::Bandit { reward, .. } = &exp.definition.allocation else {
        return Err(ExperimentError::invalid(
            "allocation",
            format!("experiment {name:?} is not a bandit"),
        ));
    };
    let phase = store
        .experiment_phases(app, name)?
        .into_iter()
        .find(|p| p.phase == exp.record.phase)
        .ok_or_else(|| {
            ExperimentError::NoData(format!("experiment {name:?} has no running phase"))
        })?;
    let data = phase_data(store, app, name, &phase, now_micros)?;
    let k = data.definition.variants.len();
    let index = |l: &attune_core::attribution::ServedList| {
        let (_, v) = l.experiment.as_ref()?;
        data.definition.variants.iter().position(|x| &x.name == v)
    };
    let mut trials = vec![0u64; k];
    let mut success = vec![false; data.attribution.lists.len()];
    for a in &data.attribution.outcomes {
        let hit = matches!(
            (reward, a.outcome),
            (Reward::Click, Outcome::Click) | (Reward::Purchase, Outcome::Purchase { .. })
        );
        success[a.list] |= hit;
    }
    let mut successes = vec![0u64; k];
    for (l, &s) in data.attribution.lists.iter().zip(&success) {
        if let Some(i) = index(l) {
            trials[i] += 1;
            successes[i] += u64::from(s);
        }
    }
    let rates: Vec<f64> = trials
        .iter()
        .zip(&successes)
        .map(|(&t, &s)| if t > 0 { s as f64 / t as f64 } else { 0.0 })
        .collect();
    let best = rates.iter().copied().fold(0.0, f64::max);
    let regret = trials
        .iter()
        .zip(&rates)
        .map(|(&t, &r)| t as f64 * (best - r))
        .sum();
    let state = ArmsState {
        counts: trials.clone(),
        sums: successes.iter().map(|&s| s as f64).collect(),
        sums_sq: successes.iter().map(|&s| s as f64).collect(),
    };
    let seed = now_micros as u64 ^ u64::from(exp.record.phase);
    let allocation = allocation(&data.definition.allocation, state, seed)?;
    let saved = BanditState {
        phase: exp.record.phase,
        trials,
        successes,
        allocation,
        regret,
        at_micros: now_micros,
    };
    store.put_experiment_state(
        app,
        name,
        &serde_json::to_string(&saved).expect("plain numbers"),
    )?;
    Ok(saved)
}

/// Update every running bandit experiment of `app`; returns the names updated.
pub fn update_running(store: &dyn Store, app: &str, now_micros: i64) -> Result<Vec<String>> {
    let mut done = Vec::new();
    for e in crate::lifecycle::list(store, app)? {
        if e.record.status == ExperimentStatus::Running
            && matches!(e.definition.allocation, Allocation::Bandit { .. })
        {
            update(store, app, &e.record.name, now_micros)?;
            done.push(e.record.name);
        }
    }
    Ok(done)
}
