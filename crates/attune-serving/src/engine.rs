//! The serving engine: per app, the active model version (swapped atomically), its live user
//! state and list cache, and the recommendation pipeline.
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
//! lists are keyed by the user's live generation and belong to one snapshot, so a new event or
//! a new version makes them unreachable at once.
//!
//! With shared state ([`Serving::with_shared`], see [`crate::shared`]) the in-process path stays
//! in front: a request reads the user's shared generation (one round trip), reloads the user
//! from the store if another replica changed it, then answers from the local list cache, else
//! from the shared one, else computes and shares the list. Any shared-state failure is answered
//! from the in-process path alone (degraded mode, [`ServingStats::is_degraded`]).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use attune_core::event::Event;
use attune_core::model::ann::{TopKParams, TopKValidParams};
use attune_core::model::half_scan::{exact_top_k_from_scan, HalfFactors};
use attune_core::model::similar::{similar_items, SimilarError};
use attune_core::model::spec::{Feedback, FittedModel};
use attune_core::model::topk::top_k_into;
use attune_core::model::UserRepr;
use attune_core::model::{CategoryPopularity, Scorer};
use attune_core::time::Timestamp;
use attune_store::{EventFilter, Store, StoreError};

use crate::batch::ScoreBatcher;
use crate::catalog::ItemCatalog;
use crate::catalog_index::CatalogIndex;
use crate::explain::{self, Reason};
use crate::live::{self, LiveUser, LiveUsers, Trending};
use crate::model::{load_registered, version_name, LoadError, LoadedModel};
use crate::rerank::mmr;
use crate::shared::{codec, list_key, Shared, SharedGeneration, SharedState};
use crate::similarity::ItemSimilarity;
use crate::weigh::EventWeigher;

/// Settings of the engine.
#[derive(Debug, Clone, PartialEq)]
pub struct ServingConfig {
    /// Largest `n + offset` of one request.
    pub max_n: usize,
    /// Users whose live state is kept per app.
    pub live_users: u64,
    /// Recent items kept per user (explanations use them first).
    pub max_recent: usize,
    /// Lists kept in the in-process cache per app.
    pub list_cache_capacity: u64,
    /// A cached list is recomputed after this long even without events.
    pub list_cache_ttl: Duration,
    /// Trending counts halve every this many microseconds.
    pub trending_half_life_micros: i64,
    /// At start, trending is warmed up from the events of this long before the model's last
    /// training event.
    pub trending_warmup_micros: i64,
    /// History items considered for an explanation.
    pub explain_history: usize,
    /// From which catalog size factor models are served through the approximate index, and
    /// its parameters ([`crate::catalog_index`]).
    pub topk: TopKValidParams,
}

impl Default for ServingConfig {
    fn default() -> Self {
        Self {
            max_n: 200,
            live_users: 200_000,
            max_recent: 50,
            list_cache_capacity: 100_000,
            list_cache_ttl: Duration::from_secs(600),
            trending_half_life_micros: attune_core::time::MICROS_PER_DAY,
            trending_warmup_micros: 7 * attune_core::time::MICROS_PER_DAY,
            explain_history: 20,
            topk: TopKParams::default()
                .check()
                .expect("the default top-k parameters are valid"),
        }
    }
}

/// What a request may fail with.
#[derive(Debug, thiserror::Error)]
pub enum ServingError {
    /// The app has no active model (and the request needs one).
    #[error(
        "app {app:?} has no active model; train one (POST /v1/models/train or `attune train`)"
    )]
    NoModel {
        /// App.
        app: String,
    },
    /// The item is not in the active model.
    #[error("item {item:?} is not known to the active model")]
    UnknownItem {
        /// The id asked for.
        item: String,
    },
    /// The active model cannot compute item similarities.
    #[error("{0}")]
    Similar(#[from] SimilarError),
    /// A request parameter is out of range.
    #[error("{field}: {reason}")]
    InvalidRequest {
        /// The parameter.
        field: &'static str,
        /// What is allowed.
        reason: String,
    },
    /// The version cannot be served (missing, corrupt, incompatible, not the registered file).
    #[error(transparent)]
    Load(Box<LoadError>),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Answering needs a store read; call again where blocking is allowed.
    #[error("the request needs a store read")]
    NeedsStore,
}

impl From<LoadError> for ServingError {
    fn from(e: LoadError) -> Self {
        ServingError::Load(Box::new(e))
    }
}

thread_local! {
    /// One score per item, reused by the requests of a thread (a fresh 200 KB buffer per
    /// request cost page faults: 4% of the uncached path).
    static SCORES: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
    /// The exact rescoring buffer of [`exact_top_k_from_scan`].
    static EXACT: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Trending counts ranked at some instant, reused for a second.
type RankedTrending = Option<(Instant, Arc<Vec<(String, f64)>>)>;

/// One recommendation request's options.
#[derive(Debug, Clone, PartialEq)]
pub struct RecRequest {
    /// Items to return.
    pub n: usize,
    /// Items to skip first (paging).
    pub offset: usize,
    /// Only items in at least one of these categories (empty: any).
    pub categories: Vec<String>,
    /// Leave out items the user already interacted with.
    pub exclude_seen: bool,
    /// Leave out items the catalog marks unavailable.
    pub available_only: bool,
    /// MMR trade-off λ in `[0, 1]` (`None`: the model's order).
    pub diversity: Option<f32>,
}

impl Default for RecRequest {
    fn default() -> Self {
        Self {
            n: 10,
            offset: 0,
            categories: Vec::new(),
            exclude_seen: true,
            available_only: true,
            diversity: None,
        }
    }
}

impl RecRequest {
    fn check(&self, max_n: usize) -> Result<(), ServingError> {
        if self.n == 0 || self.n.saturating_add(self.offset) > max_n {
            return Err(ServingError::InvalidRequest {
                field: "n",
                reason: format!("n must be at least 1 and n + offset at most {max_n}"),
            });
        }
        if let Some(l) = self.diversity {
            if !(0.0..=1.0).contains(&l) {
                return Err(ServingError::InvalidRequest {
                    field: "diversity",
                    reason: format!("must be between 0 and 1, got {l}"),
                });
            }
        }
        Ok(())
    }

    /// Everything that changes the answer, as a cache key.
    fn key(&self) -> String {
        let mut cats = self.categories.clone();
        cats.sort();
        format!(
            "{}|{}|{}|{}|{}|{:?}",
            self.n,
            self.offset,
            cats.join(","),
            self.exclude_seen,
            self.available_only,
            self.diversity
        )
    }
}

/// Where a list came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The personalized model.
    Personalized,
    /// The cold-start chain (no history yet).
    ColdStart,
    /// Personalization is off for this user (consent): popular items only.
    NonPersonalized,
    /// The most popular items, asked for as such.
    Popular,
    /// Trending items, asked for as such.
    Trending,
    /// Items similar to an item.
    Similar,
}

impl Source {
    /// `personalized`, `cold_start`, `non_personalized`, `popular`, `trending`, `similar`.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Personalized => "personalized",
            Source::ColdStart => "cold_start",
            Source::NonPersonalized => "non_personalized",
            Source::Popular => "popular",
            Source::Trending => "trending",
            Source::Similar => "similar",
        }
    }
}

/// One item of a list.
#[derive(Debug, Clone, PartialEq)]
pub struct Recommended {
    /// External item id.
    pub item_id: String,
    /// Score (comparable within one list only).
    pub score: f32,
    /// Title from the catalog.
    pub title: Option<String>,
    /// Why.
    pub reason: Reason,
    /// The reason in words.
    pub explanation: String,
    /// The item the reason names (`because`), external id.
    pub reason_item: Option<String>,
    /// The category the reason names, if any.
    pub reason_category: Option<String>,
}

/// A served list.
#[derive(Debug, Clone, PartialEq)]
pub struct RecList {
    /// Unique per response: clicks and purchases that carry it are attributed to this list.
    pub recommendation_id: String,
    /// The model version that produced it (`None` without a model).
    pub model_version: Option<u32>,
    /// Where it came from.
    pub source: Source,
    /// The items, best first (shared with the list cache: a hit copies no item).
    pub items: Arc<[Recommended]>,
    /// Served from the list cache.
    pub cached: bool,
}

struct CachedList {
    generation: u64,
    source: Source,
    items: Arc<[Recommended]>,
}

/// An activated model version with everything serving derives from it.
pub struct Snapshot {
    /// Registry version.
    pub version: u32,
    /// Activation seq it was loaded for.
    pub seq: u64,
    /// The model.
    pub model: LoadedModel,
    /// Catalog facts per model item.
    pub catalog: ItemCatalog,
    /// When it was loaded.
    pub loaded_at: Instant,
    similarity: ItemSimilarity,
    /// The approximate index, for ALS models of large catalogs.
    pub index: Option<CatalogIndex>,
    /// Per model item: available in the catalog.
    available: Vec<bool>,
    /// Exact scoring of concurrent ALS requests in one pass.
    batcher: ScoreBatcher,
    /// ALS item factors in half precision, for the exact scan (`model::half_scan`); `None`
    /// for other models, models served through the index, or factors beyond `f16`'s range.
    half: Option<HalfFactors>,
    /// The same for similar-item requests of factor models (over the unit factors).
    similar_batcher: ScoreBatcher,
    /// The unit factors in half precision, for similar items (not kept for catalogs served
    /// through the index, to bound memory).
    similar_half: Option<HalfFactors>,
    category_popularity: Option<CategoryPopularity>,
    live: LiveUsers,
    /// Keyed by [`list_cache_key`].
    lists: moka::sync::Cache<String, Arc<CachedList>>,
    /// Events after this instant are live (the model's last training event).
    since_micros: i64,
}

impl Snapshot {
    fn build(
        store: &dyn Store,
        app: &str,
        version: u32,
        seq: u64,
        mut model: LoadedModel,
        path: &Path,
        config: &ServingConfig,
    ) -> Result<Self, ServingError> {
        let index = CatalogIndex::for_model(&mut model, &config.topk).map_err(|e| {
            ServingError::from(LoadError::Corrupt {
                path: path.to_path_buf(),
                reason: format!("cannot index the item factors: {e}"),
            })
        })?;
        let mut items = Vec::new();
        store.scan_items(app, &mut |i| {
            items.push(i);
            true
        })?;
        let catalog = ItemCatalog::build(&model.items, &items);
        let available = (0..model.items.len() as u32)
            .map(|i| catalog.available(i))
            .collect();
        let category_popularity = (!catalog.category_names().is_empty())
            .then(|| CategoryPopularity::fit(&model.history, &catalog.category_matrix()).ok())
            .flatten();
        let similarity = ItemSimilarity::for_model(model.fitted.model(), &model.history);
        let since_micros = last_event_micros(&model).unwrap_or(i64::MIN);
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        let similar_half = match (&index, similarity.unit_factors()) {
            (None, Some((unit, k))) => HalfFactors::new(unit, k),
            _ => None,
        };
        let half = match model.fitted.model() {
            FittedModel::Als(als) if index.is_none() => {
                HalfFactors::new(als.all_item_factors(), als.factors())
            }
            _ => None,
        };
        Ok(Self {
            version,
            seq,
            catalog,
            loaded_at: Instant::now(),
            similarity,
            index,
            available,
            batcher: ScoreBatcher::new(cores),
            half,
            similar_batcher: ScoreBatcher::new(cores),
            similar_half,
            category_popularity,
            live: LiveUsers::new(config.live_users, config.max_recent),
            lists: moka::sync::Cache::builder()
                .max_capacity(config.list_cache_capacity)
                .time_to_live(config.list_cache_ttl)
                .build(),
            since_micros,
            model,
        })
    }

    /// Users with live state.
    pub fn live_users(&self) -> u64 {
        self.live.len()
    }

    /// Exact scoring since this version was loaded: passes over the item factors and the
    /// queries they scored (more queries than passes: concurrent requests were batched).
    pub fn score_batching(&self) -> (u64, u64) {
        let (p, q) = self.batcher.stats();
        let (sp, sq) = self.similar_batcher.stats();
        (p + sp, q + sq)
    }
}

/// The latest training event of a model, from its header.
fn last_event_micros(model: &LoadedModel) -> Option<i64> {
    let text = model.header.meta.data.last_event.as_deref()?;
    Timestamp::parse_rfc3339(text).ok().map(|t| t.utc_micros)
}

/// One app's serving state.
pub struct AppServing {
    /// App name.
    pub app: String,
    active: ArcSwapOption<Snapshot>,
    trending: Trending,
    trending_list: Mutex<RankedTrending>,
    /// Serializes loads of new versions (activation, refresh).
    loading: Mutex<()>,
}

impl AppServing {
    /// The active snapshot, if any.
    pub fn snapshot(&self) -> Option<Arc<Snapshot>> {
        self.active.load_full()
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
    weigher: EventWeigher,
    apps: RwLock<HashMap<String, Arc<AppServing>>>,
    shared: Option<Shared>,
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
        weigher: EventWeigher,
    ) -> Self {
        Self {
            store,
            data_dir: data_dir.into(),
            config,
            weigher,
            apps: RwLock::default(),
            shared: None,
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

    /// The shared backend's name (`redis`), when one is configured.
    pub fn shared_name(&self) -> Option<&'static str> {
        self.shared.as_ref().map(|s| s.name())
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
    pub fn app(&self, app: &str) -> Result<Arc<AppServing>, ServingError> {
        if let Some(a) = self.loaded(app) {
            return Ok(a);
        }
        let a = Arc::new(AppServing {
            app: app.to_string(),
            active: ArcSwapOption::empty(),
            trending: Trending::new(self.config.trending_half_life_micros),
            trending_list: Mutex::default(),
            loading: Mutex::default(),
        });
        {
            let mut apps = self.apps.write().unwrap_or_else(PoisonError::into_inner);
            if let Some(existing) = apps.get(app) {
                return Ok(existing.clone());
            }
            apps.insert(app.to_string(), a.clone());
        }
        if let Err(e) = self.refresh_app(&a) {
            tracing::warn!(app, error = %e, "could not load the active model; serving without it");
        }
        self.warm_trending(&a)?;
        Ok(a)
    }

    fn warm_trending(&self, a: &AppServing) -> Result<(), ServingError> {
        let Some(snap) = a.snapshot() else {
            return Ok(());
        };
        let Some(last) = last_event_micros(&snap.model) else {
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
                a.trending.observe(&batch, &self.weigher);
                batch.clear();
            }
            true
        })?;
        a.trending.observe(&batch, &self.weigher);
        Ok(())
    }

    /// Load `version` of `app` for serving, verified against its registry record, without
    /// activating it.
    fn load_version(&self, app: &str, version: u32, seq: u64) -> Result<Snapshot, ServingError> {
        let record =
            self.store
                .get_model(app, version)?
                .ok_or_else(|| StoreError::UnknownModel {
                    app: app.to_string(),
                    version,
                })?;
        let model = match load_registered(&self.data_dir, app, &record) {
            Ok(m) => m,
            Err(e) => {
                self.stats.refused.fetch_add(1, Ordering::Relaxed);
                return Err(e.into());
            }
        };
        let path = crate::model::path_of(&self.data_dir, &record.info.artifact.location);
        let snap = Snapshot::build(&*self.store, app, version, seq, model, &path, &self.config)
            .inspect_err(|e| {
                if matches!(e, ServingError::Load(_)) {
                    self.stats.refused.fetch_add(1, Ordering::Relaxed);
                }
            })?;
        self.stats.loads.fetch_add(1, Ordering::Relaxed);
        tracing::info!(app, version = %version_name(version), seq, "model loaded for serving");
        Ok(snap)
    }

    /// Bring the app up to the store's active version (what a replica does when it polls).
    /// A version that cannot be loaded is refused and the current one keeps serving. Returns
    /// the version serving afterwards.
    pub fn refresh(&self, app: &str) -> Result<Option<u32>, ServingError> {
        let a = self.app(app)?;
        self.refresh_app(&a)?;
        Ok(a.snapshot().map(|s| s.version))
    }

    fn refresh_app(&self, a: &AppServing) -> Result<(), ServingError> {
        let _guard = a.loading.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(active) = self.store.active_model(&a.app)? else {
            return Ok(());
        };
        if a.snapshot().is_some_and(|s| s.seq >= active.seq) {
            return Ok(());
        }
        let snap = self.load_version(&a.app, active.version, active.seq)?;
        a.active.store(Some(Arc::new(snap)));
        Ok(())
    }

    /// Verify `version`, then make it the app's active version and serve it. A version that
    /// cannot be loaded is refused before the registry changes.
    pub fn activate(&self, app: &str, version: u32) -> Result<Activated, ServingError> {
        let a = self.app(app)?;
        let _guard = a.loading.lock().unwrap_or_else(PoisonError::into_inner);
        let current = self.store.active_model(app)?;
        let expected = current.map_or(0, |c| c.seq);
        let snap = self.load_version(app, version, 0)?;
        let outcome = self.store.activate_model(app, version, Some(expected))?;
        self.install(&a, snap, outcome.activation.seq);
        Ok(Activated {
            version,
            seq: outcome.activation.seq,
            changed: outcome.changed,
        })
    }

    /// Verify the version before the current one, then roll back to it.
    pub fn rollback(&self, app: &str) -> Result<Activated, ServingError> {
        let a = self.app(app)?;
        let _guard = a.loading.lock().unwrap_or_else(PoisonError::into_inner);
        let current = self.store.active_model(app)?;
        let target =
            current
                .and_then(|c| c.rollback_to)
                .ok_or_else(|| StoreError::NoRollbackTarget {
                    app: app.to_string(),
                })?;
        let snap = self.load_version(app, target, 0)?;
        let outcome = self
            .store
            .rollback_model(app, Some(current.map_or(0, |c| c.seq)))?;
        self.install(&a, snap, outcome.activation.seq);
        Ok(Activated {
            version: outcome.activation.version,
            seq: outcome.activation.seq,
            changed: outcome.changed,
        })
    }

    fn install(&self, a: &AppServing, mut snap: Snapshot, seq: u64) {
        // Reuse the live state when re-installing the same version (nothing changed).
        if let Some(cur) = a.snapshot() {
            if cur.version == snap.version && cur.seq == seq {
                return;
            }
        }
        snap.seq = seq;
        a.active.store(Some(Arc::new(snap)));
    }

    /// Apply committed events: live user state, trending. Call after the store acknowledged
    /// them. Never blocks on the store; with shared state, one round trip gives every user of
    /// the events a new shared generation (after the local update, so a replica that sees it
    /// reloads from a store that has the events).
    pub fn observe(&self, app: &str, events: &[Event]) {
        if let Some(a) = self.loaded(app) {
            a.trending.observe(events, &self.weigher);
            if let Some(snap) = a.snapshot() {
                snap.live.observe(events, &self.weigher);
            }
        }
        // Every event's user, loaded here or not: another replica may hold them.
        if let Some(shared) = &self.shared {
            let mut users: Vec<String> = events
                .iter()
                .filter_map(live::user_key)
                .map(str::to_string)
                .collect();
            users.sort_unstable();
            users.dedup();
            shared.bump_users(&self.stats, app, &users);
        }
    }

    /// Forget what is known live about a user (consent or profile changed, user erased), here
    /// and, through a new shared generation, on every replica.
    pub fn forget_user(&self, app: &str, user: &str) {
        if let Some(snap) = self.loaded(app).and_then(|a| a.snapshot()) {
            snap.live.forget(user);
        }
        if let Some(shared) = &self.shared {
            shared.bump_users(&self.stats, app, &[user.to_string()]);
        }
    }

    /// The user's live state, current with the shared generation `shared` when there is one
    /// (read before this call, so the reload below sees every event committed before it).
    fn live_user(
        &self,
        app: &str,
        snap: &Snapshot,
        user: &str,
        allow_store: bool,
        shared: Option<SharedGeneration>,
    ) -> Result<LiveUser, ServingError> {
        if let Some(u) = snap.live.get(user) {
            // Another replica changed the user since it was loaded here (or loading here
            // raced with an event): reload. Unknown (degraded): what is here.
            if shared.is_none() || u.shared == shared {
                return Ok(u);
            }
        }
        if !allow_store {
            return Err(ServingError::NeedsStore);
        }
        let profile = self.store.get_user(app, user)?;
        let (personalization, preferred) = profile.map_or((true, Vec::new()), |p| {
            (p.consent.personalization, p.preferred_categories)
        });
        let mut events = Vec::new();
        if personalization {
            let filter = EventFilter {
                user_id: Some(user.to_string()),
                since_micros: Some(snap.since_micros.saturating_add(1)),
                until_micros: None,
            };
            self.store.scan_events(app, &filter, &mut |e| {
                events.push(e);
                true
            })?;
        }
        Ok(snap.live.load(
            user,
            personalization,
            preferred,
            &events,
            &self.weigher,
            shared,
        ))
    }

    /// Recommendations for `user`. With `allow_store = false` the call never blocks: it
    /// answers from memory or returns [`ServingError::NeedsStore`] (always, with shared state).
    pub fn recommend(
        &self,
        app: &str,
        user: &str,
        req: &RecRequest,
        allow_store: bool,
    ) -> Result<RecList, ServingError> {
        req.check(self.config.max_n)?;
        if self.shared.is_some() && !allow_store {
            return Err(ServingError::NeedsStore);
        }
        let a = match self.loaded(app) {
            Some(a) => a,
            None if allow_store => self.app(app)?,
            None => return Err(ServingError::NeedsStore),
        };
        let Some(snap) = a.snapshot() else {
            return Err(ServingError::NoModel {
                app: app.to_string(),
            });
        };
        let shared = self.shared.as_ref();
        let generation = shared.and_then(|s| s.user_generation(&self.stats, app, user));
        let req_key = req.key();
        let key = list_cache_key(user, &req_key);
        // The hot path: the user's live state is here and current, and a list computed at its
        // generation is cached. Nothing is cloned but the list's `Arc`.
        if let Some((local, at_shared)) = snap.live.generation(user) {
            if generation.is_none() || at_shared == generation {
                if let Some(hit) = snap.lists.get(&key) {
                    if hit.generation == local {
                        self.stats.cache_hits.fetch_add(1, Ordering::Relaxed);
                        return Ok(list(&snap, hit.source, hit.items.clone(), true));
                    }
                }
            }
        }
        // Past the hot path the user is reloaded (a new generation no cached list has) or was
        // current without a cached list: either way the list is not in the local cache.
        let live = self.live_user(app, &snap, user, allow_store, generation)?;
        let shared_key = shared
            .zip(generation)
            .map(|(s, g)| (s, list_key(app, snap.version, g, user, &req_key)));
        let from_shared = shared_key
            .as_ref()
            .and_then(|(s, k)| Some((k, s.get_list(&self.stats, k)?)))
            .and_then(|(k, bytes)| shared_list(&snap, k, &bytes));
        let (source, items, cached) = match from_shared {
            Some((source, items)) => {
                self.stats.shared_hits.fetch_add(1, Ordering::Relaxed);
                (source, items, true)
            }
            None => {
                self.stats.cache_misses.fetch_add(1, Ordering::Relaxed);
                let (source, items) = self.compute(&a, &snap, user, &live, req);
                if let Some((s, k)) = &shared_key {
                    let bytes = encode_list(&snap, source, &items);
                    s.put_list(&self.stats, k, &bytes, self.config.list_cache_ttl);
                }
                (source, items, false)
            }
        };
        let items: Arc<[Recommended]> = items.into();
        snap.lists.insert(
            key,
            Arc::new(CachedList {
                generation: live.generation,
                source,
                items: items.clone(),
            }),
        );
        Ok(list(&snap, source, items, cached))
    }

    fn compute(
        &self,
        a: &AppServing,
        snap: &Snapshot,
        user: &str,
        live: &LiveUser,
        req: &RecRequest,
    ) -> (Source, Vec<Recommended>) {
        let model = &snap.model;
        let allowed = allowed_items(snap, req);
        if !live.personalization {
            let items = popular_items(snap, req, &[], &allowed, Reason::Popular);
            return (Source::NonPersonalized, items);
        }
        let explicit = model.feedback() == Feedback::Explicit;
        let trained = model.users.get(user);
        // History: the training row plus everything live (live weights add; live ratings
        // replace), in model item indices; items the model does not know are ignored.
        let mut history: BTreeMap<u32, f32> = BTreeMap::new();
        if let Some(u) = trained {
            let (cols, vals) = model.history.row(u as usize);
            history.extend(cols.iter().copied().zip(vals.iter().copied()));
        }
        let has_live = if explicit {
            !live.ratings.is_empty()
        } else {
            !live.implicit.is_empty()
        };
        if explicit {
            for (item, &r) in &live.ratings {
                if let Some(i) = model.items.get(item) {
                    history.insert(i, r);
                }
            }
        } else {
            for (item, &w) in &live.implicit {
                if let Some(i) = model.items.get(item) {
                    *history.entry(i).or_insert(0.0) += w;
                }
            }
        }
        let seen: Vec<u32> = history.keys().copied().collect();
        if history.values().all(|&w| w <= 0.0) {
            return (
                Source::ColdStart,
                cold_start(a, snap, live, req, &seen, &allowed),
            );
        }
        let repr = match (trained, has_live) {
            (Some(u), false) => model.training_repr(u),
            _ => None,
        }
        .unwrap_or_else(|| {
            let h: Vec<(u32, f32)> = history.iter().map(|(&i, &w)| (i, w)).collect();
            model.recommender().fold_in(&h)
        });
        let want = req.offset + req.n;
        let pool = if req.diversity.is_some() {
            (3 * want).max(50)
        } else {
            want
        };
        let exclude: &[u32] = if req.exclude_seen { &seen } else { &[] };
        let mut top = Vec::new();
        let approximate = match (&snap.index, &repr) {
            // A category filter keeps few items; the graph would be walked nearly whole for
            // them, so filtered requests take the exact scan.
            (Some(index), UserRepr::Dense(x)) if req.categories.is_empty() => index
                .top_k(
                    model,
                    x,
                    pool,
                    |i| allowed[i as usize] && exclude.binary_search(&i).is_err(),
                    &mut top,
                )
                .is_some(),
            _ => false,
        };
        if !approximate {
            let mut scores = SCORES.with(|s| std::mem::take(&mut *s.borrow_mut()));
            // Whether `top` is final (the half-precision scan ranks exactly by itself).
            let ranked = match (model.fitted.model(), &repr) {
                // ALS scores are `Y x`: concurrent requests share one pass over `Y`.
                (FittedModel::Als(als), UserRepr::Dense(x)) if x.len() == als.factors() => {
                    match &snap.half {
                        // Half the memory traffic, the exact answer (`model::half_scan`).
                        Some(h) => {
                            let scan = HalfScan {
                                half: h,
                                rows: als.all_item_factors(),
                                batcher: &snap.batcher,
                            };
                            scan.top_k(x, &allowed, pool, exclude, &mut scores, &mut top);
                            true
                        }
                        None => {
                            snap.batcher.score(als.all_item_factors(), x, &mut scores);
                            false
                        }
                    }
                }
                _ => {
                    scores.clear();
                    scores.resize(model.items.len(), 0.0);
                    model.recommender().score_all_into(&repr, &mut scores);
                    false
                }
            };
            if !ranked {
                for (s, ok) in scores.iter_mut().zip(allowed.iter()) {
                    if !ok {
                        *s = f32::NEG_INFINITY;
                    }
                }
                top_k_into(&scores, pool, exclude, &mut top);
            }
            SCORES.with(|s| *s.borrow_mut() = scores);
        }
        top.retain(|&(_, s)| s.is_finite());
        let fitted = model.fitted.model();
        if let Some(lambda) = req.diversity {
            top = mmr(&top, want, lambda, |x, y| {
                snap.similarity.sim(fitted, x, y).max(0.0)
            });
        }
        let page: Vec<(u32, f32)> = top.into_iter().skip(req.offset).take(req.n).collect();
        // Explanations: recent live items first, then the strongest training items.
        let mut explain_from: Vec<u32> = live
            .recent
            .iter()
            .rev()
            .filter_map(|i| model.items.get(i))
            .collect();
        let mut strongest: Vec<(u32, f32)> = history.iter().map(|(&i, &w)| (i, w)).collect();
        strongest.sort_by(|x, y| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0)));
        for (i, _) in strongest {
            if explain_from.len() >= self.config.explain_history {
                break;
            }
            if !explain_from.contains(&i) {
                explain_from.push(i);
            }
        }
        explain_from.truncate(self.config.explain_history);
        let user_categories = top_categories(snap, &history);
        let items = page
            .into_iter()
            .map(|(i, s)| {
                let reason = explain::personalized(
                    i,
                    &explain_from,
                    explicit,
                    |x, y| snap.similarity.sim(fitted, x, y),
                    snap.catalog.categories(i),
                    &user_categories,
                );
                recommended(snap, i, s, reason)
            })
            .collect();
        (Source::Personalized, items)
    }

    /// The most popular items of the active model (training popularity).
    pub fn popular(
        &self,
        app: &str,
        req: &RecRequest,
        allow_store: bool,
    ) -> Result<RecList, ServingError> {
        req.check(self.config.max_n)?;
        let snap = self.snapshot_of(app, allow_store)?;
        let allowed = allowed_items(&snap, req);
        let items = popular_items(&snap, req, &[], &allowed, Reason::Popular);
        Ok(list(&snap, Source::Popular, items, false))
    }

    /// What is trending now (time-decayed live counts), among the active model's items.
    pub fn trending(
        &self,
        app: &str,
        req: &RecRequest,
        allow_store: bool,
    ) -> Result<RecList, ServingError> {
        req.check(self.config.max_n)?;
        let a = match self.loaded(app) {
            Some(a) => a,
            None if allow_store => self.app(app)?,
            None => return Err(ServingError::NeedsStore),
        };
        let snap = a.snapshot().ok_or_else(|| ServingError::NoModel {
            app: app.to_string(),
        })?;
        let allowed = allowed_items(&snap, req);
        let items = trending_items(&a, &snap, req, &[], &allowed);
        Ok(list(&snap, Source::Trending, items, false))
    }

    /// Items most similar to `item` under the active model.
    pub fn similar(
        &self,
        app: &str,
        item: &str,
        req: &RecRequest,
        allow_store: bool,
    ) -> Result<RecList, ServingError> {
        req.check(self.config.max_n)?;
        let snap = self.snapshot_of(app, allow_store)?;
        let i = snap
            .model
            .items
            .get(item)
            .ok_or_else(|| ServingError::UnknownItem { item: item.into() })?;
        let allowed = allowed_items(&snap, req);
        let want = req.offset + req.n;
        // Over-fetch so filters still leave enough.
        let pool = (4 * want).max(50);
        let mut found = match snap.similarity.unit_factors() {
            // Factor models: one pass over the unit item factors kept in the snapshot (the
            // model's own `similar_items` renormalizes every item per call).
            Some((unit, k)) => {
                let q = &unit[i as usize * k..(i as usize + 1) * k];
                let mut sims = SCORES.with(|s| std::mem::take(&mut *s.borrow_mut()));
                let mut top = Vec::new();
                match &snap.similar_half {
                    // As for recommendations: an f16 pass, the exact answer, filters applied
                    // before the top-k (so filtered items never crowd out allowed ones).
                    Some(h) => {
                        let scan = HalfScan {
                            half: h,
                            rows: unit,
                            batcher: &snap.similar_batcher,
                        };
                        scan.top_k(q, &allowed, pool, &[i], &mut sims, &mut top);
                    }
                    None => {
                        snap.similar_batcher.score(unit, q, &mut sims);
                        top_k_into(&sims, pool, &[i], &mut top);
                    }
                }
                SCORES.with(|s| *s.borrow_mut() = sims);
                top
            }
            None => similar_items(snap.model.fitted.model(), i, pool)?,
        };
        found.retain(|&(j, _)| allowed[j as usize]);
        let items: Vec<Recommended> = found
            .into_iter()
            .skip(req.offset)
            .take(req.n)
            .map(|(j, s)| {
                recommended(
                    &snap,
                    j,
                    s,
                    Reason::Because {
                        item: i,
                        rated: false,
                    },
                )
            })
            .map(|mut r| {
                r.explanation = format!("Similar to {}", item_name(&snap, i));
                r
            })
            .collect();
        Ok(list(&snap, Source::Similar, items, false))
    }

    fn snapshot_of(&self, app: &str, allow_store: bool) -> Result<Arc<Snapshot>, ServingError> {
        let a = match self.loaded(app) {
            Some(a) => a,
            None if allow_store => self.app(app)?,
            None => return Err(ServingError::NeedsStore),
        };
        a.snapshot().ok_or_else(|| ServingError::NoModel {
            app: app.to_string(),
        })
    }
}

/// Exact top-k over one factor matrix through its half-precision copy: the scan batched with
/// concurrent requests, then the candidates rescored ([`exact_top_k_from_scan`]).
struct HalfScan<'a> {
    half: &'a HalfFactors,
    /// The `f32` factors `half` was rounded from.
    rows: &'a [f32],
    batcher: &'a ScoreBatcher,
}

impl HalfScan<'_> {
    /// The best `k` items for `q` among `admit`, minus the sorted `exclude`, into `out`;
    /// `scores` is the per-item buffer of the scan.
    fn top_k(
        &self,
        q: &[f32],
        admit: &[bool],
        k: usize,
        exclude: &[u32],
        scores: &mut Vec<f32>,
        out: &mut Vec<(u32, f32)>,
    ) {
        let h = self.half;
        self.batcher
            .score_with(h.n_items(), q, scores, &|qs, os| h.scan_batch(qs, os));
        EXACT.with(|e| {
            exact_top_k_from_scan(
                h,
                self.rows,
                q,
                scores,
                admit,
                k,
                exclude,
                &mut e.borrow_mut(),
                out,
            );
        });
    }
}

/// A list in the shared form ([`codec`]): model indices, scores, reasons.
fn encode_list(snap: &Snapshot, source: Source, items: &[Recommended]) -> Vec<u8> {
    let stored: Vec<codec::ListItem> = items
        .iter()
        .filter_map(|r| Some((snap.model.items.get(&r.item_id)?, r.score, r.reason)))
        .collect();
    codec::encode(source, &stored)
}

/// A shared list rendered from this snapshot (titles, sentences); one that does not decode
/// for it is a miss, and the fresh list computed instead replaces it.
fn shared_list(snap: &Snapshot, key: &str, bytes: &[u8]) -> Option<(Source, Vec<Recommended>)> {
    let n_categories = snap.catalog.category_names().len();
    match codec::decode(bytes, snap.model.items.len(), n_categories) {
        Ok((source, items)) => Some((
            source,
            items
                .into_iter()
                .map(|(i, score, reason)| recommended(snap, i, score, reason))
                .collect(),
        )),
        Err(e) => {
            tracing::debug!(key, error = %e, "shared list not usable; recomputing");
            None
        }
    }
}

/// A served list around computed items: a fresh recommendation id every time.
fn list(
    snap: &Snapshot,
    source: Source,
    items: impl Into<Arc<[Recommended]>>,
    cached: bool,
) -> RecList {
    RecList {
        recommendation_id: uuid::Uuid::now_v7().to_string(),
        model_version: Some(snap.version),
        source,
        items: items.into(),
        cached,
    }
}

/// The list cache's key: the user and everything in the request that changes the answer
/// (user ids cannot contain the separator, a control character).
fn list_cache_key(user: &str, req_key: &str) -> String {
    let mut k = String::with_capacity(user.len() + 1 + req_key.len());
    k.push_str(user);
    k.push('\u{1f}');
    k.push_str(req_key);
    k
}

/// Per model item: passes the request's availability and category filters. The common
/// request (available items, any category) borrows the snapshot's mask instead of building one
/// per request.
fn allowed_items<'a>(snap: &'a Snapshot, req: &RecRequest) -> Cow<'a, [bool]> {
    let any_category = req.categories.is_empty();
    if any_category && req.available_only {
        return Cow::Borrowed(&snap.available);
    }
    let wanted: Vec<u32> = req
        .categories
        .iter()
        .filter_map(|c| snap.catalog.category_names().get(c))
        .collect();
    (0..snap.model.items.len() as u32)
        .map(|i| {
            (!req.available_only || snap.catalog.available(i))
                && (any_category
                    || snap
                        .catalog
                        .categories(i)
                        .iter()
                        .any(|c| wanted.contains(c)))
        })
        .collect()
}

/// The user's categories, strongest first, from the categories of their history items.
fn top_categories(snap: &Snapshot, history: &BTreeMap<u32, f32>) -> Vec<u32> {
    let mut weight: HashMap<u32, f32> = HashMap::new();
    for (&i, &w) in history {
        for &c in snap.catalog.categories(i) {
            *weight.entry(c).or_insert(0.0) += w.max(0.0);
        }
    }
    let mut v: Vec<(u32, f32)> = weight.into_iter().collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    v.into_iter().take(5).map(|e| e.0).collect()
}

fn item_name(snap: &Snapshot, i: u32) -> String {
    snap.catalog
        .title(i)
        .map_or_else(|| snap.model.item_id(i).to_string(), str::to_string)
}

fn recommended(snap: &Snapshot, i: u32, score: f32, reason: Reason) -> Recommended {
    let cat_name = |c: u32| {
        snap.catalog
            .category_names()
            .name(c)
            .unwrap_or_default()
            .to_string()
    };
    let (reason_item, reason_category) = match reason {
        Reason::Because { item, .. } => (Some(snap.model.item_id(item).to_string()), None),
        Reason::InterestIn { category } | Reason::PopularIn { category } => {
            (None, Some(cat_name(category)))
        }
        _ => (None, None),
    };
    Recommended {
        item_id: snap.model.item_id(i).to_string(),
        score,
        title: snap.catalog.title(i).map(str::to_string),
        explanation: reason.text(|x| item_name(snap, x), cat_name),
        reason,
        reason_item,
        reason_category,
    }
}

/// Top items by training popularity among `allowed`, minus `exclude` (sorted).
fn popular_items(
    snap: &Snapshot,
    req: &RecRequest,
    exclude: &[u32],
    allowed: &[bool],
    reason: Reason,
) -> Vec<Recommended> {
    let mut scores = snap.model.popularity.scores().to_vec();
    for (s, ok) in scores.iter_mut().zip(allowed) {
        if !ok {
            *s = f32::NEG_INFINITY;
        }
    }
    let mut top = Vec::new();
    top_k_into(&scores, req.offset + req.n, exclude, &mut top);
    top.into_iter()
        .filter(|e| e.1.is_finite())
        .skip(req.offset)
        .take(req.n)
        .map(|(i, s)| recommended(snap, i, s, reason))
        .collect()
}

/// Trending items among `allowed`, minus `exclude`; the ranked counts are recomputed at most
/// once a second.
fn trending_items(
    a: &AppServing,
    snap: &Snapshot,
    req: &RecRequest,
    exclude: &[u32],
    allowed: &[bool],
) -> Vec<Recommended> {
    let ranked = {
        let mut cached = a
            .trending_list
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match &*cached {
            Some((at, r)) if at.elapsed() < Duration::from_secs(1) => r.clone(),
            _ => {
                let now = a.trending.latest_micros().unwrap_or(0);
                let r = Arc::new(a.trending.ranked(now));
                *cached = Some((Instant::now(), r.clone()));
                r
            }
        }
    };
    ranked
        .iter()
        .filter_map(|(id, v)| Some((snap.model.items.get(id)?, *v as f32)))
        .filter(|&(i, _)| allowed[i as usize] && exclude.binary_search(&i).is_err())
        .skip(req.offset)
        .take(req.n)
        .map(|(i, s)| recommended(snap, i, s, Reason::Trending))
        .collect()
}

/// The cold-start chain for a user without history: popular in their onboarding categories,
/// then trending, then popular overall, without repeats.
fn cold_start(
    a: &AppServing,
    snap: &Snapshot,
    live: &LiveUser,
    req: &RecRequest,
    seen: &[u32],
    allowed: &[bool],
) -> Vec<Recommended> {
    let want = req.offset + req.n;
    let mut picked: Vec<Recommended> = Vec::new();
    let mut taken: Vec<u32> = seen.to_vec();
    let add = |items: Vec<Recommended>, taken: &mut Vec<u32>, picked: &mut Vec<Recommended>| {
        for r in items {
            if picked.len() >= want {
                break;
            }
            if let Some(i) = snap.model.items.get(&r.item_id) {
                if taken.binary_search(&i).is_err() {
                    let at = taken.partition_point(|&x| x < i);
                    taken.insert(at, i);
                    picked.push(r);
                }
            }
        }
    };
    let full = RecRequest {
        n: want,
        offset: 0,
        ..req.clone()
    };
    let preferred: Vec<u32> = live
        .preferred_categories
        .iter()
        .filter_map(|c| snap.catalog.category_names().get(c))
        .collect();
    if let (Some(cp), false) = (&snap.category_popularity, preferred.is_empty()) {
        let repr = cp.for_categories(&preferred);
        let mut scores = vec![0f32; snap.model.items.len()];
        cp.score_all_into(&repr, &mut scores);
        for (s, ok) in scores.iter_mut().zip(allowed) {
            if !ok {
                *s = f32::NEG_INFINITY;
            }
        }
        let mut top = Vec::new();
        top_k_into(&scores, want, &taken, &mut top);
        let items = top
            .into_iter()
            .filter(|e| e.1 > 0.0 && e.1.is_finite())
            .map(|(i, s)| {
                let category = preferred
                    .iter()
                    .copied()
                    .find(|c| snap.catalog.categories(i).contains(c))
                    .unwrap_or(preferred[0]);
                recommended(snap, i, s, Reason::PopularIn { category })
            })
            .collect();
        add(items, &mut taken, &mut picked);
    }
    if picked.len() < want {
        let t = trending_items(a, snap, &full, &taken, allowed);
        add(t, &mut taken, &mut picked);
    }
    if picked.len() < want {
        let p = popular_items(snap, &full, &taken, allowed, Reason::Popular);
        add(p, &mut taken, &mut picked);
    }
    picked.into_iter().skip(req.offset).take(req.n).collect()
}
