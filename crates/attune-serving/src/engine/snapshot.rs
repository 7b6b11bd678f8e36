//! One loaded model version and everything serving derives from it: catalog facts per model
//! item, the item similarity of explanations and diversity, the scoring kernels' data (the
//! half-precision factors, the approximate index, the batchers), live users and the list
//! cache. A snapshot is immutable once built; activation swaps whole snapshots.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use attune_core::model::half_scan::HalfFactors;
use attune_core::model::spec::FittedModel;
use attune_core::model::CategoryPopularity;
use attune_core::time::Timestamp;
use attune_store::Store;

use super::config::{Recommended, ServingConfig, ServingError, Source};
use crate::batch::ScoreBatcher;
use crate::catalog::ItemCatalog;
use crate::catalog_index::CatalogIndex;
use crate::fresh::FreshItems;
use crate::live::LiveUsers;
use crate::model::{LoadError, LoadedModel};
use crate::segments::SegmentPrefs;
use crate::similarity::ItemSimilarity;

pub(crate) struct CachedList {
    pub(crate) generation: u64,
    /// The fresh items' generation it was computed at ([`Snapshot::fresh_generation`]).
    pub(crate) fresh: u64,
    pub(crate) source: Source,
    pub(crate) items: Arc<[Recommended]>,
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
    pub(crate) similarity: ItemSimilarity,
    /// The approximate index, for ALS models of large catalogs.
    pub index: Option<CatalogIndex>,
    /// Per model item: available in the catalog.
    pub(crate) available: Vec<bool>,
    /// Exact scoring of concurrent ALS requests in one pass.
    pub(crate) batcher: ScoreBatcher,
    /// ALS item factors in half precision, for the exact scan (`model::half_scan`); `None`
    /// for other models, models served through the index, or factors beyond `f16`'s range.
    pub(crate) half: Option<HalfFactors>,
    /// The same for similar-item requests of factor models (over the unit factors).
    pub(crate) similar_batcher: ScoreBatcher,
    /// The unit factors in half precision, for similar items (not kept for catalogs served
    /// through the index, to bound memory).
    pub(crate) similar_half: Option<HalfFactors>,
    pub(crate) category_popularity: Option<CategoryPopularity>,
    pub(crate) live: LiveUsers,
    /// Keyed by [`list_cache_key`].
    pub(crate) lists: moka::sync::Cache<String, Arc<CachedList>>,
    /// Events after this instant are live (the model's last training event).
    pub(crate) since_micros: i64,
    /// Exposure-aware re-ranking (`[serving.fairness]` on).
    pub(crate) fair: Option<crate::fairness::FairRanker>,
    /// Catalog items the model does not know, listed by content (`serving.fresh` slots > 0).
    pub(crate) fresh: Option<FreshItems>,
    /// Segments and their popularity, for cold start (`[serving.segments]` on).
    pub(crate) segments: Option<SegmentPrefs>,
}

impl Snapshot {
    pub(crate) fn build(
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
        // A grouping this version's data cannot give (an attribute no item has) leaves its
        // lists un-re-ranked rather than refusing the version: fairness is a preference.
        let fair = config.fairness.as_ref().and_then(|f| {
            crate::fairness::FairRanker::build(f, &model, &items, since_micros.max(0))
                .map_err(|e| {
                    tracing::warn!(app, version, error = %e, "serving.fairness is off for this version")
                })
                .ok()
        });
        let fresh = (config.fresh.n_slots() > 0).then(|| {
            let started = Instant::now();
            let f = FreshItems::build(config.fresh.clone(), &model.items, &items);
            tracing::debug!(
                app,
                version,
                fresh = f.len(),
                catalog = items.len(),
                took_ms = started.elapsed().as_millis() as u64,
                "fresh items vectorized"
            );
            f
        });
        let segments = config
            .segments
            .as_ref()
            .map(|s| SegmentPrefs::build(store, app, &model, s))
            .transpose()?;
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        let similar_half = match (&index, similarity.unit_factors()) {
            (None, Some((unit, k))) => HalfFactors::new(unit, k),
            _ => None,
        };
        let half = match model.fitted.model() {
            FittedModel::Als(als) if index.is_none() => {
                HalfFactors::new(als.all_item_factors(), als.factors())
            }
            FittedModel::AlsTransition(b) => {
                HalfFactors::new(b.base().all_item_factors(), b.base().factors())
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
            fair,
            fresh,
            segments,
            model,
        })
    }

    /// Per model item: passes `req`'s availability and category filters.
    pub(crate) fn allowed(&self, req: &super::RecRequest) -> std::borrow::Cow<'_, [bool]> {
        super::filters::allowed_items(&self.catalog, &self.available, req)
    }

    /// Catalog items this version does not know and serves by content (0 when off).
    pub fn fresh_items(&self) -> usize {
        self.fresh.as_ref().map_or(0, FreshItems::len)
    }

    /// The fresh items' generation: moves with every change of them, so lists cached before
    /// a catalog change are not served after it.
    pub(crate) fn fresh_generation(&self) -> u64 {
        self.fresh.as_ref().map_or(0, FreshItems::generation)
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
pub(crate) fn last_event_micros(model: &LoadedModel) -> Option<i64> {
    let text = model.header.meta.data.last_event.as_deref()?;
    Timestamp::parse_rfc3339(text).ok().map(|t| t.utc_micros)
}
