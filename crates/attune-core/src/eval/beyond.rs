//! Beyond-accuracy metrics: coverage, intra-list diversity, novelty, popularity bias.
//!
//! Popularity is the number of distinct training users per item (`Csr::col_nnz` of the training
//! matrix), and `n_users` the number of training users.

use crate::sparse::Csr;

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

/// Item-item cosine similarity of binary interaction columns, `|U_i ∩ U_j| / √(|U_i|·|U_j|)`
/// where `U_i` is the set of training users of item `i`: the similarity [`intra_list_diversity`]
/// uses when the evaluation has no item features (two items are alike when the same people use
/// them). Built once from the training matrix (an item-major copy); each lookup is a merge of two
/// sorted user lists.
#[derive(Debug, Clone)]
pub struct ItemCosine {
    by_item: Csr,
}

impl ItemCosine {
    /// From a users x items matrix (values are ignored; stored entries count).
    pub fn new(train: &Csr) -> Self {
        Self {
            by_item: train.transpose(),
        }
    }

    /// From an items x users matrix already (values are ignored; stored entries count). A
    /// sampled index (each item's users cut to a subset) gives the cosine of the samples.
    pub fn from_item_major(by_item: Csr) -> Self {
        Self { by_item }
    }

    /// Cosine of items `a` and `b` in `[0, 1]`; 0 when either has no users or is out of range.
    pub fn sim(&self, a: u32, b: u32) -> f32 {
        let n = self.by_item.n_rows();
        if a as usize >= n || b as usize >= n {
            return 0.0;
        }
        let (x, y) = (
            self.by_item.row(a as usize).0,
            self.by_item.row(b as usize).0,
        );
        if x.is_empty() || y.is_empty() {
            return 0.0;
        }
        (sorted_overlap(x, y) as f64 / ((x.len() * y.len()) as f64).sqrt()) as f32
    }

    /// `sim(from[c], to[r])` for every pair, row-major (`to.len()` rows of `from.len()`), equal
    /// to [`ItemCosine::sim`] pair by pair. Serving explains each pick of a list against the
    /// same ~20 history items: pairwise, that is a few hundred merges of two user lists. Here
    /// each user of a `from` item is marked once with a bit per item (64 items per pass), and
    /// each `to` item's users read their marks, so a list costs one walk over every involved
    /// user list instead of one per pair.
    pub fn table(&self, from: &[u32], to: &[u32]) -> Vec<f32> {
        let mut out = vec![0f32; to.len() * from.len()];
        let n = self.by_item.n_rows();
        let users = |i: u32| {
            if (i as usize) < n {
                self.by_item.row(i as usize).0
            } else {
                &[]
            }
        };
        MARKS.with(|marks| {
            let mut marks = marks.borrow_mut();
            if marks.len() < self.by_item.n_cols() {
                marks.resize(self.by_item.n_cols(), 0);
            }
            for (chunk_at, chunk) in from.chunks(64).enumerate() {
                for (bit, &a) in chunk.iter().enumerate() {
                    for &u in users(a) {
                        marks[u as usize] |= 1 << bit;
                    }
                }
                for (r, &b) in to.iter().enumerate() {
                    let ys = users(b);
                    if ys.is_empty() {
                        continue;
                    }
                    let mut common = [0u32; 64];
                    for &u in ys {
                        let mut m = marks[u as usize];
                        while m != 0 {
                            common[m.trailing_zeros() as usize] += 1;
                            m &= m - 1;
                        }
                    }
                    let row = &mut out[r * from.len() + chunk_at * 64..][..chunk.len()];
                    for ((o, &a), &c) in row.iter_mut().zip(chunk).zip(&common) {
                        let x = users(a).len();
                        if x > 0 {
                            *o = (f64::from(c) / ((x * ys.len()) as f64).sqrt()) as f32;
                        }
                    }
                }
                // Cleared where set: the next call starts clean at the cost of its own lists.
                for &a in chunk {
                    for &u in users(a) {
                        marks[u as usize] = 0;
                    }
                }
            }
        });
        out
    }
}

thread_local! {
    /// Per user, a bit per `from` item of the [`ItemCosine::table`] being computed; all zero
    /// between calls.
    static MARKS: std::cell::RefCell<Vec<u64>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// How many values two strictly ascending lists share: a merge whose steps are arithmetic
/// instead of branches. Which list advances is data-dependent and unpredictable, so a branchy
/// merge mispredicts about every other step; serving explanations run a few hundred of these
/// per list (each pick against each history item).
fn sorted_overlap(x: &[u32], y: &[u32]) -> usize {
    let (mut i, mut j, mut common) = (0, 0, 0usize);
    while i < x.len() && j < y.len() {
        let (a, b) = (x[i], y[j]);
        common += usize::from(a == b);
        i += usize::from(a <= b);
        j += usize::from(a >= b);
    }
    common
}

/// Mean [`intra_list_diversity`] over lists (0 for none).
pub fn mean_intra_list_diversity(lists: &[Vec<u32>], sim: impl Fn(u32, u32) -> f32 + Sync) -> f64 {
    use rayon::prelude::*;
    if lists.is_empty() {
        return 0.0;
    }
    let total: f64 = lists
        .par_iter()
        .map(|l| intra_list_diversity(l, &sim))
        .sum();
    total / lists.len() as f64
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

    proptest! {
        #[test]
        fn the_branchless_overlap_counts_the_shared_values(
            a in proptest::collection::btree_set(0u32..200, 0..60),
            b in proptest::collection::btree_set(0u32..200, 0..60),
        ) {
            let x: Vec<u32> = a.iter().copied().collect();
            let y: Vec<u32> = b.iter().copied().collect();
            prop_assert_eq!(sorted_overlap(&x, &y), a.intersection(&b).count());
        }
    }

    proptest! {
        /// The table is the pairwise cosine, for lists longer than one pass of 64 marks, with
        /// repeated and unknown items.
        #[test]
        fn the_table_is_the_pairwise_cosine(
            cells in prop::collection::vec((0u32..40, 0u32..90), 0..400),
            from in prop::collection::vec(0u32..95, 0..80),
            to in prop::collection::vec(0u32..95, 0..12),
        ) {
            let m = Csr::from_triplets(40, 90, cells.into_iter().map(|(u, i)| (u, i, 1.0))).unwrap();
            let c = ItemCosine::new(&m);
            let table = c.table(&from, &to);
            prop_assert_eq!(table.len(), from.len() * to.len());
            for (r, &b) in to.iter().enumerate() {
                for (k, &a) in from.iter().enumerate() {
                    prop_assert_eq!(table[r * from.len() + k], c.sim(a, b), "from {} to {}", a, b);
                }
            }
            // Nothing is left marked for the next call.
            prop_assert_eq!(c.table(&[], &to).len(), 0);
            prop_assert_eq!(c.table(&to, &from), {
                let mut t = Vec::new();
                for &b in &from { for &a in &to { t.push(c.sim(a, b)); } }
                t
            });
        }
    }

    #[test]
    fn item_cosine_hand_computed() {
        // Item 0: users {0, 1, 2}; item 1: {1, 2}; item 2: {3}; item 3: nobody.
        let m = Csr::from_triplets(
            4,
            4,
            [
                (0, 0, 1.0),
                (1, 0, 5.0),
                (2, 0, 1.0),
                (1, 1, 1.0),
                (2, 1, 2.0),
                (3, 2, 1.0),
            ],
        )
        .unwrap();
        let c = ItemCosine::new(&m);
        assert!((c.sim(0, 1) - (2.0 / 6f32.sqrt())).abs() < 1e-6);
        assert_eq!(c.sim(1, 0), c.sim(0, 1));
        assert_eq!(c.sim(0, 2), 0.0);
        assert_eq!(c.sim(0, 3), 0.0);
        assert!((c.sim(2, 2) - 1.0).abs() < 1e-6);
        assert_eq!(c.sim(0, 99), 0.0);
        // List [0, 1, 2]: pairs (0,1) 1 − 2/√6, (0,2) 1, (1,2) 1.
        let want = (3.0 - 2.0 / 6f64.sqrt()) / 3.0;
        let got = mean_intra_list_diversity(&[vec![0, 1, 2], vec![2]], |a, b| c.sim(a, b));
        assert!((got - want / 2.0).abs() < 1e-6, "{got}");
        assert_eq!(mean_intra_list_diversity(&[], |_, _| 0.0), 0.0);
    }

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
