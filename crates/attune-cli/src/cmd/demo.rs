//! `attune demo` (to be written).

use std::process::ExitCode;

use crate::cli::DemoArgs;
use crate::config::Settings;

pub fn run(_args: DemoArgs, _settings: &Settings) -> anyhow::Result<ExitCode> {
    anyhow::bail!("attune demo is not implemented yet")
}
