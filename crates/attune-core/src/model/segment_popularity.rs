//! Popularity within a user segment: what users who share a profile attribute value (an
//! occupation, an age band, a tier, a learned segment) engaged with. It is the cold-start
//! answer for a user with a profile but no history: a student gets what students watch, not
//! what everyone watches.
//!
//! The score of item `i` for segment `s` is a smoothed share of the segment's users who
//! interacted with it, shrunk toward the item's share among all users:
//!
//! `(c_si + m · c_i / N) / (n_s + m)`
//!
//! where `c_si` counts the segment's users with the item, `n_s` the segment's users, `c_i` and
//! `N` the same over everyone, and `m` ([`SegmentPopularity::prior_users`]) how many users'
//! worth of evidence the global share counts for. A segment of three users is mostly the global
//! list; one of three hundred is mostly its own. `m = 0` is the raw segment share. Users without
//! a segment count toward the global share only.

use crate::sparse::Csr;

/// Item popularity per segment (see the module docs). Pure: fitted from a user × item matrix
/// and each user's segment index.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentPopularity {
    n_items: usize,
    /// Distinct users per item, per segment: `counts[s * n_items + i]`.
    counts: Vec<u32>,
    /// Users per segment (those with at least one interaction).
    users: Vec<u32>,
    /// Distinct users per item over everyone.
    global: Vec<u32>,
    /// Users with at least one interaction.
    n_users: u32,
    prior_users: f32,
}

impl SegmentPopularity {
    /// Counts from `history` (users × items, any positive value is an interaction) and
    /// `segment_of[u]` (the segment index of row `u`, `None` when the user has none). Rows past
    /// the end of `segment_of` have no segment. `prior_users` is `m` of the module docs
    /// (negative or non-finite values are treated as 0).
    pub fn fit(
        history: &Csr,
        segment_of: &[Option<u32>],
        n_segments: usize,
        prior_users: f32,
    ) -> Self {
        let n_items = history.n_cols();
        let mut counts = vec![0u32; n_segments * n_items];
        let mut users = vec![0u32; n_segments];
        let mut global = vec![0u32; n_items];
        let mut n_users = 0u32;
        for u in 0..history.n_rows() {
            let (items, values) = history.row(u);
            let mut any = false;
            let seg = segment_of
                .get(u)
                .copied()
                .flatten()
                .map(|s| s as usize)
                .filter(|&s| s < n_segments);
            for (&i, &v) in items.iter().zip(values) {
                if v <= 0.0 {
                    continue;
                }
                any = true;
                global[i as usize] += 1;
                if let Some(s) = seg {
                    counts[s * n_items + i as usize] += 1;
                }
            }
            if any {
                n_users += 1;
                if let Some(s) = seg {
                    users[s] += 1;
                }
            }
        }
        Self {
            n_items,
            counts,
            users,
            global,
            n_users,
            prior_users: if prior_users.is_finite() {
                prior_users.max(0.0)
            } else {
                0.0
            },
        }
    }

    /// Items scored.
    pub fn n_items(&self) -> usize {
        self.n_items
    }

    /// Segments counted.
    pub fn n_segments(&self) -> usize {
        self.users.len()
    }

    /// Users with interactions in `segment` (0 for an unknown segment).
    pub fn users(&self, segment: u32) -> u32 {
        self.users.get(segment as usize).copied().unwrap_or(0)
    }

    /// `m`: how many users' worth the global share counts for.
    pub fn prior_users(&self) -> f32 {
        self.prior_users
    }

    /// The smoothed share of every item for `segment` into `out` (length [`Self::n_items`]).
    /// Returns `false` (and leaves `out` alone) for a segment without users: the caller falls
    /// back to its next source rather than listing the global ranking under the segment's name.
    pub fn scores_into(&self, segment: u32, out: &mut [f32]) -> bool {
        assert_eq!(out.len(), self.n_items, "one output per item");
        let s = segment as usize;
        let n_s = self.users(segment);
        if n_s == 0 {
            return false;
        }
        let m = f64::from(self.prior_users);
        let n = f64::from(self.n_users.max(1));
        let denom = f64::from(n_s) + m;
        let row = &self.counts[s * self.n_items..(s + 1) * self.n_items];
        for ((o, &c), &g) in out.iter_mut().zip(row).zip(&self.global) {
            *o = ((f64::from(c) + m * f64::from(g) / n) / denom) as f32;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Users 0–2 in segment 0 (students) all watch item 0; users 3–5 in segment 1 watch item
    /// 1; user 6 has no segment and watches item 2; everyone in segment 1 also watches item 2.
    fn data() -> (Csr, Vec<Option<u32>>) {
        let t = [
            (0, 0, 1.0),
            (1, 0, 1.0),
            (2, 0, 1.0),
            (3, 1, 1.0),
            (4, 1, 1.0),
            (5, 1, 1.0),
            (3, 2, 1.0),
            (4, 2, 1.0),
            (5, 2, 1.0),
            (6, 2, 1.0),
        ];
        let seg = vec![Some(0), Some(0), Some(0), Some(1), Some(1), Some(1), None];
        (Csr::from_triplets(7, 3, t).unwrap(), seg)
    }

    #[test]
    fn raw_shares_rank_the_segments_own_items() {
        let (x, seg) = data();
        let p = SegmentPopularity::fit(&x, &seg, 2, 0.0);
        let mut out = vec![0.0; 3];
        assert!(p.scores_into(0, &mut out));
        assert_eq!(out, vec![1.0, 0.0, 0.0]);
        assert!(p.scores_into(1, &mut out));
        assert_eq!(out, vec![0.0, 1.0, 1.0]);
        assert_eq!((p.users(0), p.users(1), p.users(7)), (3, 3, 0));
    }

    #[test]
    fn the_prior_pulls_small_segments_toward_the_global_share() {
        let (x, seg) = data();
        let m = 6.0;
        let p = SegmentPopularity::fit(&x, &seg, 2, m);
        let mut out = vec![0.0; 3];
        assert!(p.scores_into(0, &mut out));
        // Global shares over 7 users: item 0 3/7, item 1 3/7, item 2 4/7.
        let want = |c: f64, g: f64| ((c + 6.0 * g / 7.0) / (3.0 + 6.0)) as f32;
        assert_eq!(out, vec![want(3.0, 3.0), want(0.0, 3.0), want(0.0, 4.0)]);
        // Still the segment's own item first, the globally popular one second.
        assert!(out[0] > out[2] && out[2] > out[1]);
    }

    #[test]
    fn unknown_or_empty_segments_say_so() {
        let (x, seg) = data();
        let p = SegmentPopularity::fit(&x, &seg, 3, 0.0);
        let mut out = vec![-1.0; 3];
        assert!(!p.scores_into(2, &mut out));
        assert!(!p.scores_into(9, &mut out));
        assert_eq!(out, vec![-1.0; 3]);
    }

    #[test]
    fn non_positive_values_and_out_of_range_segments_do_not_count() {
        let x = Csr::from_triplets(3, 2, [(0, 0, 1.0), (1, 1, -1.0), (2, 1, 1.0)]).unwrap();
        let p = SegmentPopularity::fit(&x, &[Some(0), Some(0), Some(5)], 1, f32::NAN);
        assert_eq!(p.prior_users(), 0.0);
        // User 1's negative value is no interaction; user 2's segment 5 does not exist.
        assert_eq!(p.users(0), 1);
        let mut out = vec![0.0; 2];
        assert!(p.scores_into(0, &mut out));
        assert_eq!(out, vec![1.0, 0.0]);
    }
}
