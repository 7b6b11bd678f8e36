//! attune-experiment: A/B tests and bandits over what attune serves.
//!
//! - [`definition`]: what an experiment is (variants as treatments of the list, traffic,
//!   targeting, the decision metric, allocation, attribution) and its rules, checked once;
//! - [`lifecycle`]: create, change, start (a new phase, layer buckets allocated by the store)
//!   and stop;
//! - [`assign`]: deterministic assignment (layer buckets and variant draws from xxHash64),
//!   pure;
//! - [`router`]: the per-request answer serving asks for — which variant a user gets —
//!   sticky through recorded exposures, identical on every replica and after restarts;
//! - [`data`]: one phase's exposures, lists and attributed outcomes;
//! - [`outcomes`]: what served lists led to over a time range, by model version, source,
//!   variant and position, in or outside experiments;
//! - [`bandit`]: bandit experiments' allocation, recomputed from attributed outcomes;
//!   contextual ones over profile attributes encoded by [`context`].
//!
//! **Boundary:** knows the store (experiments, exposures, events) and the core's statistics
//! and attribution; knows no HTTP and no serving engine (the engine calls [`router::Router`]).
#![warn(missing_docs)]

pub mod analysis;
pub mod assign;
pub mod bandit;
pub mod context;
pub mod data;
pub mod definition;
pub mod error;
pub mod lifecycle;
pub mod outcomes;
pub mod report;
pub mod router;

pub use definition::{Allocation, Definition, Metric, Variant};
pub use error::{ExperimentError, Result};
pub use lifecycle::Experiment;
pub use router::{Assignment, Routed, Router, Treatment};
