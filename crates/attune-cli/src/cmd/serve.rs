//! `attune serve` (to be written).

use std::process::ExitCode;

use crate::cli::ServeArgs;
use crate::config::Settings;

pub fn run(_args: ServeArgs, _settings: &Settings) -> anyhow::Result<ExitCode> {
    anyhow::bail!("attune serve is not implemented yet")
}
