//! Which of a node's candidate neighbours it keeps: the paper's heuristic (Malkov and
//! Yashunin, Algorithm 4), the rule that makes HNSW work on clustered data.
//!
//! Candidates are taken best first; one is kept only if it is closer to the node than to every
//! neighbour kept so far. A candidate closer to a kept neighbour is reachable through it, so the
//! list spends its slots on different directions instead of on one dense cluster, which keeps
//! clusters connected to each other; in the transformed space of [`super::mips`] it is also
//! what approximates the Delaunay graph that inner-product search needs.
//!
//! Slots the heuristic leaves empty are filled with the best rejected candidates
//! (`keepPrunedConnections` in the paper): lists stay full, which gives searches more ways out
//! of a clump at no cost in memory (the slots exist anyway).

use super::mips::Transformed;
use super::search::Cand;
use crate::model::linalg::MulAdd;

/// Fill `out` with up to `count` of `cands` (similarities to the node, sorted best first).
///
/// Always inlined: it must be compiled into the AVX2 copies of its callers, or the kernels
/// inside it are called as out-of-line intrinsics.
#[inline(always)]
pub(crate) fn select_neighbours<M: MulAdd>(
    space: &Transformed<'_>,
    cands: &[Cand],
    count: usize,
    out: &mut Vec<u32>,
) {
    out.clear();
    if cands.len() <= count {
        out.extend(cands.iter().map(|c| c.id));
        return;
    }
    let mut kept: Vec<Cand> = Vec::with_capacity(count);
    let mut pruned: Vec<u32> = Vec::new();
    // Plain loops: iterator adapters with closures here were not inlined into the AVX2 copy.
    for &c in cands {
        if kept.len() == count {
            break;
        }
        // Rejected when some kept neighbour is strictly closer to it than the node is.
        let mut diverse = true;
        for k in &kept {
            if space.sim::<M>(c.id, k.id) > c.sim {
                diverse = false;
                break;
            }
        }
        if diverse {
            kept.push(c);
        } else {
            pruned.push(c.id);
        }
    }
    out.extend(kept.iter().map(|c| c.id));
    let room = count - out.len();
    out.extend(pruned.into_iter().take(room));
}
