//! `attune export` (to be written).

use std::process::ExitCode;

use crate::cli::ExportArgs;
use crate::config::Settings;

pub fn run(_args: ExportArgs, _settings: &Settings) -> anyhow::Result<ExitCode> {
    anyhow::bail!("attune export is not implemented yet")
}
