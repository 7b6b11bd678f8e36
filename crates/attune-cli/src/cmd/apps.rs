//! `attune apps` (to be written).

use std::process::ExitCode;

use crate::cli::AppsCommand;
use crate::config::Settings;

pub fn run(_args: AppsCommand, _settings: &Settings) -> anyhow::Result<ExitCode> {
    anyhow::bail!("attune apps is not implemented yet")
}
