//! User-kNN: score items by what the most similar users interacted with.
//!
//! `sim(q, v) = Σ_i q_i w_vi / (‖q‖ ‖w_v‖ + shrink)` between the (optionally BM25- or TF-IDF-
//! weighted, users as documents and items as terms) query history `q` and each training user
//! `v`; the `K` most similar users with positive similarity vote with their raw interactions:
//! `score(j) = Σ_{v ∈ N_K(q)} sim(q, v) · x_vj`.
//!
//! Neighbours are found at scoring time through the item → users index, touching only users
//! who share an item with the query, so a user who arrived a second ago is served like any
//! other. Each call allocates `n_users + n_items` floats of scratch. A training user scored from
//! their own row finds themselves as the nearest neighbour; that neighbour only votes for items
//! they have seen, which ranking excludes, so it costs one of the `K` slots and nothing else.

use super::knn::Weighting;
use super::topk::top_k_of_into;
use super::{
    check_non_negative_finite, check_unit_interval, normalize_history, FoldIn, ParamError, Scorer,
    UserRepr,
};
use crate::sparse::{Csr, TermScheme, TermWeighting};

/// User-kNN hyperparameters (unchecked).
#[derive(Debug, Clone, PartialEq)]
pub struct UserKnnParams {
    neighbours: usize,
    shrink: f32,
    weighting: Weighting,
}

/// Checked user-kNN hyperparameters.
#[derive(Debug, Clone, PartialEq)]
pub struct UserKnnValidParams(UserKnnParams);

impl Default for UserKnnParams {
    /// 50 neighbours, no shrinkage, raw weights.
    fn default() -> Self {
        Self {
            neighbours: 50,
            shrink: 0.0,
            weighting: Weighting::None,
        }
    }
}

impl UserKnnParams {
    /// Neighbours who vote (`K`).
    pub fn neighbours(mut self, neighbours: usize) -> Self {
        self.neighbours = neighbours;
        self
    }

    /// Shrinkage added to the cosine denominator.
    pub fn shrink(mut self, shrink: f32) -> Self {
        self.shrink = shrink;
        self
    }

    /// Interaction weighting used for similarities (votes use raw values).
    pub fn weighting(mut self, weighting: Weighting) -> Self {
        self.weighting = weighting;
        self
    }

    /// Validate every field.
    pub fn check(self) -> Result<UserKnnValidParams, ParamError> {
        if self.neighbours == 0 {
            return Err(ParamError::new(
                "userknn",
                "neighbours",
                0,
                "must be at least 1",
            ));
        }
        check_non_negative_finite("userknn", "shrink", self.shrink)?;
        if let Weighting::Bm25 { k1, b } = self.weighting {
            check_non_negative_finite("userknn", "bm25.k1", k1)?;
            check_unit_interval("userknn", "bm25.b", b, "must be between 0 and 1")?;
        }
        Ok(UserKnnValidParams(self))
    }
}

impl UserKnnValidParams {
    /// Index `data` (users x items). The model keeps the matrix and a weighted item-major copy.
    pub fn fit(&self, data: &Csr) -> UserKnnModel {
        let p = &self.0;
        let weighting = match p.weighting {
            Weighting::None => None,
            Weighting::Bm25 { k1, b } => Some(TermWeighting::fit(data, TermScheme::Bm25 { k1, b })),
            Weighting::TfIdf => Some(TermWeighting::fit(data, TermScheme::TfIdf)),
        };
        let weighted = match &weighting {
            Some(tw) => tw.apply(data),
            None => data.clone(),
        };
        let norms = (0..weighted.n_rows())
            .map(|u| {
                weighted
                    .row(u)
                    .1
                    .iter()
                    .map(|&v| f64::from(v) * f64::from(v))
                    .sum::<f64>()
                    .sqrt() as f32
            })
            .collect();
        UserKnnModel {
            neighbours: p.neighbours,
            shrink: p.shrink,
            weighting,
            by_item: weighted.transpose(),
            norms,
            data: data.clone(),
        }
    }
}

/// A fitted user-kNN model (the training data, indexed).
#[derive(Debug, Clone, PartialEq)]
pub struct UserKnnModel {
    neighbours: usize,
    shrink: f32,
    weighting: Option<TermWeighting>,
    /// Weighted interactions, items x users.
    by_item: Csr,
    /// Norm of each user's weighted row.
    norms: Vec<f32>,
    /// Raw interactions, users x items (the votes).
    data: Csr,
}

impl UserKnnModel {
    /// The `K` most similar training users to a history (sorted by item, as from
    /// [`FoldIn::fold_in`]), best first.
    pub fn neighbours_of(&self, history: &[(u32, f32)]) -> Vec<(u32, f32)> {
        let (cols, vals): (Vec<u32>, Vec<f32>) = history.iter().copied().unzip();
        let mut q = Vec::new();
        match &self.weighting {
            Some(tw) => tw.weight_row(&cols, &vals, &mut q),
            None => q.extend_from_slice(&vals),
        }
        let q_norm = q
            .iter()
            .map(|&v| f64::from(v) * f64::from(v))
            .sum::<f64>()
            .sqrt() as f32;
        let n_users = self.data.n_rows();
        let mut acc = vec![0f32; n_users];
        let mut seen = vec![false; n_users];
        let mut touched = Vec::new();
        for (&i, &qi) in cols.iter().zip(&q) {
            let (users, w) = self.by_item.row(i as usize);
            for (&v, &wv) in users.iter().zip(w) {
                if !seen[v as usize] {
                    seen[v as usize] = true;
                    touched.push(v);
                }
                acc[v as usize] += qi * wv;
            }
        }
        let sims: Vec<f32> = touched
            .iter()
            .map(|&v| {
                let denom = q_norm * self.norms[v as usize] + self.shrink;
                let s = if denom > 0.0 {
                    acc[v as usize] / denom
                } else {
                    0.0
                };
                if s > 0.0 {
                    s
                } else {
                    f32::NAN
                }
            })
            .collect();
        let mut best = Vec::new();
        top_k_of_into(&touched, &sims, self.neighbours, &[], &mut best);
        best
    }
}

impl Scorer for UserKnnModel {
    fn n_items(&self) -> usize {
        self.data.n_cols()
    }

    fn score_into(&self, user: &UserRepr, items: &[u32], out: &mut [f32]) {
        assert_eq!(items.len(), out.len(), "one output per candidate");
        let mut all = vec![0f32; self.n_items()];
        self.score_all_into(user, &mut all);
        for (o, &i) in out.iter_mut().zip(items) {
            *o = all[i as usize];
        }
    }

    fn score_all_into(&self, user: &UserRepr, out: &mut [f32]) {
        assert_eq!(out.len(), self.n_items(), "one output per item");
        out.fill(0.0);
        if let UserRepr::Sparse(h) = user {
            for (v, s) in self.neighbours_of(h) {
                let (items, r) = self.data.row(v as usize);
                for (&j, &x) in items.iter().zip(r) {
                    out[j as usize] += s * x;
                }
            }
        }
    }
}

impl FoldIn for UserKnnModel {
    /// The history itself (sorted, duplicates summed, unknown items dropped).
    fn fold_in(&self, interactions: &[(u32, f32)]) -> UserRepr {
        UserRepr::Sparse(normalize_history(interactions, self.n_items()))
    }
}

impl super::ModelParts for UserKnnModel {
    const KIND: &'static str = "user-knn";

    /// The raw interactions and the parameters; the weighted index is rebuilt on load by the
    /// code that built it at training time (it is a pure function of these).
    fn to_parts(&self) -> super::Parts<'_> {
        use super::parts::{float, int};
        use super::Param;
        let mut p = super::Parts::new(Self::KIND)
            .param("neighbours", int(self.neighbours))
            .param("shrink", float(self.shrink))
            .csr("data", &self.data);
        let scheme = match self.weighting.as_ref().map(TermWeighting::scheme) {
            None => "none",
            Some(TermScheme::TfIdf) => "tfidf",
            Some(TermScheme::Bm25 { k1, b }) => {
                p = p.param("bm25.k1", float(k1)).param("bm25.b", float(b));
                "bm25"
            }
        };
        p.param("weighting", Param::Text(scheme.into()))
    }

    fn from_parts(mut parts: super::Parts<'_>) -> Result<Self, super::PartsError> {
        const KIND: &str = UserKnnModel::KIND;
        parts.expect_kind(KIND)?;
        let weighting = match parts.text_param(KIND, "weighting")? {
            "none" => Weighting::None,
            "tfidf" => Weighting::TfIdf,
            "bm25" => Weighting::Bm25 {
                k1: parts.f32_param(KIND, "bm25.k1")?,
                b: parts.f32_param(KIND, "bm25.b")?,
            },
            other => {
                return Err(super::PartsError::BadParam {
                    kind: KIND,
                    name: "weighting",
                    value: other.to_string(),
                    rule: "must be none, tfidf or bm25",
                })
            }
        };
        let params = UserKnnParams::default()
            .neighbours(parts.usize_param(KIND, "neighbours", 1)?)
            .shrink(parts.f32_param(KIND, "shrink")?)
            .weighting(weighting)
            .check()
            .map_err(|e| super::PartsError::BadParam {
                kind: KIND,
                name: e.field,
                value: e.value,
                rule: e.rule,
            })?;
        let data = parts.take_csr(KIND, "data", None)?;
        Ok(params.fit(&data))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::{evaluate_ranking, split::random_holdout};
    use crate::model::testdata::{random_matrix, taste_matrix};
    use crate::model::Popularity;
    use proptest::prelude::*;

    /// Dense all-users cosine, sort-and-truncate, dense votes: the oracle.
    fn dense_scores(data: &Csr, h: &[(u32, f32)], k: usize, shrink: f32) -> Vec<f32> {
        let (m, n) = (data.n_rows(), data.n_cols());
        let x = data.to_dense();
        let mut q = vec![0f64; n];
        for &(i, w) in h {
            q[i as usize] += f64::from(w);
        }
        let qn = q.iter().map(|v| v * v).sum::<f64>().sqrt();
        let mut sims: Vec<(u32, f64)> = (0..m)
            .map(|v| {
                let row = &x[v * n..(v + 1) * n];
                let d: f64 = row.iter().zip(&q).map(|(&a, b)| f64::from(a) * b).sum();
                let vn = row
                    .iter()
                    .map(|&a| f64::from(a) * f64::from(a))
                    .sum::<f64>()
                    .sqrt();
                let den = qn * vn + f64::from(shrink);
                (v as u32, if den > 0.0 { d / den } else { 0.0 })
            })
            .filter(|e| e.1 > 0.0)
            .collect();
        sims.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        sims.truncate(k);
        let mut out = vec![0f32; n];
        for (v, s) in sims {
            for j in 0..n {
                out[j] += (s * f64::from(x[v as usize * n + j])) as f32;
            }
        }
        out
    }

    #[test]
    fn neighbours_must_be_at_least_one() {
        assert_eq!(
            UserKnnParams::default()
                .neighbours(0)
                .check()
                .unwrap_err()
                .field,
            "neighbours"
        );
    }

    #[test]
    fn shrink_must_be_finite_and_non_negative() {
        assert_eq!(
            UserKnnParams::default()
                .shrink(f32::NAN)
                .check()
                .unwrap_err()
                .field,
            "shrink"
        );
        assert_eq!(
            UserKnnParams::default()
                .shrink(-1.0)
                .check()
                .unwrap_err()
                .field,
            "shrink"
        );
    }

    #[test]
    fn bm25_k1_must_be_non_negative() {
        let bad = UserKnnParams::default().weighting(Weighting::Bm25 { k1: -1.0, b: 0.5 });
        assert_eq!(bad.check().unwrap_err().field, "bm25.k1");
    }

    #[test]
    fn bm25_b_must_be_between_0_and_1() {
        let bad = UserKnnParams::default().weighting(Weighting::Bm25 { k1: 1.0, b: 2.0 });
        assert_eq!(bad.check().unwrap_err().field, "bm25.b");
    }

    #[test]
    fn beats_popularity_on_taste_data() {
        let full = taste_matrix(500, 200, 5, 20, 31);
        let mut users = Vec::new();
        let mut t = Vec::new();
        for u in 0..full.n_rows() {
            let (cols, vals) = full.row(u);
            for (&i, &v) in cols.iter().zip(vals) {
                users.push(u as u32);
                t.push((u as u32, i, v));
            }
        }
        let (train, test) = random_holdout(&users, 0.2, 3)
            .unwrap()
            .to_csr(&t, 500, 200)
            .unwrap();
        let pop = evaluate_ranking(&Popularity::most_popular(&train), &train, &test, 10);
        for weighting in [
            Weighting::None,
            Weighting::Bm25 { k1: 1.2, b: 0.75 },
            Weighting::TfIdf,
        ] {
            let model = UserKnnParams::default()
                .neighbours(40)
                .weighting(weighting)
                .check()
                .unwrap()
                .fit(&train);
            let r = evaluate_ranking(&model, &train, &test, 10);
            assert!(
                r.ndcg > 3.0 * pop.ndcg,
                "{weighting:?}: ndcg {} vs popularity {}",
                r.ndcg,
                pop.ndcg
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn matches_dense_oracle(
            n_users in 1usize..30,
            n_items in 1usize..20,
            density in 0.05f64..0.7,
            k in 1usize..8,
            shrink in 0.0f32..3.0,
            seed in 0u64..1000,
        ) {
            let data = random_matrix(n_users, n_items, density, 3, seed);
            let model = UserKnnParams::default().neighbours(k).shrink(shrink).check().unwrap().fit(&data);
            let h = [(0u32, 2.0f32), ((n_items / 2) as u32, 1.0)];
            let repr = model.fold_in(&h);
            let UserRepr::Sparse(hist) = &repr else { panic!("user-kNN folds into a history") };
            let want = dense_scores(&data, hist, k, shrink);
            let mut got = vec![0f32; n_items];
            model.score_all_into(&repr, &mut got);
            // Near-ties at the K-th neighbour may pick a different user; compare only when the
            // cut is clear.
            let sims = model.neighbours_of(hist);
            let clear = sims.len() < k || {
                let all = dense_neighbour_gap(&data, hist, k, shrink);
                all > 1e-4
            };
            if clear {
                for (g, w) in got.iter().zip(&want) {
                    prop_assert!((g - w).abs() < 1e-4 * w.abs().max(1.0), "{:?} vs {:?}", got, want);
                }
            }
        }
    }

    /// Gap between the K-th and (K+1)-th best dense similarities (infinite if fewer).
    fn dense_neighbour_gap(data: &Csr, h: &[(u32, f32)], k: usize, shrink: f32) -> f64 {
        let (m, n) = (data.n_rows(), data.n_cols());
        let x = data.to_dense();
        let mut q = vec![0f64; n];
        for &(i, w) in h {
            q[i as usize] += f64::from(w);
        }
        let qn = q.iter().map(|v| v * v).sum::<f64>().sqrt();
        let mut s: Vec<f64> = (0..m)
            .map(|v| {
                let row = &x[v * n..(v + 1) * n];
                let d: f64 = row.iter().zip(&q).map(|(&a, b)| f64::from(a) * b).sum();
                let vn = row
                    .iter()
                    .map(|&a| f64::from(a) * f64::from(a))
                    .sum::<f64>()
                    .sqrt();
                d / (qn * vn + f64::from(shrink)).max(1e-300)
            })
            .filter(|&v| v > 0.0)
            .collect();
        s.sort_by(|a, b| b.total_cmp(a));
        if s.len() <= k {
            f64::INFINITY
        } else {
            s[k - 1] - s[k]
        }
    }
}
