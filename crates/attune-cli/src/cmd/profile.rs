//! `attune profile` (to be written).

use std::process::ExitCode;

use crate::cli::ProfileArgs;
use crate::config::Settings;

pub fn run(_args: ProfileArgs, _settings: &Settings) -> anyhow::Result<ExitCode> {
    anyhow::bail!("attune profile is not implemented yet")
}
