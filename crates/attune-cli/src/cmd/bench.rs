//! `attune bench` (to be written).

use std::process::ExitCode;

use crate::cli::BenchCommand;
use crate::config::Settings;

pub fn run(_args: BenchCommand, _settings: &Settings) -> anyhow::Result<ExitCode> {
    anyhow::bail!("attune bench is not implemented yet")
}
