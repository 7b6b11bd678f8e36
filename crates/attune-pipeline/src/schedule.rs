//! The loops every replica runs in the background: following the registry (an activation or
//! rollback made by another replica or the CLI is picked up within `refresh_every`), bandit
//! experiments' allocation updates, and scheduled retraining of every app with events, as
//! background jobs promoted by metric, monitoring ([`crate::monitoring`]) and rule segments
//! recomputed into profiles, which serving routes by at once ([`crate::resegment`]).
//!
//! Plain threads, not async tasks: each step is blocking store and file work, and a thread
//! that sleeps on a channel stops the moment its [`Scheduler`] is dropped. They run at the
//! lowest CPU priority ([`background_priority`]): on a busy replica a monitoring tick or a
//! retrain must wait for the request path, not compete with it.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::jobs::TrainRequest;
use crate::Pipeline;

/// What to run, how often.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// How often every loaded app is brought up to the registry's active version.
    pub refresh_every: Duration,
    /// How often every app with events is retrained (`None`: never).
    pub retrain_every: Option<Duration>,
    /// What scheduled retraining trains, and when it promotes.
    pub retrain: TrainRequest,
    /// How often running bandit experiments recompute their allocation (`None`: never).
    pub bandits_every: Option<Duration>,
    /// Monitoring, every `interval_secs` (`None`: off).
    pub monitor: Option<attune_monitor::MonitorConfig>,
    /// Retention passes, every `interval_secs` (`None`: off).
    pub retention: Option<crate::retention::RetentionConfig>,
    /// Rule segments recomputed into profiles, this often (`None`: never).
    pub segments: Option<(Duration, crate::resegment::SegmentSchedule)>,
}

/// The running loops; dropping it stops them (and waits for the current step to end).
pub struct Scheduler {
    stop: Vec<mpsc::Sender<()>>,
    threads: Vec<JoinHandle<()>>,
}

/// Run `step` every `every` until the sender of the returned channel is dropped. A long step
/// can ask the closure it is given whether that happened, and end early.
fn every(
    name: &str,
    every: Duration,
    mut step: impl FnMut(&dyn Fn() -> bool) + Send + 'static,
) -> (mpsc::Sender<()>, JoinHandle<()>) {
    let (tx, rx) = mpsc::channel::<()>();
    let handle = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            background_priority();
            loop {
                match rx.recv_timeout(every) {
                    Err(RecvTimeoutError::Timeout) => step(&|| {
                        matches!(
                            rx.try_recv(),
                            Ok(()) | Err(mpsc::TryRecvError::Disconnected)
                        )
                    }),
                    Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
                }
            }
        })
        .expect("spawn a scheduler thread");
    (tx, handle)
}

/// Lower the calling thread to the weakest CPU priority: background work then takes only the
/// CPU that serving leaves idle. On Linux the thread gets `SCHED_IDLE` (sched(7)): a request
/// thread that wakes preempts it at once, where under nice 19 it would still wait out the
/// scheduler's wake-up granularity (measured: ticks at nice 19 added 20–60% to the uncached
/// p99, docs/benchmarks.md "Monitoring's cost to serving"). Should that be refused, nice 19.
/// Elsewhere this does nothing. Failing to lower it is harmless, so the result is only logged.
pub fn background_priority() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: plain syscalls on the calling thread's own id (Linux applies both calls to
        // one thread when given its id); the parameter struct lives on this stack.
        let rc = unsafe {
            let tid = libc::gettid();
            let param = libc::sched_param { sched_priority: 0 };
            if libc::sched_setscheduler(tid, libc::SCHED_IDLE, &param) == 0 {
                0
            } else {
                libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 19)
            }
        };
        if rc != 0 {
            tracing::debug!(error = %std::io::Error::last_os_error(), "cannot lower a background thread's priority");
        }
    }
}

/// The scheduling policy of the calling thread (Linux), for tests.
#[cfg(all(test, target_os = "linux"))]
fn current_policy() -> i32 {
    // SAFETY: as above; sched_getscheduler only reads.
    unsafe { libc::sched_getscheduler(libc::gettid()) }
}

impl Scheduler {
    /// Start the loops of `schedule` over `pipeline`.
    pub fn start(pipeline: Arc<Pipeline>, schedule: Schedule) -> Self {
        let mut s = Self {
            stop: Vec::new(),
            threads: Vec::new(),
        };
        let p = pipeline.clone();
        let (tx, t) = every("attune-refresh", schedule.refresh_every, move |_| {
            refresh_all(&p)
        });
        s.stop.push(tx);
        s.threads.push(t);
        if let Some(interval) = schedule.bandits_every {
            let p = pipeline.clone();
            let (tx, t) = every("attune-bandits", interval, move |_| update_bandits(&p));
            s.stop.push(tx);
            s.threads.push(t);
        }
        if let Some(config) = schedule.monitor.filter(|c| c.interval_secs > 0) {
            let p = pipeline.clone();
            let interval = Duration::from_secs(config.interval_secs);
            let (tx, t) = every("attune-monitor", interval, move |_| {
                crate::monitoring::monitor_all(&p, &config);
            });
            s.stop.push(tx);
            s.threads.push(t);
        }
        if let Some(config) = schedule.retention.filter(|c| c.enabled()) {
            let p = pipeline.clone();
            let interval = Duration::from_secs(config.interval_secs);
            let (tx, t) = every("attune-retention", interval, move |stopping| {
                crate::retention::apply_all(p.store(), &config, stopping);
            });
            s.stop.push(tx);
            s.threads.push(t);
        }
        if let Some((interval, config)) = schedule.segments {
            let p = pipeline.clone();
            let (tx, t) = every("attune-segments", interval, move |_| {
                crate::resegment::resegment_all(&p, &config);
            });
            s.stop.push(tx);
            s.threads.push(t);
        }
        if let Some(interval) = schedule.retrain_every {
            let request = schedule.retrain.clone();
            let (tx, t) = every("attune-retrain", interval, move |_| {
                retrain_all(&pipeline, &request);
            });
            s.stop.push(tx);
            s.threads.push(t);
        }
        s
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        self.stop.clear();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Bring every app this replica serves up to the registry's active version.
pub fn refresh_all(pipeline: &Pipeline) {
    let engine = pipeline.engine();
    for a in engine.apps() {
        if let Err(err) = engine.refresh(&a.app) {
            tracing::warn!(app = a.app, error = %err, "cannot follow the registry's active version");
        }
    }
}

/// Recompute the allocation of every running bandit experiment of every app (each replica
/// may do it: an update is a pure function of the stored events, the latest save wins).
pub fn update_bandits(pipeline: &Pipeline) {
    let store = pipeline.engine().store();
    let Ok(apps) = store.list_apps() else {
        return;
    };
    let now = chrono::Utc::now().timestamp_micros();
    for app in apps {
        match attune_experiment::bandit::update_running(&**store, &app, now) {
            Ok(names) if !names.is_empty() => {
                tracing::debug!(app, experiments = ?names, "bandit allocations updated");
                if let Some(router) = pipeline.engine().experiments() {
                    router.invalidate(&app);
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(app, error = %e, "bandit update failed"),
        }
    }
}

/// Start a retraining job for every app with events; returns the jobs started.
pub fn retrain_all(pipeline: &Arc<Pipeline>, request: &TrainRequest) -> Vec<String> {
    let store = pipeline.engine().store();
    let apps = match store.list_apps() {
        Ok(apps) => apps,
        Err(e) => {
            tracing::warn!(error = %e, "scheduled retraining: cannot list apps");
            return Vec::new();
        }
    };
    let mut started = Vec::new();
    for app in apps {
        if !matches!(store.counts(&app), Ok(c) if c.events > 0) {
            continue;
        }
        match pipeline.start_job(&app, request.clone()) {
            Ok(id) => {
                tracing::info!(app, job = id, "scheduled retraining started");
                started.push(id);
            }
            Err(err) => tracing::info!(app, error = %err, "scheduled retraining skipped"),
        }
    }
    started
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn scheduler_threads_run_at_the_lowest_priority_and_the_caller_keeps_its_own() {
        let before = current_policy();
        let (seen_tx, seen_rx) = mpsc::channel();
        let (stop, handle) = every("attune-test", Duration::from_millis(1), move |_| {
            let _ = seen_tx.send(current_policy());
        });
        let policy = seen_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        drop(stop);
        handle.join().unwrap();
        assert_eq!(policy, libc::SCHED_IDLE);
        assert_eq!(before, libc::SCHED_OTHER);
        assert_eq!(
            current_policy(),
            before,
            "only the background thread is lowered"
        );
    }
}
