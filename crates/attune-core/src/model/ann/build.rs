//! Construction: a seeded, batch-parallel insertion whose result does not depend on the number
//! of threads.
//!
//! The classic HNSW build inserts nodes one at a time; parallel versions (hnswlib, hnsw_rs,
//! instant-distance) let threads insert concurrently under per-node locks, so each node sees
//! whatever its neighbours' lists held at that instant and the graph changes from run to run.
//! Here insertion goes in rounds (the batch scheme of ParlayANN, Manohar et al. 2024):
//!
//! 1. A round takes the next batch of nodes in the (seeded) insertion order. Every node of
//!    the batch searches the graph **as it was at the start of the round** (read-only, in
//!    parallel) and picks its neighbours on each of its levels.
//! 2. The batch's own lists are written, and the reverse edges are grouped by target node,
//!    sorted by (level, target, source), and each target's list is extended or re-pruned in
//!    parallel: every task writes one target's list only, and reads only the frozen graph.
//!
//! Each step is a pure function of the frozen graph and of values in fixed order, so the same
//! data and seed give the same graph for any thread count (and bit-identical similarities: the
//! kernels are the same on every thread). Nodes of one batch do not see each other while they
//! search; batches are kept small against the graph (a fraction of it, capped), so this costs
//! little recall, and later nodes link batch-mates through their own searches.
//!
//! A node whose level is above the current top is inserted alone in its round and becomes the
//! entry point, so the hierarchy above the old top is never built from nodes that could not
//! see each other.
//!
//! Pruning can leave a node with no path to it (HNSW's known defect; duplicates and
//! near-duplicates, such as the factors of items with the same few users, provoke it). After
//! the rounds, [`repair`] makes every node reachable on level 0 from the entry point, as
//! Lucene's `connectComponents` does: in id order, each unreachable node gets an edge from the
//! most similar reachable node that has room, using the slot construction never fills
//! (`graph::REPAIR_SLOTS`). Each repair uses one free slot of a reachable node and makes at
//! least one more node reachable, which brings at least one free slot of its own (it was never
//! a source), so a reachable node with a free slot always exists and the repair ends. Searches
//! start level 0 at the entry point too, so a search with `ef >= n` visits every node.

use std::marker::PhantomData;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::graph::{HnswGraph, MAX_LEVEL};
use super::mips::{max_sq_norm, ItemSim, Transformed};
use super::params::HnswValidParams;
use super::search::{descend, search_layer, Beam, Cand, SearchScratch, Sim, SCRATCH};
use super::select::select_neighbours;
use super::AnnError;
use crate::model::linalg::{has_avx2_fma, MulAdd, Plain};

/// A round inserts at most `inserted / BATCH_DIVISOR` nodes (at least one)...
const BATCH_DIVISOR: usize = 16;
/// ...and at most this many, so late rounds stay small against the graph too.
const MAX_BATCH: usize = 2048;

/// Build a graph over the row-major `items` (`n x dim`).
pub(crate) fn build(
    items: &[f32],
    dim: usize,
    params: &HnswValidParams,
) -> Result<HnswGraph, AnnError> {
    let n = super::check_items(items, dim)?;
    let m2 = max_sq_norm(items, dim);
    let space = Transformed::new(items, dim, m2);
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed());
    let levels = draw_levels(&mut rng, n, params.m());
    let mut order: Vec<u32> = (0..n as u32).collect();
    // Random insertion order: item indices are often in catalog or first-seen order, which is
    // correlated with time and popularity; HNSW's guarantees assume random order.
    order.shuffle(&mut rng);
    let mut g = HnswGraph::with_levels(params.clone(), dim, m2, levels);
    g.set_seeds(items, dim);
    if n == 0 {
        return Ok(g);
    }
    g.entry = order[0];
    g.top = g.level(order[0]);
    let fast = has_avx2_fma();
    let mut pos = 1;
    while pos < n {
        let size = (pos / BATCH_DIVISOR).clamp(1, MAX_BATCH);
        let mut end = (pos + size).min(n);
        if let Some(j) = (pos..end).find(|&j| g.level(order[j]) > g.top) {
            end = if j == pos { pos + 1 } else { j };
        }
        insert_round(fast, &mut g, &space, &order[pos..end]);
        if end == pos + 1 && g.level(order[pos]) > g.top {
            g.entry = order[pos];
            g.top = g.level(order[pos]);
        }
        pos = end;
    }
    SCRATCH.with(|s| {
        let s = &mut s.borrow_mut();
        #[cfg(target_arch = "x86_64")]
        if fast {
            // SAFETY: `fast` is only true when the CPU has AVX2 and FMA.
            unsafe { repair_avx2(&mut g, &space, s) };
            return;
        }
        repair::<Plain>(&mut g, &space, s);
    });
    Ok(g)
}

/// [`repair`] compiled for AVX2 with fused multiply-adds.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn repair_avx2(g: &mut HnswGraph, space: &Transformed<'_>, scratch: &mut SearchScratch) {
    repair::<crate::model::linalg::Fused>(g, space, scratch);
}

/// Link every node that level 0 cannot reach from the entry point (see the module docs).
#[inline(always)]
fn repair<M: MulAdd>(g: &mut HnswGraph, space: &Transformed<'_>, scratch: &mut SearchScratch) {
    let n = g.n;
    if n == 0 {
        return;
    }
    let mut reached = vec![false; n];
    let mut stack = Vec::new();
    let mut mark = |g: &HnswGraph, from: u32, reached: &mut [bool]| {
        if reached[from as usize] {
            return;
        }
        reached[from as usize] = true;
        stack.push(from);
        while let Some(x) = stack.pop() {
            for &y in g.neighbours(x, 0) {
                if !reached[y as usize] {
                    reached[y as usize] = true;
                    stack.push(y);
                }
            }
        }
    };
    mark(g, g.entry, &mut reached);
    let room = |g: &HnswGraph, v: u32| g.neighbours(v, 0).len() < g.cap(0);
    let mut found = Vec::new();
    for u in 0..n as u32 {
        if reached[u as usize] {
            continue;
        }
        let sim = ItemSim::<M> {
            space,
            target: u,
            _m: PhantomData,
        };
        // A search from the entry point visits reachable nodes only.
        let start = [Cand {
            sim: sim.sim(g.entry),
            id: g.entry,
        }];
        let ef = g.params.ef_construction();
        search_layer(
            g,
            &sim,
            &start,
            Beam { ef, level: 0 },
            |_| true,
            scratch,
            &mut found,
        );
        let from = found
            .iter()
            .map(|c| c.id)
            .find(|&v| room(g, v))
            .or_else(|| (0..n as u32).find(|&v| reached[v as usize] && room(g, v)))
            .expect("a reachable node has a free repair slot");
        let mut list = g.neighbours(from, 0).to_vec();
        list.push(u);
        g.set_neighbours(from, 0, &list);
        mark(g, u, &mut reached);
    }
}

/// Levels `floor(-ln U · mL)` with `mL = 1 / ln m` (the paper's choice), capped.
fn draw_levels(rng: &mut ChaCha8Rng, n: usize, m: usize) -> Vec<u8> {
    let ml = 1.0 / (m as f64).ln();
    (0..n)
        .map(|_| {
            let u = 1.0 - rng.random::<f64>(); // (0, 1]
            let l = (-u.ln() * ml).floor();
            (l as usize).min(MAX_LEVEL) as u8
        })
        .collect()
}

/// One reverse edge: `source` (new) wants to be in `target`'s list on `level`.
#[derive(Debug, Clone, Copy)]
struct Reverse {
    level: u8,
    target: u32,
    source: u32,
    sim: f32,
}

/// Insert `batch` (nodes not yet in the graph) against the graph as it is now.
fn insert_round(fast: bool, g: &mut HnswGraph, space: &Transformed<'_>, batch: &[u32]) {
    // 1. Every new node's neighbours per level, against the frozen graph.
    let frozen: &HnswGraph = g;
    let found: Vec<Vec<Vec<Cand>>> = batch
        .par_iter()
        .map(|&p| {
            SCRATCH.with(|s| {
                let s = &mut s.borrow_mut();
                #[cfg(target_arch = "x86_64")]
                if fast {
                    // SAFETY: `fast` is only true when the CPU has AVX2 and FMA.
                    return unsafe { neighbours_of_avx2(frozen, space, p, s) };
                }
                let _ = fast;
                neighbours_of::<Plain>(frozen, space, p, s)
            })
        })
        .collect();
    // 2. Their own lists, and the reverse edges in a fixed order.
    let mut rev: Vec<Reverse> = Vec::new();
    for (&p, per_level) in batch.iter().zip(&found) {
        for (level, list) in per_level.iter().enumerate() {
            let ids: Vec<u32> = list.iter().map(|c| c.id).collect();
            g.set_neighbours(p, level, &ids);
            rev.extend(list.iter().map(|c| Reverse {
                level: level as u8,
                target: c.id,
                source: p,
                sim: c.sim,
            }));
        }
    }
    rev.sort_unstable_by_key(|r| (r.level, r.target, r.source));
    let mut groups: Vec<&[Reverse]> = Vec::new();
    let mut rest = &rev[..];
    while let Some(first) = rest.first() {
        let len = rest
            .iter()
            .position(|r| (r.level, r.target) != (first.level, first.target))
            .unwrap_or(rest.len());
        let (group, tail) = rest.split_at(len);
        groups.push(group);
        rest = tail;
    }
    // 3. Every target's new list, in parallel (each task reads the graph, writes nothing).
    let frozen: &HnswGraph = g;
    let lists: Vec<Vec<u32>> = groups
        .par_iter()
        .map(|group| {
            #[cfg(target_arch = "x86_64")]
            if fast {
                // SAFETY: as above.
                return unsafe { merge_avx2(frozen, space, group) };
            }
            merge::<Plain>(frozen, space, group)
        })
        .collect();
    for (group, list) in groups.iter().zip(&lists) {
        g.set_neighbours(group[0].target, usize::from(group[0].level), list);
    }
}

/// [`neighbours_of`] compiled for AVX2 with fused multiply-adds.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn neighbours_of_avx2(
    g: &HnswGraph,
    space: &Transformed<'_>,
    p: u32,
    scratch: &mut SearchScratch,
) -> Vec<Vec<Cand>> {
    neighbours_of::<crate::model::linalg::Fused>(g, space, p, scratch)
}

/// The neighbours node `p` gets on each of its levels (up to the graph's top), with their
/// similarities to `p`.
#[inline(always)]
fn neighbours_of<M: MulAdd>(
    g: &HnswGraph,
    space: &Transformed<'_>,
    p: u32,
    scratch: &mut SearchScratch,
) -> Vec<Vec<Cand>> {
    let sim = ItemSim::<M> {
        space,
        target: p,
        _m: PhantomData,
    };
    let top = g.level(p).min(g.top);
    let ef = g.params.ef_construction();
    let m = g.params.m();
    let mut entries = vec![descend(g, &sim, top)];
    let mut found = Vec::new();
    let mut per_level = vec![Vec::new(); top + 1];
    let mut ids = Vec::with_capacity(m);
    for level in (0..=top).rev() {
        search_layer(
            g,
            &sim,
            &entries,
            Beam { ef, level },
            |_| true,
            scratch,
            &mut found,
        );
        select_neighbours::<M>(space, &found, m, &mut ids);
        let mut list = Vec::with_capacity(ids.len());
        for &id in &ids {
            for c in &found {
                if c.id == id {
                    list.push(*c);
                    break;
                }
            }
        }
        per_level[level] = list;
        std::mem::swap(&mut entries, &mut found);
    }
    per_level
}

/// [`merge`] compiled for AVX2 with fused multiply-adds.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn merge_avx2(g: &HnswGraph, space: &Transformed<'_>, group: &[Reverse]) -> Vec<u32> {
    merge::<crate::model::linalg::Fused>(g, space, group)
}

/// The new list of one target after adding the reverse edges of `group` (same target and
/// level, sorted by source): appended while there is room, re-selected by the heuristic
/// otherwise.
#[inline(always)]
fn merge<M: MulAdd>(g: &HnswGraph, space: &Transformed<'_>, group: &[Reverse]) -> Vec<u32> {
    let (t, level) = (group[0].target, usize::from(group[0].level));
    let current = g.neighbours(t, level);
    let cap = g.build_cap(level);
    if current.len() + group.len() <= cap {
        let mut list = current.to_vec();
        list.extend(group.iter().map(|r| r.source));
        return list;
    }
    let mut cands: Vec<Cand> = Vec::with_capacity(current.len() + group.len());
    for &id in current {
        cands.push(Cand {
            sim: space.sim::<M>(t, id),
            id,
        });
    }
    for r in group {
        cands.push(Cand {
            sim: r.sim,
            id: r.source,
        });
    }
    cands.sort_unstable_by(|a, b| b.cmp(a));
    let mut list = Vec::with_capacity(cap);
    select_neighbours::<M>(space, &cands, cap, &mut list);
    list
}
