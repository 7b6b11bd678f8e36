//! `als-transition` at ALS's serving cost.
//!
//! A blend user's score of an item is an affine map of its ALS score, plus a transition term
//! on the few items the user's history reaches ([`BlendTerms`]: ALS's mean and spread come in
//! closed form, the transitions' from the reached items). So the blend's best items are the
//! best of two small sets: ALS's exact top `pool` among the items the transitions do not reach
//! (through the same half-precision scan, shared with concurrent requests, that serves plain
//! ALS), and every reached item, ALS-scored one by one. Scores go through
//! [`BlendTerms::score`], as in the model's own `score_all_into`, so they are the model's to
//! the bit; an unreached item outside ALS's top `pool` could only enter the list on a score
//! tied after rounding with one inside it.

use attune_core::model::scan::gemv_at;
use attune_core::model::topk::top_k_of_into;
use attune_core::model::{AlsTransitionModel, BlendTerms, UserRepr};

use super::scoring::{factor_top, SCORES};
use super::snapshot::Snapshot;

thread_local! {
    /// `allowed` minus the reached items, per thread (one flag per item, reused).
    static ADMIT: std::cell::RefCell<Vec<bool>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The best `pool` items of `blend` for `user` (its history) among `allowed` minus the sorted
/// `exclude`, best first, finite scores only; `None` when ALS's part has no spread (every
/// unreached item then scores alike and only the full scoring orders them).
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
    let rows = blend.base().all_item_factors();
    let mut top = Vec::new();
    ADMIT.with(|admit| {
        let mut admit = admit.borrow_mut();
        admit.clear();
        admit.extend_from_slice(allowed);
        for &(j, _) in &terms.reached {
            admit[j as usize] = false;
        }
        SCORES.with(|s| {
            let mut scores = s.borrow_mut();
            factor_top(snap, rows, x, &admit, exclude, pool, &mut scores, &mut top);
        });
    });
    let (mut items, mut scores): (Vec<u32>, Vec<f32>) = top
        .into_iter()
        .map(|(i, a)| (i, terms.score(a, 0.0)))
        .unzip();
    for &(j, term) in &terms.reached {
        if allowed[j as usize] && exclude.binary_search(&j).is_err() {
            items.push(j);
            scores.push(terms.score(gemv_at(rows, x, j as usize), term));
        }
    }
    let mut best = Vec::with_capacity(pool);
    top_k_of_into(&items, &scores, pool, &[], &mut best);
    best.retain(|&(_, s)| s.is_finite());
    Some(best)
}
