//! One audit run: candidate lists (optionally re-ranked) cut to `k`, then accuracy, exposure
//! by item group and quality by user group, from the same lists. The offline audit runs it once
//! per λ on the same candidates, so the accuracy cost and the exposure gain are measured on
//! one set of users and one model.

use rayon::prelude::*;

use crate::eval::metrics::{hit_rate_at_k, ndcg_at_k, recall_at_k};
use crate::sparse::Csr;

use super::exposure::{exposure_report, ExposureReport};
use super::groups::Groups;
use super::quality::{quality_by_group, QualityReport};
use super::rerank::ExposureReranker;

/// The figures of one set of lists.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRun {
    /// λ of the re-ranker (0 without one).
    pub lambda: f64,
    /// Users with held-out items (the ones averaged over).
    pub users: usize,
    /// Mean NDCG@k over those users.
    pub ndcg: f64,
    /// Mean recall@k.
    pub recall: f64,
    /// Share of those users with a hit.
    pub hit_rate: f64,
    /// Exposure by item group over every user's list.
    pub exposure: ExposureReport,
    /// Quality by user group (when user groups were given).
    pub quality: Option<QualityReport>,
}

/// What the audit measures with.
#[derive(Debug, Clone, Copy)]
pub struct AuditInput<'a> {
    /// Held-out items per user (sorted rows).
    pub test: &'a Csr,
    /// List length.
    pub k: usize,
    /// Item groups (over every item of the model).
    pub item_groups: &'a Groups,
    /// User groups, if any.
    pub user_groups: Option<&'a Groups>,
}

/// Cut (or re-rank) each of `candidates[t]`, the scored candidates of `users[t]` best first, to
/// `k` items and measure the lists.
///
/// # Panics
/// If `users` and `candidates` differ in length, or an item or user is outside the groups.
pub fn audit_lists(
    candidates: &[Vec<(u32, f32)>],
    users: &[u32],
    input: &AuditInput<'_>,
    reranker: Option<&ExposureReranker>,
) -> AuditRun {
    assert_eq!(users.len(), candidates.len(), "one candidate list per user");
    let k = input.k;
    let groups = input.item_groups;
    let lists: Vec<Vec<u32>> = candidates
        .par_iter()
        .map(|c| match reranker {
            Some(r) => r
                .rerank(c, k, |i| groups.group_of(i))
                .into_iter()
                .map(|e| e.0)
                .collect(),
            None => c.iter().take(k).map(|e| e.0).collect(),
        })
        .collect();
    let mut sums = (0usize, 0.0, 0.0, 0.0);
    for (&u, list) in users.iter().zip(&lists) {
        let relevant = input.test.row(u as usize).0;
        if relevant.is_empty() {
            continue;
        }
        sums.0 += 1;
        sums.1 += ndcg_at_k(list, relevant, k);
        sums.2 += recall_at_k(list, relevant, k);
        sums.3 += hit_rate_at_k(list, relevant, k);
    }
    let mean = |x: f64| if sums.0 > 0 { x / sums.0 as f64 } else { 0.0 };
    AuditRun {
        lambda: reranker.map_or(0.0, ExposureReranker::lambda),
        users: sums.0,
        ndcg: mean(sums.1),
        recall: mean(sums.2),
        hit_rate: mean(sums.3),
        exposure: exposure_report(&lists, groups, k),
        quality: input
            .user_groups
            .map(|g| quality_by_group(&lists, users, input.test, k, g)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fairness::groups::{attribute_groups, popularity_buckets};

    #[test]
    fn rerank_moves_exposure_and_costs_accuracy_hand_computed() {
        // Items 0, 1 head (group 0), 2, 3 tail; popularity 5, 5, 1, 1 in 2 buckets: mass before
        // 0, 5, 10, 11 of 12 → floor(2·m/12) = 0, 0, 1, 1.
        let groups = popularity_buckets(&[5.0, 5.0, 1.0, 1.0], 2).unwrap();
        let users_g = attribute_groups(&[Some("a".into()), Some("b".into())]);
        // Both users like the head: user 0 held out {0}, user 1 held out {1}.
        let test = Csr::from_triplets(2, 4, [(0, 0, 1.0), (1, 1, 1.0)]).unwrap();
        let cands = vec![
            vec![(0, 1.0), (1, 0.9), (2, 0.5), (3, 0.0)],
            vec![(1, 1.0), (0, 0.9), (3, 0.5), (2, 0.0)],
        ];
        let input = AuditInput {
            test: &test,
            k: 2,
            item_groups: &groups,
            user_groups: Some(&users_g),
        };
        let base = audit_lists(&cands, &[0, 1], &input, None);
        // Both hit at rank 1: NDCG 1; the head takes all exposure: gap 1.
        assert_eq!(
            (base.ndcg, base.hit_rate, base.exposure.gap),
            (1.0, 1.0, 1.0)
        );
        assert_eq!(base.quality.as_ref().unwrap().dp_gap, 0.0);
        let r = ExposureReranker::new(1.0, vec![0.5, 0.5]).unwrap();
        let fair = audit_lists(&cands, &[0, 1], &input, Some(&r));
        // Position 2 goes to the best tail item (value 0.5 vs 0.9 − 1): lists [0, 2], [1, 3].
        // Hits stay at rank 1: NDCG 1. Exposure head 2, tail 2·d2 → gap (1 − d2)/(1 + d2).
        let d2 = 1.0 / 3f64.log2();
        assert_eq!(fair.ndcg, 1.0);
        assert!((fair.exposure.gap - (1.0 - d2) / (1.0 + d2)).abs() < 1e-12);
        assert_eq!(fair.lambda, 1.0);
    }
}
