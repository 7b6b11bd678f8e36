//! Bandit allocation of an experiment's traffic. A bandit experiment is not sticky: each list
//! draws its variant from the allocation last saved (the router reads it). An update
//! recomputes, from every list of the running phase and the outcomes attributed to it, each
//! arm's trials (lists served) and successes (lists with an attributed click, or purchase),
//! rebuilds the policy from those sufficient statistics ([`attune_core::bandit`]) and saves
//! its allocation. Recomputing from the phase's events instead of adding increments makes an
//! update idempotent and lets late outcomes count; replicas need no coordination (the latest
//! save wins, and every save is computed from the same stored events).
//!
//! Contextual policies ([`contextual`]) learn per-arm linear models of the reward on the
//! user's profile attributes and save them; the router then chooses per list in the user's
//! context.

pub mod contextual;

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
    /// A contextual policy's learned models and its allocation per context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contextual: Option<contextual::ContextualState>,
}

/// The state saved for `name`'s `phase`, if it fits the definition (one arm per variant,
/// shares that are shares, and a contextual part for a contextual policy).
pub fn saved(
    store: &dyn Store,
    app: &str,
    name: &str,
    phase: u32,
    definition: &Definition,
) -> Option<BanditState> {
    let (text, _) = store.get_experiment_state(app, name).ok()??;
    let state: BanditState = serde_json::from_str(&text).ok()?;
    let k = definition.variants.len();
    let contextual =
        matches!(&definition.allocation, Allocation::Bandit { policy, .. } if policy.contextual());
    (state.phase == phase
        && state.allocation.len() == k
        && state.allocation.iter().all(|x| x.is_finite() && *x >= 0.0)
        && state.contextual.is_some() == contextual)
        .then_some(state)
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
        BanditPolicy::Linucb | BanditPolicy::LinThompson => {
            return Err(ExperimentError::invalid(
                "allocation",
                "a contextual policy has an allocation per context",
            ))
        }
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
    // (list, arm, success) of every list of a known variant.
    let mut served = Vec::with_capacity(data.attribution.lists.len());
    for (l, &s) in data.attribution.lists.iter().zip(&success) {
        if let Some(i) = index(l) {
            trials[i] += 1;
            successes[i] += u64::from(s);
            served.push((l, i, s));
        }
    }
    let seed = now_micros as u64 ^ u64::from(exp.record.phase);
    if let Allocation::Bandit {
        policy, context, ..
    } = &data.definition.allocation
    {
        if policy.contextual() {
            let learned = contextual::learn(store, app, &data.definition, context, &served, seed)?;
            let saved = BanditState {
                phase: exp.record.phase,
                trials,
                successes,
                allocation: learned.allocation,
                regret: learned.regret,
                at_micros: now_micros,
                contextual: Some(learned.state),
            };
            return save(store, app, name, saved);
        }
    }
    let regret = estimated_regret(&trials, &successes);
    let state = ArmsState {
        counts: trials.clone(),
        sums: successes.iter().map(|&s| s as f64).collect(),
        sums_sq: successes.iter().map(|&s| s as f64).collect(),
    };
    let allocation = allocation(&data.definition.allocation, state, seed)?;
    let saved = BanditState {
        phase: exp.record.phase,
        trials,
        successes,
        allocation,
        regret,
        at_micros: now_micros,
        contextual: None,
    };
    save(store, app, name, saved)
}

/// Σ trials × (best observed rate − the arm's observed rate): what serving only the arm that
/// looks best would have earned more, by the observed rates.
fn estimated_regret(trials: &[u64], successes: &[u64]) -> f64 {
    let rates: Vec<f64> = trials
        .iter()
        .zip(successes)
        .map(|(&t, &s)| if t > 0 { s as f64 / t as f64 } else { 0.0 })
        .collect();
    let best = rates.iter().copied().fold(0.0, f64::max);
    trials
        .iter()
        .zip(&rates)
        .map(|(&t, &r)| t as f64 * (best - r))
        .sum()
}

fn save(store: &dyn Store, app: &str, name: &str, state: BanditState) -> Result<BanditState> {
    store.put_experiment_state(
        app,
        name,
        &serde_json::to_string(&state).expect("plain numbers"),
    )?;
    Ok(state)
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
