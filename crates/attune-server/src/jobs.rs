//! Background training: `POST /v1/models/train` starts a job on its own thread and answers at
//! once; `GET /v1/models/jobs/{id}` shows its progress and outcome.
//!
//! Training itself is the binary's business (it owns the data pipeline and the configuration):
//! the server is handed a [`Trainer`] and only runs it, one job per app at a time, and records
//! what it reports. A job that fails leaves the registry and the active model untouched.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

/// What to train and what to do with the result.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainRequest {
    /// Algorithm spec (`als:factors=64`) or `auto`.
    pub algorithm: String,
    /// Whether the new version should become active.
    pub promote: Promote,
}

/// When a freshly trained version becomes active.
#[derive(Debug, Clone, PartialEq)]
pub enum Promote {
    /// Never (an operator activates it).
    Never,
    /// Always.
    Always,
    /// When its offline `metric` is not worse than the active version's by more than `margin`
    /// (absolute), or when nothing is active.
    IfNotWorse {
        /// Metric name in the model's metrics (`validation.ndcg@10`).
        metric: String,
        /// Largest tolerated drop.
        margin: f64,
    },
}

/// What a finished training reports.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainOutcome {
    /// The registered version.
    pub version: u32,
    /// Its offline metrics.
    pub metrics: BTreeMap<String, f64>,
    /// Whether it became the active version.
    pub activated: bool,
    /// Why it was or was not activated.
    pub promotion: String,
}

/// Trains a model for an app and registers it. Implemented by the binary.
pub trait Trainer: Send + Sync {
    /// Train `request` on `app`'s data; `progress` receives short human-readable steps.
    fn train(
        &self,
        app: &str,
        request: &TrainRequest,
        progress: &dyn Fn(&str),
    ) -> anyhow::Result<TrainOutcome>;
}

/// A job's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    /// Running.
    Running,
    /// Finished with a registered version.
    Succeeded,
    /// Failed; nothing changed.
    Failed,
}

impl JobState {
    /// `running`, `succeeded`, `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
        }
    }
}

/// One training job.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// Its id.
    pub id: String,
    /// App.
    pub app: String,
    /// What was asked.
    pub request: TrainRequest,
    /// State.
    pub state: JobState,
    /// Progress messages, oldest first (at most the last 100).
    pub progress: VecDeque<String>,
    /// Started, UTC micros.
    pub started_micros: i64,
    /// Finished, UTC micros.
    pub finished_micros: Option<i64>,
    /// The outcome when it succeeded.
    pub outcome: Option<TrainOutcome>,
    /// The error when it failed.
    pub error: Option<String>,
}

fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

/// Jobs of this server (kept in memory: the registry, not the job list, is the durable
/// record of what was trained).
#[derive(Default)]
pub struct Jobs {
    jobs: Mutex<BTreeMap<String, Job>>,
}

/// Why a job could not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StartError {
    /// No trainer was configured.
    #[error("this server was started without a trainer")]
    NoTrainer,
    /// The app already has a job running.
    #[error("app {app:?} already has a training job running ({job})")]
    Busy {
        /// App.
        app: String,
        /// The running job.
        job: String,
    },
}

impl Jobs {
    /// Start `request` for `app` on a new thread; returns the job id.
    pub fn start(
        self: &Arc<Self>,
        trainer: Option<Arc<dyn Trainer>>,
        app: &str,
        request: TrainRequest,
        on_done: impl FnOnce(&anyhow::Result<TrainOutcome>) + Send + 'static,
    ) -> Result<String, StartError> {
        let trainer = trainer.ok_or(StartError::NoTrainer)?;
        let id = uuid::Uuid::now_v7().to_string();
        {
            let mut jobs = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(running) = jobs
                .values()
                .find(|j| j.app == app && j.state == JobState::Running)
            {
                return Err(StartError::Busy {
                    app: app.into(),
                    job: running.id.clone(),
                });
            }
            jobs.insert(
                id.clone(),
                Job {
                    id: id.clone(),
                    app: app.into(),
                    request: request.clone(),
                    state: JobState::Running,
                    progress: VecDeque::new(),
                    started_micros: now_micros(),
                    finished_micros: None,
                    outcome: None,
                    error: None,
                },
            );
        }
        let jobs = self.clone();
        let (job_id, app) = (id.clone(), app.to_string());
        std::thread::Builder::new()
            .name("attune-train".into())
            .spawn(move || {
                let progress = |msg: &str| jobs.progress(&job_id, msg);
                let result = trainer.train(&app, &request, &progress);
                on_done(&result);
                jobs.finish(&job_id, result);
            })
            .expect("spawn a training thread");
        Ok(id)
    }

    fn progress(&self, id: &str, msg: &str) {
        let mut jobs = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(j) = jobs.get_mut(id) {
            j.progress.push_back(msg.to_string());
            while j.progress.len() > 100 {
                j.progress.pop_front();
            }
        }
    }

    fn finish(&self, id: &str, result: anyhow::Result<TrainOutcome>) {
        let mut jobs = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(j) = jobs.get_mut(id) {
            j.finished_micros = Some(now_micros());
            match result {
                Ok(o) => {
                    j.state = JobState::Succeeded;
                    j.outcome = Some(o);
                }
                Err(e) => {
                    tracing::warn!(job = id, app = j.app, error = %format!("{e:#}"), "training failed");
                    j.state = JobState::Failed;
                    j.error = Some(format!("{e:#}"));
                }
            }
        }
    }

    /// A job of `app` by id.
    pub fn get(&self, app: &str, id: &str) -> Option<Job> {
        let jobs = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        jobs.get(id).filter(|j| j.app == app).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    struct Slow;
    impl Trainer for Slow {
        fn train(
            &self,
            app: &str,
            request: &TrainRequest,
            progress: &dyn Fn(&str),
        ) -> anyhow::Result<TrainOutcome> {
            progress("loading");
            std::thread::sleep(Duration::from_millis(100));
            anyhow::ensure!(request.algorithm != "bad", "unknown algorithm bad");
            progress("fitting");
            Ok(TrainOutcome {
                version: 7,
                metrics: BTreeMap::new(),
                activated: app == "a",
                promotion: "always".into(),
            })
        }
    }

    fn wait(jobs: &Jobs, app: &str, id: &str) -> Job {
        let start = Instant::now();
        loop {
            let j = jobs.get(app, id).unwrap();
            if j.state != JobState::Running {
                return j;
            }
            assert!(start.elapsed() < Duration::from_secs(10), "job hangs");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn jobs_run_in_the_background_one_per_app() {
        let jobs = Arc::new(Jobs::default());
        let t: Option<Arc<dyn Trainer>> = Some(Arc::new(Slow));
        let req = |a: &str| TrainRequest {
            algorithm: a.into(),
            promote: Promote::Always,
        };
        let id = jobs.start(t.clone(), "a", req("als"), |_| {}).unwrap();
        assert_eq!(jobs.get("a", &id).unwrap().state, JobState::Running);
        let busy = jobs.start(t.clone(), "a", req("als"), |_| {}).unwrap_err();
        assert!(matches!(busy, StartError::Busy { .. }));
        let other = jobs.start(t.clone(), "b", req("bad"), |_| {}).unwrap();
        let done = wait(&jobs, "a", &id);
        assert_eq!(done.state, JobState::Succeeded);
        assert_eq!(done.outcome.unwrap().version, 7);
        assert_eq!(done.progress, ["loading", "fitting"]);
        let failed = wait(&jobs, "b", &other);
        assert_eq!(failed.state, JobState::Failed);
        assert!(failed.error.unwrap().contains("unknown algorithm"));
        // Another app's job is invisible; without a trainer nothing starts.
        assert!(jobs.get("b", &id).is_none());
        assert_eq!(
            jobs.start(None, "a", req("als"), |_| {}).unwrap_err(),
            StartError::NoTrainer
        );
    }
}
