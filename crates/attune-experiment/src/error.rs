//! What experiment operations fail with: user errors name the field at fault; store failures
//! pass through.

use attune_store::StoreError;

/// An experiment failure.
#[derive(Debug, thiserror::Error)]
pub enum ExperimentError {
    /// The definition or a request breaks a rule (user error): `field` is the dotted path
    /// (`variants[1].share`), `reason` says what is allowed.
    #[error("{field}: {reason}")]
    Invalid {
        /// Where.
        field: String,
        /// What is allowed.
        reason: String,
    },
    /// The experiment has no data to report on yet (user error).
    #[error("{0}")]
    NoData(String),
    /// The store failed or refused (unknown experiment, full layer, ...).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ExperimentError {
    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        ExperimentError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// Results of this crate.
pub type Result<T, E = ExperimentError> = std::result::Result<T, E>;
