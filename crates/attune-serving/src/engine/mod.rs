//! The serving engine: per app, the active model version (swapped atomically), its live user
//! state and list cache, and the recommendation pipeline.
//!
//! Where each part lives:
//! - [`config`]: the engine's settings, a request's options, a served list, the errors;
//! - `snapshot`: one loaded version with everything serving derives from it;
//! - `activation`: loading, verifying and swapping versions (activate, rollback, refresh), and
//!   pinned versions that serve without being activated ([`Serving::pinned`]);
//! - `live_sync`: committed events applied to live state, here and on other replicas;
//! - `personalized`: the per-user pipeline and its caches; `ahead`: candidate pools of many
//!   users scored at once by the batch kernel for [`Serving::recommend_many`]; `scoring`: which kernel scores a
//!   user (index, half-precision scan, batched or plain `f32`); `filters`: allowed items and a
//!   user's categories; `cold_start`: the chain for users without history;
//! - `lists`: popular, trending and similar items; `render`: model items into served items.
//!
//! Pipeline for one user: consent → history (training row ∪ live events) → representation
//! (stored factors, or fold-in when anything happened since training) → score every item →
//! drop seen, unavailable and filtered-out items → top `offset + n` (a larger pool when
//! re-ranking) → MMR diversity → explanations. For ALS the scoring and top-k are the
//! half-precision scan with exact rescoring ([`attune_core::model::half_scan`]), batched over
//! concurrent requests ([`crate::batch`]), or, for large catalogs, the approximate index
//! ([`crate::catalog_index`]). A user with no history gets the cold-start
//! chain: the most popular items of their onboarding categories, then trending, then popular.
//!
//! **Invariants.** A version is swapped in only after its artifact was loaded and verified, so
//! a corrupt or incompatible file never replaces what serves; readers hold an `Arc` to the
//! snapshot they started with, so a swap never fails or slows a request in flight. Cached
//! lists are keyed by the user's live generation, carry the snapshot's fresh-item generation
//! and belong to one snapshot, so a new event, a new item the model does not know
//! ([`Serving::observe_items`]) or a new version makes them unreachable at once.
//!
//! With shared state ([`Serving::with_shared`], see [`crate::shared`]) the in-process path stays
//! in front: a request reads the user's shared generation (one round trip), reloads the user
//! from the store if another replica changed it, then answers from the local list cache, else
//! from the shared one, else computes and shares the list. Any shared-state failure is answered
//! from the in-process path alone (degraded mode, [`ServingStats::is_degraded`]).

mod activation;
mod ahead;
mod blend_scoring;
mod cold_start;
pub mod config;
mod filters;
mod lists;
mod live_sync;
mod personalized;
mod render;
mod scoring;
mod snapshot;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Instant;

use arc_swap::ArcSwapOption;
use attune_core::event::EventWeighting;
use attune_store::{EventFilter, Store};

pub use activation::Pin;
pub use config::{
    ExperimentTag, RecList, RecRequest, Recommended, ServingConfig, ServingError, Source,
};
pub use snapshot::Snapshot;

use crate::live::Trending;
use crate::shared::{Shared, SharedState};

/// Trending counts ranked at some instant, reused for a second.
type RankedTrending = Option<(Instant, Arc<Vec<(String, f64)>>)>;

/// One app's serving state.
pub struct AppServing {
    /// App name.
    pub app: String,
    active: ArcSwapOption<Snapshot>,
    trending: Trending,
    trending_list: Mutex<RankedTrending>,
    /// Serializes loads of new versions (activation, refresh).
    loading: Mutex<()>,
    /// Serves one version it was given ([`Serving::pinned`]): never registered with the
    /// engine, never refreshed, sharing no state with other replicas.
    pinned: bool,
    /// Non-active versions that experiment variants serve, loaded (and verified) on first
    /// use, dropped when no running experiment names them any more.
    variants: RwLock<HashMap<u32, Arc<Snapshot>>>,
    /// The last load of the registry's active version that was refused (corrupt, missing,
    /// incompatible): `(version, why)`; cleared when a load succeeds.
    refused: Mutex<Option<(u32, String)>>,
}

/// Whether an app serves its active model ([`Serving::readiness`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppReadiness {
    /// The app has no active model, or a snapshot of one is serving.
    Serving,
    /// The app has an active model that is not loaded yet.
    Loading {
        /// The registry's active version.
        version: u32,
    },
    /// The active version was refused and nothing is serving: requests get "no active model".
    Degraded {
        /// The refused version.
        version: u32,
        /// Why it was refused (the file named by its name only).
        reason: String,
    },
}

impl AppServing {
    fn new(app: &str, trending_half_life_micros: i64, pinned: bool) -> Self {
        Self {
            app: app.to_string(),
            active: ArcSwapOption::empty(),
            trending: Trending::new(trending_half_life_micros),
            trending_list: Mutex::default(),
            loading: Mutex::default(),
            pinned,
            variants: RwLock::default(),
            refused: Mutex::default(),
        }
    }

    /// The refused active version and why, if its last load was refused.
    pub fn refused(&self) -> Option<(u32, String)> {
        self.refused
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The active snapshot, if any.
    pub fn snapshot(&self) -> Option<Arc<Snapshot>> {
        self.active.load_full()
    }

    /// The active snapshot, or [`ServingError::NoModel`].
    fn require_snapshot(&self) -> Result<Arc<Snapshot>, ServingError> {
        self.snapshot().ok_or_else(|| ServingError::NoModel {
            app: self.app.clone(),
        })
    }
}

/// Counters for metrics.
#[derive(Debug, Default)]
pub struct ServingStats {
    /// List cache hits (in-process).
    pub cache_hits: AtomicU64,
    /// Lists computed (found in no cache).
    pub cache_misses: AtomicU64,
    /// Versions loaded.
    pub loads: AtomicU64,
    /// Versions refused (corrupt, missing, incompatible).
    pub refused: AtomicU64,
    /// Lists served from the shared state (computed by another replica, or by this one before
    /// its local entry was dropped).
    pub shared_hits: AtomicU64,
    /// Shared-state calls that failed, or were not attempted because it is down (each one
    /// answered from the in-process path).
    pub shared_errors: AtomicU64,
    /// The last shared-state call failed: answering from this replica's memory alone.
    pub degraded: AtomicBool,
    /// Lists computed from a candidate pool the batch kernel scored with other users'
    /// ([`Serving::recommend_many`]) instead of scoring the user alone.
    pub batch_scored: AtomicU64,
}

impl ServingStats {
    /// Degraded mode: shared state is configured but unreachable (for `/metrics` and `/ready`
    /// detail; the replica still answers).
    pub fn is_degraded(&self) -> bool {
        self.degraded.load(Ordering::Relaxed)
    }
}

/// Serving for every app of one deployment.
pub struct Serving {
    store: Arc<dyn Store>,
    data_dir: PathBuf,
    config: ServingConfig,
    weighting: EventWeighting,
    apps: RwLock<HashMap<String, Arc<AppServing>>>,
    shared: Option<Shared>,
    /// Routes users into running experiments (`None`: no experiments on this engine).
    experiments: Option<Arc<attune_experiment::Router>>,
    /// Where this replica's own changes go for the other replicas (set once, after start).
    feed: std::sync::OnceLock<Arc<dyn crate::feed::ChangeFeed>>,
    /// Counters.
    pub stats: ServingStats,
}

/// The outcome of [`Serving::activate`] and [`Serving::rollback`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Activated {
    /// The version now serving.
    pub version: u32,
    /// Its activation seq.
    pub seq: u64,
    /// Whether anything changed.
    pub changed: bool,
}

impl Serving {
    /// An engine over `store`, reading artifacts under `data_dir`.
    pub fn new(
        store: Arc<dyn Store>,
        data_dir: impl Into<PathBuf>,
        config: ServingConfig,
        weighting: EventWeighting,
    ) -> Self {
        Self {
            store,
            data_dir: data_dir.into(),
            config,
            weighting,
            apps: RwLock::default(),
            shared: None,
            experiments: None,
            feed: std::sync::OnceLock::new(),
            stats: ServingStats::default(),
        }
    }

    /// Share user generations and lists with other replicas through `backend` (several
    /// replicas behind one load balancer). Without it the engine is single-replica: a replica
    /// would not see users changed by events another one ingested.
    pub fn with_shared(mut self, backend: Arc<dyn SharedState>) -> Self {
        self.shared = Some(Shared::new(backend));
        self
    }

    /// Serve experiments: every request is routed through `router`, and a user in a running
    /// experiment gets their variant's treatment (its model version, diversity, categories,
    /// or the holdout's non-personalized list); the list is tagged with the variant.
    pub fn with_experiments(mut self, router: Arc<attune_experiment::Router>) -> Self {
        self.experiments = Some(router);
        self
    }

    /// Send every change applied from this process's own writes to `feed` too (the replica
    /// fan-out). Set once; a second call is ignored and returns `false`.
    pub fn set_feed(&self, feed: Arc<dyn crate::feed::ChangeFeed>) -> bool {
        self.feed.set(feed).is_ok()
    }

    /// The experiment router, when experiments are served.
    pub fn experiments(&self) -> Option<&Arc<attune_experiment::Router>> {
        self.experiments.as_ref()
    }

    /// The shared backend's name (`redis`), when one is configured.
    pub fn shared_name(&self) -> Option<&'static str> {
        self.shared.as_ref().map(|s| s.name())
    }

    /// The store it serves from.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The data directory artifacts are read from.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The engine's settings.
    pub fn config(&self) -> &ServingConfig {
        &self.config
    }

    /// The app's serving state, if it was set up (by a request or [`Serving::refresh`]).
    pub fn loaded(&self, app: &str) -> Option<Arc<AppServing>> {
        self.apps
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(app)
            .cloned()
    }

    /// Apps set up so far.
    pub fn apps(&self) -> Vec<Arc<AppServing>> {
        self.apps
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }

    /// The app's state, setting it up (loading its active version, warming up trending) if
    /// this is its first use. Blocking.
    ///
    /// The state is published to other requests only once it is set up: a concurrent first
    /// request loads too (or waits for the store), and never sees the app without its model
    /// (issue 17: requests in the first ~100 ms got "no active model" for an app that had one).
    pub fn app(&self, app: &str) -> Result<Arc<AppServing>, ServingError> {
        if let Some(a) = self.loaded(app) {
            return Ok(a);
        }
        let a = Arc::new(AppServing::new(
            app,
            self.config.trending_half_life_micros,
            false,
        ));
        if let Err(e) = self.refresh_app(&a) {
            tracing::warn!(app, error = %e, "could not load the active model; serving without it");
        }
        self.warm_trending(&a)?;
        let mut apps = self.apps.write().unwrap_or_else(PoisonError::into_inner);
        Ok(apps.entry(app.to_string()).or_insert(a).clone())
    }

    /// Set up every app of the store (load each active version): what a server does when it
    /// starts, so `/ready` can turn true. A version that cannot be loaded is logged and
    /// recorded ([`AppServing::refused`]); the other apps still load.
    pub fn load_all(&self) -> Result<(), ServingError> {
        for app in self.store.list_apps()? {
            if let Err(e) = self.app(&app) {
                tracing::warn!(app, error = %e, "could not set up the app for serving");
            }
        }
        Ok(())
    }

    /// Whether every app of the store serves its active model (blocking: reads the registry).
    /// An app counts as serving when it has no active version or a snapshot is loaded (an
    /// older one while a newer is loading still answers).
    pub fn readiness(&self) -> Result<Vec<(String, AppReadiness)>, ServingError> {
        let mut out = Vec::new();
        for app in self.store.list_apps()? {
            let Some(active) = self.store.active_model(&app)? else {
                out.push((app, AppReadiness::Serving));
                continue;
            };
            let loaded = self.loaded(&app);
            let state = match &loaded {
                Some(a) if a.snapshot().is_some() => AppReadiness::Serving,
                Some(a) => match a.refused() {
                    Some((version, reason)) => AppReadiness::Degraded { version, reason },
                    None => AppReadiness::Loading {
                        version: active.version,
                    },
                },
                None => AppReadiness::Loading {
                    version: active.version,
                },
            };
            out.push((app, state));
        }
        Ok(out)
    }

    pub(super) fn warm_trending(&self, a: &AppServing) -> Result<(), ServingError> {
        let Some(snap) = a.snapshot() else {
            return Ok(());
        };
        let Some(last) = snapshot::last_event_micros(&snap.model) else {
            return Ok(());
        };
        let filter = EventFilter {
            since_micros: Some(last.saturating_sub(self.config.trending_warmup_micros)),
            ..EventFilter::default()
        };
        let mut batch = Vec::new();
        self.store.scan_events(&a.app, &filter, &mut |e| {
            batch.push(e);
            if batch.len() == 10_000 {
                a.trending.observe(&batch, &self.weighting);
                batch.clear();
            }
            true
        })?;
        a.trending.observe(&batch, &self.weighting);
        Ok(())
    }

    /// The app's state: loaded already, else set up when blocking is allowed, else
    /// [`ServingError::NeedsStore`].
    fn app_for(&self, app: &str, allow_store: bool) -> Result<Arc<AppServing>, ServingError> {
        match self.loaded(app) {
            Some(a) => Ok(a),
            None if allow_store => self.app(app),
            None => Err(ServingError::NeedsStore),
        }
    }
}
