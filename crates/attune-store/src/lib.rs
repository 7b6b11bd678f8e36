//! attune-store: the durable state of every app behind one [`Store`] trait.
//!
//! Backends: [`sqlite::SqliteStore`] (embedded default, WAL, synchronous commits) and
//! [`postgres::PgStore`] (shared by several replicas). Both pass the same test-suite
//! (`tests/it/suite.rs`).
//!
//! **Invariant:** a call that returns `Ok` after writing has committed durably; a call that
//! returns `Err` has changed nothing (each write is one transaction).
#![warn(missing_docs)]

mod codec;
pub mod error;
pub mod postgres;
pub mod sqlite;
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
