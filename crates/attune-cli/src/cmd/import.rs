//! `attune import` (to be written).

use std::process::ExitCode;

use crate::cli::ImportCommand;
use crate::config::Settings;

pub fn run(_args: ImportCommand, _settings: &Settings) -> anyhow::Result<ExitCode> {
    anyhow::bail!("attune import is not implemented yet")
}
