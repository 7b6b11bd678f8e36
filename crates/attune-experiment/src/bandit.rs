//! Bandit allocation of an experiment's traffic: the saved state (per arm: lists served and
//! successes) and the allocation computed from it, which the router draws each list's variant
//! from.

use attune_store::Store;
use serde::{Deserialize, Serialize};

use crate::definition::Definition;

/// What a bandit experiment saves in the store after each batch update.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BanditState {
    /// Per variant (definition order): lists served.
    pub trials: Vec<u64>,
    /// Per variant: lists with a success.
    pub successes: Vec<u64>,
    /// The allocation the router draws from (sums to 1).
    pub allocation: Vec<f64>,
    /// Attributed up to this time (UTC micros): the next update starts here.
    pub through_micros: i64,
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
