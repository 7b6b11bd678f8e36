//! Store errors.

/// Why a store call failed. `UnknownApp`, `Conflict` and the model-registry variants
/// (`UnknownModel`, `NoRollbackTarget`, `StaleActivation`, `InvalidModel`) are the caller's
/// fault; the others are the service's.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The named app does not exist (user error).
    #[error("unknown app {0:?}; create it first (attune apps create NAME)")]
    UnknownApp(String),
    /// The write contradicts stored state (user error), e.g. relinking a device to another user.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The app has no registered model with this version (user error; HTTP 404).
    #[error("app {app:?} has no registered model version {version}")]
    UnknownModel {
        /// The app.
        app: String,
        /// The version asked for.
        version: u32,
    },
    /// A rollback found nothing to go back to: no version was active before the current one
    /// (user error; HTTP 409).
    #[error("app {app:?} has no earlier active model version to roll back to")]
    NoRollbackTarget {
        /// The app.
        app: String,
    },
    /// An activation or rollback was conditional on the activation seq the caller saw, and
    /// another activation happened since; nothing was changed (user error; HTTP 409/412).
    #[error(
        "the active model of app {app:?} changed meanwhile (activation seq {current}, expected {expected}); nothing was changed"
    )]
    StaleActivation {
        /// The app.
        app: String,
        /// The seq the caller expected.
        expected: u64,
        /// The app's seq now.
        current: u64,
    },
    /// A model to register breaks a rule (user error; HTTP 400): names the field and the rule.
    #[error("invalid model record: {field}: {reason}")]
    InvalidModel {
        /// `algorithm`, `params`, `data_snapshot`, `metrics.<name>` or `artifact.location`.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// The app has no experiment of this name (user error; HTTP 404).
    #[error("app {app:?} has no experiment {name:?}")]
    UnknownExperiment {
        /// The app.
        app: String,
        /// The name asked for.
        name: String,
    },
    /// The experiment's layer has no free range of buckets for its traffic: running
    /// experiments of one layer are mutually exclusive (user error; HTTP 409).
    #[error(
        "layer {layer:?} has no free range of {wanted} buckets (of {total}) for experiment \
         {name:?}; experiments running in it hold the rest: stop one, lower the traffic, or use \
         another layer"
    )]
    LayerFull {
        /// The experiment.
        name: String,
        /// Its layer.
        layer: String,
        /// Buckets it needs.
        wanted: u32,
        /// Buckets of a layer.
        total: u32,
    },
    /// An experiment record breaks a rule (user error; HTTP 400): names the field and the rule.
    #[error("invalid experiment: {field}: {reason}")]
    InvalidExperiment {
        /// `name`, `layer`, `definition`, `traffic_buckets`, ...
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// A monitoring record the store refuses (an empty metric name, a non-finite value, ...).
    #[error("invalid monitoring record: {field}: {reason}")]
    InvalidMonitoring {
        /// The field at fault.
        field: String,
        /// Why.
        reason: String,
    },
    /// A tuning study record breaks a rule (user error): names the field and the rule.
    #[error("invalid study: {field}: {reason}")]
    InvalidStudy {
        /// `name`, `algorithm`, `objective`, `space`, `study`, `state` or `best_value`.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// SQLite failed (service error).
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL failed (service error).
    #[error("postgres: {0}")]
    Postgres(#[from] postgres::Error),
    /// Stored data could not be decoded (service error: corruption or a newer schema).
    #[error("data corruption in {table}: {detail}")]
    Corrupt {
        /// Table holding the bad row.
        table: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// The database file or directory could not be used (service error).
    #[error("{path}: {source}")]
    Io {
        /// Path that failed.
        path: String,
        /// Underlying error.
        source: std::io::Error,
    },
}
