//! Exact or approximate top-k, chosen by catalog size: the one call serving makes.
//!
//! Exact scoring is exact and, up to about a hundred thousand items, fast enough (memory-bound:
//! ~0.3 ms at 50,000 x 64); the graph costs a build (minutes at a million items on two cores)
//! and a little recall. So a catalog gets the graph only from [`TopKParams::ann_min_items`]
//! items up; below that serving keeps the exact path and nothing is built.

use super::search::SCRATCH;
use super::{AnnError, Exact, HnswGraph, HnswParams};
use crate::model::ParamError;

/// Default catalog size from which the graph is used. At 64 factors exact scoring of 100,000
/// items streams 25.6 MB per query (~0.6 ms on an idle 2-core machine, twice that under load),
/// about ten times the graph's latency at recall@10 ≈ 0.99, and it takes that much memory
/// bandwidth from every other request (docs/benchmarks.md). Below it the exact path is fast
/// enough and the build is not worth its time.
pub const DEFAULT_ANN_MIN_ITEMS: usize = 100_000;

/// Which path a catalog is served by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopKStrategy {
    /// Score every item, keep the best with a bounded heap.
    Exact,
    /// Search the HNSW graph.
    Ann,
}

/// Top-k configuration (unchecked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopKParams {
    ann_min_items: usize,
    hnsw: HnswParams,
}

/// Checked top-k configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopKValidParams {
    ann_min_items: usize,
    hnsw: super::HnswValidParams,
}

impl Default for TopKParams {
    fn default() -> Self {
        Self {
            ann_min_items: DEFAULT_ANN_MIN_ITEMS,
            hnsw: HnswParams::default(),
        }
    }
}

impl TopKParams {
    /// Catalogs of at least this many items use the graph (0: always).
    pub fn ann_min_items(mut self, n: usize) -> Self {
        self.ann_min_items = n;
        self
    }

    /// Parameters of the graph.
    pub fn hnsw(mut self, hnsw: HnswParams) -> Self {
        self.hnsw = hnsw;
        self
    }

    /// Validate every field (the graph's parameters are checked even for catalogs that will
    /// never use them, so a bad configuration fails at start-up, not when a catalog grows).
    pub fn check(self) -> Result<TopKValidParams, ParamError> {
        Ok(TopKValidParams {
            ann_min_items: self.ann_min_items,
            hnsw: self.hnsw.check()?,
        })
    }
}

impl TopKValidParams {
    /// The path for a catalog of `n_items`.
    pub fn strategy(&self, n_items: usize) -> TopKStrategy {
        if n_items >= self.ann_min_items {
            TopKStrategy::Ann
        } else {
            TopKStrategy::Exact
        }
    }

    /// Parameters of the graph.
    pub fn hnsw(&self) -> &super::HnswValidParams {
        &self.hnsw
    }

    /// The catalog size from which the graph is used.
    pub fn ann_min_items(&self) -> usize {
        self.ann_min_items
    }
}

/// What serving holds beside a factor model: nothing for the exact path, the graph for the
/// approximate one.
#[derive(Debug, Clone, PartialEq)]
pub enum TopKIndex {
    /// Score all items.
    Exact {
        /// Items of the catalog.
        n_items: usize,
        /// Factors per item.
        dim: usize,
    },
    /// Search this graph.
    Ann(HnswGraph),
}

impl TopKIndex {
    /// Pick the path for `items` (`n_items x dim`) and build the graph if it is the
    /// approximate one.
    pub fn build(items: &[f32], dim: usize, params: &TopKValidParams) -> Result<Self, AnnError> {
        let n = super::check_items(items, dim)?;
        Ok(match params.strategy(n) {
            TopKStrategy::Exact => TopKIndex::Exact { n_items: n, dim },
            TopKStrategy::Ann => TopKIndex::Ann(HnswGraph::build(items, dim, &params.hnsw)?),
        })
    }

    /// Which path this is.
    pub fn strategy(&self) -> TopKStrategy {
        match self {
            TopKIndex::Exact { .. } => TopKStrategy::Exact,
            TopKIndex::Ann(_) => TopKStrategy::Ann,
        }
    }

    /// The best `k` items for `query` among the row-major `items` (the factors this was built
    /// for), skipping the sorted `exclude`, best first, into `out`; the graph is searched with
    /// its configured `ef_search`. Buffers are thread-local, so a serving loop does not
    /// allocate per request beyond `out`.
    ///
    /// # Panics
    /// If `query.len()` is not the factor count.
    pub fn top_k_into(
        &self,
        items: &[f32],
        query: &[f32],
        k: usize,
        exclude: &[u32],
        out: &mut Vec<(u32, f32)>,
    ) -> Result<(), AnnError> {
        match self {
            TopKIndex::Exact { n_items, dim } => {
                if items.len() != n_items * dim {
                    return Err(AnnError::Mismatch {
                        n_items: *n_items,
                        dim: *dim,
                        len: items.len(),
                    });
                }
                let exact = Exact::new(items, *dim)?;
                SCRATCH.with(|s| {
                    let scores = &mut s.borrow_mut().scores;
                    exact.top_k_into(query, k, exclude, scores, out);
                });
            }
            TopKIndex::Ann(g) => {
                let index = g.index(items)?;
                let ef = g.params().ef_search();
                SCRATCH
                    .with(|s| index.search_with(&mut s.borrow_mut(), query, k, exclude, ef, out));
            }
        }
        Ok(())
    }
}
