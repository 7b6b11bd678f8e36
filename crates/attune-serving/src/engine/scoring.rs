//! Which kernel scores a user, and the scoring itself: the approximate index for large ALS
//! catalogs, the half-precision scan with exact rescoring for ALS below it, a batched `f32`
//! pass for ALS factors beyond `f16`'s range, the same two for `als-transition`'s ALS part
//! ([`super::blend_scoring`]), `seq-knn`'s votes ranked sparsely, and the model's own
//! `score_all_into` for every other family. All but the index return the exact top-k of the allowed, unexcluded items.

use attune_core::model::half_scan::{exact_top_k_from_scan, HalfFactors};
use attune_core::model::spec::FittedModel;
use attune_core::model::topk::{top_k_into, top_k_sparse_into};
use attune_core::model::UserRepr;

use super::snapshot::Snapshot;
use crate::batch::ScoreBatcher;

thread_local! {
    /// One score per item, reused by the requests of a thread (a fresh 200 KB buffer per
    /// request cost page faults: 4% of the uncached path).
    pub(crate) static SCORES: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
    /// The exact rescoring buffer of [`exact_top_k_from_scan`].
    static EXACT: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// How one user's scores are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScoringPath {
    /// The HNSW graph of a large ALS catalog (approximate).
    Index,
    /// ALS through its half-precision factors, exact after rescoring.
    HalfScan,
    /// ALS in `f32`, batched with concurrent requests.
    Batched,
    /// The model's own scorer (every other family, and fold-ins that are not factors).
    Model,
}

/// What decides the path: the model and the user's representation, what the snapshot holds,
/// and whether the request filters by category.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PathFacts {
    /// An ALS model and a dense representation of its factor count.
    pub als_factors: bool,
    /// The snapshot has an approximate index.
    pub has_index: bool,
    /// The snapshot has half-precision factors.
    pub has_half: bool,
    /// The request keeps only some categories.
    pub category_filter: bool,
}

/// The path for `facts`. A category filter keeps few items, for which the graph would be walked
/// nearly whole, so filtered requests take the exact scan.
pub(crate) fn scoring_path(facts: PathFacts) -> ScoringPath {
    if !facts.als_factors {
        return ScoringPath::Model;
    }
    if facts.has_index && !facts.category_filter {
        return ScoringPath::Index;
    }
    if facts.has_half {
        ScoringPath::HalfScan
    } else {
        ScoringPath::Batched
    }
}

/// The best `pool` items for `repr` among `allowed` minus the sorted `exclude`, best first,
/// finite scores only.
pub(crate) fn top_candidates(
    snap: &Snapshot,
    repr: &UserRepr,
    allowed: &[bool],
    exclude: &[u32],
    pool: usize,
    category_filter: bool,
) -> Vec<(u32, f32)> {
    let model = &snap.model;
    let als = match (model.fitted.model(), repr) {
        (FittedModel::Als(als), UserRepr::Dense(x)) if x.len() == als.factors() => Some((als, x)),
        _ => None,
    };
    let path = scoring_path(PathFacts {
        als_factors: als.is_some(),
        has_index: snap.index.is_some(),
        has_half: snap.half.is_some(),
        category_filter,
    });
    let mut top = Vec::new();
    if let (ScoringPath::Index, Some(index), Some((_, x))) = (path, &snap.index, als) {
        let admit = |i: u32| allowed[i as usize] && exclude.binary_search(&i).is_err();
        if index.top_k(model, x, pool, admit, &mut top).is_some() {
            top.retain(|&(_, s)| s.is_finite());
            return top;
        }
    }
    if let (FittedModel::AlsTransition(b), UserRepr::Sparse(_)) = (model.fitted.model(), repr) {
        if let Some(top) =
            super::blend_scoring::top_candidates(snap, b, repr, allowed, exclude, pool)
        {
            return top;
        }
    }
    // `seq-knn` votes for the few thousand items its neighbours hold: ranked as they are,
    // every other item scoring 0 ([`top_k_sparse_into`] equals the dense top).
    if let (FittedModel::SeqKnn(m), UserRepr::Sparse(h)) = (model.fitted.model(), repr) {
        let votes = m.votes(h);
        let admit = |i: u32| allowed[i as usize];
        top_k_sparse_into(&votes, model.items.len(), admit, pool, exclude, &mut top);
        top.retain(|&(_, s)| s.is_finite());
        return top;
    }
    let mut scores = SCORES.with(|s| std::mem::take(&mut *s.borrow_mut()));
    match als {
        Some((als, x)) => factor_top(
            snap,
            als.all_item_factors(),
            x,
            allowed,
            exclude,
            pool,
            &mut scores,
            &mut top,
        ),
        None => {
            scores.clear();
            scores.resize(model.items.len(), 0.0);
            model.recommender().score_all_into(repr, &mut scores);
            masked_top(&mut scores, allowed, exclude, pool, &mut top);
        }
    }
    SCORES.with(|s| *s.borrow_mut() = scores);
    top.retain(|&(_, s)| s.is_finite());
    top
}

/// The exact best `pool` items by `rows · x` (the snapshot's ALS item factors) among `allowed`
/// minus the sorted `exclude`, into `top`: through the half-precision scan when the snapshot
/// has it, else scored in `f32` (concurrent requests share one pass over the rows: the
/// [`ScoreBatcher`]); `scores` is the per-item buffer.
#[allow(clippy::too_many_arguments)]
pub(crate) fn factor_top(
    snap: &Snapshot,
    rows: &[f32],
    x: &[f32],
    allowed: &[bool],
    exclude: &[u32],
    pool: usize,
    scores: &mut Vec<f32>,
    top: &mut Vec<(u32, f32)>,
) {
    if let Some(h) = &snap.half {
        let scan = HalfScan {
            half: h,
            rows,
            batcher: &snap.batcher,
        };
        scan.top_k(x, allowed, pool, exclude, scores, top);
    } else {
        snap.batcher.score(rows, x, scores);
        masked_top(scores, allowed, exclude, pool, top);
    }
}

/// The best `pool` of `scores` among `allowed` minus the sorted `exclude`.
fn masked_top(
    scores: &mut [f32],
    allowed: &[bool],
    exclude: &[u32],
    pool: usize,
    top: &mut Vec<(u32, f32)>,
) {
    for (s, ok) in scores.iter_mut().zip(allowed) {
        if !ok {
            *s = f32::NEG_INFINITY;
        }
    }
    top_k_into(scores, pool, exclude, top);
}

/// Exact top-k over one factor matrix through its half-precision copy: the scan batched with
/// concurrent requests, then the candidates rescored ([`exact_top_k_from_scan`]).
pub(crate) struct HalfScan<'a> {
    pub half: &'a HalfFactors,
    /// The `f32` factors `half` was rounded from.
    pub rows: &'a [f32],
    pub batcher: &'a ScoreBatcher,
}

impl HalfScan<'_> {
    /// The best `k` items for `q` among `admit`, minus the sorted `exclude`, into `out`;
    /// `scores` is the per-item buffer of the scan.
    pub fn top_k(
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

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(als: bool, index: bool, half: bool, filter: bool) -> PathFacts {
        PathFacts {
            als_factors: als,
            has_index: index,
            has_half: half,
            category_filter: filter,
        }
    }

    #[test]
    fn only_als_factors_take_a_factor_kernel() {
        for (index, half, filter) in [
            (true, true, false),
            (false, true, true),
            (false, false, false),
        ] {
            assert_eq!(
                scoring_path(facts(false, index, half, filter)),
                ScoringPath::Model
            );
        }
    }

    #[test]
    fn the_index_serves_unfiltered_requests_of_indexed_catalogs() {
        assert_eq!(
            scoring_path(facts(true, true, false, false)),
            ScoringPath::Index
        );
        // A category filter takes the exact scan even when an index exists.
        assert_eq!(
            scoring_path(facts(true, true, false, true)),
            ScoringPath::Batched
        );
        assert_eq!(
            scoring_path(facts(true, true, true, true)),
            ScoringPath::HalfScan
        );
    }

    #[test]
    fn half_precision_when_the_factors_fit_it() {
        assert_eq!(
            scoring_path(facts(true, false, true, false)),
            ScoringPath::HalfScan
        );
        assert_eq!(
            scoring_path(facts(true, false, true, true)),
            ScoringPath::HalfScan
        );
        assert_eq!(
            scoring_path(facts(true, false, false, false)),
            ScoringPath::Batched
        );
    }
}
