//! What a stream source has done and whether its broker answers: shared by the source's
//! thread (which writes it) and `/ready` and `/metrics` (which read it).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

use attune_server::streams::{StreamSource, StreamStatus};

/// Counters and health of one source; cheap to update from the hot loop.
#[derive(Debug)]
pub struct Status {
    name: &'static str,
    connected: AtomicBool,
    detail: Mutex<Option<String>>,
    pub(crate) received: AtomicU64,
    pub(crate) written: AtomicU64,
    pub(crate) duplicates: AtomicU64,
    pub(crate) rejected: AtomicU64,
    pub(crate) dead_lettered: AtomicU64,
    pub(crate) committed: AtomicU64,
    /// `f64` bits.
    commit_lag: AtomicU64,
}

impl Status {
    /// A source named `name` that has not reached its broker yet.
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            connected: AtomicBool::new(false),
            detail: Mutex::new(Some("not connected yet".into())),
            received: AtomicU64::new(0),
            written: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            dead_lettered: AtomicU64::new(0),
            committed: AtomicU64::new(0),
            commit_lag: AtomicU64::new(0f64.to_bits()),
        }
    }

    /// The broker answered.
    pub(crate) fn up(&self) {
        if !self.connected.swap(true, Relaxed) {
            tracing::info!(source = self.name, "broker reachable");
        }
        *self.detail.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// The broker did not answer; `why` is the client's error.
    pub(crate) fn down(&self, why: String) {
        if self.connected.swap(false, Relaxed) {
            tracing::warn!(source = self.name, reason = %why, "broker unreachable; retrying");
        }
        *self.detail.lock().unwrap_or_else(|p| p.into_inner()) = Some(why);
    }

    /// Add to a counter.
    pub(crate) fn add(counter: &AtomicU64, n: usize) {
        counter.fetch_add(n as u64, Relaxed);
    }

    pub(crate) fn set_commit_lag(&self, secs: f64) {
        self.commit_lag.store(secs.to_bits(), Relaxed);
    }

    /// Whether the broker answered the last check.
    pub fn is_connected(&self) -> bool {
        self.connected.load(Relaxed)
    }
}

impl StreamSource for Status {
    fn name(&self) -> &'static str {
        self.name
    }

    fn status(&self) -> StreamStatus {
        StreamStatus {
            connected: self.connected.load(Relaxed),
            detail: self
                .detail
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
            received: self.received.load(Relaxed),
            written: self.written.load(Relaxed),
            duplicates: self.duplicates.load(Relaxed),
            rejected: self.rejected.load(Relaxed),
            dead_lettered: self.dead_lettered.load(Relaxed),
            committed: self.committed.load(Relaxed),
            commit_lag_secs: f64::from_bits(self.commit_lag.load(Relaxed)),
        }
    }
}
