//! The `attune` binary: a thin layer of argument parsing over the library crates (its commands
//! are in this package's library target, `lib.rs`).
//!
//! `main` → `try_main`; errors print one line (with causes, each once:
//! [`attune_cli::error_line`]) to stderr and exit 2. A broken pipe
//! (e.g. `attune export events | head`) is a normal end.

use std::process::ExitCode;

use attune_cli::{cli, config};

/// mimalloc instead of the system allocator: a cached recommendation costs a few dozen small
/// allocations (ids, strings, the JSON body) and glibc's malloc and free were a quarter of
/// the warm path's profile (docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match try_main(args) {
        Ok(code) => code,
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            eprintln!("attune: error: {}", attune_cli::error_line(&err));
            ExitCode::from(2)
        }
    }
}

fn try_main(args: cli::Cli) -> anyhow::Result<ExitCode> {
    let settings = config::Settings::load(args.config.as_deref())?;
    config::init_tracing(&settings, args.verbose);
    attune_cli::run(args.command, &settings)
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
