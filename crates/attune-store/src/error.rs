//! Store errors.

/// Why a store call failed. `Conflict` and `UnknownApp` are the caller's fault; the others are
/// the service's.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The named app does not exist (user error).
    #[error("unknown app {0:?}; create it first (attune apps create NAME)")]
    UnknownApp(String),
    /// The write contradicts stored state (user error), e.g. relinking a device to another user.
    #[error("conflict: {0}")]
    Conflict(String),
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
