//! attune-monitor's integration tests: a real SQLite store, real HTTP receivers.

mod alerts;
mod drift;
