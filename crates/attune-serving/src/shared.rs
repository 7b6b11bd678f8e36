//! State shared by several serving replicas: who changed since I last looked, and lists another
//! replica already computed.
//!
//! The store stays the source of truth for live user state (every event is committed there
//! before it is observed); what replicas share is a **generation** per user, a token that
//! whichever replica commits an event of the user replaces. A replica remembers the generation
//! it loaded a user at; when it reads a different one, it reloads the user's events from the
//! store before answering, so a click ingested by replica A shows in replica B's next list.
//! Lists are shared under keys that name the model version and the user's generation, so an
//! event or an activation makes them unreachable; they expire after the engine's list TTL.
//!
//! Generations are random tokens, not counters: a backend that restarts empty, evicts or
//! expires a key hands out a new token, never one a replica already saw (a counter would
//! restart at a value some replica holds, and that replica would keep a stale user). Each app
//! also has an **epoch** token, part of every generation: a replica that could not record a
//! generation change (the backend was unreachable when it committed an event) replaces the
//! app's epoch as soon as the backend answers again, before it trusts any generation itself,
//! so every replica reloads what it holds instead of missing the change forever.
//!
//! **Invariants.** The backend is a cache, never the source of truth: losing all of it costs
//! reloads and recomputation, never an event. Every failure of it is answered from this
//! replica's memory (degraded mode: counted, logged once per outage) and never fails or
//! stalls a request beyond the backend's short timeouts. A replica reads a user's generation
//! before it reads the user's events, and records a change only after the commit, so whatever
//! it loads includes every event committed before the generation it stamps the load with.

pub mod codec;
pub mod redis;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::engine::ServingStats;

/// Where a user's shared state stands. Two reads give equal values only if no replica recorded
/// an event of the user (or lost one) in between, and the backend kept its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SharedGeneration {
    /// The app's epoch: replaced when a replica may have missed recording changes (and, on
    /// Redis, different for every server process).
    pub epoch: u64,
    /// The user's token: replaced whenever a replica commits an event of the user.
    pub user: u64,
}

/// Why the shared state did not answer. Always a service condition, never the caller's fault:
/// the engine answers from memory instead.
#[derive(Debug, thiserror::Error)]
pub enum SharedError {
    /// Not attempted: the backend failed recently and is retried only after a pause, so an
    /// outage costs requests nothing.
    #[error("{backend} is unavailable (next attempt in {retry_in:?})")]
    Unavailable {
        /// The backend's name.
        backend: &'static str,
        /// Until the next connection attempt.
        retry_in: Duration,
    },
    /// Connecting, a timeout, I/O, or an error reply.
    #[error("{backend}: {source}")]
    Backend {
        /// The backend's name.
        backend: &'static str,
        /// What failed.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A reply this build does not write (a generation that is not a number).
    #[error("{backend}: unexpected value under {key:?}: {reason}")]
    Protocol {
        /// The backend's name.
        backend: &'static str,
        /// The key.
        key: String,
        /// What was wrong.
        reason: String,
    },
    /// The backend's address cannot be used (the address itself is not repeated: it may
    /// carry a password).
    #[error("{backend}: invalid address: {reason}")]
    InvalidUrl {
        /// The backend's name.
        backend: &'static str,
        /// Why.
        reason: String,
    },
}

/// A store of generations and lists shared by replicas (Redis in production). Every method
/// is one round trip at most and blocking; implementations bound it with short timeouts.
pub trait SharedState: Send + Sync {
    /// The user's current generation, creating tokens that do not exist yet (a user nobody
    /// touched, or a key the backend lost) so that the value read is one no earlier read gave.
    fn user_generation(&self, app: &str, user: &str) -> Result<SharedGeneration, SharedError>;
    /// Give each user a new generation: call after their events are committed.
    fn bump_users(&self, app: &str, users: &[String]) -> Result<(), SharedError>;
    /// Give the app a new epoch, making every generation read so far stale.
    fn renew_epoch(&self, app: &str) -> Result<(), SharedError>;
    /// A shared list, if present.
    fn get_list(&self, key: &str) -> Result<Option<Vec<u8>>, SharedError>;
    /// Store a list for `ttl`.
    fn put_list(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), SharedError>;
    /// The backend's name for logs and metrics (`redis`).
    fn name(&self) -> &'static str;
}

/// Key of an app's epoch. App names never contain `:` (the server's rule), so keys of
/// different apps and kinds never collide.
pub fn epoch_key(app: &str) -> String {
    format!("attune:{app}:epoch")
}

/// Key of a user's generation (the user id last, so any id is unambiguous).
pub fn generation_key(app: &str, user: &str) -> String {
    format!("attune:{app}:gen:{user}")
}

/// Key of a shared list: `attune:{app}:list:v{version}:{epoch}:{generation}:{len}:{user}:{params}`
/// with the tokens in hex and the user id length-prefixed, so no two (user, parameters)
/// pairs share a key whatever their characters. The version makes activation invalidate.
pub fn list_key(
    app: &str,
    version: u32,
    generation: SharedGeneration,
    user: &str,
    params: &str,
) -> String {
    let mut k = String::with_capacity(48 + app.len() + user.len() + params.len());
    let _ = write!(
        k,
        "attune:{app}:list:v{version}:{:016x}:{:016x}:{}:{user}:{params}",
        generation.epoch,
        generation.user,
        user.len()
    );
    k
}

/// The engine's side of the shared state: every call answers `None` on failure after counting
/// it, flipping the degraded gauge and logging the outage once; apps whose generation changes
/// could not be recorded get a new epoch before anything else is read.
pub(crate) struct Shared {
    backend: Arc<dyn SharedState>,
    /// Apps with unrecorded changes (a failed bump).
    lost: Mutex<BTreeSet<String>>,
    any_lost: AtomicBool,
}

impl Shared {
    pub(crate) fn new(backend: Arc<dyn SharedState>) -> Self {
        Self {
            backend,
            lost: Mutex::default(),
            any_lost: AtomicBool::new(false),
        }
    }

    /// The backend's name (`redis`).
    pub(crate) fn name(&self) -> &'static str {
        self.backend.name()
    }

    pub(crate) fn user_generation(
        &self,
        stats: &ServingStats,
        app: &str,
        user: &str,
    ) -> Option<SharedGeneration> {
        self.run(stats, |b| b.user_generation(app, user))
    }

    /// Record that `users` changed; if that fails, the app's epoch is renewed on recovery.
    pub(crate) fn bump_users(&self, stats: &ServingStats, app: &str, users: &[String]) {
        if users.is_empty() {
            return;
        }
        if self.run(stats, |b| b.bump_users(app, users)).is_none() {
            self.lost
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(app.to_string());
            self.any_lost.store(true, Ordering::Release);
        }
    }

    pub(crate) fn get_list(&self, stats: &ServingStats, key: &str) -> Option<Vec<u8>> {
        self.run(stats, |b| b.get_list(key)).flatten()
    }

    pub(crate) fn put_list(&self, stats: &ServingStats, key: &str, value: &[u8], ttl: Duration) {
        self.run(stats, |b| b.put_list(key, value, ttl));
    }

    fn run<T>(
        &self,
        stats: &ServingStats,
        op: impl FnOnce(&dyn SharedState) -> Result<T, SharedError>,
    ) -> Option<T> {
        let result = self.renew_lost().and_then(|()| op(&*self.backend));
        match result {
            Ok(v) => {
                // A plain load first: the common case writes nothing shared.
                if stats.degraded.load(Ordering::Relaxed)
                    && stats.degraded.swap(false, Ordering::AcqRel)
                {
                    tracing::info!(
                        backend = self.backend.name(),
                        "shared state reachable again; degraded mode over"
                    );
                }
                Some(v)
            }
            Err(e) => {
                stats.shared_errors.fetch_add(1, Ordering::Relaxed);
                if !stats.degraded.swap(true, Ordering::AcqRel) {
                    tracing::warn!(
                        backend = self.backend.name(),
                        error = %e,
                        "shared state unreachable; answering from this replica's memory (degraded mode) until it returns"
                    );
                }
                None
            }
        }
    }

    /// Renew the epoch of every app with unrecorded changes; until that succeeds, nothing
    /// read from the backend can be trusted.
    fn renew_lost(&self) -> Result<(), SharedError> {
        if !self.any_lost.load(Ordering::Acquire) {
            return Ok(());
        }
        let mut lost = self.lost.lock().unwrap_or_else(PoisonError::into_inner);
        while let Some(app) = lost.first().cloned() {
            self.backend.renew_epoch(&app)?;
            tracing::info!(
                app,
                backend = self.backend.name(),
                "new shared epoch: changes made while the shared state was unreachable reload everywhere"
            );
            lost.remove(&app);
        }
        self.any_lost.store(false, Ordering::Release);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_keys_never_collide_across_users_and_parameters() {
        let g = SharedGeneration { epoch: 1, user: 2 };
        // Ids and parameters that would collide if the user id were merely delimited.
        let pairs = [
            ("u", "1:x|2"),
            ("u:1", "x|2"),
            ("u:1:x", "|2"),
            ("1:u", "1:x|2"),
            ("", "u:1:x|2"),
        ];
        let keys: BTreeSet<String> = pairs
            .iter()
            .map(|(u, p)| list_key("shop", 3, g, u, p))
            .collect();
        assert_eq!(keys.len(), pairs.len(), "{keys:?}");
        assert_eq!(
            list_key("shop", 3, g, "u7", "10|0"),
            "attune:shop:list:v3:0000000000000001:0000000000000002:2:u7:10|0"
        );
        // The version and either token change the key.
        let base = list_key("shop", 3, g, "u", "p");
        assert_ne!(base, list_key("shop", 4, g, "u", "p"));
        assert_ne!(
            base,
            list_key("shop", 3, SharedGeneration { epoch: 9, user: 2 }, "u", "p")
        );
        assert_ne!(
            base,
            list_key("shop", 3, SharedGeneration { epoch: 1, user: 9 }, "u", "p")
        );
        assert_eq!(generation_key("shop", "a:b"), "attune:shop:gen:a:b");
        assert_eq!(epoch_key("shop"), "attune:shop:epoch");
    }
}
