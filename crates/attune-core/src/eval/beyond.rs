//! Beyond-accuracy metrics: coverage, intra-list diversity, novelty, popularity bias.
//!
//! Popularity is the number of distinct training users per item (`Csr::col_nnz` of the training
//! matrix), and `n_users` the number of training users.

/// Share of the catalog that appears in at least one list: `|∪ lists| / n_items`
/// (0 for an empty catalog; items `>= n_items` are ignored).
pub fn catalog_coverage<'a>(lists: impl IntoIterator<Item = &'a [u32]>, n_items: usize) -> f64 {
    if n_items == 0 {
        return 0.0;
    }
    let mut seen = vec![false; n_items];
    let mut distinct = 0usize;
    for list in lists {
        for &i in list {
            if let Some(s) = seen.get_mut(i as usize) {
                if !*s {
                    *s = true;
                    distinct += 1;
                }
            }
        }
    }
    distinct as f64 / n_items as f64
}

/// Mean dissimilarity `1 − sim(i, j)` over unordered pairs of the list (Ziegler et al. 2005).
/// In `[0, 1]` when `sim` is in `[0, 1]` (cosine of non-negative vectors); 0 for fewer than two
/// items.
pub fn intra_list_diversity(list: &[u32], sim: impl Fn(u32, u32) -> f32) -> f64 {
    let n = list.len();
    if n < 2 {
        return 0.0;
    }
    let mut sum = 0f64;
    for a in 0..n {
        for b in a + 1..n {
            sum += 1.0 - f64::from(sim(list[a], list[b]));
        }
    }
    sum / (n * (n - 1) / 2) as f64
}

/// Mean self-information of the list's items, `−log2(popularity(i) / n_users)` in bits (Zhou et
/// al. 2010): recommending what few users know is novel. An item no training user touched
/// counts as touched by one (its information is capped at `log2(n_users)` instead of infinite).
/// 0 for an empty list or no users.
pub fn novelty(list: &[u32], popularity: &[u32], n_users: usize) -> f64 {
    if list.is_empty() || n_users == 0 {
        return 0.0;
    }
    let n = n_users as f64;
    let s: f64 = list
        .iter()
        .map(|&i| {
            let p = popularity.get(i as usize).copied().unwrap_or(0).max(1);
            -(f64::from(p) / n).log2()
        })
        .sum();
    s / list.len() as f64
}

/// Average recommendation popularity: mean training popularity of the list's items (Abdollahpouri
/// et al. 2019). 0 for an empty list.
pub fn average_popularity(list: &[u32], popularity: &[u32]) -> f64 {
    if list.is_empty() {
        return 0.0;
    }
    let s: f64 = list
        .iter()
        .map(|&i| f64::from(popularity.get(i as usize).copied().unwrap_or(0)))
        .sum();
    s / list.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn coverage_counts_distinct_items() {
        let lists: [&[u32]; 3] = [&[0, 1], &[1, 2], &[9]];
        assert_eq!(catalog_coverage(lists, 4), 0.75);
        assert_eq!(catalog_coverage([], 4), 0.0);
        assert_eq!(catalog_coverage(lists, 0), 0.0);
    }

    #[test]
    fn diversity_hand_computed() {
        // Pairs (0,1): sim 1; (0,2), (1,2): sim 0.5 → mean dissimilarity (0 + 0.5 + 0.5) / 3.
        let sim = |a: u32, b: u32| if a + b == 1 { 1.0 } else { 0.5 };
        assert!((intra_list_diversity(&[0, 1, 2], sim) - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(intra_list_diversity(&[4], sim), 0.0);
    }

    #[test]
    fn novelty_and_popularity_hand_computed() {
        let pop = [8, 2, 0];
        // −log2(8/16) = 1, −log2(2/16) = 3, unseen → −log2(1/16) = 4.
        assert!((novelty(&[0, 1, 2], &pop, 16) - 8.0 / 3.0).abs() < 1e-12);
        assert_eq!(average_popularity(&[0, 1, 2], &pop), 10.0 / 3.0);
        assert_eq!(novelty(&[], &pop, 16), 0.0);
        assert_eq!(average_popularity(&[], &pop), 0.0);
    }

    proptest! {
        #[test]
        fn bounds(lists in prop::collection::vec(prop::collection::vec(0u32..30, 0..10), 0..8), n_users in 1usize..50) {
            let n_items = 25;
            let cov = catalog_coverage(lists.iter().map(|l| l.as_slice()), n_items);
            prop_assert!((0.0..=1.0).contains(&cov));
            let pop: Vec<u32> = (0..n_items as u32).map(|i| i % n_users as u32).collect();
            for l in &lists {
                let sim = |a: u32, b: u32| if a == b { 1.0 } else { 1.0 / (1.0 + (a as f32 - b as f32).abs()) };
                let d = intra_list_diversity(l, sim);
                prop_assert!((0.0..=1.0).contains(&d));
                let nov = novelty(l, &pop, n_users);
                prop_assert!(nov >= 0.0 && nov <= (n_users as f64).log2() + 1e-12);
            }
        }
    }
}
