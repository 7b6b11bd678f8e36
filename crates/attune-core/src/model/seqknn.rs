//! Sequence-aware nearest neighbours (`seq-knn`): the STAN family of session-kNN (Garg et al.,
//! SIGIR 2019; V-SKNN of Ludewig & Jannach) over users' timelines.
//!
//! A neighbour is a training user whose history shares items with the query. Three things make
//! it sequence-aware where plain user-kNN is not:
//! 1. the query's items are weighted by how recent they are in the user's own timeline (the
//!    history is folded in already decayed by `[train] user_recency_half_life`, so the last
//!    clicks lead the similarity, as V-SKNN's position weights do);
//! 2. `sim(q, n) = Σ_{i ∈ q ∩ n} w_i / (‖w‖ · √|n| + shrink)`, the `K` best neighbours vote;
//! 3. a neighbour's vote for item `j` decays with how far `j` lies in the neighbour's own
//!    timeline from the anchor — the shared item the query weighs most (its latest, ties by
//!    the neighbour's later position): `exp(−|pos_n(j) − pos_n(anchor)| / position_decay)`.
//!    What a neighbour did right around the moment they were where the user is now counts
//!    most; `position_decay = 0` turns it off (every item votes fully: user-kNN on binary
//!    rows).
//!
//! Neighbours are looked up through an item → users index. A popular item is shared by a large
//! part of the user base, so, as V-SKNN samples sessions, each item's list keeps at most
//! `sample` users (a fixed pseudo-random subset, the same on every load); a query then touches
//! at most `sample` users per history item, whatever the catalog's head looks like (on
//! MovieLens-100K, 500 keeps every list whole). A long history still touches hundreds of such
//! lists; `budget` caps the (user, position) entries one query reads: when its items' lists hold
//! more, every item reads the same smaller prefix `q` of its list in hash order, which is exactly
//! the sample a model with `sample = q` keeps, so a heavy user is answered as from a model with a
//! smaller sample and the per-request cost stays bounded (the served p99 is set by the heaviest
//! users). The model keeps each training user's items with
//! their positions (a CSR whose values are positions) and rebuilds the index on load, so a user
//! who arrived a second ago is scored like any other from their live history. Explanations name the history item most
//! alike the pick, as for every model without item weights of its own.

use super::sparse_sums::SparseSums;
use super::topk::top_k_of_into;
use super::{
    check_non_negative_finite, normalize_history, FoldIn, ModelParts, ParamError, Parts,
    PartsError, Scorer, UserRepr,
};
use crate::model::spec::ItemSequences;
use crate::sparse::{Csr, CsrBuilder};

/// `seq-knn` hyperparameters (unchecked).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SeqKnnParams {
    neighbours: usize,
    sample: usize,
    budget: usize,
    position_decay: f32,
    shrink: f32,
}

/// Checked [`SeqKnnParams`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SeqKnnValidParams(SeqKnnParams);

impl Default for SeqKnnParams {
    /// 100 neighbours out of at most 500 users per item and [`DEFAULT_BUDGET`] entries per
    /// query, votes halve about every 3.5 steps away from the anchor, no shrinkage.
    fn default() -> Self {
        Self {
            neighbours: 100,
            sample: 500,
            budget: DEFAULT_BUDGET,
            position_decay: 5.0,
            shrink: 0.0,
        }
    }
}

impl SeqKnnParams {
    /// Neighbours who vote (`K`).
    pub fn neighbours(mut self, neighbours: usize) -> Self {
        self.neighbours = neighbours;
        self
    }

    /// Users per item considered as neighbours (see the module docs).
    pub fn sample(mut self, sample: usize) -> Self {
        self.sample = sample;
        self
    }

    /// (user, position) entries one query reads at most (see the module docs).
    pub fn budget(mut self, entries: usize) -> Self {
        self.budget = entries;
        self
    }

    /// Steps in a neighbour's timeline over which a vote falls to `1/e`; 0 is off.
    pub fn position_decay(mut self, steps: f32) -> Self {
        self.position_decay = steps;
        self
    }

    /// Added to the similarity's denominator (damps neighbours who share little).
    pub fn shrink(mut self, shrink: f32) -> Self {
        self.shrink = shrink;
        self
    }

    /// Validate every field.
    pub fn check(self) -> Result<SeqKnnValidParams, ParamError> {
        if self.neighbours == 0 {
            return Err(ParamError::new(
                "seq-knn",
                "neighbours",
                0,
                "must be at least 1",
            ));
        }
        if self.sample == 0 {
            return Err(ParamError::new(
                "seq-knn",
                "sample",
                0,
                "must be at least 1",
            ));
        }
        if self.budget == 0 {
            return Err(ParamError::new(
                "seq-knn",
                "budget",
                0,
                "must be at least 1",
            ));
        }
        check_non_negative_finite("seq-knn", "position_decay", self.position_decay)?;
        check_non_negative_finite("seq-knn", "shrink", self.shrink)?;
        Ok(SeqKnnValidParams(self))
    }
}

impl SeqKnnValidParams {
    /// Index every user's timeline over `n_items` items (an item's position is its first
    /// appearance).
    pub fn fit(&self, sequences: &ItemSequences, n_items: usize) -> SeqKnnModel {
        let mut b = CsrBuilder::with_capacity(sequences.iter().map(<[u32]>::len).sum());
        let mut row: Vec<(u32, f32)> = Vec::new();
        for (u, s) in sequences.iter().enumerate() {
            row.clear();
            row.extend(s.iter().enumerate().map(|(p, &i)| (i, p as f32)));
            // Stable by item: the first (earliest) position of a repeated item comes first.
            row.sort_by_key(|e| e.0);
            row.dedup_by_key(|e| e.0);
            for &(i, p) in &row {
                b.push(u as u32, i, p).expect("rows in order, items sorted");
            }
        }
        let positions = b
            .build(sequences.n_users(), n_items)
            .expect("sequences hold item indices below n_items");
        SeqKnnModel::new(self.0, positions)
    }
}

/// A fitted `seq-knn` model: the training timelines, indexed.
#[derive(Debug, Clone, PartialEq)]
pub struct SeqKnnModel {
    params: SeqKnnParams,
    /// Users × items; the value is the item's position in the user's timeline.
    positions: Csr,
    /// The neighbour index: per item, its `sample` users of smallest `hash(item, user)` with
    /// their positions, in that hash order, so a prefix of a row is the sample a smaller
    /// `sample` keeps (what the budget cuts). Item `i`'s row is
    /// `by_hash[item_start[i]..item_start[i + 1]]`; [`SeqKnnModel::item_index`] derives the
    /// user-ordered matrix from it.
    by_hash: Vec<Sampled>,
    item_start: Vec<usize>,
    /// `exp(−d / position_decay)` for every whole distance `d` a timeline holds: the votes'
    /// weight looked up instead of an `exp` per voted item (the same `f32` to the bit).
    near: Vec<f32>,
    /// `√|n|` per training user, the similarity's length term, read for every user a query
    /// touches (thousands per request).
    sqrt_len: Vec<f32>,
}

/// Entries a query reads at most by default: what 40 history items over the catalog's head read
/// at `sample = 500`. Chosen on the serving benchmark (100,000 users x 50,000 items), where the
/// heaviest histories read ten times that and set the p99, and checked on MovieLens-100K's
/// per-user temporal holdout, where NDCG@10 is 0.234 with it and 0.233 without
/// (docs/benchmarks.md, docs/evaluation.md).
pub const DEFAULT_BUDGET: usize = 20_000;

/// One sampled user of an item and the item's position in their timeline.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Sampled {
    user: u32,
    pos: f32,
}

/// The largest per-item prefix `q` (at least 1) with `Σ min(len, q) ≤ budget` over the lists'
/// `lens`; `usize::MAX` when the lists fit whole.
fn per_item_quota(lens: &[usize], budget: usize) -> usize {
    if lens.iter().sum::<usize>() <= budget {
        return usize::MAX;
    }
    let read = |q: usize| lens.iter().map(|&l| l.min(q)).sum::<usize>();
    // read(q) grows with q: the largest q within the budget, by bisection.
    let (mut lo, mut hi) = (1, lens.iter().copied().max().unwrap_or(1));
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if read(mid) <= budget {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    lo
}

/// One sampled (user, position) of a history item, with the item's weight in the query.
#[derive(Debug, Clone, Copy, Default)]
struct Entry {
    user: u32,
    weight: f32,
    pos: f32,
}

/// A thread's buffers for [`SeqKnnModel::neighbours_of`], kept between queries.
///
/// A query's history items list a few thousand to tens of thousands of (user, position)
/// entries. Accumulating them into a per-user array (the first design) made every entry a
/// random access into megabytes (1.2 MB at 100,000 users): the largest cost of serving
/// `seq-knn` under load, where other work evicts that array from the cache. Gathered in a
/// list and radix-sorted by user instead, every pass is sequential and each user's entries
/// are adjacent.
#[derive(Default)]
struct Scratch {
    entries: Vec<Entry>,
    spare: Vec<Entry>,
    users: Vec<u32>,
    sims: Vec<f32>,
    anchors: Vec<f32>,
    /// Per read history item, its list's length (what the budget divides).
    lens: Vec<usize>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
    static VOTES: std::cell::RefCell<SparseSums> = std::cell::RefCell::new(SparseSums::default());
}

/// Digits of the radix sort: 2,048 counters (16 KB) stay in L1; 100,000 users take 2 passes.
const RADIX_BITS: u32 = 11;

/// Stably sorts `entries` by user (users below `n_users`), `spare` as the second buffer: LSD
/// radix, one pass per [`RADIX_BITS`] of the largest user index. Stable, so each user's
/// entries keep the history's order (and the overlap sums them in the same order as before).
fn sort_by_user(entries: &mut Vec<Entry>, spare: &mut Vec<Entry>, n_users: usize) {
    let key_bits = usize::BITS - n_users.saturating_sub(1).leading_zeros();
    let mask = (1u32 << RADIX_BITS) - 1;
    let mut counts = [0usize; 1 << RADIX_BITS];
    let mut shift = 0;
    while shift < key_bits {
        counts.fill(0);
        for e in entries.iter() {
            counts[((e.user >> shift) & mask) as usize] += 1;
        }
        // Every entry in one bucket: this digit is already in order.
        if counts.contains(&entries.len()) {
            shift += RADIX_BITS;
            continue;
        }
        let mut at = 0;
        for c in counts.iter_mut() {
            (*c, at) = (at, at + *c);
        }
        spare.clear();
        spare.resize(entries.len(), Entry::default());
        for e in entries.iter() {
            let slot = &mut counts[((e.user >> shift) & mask) as usize];
            spare[*slot] = *e;
            *slot += 1;
        }
        std::mem::swap(entries, spare);
        shift += RADIX_BITS;
    }
}

/// A neighbour found for a query: the user, their similarity and the anchor's position.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SeqNeighbour {
    /// Training user.
    pub user: u32,
    /// Similarity to the query.
    pub sim: f32,
    /// Position, in the neighbour's timeline, of the shared item the query weighs most.
    pub anchor: f32,
}

impl SeqKnnModel {
    fn new(params: SeqKnnParams, positions: Csr) -> Self {
        let (by_hash, item_start) = sampled(&positions.transpose(), params.sample);
        let sqrt_len = (0..positions.n_rows())
            .map(|u| (positions.row(u).0.len() as f32).sqrt())
            .collect();
        let longest = positions.data().iter().fold(0f32, |a, &p| a.max(p));
        let near = if params.position_decay > 0.0 && longest < 1e6 {
            (0..=longest as usize)
                .map(|d| (-(d as f32) / params.position_decay).exp())
                .collect()
        } else {
            Vec::new()
        };
        Self {
            params,
            positions,
            by_hash,
            item_start,
            near,
            sqrt_len,
        }
    }

    /// Item `i`'s sampled users in hash order, cut to `quota`.
    fn hashed_row(&self, i: usize, quota: usize) -> &[Sampled] {
        let row = &self.by_hash[self.item_start[i]..self.item_start[i + 1]];
        &row[..row.len().min(quota)]
    }

    /// The `K` most similar training users to a history (sorted by item, as from
    /// [`FoldIn::fold_in`]), best first.
    pub fn neighbours_of(&self, history: &[(u32, f32)]) -> Vec<SeqNeighbour> {
        let q_norm = history
            .iter()
            .map(|&(_, w)| f64::from(w) * f64::from(w))
            .sum::<f64>()
            .sqrt() as f32;
        SCRATCH.with(|scratch| {
            let mut scratch = scratch.borrow_mut();
            let Scratch {
                entries,
                spare,
                users,
                sims,
                anchors,
                lens,
            } = &mut *scratch;
            entries.clear();
            let read = |&(i, w): &(u32, f32)| w > 0.0 && (i as usize) < self.n_items();
            lens.clear();
            lens.extend(
                history
                    .iter()
                    .filter(|e| read(e))
                    .map(|&(i, _)| self.hashed_row(i as usize, usize::MAX).len()),
            );
            let quota = per_item_quota(lens, self.params.budget);
            for &(i, w) in history.iter().filter(|e| read(e)) {
                entries.extend(self.hashed_row(i as usize, quota).iter().map(|s| Entry {
                    user: s.user,
                    weight: w,
                    pos: s.pos,
                }));
            }
            sort_by_user(entries, spare, self.positions.n_rows());
            users.clear();
            sims.clear();
            anchors.clear();
            for group in entries.chunk_by(|a, b| a.user == b.user) {
                let first = group[0];
                let (mut overlap, mut weight, mut anchor) = (first.weight, first.weight, first.pos);
                for e in &group[1..] {
                    if e.weight > weight || (e.weight == weight && e.pos > anchor) {
                        (weight, anchor) = (e.weight, e.pos);
                    }
                    overlap += e.weight;
                }
                let denom = q_norm * self.sqrt_len[first.user as usize] + self.params.shrink;
                users.push(first.user);
                sims.push(if denom > 0.0 && overlap > 0.0 {
                    overlap / denom
                } else {
                    f32::NAN
                });
                anchors.push(anchor);
            }
            let mut best = Vec::new();
            top_k_of_into(users, sims, self.params.neighbours, &[], &mut best);
            best.into_iter()
                .map(|(user, sim)| SeqNeighbour {
                    user,
                    sim,
                    // `users` is ascending: the groups came sorted.
                    anchor: anchors[users.binary_search(&user).expect("a found user")],
                })
                .collect()
        })
    }

    /// The items the neighbours of `history` vote for, with their summed votes, in the order
    /// first voted for; every other item scores 0. Serving ranks these few thousand items
    /// instead of the whole catalog; [`Scorer::score_all_into`] spreads the same sums.
    pub fn votes(&self, history: &[(u32, f32)]) -> Vec<(u32, f32)> {
        let decay = self.params.position_decay;
        let neighbours = self.neighbours_of(history);
        VOTES.with(|v| {
            let mut v = v.borrow_mut();
            v.start(self.n_items());
            for n in neighbours {
                let (items, pos) = self.positions.row(n.user as usize);
                for (&j, &p) in items.iter().zip(pos) {
                    let near = if decay > 0.0 {
                        let d = (p - n.anchor).abs();
                        match self.near.get(d as usize) {
                            Some(&w) if d.fract() == 0.0 => w,
                            _ => (-d / decay).exp(),
                        }
                    } else {
                        1.0
                    };
                    v.add(j, n.sim * near);
                }
            }
            v.sums()
        })
    }

    /// Items × users: each item's sampled users (values are positions), the neighbour index in
    /// user order. Built on each call from the hash-ordered index (serving builds its
    /// explanations' copy once per loaded model).
    pub fn item_index(&self) -> Csr {
        let mut b = CsrBuilder::with_capacity(self.by_hash.len());
        let mut row: Vec<Sampled> = Vec::new();
        for i in 0..self.n_items() {
            row.clear();
            row.extend_from_slice(self.hashed_row(i, usize::MAX));
            row.sort_unstable_by_key(|s| s.user);
            for s in &row {
                b.push(i as u32, s.user, s.pos)
                    .expect("rows in order, users sorted");
            }
        }
        b.build(self.n_items(), self.positions.n_rows())
            .expect("indices from a valid matrix")
    }

    /// The parameters it was fitted with.
    pub fn params(&self) -> SeqKnnParams {
        self.params
    }
}

/// Each row of `by_item` (items × users, values positions) as its `sample` users of smallest
/// `hash(item, user)`, in that order (ties, practically absent, by user): a pseudo-random
/// subset that depends on nothing but the pair. Returns the rows end to end and each row's start
/// (one more entry than rows).
fn sampled(by_item: &Csr, sample: usize) -> (Vec<Sampled>, Vec<usize>) {
    let mut rows = Vec::with_capacity(by_item.nnz().min(by_item.n_rows() * sample));
    let mut start = Vec::with_capacity(by_item.n_rows() + 1);
    start.push(0);
    let mut keep: Vec<(u64, Sampled)> = Vec::new();
    for i in 0..by_item.n_rows() {
        let (users, pos) = by_item.row(i);
        keep.clear();
        keep.extend(
            users
                .iter()
                .zip(pos)
                .map(|(&user, &pos)| (pair_hash(i as u32, user), Sampled { user, pos })),
        );
        let key = |e: &(u64, Sampled)| (e.0, e.1.user);
        if keep.len() > sample {
            keep.select_nth_unstable_by_key(sample - 1, key);
            keep.truncate(sample);
        }
        keep.sort_unstable_by_key(key);
        rows.extend(keep.iter().map(|e| e.1));
        start.push(rows.len());
    }
    (rows, start)
}

/// The hash that orders an item's users for sampling.
fn pair_hash(item: u32, user: u32) -> u64 {
    mix(u64::from(item) << 32 | u64::from(user))
}

/// SplitMix64's finaliser: a well-spread hash of a pair packed into 64 bits.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Scorer for SeqKnnModel {
    fn n_items(&self) -> usize {
        self.positions.n_cols()
    }

    fn score_into(&self, user: &UserRepr, items: &[u32], out: &mut [f32]) {
        assert_eq!(items.len(), out.len(), "one output per candidate");
        let mut all = vec![0f32; self.n_items()];
        self.score_all_into(user, &mut all);
        for (o, &i) in out.iter_mut().zip(items) {
            *o = all[i as usize];
        }
    }

    /// The votes ([`SeqKnnModel::votes`]) spread over the catalog.
    fn score_all_into(&self, user: &UserRepr, out: &mut [f32]) {
        assert_eq!(out.len(), self.n_items(), "one output per item");
        out.fill(0.0);
        let UserRepr::Sparse(h) = user else { return };
        for (j, v) in self.votes(h) {
            out[j as usize] = v;
        }
    }
}

impl FoldIn for SeqKnnModel {
    /// The history itself (sorted, duplicates summed, unknown items dropped); its weights are
    /// the recency weights the similarity reads.
    fn fold_in(&self, interactions: &[(u32, f32)]) -> UserRepr {
        UserRepr::Sparse(normalize_history(interactions, self.n_items()))
    }
}

impl ModelParts for SeqKnnModel {
    const KIND: &'static str = "seq-knn";

    /// The parameters and the timelines; the item index is rebuilt on load.
    fn to_parts(&self) -> Parts<'_> {
        use super::parts::{float, int};
        Parts::new(Self::KIND)
            .param("neighbours", int(self.params.neighbours))
            .param("sample", int(self.params.sample))
            .param("budget", int(self.params.budget))
            .param("position_decay", float(self.params.position_decay))
            .param("shrink", float(self.params.shrink))
            .csr("positions", &self.positions)
    }

    fn from_parts(mut parts: Parts<'_>) -> Result<Self, PartsError> {
        const KIND: &str = SeqKnnModel::KIND;
        parts.expect_kind(KIND)?;
        let params = SeqKnnParams::default()
            .neighbours(parts.usize_param(KIND, "neighbours", 1)?)
            .sample(parts.usize_param(KIND, "sample", 1)?)
            // Artifacts from before the budget read their lists whole, as they did.
            .budget(match parts.params.get("budget") {
                Some(_) => parts.usize_param(KIND, "budget", 1)?,
                None => i64::MAX as usize,
            })
            .position_decay(parts.f32_param(KIND, "position_decay")?)
            .shrink(parts.f32_param(KIND, "shrink")?)
            .check()
            .map_err(|e| PartsError::BadParam {
                kind: KIND,
                name: e.field,
                value: e.value,
                rule: e.rule,
            })?;
        let positions = parts.take_csr(KIND, "positions", None)?;
        Ok(Self::new(params.0, positions))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The neighbour search as first written: a map from user to what the query found, filled
    /// item by item in history order.
    fn neighbours_by_map(m: &SeqKnnModel, history: &[(u32, f32)]) -> Vec<SeqNeighbour> {
        let q_norm = history
            .iter()
            .map(|&(_, w)| f64::from(w) * f64::from(w))
            .sum::<f64>()
            .sqrt() as f32;
        let index = m.item_index();
        let mut found: std::collections::BTreeMap<u32, (f32, f32, f32)> = Default::default();
        for &(i, w) in history {
            if w <= 0.0 || i as usize >= index.n_rows() {
                continue;
            }
            let (vs, pos) = index.row(i as usize);
            for (&v, &p) in vs.iter().zip(pos) {
                let t = found.entry(v).or_insert((0.0, f32::NEG_INFINITY, 0.0));
                if w > t.1 || (w == t.1 && p > t.2) {
                    (t.1, t.2) = (w, p);
                }
                t.0 += w;
            }
        }
        let mut all: Vec<SeqNeighbour> = found
            .into_iter()
            .map(|(user, (overlap, _, anchor))| {
                let len = m.positions.row(user as usize).0.len() as f32;
                SeqNeighbour {
                    user,
                    sim: overlap / (q_norm * len.sqrt() + m.params.shrink),
                    anchor,
                }
            })
            .collect();
        all.sort_by(|a, b| b.sim.total_cmp(&a.sim).then(a.user.cmp(&b.user)));
        all.truncate(m.params.neighbours);
        all
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// The radix-sorted search finds what the map does, to the bit: same users, same
        /// similarities, same anchors (5,000 users: two radix passes).
        #[test]
        fn the_sorted_search_equals_the_map(
            seed in any::<u64>(),
            history in prop::collection::vec((0u32..60, 1u32..8), 0..30),
            neighbours in 1usize..40,
            sample in 5usize..200,
        ) {
            let seq = random_timelines(seed);
            let m = SeqKnnParams::default()
                .neighbours(neighbours)
                .sample(sample)
                .shrink(0.5)
                .check()
                .unwrap()
                .fit(&seq, 60);
            let h = query(&history);
            prop_assert_eq!(m.neighbours_of(&h), neighbours_by_map(&m, &h));
        }

        /// A query over its budget is answered as a model whose `sample` is the quota the
        /// budget leaves each item: the same neighbours, to the bit.
        #[test]
        fn a_query_over_budget_reads_the_sample_of_its_quota(
            seed in any::<u64>(),
            history in prop::collection::vec((0u32..60, 1u32..8), 1..30),
            sample in 20usize..200,
            budget in 1usize..3_000,
        ) {
            let seq = random_timelines(seed);
            let fit = |sample: usize, budget: usize| {
                SeqKnnParams::default()
                    .neighbours(25)
                    .sample(sample)
                    .budget(budget)
                    .check()
                    .unwrap()
                    .fit(&seq, 60)
            };
            let m = fit(sample, budget);
            let h = query(&history);
            let lens: Vec<usize> = h.iter().map(|&(i, _)| m.hashed_row(i as usize, usize::MAX).len()).collect();
            let q = per_item_quota(&lens, budget);
            prop_assert!(q == usize::MAX || lens.iter().map(|&l| l.min(q)).sum::<usize>() <= budget || q == 1);
            let whole = fit(q.min(sample), i64::MAX as usize);
            prop_assert_eq!(m.neighbours_of(&h), whole.neighbours_of(&h));
        }

        /// The votes' looked-up weights are `exp(−d / position_decay)` to the bit.
        #[test]
        fn the_vote_table_equals_exp(
            seed in any::<u64>(),
            history in prop::collection::vec((0u32..60, 1u32..8), 1..30),
            decay in 0.1f32..20.0,
        ) {
            let seq = random_timelines(seed);
            let m = SeqKnnParams::default().position_decay(decay).check().unwrap().fit(&seq, 60);
            let h = query(&history);
            let mut want = vec![0f32; 60];
            for n in m.neighbours_of(&h) {
                let (items, pos) = m.positions.row(n.user as usize);
                for (&j, &p) in items.iter().zip(pos) {
                    want[j as usize] += n.sim * (-(p - n.anchor).abs() / decay).exp();
                }
            }
            let mut got = vec![0f32; 60];
            for (j, v) in m.votes(&h) {
                got[j as usize] = v;
            }
            prop_assert_eq!(got, want);
        }
    }

    /// A generated history as a query: weights in quarters, sorted by item, one entry per item.
    fn query(history: &[(u32, u32)]) -> Vec<(u32, f32)> {
        let mut h: Vec<(u32, f32)> = history.iter().map(|&(i, w)| (i, w as f32 / 4.0)).collect();
        h.sort_by_key(|e| e.0);
        h.dedup_by_key(|e| e.0);
        h
    }

    /// 5,000 users with 1–12 steps over 60 items, from `seed`.
    fn random_timelines(seed: u64) -> ItemSequences {
        let mut cells = Vec::new();
        let mut z = seed;
        for u in 0..5_000u32 {
            z = mix(z.wrapping_add(u64::from(u)));
            let len = 1 + (z % 12) as u32;
            for step in 0..len {
                let item = ((z >> (8 + step)) % 60) as u32;
                cells.push((u, i64::from(step), item));
            }
        }
        ItemSequences::from_timed(5_000, cells)
    }

    #[test]
    fn the_quota_is_the_largest_prefix_within_the_budget() {
        assert_eq!(per_item_quota(&[10, 20, 30], 60), usize::MAX);
        assert_eq!(per_item_quota(&[10, 20, 30], 59), 29);
        assert_eq!(per_item_quota(&[10, 20, 30], 50), 20);
        assert_eq!(per_item_quota(&[10, 20, 30], 30), 10);
        assert_eq!(per_item_quota(&[10, 20, 30], 2), 1);
        assert!(SeqKnnParams::default().budget(0).check().is_err());
    }

    #[test]
    fn the_radix_sort_is_stable_for_every_key_width() {
        for n_users in [
            1usize,
            2,
            2_048,
            2_049,
            100_000,
            1 << 22,
            u32::MAX as usize + 1,
        ] {
            let mut z = n_users as u64;
            let mut entries: Vec<Entry> = (0..3_000)
                .map(|k| {
                    z = mix(z);
                    Entry {
                        user: (z % n_users as u64) as u32,
                        weight: k as f32,
                        pos: 0.0,
                    }
                })
                .collect();
            let mut want = entries.clone();
            want.sort_by_key(|e| e.user);
            sort_by_user(&mut entries, &mut Vec::new(), n_users);
            let got: Vec<(u32, f32)> = entries.iter().map(|e| (e.user, e.weight)).collect();
            let want: Vec<(u32, f32)> = want.iter().map(|e| (e.user, e.weight)).collect();
            assert_eq!(got, want, "{n_users} users");
        }
    }

    /// Users 0–3 walk 0 → 1 → 2 → 3 → 4 → 5; users 4–5 walk 5 → 4 → 3 → 2 → 1 → 0.
    fn walks() -> ItemSequences {
        let mut cells = Vec::new();
        for u in 0..6u32 {
            for step in 0..6u32 {
                let item = if u < 4 { step } else { 5 - step };
                cells.push((u, i64::from(step), item));
            }
        }
        ItemSequences::from_timed(6, cells)
    }

    fn scores(m: &SeqKnnModel, history: &[(u32, f32)]) -> Vec<f32> {
        let mut s = vec![0.0; m.n_items()];
        m.score_all_into(&m.fold_in(history), &mut s);
        s
    }

    #[test]
    fn a_neighbours_votes_fall_with_distance_from_where_the_user_is() {
        let m = SeqKnnParams::default()
            .position_decay(1.0)
            .check()
            .unwrap()
            .fit(&walks(), 6);
        // Just saw 2 (and 1 long ago): every neighbour is anchored at item 2, and its votes
        // fall with each item's distance from there in the neighbour's own timeline.
        let s = scores(&m, &[(1, 0.2), (2, 1.0)]);
        assert!(s[3] > s[4] && s[4] > s[5], "{s:?}");
        assert!(s[3] > s[0], "one step away beats two: {s:?}");
        // Without the position decay every item of a neighbour counts the same.
        let flat = SeqKnnParams::default()
            .position_decay(0.0)
            .check()
            .unwrap()
            .fit(&walks(), 6);
        let f = scores(&flat, &[(1, 0.2), (2, 1.0)]);
        assert!((f[3] - f[5]).abs() < 1e-6, "{f:?}");
    }

    #[test]
    fn the_anchor_is_the_shared_item_the_query_weighs_most() {
        let m = SeqKnnParams::default().check().unwrap().fit(&walks(), 6);
        let n = m.neighbours_of(&[(1, 0.2), (4, 1.0)]);
        assert_eq!(n.len(), 6);
        for nb in n {
            let expected = if nb.user < 4 { 4.0 } else { 1.0 };
            assert_eq!(nb.anchor, expected, "user {}", nb.user);
        }
    }

    #[test]
    fn similarity_is_the_normalised_overlap_and_k_caps_the_voters() {
        let m = SeqKnnParams::default()
            .neighbours(2)
            .check()
            .unwrap()
            .fit(&walks(), 6);
        let n = m.neighbours_of(&[(0, 1.0), (1, 1.0)]);
        assert_eq!(n.len(), 2);
        // Every user holds all 6 items: sim = 2 / (√2 · √6).
        let expected = 2.0 / (2f32.sqrt() * 6f32.sqrt());
        assert!(n.iter().all(|x| (x.sim - expected).abs() < 1e-6), "{n:?}");
        // An unknown or empty history has no neighbours and scores nothing.
        assert!(m.neighbours_of(&[]).is_empty());
        assert!(scores(&m, &[(9, 1.0)]).iter().all(|&v| v == 0.0));
    }

    #[test]
    fn each_item_keeps_at_most_sample_users_and_the_same_ones_on_every_load() {
        // 30 users share item 0; each also has one item of their own.
        let cells = (0..30u32)
            .flat_map(|u| [(u, 0i64, 0u32), (u, 1, 1 + u)])
            .collect();
        let seq = ItemSequences::from_timed(30, cells);
        let m = SeqKnnParams::default()
            .sample(8)
            .check()
            .unwrap()
            .fit(&seq, 31);
        let index = m.item_index();
        let (users, _) = index.row(0);
        assert_eq!(users.len(), 8);
        assert!(users.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(SeqKnnModel::from_parts(m.to_parts()).unwrap(), m);
        // Short lists are whole, and the neighbours come from the sample only.
        assert_eq!(index.row(5).0, &[4]);
        let found: Vec<u32> = m
            .neighbours_of(&[(0, 1.0)])
            .iter()
            .map(|n| n.user)
            .collect();
        assert!(found.iter().all(|u| users.contains(u)), "{found:?}");
        assert!(SeqKnnParams::default().sample(0).check().is_err());
    }

    #[test]
    fn parts_round_trip_and_bad_parameters_are_named() {
        let m = SeqKnnParams::default()
            .neighbours(3)
            .position_decay(2.5)
            .shrink(1.0)
            .check()
            .unwrap()
            .fit(&walks(), 6);
        let back = SeqKnnModel::from_parts(m.to_parts()).unwrap();
        assert_eq!(back, m);
        let err = SeqKnnParams::default().neighbours(0).check().unwrap_err();
        assert_eq!(err.field, "neighbours");
        let err = SeqKnnParams::default()
            .position_decay(-1.0)
            .check()
            .unwrap_err();
        assert_eq!(err.field, "position_decay");
    }
}
