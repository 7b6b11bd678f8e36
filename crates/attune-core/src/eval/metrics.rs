//! Accuracy metrics of one ranked list against one user's held-out items, and of rating
//! predictions.
//!
//! Conventions (the same as RecBole's full-sort evaluation, so numbers are comparable):
//! - `ranked` is the recommendation list, best first, without duplicates (top-k output never
//!   has any); only its first `k` entries count.
//! - `relevant` is the held-out set, **sorted ascending without duplicates** (a CSR row is);
//!   membership is a binary search. Relevance is binary.
//! - A list shorter than `k` is not padded: precision still divides by `k`.
//! - A user with no relevant items has no defined recall, NDCG or AP; the functions return 0
//!   and the harness ([`super::evaluate_ranking`]) skips such users.

#[inline]
fn is_relevant(relevant: &[u32], item: u32) -> bool {
    relevant.binary_search(&item).is_ok()
}

/// Relevant items among the first `k` of `ranked`.
pub fn hits_at_k(ranked: &[u32], relevant: &[u32], k: usize) -> usize {
    debug_assert!(
        relevant.windows(2).all(|w| w[0] < w[1]),
        "relevant must be sorted and distinct"
    );
    ranked
        .iter()
        .take(k)
        .filter(|&&i| is_relevant(relevant, i))
        .count()
}

/// `hits@k / k` (0 for `k = 0`).
pub fn precision_at_k(ranked: &[u32], relevant: &[u32], k: usize) -> f64 {
    if k == 0 {
        return 0.0;
    }
    hits_at_k(ranked, relevant, k) as f64 / k as f64
}

/// `hits@k / |relevant|` (0 when nothing is relevant).
pub fn recall_at_k(ranked: &[u32], relevant: &[u32], k: usize) -> f64 {
    if relevant.is_empty() {
        return 0.0;
    }
    hits_at_k(ranked, relevant, k) as f64 / relevant.len() as f64
}

/// 1 if any of the first `k` is relevant, else 0.
pub fn hit_rate_at_k(ranked: &[u32], relevant: &[u32], k: usize) -> f64 {
    if ranked.iter().take(k).any(|&i| is_relevant(relevant, i)) {
        1.0
    } else {
        0.0
    }
}

/// `1 / rank` of the first relevant item within the first `k` (ranks start at 1), else 0.
/// Pass `k = usize::MAX` for the untruncated reciprocal rank.
pub fn reciprocal_rank_at_k(ranked: &[u32], relevant: &[u32], k: usize) -> f64 {
    ranked
        .iter()
        .take(k)
        .position(|&i| is_relevant(relevant, i))
        .map_or(0.0, |p| 1.0 / (p + 1) as f64)
}

/// Normalized discounted cumulative gain with binary relevance and a `log2` discount:
///
/// `DCG@k = Σ_{p=1..k} rel_p / log2(p + 1)`; the ideal DCG places every relevant item first,
/// so `IDCG@k = Σ_{p=1..min(k, |relevant|)} 1 / log2(p + 1)`. `NDCG@k = DCG@k / IDCG@k`, which is
/// 1 exactly when the first `min(k, |relevant|)` positions are all relevant.
pub fn ndcg_at_k(ranked: &[u32], relevant: &[u32], k: usize) -> f64 {
    let ideal: f64 = (0..k.min(relevant.len())).map(discount).sum();
    if ideal == 0.0 {
        return 0.0;
    }
    let dcg: f64 = ranked
        .iter()
        .take(k)
        .enumerate()
        .filter(|&(_, &i)| is_relevant(relevant, i))
        .map(|(p, _)| discount(p))
        .sum();
    dcg / ideal
}

/// `1 / log2(position + 2)` for a 0-based position.
#[inline]
fn discount(p: usize) -> f64 {
    1.0 / ((p + 2) as f64).log2()
}

/// Average precision at `k`: the precision at each relevant position within the first `k`,
/// summed and divided by `min(k, |relevant|)` (the most hits possible in `k` slots, so a perfect
/// list scores 1 even when more than `k` items are relevant; RecBole's normalization). MAP@k is
/// its mean over users.
pub fn average_precision_at_k(ranked: &[u32], relevant: &[u32], k: usize) -> f64 {
    let norm = k.min(relevant.len());
    if norm == 0 {
        return 0.0;
    }
    let mut hits = 0usize;
    let mut sum = 0f64;
    for (p, &i) in ranked.iter().take(k).enumerate() {
        if is_relevant(relevant, i) {
            hits += 1;
            sum += hits as f64 / (p + 1) as f64;
        }
    }
    sum / norm as f64
}

/// Root mean squared error of `(predicted, actual)` pairs, in `f64` (0 for no pairs).
pub fn rmse(pairs: &[(f32, f32)]) -> f64 {
    if pairs.is_empty() {
        return 0.0;
    }
    let s: f64 = pairs
        .iter()
        .map(|&(p, a)| (f64::from(p) - f64::from(a)).powi(2))
        .sum();
    (s / pairs.len() as f64).sqrt()
}

/// Mean absolute error of `(predicted, actual)` pairs (0 for no pairs).
pub fn mae(pairs: &[(f32, f32)]) -> f64 {
    if pairs.is_empty() {
        return 0.0;
    }
    let s: f64 = pairs
        .iter()
        .map(|&(p, a)| (f64::from(p) - f64::from(a)).abs())
        .sum();
    s / pairs.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn hand_computed_list_at_5_and_2() {
        let ranked = [1, 2, 3, 4, 5];
        let relevant = [1, 3, 6];
        assert!(close(precision_at_k(&ranked, &relevant, 5), 0.4));
        assert!(close(recall_at_k(&ranked, &relevant, 5), 2.0 / 3.0));
        assert!(close(hit_rate_at_k(&ranked, &relevant, 5), 1.0));
        assert!(close(reciprocal_rank_at_k(&ranked, &relevant, 5), 1.0));
        // DCG = 1/log2(2) + 1/log2(4) = 1.5; IDCG = 1 + 1/log2(3) + 1/2.
        assert!(close(
            ndcg_at_k(&ranked, &relevant, 5),
            1.5 / (1.5 + 1.0 / 3f64.log2())
        ));
        // AP@5 = (1/1 + 2/3) / min(5, 3).
        assert!(close(
            average_precision_at_k(&ranked, &relevant, 5),
            (1.0 + 2.0 / 3.0) / 3.0
        ));

        assert!(close(precision_at_k(&ranked, &relevant, 2), 0.5));
        assert!(close(recall_at_k(&ranked, &relevant, 2), 1.0 / 3.0));
        assert!(close(
            ndcg_at_k(&ranked, &relevant, 2),
            1.0 / (1.0 + 1.0 / 3f64.log2())
        ));
        // AP@2 = (1/1) / min(2, 3).
        assert!(close(average_precision_at_k(&ranked, &relevant, 2), 0.5));
    }

    #[test]
    fn hand_computed_late_hit() {
        let ranked = [7, 8, 3];
        let relevant = [3];
        assert!(close(
            reciprocal_rank_at_k(&ranked, &relevant, 10),
            1.0 / 3.0
        ));
        assert!(close(reciprocal_rank_at_k(&ranked, &relevant, 2), 0.0));
        assert!(close(ndcg_at_k(&ranked, &relevant, 3), 0.5)); // 1/log2(4) over 1
        assert!(close(
            average_precision_at_k(&ranked, &relevant, 3),
            1.0 / 3.0
        ));
        assert!(close(hit_rate_at_k(&ranked, &relevant, 2), 0.0));
        // Short list: precision still divides by k.
        assert!(close(precision_at_k(&ranked, &relevant, 10), 0.1));
    }

    #[test]
    fn empty_cases_are_zero() {
        assert_eq!(precision_at_k(&[1], &[1], 0), 0.0);
        assert_eq!(recall_at_k(&[1], &[], 5), 0.0);
        assert_eq!(ndcg_at_k(&[1], &[], 5), 0.0);
        assert_eq!(average_precision_at_k(&[], &[1], 5), 0.0);
        assert_eq!(rmse(&[]), 0.0);
        assert_eq!(mae(&[]), 0.0);
    }

    #[test]
    fn rating_errors_hand_computed() {
        let pairs = [(3.0, 4.0), (2.0, 2.0), (5.0, 3.0)];
        assert!(close(rmse(&pairs), (5.0f64 / 3.0).sqrt()));
        assert!(close(mae(&pairs), 1.0));
    }

    fn list_and_set() -> impl Strategy<Value = (Vec<u32>, Vec<u32>, usize)> {
        (
            prop::sample::subsequence((0u32..40).collect::<Vec<_>>(), 0..25).prop_shuffle(),
            prop::collection::btree_set(0u32..40, 0..15),
            0usize..30,
        )
            .prop_map(|(r, s, k)| (r, s.into_iter().collect(), k))
    }

    proptest! {
        #[test]
        fn metrics_are_bounded_and_consistent((ranked, relevant, k) in list_and_set()) {
            let metrics = [
                precision_at_k(&ranked, &relevant, k),
                recall_at_k(&ranked, &relevant, k),
                ndcg_at_k(&ranked, &relevant, k),
                average_precision_at_k(&ranked, &relevant, k),
                hit_rate_at_k(&ranked, &relevant, k),
                reciprocal_rank_at_k(&ranked, &relevant, k),
            ];
            for m in metrics {
                prop_assert!((0.0..=1.0 + 1e-12).contains(&m), "{:?}", metrics);
            }
            let hits = hits_at_k(&ranked, &relevant, k) as f64;
            if k > 0 {
                prop_assert!((metrics[0] * k as f64 - hits).abs() < 1e-9);
            }
            if !relevant.is_empty() {
                prop_assert!((metrics[1] * relevant.len() as f64 - hits).abs() < 1e-9);
            }
            // Any metric is positive exactly when there is a hit.
            prop_assert_eq!(metrics[4] > 0.0, hits > 0.0);
            prop_assert_eq!(metrics[2] > 0.0, hits > 0.0);
        }

        #[test]
        fn relevant_first_is_perfect(relevant in prop::collection::btree_set(0u32..40, 1..15), extra in 0u32..5, k in 1usize..20) {
            let relevant: Vec<u32> = relevant.into_iter().collect();
            let mut ranked = relevant.clone();
            ranked.extend(100..100 + extra);
            prop_assert!((ndcg_at_k(&ranked, &relevant, k) - 1.0).abs() < 1e-12);
            prop_assert!((average_precision_at_k(&ranked, &relevant, k) - 1.0).abs() < 1e-12);
            prop_assert_eq!(reciprocal_rank_at_k(&ranked, &relevant, k), 1.0);
            prop_assert_eq!(recall_at_k(&ranked, &relevant, usize::MAX), 1.0);
        }
    }
}
