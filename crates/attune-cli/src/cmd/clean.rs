//! `attune clean` (to be written).

use std::process::ExitCode;

use crate::cli::CleanArgs;
use crate::config::Settings;

pub fn run(_args: CleanArgs, _settings: &Settings) -> anyhow::Result<ExitCode> {
    anyhow::bail!("attune clean is not implemented yet")
}
