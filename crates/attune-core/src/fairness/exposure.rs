//! Who gets seen: position-discounted exposure per item and per item group.
//!
//! An item at 1-based rank `r` of a list gets exposure `1 / log2(r + 1)` ([`super::discount`]):
//! the attention model NDCG assumes, so an exposure figure and an NDCG figure describe the same
//! reader. Summed over every list, this gives each item's exposure; summed over a group's
//! items, the group's; divided by the total, its **share**.

use super::discount;
use super::groups::Groups;

/// One item group's exposure.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupExposure {
    /// Group label.
    pub label: String,
    /// Items in the group.
    pub items: usize,
    /// Summed discounted exposure of the group's items.
    pub exposure: f64,
    /// The group's share of all exposure (0 when nothing was shown).
    pub share: f64,
    /// The group's share of the catalogue's items.
    pub catalogue_share: f64,
    /// `share / catalogue_share`: 1 when the group is seen in proportion to its size.
    pub ratio: f64,
    /// Share of the group's items shown at least once (the item-side "rate of being
    /// recommended").
    pub recommended_rate: f64,
}

/// Exposure of every item group, and how unequal item exposure is.
#[derive(Debug, Clone, PartialEq)]
pub struct ExposureReport {
    /// One entry per group, in group order.
    pub groups: Vec<GroupExposure>,
    /// Lists counted.
    pub lists: usize,
    /// Exposure gap: max − min of the groups' shares (0: every group equally seen; near 1: one
    /// group takes everything).
    pub gap: f64,
    /// Ratio gap: max − min of `share / catalogue_share` over groups with items.
    pub ratio_gap: f64,
    /// Item-side demographic-parity gap: max − min of the groups' `recommended_rate`.
    pub recommended_rate_gap: f64,
    /// Gini coefficient of per-item exposure over the whole catalogue (items never shown count
    /// as 0): 0 when every item is equally exposed, near 1 when a few take it all.
    pub gini: f64,
}

/// Discounted exposure per item over `lists` (each best first), only the first `k` positions
/// of each counted. Items outside `0..n_items` are ignored.
pub fn item_exposure(lists: &[Vec<u32>], n_items: usize, k: usize) -> Vec<f64> {
    let mut e = vec![0.0; n_items];
    for list in lists {
        for (p, &i) in list.iter().take(k).enumerate() {
            if let Some(x) = e.get_mut(i as usize) {
                *x += discount(p);
            }
        }
    }
    e
}

/// Gini coefficient of non-negative values: `Σ_i (2i − n − 1) x_(i) / (n Σ x)` over the values
/// sorted ascending (1-based `i`), the mean absolute difference over twice the mean. 0 for an
/// empty or all-zero input.
pub fn gini(values: &[f64]) -> f64 {
    let n = values.len();
    let total: f64 = values.iter().sum();
    if n == 0 || total <= 0.0 {
        return 0.0;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let weighted: f64 = sorted
        .iter()
        .enumerate()
        .map(|(i, &x)| (2.0 * (i + 1) as f64 - n as f64 - 1.0) * x)
        .sum();
    weighted / (n as f64 * total)
}

fn spread(values: impl Iterator<Item = f64>) -> f64 {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if hi >= lo {
        hi - lo
    } else {
        0.0
    }
}

/// The exposure report of `lists` (first `k` positions each) over the item `groups`.
pub fn exposure_report(lists: &[Vec<u32>], groups: &Groups, k: usize) -> ExposureReport {
    let per_item = item_exposure(lists, groups.n_members(), k);
    exposure_report_of_items(&per_item, groups, lists.len())
}

/// The exposure report from per-item exposure already summed (online figures sum impressions
/// from the event log; `lists` is how many lists were counted).
pub fn exposure_report_of_items(per_item: &[f64], groups: &Groups, lists: usize) -> ExposureReport {
    assert_eq!(per_item.len(), groups.n_members(), "one value per item");
    let n_groups = groups.n_groups();
    let mut exposure = vec![0.0; n_groups];
    let mut shown = vec![0usize; n_groups];
    for (i, &e) in per_item.iter().enumerate() {
        let g = groups.group_of(i as u32);
        exposure[g] += e;
        shown[g] += usize::from(e > 0.0);
    }
    let total: f64 = exposure.iter().sum();
    let sizes = groups.sizes();
    let cat = groups.member_shares();
    let out: Vec<GroupExposure> = (0..n_groups)
        .map(|g| {
            let share = if total > 0.0 {
                exposure[g] / total
            } else {
                0.0
            };
            GroupExposure {
                label: groups.labels()[g].clone(),
                items: sizes[g],
                exposure: exposure[g],
                share,
                catalogue_share: cat[g],
                ratio: if cat[g] > 0.0 { share / cat[g] } else { 0.0 },
                recommended_rate: if sizes[g] > 0 {
                    shown[g] as f64 / sizes[g] as f64
                } else {
                    0.0
                },
            }
        })
        .collect();
    let with_items = || out.iter().filter(|g| g.items > 0);
    ExposureReport {
        gap: spread(out.iter().map(|g| g.share)),
        ratio_gap: spread(with_items().map(|g| g.ratio)),
        recommended_rate_gap: spread(with_items().map(|g| g.recommended_rate)),
        gini: gini(per_item),
        lists,
        groups: out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn gini_hand_computed() {
        assert_eq!(gini(&[]), 0.0);
        assert_eq!(gini(&[0.0, 0.0]), 0.0);
        assert!(close(gini(&[1.0, 1.0, 1.0]), 0.0));
        // One of four takes everything: (2·4 − 5)·1 / (4·1) = 3/4.
        assert!(close(gini(&[0.0, 5.0, 0.0, 0.0]), 0.75));
        // Sorted 1, 2, 3: (−2·1 + 0·2 + 2·3) / (3·6) = 4/18.
        assert!(close(gini(&[3.0, 1.0, 2.0]), 4.0 / 18.0));
    }

    /// The small fixture of docs/fairness.md: 6 items, head = {1}, mid = {3}, tail = {0, 2, 4,
    /// 5} (popularity 2, 6, 0, 3, 1, 0 in 3 buckets), two lists of length 3.
    pub(crate) fn fixture() -> (Groups, Vec<Vec<u32>>) {
        let groups =
            crate::fairness::groups::popularity_buckets(&[2.0, 6.0, 0.0, 3.0, 1.0, 0.0], 3)
                .unwrap();
        (groups, vec![vec![1, 3, 0], vec![1, 0, 4]])
    }

    #[test]
    fn exposure_report_hand_computed() {
        let (groups, lists) = fixture();
        let r = exposure_report(&lists, &groups, 3);
        // Discounts by rank: 1, 1/log2(3) = 0.6309, 1/log2(4) = 0.5.
        let d2 = 1.0 / 3f64.log2();
        // head (item 1): rank 1 twice = 2. mid (item 3): rank 2 = d2.
        // tail: item 0 at rank 3 and rank 2 (0.5 + d2), item 4 at rank 3 (0.5): 1 + d2.
        let total = 3.0 + 2.0 * d2; // = 2·(1 + d2 + 0.5)
        assert!(close(r.groups[0].exposure, 2.0));
        assert!(close(r.groups[1].exposure, d2));
        assert!(close(r.groups[2].exposure, 1.0 + d2));
        assert!(close(r.groups[0].share, 2.0 / total));
        assert!(close(r.groups[1].share, d2 / total));
        assert!(close(r.gap, (2.0 - d2) / total)); // head − mid
                                                   // Catalogue shares 1/6, 1/6, 4/6: ratios 6·2/total, 6·d2/total, 1.5·(1 + d2)/total.
        assert!(close(r.groups[2].ratio, 1.5 * (1.0 + d2) / total));
        assert!(close(r.ratio_gap, (12.0 - 1.5 * (1.0 + d2)) / total));
        // Shown: head 1/1, mid 1/1, tail 2/4 → gap 0.5.
        assert!(close(r.groups[2].recommended_rate, 0.5));
        assert!(close(r.recommended_rate_gap, 0.5));
        // Per item: [0.5 + d2, 2, 0, d2, 0.5, 0]; Gini of that vector.
        let per_item = [0.5 + d2, 2.0, 0.0, d2, 0.5, 0.0];
        assert!(close(r.gini, gini(&per_item)));
        // Sorted 0, 0, 0.5, d2, 0.5 + d2, 2 with weights −5, −3, −1, 1, 3, 5:
        let by_hand = (-0.5 + d2 + 3.0 * (0.5 + d2) + 10.0) / (6.0 * total);
        assert!(close(r.gini, by_hand));
        assert_eq!(r.lists, 2);
    }

    #[test]
    fn only_the_first_k_positions_count_and_nothing_shown_is_zero() {
        let (groups, lists) = fixture();
        let r = exposure_report(&lists, &groups, 1);
        assert!(close(r.groups[0].share, 1.0));
        assert!(close(r.gap, 1.0));
        let empty = exposure_report(&[], &groups, 3);
        assert_eq!((empty.gap, empty.gini), (0.0, 0.0));
    }
}
