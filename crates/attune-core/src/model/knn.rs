//! Item-kNN: cosine similarity between item columns with shrinkage, top-K neighbours per item.
//!
//! `sim(i, j) = Σ_u w_ui w_uj / (‖w_i‖ ‖w_j‖ + shrink)`, where `w` is the (optionally BM25- or
//! TF-IDF-weighted, [`crate::sparse::bm25_weight`]) interaction matrix. Shrinkage pulls the
//! similarity of items with little co-occurrence evidence toward 0. Each item keeps its `K`
//! most similar neighbours (positive similarities only); a user's score for `j` is
//! `Σ_{i ∈ history} w_ui · sim_K(i, j)`, as in the `implicit` library's `ItemItemRecommender`.
//!
//! Similarities are computed one item at a time, each pair once: scatter the co-occurrences of
//! item `i` with the items `j > i` through its users into a dense per-thread accumulator, visit
//! only the items reached, and offer each similarity to both items' bounded candidate lists.
//! Cost about `Σ_u nnz_u² / 2`. Memory: the weighted matrix twice (by item, and by user with a
//! start position per cell); per thread the accumulator and `K` candidates per item.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::topk::better;
use super::{
    check_non_negative_finite, check_unit_interval, normalize_history, FoldIn, ParamError, Scorer,
    UserRepr,
};
use crate::sparse::{bm25_weight, tfidf_weight, Csr};

/// How interactions are weighted before similarities are computed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Weighting {
    /// Raw weights.
    None,
    /// BM25 over items as documents and users as terms ([`bm25_weight`]).
    Bm25 {
        /// Term-frequency saturation (`implicit` default 100).
        k1: f32,
        /// Length normalization in `[0, 1]` (`implicit` default 0.8).
        b: f32,
    },
    /// TF-IDF over items as documents ([`tfidf_weight`]).
    TfIdf,
}

/// Item-kNN hyperparameters (unchecked).
#[derive(Debug, Clone, PartialEq)]
pub struct ItemKnnParams {
    neighbours: usize,
    shrink: f32,
    weighting: Weighting,
}

/// Checked item-kNN hyperparameters.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemKnnValidParams(ItemKnnParams);

impl Default for ItemKnnParams {
    /// 20 neighbours, no shrinkage, raw weights (the `implicit` defaults).
    fn default() -> Self {
        Self {
            neighbours: 20,
            shrink: 0.0,
            weighting: Weighting::None,
        }
    }
}

impl ItemKnnParams {
    /// Neighbours kept per item (`K`).
    pub fn neighbours(mut self, neighbours: usize) -> Self {
        self.neighbours = neighbours;
        self
    }

    /// Shrinkage added to the cosine denominator.
    pub fn shrink(mut self, shrink: f32) -> Self {
        self.shrink = shrink;
        self
    }

    /// Interaction weighting.
    pub fn weighting(mut self, weighting: Weighting) -> Self {
        self.weighting = weighting;
        self
    }

    /// Validate every field.
    pub fn check(self) -> Result<ItemKnnValidParams, ParamError> {
        if self.neighbours == 0 {
            return Err(ParamError::new(
                "itemknn",
                "neighbours",
                0,
                "must be at least 1",
            ));
        }
        check_non_negative_finite("itemknn", "shrink", self.shrink)?;
        if let Weighting::Bm25 { k1, b } = self.weighting {
            check_non_negative_finite("itemknn", "bm25.k1", k1)?;
            check_unit_interval("itemknn", "bm25.b", b, "must be between 0 and 1")?;
        }
        Ok(ItemKnnValidParams(self))
    }
}

/// Items per unit of work handed to a worker thread. Small enough that the expensive low
/// indices (each row computes the pairs with every higher item) spread over all threads and the
/// tail is short, large enough that taking a unit costs nothing.
const CHUNK: usize = 64;

impl ItemKnnValidParams {
    /// Compute the neighbour lists from `data` (users x items).
    ///
    /// Each pair of items is computed once (the row of `i` accumulates only items `j > i`) and
    /// offered to both items' candidate lists, which halves the work of the one-row-at-a-time
    /// sweep. Every worker thread keeps candidate lists for all items, so no locks are taken;
    /// the lists are merged at the end. The result does not depend on the thread count or
    /// scheduling: a pair's similarity is the same sum in the same (user) order whichever item
    /// computes it, and candidates are ranked by a total order (higher similarity, then lower
    /// index).
    pub fn fit(&self, data: &Csr) -> ItemKnnModel {
        let p = &self.0;
        let by_item = match p.weighting {
            Weighting::None => data.transpose(),
            Weighting::Bm25 { k1, b } => bm25_weight(&data.transpose(), k1, b),
            Weighting::TfIdf => tfidf_weight(&data.transpose()),
        };
        let n = by_item.n_rows();
        let k = p.neighbours.min(n.saturating_sub(1)).max(1);
        let pass = Pass {
            by_user: &UserRows::new(&by_item, data.n_rows()),
            by_item: &by_item,
            norms: &column_norms(&by_item),
            shrink: p.shrink,
        };
        let next = AtomicUsize::new(0);
        let workers: Vec<Candidates> = rayon::broadcast(|_| pass.work(&next, k));
        ItemKnnModel {
            neighbours: merge(&workers, n, k),
        }
    }
}

/// Euclidean norm of every row of `by_item` (summed in f64: the norms of popular items add
/// thousands of terms).
fn column_norms(by_item: &Csr) -> Vec<f32> {
    (0..by_item.n_rows())
        .map(|i| {
            by_item
                .row(i)
                .1
                .iter()
                .map(|&v| f64::from(v) * f64::from(v))
                .sum::<f64>()
                .sqrt() as f32
        })
        .collect()
}

/// The weighted matrix by user, laid out for the sweep: each user's `(item, weight)` cells
/// packed together (one memory stream instead of two) and closed by an [`END`] cell, and for
/// every cell of `by_item` the position just past it in its user's row, where that user's items
/// `j > i` begin.
///
/// The positions replace a binary search per (item, user) visit, whose dependent loads into a
/// row that is not in cache yet cost more than the rest of the visit; being absolute, they also
/// let the sweep prefetch the next visits' rows without first loading the row offsets.
struct UserRows {
    cells: Vec<(u32, f32)>,
    start: Vec<usize>,
}

/// The item index that closes every user's row in [`UserRows`] (item indices are below it).
const END: u32 = u32::MAX;

/// Visits this far ahead have their user row prefetched: enough to cover a memory latency
/// with the scatter of the visits in between, near enough that few are wasted at row ends.
const PREFETCH_AHEAD: usize = 4;

impl UserRows {
    /// Transpose `by_item` (a counting sort: items are visited in order, so rows come out
    /// sorted), noting where each cell lands.
    fn new(by_item: &Csr, n_users: usize) -> Self {
        assert!(
            by_item.n_rows() < END as usize,
            "item indices must stay below END"
        );
        let mut next = vec![0usize; n_users + 1];
        for &u in by_item.indices() {
            next[u as usize + 1] += 1;
        }
        for u in 0..n_users {
            next[u + 1] += next[u] + 1;
        }
        let mut cells = vec![(END, 0f32); by_item.nnz() + n_users];
        let mut start = vec![0usize; by_item.nnz()];
        let mut at = 0;
        for i in 0..by_item.n_rows() {
            let (users, weights) = by_item.row(i);
            for (&u, &w) in users.iter().zip(weights) {
                let slot = &mut next[u as usize];
                cells[*slot] = (i as u32, w);
                *slot += 1;
                start[at] = *slot;
                at += 1;
            }
        }
        Self { cells, start }
    }

    /// The cells from position `from` to the end of that user's row.
    #[inline]
    fn tail(&self, from: usize) -> impl Iterator<Item = &(u32, f32)> {
        self.cells[from..].iter().take_while(|c| c.0 != END)
    }
}

/// Ask the CPU to start loading the cache line holding `p`: a hint, with no effect on results.
#[inline(always)]
fn prefetch<T>(p: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults and reads nothing into the program; `sse`, which it
    // needs, is part of the x86_64 baseline.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>((p as *const T).cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// One worker's reusable buffers: the dense accumulator of a row's dot products (all zero
/// between rows), the items it reached (the first `n_touched` of `touched`, a buffer kept
/// longer than that by at least `n_items`), and the offers to other items' lists waiting for
/// their second loop.
struct Scratch {
    acc: Vec<f32>,
    touched: Vec<u32>,
    n_touched: usize,
    pending: Vec<(u32, f32)>,
}

/// The read-only inputs of the similarity sweep.
struct Pass<'a> {
    by_item: &'a Csr,
    by_user: &'a UserRows,
    norms: &'a [f32],
    shrink: f32,
}

impl Pass<'_> {
    /// One worker thread: take chunks of items until none is left, and return the candidates
    /// of every item from the pairs this thread computed.
    fn work(&self, next: &AtomicUsize, k: usize) -> Candidates {
        let n = self.by_item.n_rows();
        let mut cand = Candidates::new(n, k);
        let mut scratch = Scratch {
            acc: vec![0f32; n],
            touched: vec![0; 2 * n],
            n_touched: 0,
            pending: Vec::new(),
        };
        loop {
            let lo = next.fetch_add(1, Ordering::Relaxed) * CHUNK;
            if lo >= n {
                return cand;
            }
            for i in lo..n.min(lo + CHUNK) {
                self.upper_row(i, &mut scratch);
                self.offer_row(i, &mut scratch, &mut cand);
            }
        }
    }

    /// Accumulate `dot(i, j)` for every `j > i` sharing a user with `i` into `acc`, listing
    /// each `j` in `touched` when its sum leaves zero.
    ///
    /// No separate "seen" flags: a `j` listed twice (its sum passed through exactly zero) is
    /// harmless, since the second visit finds the sum already taken and reset to zero. And no
    /// branch: every `j` is written to the next free place and the count advances only on a
    /// first touch, which about half the cells are, a branch no predictor could learn. A user's
    /// tail reaches at most `n` items, so `n` free places before each visit are enough.
    #[inline]
    fn upper_row(&self, i: usize, scratch: &mut Scratch) {
        let n = scratch.acc.len();
        let (acc, touched) = (&mut scratch.acc[..], &mut scratch.touched);
        let mut len = 0;
        let wi = self.by_item.row(i).1;
        let starts = &self.by_user.start[self.by_item.indptr()[i]..][..wi.len()];
        for (e, (&a, &from)) in wi.iter().zip(starts).enumerate() {
            if let Some(&ahead) = starts.get(e + PREFETCH_AHEAD) {
                prefetch(&self.by_user.cells[ahead]);
            }
            if touched.len() < len + n {
                touched.resize(len + n, 0);
            }
            let free = &mut touched[len..];
            let mut added = 0;
            for &(j, b) in self.by_user.tail(from) {
                let slot = &mut acc[j as usize];
                free[added] = j;
                added += usize::from(*slot == 0.0);
                *slot += a * b;
            }
            len += added;
        }
        scratch.n_touched = len;
    }

    /// Turn the sums of row `i` into similarities, offer each positive one to both items'
    /// candidates, and leave `acc` all zero and `pending` empty.
    ///
    /// Row `i`'s own list stays in cache, but the other item's list is a likely cache miss:
    /// those offers that pass its floor are set aside in `pending` and made in a second loop
    /// that prefetches the lists a few offers ahead.
    #[inline]
    fn offer_row(&self, i: usize, scratch: &mut Scratch, cand: &mut Candidates) {
        let ni = self.norms[i];
        for &j in &scratch.touched[..scratch.n_touched] {
            let dot = std::mem::take(&mut scratch.acc[j as usize]);
            let denom = ni * self.norms[j as usize] + self.shrink;
            // Only positive similarities carry evidence; `!(x > 0)` also drops NaN.
            if !(dot > 0.0 && denom > 0.0) {
                continue;
            }
            let sim = dot / denom;
            if sim > 0.0 {
                cand.offer(i, (j, sim));
                if cand.may_take(j as usize, sim) {
                    scratch.pending.push((j, sim));
                }
            }
        }

        for (t, &(j, sim)) in scratch.pending.iter().enumerate() {
            if let Some(&(ahead, _)) = scratch.pending.get(t + PREFETCH_AHEAD) {
                cand.prefetch(ahead as usize);
            }
            cand.offer(j as usize, (i as u32, sim));
        }
        scratch.pending.clear();
    }
}

/// The best `k` candidates offered so far to every item, each list sorted best first in `k`
/// slots of one flat array. A full list's worst similarity is copied into `floor`, a small
/// array that stays in cache, so most offers are rejected by one look-up there.
struct Candidates {
    k: usize,
    slots: Vec<(u32, f32)>,
    len: Vec<u32>,
    floor: Vec<f32>,
}

impl Candidates {
    fn new(n: usize, k: usize) -> Self {
        Self {
            k,
            slots: vec![(0, 0.0); n * k],
            len: vec![0; n],
            floor: vec![f32::NEG_INFINITY; n],
        }
    }

    /// The kept candidates of `item`, best first.
    fn list(&self, item: usize) -> &[(u32, f32)] {
        &self.slots[item * self.k..][..self.len[item] as usize]
    }

    /// Whether a candidate with similarity `sim` can enter `item`'s list (an equal one can, if
    /// its index is lower). Floors only rise, so a `false` stays `false`.
    #[inline]
    fn may_take(&self, item: usize, sim: f32) -> bool {
        sim >= self.floor[item]
    }

    /// Start loading `item`'s list into cache.
    #[inline]
    fn prefetch(&self, item: usize) {
        let list = &self.slots[item * self.k..][..self.k];
        prefetch(&list[0]);
        prefetch(&list[self.k / 2]);
        prefetch(&list[self.k - 1]);
    }

    /// Insert `e` into `item`'s list if it ranks among the best `k` (insertion into a short
    /// sorted array: cheaper than a heap for `k` in the tens, and offers that pass the floor
    /// are rare once lists fill).
    #[inline]
    fn offer(&mut self, item: usize, e: (u32, f32)) {
        if e.1 < self.floor[item] {
            return;
        }
        let k = self.k;
        let list = &mut self.slots[item * k..][..k];
        let len = self.len[item] as usize;
        let mut pos = len;
        while pos > 0 && better(e, list[pos - 1]) {
            pos -= 1;
        }
        if pos == k {
            return;
        }
        let end = (len + 1).min(k);
        list.copy_within(pos..end - 1, pos + 1);
        list[pos] = e;
        self.len[item] = end as u32;
        if end == k {
            self.floor[item] = list[k - 1].1;
        }
    }
}

/// Every item's best `k` over all workers' candidates (a pair was offered to one worker only),
/// as a CSR with rows sorted by item index.
fn merge(workers: &[Candidates], n: usize, k: usize) -> Csr {
    let mut indptr = Vec::with_capacity(n + 1);
    indptr.push(0);
    let (mut indices, mut values) = (Vec::with_capacity(n * k), Vec::with_capacity(n * k));
    let mut row: Vec<(u32, f32)> = Vec::new();
    for i in 0..n {
        row.clear();
        for w in workers {
            row.extend_from_slice(w.list(i));
        }
        if row.len() > k {
            row.select_nth_unstable_by(k - 1, rank);
            row.truncate(k);
        }
        row.sort_unstable_by_key(|e| e.0);
        for &(j, s) in &row {
            indices.push(j);
            values.push(s);
        }
        indptr.push(indices.len());
    }
    Csr::from_parts(n, n, indptr, indices, values).expect("neighbour rows are sorted and finite")
}

/// [`better`] as an ordering, best first.
fn rank(a: &(u32, f32), b: &(u32, f32)) -> std::cmp::Ordering {
    if better(*a, *b) {
        std::cmp::Ordering::Less
    } else if better(*b, *a) {
        std::cmp::Ordering::Greater
    } else {
        std::cmp::Ordering::Equal
    }
}

/// A trained item-kNN model: each item's top-K neighbours and similarities (items x items CSR).
#[derive(Debug, Clone, PartialEq)]
pub struct ItemKnnModel {
    neighbours: Csr,
}

impl ItemKnnModel {
    /// A model over a square item-to-item weight matrix built elsewhere (the transition
    /// model's successors).
    pub(crate) fn from_neighbours(neighbours: Csr) -> Self {
        debug_assert_eq!(neighbours.n_rows(), neighbours.n_cols());
        Self { neighbours }
    }

    /// Neighbours of item `i` (sorted by item index) and their similarities: "similar items".
    pub fn similar(&self, i: u32) -> (&[u32], &[f32]) {
        self.neighbours.row(i as usize)
    }

    /// The whole neighbour matrix.
    pub fn neighbours(&self) -> &Csr {
        &self.neighbours
    }
}

impl Scorer for ItemKnnModel {
    fn n_items(&self) -> usize {
        self.neighbours.n_rows()
    }

    fn score_into(&self, user: &UserRepr, items: &[u32], out: &mut [f32]) {
        assert_eq!(items.len(), out.len(), "one output per candidate");
        out.fill(0.0);
        if let UserRepr::Sparse(h) = user {
            for (o, &j) in out.iter_mut().zip(items) {
                *o = h
                    .iter()
                    .map(|&(i, w)| w * self.neighbours.get(i as usize, j).unwrap_or(0.0))
                    .sum();
            }
        }
    }

    fn score_all_into(&self, user: &UserRepr, out: &mut [f32]) {
        assert_eq!(out.len(), self.n_items(), "one output per item");
        out.fill(0.0);
        if let UserRepr::Sparse(h) = user {
            for &(i, w) in h {
                let (js, sims) = self.neighbours.row(i as usize);
                for (&j, &s) in js.iter().zip(sims) {
                    out[j as usize] += w * s;
                }
            }
        }
    }
}

impl FoldIn for ItemKnnModel {
    /// The history itself (sorted, duplicates summed, unknown items dropped).
    fn fold_in(&self, interactions: &[(u32, f32)]) -> UserRepr {
        UserRepr::Sparse(normalize_history(interactions, self.n_items()))
    }
}

impl super::ModelParts for ItemKnnModel {
    const KIND: &'static str = "item-knn";

    fn to_parts(&self) -> super::Parts<'_> {
        super::Parts::new(Self::KIND).csr("neighbours", &self.neighbours)
    }

    /// The neighbour matrix must be square (items x items).
    fn from_parts(mut parts: super::Parts<'_>) -> Result<Self, super::PartsError> {
        parts.expect_kind(Self::KIND)?;
        let neighbours = parts.take_csr(Self::KIND, "neighbours", None)?;
        if neighbours.n_rows() != neighbours.n_cols() {
            return Err(super::PartsError::WrongShape {
                kind: Self::KIND,
                name: "neighbours".into(),
                expected: "a square items x items matrix".into(),
                got: vec![neighbours.n_rows(), neighbours.n_cols()],
            });
        }
        Ok(Self { neighbours })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::testdata::random_matrix;
    use proptest::prelude::*;

    /// All-pairs cosine on the dense matrix, then sort-and-truncate: the oracle.
    fn dense_neighbours(data: &Csr, k: usize, shrink: f32) -> Vec<Vec<(u32, f32)>> {
        let (m, n) = (data.n_rows(), data.n_cols());
        let x = data.to_dense();
        let x = &x;
        let col = |i: usize| (0..m).map(move |u| f64::from(x[u * n + i]));
        let norm = |i: usize| col(i).map(|v| v * v).sum::<f64>().sqrt();
        (0..n)
            .map(|i| {
                let mut s: Vec<(u32, f32)> = (0..n)
                    .filter(|&j| j != i)
                    .map(|j| {
                        let d: f64 = col(i).zip(col(j)).map(|(a, b)| a * b).sum();
                        let den = norm(i) * norm(j) + f64::from(shrink);
                        (j as u32, if den > 0.0 { (d / den) as f32 } else { 0.0 })
                    })
                    .filter(|e| e.1 > 0.0)
                    .collect();
                s.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                s.truncate(k);
                s
            })
            .collect()
    }

    /// The fit written the obvious way: every pair's dot product by merging the two items'
    /// user lists, summed in increasing user order (the order the fit sums in, so the two agree
    /// bit for bit), then sort by (similarity desc, index asc) and truncate.
    fn reference_fit(data: &Csr, weighting: Weighting, k: usize, shrink: f32) -> Csr {
        let by_item = match weighting {
            Weighting::None => data.transpose(),
            Weighting::Bm25 { k1, b } => bm25_weight(&data.transpose(), k1, b),
            Weighting::TfIdf => tfidf_weight(&data.transpose()),
        };
        let n = by_item.n_rows();
        let norm = |i: usize| {
            let sq: f64 = by_item.row(i).1.iter().map(|&v| f64::from(v).powi(2)).sum();
            sq.sqrt() as f32
        };
        let dot = |i: usize, j: usize| {
            let ((ui, wi), (uj, wj)) = (by_item.row(i), by_item.row(j));
            let mut s = 0f32;
            for (a, &u) in ui.iter().enumerate() {
                if let Ok(b) = uj.binary_search(&u) {
                    s += wi[a] * wj[b];
                }
            }
            s
        };
        let mut triplets = Vec::new();
        for i in 0..n {
            let mut row: Vec<(u32, f32)> = (0..n)
                .filter(|&j| j != i)
                .map(|j| {
                    let den = norm(i) * norm(j) + shrink;
                    let sim = if den > 0.0 { dot(i, j) / den } else { 0.0 };
                    (j as u32, sim)
                })
                .filter(|e| e.1 > 0.0)
                .collect();
            row.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            row.truncate(k);
            triplets.extend(row.into_iter().map(|(j, s)| (i as u32, j, s)));
        }
        Csr::from_triplets(n, n, triplets).unwrap()
    }

    #[test]
    fn fit_equals_reference_with_shrinkage_weighting_ties_and_any_thread_count() {
        let weightings = [
            Weighting::None,
            Weighting::Bm25 { k1: 100.0, b: 0.8 },
            Weighting::Bm25 { k1: 1.2, b: 0.3 },
            Weighting::TfIdf,
        ];
        let pools: Vec<rayon::ThreadPool> = [1, 3]
            .iter()
            .map(|&t| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(t)
                    .build()
                    .unwrap()
            })
            .collect();
        for seed in 0..8u64 {
            // Binary cells (max value 1) on few users make many equal similarities, so the
            // cut at K falls inside ties; counts 1..4 make distinct ones.
            let max_value = if seed % 2 == 0 { 1 } else { 4 };
            let n_items = 150 + 10 * seed as usize;
            let data = random_matrix(30, n_items, 0.08, max_value, seed);
            for (t, &weighting) in weightings.iter().enumerate() {
                for (k, shrink) in [(1, 0.0), (5, 0.0), (20, 2.5), (n_items + 3, 0.5)] {
                    let params = ItemKnnParams::default()
                        .neighbours(k)
                        .shrink(shrink)
                        .weighting(weighting)
                        .check()
                        .unwrap();
                    let got = pools[(seed as usize + t) % 2].install(|| params.fit(&data));
                    let want = reference_fit(&data, weighting, k, shrink);
                    assert_eq!(
                        got.neighbours(),
                        &want,
                        "seed {seed}, {weighting:?}, k {k}, shrink {shrink}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_sum_passing_through_zero_is_counted_once() {
        // Item 0 meets item 1 through users 0, 1, 2 with products 1, -1, 2: the running sum
        // of the pair is 1, 0, 2, so item 1 is listed twice while item 0's row is swept.
        let data = Csr::from_triplets(
            3,
            3,
            [
                (0, 0, 1.0),
                (0, 1, 1.0),
                (1, 0, 1.0),
                (1, 1, -1.0),
                (2, 0, 1.0),
                (2, 1, 2.0),
                (2, 2, 1.0),
            ],
        )
        .unwrap();
        let model = ItemKnnParams::default().check().unwrap().fit(&data);
        assert_eq!(
            model.neighbours(),
            &reference_fit(&data, Weighting::None, 20, 0.0)
        );
        assert_eq!(model.similar(0).0, &[1, 2]);
    }

    #[test]
    fn neighbours_must_be_at_least_one() {
        assert_eq!(
            ItemKnnParams::default()
                .neighbours(0)
                .check()
                .unwrap_err()
                .field,
            "neighbours"
        );
    }

    #[test]
    fn shrink_must_be_non_negative() {
        assert_eq!(
            ItemKnnParams::default()
                .shrink(-1.0)
                .check()
                .unwrap_err()
                .field,
            "shrink"
        );
    }

    #[test]
    fn bm25_k1_must_be_non_negative() {
        let bad_k1 = ItemKnnParams::default().weighting(Weighting::Bm25 { k1: -1.0, b: 0.5 });
        assert_eq!(bad_k1.check().unwrap_err().field, "bm25.k1");
    }

    #[test]
    fn bm25_b_must_be_between_0_and_1() {
        let bad_b = ItemKnnParams::default().weighting(Weighting::Bm25 { k1: 100.0, b: 1.5 });
        assert_eq!(bad_b.check().unwrap_err().field, "bm25.b");
    }

    #[test]
    fn scores_sum_neighbour_similarities() {
        // Items 0 and 1 always together, item 2 alone with user 2.
        let data = Csr::from_triplets(
            3,
            3,
            [
                (0, 0, 1.0),
                (0, 1, 1.0),
                (1, 0, 1.0),
                (1, 1, 1.0),
                (2, 2, 1.0),
                (2, 0, 1.0),
            ],
        )
        .unwrap();
        let model = ItemKnnParams::default().check().unwrap().fit(&data);
        let (js, sims) = model.similar(1);
        assert_eq!(js, &[0]);
        assert!((sims[0] - 2.0 / (3f32.sqrt() * 2f32.sqrt())).abs() < 1e-6);
        let user = model.fold_in(&[(1, 2.0)]);
        let mut out = vec![0f32; 3];
        model.score_all_into(&user, &mut out);
        assert_eq!(out, vec![2.0 * sims[0], 0.0, 0.0]);
        let mut some = vec![0f32; 2];
        model.score_into(&user, &[2, 0], &mut some);
        assert_eq!(some, vec![0.0, out[0]]);
    }

    #[test]
    fn bm25_weighting_changes_similarities_but_keeps_structure() {
        let data = random_matrix(60, 15, 0.3, 3, 8);
        let plain = ItemKnnParams::default()
            .neighbours(5)
            .check()
            .unwrap()
            .fit(&data);
        let bm25 = ItemKnnParams::default()
            .neighbours(5)
            .weighting(Weighting::Bm25 { k1: 100.0, b: 0.8 })
            .check()
            .unwrap()
            .fit(&data);
        assert_eq!(plain.n_items(), bm25.n_items());
        assert_ne!(plain, bm25);
        assert!(bm25.neighbours().nnz() <= 15 * 5);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn matches_dense_all_pairs(
            n_users in 1usize..30,
            n_items in 1usize..20,
            density in 0.05f64..0.7,
            k in 1usize..8,
            shrink in 0.0f32..5.0,
            seed in 0u64..1000,
        ) {
            let data = random_matrix(n_users, n_items, density, 3, seed);
            let model = ItemKnnParams::default().neighbours(k).shrink(shrink).check().unwrap().fit(&data);
            let want = dense_neighbours(&data, k, shrink);
            for (i, want_i) in want.iter().enumerate() {
                let (js, sims) = model.similar(i as u32);
                prop_assert_eq!(js.len(), want_i.len());
                // Same similarity multiset (ties may pick different items at the cut).
                let mut got: Vec<f32> = sims.to_vec();
                got.sort_by(|a, b| b.total_cmp(a));
                for (g, w) in got.iter().zip(want_i) {
                    prop_assert!((g - w.1).abs() < 1e-5, "item {}: {:?} vs {:?}", i, got, want_i);
                }
            }
        }
    }
}
