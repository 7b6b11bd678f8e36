//! attune-pipeline: from stored events to the model that serves, as a library every front-end
//! calls: the HTTP server (`POST /v1/models/train`), the CLI (`attune train`, `evaluate`,
//! `clean --report`, `profile`), the scheduler and, later, the stream consumer. So they all
//! see the same data and publish the same way.
//!
//! - [`data`]: an app's data as training sees it (consent applied, cleaned); the profile and
//!   the cleaning report are of this data; [`profile`]: the profile report (`attune profile`,
//!   `GET /v1/profile`);
//! - [`dataset`]: that data interned into the matrices models train from;
//! - [`train`]: choose (a spec, a grid, `auto`) on a validation split and fit;
//! - [`publish`]: write, verify and register the artifact (the one register flow);
//! - [`promote`]: whether a new version becomes active, activated through the engine;
//! - [`monitoring`]: the monitoring tick; [`drift`]: drift against the active model's training
//!   data (one function for the tick, the API and the CLI), and retraining on drift;
//! - [`features`]: the user feature table of that data; [`segments`]: users grouped by rules,
//!   k-means or DBSCAN and each segment described (`attune features users`, `attune segment`);
//!   [`resegment`]: segments saved into profiles and serving told (`attune segment
//!   --save-as` and the scheduler's segment loop);
//! - [`jobs`]: training in the background, one job per app; [`schedule`]: registry polling,
//!   scheduled retraining and segment recomputation;
//! - [`tune`]: hyperparameter search of one family (`attune tune`), studies stored and
//!   resumable, per segment or global;
//! - [`config`]: its settings (`[train]`), [`error`]: what it fails with.
//!
//! **Boundary:** knows the store, artifacts and the serving engine (activation goes through
//! it); knows no HTTP, no CLI and no configuration file format beyond its own section types.
//! Every call is blocking.
//!
//! ```
//! use std::sync::Arc;
//! use attune_core::event::EventWeighting;
//! use attune_pipeline::{Pipeline, PipelineConfig, Promote, TrainRequest};
//! use attune_serving::{RecRequest, Serving, ServingConfig};
//! use attune_store::Store as _;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let store = Arc::new(attune_store::sqlite::SqliteStore::open(dir.path().join("a.db"))?);
//! store.create_app("shop")?;
//! let shop = attune_testkit::generate(&attune_testkit::SyntheticConfig::default());
//! store.upsert_items("shop", &shop.items)?;
//! store.insert_events("shop", &shop.events)?;
//! let engine = Serving::new(store, dir.path(), ServingConfig::default(), EventWeighting::default());
//! let pipeline = Pipeline::new(Arc::new(engine), PipelineConfig::default());
//! let request = TrainRequest { algorithm: "ease:lambda=50".into(), promote: Promote::IfFirst };
//! let outcome = pipeline.run("shop", &request, &|_| {})?;
//! assert!(outcome.activated);
//! let list = pipeline.engine().recommend("shop", "user-3", &RecRequest::default(), true)?;
//! assert_eq!(list.model_version, Some(outcome.version));
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

pub mod config;
pub mod data;
pub mod dataset;
pub mod drift;
pub mod error;
pub mod features;
pub mod jobs;
pub mod monitoring;
pub mod profile;
pub mod promote;
pub mod publish;
pub mod resegment;
pub mod retention;
pub mod rollout;
pub mod schedule;
pub mod segments;
pub mod train;
pub mod tune;
pub mod user_profiles;

use std::path::Path;
use std::sync::Arc;

use attune_monitor::alerts::Notifier;
use attune_serving::Serving;
use attune_store::Store;

pub use config::{PipelineConfig, TrainConfig, TrainSettings};
pub use data::AppData;
pub use dataset::Dataset;
pub use error::{PipelineError, Result};
pub use jobs::{Job, JobState, Jobs, StartError, TrainOutcome, TrainRequest};
pub use promote::{Promote, Promotion};
pub use publish::Registered;
pub use train::{Algorithm, Model, TrainOptions};

/// The pipeline over one serving engine (whose store it reads and whose registry it
/// publishes to) with its settings and its background jobs.
pub struct Pipeline {
    engine: Arc<Serving>,
    config: PipelineConfig,
    jobs: Arc<Jobs>,
    quality: Arc<attune_monitor::quality::Latest>,
    notifier: Arc<Notifier>,
    retrain: Option<TrainRequest>,
    /// Per app, the version drift's `score` feature samples and its own pinned copy
    /// ([`drift`]): scoring there never touches serving's batchers, caches or experiments.
    drift_scorers:
        std::sync::Mutex<std::collections::HashMap<String, (u32, Arc<attune_serving::AppServing>)>>,
}

/// Why a training job could not be started.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The request is invalid (a bad algorithm text): nothing started.
    #[error(transparent)]
    Invalid(PipelineError),
    /// The app already has a job running, or no thread could be started.
    #[error(transparent)]
    Busy(#[from] StartError),
}

impl Pipeline {
    /// A pipeline publishing through `engine`. Its alerts go to the log until
    /// [`Pipeline::with_notifier`] gives it the configured sinks.
    pub fn new(engine: Arc<Serving>, config: PipelineConfig) -> Self {
        let notifier = Arc::new(Notifier::log_only(engine.store().clone()));
        Self {
            engine,
            config,
            jobs: Arc::default(),
            quality: Arc::default(),
            notifier,
            retrain: None,
            drift_scorers: std::sync::Mutex::default(),
        }
    }

    /// What a retraining started by drift trains (the scheduled retraining's request);
    /// without one, drift is reported but starts nothing.
    pub fn with_retrain_request(mut self, request: TrainRequest) -> Self {
        self.retrain = Some(request);
        self
    }

    /// See [`Pipeline::with_retrain_request`].
    pub fn retrain_request(&self) -> Option<&TrainRequest> {
        self.retrain.as_ref()
    }

    /// `version` of `app` pinned for drift's score samples: loaded once per version and kept
    /// (one more copy of the model in memory while the feature is sampled).
    pub(crate) fn drift_scorer(
        &self,
        app: &str,
        version: u32,
    ) -> Result<Arc<attune_serving::AppServing>, attune_serving::ServingError> {
        let mut scorers = self
            .drift_scorers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((v, a)) = scorers.get(app) {
            if *v == version {
                return Ok(a.clone());
            }
        }
        let a = self
            .engine
            .pinned(app, &attune_serving::Pin::Version(version))?;
        scorers.insert(app.to_string(), (version, a.clone()));
        Ok(a)
    }

    /// The quality figures this replica's monitoring last recorded, per app.
    pub fn quality(&self) -> &Arc<attune_monitor::quality::Latest> {
        &self.quality
    }

    /// Send alerts (rule evaluations of the monitoring tick, and events such as a rollback)
    /// through `notifier`.
    pub fn with_notifier(mut self, notifier: Arc<Notifier>) -> Self {
        self.notifier = notifier;
        self
    }

    /// Where alerts go: whatever acts on this pipeline and has news for an operator (the
    /// guarded rollout rolling a model back) sends it here
    /// ([`Notifier::send`](attune_monitor::alerts::Notifier::send)).
    pub fn notifier(&self) -> &Arc<Notifier> {
        &self.notifier
    }

    /// The serving engine.
    pub fn engine(&self) -> &Arc<Serving> {
        &self.engine
    }

    /// The store.
    pub fn store(&self) -> &dyn Store {
        &**self.engine.store()
    }

    /// Its settings.
    pub fn config(&self) -> &PipelineConfig {
        &self.config
    }

    /// Where artifacts are written: the engine's data directory.
    pub fn data_dir(&self) -> &Path {
        self.engine.data_dir()
    }

    /// Background jobs.
    pub fn jobs(&self) -> &Arc<Jobs> {
        &self.jobs
    }

    /// `app`'s data as training sees it (cleaned unless `clean` or `[train].clean` say not).
    pub fn data(&self, app: &str, clean: Option<bool>) -> Result<AppData> {
        AppData::for_training(self.store(), app, &self.config, clean)
    }

    /// `app`'s data as matrices ([`Dataset`]).
    pub fn dataset(&self, app: &str, clean: Option<bool>) -> Result<Dataset> {
        Dataset::load(self.store(), app, &self.config, clean)
    }

    /// Choose and fit (see [`train::train`]).
    pub fn train(
        &self,
        app: &str,
        options: &TrainOptions,
        progress: &dyn Fn(&str),
    ) -> Result<Model> {
        train::train(self.store(), &self.config, app, options, progress)
    }

    /// Register `model` as its app's next version.
    pub fn register(&self, model: &Model, progress: &dyn Fn(&str)) -> Result<Registered> {
        progress("writing and registering the model");
        publish::register(
            self.store(),
            self.data_dir(),
            &model.app,
            &self.model_file(model),
            &self.config.topk,
            progress,
        )
    }

    /// Write `model` to `path`, unregistered.
    pub fn write_file(&self, model: &Model, path: &Path, progress: &dyn Fn(&str)) -> Result<()> {
        publish::write_file(path, &self.model_file(model), &self.config.topk, progress)
    }

    fn model_file<'a>(&self, model: &'a Model) -> publish::ModelFile<'a> {
        publish::ModelFile {
            fitted: &model.fitted,
            users: &model.data.users,
            items: &model.data.items,
            history: &model.history,
            data: publish::data_snapshot(&model.data, &model.history),
            metrics: model.metrics.clone(),
            created: chrono::Utc::now(),
            graph: None,
        }
    }

    /// Apply `policy` to a registered version (see [`promote::promote`]).
    pub fn promote(
        &self,
        app: &str,
        version: u32,
        metrics: &std::collections::BTreeMap<String, f64>,
        policy: &Promote,
    ) -> Result<Promotion> {
        promote::promote(&self.engine, app, version, metrics, policy)
    }

    /// Train, register and promote: the whole of one training run (what a job runs).
    pub fn run(
        &self,
        app: &str,
        request: &TrainRequest,
        progress: &dyn Fn(&str),
    ) -> Result<TrainOutcome> {
        let options = TrainOptions {
            algorithm: request.algorithm.parse()?,
            validate: matches!(request.promote, Promote::IfNotWorse { .. }),
            tune: None,
        };
        let model = self.train(app, &options, progress)?;
        let registered = self.register(&model, progress)?;
        let p = self.promote(app, registered.version, &model.metrics, &request.promote)?;
        progress(&p.reason);
        Ok(TrainOutcome {
            version: registered.version,
            metrics: model.metrics,
            activated: p.activated,
            promotion: p.reason,
        })
    }

    /// Start [`Pipeline::run`] as a background job; the algorithm text is checked first, so a
    /// bad one is refused here rather than failing in the background.
    pub fn start_job(
        self: &Arc<Self>,
        app: &str,
        request: TrainRequest,
    ) -> Result<String, JobError> {
        request
            .algorithm
            .parse::<Algorithm>()
            .map_err(JobError::Invalid)?;
        let pipeline = self.clone();
        let (job_app, job_request) = (app.to_string(), request.clone());
        Ok(self.jobs.start(app, request, move |progress| {
            pipeline
                .run(&job_app, &job_request, progress)
                .map_err(|e| e.to_string())
        })?)
    }
}
