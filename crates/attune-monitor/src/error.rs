//! Monitoring errors.

use attune_store::StoreError;

/// What can go wrong while monitoring.
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    /// A configuration or request value breaks a rule; `field` names it.
    #[error("{field}: {reason}")]
    Invalid {
        /// The field at fault (`monitor.alerts[0].threshold`, `window`, ...).
        field: String,
        /// Why.
        reason: String,
    },
    /// Nothing to compute from (no events in the window, no training profile, ...).
    #[error("no data: {0}")]
    NoData(String),
    /// The store failed or refused.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Reading experiment data failed.
    #[error(transparent)]
    Experiment(#[from] attune_experiment::ExperimentError),
}

impl MonitorError {
    /// An [`MonitorError::Invalid`] for `field`.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// Results of this crate.
pub type Result<T> = std::result::Result<T, MonitorError>;
