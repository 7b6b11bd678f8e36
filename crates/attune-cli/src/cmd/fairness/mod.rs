//! `attune fairness`: who gets seen and who is served well (docs/fairness.md).
//!
//! - [`audit`]: offline, on the evaluation split `attune evaluate` uses: train one model, rank
//!   every test user's candidates once, then measure the lists as ranked and re-ranked by
//!   `attune_core::fairness::ExposureReranker` at each λ;
//! - [`online`]: the same exposure figures over the lists served in a window, and CTR by user
//!   group (`attune_monitor::fairness`, as `GET /v1/fairness`);
//! - [`groups`]: item and user group specifications resolved against an app's data;
//! - [`report`]: the table and the JSON.

mod audit;
pub(crate) mod groups;
mod online;
mod report;

use std::process::ExitCode;

use crate::cli::FairnessCommand;
use crate::config::Settings;

pub fn run(command: FairnessCommand, settings: &Settings) -> anyhow::Result<ExitCode> {
    match command {
        FairnessCommand::Audit(args) => audit::run(args, settings),
        FairnessCommand::Online(args) => online::run(args, settings),
    }
}
