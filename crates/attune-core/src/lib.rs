//! attune-core: the pure, I/O-free heart of attune.
//!
//! Everything here is deterministic given its inputs (randomized steps take a seed), does no
//! file, network or database access and knows nothing about JSON or HTTP. The storage, server and
//! CLI crates wrap it.
//!
//! Module map (see `docs/ARCHITECTURE.md`):
//! - [`event`]: the behavioural event model and its validation.
//! - [`catalog`]: items and users (profiles, onboarding preferences, consent).
//! - [`limits`]: how many free-form names a record may carry, and which names are valid.
//! - [`time`]: RFC 3339 parsing into UTC microseconds plus the original offset.
//! - [`clean`]: duplicate, bot/outlier and unknown-item detection with a per-reason report.
//! - [`features`]: normalization, categorical encoding and imputation helpers.
//! - [`profile`]: a statistical profile of an app's interaction data.
//! - [`segment`]: user segmentation (k-means, choosing k, DBSCAN, PCA), matched to scikit-learn.
//! - [`sparse`]: CSR interaction matrices.
//! - [`model`]: recommender algorithms.
//! - [`eval`]: splits and ranking/rating metrics.
//! - [`attribution`]: which served list caused which click, cart add, purchase or dwell.
//! - [`bandit`]: multi-armed and contextual bandits that split serving traffic between arms.
//! - [`stats`]: experiment statistics (tests, intervals, power, CUPED, sequential, Bayesian).
//! - [`tune`]: hyperparameter search: spaces, studies, grid/random/TPE samplers, median pruning.
#![warn(missing_docs)]

pub mod attribution;
pub mod bandit;
pub mod catalog;
pub mod clean;
pub mod error;
pub mod eval;
pub mod event;
pub mod fairness;
pub mod features;
pub mod limits;
pub mod model;
pub mod profile;
pub mod segment;
pub mod sparse;
pub mod stats;
pub mod time;
pub mod tune;

pub use error::{FieldError, ValidationError};
