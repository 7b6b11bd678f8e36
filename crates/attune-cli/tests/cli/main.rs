//! One integration-test binary for the `attune` CLI: every module drives the real binary
//! (`CARGO_BIN_EXE_attune`) against its own temporary data directory.

mod common;
mod server;

mod alerts;
mod apps;
mod bench;
mod clean;
mod connections;
mod crash;
mod evaluate;
mod experiments;
mod export;
mod fairness;
mod features;
mod import;
#[cfg(feature = "kafka")]
mod kafka;
mod models;
mod monitor;
mod movielens;
mod ops;
mod profile;
mod redis;
mod segment;
mod serve;
mod serving;
mod train;
mod tune;
