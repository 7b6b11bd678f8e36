//! What can go wrong in a bandit: a parameter, an update, a context or a stored state.
//!
//! Every variant names the field at fault and the rule, so the serving layer can report it
//! without re-deriving context (see `docs/bandits.md`).

use crate::model::ParamError;

/// A bandit refused a parameter, an update, a context or a state.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BanditError {
    /// A parameter broke its rule. User error (configuration).
    #[error(transparent)]
    Param(#[from] ParamError),
    /// An update or a query named an arm the policy does not have. Caller error: an outcome was
    /// attributed to an arm of another configuration.
    #[error("`arm` = {arm} is out of range: the policy has {n_arms} arms (0..{n_arms})")]
    ArmOutOfRange {
        /// The arm named.
        arm: usize,
        /// Arms the policy has.
        n_arms: usize,
    },
    /// A reward the policy's reward model cannot take (not finite, or outside `[0, 1]` for a
    /// Beta–Bernoulli policy). Caller error: the batch it came in was not applied.
    #[error("`reward` = {reward} for arm {arm} is invalid: {rule}")]
    InvalidReward {
        /// The arm the reward was attributed to.
        arm: usize,
        /// The rejected reward.
        reward: f64,
        /// The rule, with the allowed range.
        rule: &'static str,
    },
    /// A context vector of the wrong length. Caller error.
    #[error("`context` has {received} features; the policy was built for {expected}")]
    ContextDimension {
        /// The policy's dimension `d`.
        expected: usize,
        /// The length received.
        received: usize,
    },
    /// A context vector with a NaN or infinite entry. Caller error.
    #[error("`context[{index}]` = {value} is invalid: must be finite")]
    NonFiniteContext {
        /// Position of the entry.
        index: usize,
        /// The entry.
        value: f64,
    },
    /// A stored state is inconsistent (data error: the store holds something no policy wrote,
    /// or state of another shape). Names the field, e.g. `sums[2]`.
    #[error("invalid bandit state: `{field}`: {reason}")]
    InvalidState {
        /// The offending field, with the arm index where there is one.
        field: String,
        /// What is wrong, with the rule.
        reason: String,
    },
    /// Two things that must have the same shape do not (two states being merged, a state and
    /// the policy it is loaded into, a simulator and a policy).
    #[error("shape mismatch: `{field}` is {expected} on one side and {received} on the other")]
    ShapeMismatch {
        /// What is compared, e.g. `n_arms` or `dim`.
        field: &'static str,
        /// The value on the receiving side.
        expected: usize,
        /// The value offered.
        received: usize,
    },
    /// `delta_since` was given a base that is not an ancestor of the state: some arm has fewer
    /// pulls than in the base. Caller error: the replica diffed against the wrong snapshot.
    #[error("state is not a successor of the base: arm {arm} has {count} pulls, the base {base}")]
    NotASuccessor {
        /// The first arm found with fewer pulls than the base.
        arm: usize,
        /// Its pulls in the state.
        count: u64,
        /// Its pulls in the base.
        base: u64,
    },
}

impl BanditError {
    pub(crate) fn state(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidState {
            field: field.into(),
            reason: reason.into(),
        }
    }
}
