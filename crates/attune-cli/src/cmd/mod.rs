//! One module per subcommand; `run` dispatches.

use std::process::ExitCode;

use crate::cli::Command;
use crate::config::Settings;

mod alerts;
mod apps;
mod bench;
mod clean;
mod consume;
mod demo;
mod embed;
pub mod evaluate;
mod experiment;
mod export;
mod fairness;
mod features;
pub(crate) mod import;
mod models;
mod monitor;
mod outcomes;
mod output;
mod precompute;
mod profile;
mod recommend;
mod segment;
mod serve;
mod similar;
pub mod train;
mod tune;

pub fn run(command: Command, settings: &Settings) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve(args) => serve::run(args, settings),
        Command::Consume(args) => consume::run(args, settings),
        Command::Demo(args) => demo::run(args, settings),
        Command::Config => {
            print!("{}", settings.to_toml()?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Apps(c) => apps::run(c, settings),
        Command::Import(c) => import::run(c, settings),
        Command::Export(args) => export::run(args, settings),
        Command::Clean(args) => clean::run(args, settings),
        Command::Profile(args) => profile::run(args, settings),
        Command::Bench(c) => bench::run(c, settings),
        Command::Train(args) => train::run(args, settings),
        Command::Models(c) => models::run(c, settings),
        Command::Recommend(args) => recommend::run(args, settings),
        Command::Similar(args) => similar::run(args, settings),
        Command::Evaluate(args) => evaluate::run(args, settings),
        Command::Precompute(args) => precompute::run(args, settings),
        Command::Experiment(c) => experiment::run(c, settings),
        Command::Outcomes(args) => outcomes::run(args, settings),
        Command::Monitor(c) => monitor::run(c, settings),
        Command::Alerts(args) => alerts::run(args, settings),
        Command::Fairness(c) => fairness::run(c, settings),
        Command::Features(c) => features::run(c, settings),
        Command::Segment(args) => segment::run(args, settings),
        Command::Tune(args) => tune::run(args, settings),
        Command::Embed(c) => embed::run(c, settings),
    }
}
