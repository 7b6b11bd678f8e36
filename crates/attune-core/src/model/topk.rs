//! Top-k selection over a score vector, skipping items the user has already seen.
//!
//! A bounded min-heap of `k` entries: O(n log k) worst case, and in practice close to one
//! comparison per item once the heap holds good candidates, because most scores fall below the
//! current threshold. The order is total and deterministic: higher score first, and on equal
//! scores the lower item index first. NaN scores are never returned.
//!
//! The caller owns the output buffer (`out` is cleared and refilled), so a serving loop does not
//! allocate per request.

/// `a` ranks before `b`: higher score, then lower index.
#[inline(always)]
pub(crate) fn better(a: (u32, f32), b: (u32, f32)) -> bool {
    a.1 > b.1 || (a.1 == b.1 && a.0 < b.0)
}

/// A min-heap (root = worst kept entry) stored in the caller's vector. The vector may be
/// wrapped again later (the batched scorer keeps one per user across item blocks); call
/// `finish` once at the end to sort it best first.
pub(crate) struct Heap<'a> {
    pub(crate) v: &'a mut Vec<(u32, f32)>,
    pub(crate) k: usize,
}

impl Heap<'_> {
    /// Offer one candidate (NaN must be filtered by the caller).
    #[inline(always)]
    pub(crate) fn offer(&mut self, e: (u32, f32)) {
        if self.v.len() < self.k {
            self.v.push(e);
            let mut i = self.v.len() - 1;
            while i > 0 {
                let p = (i - 1) / 2;
                if better(self.v[p], self.v[i]) {
                    self.v.swap(p, i);
                    i = p;
                } else {
                    break;
                }
            }
        } else if better(e, self.v[0]) {
            self.v[0] = e;
            let n = self.v.len();
            let mut i = 0;
            loop {
                let (l, r) = (2 * i + 1, 2 * i + 2);
                let mut worst = i;
                if l < n && better(self.v[worst], self.v[l]) {
                    worst = l;
                }
                if r < n && better(self.v[worst], self.v[r]) {
                    worst = r;
                }
                if worst == i {
                    break;
                }
                self.v.swap(i, worst);
                i = worst;
            }
        }
    }

    /// Sort the kept entries best first.
    pub(crate) fn finish(self) {
        self.v.sort_unstable_by(|a, b| {
            if better(*a, *b) {
                std::cmp::Ordering::Less
            } else {
                std::cmp::Ordering::Greater
            }
        });
    }
}

/// The best `k` items of `scores` (item `i` has score `scores[i]`) that are not in `exclude`,
/// best first, into `out`.
///
/// `exclude` must be sorted ascending (a CSR row of the user's history is); it is walked in step
/// with the scores, so exclusion costs O(|exclude|), not a hash lookup per item.
pub fn top_k_into(scores: &[f32], k: usize, exclude: &[u32], out: &mut Vec<(u32, f32)>) {
    debug_assert!(
        exclude.windows(2).all(|w| w[0] <= w[1]),
        "exclude must be sorted"
    );
    out.clear();
    if k == 0 {
        return;
    }
    out.reserve(k.min(scores.len()));
    let mut heap = Heap { v: out, k };
    let mut ex = exclude.iter().copied().peekable();
    // Once the heap is full, a score that is not above the worst kept one cannot enter: items
    // come in increasing index order, so an equal score loses the tie. Testing that first makes
    // the common case one comparison (NaN fails `>` too and is skipped here).
    let mut threshold = f32::NEG_INFINITY;
    let mut full = false;
    for (i, &s) in scores.iter().enumerate() {
        if full && s.partial_cmp(&threshold) != Some(std::cmp::Ordering::Greater) {
            continue;
        }
        let i = i as u32;
        while ex.peek().is_some_and(|&e| e < i) {
            ex.next();
        }
        if ex.peek() == Some(&i) || s.is_nan() {
            continue;
        }
        heap.offer((i, s));
        if heap.v.len() == k {
            full = true;
            threshold = heap.v[0].1;
        }
    }
    heap.finish();
}

/// Allocating convenience form of [`top_k_into`].
pub fn top_k(scores: &[f32], k: usize, exclude: &[u32]) -> Vec<(u32, f32)> {
    let mut out = Vec::new();
    top_k_into(scores, k, exclude, &mut out);
    out
}

/// The best `k` of a candidate list: `scores[t]` is the score of `items[t]`. Items in the sorted
/// `exclude` list are skipped (binary search, since candidates come in any order).
pub fn top_k_of_into(
    items: &[u32],
    scores: &[f32],
    k: usize,
    exclude: &[u32],
    out: &mut Vec<(u32, f32)>,
) {
    assert_eq!(items.len(), scores.len(), "one score per candidate");
    out.clear();
    if k == 0 {
        return;
    }
    let mut heap = Heap { v: out, k };
    for (&i, &s) in items.iter().zip(scores) {
        if s.is_nan() || exclude.binary_search(&i).is_ok() {
            continue;
        }
        heap.offer((i, s));
    }
    heap.finish();
}

/// What [`top_k_into`] gives on a vector of `n_items` scores that are 0 everywhere but
/// `votes` (each item at most once), without building the vector: the positive votes compete
/// in a heap, and only when they do not fill `k` do zero-scored items follow (lowest index
/// first, as ties break in the dense form), then the negative votes. `admit(i)` false leaves
/// item `i` out, as do the sorted `exclude` and NaN votes. A neighbourhood model votes for a
/// few thousand items of a catalog of tens of thousands: its list no longer costs a pass over
/// the whole catalog.
pub fn top_k_sparse_into(
    votes: &[(u32, f32)],
    n_items: usize,
    admit: impl Fn(u32) -> bool,
    k: usize,
    exclude: &[u32],
    out: &mut Vec<(u32, f32)>,
) {
    let ok = |i: u32| (i as usize) < n_items && admit(i) && exclude.binary_search(&i).is_err();
    let (mut items, mut scores) = (Vec::new(), Vec::new());
    for &(i, s) in votes {
        if s > 0.0 && ok(i) {
            items.push(i);
            scores.push(s);
        }
    }
    top_k_of_into(&items, &scores, k, &[], out);
    if out.len() >= k {
        return;
    }
    // Rare (fewer positive votes than asked): the rest as the dense form orders them.
    let mut voted: Vec<(u32, f32)> = votes.to_vec();
    voted.sort_unstable_by_key(|e| e.0);
    for i in 0..n_items as u32 {
        if out.len() >= k {
            return;
        }
        let s = voted
            .binary_search_by_key(&i, |e| e.0)
            .map_or(0.0, |p| voted[p].1);
        if s == 0.0 && ok(i) {
            out.push((i, s));
        }
    }
    let (mut items, mut scores) = (Vec::new(), Vec::new());
    for &(i, s) in &voted {
        if s < 0.0 && ok(i) {
            items.push(i);
            scores.push(s);
        }
    }
    let mut rest = Vec::new();
    top_k_of_into(&items, &scores, k - out.len(), &[], &mut rest);
    out.extend(rest);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn oracle(scores: &[f32], k: usize, exclude: &[u32]) -> Vec<(u32, f32)> {
        let mut all: Vec<(u32, f32)> = scores
            .iter()
            .enumerate()
            .map(|(i, &s)| (i as u32, s))
            .filter(|(i, s)| !s.is_nan() && !exclude.contains(i))
            .collect();
        all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        all.truncate(k);
        all
    }

    #[test]
    fn picks_best_skips_seen_and_breaks_ties_by_index() {
        let s = [0.5, 2.0, f32::NAN, 2.0, -1.0, 3.0];
        assert_eq!(top_k(&s, 3, &[5]), vec![(1, 2.0), (3, 2.0), (0, 0.5)]);
        assert_eq!(top_k(&s, 0, &[]), vec![]);
        assert_eq!(top_k(&s, 10, &[0, 1, 3, 5]), vec![(4, -1.0)]);
        let mut out = vec![(9, 9.0)];
        top_k_of_into(&[5, 0, 4], &[1.0, 1.0, 7.0], 2, &[4], &mut out);
        assert_eq!(out, vec![(0, 1.0), (5, 1.0)]);
    }

    proptest! {
        /// The sparse form equals the dense one on the spread-out vector, where items not
        /// admitted score −∞ and infinite scores are dropped afterwards (as serving masks).
        #[test]
        fn the_sparse_top_is_the_dense_top(
            votes in prop::collection::btree_map(
                0u32..60,
                prop_oneof![(-8i32..8).prop_map(|v| v as f32 / 4.0), Just(0.0), Just(-0.0), Just(f32::NAN)],
                0..40,
            ),
            n_items in 1usize..70,
            k in 0usize..80,
            exclude in prop::collection::btree_set(0u32..70, 0..10),
            banned in prop::collection::btree_set(0u32..70, 0..10),
        ) {
            let votes: Vec<(u32, f32)> = votes.into_iter().collect();
            let exclude: Vec<u32> = exclude.into_iter().collect();
            let mut dense = vec![0f32; n_items];
            for &(i, s) in &votes {
                if let Some(d) = dense.get_mut(i as usize) {
                    *d = s;
                }
            }
            for &b in &banned {
                if let Some(d) = dense.get_mut(b as usize) {
                    *d = f32::NEG_INFINITY;
                }
            }
            let mut want = Vec::new();
            top_k_into(&dense, k, &exclude, &mut want);
            want.retain(|e| e.1.is_finite());
            let mut got = Vec::new();
            top_k_sparse_into(&votes, n_items, |i| !banned.contains(&i), k, &exclude, &mut got);
            let bits = |v: &[(u32, f32)]| v.iter().map(|e| (e.0, e.1.to_bits())).collect::<Vec<_>>();
            prop_assert_eq!(bits(&got), bits(&want));
        }

        #[test]
        fn equals_sort_and_truncate(
            raw in prop::collection::vec(prop_oneof![(-5i32..5).prop_map(|v| v as f32), Just(f32::NAN), Just(f32::NEG_INFINITY)], 0..80),
            k in 0usize..20,
            ex in prop::collection::btree_set(0u32..90, 0..20),
        ) {
            let ex: Vec<u32> = ex.into_iter().collect();
            let got = top_k(&raw, k, &ex);
            let want = oracle(&raw, k, &ex);
            prop_assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(&want) {
                prop_assert_eq!(g.0, w.0);
                prop_assert_eq!(g.1.to_bits(), w.1.to_bits());
            }
            let items: Vec<u32> = (0..raw.len() as u32).rev().collect();
            let rev: Vec<f32> = raw.iter().rev().copied().collect();
            let mut sub = Vec::new();
            top_k_of_into(&items, &rev, k, &ex, &mut sub);
            prop_assert_eq!(sub.iter().map(|e| e.0).collect::<Vec<_>>(), want.iter().map(|e| e.0).collect::<Vec<_>>());
        }
    }
}
