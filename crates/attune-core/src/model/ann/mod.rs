//! Approximate top-k for large catalogs: an HNSW graph (Malkov and Yashunin 2018) over item
//! factor vectors, searched for the largest inner products.
//!
//! Exact top-k ([`crate::model::scan`] + [`crate::model::topk`]) streams every item factor per
//! request: 0.29 ms at 50,000 items, but ~30 ms at 1,000,000 items x 64 factors (256 MB of
//! factors per query, memory-bound). Past a configured catalog size ([`TopKParams`]) serving
//! walks this graph instead and scores a few thousand items (0.1–0.2 ms at recall@10 of
//! 0.99–0.999); `docs/benchmarks.md` has the measurements at 1,000,000 items.
//!
//! ```
//! use attune_core::model::ann::{Exact, HnswGraph, HnswParams};
//!
//! // 500 items x 8 factors with varying norms.
//! let dim = 8;
//! let items: Vec<f32> = (0..500 * dim)
//!     .map(|v| ((v * 7919 % 1000) as f32 / 500.0 - 1.0) * (1.0 + (v / dim % 5) as f32))
//!     .collect();
//! let graph = HnswGraph::build(&items, dim, &HnswParams::default().seed(7).check().unwrap())
//!     .unwrap();
//! let index = graph.index(&items).unwrap();
//! let query = [0.5f32, -0.2, 0.1, 0.9, 0.0, 0.3, -0.7, 0.2];
//! let seen = [3u32, 10]; // sorted
//! let approx = index.search(&query, 10, &seen, 500);
//! let exact = Exact::new(&items, dim).unwrap().top_k(&query, 10, &seen);
//! // ef >= n: the whole graph is searched, so the same items (scores agree to rounding).
//! let ids = |v: &[(u32, f32)]| v.iter().map(|e| e.0).collect::<Vec<_>>();
//! assert_eq!(ids(&approx), ids(&exact));
//! ```
//!
//! # Why our own HNSW
//! The crates considered do not fit the product's rules. `hnsw_rs` and `instant-distance`
//! insert in parallel under per-node locks, so a rebuild with the same seed gives another graph
//! (attune's determinism invariant: same data and seed, same model, any thread count). Both
//! measure one distance for building and searching, while the graph that works for
//! inner-product search is built in one space and searched in another ([`mips`]).
//! `instant-distance` has no filter for seen items, and its `M` is a compile-time constant.
//! Both persist through serde into their own formats rather than exposing the graph as arrays
//! for `attune-artifact`. The search loop is also the serving path's hot loop, where the
//! codebase writes its own kernels (DESIGN.md "hot paths are ours"): here it reuses the AVX2
//! dot product of [`crate::model::linalg`] and prefetches a node's neighbours (their rows,
//! their visited marks, the next candidate's list) before touching them.
//!
//! # How
//! - [`mips`]: why the graph is built on the Möbius transform `y / ‖y‖²` of the factors, and
//!   searched with the query's exact `q · y`.
//! - `build`: seeded batch-parallel insertion, deterministic for any thread count, then a
//!   repair that makes every node reachable from the entry point.
//! - `select`: the paper's neighbour-selection heuristic.
//! - `search`: greedy descent and the beam search, with seen items filtered during the
//!   search (walked through, never returned). Level 0 also starts from [`SEEDS`] items:
//!   the largest norms, the usual answers of inner-product queries, and the winners of
//!   random directions, for the queries whose answers lie elsewhere (`mips::entry_seeds`).
//! - `parts`: the graph as plain arrays, validated on the way back.
//! - [`Exact`], [`recall_at_k`]: the exact oracle and the recall measurement.
//! - [`TopKIndex`]: exact below a catalog size, HNSW above; what serving calls.
//!
//! # Determinism
//! Levels and the insertion order come from a `ChaCha8Rng` seeded by [`HnswParams::seed`];
//! rounds of insertion read a frozen graph and write disjoint lists (`build`), so the
//! graph is identical for any number of threads. Searches are pure functions of the graph, the
//! factors and the query. As elsewhere, the AVX2 and portable kernels round differently, so
//! machines with and without AVX2 may build different graphs from the same seed.

mod build;
mod exact;
mod graph;
pub mod mips;
mod params;
mod parts;
mod recall;
mod search;
mod select;
mod strategy;

#[cfg(test)]
mod tests;

use std::marker::PhantomData;

pub use exact::Exact;
pub use graph::{HnswGraph, MAX_LEVEL, SEEDS};
pub use params::{HnswParams, HnswValidParams, MAX_EF, MAX_M};
pub use recall::{recall_at_k, Recall};
pub use search::SearchScratch;
pub use strategy::{TopKIndex, TopKParams, TopKStrategy, TopKValidParams};

use self::mips::QuerySim;
use self::search::{descend, search_layer, Beam, Cand, Sim, SCRATCH};
use crate::model::linalg::{has_avx2_fma, MulAdd, Plain};

/// The item factors cannot be indexed. User error (bad training output or a mismatched pair).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AnnError {
    /// `dim` is zero, or the factors are not whole rows of `dim`.
    #[error("item factors: {len} values are not whole rows of dim = {dim} (dim must be >= 1)")]
    Shape {
        /// Number of values given.
        len: usize,
        /// Factors per item.
        dim: usize,
    },
    /// More items than `u32` indices.
    #[error("{n_items} items; an index holds at most 4294967295")]
    TooManyItems {
        /// Number of items given.
        n_items: usize,
    },
    /// A factor is NaN or infinite: the MIPS reduction (and every score) would be undefined.
    #[error("item {item}, factor {factor} is {value}; item factors must be finite")]
    NonFinite {
        /// Item index.
        item: u32,
        /// Factor index.
        factor: usize,
        /// The value.
        value: f32,
    },
    /// The factors do not have the shape the graph was built for.
    #[error("the graph indexes {n_items} items x {dim} factors, got {len} values")]
    Mismatch {
        /// Items in the graph.
        n_items: usize,
        /// Factors per item in the graph.
        dim: usize,
        /// Values given.
        len: usize,
    },
}

/// Number of items in `items` (`n x dim`), after checking shape and finiteness.
pub(crate) fn check_items(items: &[f32], dim: usize) -> Result<usize, AnnError> {
    if dim == 0 || !items.len().is_multiple_of(dim) {
        return Err(AnnError::Shape {
            len: items.len(),
            dim,
        });
    }
    let n = items.len() / dim;
    if n > u32::MAX as usize {
        return Err(AnnError::TooManyItems { n_items: n });
    }
    if let Some(p) = items.iter().position(|v| !v.is_finite()) {
        return Err(AnnError::NonFinite {
            item: (p / dim) as u32,
            factor: p % dim,
            value: items[p],
        });
    }
    Ok(n)
}

impl HnswGraph {
    /// Build the graph over row-major `items` (`n_items x dim`), e.g.
    /// [`crate::model::AlsModel::all_item_factors`]. Parallel (rayon), deterministic.
    pub fn build(
        items: &[f32],
        dim: usize,
        params: &HnswValidParams,
    ) -> Result<HnswGraph, AnnError> {
        build::build(items, dim, params)
    }

    /// The graph paired with the factors it indexes, ready to search. Checks the shape only
    /// (O(1)); [`HnswGraph::from_parts`] checks on load that they are the same factors.
    pub fn index<'a>(&'a self, items: &'a [f32]) -> Result<HnswIndex<'a>, AnnError> {
        if items.len() != self.n * self.dim {
            return Err(AnnError::Mismatch {
                n_items: self.n,
                dim: self.dim,
                len: items.len(),
            });
        }
        Ok(HnswIndex { graph: self, items })
    }
}

/// A graph and the item factors it indexes: the searchable index.
#[derive(Debug, Clone, Copy)]
pub struct HnswIndex<'a> {
    graph: &'a HnswGraph,
    items: &'a [f32],
}

impl<'a> HnswIndex<'a> {
    /// The graph.
    pub fn graph(&self) -> &'a HnswGraph {
        self.graph
    }

    /// The item factors.
    pub fn items(&self) -> &'a [f32] {
        self.items
    }

    /// The (approximately) best `k` items for `query` by `query · y`, best first (ties: lower
    /// item first), skipping the sorted `exclude` list, with beam width `ef` (raised to `k` if
    /// lower; the graph's default is [`HnswValidParams::ef_search`]). Scores are the exact dot
    /// products (the AVX2 kernel, so equal to the exact scorer's to rounding); only the
    /// candidate set is approximate. A query with a non-finite value returns nothing (every
    /// score would be NaN, which the exact path never returns either).
    ///
    /// # Panics
    /// If `query.len()` is not the graph's `dim`.
    pub fn search(&self, query: &[f32], k: usize, exclude: &[u32], ef: usize) -> Vec<(u32, f32)> {
        let mut out = Vec::with_capacity(k);
        SCRATCH.with(|s| {
            self.search_with(&mut s.borrow_mut(), query, k, exclude, ef, &mut out);
        });
        out
    }

    /// [`HnswIndex::search`] into the caller's buffers (`out` is cleared first).
    ///
    /// # Panics
    /// If `query.len()` is not the graph's `dim`.
    pub fn search_with(
        &self,
        scratch: &mut SearchScratch,
        query: &[f32],
        k: usize,
        exclude: &[u32],
        ef: usize,
        out: &mut Vec<(u32, f32)>,
    ) {
        debug_assert!(
            exclude.windows(2).all(|w| w[0] <= w[1]),
            "exclude must be sorted"
        );
        let keep = |id: u32| exclude.binary_search(&id).is_err();
        self.search_where(scratch, query, k, keep, ef, out);
    }

    /// [`HnswIndex::search_with`] returning only items for which `keep` is true (serving's
    /// seen, availability and category filters in one predicate). Items left out are still
    /// walked through, so a filter that keeps few items makes the search visit more of the
    /// graph (at worst all of it): callers with very selective filters are better served by
    /// the exact scan.
    ///
    /// # Panics
    /// If `query.len()` is not the graph's `dim`.
    pub fn search_where(
        &self,
        scratch: &mut SearchScratch,
        query: &[f32],
        k: usize,
        keep: impl Fn(u32) -> bool,
        ef: usize,
        out: &mut Vec<(u32, f32)>,
    ) {
        assert_eq!(
            query.len(),
            self.graph.dim,
            "query has {} factors, the index {}",
            query.len(),
            self.graph.dim
        );
        out.clear();
        if k == 0 || self.graph.n == 0 || !query.iter().all(|v| v.is_finite()) {
            return;
        }
        let ef = ef.max(k);
        #[cfg(target_arch = "x86_64")]
        if has_avx2_fma() {
            // SAFETY: the CPU has AVX2 and FMA (checked at run time).
            unsafe { search_avx2(self, scratch, query, k, keep, ef, out) };
            return;
        }
        search_impl::<Plain>(self, scratch, query, k, keep, ef, out);
    }
}

/// [`search_impl`] compiled for AVX2 with fused multiply-adds.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn search_avx2(
    index: &HnswIndex<'_>,
    scratch: &mut SearchScratch,
    query: &[f32],
    k: usize,
    keep: impl Fn(u32) -> bool,
    ef: usize,
    out: &mut Vec<(u32, f32)>,
) {
    search_impl::<crate::model::linalg::Fused>(index, scratch, query, k, keep, ef, out);
}

/// Cut `starts` to those that can matter to a beam of width `ef`: in order, best first, up to
/// and including the `ef`-th that passes `keep`. The rest are below `ef` kept starts, so the
/// search's worst result is always above them: never returned, never expanded (its loop stops
/// at the first candidate under that result), and not admitted when reached again through the
/// graph. Dropping them changes nothing of the result and saves pushing ~1,000 starts through
/// both heaps. With fewer than `ef` kept starts every start stays.
fn best_starts(starts: &mut Vec<Cand>, ef: usize, keep: impl Fn(u32) -> bool) {
    starts.sort_unstable_by(|a, b| b.cmp(a));
    starts.dedup_by_key(|c| c.id);
    let mut kept = 0;
    if let Some(cut) = starts.iter().position(|c| {
        kept += usize::from(keep(c.id));
        kept == ef
    }) {
        starts.truncate(cut + 1);
    }
}

#[inline(always)]
fn search_impl<M: MulAdd>(
    index: &HnswIndex<'_>,
    scratch: &mut SearchScratch,
    query: &[f32],
    k: usize,
    keep: impl Fn(u32) -> bool,
    ef: usize,
    out: &mut Vec<(u32, f32)>,
) {
    let g = index.graph;
    let sim = QuerySim::<M> {
        items: index.items,
        query,
        _m: PhantomData,
    };
    // Level 0 starts from the descent's landing node, the entry point (every node is reachable
    // from it, see the build's repair, so a search with ef >= n is exhaustive) and the
    // seeds: largest norms and direction winners (graph::SEEDS).
    let mut starts = std::mem::take(&mut scratch.starts);
    starts.clear();
    starts.push(descend(g, &sim, 0));
    starts.push(Cand {
        sim: sim.sim(g.entry),
        id: g.entry,
    });
    // The seeds scored from their packed rows: the same kernel on the same numbers as
    // `sim.sim(id)`, so the same bits.
    let packed = QuerySim::<M> {
        items: &g.seed_rows,
        query,
        _m: PhantomData,
    };
    for (k, &id) in g.seeds.iter().enumerate() {
        starts.push(Cand {
            sim: packed.sim(k as u32),
            id,
        });
    }
    best_starts(&mut starts, ef, &keep);
    let mut found = std::mem::take(&mut scratch.found);
    search_layer(
        g,
        &sim,
        &starts,
        Beam { ef, level: 0 },
        keep,
        scratch,
        &mut found,
    );
    out.extend(found.iter().take(k).map(|c| (c.id, c.sim)));
    scratch.starts = starts;
    scratch.found = found;
}
