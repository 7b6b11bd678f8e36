//! `als-transition` at ALS's serving cost.
//!
//! A blend user's score of an item is an affine map of its ALS score, plus a transition term
//! on the few items the user's history reaches ([`BlendTerms`]: ALS's mean and spread come in
//! closed form, the transitions' from the reached items). With the map increasing and every
//! term non-negative, an item outside ALS's exact top `pool` that the transitions do not reach
//! scores no more than each of those `pool` items, so the blend's best are among ALS's top
//! `pool` (through the same half-precision scan, shared with concurrent requests, that serves
//! plain ALS) and the reached items (ALS-scored one by one). Scores go through
//! [`BlendTerms::score`], as in the model's own `score_all_into`, so they are the model's to
//! the bit; only an exact tie after rounding at the cut could be broken otherwise.

use attune_core::model::scan::gemv_at;
use attune_core::model::topk::top_k_of_into;
use attune_core::model::{AlsTransitionModel, BlendTerms, UserRepr};

use super::scoring::{factor_top, SCORES};
use super::snapshot::Snapshot;

/// The best `pool` items of `blend` for `user` (its history) among `allowed` minus the sorted
/// `exclude`, best first, finite scores only; `None` (the model's own scoring then) when ALS's
/// part has no spread or a term is negative, where the argument above does not hold.
pub(crate) fn top_candidates(
    snap: &Snapshot,
    blend: &AlsTransitionModel,
    user: &UserRepr,
    allowed: &[bool],
    exclude: &[u32],
    pool: usize,
) -> Option<Vec<(u32, f32)>> {
    let base = blend.base_repr(user);
    let UserRepr::Dense(x) = &*base else {
        return None;
    };
    let terms: BlendTerms = blend.terms(user, &base, &[]);
    if terms.base_scale.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
        return None;
    }
    if terms
        .reached
        .iter()
        .any(|&(_, t)| t.partial_cmp(&0.0).is_none_or(|o| o.is_lt()))
    {
        return None;
    }
    let rows = blend.base().all_item_factors();
    let mut top = Vec::new();
    // After the scan `SCORES` holds every allowed item's ALS score: exact from the `f32` pass,
    // within `slack` from the half-precision one.
    let slack = snap.half.as_ref().map_or(0.0, |h| 2.0 * h.bound(x));
    SCORES.with(|s| {
        let mut scanned = s.borrow_mut();
        factor_top(
            snap,
            rows,
            x,
            allowed,
            exclude,
            pool,
            &mut scanned,
            &mut top,
        );
        // Terms only raise scores, so ALS's top without them bounds the cut from below; a
        // reached item whose best possible score (scan score plus the scan's error bound)
        // stays under it cannot enter. That drops most of the ~10,000 reached items with one
        // read each, before anything is looked up per item; ALS's top items themselves always
        // pass (their scan score plus the bound is at least their exact score).
        let floor = cut_of(
            top.iter().map(|&(_, a)| terms.score(a, 0.0)),
            top.len(),
            pool,
        );
        let near: Vec<(u32, f32)> = terms
            .reached
            .iter()
            .copied()
            .filter(|&(j, term)| {
                let best = terms.score(scanned[j as usize] + slack, term);
                best.is_nan() || best >= floor
            })
            .collect();
        // ALS's top as (item, ALS score, transition term), by item, for the reached lookup.
        let mut in_top: Vec<(u32, f32, f32)> = top.iter().map(|&(i, a)| (i, a, 0.0)).collect();
        in_top.sort_unstable_by_key(|e| e.0);
        // Reached items outside ALS's top: kept only if their best possible score reaches
        // the current cut (more candidates only raise it), then scored exactly.
        let mut others: Vec<(u32, f32)> = Vec::new();
        for &(j, term) in &near {
            match in_top.binary_search_by_key(&j, |e| e.0) {
                Ok(p) => in_top[p].2 = term,
                Err(_) if allowed[j as usize] && exclude.binary_search(&j).is_err() => {
                    others.push((j, term));
                }
                Err(_) => {}
            }
        }
        let (mut items, mut scores): (Vec<u32>, Vec<f32>) = in_top
            .iter()
            .map(|&(i, a, term)| (i, terms.score(a, term)))
            .unzip();
        let cut = cut_of(scores.iter().copied(), items.len(), pool);
        for (j, term) in others {
            let best = terms.score(scanned[j as usize] + slack, term);
            if best.is_nan() || best >= cut {
                items.push(j);
                scores.push(terms.score(gemv_at(rows, x, j as usize), term));
            }
        }
        let mut best = Vec::with_capacity(pool);
        top_k_of_into(&items, &scores, pool, &[], &mut best);
        best.retain(|&(_, s)| s.is_finite());
        Some(best)
    })
}

/// The lowest of `n` scores minus rounding room for the affine map, when they fill the `pool`
/// (an item scoring below it cannot enter the top); −∞ when they do not.
fn cut_of(scores: impl Iterator<Item = f32>, n: usize, pool: usize) -> f32 {
    if n == pool && pool > 0 {
        let worst = scores.fold(f32::INFINITY, f32::min);
        worst - 1e-5 * (worst.abs() + 1.0)
    } else {
        f32::NEG_INFINITY
    }
}
