//! attune-serving: trained models turned into answers.
//!
//! - [`model`]: artifacts on disk, verified against the registry and loaded ([`LoadedModel`]);
//! - [`engine`]: per app, the active version swapped atomically, live user state folded into
//!   every request, the recommendation pipeline ([`Serving::recommend`]), popular, trending
//!   and similar items, activation and rollback that refuse what cannot be loaded;
//! - [`live`]: per-user live state and trending counters, updated as events are committed;
//! - [`shared`]: what replicas share ([`SharedState`], on Redis: [`RedisShared`]): a generation
//!   per user so each replica reloads a user another one changed, and computed lists; when it
//!   is unreachable every replica answers from its own memory (degraded mode);
//! - [`explain`]: reasons in words; [`similarity`]: each model's item-item similarity;
//!   [`rerank`]: MMR diversity; [`catalog`]: titles, categories, availability per model item;
//! - `fresh`: catalog items the active model does not know (created after training), listed
//!   by content similarity to the user's recent history ([`Serving::observe_items`]);
//! - [`batch`]: exact scoring of concurrent requests in one pass over the item factors;
//! - [`catalog_index`]: the approximate (HNSW) index large ALS catalogs are served through.
//!
//! **Boundary:** knows the store and artifacts, knows no HTTP and no JSON; the server crate
//! maps requests and errors. Every method that may read the store is blocking; the
//! recommendation path takes `allow_store` so an async caller can try the in-memory answer
//! first and go to a blocking thread only when a store read is needed. Shared state is I/O
//! too: with it configured, `recommend` always needs `allow_store`, and `observe` and
//! `forget_user` make one bounded round trip to it.

#![warn(missing_docs)]

pub mod batch;
pub mod blend;
pub mod catalog;
pub mod catalog_index;
pub mod engine;
pub mod explain;
pub mod fairness;
pub mod feed;
mod fresh;
pub mod live;
pub mod model;
pub mod rerank;
pub mod segments;
pub mod shared;
pub mod similarity;

pub use engine::{
    Activated, AppReadiness, AppServing, ExperimentTag, Pin, RecList, RecRequest, Recommended,
    Serving, ServingConfig, ServingError, ServingStats, Snapshot, Source,
};
pub use explain::Reason;
pub use model::{load_registered, LoadError, LoadedModel};
pub use shared::redis::{RedisConfig, RedisShared};
pub use shared::{SharedError, SharedGeneration, SharedState};
