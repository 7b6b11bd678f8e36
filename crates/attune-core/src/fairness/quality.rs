//! Who is served well: ranking quality per user group, and the gaps between groups.
//!
//! Per group, over the group's users with at least one held-out item (the users every offline
//! report averages over): mean NDCG@k, mean recall@k and hit rate@k (share of users with a hit).
//! - **Demographic-parity gap**: max − min over groups of the hit rate, the rate of the
//!   positive outcome (a relevant item in the top k) whatever a user's number of relevant items.
//! - **Equal-opportunity gap**: max − min over groups of mean recall@k, the chance that a
//!   relevant item is recommended, among users who have relevant items.
//!
//! Groups without evaluated users are listed (0 users) but left out of the gaps.

use crate::eval::metrics::{hit_rate_at_k, ndcg_at_k, recall_at_k};
use crate::sparse::Csr;

use super::groups::Groups;

/// One user group's quality.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupQuality {
    /// Group label.
    pub label: String,
    /// Evaluated users of the group.
    pub users: usize,
    /// Mean NDCG@k.
    pub ndcg: f64,
    /// Mean recall@k.
    pub recall: f64,
    /// Share of the group's users with a hit in the top k.
    pub hit_rate: f64,
}

/// Quality per user group and the gaps between groups.
#[derive(Debug, Clone, PartialEq)]
pub struct QualityReport {
    /// One entry per group, in group order.
    pub groups: Vec<GroupQuality>,
    /// max − min of NDCG@k.
    pub ndcg_gap: f64,
    /// Demographic-parity gap: max − min hit rate.
    pub dp_gap: f64,
    /// Equal-opportunity gap: max − min recall@k.
    pub eo_gap: f64,
}

fn spread<'a>(groups: impl Iterator<Item = &'a GroupQuality>, f: fn(&GroupQuality) -> f64) -> f64 {
    let (lo, hi) = groups
        .filter(|g| g.users > 0)
        .map(f)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if hi >= lo {
        hi - lo
    } else {
        0.0
    }
}

/// Quality of `lists[t]` (the list of `users[t]`, best first) against the held-out rows of
/// `test`, per group of `user_groups`. Users without held-out items are skipped.
///
/// # Panics
/// If `users` and `lists` differ in length or a user is outside `test` or the groups.
pub fn quality_by_group(
    lists: &[Vec<u32>],
    users: &[u32],
    test: &Csr,
    k: usize,
    user_groups: &Groups,
) -> QualityReport {
    assert_eq!(users.len(), lists.len(), "one list per user");
    let n = user_groups.n_groups();
    let mut sums = vec![(0usize, 0.0, 0.0, 0.0); n];
    for (&u, list) in users.iter().zip(lists) {
        let relevant = test.row(u as usize).0;
        if relevant.is_empty() {
            continue;
        }
        let s = &mut sums[user_groups.group_of(u)];
        s.0 += 1;
        s.1 += ndcg_at_k(list, relevant, k);
        s.2 += recall_at_k(list, relevant, k);
        s.3 += hit_rate_at_k(list, relevant, k);
    }
    let groups: Vec<GroupQuality> = sums
        .iter()
        .zip(user_groups.labels())
        .map(|(&(users, ndcg, recall, hit), label)| {
            let mean = |x: f64| if users > 0 { x / users as f64 } else { 0.0 };
            GroupQuality {
                label: label.clone(),
                users,
                ndcg: mean(ndcg),
                recall: mean(recall),
                hit_rate: mean(hit),
            }
        })
        .collect();
    QualityReport {
        ndcg_gap: spread(groups.iter(), |g| g.ndcg),
        dp_gap: spread(groups.iter(), |g| g.hit_rate),
        eo_gap: spread(groups.iter(), |g| g.recall),
        groups,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fairness::groups::attribute_groups;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn quality_by_group_hand_computed() {
        // Users 0, 1 are "F", user 2 "M", user 3 "M" without held-out items (skipped).
        let groups = attribute_groups(&[
            Some("F".into()),
            Some("F".into()),
            Some("M".into()),
            Some("M".into()),
        ]);
        // Held out: user 0 {1, 4}, user 1 {2}, user 2 {0, 3}.
        let test = Csr::from_triplets(
            4,
            5,
            [
                (0, 1, 1.0),
                (0, 4, 1.0),
                (1, 2, 1.0),
                (2, 0, 1.0),
                (2, 3, 1.0),
            ],
        )
        .unwrap();
        let lists = vec![vec![1, 0], vec![0, 3], vec![2, 3], vec![0, 1]];
        let r = quality_by_group(&lists, &[0, 1, 2, 3], &test, 2, &groups);
        let d2 = 1.0 / 3f64.log2();
        // F: user 0 hit at rank 1 of 2 relevant: NDCG 1/(1 + d2), recall 1/2, hit 1;
        //    user 1 no hit: 0, 0, 0. Means: 1/(2(1 + d2)), 1/4, 1/2.
        let f = &r.groups[0];
        assert_eq!((f.label.as_str(), f.users), ("F", 2));
        assert!(close(f.ndcg, 0.5 / (1.0 + d2)));
        assert!(close(f.recall, 0.25));
        assert!(close(f.hit_rate, 0.5));
        // M: user 2 hit at rank 2 of 2 relevant: NDCG d2/(1 + d2), recall 1/2, hit 1.
        let m = &r.groups[1];
        assert_eq!(m.users, 1);
        assert!(close(m.ndcg, d2 / (1.0 + d2)));
        assert!(close(m.recall, 0.5));
        assert!(close(r.dp_gap, 0.5));
        assert!(close(r.eo_gap, 0.25));
        assert!(close(r.ndcg_gap, (d2 - 0.5) / (1.0 + d2)));
    }
}
