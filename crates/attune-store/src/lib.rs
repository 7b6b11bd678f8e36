//! attune-store: the durable state of every app behind one [`Store`] trait.
//!
//! Backends: [`sqlite::SqliteStore`] (embedded default, WAL, synchronous commits) and
//! [`postgres::PgStore`] (shared by several replicas). Both pass the same test-suite
//! (`tests/it/suite.rs`).
//!
//! **Invariant:** a call that returns `Ok` after writing has committed durably; a call that
//! returns `Err` has changed nothing (each write is one transaction).
//!
//! Schema (both backends, versioned: `sqlite::SCHEMA_VERSION` in `PRAGMA user_version`,
//! `postgres::SCHEMA_VERSION` in `attune_schema_version`; a database written by a newer attune
//! is refused): `apps`, `events` (unique `(app, event_id)`, a never-reused `seq`, indexes on
//! `(app, ts)`, `(app, user_id)`, `(app, anonymous_id)`, `(app, recommendation_id)`), `items`,
//! `users`, `identities`, and the model registry: `model_versions` (one row per registered
//! version, keyed by `(app, version)`), `model_registry` (one row per app: the next version to
//! hand out, the active version and the activation seq; the row activations lock) and
//! `model_activations` (the history rollback walks, keyed by `(app, seq)`); experiments:
//! `experiments` (one row per experiment: lifecycle, current phase and definition, the layer
//! buckets it holds while running), `experiment_phases` (every phase's definition and time
//! span) and `experiment_exposures` (a user's first serve per experiment phase); monitoring:
//! `metric_points` (time series keyed by `(app, metric, labels, at)`, pruned to a retention),
//! `alert_states` (one row per rule and label set) and `training_profiles` (the drift
//! reference of each model version); tuning: `studies` (one row per `(app, name)`: algorithm,
//! objective, search space and the whole study as JSON, trial count, best value, state).
//! Free-form attributes and properties are JSON text; floats come back
//! bit-identical. Ids compare bytewise in both backends, so scans order alike.
//!
//! Threads: every method blocks. `SqliteStore` may be called from any thread; `PgStore` (sync
//! `postgres` client) must not be called on an async worker thread — use `spawn_blocking`.
#![warn(missing_docs)]

mod codec;
pub mod error;
mod experiments;
mod monitoring;
pub mod postgres;
mod registry;
pub mod sqlite;
mod studies;
mod traits;

pub use error::StoreError;
pub use traits::*;

/// Open a store from a URL: `sqlite:PATH` / a plain file path, or `postgres://...`.
pub fn open(url: &str) -> Result<Box<dyn Store>, StoreError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Box::new(postgres::PgStore::connect(url)?))
    } else {
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        Ok(Box::new(sqlite::SqliteStore::open(path)?))
    }
}
