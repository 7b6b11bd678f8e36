//! Background training: a job runs on its own thread and is watched through its id
//! (`POST /v1/models/train` answers at once; `GET /v1/models/jobs/{id}` shows progress and
//! outcome). One job per app at a time.
//!
//! **Invariants.** Every job ends `succeeded` or `failed`, also when its work panics (the
//! panic message becomes its error and the app takes new jobs again); a failed job leaves the
//! registry and the active model as they were (publishing and promotion are the last steps and
//! each is all or nothing). Finished jobs are kept for inspection up to
//! [`FINISHED_PER_APP`] per app, oldest dropped first; counts by outcome survive that pruning
//! (for `/metrics`).

use std::collections::{BTreeMap, VecDeque};
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, PoisonError};

use crate::promote::Promote;

/// Finished jobs kept per app.
pub const FINISHED_PER_APP: usize = 20;
/// Progress messages kept per job (the latest).
pub const PROGRESS_LINES: usize = 100;

/// What a training job was asked.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainRequest {
    /// Algorithm spec (`als:factors=64`), grid or `auto`.
    pub algorithm: String,
    /// Whether the new version should become active.
    pub promote: Promote,
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

/// A job's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    /// Running.
    Running,
    /// Finished with a registered version.
    Succeeded,
    /// Failed (or panicked); nothing changed.
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
    /// Progress messages, oldest first (at most the last [`PROGRESS_LINES`]).
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

/// Jobs per outcome of one app, since the process started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobCounts {
    /// Running now.
    pub running: u64,
    /// Finished with a registered version.
    pub succeeded: u64,
    /// Failed (panics included).
    pub failed: u64,
    /// Of the failed, those whose work panicked.
    pub panicked: u64,
}

fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

/// Why a job could not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StartError {
    /// The app already has a job running.
    #[error("app {app:?} already has a training job running ({job})")]
    Busy {
        /// App.
        app: String,
        /// The running job.
        job: String,
    },
    /// The process could not start a thread for the job (it is recorded as failed).
    #[error("cannot start a training thread: {0}")]
    NoThread(String),
}

#[derive(Default)]
struct State {
    jobs: BTreeMap<String, Job>,
    counts: BTreeMap<String, JobCounts>,
}

/// Jobs of this process (kept in memory: the registry, not the job list, is the durable record
/// of what was trained).
#[derive(Default)]
pub struct Jobs {
    state: Mutex<State>,
}

impl Jobs {
    /// Start `work` for `app` on a new thread; returns the job id. `work` gets a progress
    /// callback and returns the outcome or the error message.
    pub fn start(
        self: &Arc<Self>,
        app: &str,
        request: TrainRequest,
        work: impl FnOnce(&dyn Fn(&str)) -> Result<TrainOutcome, String> + Send + 'static,
    ) -> Result<String, StartError> {
        let id = uuid::Uuid::now_v7().to_string();
        {
            let mut s = self.lock();
            if let Some(running) = s
                .jobs
                .values()
                .find(|j| j.app == app && j.state == JobState::Running)
            {
                return Err(StartError::Busy {
                    app: app.into(),
                    job: running.id.clone(),
                });
            }
            s.jobs.insert(
                id.clone(),
                Job {
                    id: id.clone(),
                    app: app.into(),
                    request,
                    state: JobState::Running,
                    progress: VecDeque::new(),
                    started_micros: now_micros(),
                    finished_micros: None,
                    outcome: None,
                    error: None,
                },
            );
            s.counts.entry(app.to_string()).or_default().running += 1;
        }
        let jobs = self.clone();
        let job_id = id.clone();
        std::thread::Builder::new()
            .name("attune-train".into())
            .spawn(move || {
                let progress = |msg: &str| jobs.progress(&job_id, msg);
                // A panic is the job's failure, not the process's: it is recorded and the
                // app takes new jobs again.
                let result = std::panic::catch_unwind(AssertUnwindSafe(|| work(&progress)))
                    .map_err(|panic| {
                        let msg = panic
                            .downcast_ref::<&str>()
                            .map(|s| s.to_string())
                            .or_else(|| panic.downcast_ref::<String>().cloned())
                            .unwrap_or_else(|| "no message".into());
                        format!("training panicked: {msg}")
                    });
                let panicked = result.is_err();
                jobs.finish(&job_id, result.and_then(|r| r), panicked);
            })
            .map_err(|e| {
                // Out of threads: the job failed before it began.
                self.finish(
                    &id,
                    Err(format!("cannot start a training thread: {e}")),
                    false,
                );
                StartError::Busy {
                    app: app.into(),
                    job: id.clone(),
                }
            })?;
        Ok(id)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn progress(&self, id: &str, msg: &str) {
        let mut s = self.lock();
        if let Some(j) = s.jobs.get_mut(id) {
            j.progress.push_back(msg.to_string());
            while j.progress.len() > PROGRESS_LINES {
                j.progress.pop_front();
            }
        }
    }

    fn finish(&self, id: &str, result: Result<TrainOutcome, String>, panicked: bool) {
        let mut guard = self.lock();
        let s = &mut *guard;
        let Some(j) = s.jobs.get_mut(id) else {
            return;
        };
        j.finished_micros = Some(now_micros());
        let counts = s.counts.entry(j.app.clone()).or_default();
        counts.running = counts.running.saturating_sub(1);
        match result {
            Ok(o) => {
                j.state = JobState::Succeeded;
                j.outcome = Some(o);
                counts.succeeded += 1;
            }
            Err(e) => {
                tracing::warn!(job = id, app = j.app, error = %e, "training failed");
                j.state = JobState::Failed;
                j.error = Some(e);
                counts.failed += 1;
                counts.panicked += u64::from(panicked);
            }
        }
        let app = j.app.clone();
        prune(&mut s.jobs, &app);
    }

    /// A job of `app` by id.
    pub fn get(&self, app: &str, id: &str) -> Option<Job> {
        self.lock().jobs.get(id).filter(|j| j.app == app).cloned()
    }

    /// The jobs of `app` kept in memory, oldest first.
    pub fn list(&self, app: &str) -> Vec<Job> {
        let s = self.lock();
        let mut v: Vec<Job> = s.jobs.values().filter(|j| j.app == app).cloned().collect();
        v.sort_by(|a, b| {
            a.started_micros
                .cmp(&b.started_micros)
                .then(a.id.cmp(&b.id))
        });
        v
    }

    /// Counts per app since the process started.
    pub fn counts(&self) -> BTreeMap<String, JobCounts> {
        self.lock().counts.clone()
    }
}

/// Keep at most [`FINISHED_PER_APP`] finished jobs of `app`, dropping the oldest.
fn prune(jobs: &mut BTreeMap<String, Job>, app: &str) {
    let mut finished: Vec<(i64, String)> = jobs
        .values()
        .filter(|j| j.app == app && j.state != JobState::Running)
        .map(|j| (j.finished_micros.unwrap_or(0), j.id.clone()))
        .collect();
    if finished.len() <= FINISHED_PER_APP {
        return;
    }
    finished.sort();
    for (_, id) in &finished[..finished.len() - FINISHED_PER_APP] {
        jobs.remove(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn req(a: &str) -> TrainRequest {
        TrainRequest {
            algorithm: a.into(),
            promote: Promote::Always,
        }
    }

    fn ok(version: u32) -> TrainOutcome {
        TrainOutcome {
            version,
            metrics: BTreeMap::new(),
            activated: true,
            promotion: "always".into(),
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
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn jobs_run_in_the_background_one_per_app() {
        let jobs = Arc::new(Jobs::default());
        let (go, gate) = std::sync::mpsc::channel::<()>();
        let id = jobs
            .start("a", req("als"), move |p| {
                p("loading");
                gate.recv().unwrap();
                p("fitting");
                Ok(ok(7))
            })
            .unwrap();
        assert_eq!(jobs.get("a", &id).unwrap().state, JobState::Running);
        let busy = jobs.start("a", req("als"), |_| Ok(ok(8))).unwrap_err();
        assert!(matches!(busy, StartError::Busy { ref job, .. } if *job == id));
        let other = jobs
            .start("b", req("bad"), |_| Err("unknown algorithm bad".into()))
            .unwrap();
        go.send(()).unwrap();
        let done = wait(&jobs, "a", &id);
        assert_eq!(done.state, JobState::Succeeded);
        assert_eq!(done.outcome.unwrap().version, 7);
        assert_eq!(done.progress, ["loading", "fitting"]);
        let failed = wait(&jobs, "b", &other);
        assert_eq!(failed.state, JobState::Failed);
        assert!(failed.error.unwrap().contains("unknown algorithm"));
        // Another app's job is invisible.
        assert!(jobs.get("b", &id).is_none());
        let counts = jobs.counts();
        assert_eq!(
            counts["a"],
            JobCounts {
                running: 0,
                succeeded: 1,
                failed: 0,
                panicked: 0
            }
        );
        assert_eq!(counts["b"].failed, 1);
    }

    #[test]
    fn a_panicking_job_ends_failed_and_the_next_job_runs() {
        let jobs = Arc::new(Jobs::default());
        let id = jobs
            .start("a", req("als"), |p| {
                p("loading");
                panic!("index out of bounds: the len is 3 but the index is 7")
            })
            .unwrap();
        let j = wait(&jobs, "a", &id);
        assert_eq!(j.state, JobState::Failed);
        let err = j.error.unwrap();
        assert!(
            err.contains("panicked") && err.contains("the index is 7"),
            "{err}"
        );
        assert_eq!(j.progress, ["loading"]);
        assert_eq!(
            (jobs.counts()["a"].failed, jobs.counts()["a"].panicked),
            (1, 1)
        );
        // The app is not left busy.
        let next = jobs.start("a", req("als"), |_| Ok(ok(2))).unwrap();
        assert_eq!(wait(&jobs, "a", &next).state, JobState::Succeeded);
    }

    #[test]
    fn finished_jobs_are_pruned_oldest_first_and_counts_remain() {
        let jobs = Arc::new(Jobs::default());
        let mut ids = Vec::new();
        for v in 0..(FINISHED_PER_APP as u32 + 5) {
            let id = jobs.start("a", req("als"), move |_| Ok(ok(v))).unwrap();
            wait(&jobs, "a", &id);
            ids.push(id);
        }
        let kept = jobs.list("a");
        assert_eq!(kept.len(), FINISHED_PER_APP);
        // The five oldest are gone, the newest are there.
        for old in &ids[..5] {
            assert!(jobs.get("a", old).is_none());
        }
        assert_eq!(kept.last().unwrap().id, *ids.last().unwrap());
        assert_eq!(jobs.counts()["a"].succeeded, FINISHED_PER_APP as u64 + 5);
    }
}
