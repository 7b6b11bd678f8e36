//! Item-kNN: cosine similarity between item columns with shrinkage, top-K neighbours per item.
//!
//! `sim(i, j) = Σ_u w_ui w_uj / (‖w_i‖ ‖w_j‖ + shrink)`, where `w` is the (optionally BM25- or
//! TF-IDF-weighted, [`crate::sparse::bm25_weight`]) interaction matrix. Shrinkage pulls the
//! similarity of items with little co-occurrence evidence toward 0. Each item keeps its `K`
//! most similar neighbours (positive similarities only); a user's score for `j` is
//! `Σ_{i ∈ history} w_ui · sim_K(i, j)`, as in the `implicit` library's `ItemItemRecommender`.
//!
//! Similarities are computed one item per task: scatter the co-occurrence counts of item `i`
//! through its users into a dense per-thread accumulator, touch only the items reached, and
//! select the top `K` with a bounded heap. Cost `Σ_u nnz_u²`, memory `n_items` floats per thread.

use rayon::prelude::*;

use super::topk::top_k_of_into;
use super::{check_non_negative_finite, normalize_history, FoldIn, ParamError, Scorer, UserRepr};
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
            if !(0.0..=1.0).contains(&b) {
                return Err(ParamError::new(
                    "itemknn",
                    "bm25.b",
                    b,
                    "must be between 0 and 1",
                ));
            }
        }
        Ok(ItemKnnValidParams(self))
    }
}

struct Scratch {
    acc: Vec<f32>,
    seen: Vec<bool>,
    touched: Vec<u32>,
    sims: Vec<f32>,
    best: Vec<(u32, f32)>,
}

impl ItemKnnValidParams {
    /// Compute the neighbour lists from `data` (users x items).
    pub fn fit(&self, data: &Csr) -> ItemKnnModel {
        let p = &self.0;
        let by_item = match p.weighting {
            Weighting::None => data.transpose(),
            Weighting::Bm25 { k1, b } => bm25_weight(&data.transpose(), k1, b),
            Weighting::TfIdf => tfidf_weight(&data.transpose()),
        };
        let by_user = by_item.transpose();
        let n = by_item.n_rows();
        let norms: Vec<f32> = (0..n)
            .map(|i| {
                by_item
                    .row(i)
                    .1
                    .iter()
                    .map(|&v| f64::from(v) * f64::from(v))
                    .sum::<f64>()
                    .sqrt() as f32
            })
            .collect();
        let rows: Vec<Vec<(u32, f32)>> = (0..n)
            .into_par_iter()
            .map_init(
                || Scratch {
                    acc: vec![0.0; n],
                    seen: vec![false; n],
                    touched: Vec::new(),
                    sims: Vec::new(),
                    best: Vec::new(),
                },
                |s, i| {
                    let (users, wi) = by_item.row(i);
                    for (&u, &a) in users.iter().zip(wi) {
                        let (items, wu) = by_user.row(u as usize);
                        for (&j, &b) in items.iter().zip(wu) {
                            if !s.seen[j as usize] {
                                s.seen[j as usize] = true;
                                s.touched.push(j);
                            }
                            s.acc[j as usize] += a * b;
                        }
                    }
                    s.sims.clear();
                    for &j in &s.touched {
                        let denom = norms[i] * norms[j as usize] + p.shrink;
                        let sim = if j as usize == i || denom <= 0.0 {
                            0.0
                        } else {
                            s.acc[j as usize] / denom
                        };
                        // Non-positive similarities carry no evidence; NaN is skipped by top-k.
                        s.sims.push(if sim > 0.0 { sim } else { f32::NAN });
                        s.acc[j as usize] = 0.0;
                        s.seen[j as usize] = false;
                    }
                    top_k_of_into(&s.touched, &s.sims, p.neighbours, &[], &mut s.best);
                    s.touched.clear();
                    let mut row = s.best.clone();
                    row.sort_unstable_by_key(|e| e.0);
                    row
                },
            )
            .collect();
        let mut indptr = Vec::with_capacity(n + 1);
        indptr.push(0);
        let (mut indices, mut values) = (Vec::new(), Vec::new());
        for row in rows {
            for (j, s) in row {
                indices.push(j);
                values.push(s);
            }
            indptr.push(indices.len());
        }
        let neighbours = Csr::from_parts(n, n, indptr, indices, values)
            .expect("neighbour rows are sorted and finite");
        ItemKnnModel { neighbours }
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
