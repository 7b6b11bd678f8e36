//! Walking the graph: greedy descent through the upper levels and the beam search of one
//! level (the paper's SEARCH-LAYER), shared by queries and by construction.
//!
//! What "close" means is a [`Sim`]: larger is closer. Queries use their score `q · y`;
//! construction uses minus the Euclidean distance of the transformed items ([`super::mips`]).

use std::cell::RefCell;
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use super::graph::HnswGraph;

/// A node and its similarity to whatever is being searched for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Cand {
    pub(crate) sim: f32,
    pub(crate) id: u32,
}

impl Eq for Cand {}

impl Ord for Cand {
    /// Greater = better: higher similarity, then the lower id (the tie rule of
    /// [`crate::model::topk`]), so every ordering in the index is total and deterministic.
    fn cmp(&self, other: &Self) -> Ordering {
        self.sim
            .total_cmp(&other.sim)
            .then_with(|| other.id.cmp(&self.id))
    }
}

impl PartialOrd for Cand {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Similarity of every node to one fixed target. Larger is closer.
pub(crate) trait Sim {
    /// Similarity of `node` to the target.
    fn sim(&self, node: u32) -> f32;

    /// Hint that `node`'s vector will be read soon.
    fn prefetch(&self, _node: u32) {}
}

/// Per-thread working memory of a search: the visited marks and the two heaps.
///
/// Visited marks are one-byte epoch stamps (`visited[i] == epoch` means seen in this search):
/// starting a search costs nothing instead of clearing `n` flags, except once every 255
/// searches, and a million marks take 1 MB, which stays in L2 (the marks are read at random).
/// Keep one per serving thread ([`super::HnswIndex::search_with`]), or let
/// [`super::HnswIndex::search`] use a thread-local one.
#[derive(Debug, Default)]
pub struct SearchScratch {
    visited: Vec<u8>,
    epoch: u8,
    candidates: BinaryHeap<Cand>,
    results: BinaryHeap<Reverse<Cand>>,
    fresh: Vec<u32>,
    /// A query's level-0 entry points and results (kept so a search does not allocate).
    pub(crate) starts: Vec<Cand>,
    pub(crate) found: Vec<Cand>,
    /// Score buffer of the exact path ([`super::TopKIndex`]), kept here so it is reused too.
    pub(crate) scores: Vec<f32>,
}

thread_local! {
    /// The scratch of the allocating convenience calls; never borrowed across a call that
    /// could re-enter it (searches call no rayon and no user code).
    pub(crate) static SCRATCH: RefCell<SearchScratch> = RefCell::new(SearchScratch::default());
}

impl SearchScratch {
    /// Start a new search over `n` nodes.
    fn begin(&mut self, n: usize) {
        if self.visited.len() < n {
            self.visited.resize(n, 0);
        }
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.visited.fill(0);
            self.epoch = 1;
        }
        self.candidates.clear();
        self.results.clear();
    }

    /// Hint that `node`'s visited mark will be read soon (a random access into `n` marks).
    #[inline(always)]
    fn prefetch_visited(&self, node: u32) {
        #[cfg(target_arch = "x86_64")]
        if let Some(v) = self.visited.get(node as usize) {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            // SAFETY: prefetching is a hint and never faults; the pointer is in bounds anyway.
            // SSE is part of the x86-64 baseline.
            unsafe { _mm_prefetch::<_MM_HINT_T0>((v as *const u8).cast()) };
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = node;
    }

    /// Mark `node` visited; false if it already was.
    #[inline(always)]
    fn visit(&mut self, node: u32) -> bool {
        let v = &mut self.visited[node as usize];
        if *v == self.epoch {
            false
        } else {
            *v = self.epoch;
            true
        }
    }
}

/// Greedy descent on one upper level: move to the best neighbour until none is better.
#[inline(always)]
pub(crate) fn greedy<S: Sim>(g: &HnswGraph, sim: &S, mut cur: Cand, level: usize) -> Cand {
    loop {
        let mut moved = false;
        for &nb in g.neighbours(cur.id, level) {
            let c = Cand {
                sim: sim.sim(nb),
                id: nb,
            };
            if c > cur {
                cur = c;
                moved = true;
            }
        }
        if !moved {
            return cur;
        }
    }
}

/// From the entry point down to `level + 1`, greedily: the entry of the beam search on
/// `level`.
#[inline(always)]
pub(crate) fn descend<S: Sim>(g: &HnswGraph, sim: &S, level: usize) -> Cand {
    let mut cur = Cand {
        sim: sim.sim(g.entry),
        id: g.entry,
    };
    for l in (level + 1..=g.top).rev() {
        cur = greedy(g, sim, cur, l);
    }
    cur
}

/// Where and how wide a beam search runs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Beam {
    /// Beam width (results kept), at least 1.
    pub(crate) ef: usize,
    /// Graph level searched.
    pub(crate) level: usize,
}

/// Beam search of `beam.level` from `entries` with beam width `beam.ef`. Returns the best
/// `ef` nodes that pass `keep`, best first, in `out`.
///
/// Nodes that fail `keep` (a user's seen items) are still walked through, so they cannot cut
/// the graph, but never enter the result; when fewer than `ef` nodes pass, the search continues
/// until the reachable graph is exhausted, so it never returns fewer results than it could.
#[inline(always)]
pub(crate) fn search_layer<S: Sim>(
    g: &HnswGraph,
    sim: &S,
    entries: &[Cand],
    beam: Beam,
    keep: impl Fn(u32) -> bool,
    scratch: &mut SearchScratch,
    out: &mut Vec<Cand>,
) {
    let Beam { ef, level } = beam;
    scratch.begin(g.n);
    for &e in entries {
        if scratch.visit(e.id) {
            scratch.candidates.push(e);
            if keep(e.id) {
                scratch.results.push(Reverse(e));
            }
        }
    }
    while scratch.results.len() > ef {
        scratch.results.pop();
    }
    while let Some(c) = scratch.candidates.pop() {
        if scratch.results.len() >= ef && c < scratch.results.peek().expect("ef > 0").0 {
            break;
        }
        if let Some(next) = scratch.candidates.peek() {
            g.prefetch_neighbours(next.id, level);
        }
        // Touch every neighbour's visited mark, then mark and prefetch the unseen ones, then
        // score them: the cache misses of a whole list are in flight at once instead of one
        // after another (the build is memory-bound at a million items).
        let mut fresh = std::mem::take(&mut scratch.fresh);
        fresh.clear();
        let list = g.neighbours(c.id, level);
        for &nb in list {
            scratch.prefetch_visited(nb);
        }
        for &nb in list {
            if scratch.visit(nb) {
                sim.prefetch(nb);
                fresh.push(nb);
            }
        }
        for &nb in &fresh {
            let e = Cand {
                sim: sim.sim(nb),
                id: nb,
            };
            let full = scratch.results.len() >= ef;
            if !full || e > scratch.results.peek().expect("full").0 {
                scratch.candidates.push(e);
                if keep(nb) {
                    scratch.results.push(Reverse(e));
                    if scratch.results.len() > ef {
                        scratch.results.pop();
                    }
                }
            }
        }
        scratch.fresh = fresh;
    }
    out.clear();
    out.extend(scratch.results.drain().map(|r| r.0));
    out.sort_unstable_by(|a, b| b.cmp(a));
}
