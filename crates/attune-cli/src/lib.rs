//! The code of the `attune` binary, as a library.
//!
//! `main.rs` is only the entry point (global allocator, error printing); everything else lives
//! here so that the pure parts the binary owns can be reached from outside it: the fuzz targets
//! under `fuzz/` drive the configuration loader ([`config::Settings::from_toml`]) and the
//! `attune import` file readers ([`import`]) exactly as the binary does. The subcommands stay
//! private behind [`run`].

pub mod cli;
mod cmd;
pub mod config;
pub mod ingest;
mod models;
mod serving;
#[cfg(feature = "kafka")]
mod stream;

pub use cmd::run;

/// The file readers of `attune import` and the validation they share with the HTTP API: a
/// [`CsvSource`](import::CsvSource) or [`JsonlSource`](import::JsonlSource) turns bytes into
/// [`Record`](import::Record)s, the [`Validator`](import::Validator) turns those into
/// [`Row`](import::Row)s. No store is involved.
pub mod import {
    pub use crate::cmd::import::fields::Field;
    pub use crate::cmd::import::{CsvSource, Decoded, JsonlSource, Record, Row, Validator};
}
