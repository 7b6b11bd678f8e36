//! Recall@k of the index against the exact oracle: the number every ANN setting is judged by.

use rayon::prelude::*;

use super::{Exact, HnswIndex};

/// Recall of a set of queries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Recall {
    /// Mean over queries of `|approx ∩ exact| / |exact|`.
    pub mean: f64,
    /// The worst query's recall.
    pub min: f64,
    /// Number of queries.
    pub n_queries: usize,
}

/// Recall@`k` of `index` at beam width `ef` against `exact`, over the row-major `queries`
/// (`n x dim`), with no seen items excluded.
///
/// Recall counts item ids: an approximate result that ties the exact `k`-th score but is a
/// different item counts as a miss, so this is a lower bound on score-based recall (with
/// continuous factors such ties practically never happen). A query whose exact list is empty
/// (no items, or non-finite values) has recall 1. Queries run in parallel; the mean is summed in
/// query order, so it is deterministic.
///
/// # Panics
/// If `queries` is not whole rows of the index's `dim`, or `exact` has another `dim`.
pub fn recall_at_k(
    index: &HnswIndex<'_>,
    exact: &Exact<'_>,
    queries: &[f32],
    k: usize,
    ef: usize,
) -> Recall {
    let dim = index.graph().dim();
    assert!(
        queries.len().is_multiple_of(dim),
        "queries must be whole rows"
    );
    let per_query: Vec<f64> = queries
        .par_chunks(dim)
        .map_init(
            || (Vec::new(), Vec::new()),
            |(scores, truth), q| {
                exact.top_k_into(q, k, &[], scores, truth);
                if truth.is_empty() {
                    return 1.0;
                }
                let approx = index.search(q, k, &[], ef);
                let mut want: Vec<u32> = truth.iter().map(|e| e.0).collect();
                want.sort_unstable();
                let hits = approx
                    .iter()
                    .filter(|e| want.binary_search(&e.0).is_ok())
                    .count();
                hits as f64 / truth.len() as f64
            },
        )
        .collect();
    let n = per_query.len();
    Recall {
        mean: if n == 0 {
            1.0
        } else {
            per_query.iter().sum::<f64>() / n as f64
        },
        min: per_query.iter().copied().fold(1.0, f64::min),
        n_queries: n,
    }
}
