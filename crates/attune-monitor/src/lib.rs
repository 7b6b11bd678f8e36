//! attune-monitor: is what attune serves any good, is the data still what the model learned,
//! and who should hear about it.
//!
//! - [`quality`]: online quality of served lists per model version, source, variant and
//!   segment over the sliding window, recorded as series;
//! - [`series`]: reading and writing the store's metric time series (one series per metric
//!   and label set; bounded by [`config::MonitorConfig::retention_days`]);
//! - [`drift`]: the data of the window ending now against the last window of the active
//!   model's training data (PSI, KS), recorded as series;
//! - [`alerts`]: rules over those series, alert states in the store, and notifications to
//!   the log and Alertmanager-format webhooks;
//! - [`config`]: the `[monitor]` section.
//!
//! **Boundary:** knows the store, the core's pure metrics and statistics, and the experiment
//! crate's attribution; no HTTP API and no serving engine (the only HTTP it speaks is the
//! alert webhooks' client side). The pipeline's scheduler runs it.
#![warn(missing_docs)]

pub mod alerts;
pub mod config;
pub mod drift;
pub mod error;
pub mod fairness;
pub mod quality;
pub mod series;

pub use config::MonitorConfig;
pub use error::{MonitorError, Result};
