//! Contextual bandit experiments: `linucb` or `lin_thompson` over profile attributes.
//!
//! An update reads every list of the running phase with its arm and success (as the
//! non-contextual update does), looks up each served user's profile, fits the context
//! vocabulary ([`crate::context`]) and trains the policy on all of it from scratch, in one
//! batch: the saved ridge statistics are therefore a pure function of the stored events, as
//! the non-contextual state is. It saves the statistics with the vocabulary, so every
//! replica's router rebuilds the same policy and chooses per list in the user's context
//! ([`ContextualRoute`]), and, for people, the allocation in each observed context.
//!
//! The context is the profile *at update time*, not at serve time: a user whose attribute
//! changed mid-phase has all their lists counted in the new context.

use std::collections::{BTreeMap, HashMap};

use attune_core::attribution::ServedList;
use attune_core::bandit::{
    ContextualPolicy, ContextualReward, LinThompsonParams, LinUcbParams, LinearState,
};
use attune_core::catalog::User;
use attune_store::Store;
use rand::{RngCore, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::context::{raw, ContextEncoder, Raw};
use crate::definition::{Allocation, BanditPolicy, Definition};
use crate::error::{ExperimentError, Result};

/// Contexts whose allocation is saved (the most served first).
pub const MAX_REPORTED_CONTEXTS: usize = 50;
/// Posterior draws per context when estimating linear Thompson's allocation for a report.
const DRAWS_PER_CONTEXT: usize = 2_000;
/// `linucb`'s α when the definition gives none (the paper's scale; see docs/bandits.md).
const DEFAULT_ALPHA: f64 = 1.0;
/// `lin_thompson`'s v when the definition gives none (the best of the simulated values).
const DEFAULT_V: f64 = 0.25;

/// What a contextual bandit saves besides the per-arm totals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContextualState {
    /// The attributes and the values each one-hot knows.
    pub encoder: ContextEncoder,
    /// The policy's ridge statistics.
    pub model: SavedLinear,
    /// Per observed context (most lists first, at most [`MAX_REPORTED_CONTEXTS`]): what it
    /// was served and the allocation the policy now gives it.
    pub contexts: Vec<ContextShare>,
}

/// [`LinearState`] as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedLinear {
    /// Context dimension.
    pub dim: usize,
    /// Lists per arm.
    pub counts: Vec<u64>,
    /// `Σ x xᵀ` per arm, row-major.
    pub gram: Vec<f64>,
    /// `Σ r x` per arm.
    pub xty: Vec<f64>,
}

impl From<&LinearState> for SavedLinear {
    fn from(s: &LinearState) -> Self {
        Self {
            dim: s.dim,
            counts: s.counts.clone(),
            gram: s.gram.clone(),
            xty: s.xty.clone(),
        }
    }
}

impl SavedLinear {
    fn to_state(&self) -> LinearState {
        LinearState {
            dim: self.dim,
            counts: self.counts.clone(),
            gram: self.gram.clone(),
            xty: self.xty.clone(),
        }
    }
}

/// One context's lists and allocation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContextShare {
    /// The attribute values (unknown ones as `(other)`).
    pub values: BTreeMap<String, String>,
    /// Lists per variant.
    pub trials: Vec<u64>,
    /// Lists with a success per variant.
    pub successes: Vec<u64>,
    /// The share of lists each variant now gets in this context.
    pub allocation: Vec<f64>,
}

/// What [`learn`] computed.
pub(crate) struct Learned {
    pub state: ContextualState,
    /// Over all served contexts, weighted by their lists.
    pub allocation: Vec<f64>,
    /// Σ over contexts of that context's estimated regret.
    pub regret: f64,
}

/// The contextual policy `allocation` describes for `k` arms, with `state` learned.
pub fn policy(
    allocation: &Allocation,
    k: usize,
    state: LinearState,
) -> Result<Box<dyn ContextualPolicy>> {
    let Allocation::Bandit {
        policy,
        floor,
        exploration,
        ..
    } = allocation
    else {
        return Err(ExperimentError::invalid("allocation", "is not a bandit"));
    };
    let dim = state.dim;
    let bad =
        |e: attune_core::bandit::BanditError| ExperimentError::invalid("allocation", e.to_string());
    let param =
        |e: attune_core::model::ParamError| ExperimentError::invalid("allocation", e.to_string());
    Ok(match policy {
        BanditPolicy::Linucb => Box::new(
            LinUcbParams::new(k, dim)
                .alpha(exploration.unwrap_or(DEFAULT_ALPHA))
                .floor(*floor)
                .check()
                .map_err(param)?
                .from_state(state)
                .map_err(bad)?,
        ),
        BanditPolicy::LinThompson => Box::new(
            LinThompsonParams::new(k, dim)
                .v(exploration.unwrap_or(DEFAULT_V))
                .floor(*floor)
                .check()
                .map_err(param)?
                .from_state(state)
                .map_err(bad)?,
        ),
        other => {
            return Err(ExperimentError::invalid(
                "allocation.policy",
                format!("{} is not contextual", other.name()),
            ))
        }
    })
}

/// Train the definition's contextual policy on `served` (list, arm, success) and compute the
/// allocation per observed context.
pub(crate) fn learn(
    store: &dyn Store,
    app: &str,
    definition: &Definition,
    attributes: &[String],
    served: &[(&ServedList, usize, bool)],
    seed: u64,
) -> Result<Learned> {
    let k = definition.variants.len();
    let mut profiles: HashMap<&str, Raw> = HashMap::new();
    for (list, _, _) in served {
        if !profiles.contains_key(list.user.as_str()) {
            let profile: Option<User> = store.get_user(app, &list.user)?;
            profiles.insert(&list.user, raw(attributes, profile.as_ref()));
        }
    }
    let rows: Vec<&Raw> = served
        .iter()
        .map(|(l, _, _)| &profiles[l.user.as_str()])
        .collect();
    let encoder = ContextEncoder::fit(attributes, rows.iter().copied());
    let xs: Vec<Vec<f64>> = rows.iter().map(|r| encoder.encode(r)).collect();
    let mut learner = policy(
        &definition.allocation,
        k,
        LinearState::new(k, encoder.dim()),
    )?;
    let batch: Vec<ContextualReward<'_>> = served
        .iter()
        .zip(&xs)
        .map(|(&(_, arm, success), x)| ContextualReward {
            context: x,
            arm,
            reward: f64::from(u8::from(success)),
        })
        .collect();
    learner
        .update_batch(&batch)
        .map_err(|e| ExperimentError::invalid("allocation", e.to_string()))?;

    let mut by_context: BTreeMap<BTreeMap<String, String>, Tally> = BTreeMap::new();
    for (i, (&(_, arm, success), row)) in served.iter().zip(&rows).enumerate() {
        let entry = by_context.entry(encoder.key(row)).or_insert_with(|| Tally {
            trials: vec![0; k],
            successes: vec![0; k],
            row: i,
        });
        entry.trials[arm] += 1;
        entry.successes[arm] += u64::from(success);
    }
    let regret = by_context
        .values()
        .map(|t| super::estimated_regret(&t.trials, &t.successes))
        .fold(0.0, |a, b| a + b); // (an empty `sum` of f64 is -0.0)
    let mut contexts: Vec<_> = by_context.into_iter().collect();
    contexts.sort_by_key(|(_, t)| std::cmp::Reverse(t.trials.iter().sum::<u64>()));
    contexts.truncate(MAX_REPORTED_CONTEXTS);

    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut shares = Vec::with_capacity(contexts.len());
    let mut overall = vec![0.0; k];
    for (
        values,
        Tally {
            trials,
            successes,
            row,
        },
    ) in contexts
    {
        let allocation = share(&*learner, &xs[row], &mut rng)?;
        let lists = trials.iter().sum::<u64>() as f64;
        for (o, a) in overall.iter_mut().zip(&allocation) {
            *o += lists * a;
        }
        shares.push(ContextShare {
            values,
            trials,
            successes,
            allocation,
        });
    }
    let total: f64 = overall.iter().sum();
    let allocation = if total > 0.0 {
        overall.iter().map(|o| o / total).collect()
    } else {
        // Nothing served yet: what a user with no known value would get.
        let nobody = encoder.encode(&vec![None; attributes.len()]);
        share(&*learner, &nobody, &mut rng)?
    };
    Ok(Learned {
        state: ContextualState {
            encoder,
            model: SavedLinear::from(learner.state()),
            contexts: shares,
        },
        allocation,
        regret,
    })
}

/// One context's lists per arm, and the index of a row to encode it by.
struct Tally {
    trials: Vec<u64>,
    successes: Vec<u64>,
    row: usize,
}

fn share(policy: &dyn ContextualPolicy, x: &[f64], rng: &mut dyn RngCore) -> Result<Vec<f64>> {
    policy
        .allocation(x, rng, DRAWS_PER_CONTEXT)
        .map_err(|e| ExperimentError::invalid("allocation", e.to_string()))
}

/// A contextual bandit as the router holds it: the saved vocabulary and the policy rebuilt
/// from the saved statistics.
pub struct ContextualRoute {
    encoder: ContextEncoder,
    policy: Box<dyn ContextualPolicy>,
}

impl std::fmt::Debug for ContextualRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContextualRoute")
            .field("encoder", &self.encoder)
            .finish_non_exhaustive()
    }
}

impl ContextualRoute {
    /// Rebuild the policy `definition` describes from `state`.
    pub fn new(definition: &Definition, state: &ContextualState) -> Result<Self> {
        let attributes = match &definition.allocation {
            Allocation::Bandit { context, .. } => context,
            Allocation::Fixed => return Err(ExperimentError::invalid("allocation", "is fixed")),
        };
        if &state.encoder.attributes != attributes || state.model.dim != state.encoder.dim() {
            return Err(ExperimentError::invalid(
                "allocation.context",
                "the saved state was learned over other attributes",
            ));
        }
        Ok(Self {
            encoder: state.encoder.clone(),
            policy: policy(
                &definition.allocation,
                definition.variants.len(),
                state.model.to_state(),
            )?,
        })
    }

    /// The variant for one list to a user with `profile`.
    pub fn choose(&self, profile: Option<&User>, rng: &mut dyn RngCore) -> usize {
        let x = self.encoder.encode(&raw(&self.encoder.attributes, profile));
        self.policy
            .choose(&x, rng)
            .expect("the encoder's dimension is the policy's")
    }
}
