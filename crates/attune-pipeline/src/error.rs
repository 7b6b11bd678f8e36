//! What the pipeline can fail with. User errors (a bad setting, a spec that does not parse, an
//! app without data) say what to change; service errors (the store, a file) name what failed.

use std::path::PathBuf;

use attune_artifact::ArtifactError;
use attune_core::model::spec::{SpecError, SpecFitError};
use attune_serving::ServingError;
use attune_store::StoreError;

/// A pipeline failure.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// A setting is invalid (user error): `key` is the dotted configuration key.
    #[error("invalid configuration: {key} {rule} (set it in the config file or ATTUNE_{env})")]
    Config {
        /// `train.rating_policy`.
        key: String,
        /// What is allowed.
        rule: String,
        /// The environment variable that sets it (`TRAIN__RATING_POLICY`).
        env: String,
    },
    /// The algorithm text does not parse (user error).
    #[error("invalid algorithm {text:?}: {source}")]
    Algorithm {
        /// What was given.
        text: String,
        /// The factory's message.
        #[source]
        source: SpecError,
    },
    /// A request parameter is out of range (user error): `field` names it.
    #[error("{field}: {rule}")]
    Invalid {
        /// The parameter.
        field: &'static str,
        /// What is allowed.
        rule: String,
    },
    /// The app has nothing to train on, or too little to validate (user error).
    #[error("{0}")]
    NoData(String),
    /// Every candidate failed, or the one spec cannot be fitted on this data (user error).
    #[error("cannot train {spec} on app {app:?}: {source}")]
    Fit {
        /// The spec.
        spec: String,
        /// The app.
        app: String,
        /// Why.
        #[source]
        source: SpecFitError,
    },
    /// No candidate of `auto` or a grid could be trained.
    #[error("no candidate could be trained: {0}")]
    NoCandidate(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An artifact could not be written or read back.
    #[error("{context}: {source}")]
    Artifact {
        /// What was being done (names the file and version).
        context: String,
        /// The artifact error.
        #[source]
        source: Box<ArtifactError>,
    },
    /// A file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// An experiment (a guarded rollout's) could not be created, read or changed.
    #[error(transparent)]
    Experiment(Box<attune_experiment::ExperimentError>),
    /// The serving engine refused (an activation whose artifact cannot be served).
    #[error(transparent)]
    Serving(Box<ServingError>),
    /// User features could not be selected or prepared (user error: an unknown feature).
    #[error(transparent)]
    Features(#[from] attune_core::features::FeatureError),
    /// Segmentation refused its input (user error: k larger than the users, a bad eps).
    #[error(transparent)]
    Segment(#[from] attune_core::segment::SegmentError),
    /// A model was registered but a later step failed; the message says what state it is in.
    #[error("{0}")]
    Registered(String),
    /// Building a matrix or an index failed on data that passed every check (a bug).
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<ServingError> for PipelineError {
    fn from(e: ServingError) -> Self {
        PipelineError::Serving(Box::new(e))
    }
}

impl PipelineError {
    /// Whether the caller asked for something wrong (as opposed to the service failing).
    pub fn is_user_error(&self) -> bool {
        matches!(
            self,
            PipelineError::Config { .. }
                | PipelineError::Algorithm { .. }
                | PipelineError::Invalid { .. }
                | PipelineError::NoData(_)
                | PipelineError::Fit { .. }
                | PipelineError::NoCandidate(_)
                | PipelineError::Features(_)
                | PipelineError::Segment(_)
        )
    }

    pub(crate) fn internal(e: impl std::fmt::Display) -> Self {
        PipelineError::Internal(e.to_string())
    }
}

/// Results of the pipeline.
pub type Result<T, E = PipelineError> = std::result::Result<T, E>;

impl From<attune_experiment::ExperimentError> for PipelineError {
    fn from(e: attune_experiment::ExperimentError) -> Self {
        PipelineError::Experiment(Box::new(e))
    }
}
