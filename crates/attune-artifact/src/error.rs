//! The one error type of the crate.

use std::path::PathBuf;

use attune_core::model::PartsError;

/// An artifact could not be written or read. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    /// The operating system refused a read or write.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file does not start with the artifact magic bytes: not a model file at all.
    #[error("{}: not an attune model file (the first 8 bytes are not \"ATTUNEMD\")", path.display())]
    NotAnArtifact {
        /// The file.
        path: PathBuf,
    },
    /// The file was written in a format this build cannot read. Retrain, or use the attune
    /// version that wrote it.
    #[error(
        "{}: model file format version {found} is not supported (this attune reads version {supported}); retrain the model",
        path.display()
    )]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// Version in the file.
        found: u32,
        /// Version this build reads.
        supported: u32,
    },
    /// The file is shorter than its own layout requires.
    #[error("{}: the model file is truncated ({len} bytes, at least {needed} needed)", path.display())]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Actual length.
        len: u64,
        /// Length the layout requires.
        needed: u64,
    },
    /// The stored checksum does not match the contents: the file was damaged or cut short
    /// after it was written.
    #[error(
        "{}: the model file is corrupt: checksum mismatch (stored {stored:016x}, computed {computed:016x})",
        path.display()
    )]
    ChecksumMismatch {
        /// The file.
        path: PathBuf,
        /// Checksum in the trailer.
        stored: u64,
        /// Checksum of the contents.
        computed: u64,
    },
    /// The checksum matched but the header or layout is inconsistent: written by a buggy or
    /// foreign writer.
    #[error("{}: the model file is corrupt: {reason}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The arrays do not make a valid model.
    #[error("{}: the stored model is invalid: {source}", path.display())]
    Parts {
        /// The file.
        path: PathBuf,
        /// What the model's `from_parts` rejected.
        source: PartsError,
    },
    /// The writer was given something it cannot store.
    #[error("{}: cannot write the model: {reason}", path.display())]
    InvalidInput {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The target exists and overwriting was not allowed.
    #[error("{}: already exists", path.display())]
    Exists {
        /// The file.
        path: PathBuf,
    },
}
