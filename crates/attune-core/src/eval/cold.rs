//! Cold-start protocols: items nobody interacted with in training, and items with only a few
//! interactions.
//!
//! # Held-out items (cold items)
//! [`item_holdout`] sends every interaction of a random share of the items to test, so those
//! items are absent from training. [`evaluate_among`] then ranks, for each test user, **only
//! the held-out items** (the user's training items are never among them) and compares the top
//! `k` with the user's held-out interactions. Ranking only the cold items isolates the question
//! "can the model tell which new item this user will like?" from "new or old item?": against
//! the whole catalog a new item competes with proven popular ones, and every protocol that mixes
//! them mostly measures popularity. Users without any training interaction are skipped (nothing
//! to personalize from; that is the new-user protocol).
//!
//! # Items with few interactions
//! [`items_with_interactions`] picks the items with between `min` and `max` training
//! interactions; restrict the test matrix to them with [`restrict_to_items`] and rank among them
//! with [`evaluate_among`]. This is where collaborative filtering is weakest and content alone
//! is blind to quality: the regime a hybrid is for.

use rayon::prelude::*;

use super::harness::evaluate_lists;
use super::split::{group_holdout, Split};
use super::RankingReport;
use crate::model::topk::top_k_of_into;
use crate::model::{ParamError, Recommender};
use crate::sparse::Csr;

/// Hold out a random `item_fraction` of the distinct items entirely (all their interactions go
/// to test). `items[p]` is the item of interaction `p`. Returns the split and the held-out
/// items, ascending.
pub fn item_holdout(
    items: &[u32],
    item_fraction: f64,
    seed: u64,
) -> Result<(Split, Vec<u32>), ParamError> {
    let split = group_holdout(items, item_fraction, seed).map_err(|mut e| {
        e.field = "item_fraction";
        e
    })?;
    let mut held: Vec<u32> = split.test.iter().map(|&p| items[p]).collect();
    held.sort_unstable();
    held.dedup();
    Ok((split, held))
}

/// Items with at least `min` and at most `max` stored training entries (distinct users),
/// ascending.
pub fn items_with_interactions(train: &Csr, min: usize, max: usize) -> Vec<u32> {
    train
        .col_nnz()
        .into_iter()
        .enumerate()
        .filter(|&(_, c)| (min..=max).contains(&(c as usize)))
        .map(|(i, _)| i as u32)
        .collect()
}

/// The entries of `m` whose column is in the sorted list `items`.
pub fn restrict_to_items(m: &Csr, items: &[u32]) -> Csr {
    let mut keep = vec![false; m.n_cols()];
    for &i in items {
        if let Some(k) = keep.get_mut(i as usize) {
            *k = true;
        }
    }
    let mut indptr = Vec::with_capacity(m.n_rows() + 1);
    indptr.push(0);
    let (mut indices, mut data) = (Vec::new(), Vec::new());
    for r in 0..m.n_rows() {
        let (cols, vals) = m.row(r);
        for (&c, &v) in cols.iter().zip(vals) {
            if keep[c as usize] {
                indices.push(c);
                data.push(v);
            }
        }
        indptr.push(indices.len());
    }
    Csr::from_parts(m.n_rows(), m.n_cols(), indptr, indices, data)
        .expect("a column subset of a valid matrix is valid")
}

/// Rank only `candidates` (sorted, distinct) for every user with a held-out interaction on a
/// candidate and at least one training interaction: fold the training row in, score the
/// candidates, keep the top `k` outside the training row, and compare with the user's
/// held-out candidates. Test entries outside `candidates` are ignored. Users are scored in
/// parallel and averaged in user order (the same report for any number of threads).
///
/// # Panics
/// If `train` and `test` shapes differ, their item count differs from the model's, or a
/// candidate is out of range.
pub fn evaluate_among<M: Recommender + ?Sized>(
    model: &M,
    train: &Csr,
    test: &Csr,
    candidates: &[u32],
    k: usize,
) -> RankingReport {
    assert_eq!(
        (train.n_rows(), train.n_cols()),
        (test.n_rows(), test.n_cols()),
        "train and test shapes must match"
    );
    assert_eq!(
        train.n_cols(),
        model.n_items(),
        "items must match the model"
    );
    let test = restrict_to_items(test, candidates);
    let users: Vec<u32> = (0..test.n_rows())
        .filter(|&u| test.row_nnz(u) > 0 && train.row_nnz(u) > 0)
        .map(|u| u as u32)
        .collect();
    let lists: Vec<Vec<u32>> = users
        .par_iter()
        .map_init(
            || (vec![0f32; candidates.len()], Vec::new(), Vec::new()),
            |(scores, top, hist), &u| {
                let (cols, vals) = train.row(u as usize);
                hist.clear();
                hist.extend(cols.iter().copied().zip(vals.iter().copied()));
                let repr = model.fold_in(hist);
                model.score_into(&repr, candidates, scores);
                top_k_of_into(candidates, scores, k, cols, top);
                top.iter().map(|e| e.0).collect()
            },
        )
        .collect();
    evaluate_lists(train, &test, k, &users, &lists)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Popularity, UserRepr};

    #[test]
    fn item_holdout_moves_every_interaction_of_the_held_items() {
        let items = [0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 9];
        let (split, held) = item_holdout(&items, 0.5, 3).unwrap();
        assert_eq!(held.len(), 3); // round(0.5 · 6 distinct items)
        for (p, i) in items.iter().enumerate() {
            assert_eq!(split.test.contains(&p), held.contains(i));
        }
        assert_eq!(
            item_holdout(&items, 1.0, 3).unwrap_err().field,
            "item_fraction"
        );
    }

    #[test]
    fn few_interaction_items_and_restriction() {
        let m = Csr::from_triplets(
            3,
            4,
            [
                (0, 0, 1.0),
                (1, 0, 1.0),
                (2, 0, 1.0),
                (0, 1, 1.0),
                (1, 2, 2.0),
            ],
        )
        .unwrap();
        assert_eq!(items_with_interactions(&m, 1, 2), vec![1, 2]);
        assert_eq!(items_with_interactions(&m, 0, 0), vec![3]);
        let r = restrict_to_items(&m, &[0, 2]);
        assert_eq!(r.nnz(), 4);
        assert_eq!(r.row(1), (&[0u32, 2][..], &[1.0f32, 2.0][..]));
    }

    /// Scores item `i` as `i` for everyone: a fixed ranking to check the protocol against.
    struct ByIndex(usize);
    impl crate::model::Scorer for ByIndex {
        fn n_items(&self) -> usize {
            self.0
        }
        fn score_into(&self, _: &UserRepr, items: &[u32], out: &mut [f32]) {
            for (o, &i) in out.iter_mut().zip(items) {
                *o = i as f32;
            }
        }
        fn score_all_into(&self, _: &UserRepr, out: &mut [f32]) {
            for (i, o) in out.iter_mut().enumerate() {
                *o = i as f32;
            }
        }
    }
    impl crate::model::FoldIn for ByIndex {
        fn fold_in(&self, _: &[(u32, f32)]) -> UserRepr {
            UserRepr::Anonymous
        }
    }

    #[test]
    fn ranks_only_candidates_and_skips_users_without_training() {
        // 6 items; candidates 1, 3, 4. User 0 trains on 0 and holds out 1 and 5 (5 is not a
        // candidate); user 1 holds out 4 but has no training row; user 2 trains on 2, holds 3.
        let train = Csr::from_triplets(3, 6, [(0, 0, 1.0), (2, 2, 1.0)]).unwrap();
        let test =
            Csr::from_triplets(3, 6, [(0, 1, 1.0), (0, 5, 1.0), (1, 4, 1.0), (2, 3, 1.0)]).unwrap();
        let r = evaluate_among(&ByIndex(6), &train, &test, &[1, 3, 4], 1);
        assert_eq!(r.users, 2);
        // Top-1 is item 4 for both: neither user's candidate is hit.
        assert_eq!(r.recall, 0.0);
        let r = evaluate_among(&ByIndex(6), &train, &test, &[1, 3, 4], 2);
        // Top-2 = [4, 3]: user 2 hits item 3 (recall 1), user 0 misses item 1 (recall 0).
        assert!((r.recall - 0.5).abs() < 1e-12);
        let pop = Popularity::most_popular(&train);
        assert_eq!(
            evaluate_among(&pop, &train, &test, &[1, 3, 4], 3).recall,
            1.0
        );
    }
}
