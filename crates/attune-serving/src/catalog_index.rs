//! Large catalogs: the approximate index a factor model is served through once its catalog
//! reaches `ann_min_items` ([`TopKValidParams`]).
//!
//! Exact scoring streams every item factor per request: 0.3 ms at 50,000 items x 64 factors,
//! ~25 ms at 1,000,000 (docs/benchmarks.md). Above the threshold an ALS model is served
//! through an HNSW graph ([`attune_core::model::ann`]): `attune train` builds it and stores it
//! in the artifact (minutes at a million items), so activation only checks it against the
//! factors; an artifact without one (trained under a higher threshold) gets it built at load,
//! before the swap, while the current version keeps serving.
//!
//! At load the index's recall@10 against the exact scan is measured on a fixed sample of
//! training users and kept beside it ([`CatalogIndex::recall`], `/metrics`), so an operator
//! sees what the approximation costs on this model and not only on a benchmark's.
//!
//! Only ALS is indexed: its score is the plain inner product the graph is built for. BPR and
//! biased MF add item biases (a `+1` coordinate would fold them in, at the price of a second
//! copy of the factors), and the item-item and popularity families have no factors; they stay
//! exact at any size.

use std::cell::RefCell;
use std::time::Instant;

use attune_core::model::ann::{
    recall_at_k, Exact, HnswGraph, Recall, SearchScratch, TopKStrategy, TopKValidParams,
};
use attune_core::model::spec::FittedModel;

use crate::model::LoadedModel;

/// Training users whose recall is measured at load (every `n_users / SAMPLE`-th one).
const RECALL_SAMPLE: usize = 200;

thread_local! {
    /// Search buffers of the serving threads (the graph's own convenience scratch is not
    /// used: [`HnswIndex::search_where`](attune_core::model::ann::HnswIndex::search_where)
    /// runs serving's filter, which must not re-enter it).
    static SCRATCH: RefCell<SearchScratch> = RefCell::new(SearchScratch::default());
}

/// The graph of an ALS model's item factors, with its measured recall.
#[derive(Debug)]
pub struct CatalogIndex {
    graph: HnswGraph,
    ef_search: usize,
    recall: Recall,
    built_at_load: bool,
}

impl CatalogIndex {
    /// The index `model` is served through under `params`: `None` for models that are not
    /// ALS or catalogs below the threshold. Uses the graph stored in the artifact
    /// ([`LoadedModel::graph`], taken out of it) or builds one. Blocking (seconds to minutes).
    pub fn for_model(
        model: &mut LoadedModel,
        params: &TopKValidParams,
    ) -> Result<Option<Self>, attune_core::model::ann::AnnError> {
        let stored = model.graph.take();
        let FittedModel::Als(als) = model.fitted.model() else {
            return Ok(None);
        };
        let items = als.all_item_factors();
        let dim = als.factors();
        if params.strategy(model.items.len()) != TopKStrategy::Ann {
            return Ok(None);
        }
        let started = Instant::now();
        let (graph, built_at_load) = match stored {
            Some(g) => (g, false),
            None => {
                tracing::info!(
                    items = model.items.len(),
                    "the artifact has no approximate index; building it before activation"
                );
                (HnswGraph::build(items, dim, params.hnsw())?, true)
            }
        };
        let ef_search = params.hnsw().ef_search();
        let n_users = model.users.len();
        let step = (n_users / RECALL_SAMPLE).max(1);
        let queries: Vec<f32> = (0..n_users)
            .step_by(step)
            .take(RECALL_SAMPLE)
            .flat_map(|u| als.user_factors(u as u32).iter().copied())
            .collect();
        let recall = recall_at_k(
            &graph.index(items)?,
            &Exact::new(items, dim)?,
            &queries,
            10,
            ef_search,
        );
        tracing::info!(
            items = model.items.len(),
            ef_search,
            recall_at_10 = recall.mean,
            min_recall_at_10 = recall.min,
            users = recall.n_queries,
            built_at_load,
            seconds = started.elapsed().as_secs_f64(),
            "approximate index ready"
        );
        Ok(Some(Self {
            graph,
            ef_search,
            recall,
            built_at_load,
        }))
    }

    /// Recall@10 against the exact scan on sampled training users, measured at load.
    pub fn recall(&self) -> Recall {
        self.recall
    }

    /// Beam width of the searches.
    pub fn ef_search(&self) -> usize {
        self.ef_search
    }

    /// Whether the graph was built when the version was loaded (not read from the artifact).
    pub fn built_at_load(&self) -> bool {
        self.built_at_load
    }

    /// The (approximately) best `k` items for the user factors `query` among those `keep`
    /// accepts, best first, into `out`. `None` when `model` is not the ALS model the index
    /// was built for (never, for a snapshot's own pair).
    pub fn top_k(
        &self,
        model: &LoadedModel,
        query: &[f32],
        k: usize,
        keep: impl Fn(u32) -> bool,
        out: &mut Vec<(u32, f32)>,
    ) -> Option<()> {
        let FittedModel::Als(als) = model.fitted.model() else {
            return None;
        };
        let index = self.graph.index(als.all_item_factors()).ok()?;
        if query.len() != self.graph.dim() {
            return None;
        }
        let ef = self.ef_search.max(k);
        SCRATCH.with(|s| index.search_where(&mut s.borrow_mut(), query, k, keep, ef, out));
        Some(())
    }
}
