//! The HNSW graph as stored in memory: per node a level, a fixed-stride level-0 neighbour
//! list, and fixed-stride lists for its upper levels.
//!
//! Level 0 holds every node and almost all of the search work, so its lists are one flat array
//! with stride `2·m + 2` (`[count, id, id, ...]`, room for `2·m` neighbours plus one
//! [`REPAIR_SLOTS`] edge): the list of node `i` is found without an
//! offset lookup (one cache miss fewer per expanded node than a CSR layout). Upper levels hold
//! about `1/m` of the nodes and use the same stride-`m + 1` blocks, found through one offset
//! per node. The persisted form ([`super::parts`]) is the plain CSR of every (node, level) list.

use super::params::HnswValidParams;

/// Highest level a node can get. The expected top level of `n` nodes is `ln n / ln m`, about
/// 5 for a million nodes at `m = 16`; the cap only matters for `m = 2` past ~10^9 nodes, where
/// it flattens the top of the hierarchy (search stays correct).
pub const MAX_LEVEL: usize = 24;

/// Extra level-0 entry points per query ([`super::mips::entry_seeds`]): half the largest-norm
/// items, half the winners of random directions. The largest norms are the points nearest the
/// origin of the transformed space ([`super::mips`]), where Zhou et al. start their searches,
/// and the usual answers of inner-product queries; the direction winners cover the queries
/// whose answers are not among them. Scoring them first hands the beam good candidates in every
/// direction before it walks: 1,024 dot products on rows that stay in cache across queries, a
/// few microseconds. Measured on ALS factors (50,000 x 64, `ef = 40`): recall@10 0.975 without
/// seeds, 0.994 with 256 largest norms; on 100,000 users x 200,000 items, `ef = 10`: 0.931 with
/// those 256, 0.957 with these 1,024 (worst query 0.2 from `ef = 20` on, 0.0 before).
pub const SEEDS: usize = 1024;

/// Level-0 slots per node reserved for the reachability repair after construction
/// ([`super::build`]): construction fills at most `2·m`, so every node can still take one
/// repair edge, which is what guarantees the repair terminates.
pub(crate) const REPAIR_SLOTS: usize = 1;
const _: () = assert!(REPAIR_SLOTS >= 1, "the repair needs a slot per node");

/// A built HNSW graph over `n_items` item factor vectors of `dim` values.
///
/// It stores only the graph, not the vectors: serving already holds the model's item factors,
/// so a search borrows them ([`HnswGraph::index`]) instead of keeping a second copy (256 MB at
/// 1,000,000 items x 64 factors). The largest squared norm of the factors it was built from
/// is kept as a fingerprint, so pairing it with other factors on load is an error
/// ([`HnswGraph::from_parts`]).
#[derive(Debug, Clone, PartialEq)]
pub struct HnswGraph {
    pub(crate) params: HnswValidParams,
    pub(crate) n: usize,
    pub(crate) dim: usize,
    /// `max_i ‖y_i‖²` (summed in `f64`, item order): the fingerprint of the factors.
    pub(crate) max_sq_norm: f64,
    /// Node every search starts from (0 when the graph is empty).
    pub(crate) entry: u32,
    /// Its level (the top level of the graph).
    pub(crate) top: usize,
    pub(crate) levels: Vec<u8>,
    /// `n * (m0 + REPAIR_SLOTS + 1)`: per node `[count, neighbours..., padding]`.
    pub(crate) links0: Vec<u32>,
    /// Per node, the start of its upper-level blocks in `upper` (unused for level-0 nodes).
    pub(crate) upper_start: Vec<usize>,
    /// Blocks of `m + 1`: `[count, neighbours..., padding]`, levels 1..=level per node.
    pub(crate) upper: Vec<u32>,
    /// The [`SEEDS`] entry items of [`super::mips::entry_seeds`]: extra level-0 entry
    /// points of every query. A function of the factors, so recomputed on load, not stored.
    pub(crate) seeds: Vec<u32>,
    /// The seeds' factor rows side by side (`SEEDS × dim`, 256 KB at 64 factors): a query
    /// scores its 1,024 starts from one contiguous block instead of 1,024 rows scattered over
    /// the whole item matrix (a cache miss each, a fixed cost of every query).
    pub(crate) seed_rows: Vec<f32>,
}

impl HnswGraph {
    /// A graph with these levels and no edges yet.
    pub(crate) fn with_levels(
        params: HnswValidParams,
        dim: usize,
        max_sq_norm: f64,
        levels: Vec<u8>,
    ) -> Self {
        let n = levels.len();
        let (m, m0) = (params.m(), params.m0());
        let mut upper_start = vec![0usize; n];
        let mut total = 0usize;
        for (start, &l) in upper_start.iter_mut().zip(&levels) {
            *start = total;
            total += usize::from(l) * (m + 1);
        }
        Self {
            params,
            n,
            dim,
            max_sq_norm,
            entry: 0,
            top: 0,
            levels,
            links0: vec![0; n * (m0 + REPAIR_SLOTS + 1)],
            upper_start,
            upper: vec![0; total],
            seeds: Vec::new(),
            seed_rows: Vec::new(),
        }
    }

    /// Choose the entry seeds of `items` ([`super::mips::entry_seeds`]) and pack their rows.
    pub(crate) fn set_seeds(&mut self, items: &[f32], dim: usize) {
        self.seeds = super::mips::entry_seeds(items, dim, SEEDS);
        self.seed_rows = self
            .seeds
            .iter()
            .flat_map(|&i| &items[i as usize * dim..(i as usize + 1) * dim])
            .copied()
            .collect();
    }

    /// Number of items.
    pub fn n_items(&self) -> usize {
        self.n
    }

    /// Factors per item.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The parameters it was built with.
    pub fn params(&self) -> &HnswValidParams {
        &self.params
    }

    /// Level of the top of the hierarchy (0 for an empty or one-level graph).
    pub fn top_level(&self) -> usize {
        self.top
    }

    /// Capacity of a list on `level`, repair slots included.
    #[inline(always)]
    pub(crate) fn cap(&self, level: usize) -> usize {
        if level == 0 {
            self.params.m0() + REPAIR_SLOTS
        } else {
            self.params.m()
        }
    }

    /// Capacity of a list on `level` during construction (repair slots excluded).
    #[inline(always)]
    pub(crate) fn build_cap(&self, level: usize) -> usize {
        if level == 0 {
            self.params.m0()
        } else {
            self.params.m()
        }
    }

    /// Start of the `[count, ids...]` block of `node` on `level` in the array [`Self::block`]
    /// names.
    #[inline(always)]
    fn block_start(&self, node: u32, level: usize) -> usize {
        if level == 0 {
            node as usize * (self.params.m0() + REPAIR_SLOTS + 1)
        } else {
            self.upper_start[node as usize] + (level - 1) * (self.params.m() + 1)
        }
    }

    /// The neighbours of `node` on `level` (`level <= levels[node]`).
    #[inline(always)]
    pub(crate) fn neighbours(&self, node: u32, level: usize) -> &[u32] {
        let s = self.block_start(node, level);
        let arr = if level == 0 {
            &self.links0
        } else {
            &self.upper
        };
        let count = arr[s] as usize;
        &arr[s + 1..s + 1 + count]
    }

    /// Hint that the neighbour list of `node` on `level` will be read soon (the next
    /// candidate of a beam search: its list is a cache miss otherwise, ~14% of build time).
    #[inline(always)]
    pub(crate) fn prefetch_neighbours(&self, node: u32, level: usize) {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            let s = self.block_start(node, level);
            let arr = if level == 0 {
                &self.links0
            } else {
                &self.upper
            };
            let len = self.cap(level) + 1;
            if let Some(block) = arr.get(s..s + len) {
                for line in block.chunks(16) {
                    // SAFETY: prefetching is a hint and never faults; the pointer is in bounds
                    // anyway. SSE is part of the x86-64 baseline.
                    unsafe { _mm_prefetch::<_MM_HINT_T0>(line.as_ptr().cast()) };
                }
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = (node, level);
    }

    /// Replace the neighbours of `node` on `level`.
    ///
    /// # Panics
    /// If there are more than [`Self::cap`] of them (a construction bug).
    pub(crate) fn set_neighbours(&mut self, node: u32, level: usize, ids: &[u32]) {
        let cap = self.cap(level);
        assert!(ids.len() <= cap, "neighbour list over capacity");
        let s = self.block_start(node, level);
        let arr = if level == 0 {
            &mut self.links0
        } else {
            &mut self.upper
        };
        arr[s] = ids.len() as u32;
        arr[s + 1..s + 1 + ids.len()].copy_from_slice(ids);
        // Zero the unused tail, so equal graphs are equal arrays (tests compare them).
        arr[s + 1 + ids.len()..s + 1 + cap].fill(0);
    }

    /// Level of `node`.
    #[inline(always)]
    pub(crate) fn level(&self, node: u32) -> usize {
        usize::from(self.levels[node as usize])
    }
}
