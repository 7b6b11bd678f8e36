//! Command-line definitions (clap derive). Help text comes from these doc comments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// attune: a self-hosted personalization engine.
#[derive(Debug, Parser)]
#[command(name = "attune", version, about, long_about = None)]
pub struct Cli {
    /// Configuration file (TOML), layered over the built-in defaults. Also $ATTUNE_CONFIG.
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// More logging (-v debug, -vv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

/// Which app (tenant) a command acts on.
#[derive(Debug, Clone, Args)]
pub struct AppArg {
    /// App (tenant) name.
    #[arg(long, env = "ATTUNE_APP", default_value = "default")]
    pub app: String,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP service.
    Serve(ServeArgs),
    /// Start the service on a fresh data directory loaded with deterministic demo data.
    Demo(DemoArgs),
    /// Print the effective configuration (defaults + file + ATTUNE_* environment).
    Config,
    /// Manage apps (tenants).
    #[command(subcommand)]
    Apps(AppsCommand),
    /// Import events, items or users from CSV / JSON lines, or MovieLens-100K.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Export events, items or users as CSV or JSON lines.
    Export(ExportArgs),
    /// Report what cleaning would remove (duplicates, bots, outliers, unknown items) and why.
    Clean(CleanArgs),
    /// Profile an app's data: size, density, distributions, coverage, recency, cold start.
    Profile(ProfileArgs),
    /// Benchmarks that report numbers (never run in tests).
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Listen address (overrides server.bind).
    #[arg(long)]
    pub bind: Option<String>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Listen address.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub bind: String,
    /// Data directory for the demo (wiped and regenerated).
    #[arg(long, default_value = "./data/demo")]
    pub data_dir: PathBuf,
    /// Seed for the synthetic data.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Load the data and exit instead of serving.
    #[arg(long)]
    pub no_serve: bool,
}

#[derive(Debug, Subcommand)]
pub enum AppsCommand {
    /// Create an app (idempotent).
    Create {
        /// App name: lowercase letters, digits, '-' and '_'.
        name: String,
    },
    /// List apps with their counts.
    List,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FileFormat {
    /// Comma-separated values with a header row.
    Csv,
    /// One JSON object per line.
    Jsonl,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Entity {
    /// Behavioural events.
    Events,
    /// Catalog items.
    Items,
    /// User profiles.
    Users,
}

#[derive(Debug, Args)]
pub struct ImportFileArgs {
    /// Input file (`-` for standard input).
    pub file: PathBuf,
    /// File format; guessed from the extension when absent.
    #[arg(long, value_enum)]
    pub format: Option<FileFormat>,
    /// Map a field to a column / key of the file: `--map user_id=customer` (repeatable).
    #[arg(long = "map", value_name = "FIELD=COLUMN")]
    pub map: Vec<String>,
    /// Abort without writing anything if any row is invalid.
    #[arg(long)]
    pub strict: bool,
    /// Rows per transaction.
    #[arg(long, default_value_t = 5000)]
    pub batch: usize,
    #[command(flatten)]
    pub app: AppArg,
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Import events.
    Events(ImportFileArgs),
    /// Import items.
    Items(ImportFileArgs),
    /// Import users.
    Users(ImportFileArgs),
    /// Import MovieLens-100K in RecBole's atomic-file layout (ml-100k.inter/.item/.user).
    Movielens {
        /// Directory holding ml-100k.inter, ml-100k.item and ml-100k.user.
        dir: PathBuf,
        #[command(flatten)]
        app: AppArg,
    },
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// What to export.
    #[arg(value_enum)]
    pub entity: Entity,
    /// Output format.
    #[arg(long, value_enum, default_value = "jsonl")]
    pub format: FileFormat,
    /// Output file (standard output when absent).
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub app: AppArg,
}

#[derive(Debug, Args)]
pub struct CleanArgs {
    /// Print the report (the only mode today: nothing is deleted from the store).
    #[arg(long, default_value_t = true)]
    pub report: bool,
    /// JSON output.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub app: AppArg,
}

#[derive(Debug, Args)]
pub struct ProfileArgs {
    /// JSON output.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub app: AppArg,
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Durable ingestion over HTTP against a fresh server (SQLite by default).
    Ingest(BenchIngestArgs),
}

#[derive(Debug, Args)]
pub struct BenchIngestArgs {
    /// Total events to send.
    #[arg(long, default_value_t = 500_000)]
    pub events: usize,
    /// Events per batch.
    #[arg(long, default_value_t = 1000)]
    pub batch: usize,
    /// Concurrent client connections.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Store URL to benchmark (default: a fresh SQLite file in a temp dir).
    #[arg(long)]
    pub store: Option<String>,
    /// Write the report as JSON here too.
    #[arg(long)]
    pub json: Option<PathBuf>,
}
