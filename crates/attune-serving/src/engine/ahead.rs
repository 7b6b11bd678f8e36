//! Candidate pools scored ahead, many users at once, for [`super::Serving::recommend_many`]
//! (`attune recommend --all-users`, `attune precompute`).
//!
//! The per-user pipeline scores one user at a time: every item factor streams from memory for
//! each user, and each loaded value feeds one multiply-add. For a batch of ALS users whose
//! representation is their stored factors, the same candidate pools come from the GEMM-class
//! kernel with fused top-k ([`attune_core::model::batch::top_k_dot_batch`]), whose lists equal
//! the exact single-user path bit for bit. Each user's pool is then handed to the rest of the
//! per-user pipeline (filters, blending, MMR, fairness, explanations, caches), which decides
//! itself whether the pool applies ([`Ahead::pool_for`]): a user with live events since
//! training, dismissals or a treatment that changes the request is scored per user as before,
//! so every list is exactly what [`super::Serving::recommend`] answers.
//!
//! Pools are scored speculatively for every trained user of the block: whether a user has live
//! events is known only once their live state is loaded, inside the pipeline. Such users are
//! few in a batch; their pool is simply not used.

use std::sync::Arc;

use attune_core::model::batch::top_k_dot_batch;
use attune_core::model::spec::FittedModel;

use super::config::RecRequest;
use super::snapshot::Snapshot;

/// Bytes of exclusion lists (seen ∪ filtered-out items) held at once while a block is scored:
/// a catalog with many unavailable items makes every user's list long, so fewer users are
/// scored per kernel call.
const EXCLUDE_BUDGET_BYTES: usize = 64 << 20;

/// Candidate pools of one block of users, scored by the batch kernel on one snapshot for one
/// request.
pub(crate) struct Ahead {
    snap: Arc<Snapshot>,
    /// The pool size scored ([`candidate_pool`] of the request).
    pool: usize,
    exclude_seen: bool,
    available_only: bool,
    /// Per position in the block (`None`: not a trained user with factors).
    lists: Vec<Option<UserPool>>,
}

/// A trained user's scored pool: the model's user index, then the items best first, finite
/// scores only.
type UserPool = (u32, Vec<(u32, f32)>);

/// The number of candidates the pipeline scores for `req` on `snap`: `offset + n`, or the
/// larger pool that diversity or exposure re-ranking chooses from.
pub(crate) fn candidate_pool(snap: &Snapshot, req: &RecRequest) -> usize {
    let want = req.offset + req.n;
    let mut pool = if req.diversity.is_some() {
        (3 * want).max(50)
    } else {
        want
    };
    if let Some(f) = &snap.fair {
        pool = pool.max(f.candidates);
    }
    pool
}

impl Ahead {
    /// Pools for the trained users of `users` on `snap`, or `None` when the per-user path
    /// would not take the exact scan for them: a model other than ALS, an approximate index
    /// (its lists are not the exact ones), or a category filter (rare items, few users).
    pub(crate) fn score(snap: &Arc<Snapshot>, users: &[String], req: &RecRequest) -> Option<Self> {
        let FittedModel::Als(als) = snap.model.fitted.model() else {
            return None;
        };
        if snap.index.is_some() || !req.categories.is_empty() || users.is_empty() {
            return None;
        }
        let model = &snap.model;
        let dim = als.factors();
        let pool = candidate_pool(snap, req);
        let disallowed: Vec<u32> = snap
            .allowed(req)
            .iter()
            .enumerate()
            .filter(|(_, &ok)| !ok)
            .map(|(i, _)| i as u32)
            .collect();
        // Trained users with a training row: the ones the pipeline scores from stored factors.
        let trained: Vec<(usize, u32)> = users
            .iter()
            .enumerate()
            .filter_map(|(at, u)| Some((at, model.users.get(u)?)))
            .filter(|&(_, u)| model.history.row_nnz(u as usize) > 0)
            .collect();
        let per_user_bytes = 4 * (disallowed.len() + 64);
        let step = (EXCLUDE_BUDGET_BYTES / per_user_bytes).clamp(96, 4096);
        let mut lists: Vec<Option<UserPool>> = vec![None; users.len()];
        for part in trained.chunks(step) {
            let mut xs = Vec::with_capacity(part.len() * dim);
            for &(_, u) in part {
                xs.extend_from_slice(als.user_factors(u));
            }
            let excluded: Vec<Vec<u32>> = part
                .iter()
                .map(|&(_, u)| {
                    let seen = if req.exclude_seen {
                        model.history.row(u as usize).0
                    } else {
                        &[]
                    };
                    merge_sorted(seen, &disallowed)
                })
                .collect();
            let tops = top_k_dot_batch(&xs, als.all_item_factors(), None, dim, pool, |r| {
                &excluded[r]
            });
            for (&(at, u), mut top) in part.iter().zip(tops) {
                top.retain(|&(_, s)| s.is_finite());
                lists[at] = Some((u, top));
            }
        }
        Some(Self {
            snap: snap.clone(),
            pool,
            exclude_seen: req.exclude_seen,
            available_only: req.available_only,
            lists,
        })
    }

    /// The pool scored for the block's user at `at`, if it is the one the pipeline would score
    /// now: the same snapshot, user and pool size, a request filtering as the one scored (a
    /// treatment may change it), and a user `u` represented by their stored factors with no
    /// dismissals (the caller's part to check).
    pub(crate) fn pool_for(
        &self,
        at: usize,
        snap: &Snapshot,
        u: u32,
        req: &RecRequest,
        pool: usize,
    ) -> Option<&[(u32, f32)]> {
        let same_request = pool == self.pool
            && req.exclude_seen == self.exclude_seen
            && req.available_only == self.available_only
            && req.categories.is_empty();
        if !std::ptr::eq(&*self.snap, snap) || !same_request {
            return None;
        }
        match self.lists.get(at)? {
            Some((trained, top)) if *trained == u => Some(top),
            _ => None,
        }
    }
}

/// One block user's entry into the pipeline: the block's pools and the user's position.
#[derive(Clone, Copy)]
pub(crate) struct AheadFor<'a> {
    pub ahead: &'a Ahead,
    pub at: usize,
}

/// The sorted union of two ascending lists without duplicates.
fn merge_sorted(a: &[u32], b: &[u32]) -> Vec<u32> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => {
                out.push(a[i]);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                out.push(b[j]);
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

#[cfg(test)]
mod tests {
    use super::merge_sorted;

    #[test]
    fn merge_keeps_order_and_drops_duplicates() {
        assert_eq!(merge_sorted(&[1, 4, 9], &[0, 4, 10]), vec![0, 1, 4, 9, 10]);
        assert_eq!(merge_sorted(&[], &[2, 3]), vec![2, 3]);
        assert_eq!(merge_sorted(&[5], &[]), vec![5]);
    }
}
