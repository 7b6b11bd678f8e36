//! EASE: embarrassingly shallow autoencoder (Steck 2019), a closed-form item-item model.
//!
//! With `X` the users x items matrix and `P = (XᵀX + λI)⁻¹`, the weights are
//! `B = I − P · diag(1/diag(P))`, i.e. `B_ij = −P_ij / P_jj` off the diagonal and `B_ii = 0`
//! (the constraint that stops an item from recommending itself). A user's scores are `x_u B`.
//!
//! The Gram matrix, the inverse and `B` are dense `n_items²`: the inverse runs in `f64` (the
//! Gram matrix of a power-law catalog is badly conditioned, and the paper's reference code uses
//! float64), `B` is stored in `f32`. Peak memory is `20·n_items²` bytes (G and P in f64, B in
//! f32; 5 GB at 16k items); time `≈ n_items³` flops, multi-threaded through faer's Cholesky
//! factorisation and inverse.
//!
//! Three optional refinements, all off by default (the paper's model), each chosen on
//! validation like `λ`:
//! - `popularity_exponent` `a` weights input column `i` by `w_i = n_i^−a` (`n_i`: the users who
//!   have item `i`), so popular items count less both as evidence and as picks: a user's scores
//!   are `(x_u ∘ w) B`.
//! - `activity_exponent` `b` weights user `u`'s row by `m_u^−b` (`m_u`: their items) in the Gram
//!   matrix, so a few heavy users do not set most of the co-occurrences. A row weight is a
//!   constant factor on that user's scores, so it changes the fit only, not anyone's ranking.
//! - `two_hop` `γ` adds two-step paths: `B + γB²` (an item reached through a co-rated one),
//!   diagonal kept at 0. One more dense `n_items³` product: it doubles the fit time (peak
//!   memory measured unchanged at 3,600 items; docs/benchmarks.md).
//! - `rating_exponent` `p` multiplies each rated cell by `(r_ui / r̄)^p` in the Gram matrix
//!   (`r̄`: the mean rating of the rated cells; unrated cells count as rated `r̄`), so a
//!   five-star film's co-occurrences say more than a three-star one's. Like `b`, it shapes the
//!   fit only: users are still scored from their history as given, so serving needs no ratings
//!   ([`EaseValidParams::fit_rated`]). The history can weigh ratings on its own
//!   ([`crate::sparse::RatedHistory`], `[train] history_rating_exponent`).
//!
//! With weights, `λ` is scaled by the ratio of the weighted Gram trace to the unweighted one, so
//! it keeps its meaning. The column weights are folded into `B` (row `i` times `w_i`), so
//! scoring, fold-in and explanations are those of plain EASE. On the RecBole protocol of
//! MovieLens-100K the first three raise NDCG@10 by about 0.005 on average over split seeds
//! and the ratings by 0.002 more (docs/evaluation.md).

use rayon::prelude::*;

use faer::linalg::matmul::matmul;
use faer::linalg::solvers::{DenseSolveCore, LltError};
use faer::{Accum, Mat, MatRef, Par, Side};

use super::linalg::axpy;
use super::{
    check_in_range, check_positive_finite, check_ratings_shape, check_unit_interval,
    normalize_history, FitError, FoldIn, ParamError, Scorer, UserRepr,
};
use crate::sparse::{scale_rated, Csr};

/// EASE hyperparameters (unchecked).
#[derive(Debug, Clone, PartialEq)]
pub struct EaseParams {
    reg: f32,
    popularity_exponent: f32,
    activity_exponent: f32,
    two_hop: f32,
    rating_exponent: f32,
}

/// Checked EASE hyperparameters.
#[derive(Debug, Clone, PartialEq)]
pub struct EaseValidParams {
    reg: f32,
    popularity_exponent: f32,
    activity_exponent: f32,
    two_hop: f32,
    rating_exponent: f32,
}

impl Default for EaseParams {
    /// `λ = 500`, a typical value for MovieLens-sized data in the paper's experiments; no
    /// popularity weighting (the paper's model).
    fn default() -> Self {
        Self {
            reg: 500.0,
            popularity_exponent: 0.0,
            activity_exponent: 0.0,
            two_hop: 0.0,
            rating_exponent: 0.0,
        }
    }
}

impl EaseParams {
    /// The smallest penalty [`EaseParams::check`] accepts.
    pub const MIN_REG: f32 = 1e-3;

    /// The L2 penalty `λ` added to the Gram diagonal.
    pub fn reg(mut self, reg: f32) -> Self {
        self.reg = reg;
        self
    }

    /// The exponent `a` of the input column weights `n_i^−a` (module docs); 0 is plain EASE.
    pub fn popularity_exponent(mut self, a: f32) -> Self {
        self.popularity_exponent = a;
        self
    }

    /// The exponent `b` of the user row weights `m_u^−b` (module docs); 0 is plain EASE.
    pub fn activity_exponent(mut self, b: f32) -> Self {
        self.activity_exponent = b;
        self
    }

    /// The weight `γ` of two-step paths, `B + γB²` (module docs); 0 is plain EASE.
    pub fn two_hop(mut self, gamma: f32) -> Self {
        self.two_hop = gamma;
        self
    }

    /// The exponent `p` of the rating factor `(r_ui / r̄)^p` in the fit (module docs); 0 is
    /// plain EASE.
    pub fn rating_exponent(mut self, p: f32) -> Self {
        self.rating_exponent = p;
        self
    }

    /// The largest rating exponent [`EaseParams::check`] accepts.
    pub const MAX_RATING_EXPONENT: f32 = 4.0;

    /// Validate: `λ ≥ MIN_REG` makes `XᵀX + λI` positive definite with room to spare for
    /// rounding. Any `λ > 0` does in exact arithmetic, but a subnormal one (fuzzing found
    /// `λ = 7.7e-45`) adds nothing to a singular Gram matrix in f64 and the Cholesky fails.
    pub fn check(self) -> Result<EaseValidParams, ParamError> {
        check_positive_finite("ease", "reg", self.reg)?;
        if self.reg < Self::MIN_REG {
            return Err(ParamError::new(
                "ease",
                "reg",
                self.reg,
                "must be at least 0.001: smaller penalties leave the item Gram matrix \
                 numerically singular (useful values are 10 to 5000)",
            ));
        }
        Ok(EaseValidParams {
            reg: self.reg,
            popularity_exponent: check_unit_interval(
                "ease",
                "popularity_exponent",
                self.popularity_exponent,
                "must be between 0 and 1: 0 is plain EASE, 1 already weights an item seen by \
                 100 users a hundredth of one seen once (useful values are 0.1 to 0.4)",
            )?,
            activity_exponent: check_unit_interval(
                "ease",
                "activity_exponent",
                self.activity_exponent,
                "must be between 0 and 1: 0 is plain EASE, 1 gives every user the same total \
                 weight (useful values are 0.1 to 0.5)",
            )?,
            two_hop: check_unit_interval(
                "ease",
                "two_hop",
                self.two_hop,
                "must be between 0 and 1: 0 is plain EASE (useful values are 0.05 to 0.3)",
            )?,
            rating_exponent: check_in_range(
                "ease",
                "rating_exponent",
                self.rating_exponent,
                0.0..=Self::MAX_RATING_EXPONENT,
                "must be between 0 and 4: 0 ignores ratings (plain EASE), 1 weights a cell by \
                 its rating over the mean rating (useful values are 0.5 to 2)",
            )?,
        })
    }
}

impl EaseValidParams {
    /// The penalty.
    pub fn reg(&self) -> f32 {
        self.reg
    }

    /// The popularity exponent `a`.
    pub fn popularity_exponent(&self) -> f32 {
        self.popularity_exponent
    }

    /// The activity exponent `b`.
    pub fn activity_exponent(&self) -> f32 {
        self.activity_exponent
    }

    /// The two-hop weight `γ`.
    pub fn two_hop(&self) -> f32 {
        self.two_hop
    }

    /// The rating exponent `p`.
    pub fn rating_exponent(&self) -> f32 {
        self.rating_exponent
    }

    /// `count^−exponent` for each row of `m` (a count of 0 counts as 1); `None` at exponent 0,
    /// where every weight is exactly 1.
    fn row_count_weights(m: &Csr, exponent: f32) -> Option<Vec<f64>> {
        (exponent != 0.0).then(|| {
            let e = f64::from(exponent);
            (0..m.n_rows())
                .map(|r| (m.row(r).0.len().max(1) as f64).powf(-e))
                .collect()
        })
    }

    /// Fit on `data` (users x items; values used as given, binarize first for the paper's
    /// setting). Fails only when `λ` is so small next to the Gram entries that rounding makes
    /// the system numerically indefinite (for example duplicate item columns with `λ = 1e-9`).
    pub fn fit(&self, data: &Csr) -> Result<EaseModel, FitError> {
        self.fit_rated(data, None)
    }

    /// [`EaseValidParams::fit`] with the users' explicit `ratings` (same shape; cells absent
    /// from `data` are ignored) weighting the Gram matrix when `rating_exponent` is set. Without
    /// ratings, or at exponent 0, this is `fit`. A rated cell's rating must be positive.
    pub fn fit_rated(&self, data: &Csr, ratings: Option<&Csr>) -> Result<EaseModel, FitError> {
        match ratings.filter(|_| self.rating_exponent != 0.0) {
            Some(r) => self.fit_values(data, &self.rated_values(data, r)?),
            None => self.fit_values(data, data),
        }
    }

    /// `data` with each rated cell times `(r / r̄)^p`, `r̄` the mean rating over `data`'s rated
    /// cells.
    fn rated_values(&self, data: &Csr, ratings: &Csr) -> Result<Csr, FitError> {
        check_ratings_shape(data, ratings)?;
        let (mut sum, mut count) = (0f64, 0usize);
        for u in 0..data.n_rows() {
            for &i in data.row(u).0 {
                if let Some(r) = ratings.get(u, i) {
                    if !(r > 0.0 && r.is_finite()) {
                        return Err(FitError::NonPositiveRating {
                            row: u as u32,
                            col: i,
                            value: r,
                        });
                    }
                    sum += f64::from(r);
                    count += 1;
                }
            }
        }
        if count == 0 {
            return Ok(data.clone());
        }
        let (mean, p) = (sum / count as f64, f64::from(self.rating_exponent));
        Ok(scale_rated(data, ratings, |r| {
            (f64::from(r) / mean).powf(p)
        }))
    }

    /// The fit with the Gram matrix built from `values` (the pattern of `data`, rescaled) and
    /// `λ` scaled against `data`'s own trace.
    fn fit_values(&self, data: &Csr, values: &Csr) -> Result<EaseModel, FitError> {
        let n = data.n_cols();
        let by_item = values.transpose();
        let cols = Self::row_count_weights(&by_item, self.popularity_exponent);
        // The users' weights enter the Gram matrix squared (both x_ui and x_uj carry one).
        let rows = Self::row_count_weights(data, self.activity_exponent)
            .map(|r| r.into_iter().map(|v| v * v).collect::<Vec<_>>());
        let col_w = |i: usize| cols.as_ref().map_or(1.0, |w| w[i]);
        let row_w = |u: usize| rows.as_ref().map_or(1.0, |w| w[u]);
        // G = WXᵀRXW: row i is w_i Σ_{u ∋ i} r_u x_ui · (x_u ∘ w), one task per item row
        // (disjoint writes). Without weights every factor is exactly 1.
        let mut g = vec![0f64; n * n];
        g.par_chunks_mut(n.max(1)).enumerate().for_each(|(i, row)| {
            let (users, w_i) = by_item.row(i);
            for (&u, &wui) in users.iter().zip(w_i) {
                let (items, w_u) = values.row(u as usize);
                let r = f64::from(wui) * row_w(u as usize);
                // Two loops rather than a weight of 1 per cell: the check per cell cost plain
                // EASE 5% of its fit.
                match &cols {
                    None => {
                        for (&j, &wuj) in items.iter().zip(w_u) {
                            row[j as usize] += r * f64::from(wuj);
                        }
                    }
                    Some(w) => {
                        for (&j, &wuj) in items.iter().zip(w_u) {
                            row[j as usize] += r * f64::from(wuj) * w[j as usize];
                        }
                    }
                }
            }
            if cols.is_some() {
                let w = col_w(i);
                row.iter_mut().for_each(|v| *v *= w);
            }
        });
        let mut reg = f64::from(self.reg);
        // `values` is `data` itself unless ratings rescaled it.
        if cols.is_some() || rows.is_some() || !std::ptr::eq(data, values) {
            let weighted: f64 = (0..n).map(|i| g[i * n + i]).sum();
            let plain: f64 = (0..data.n_rows())
                .flat_map(|u| data.row(u).1)
                .map(|&v| f64::from(v).powi(2))
                .sum();
            if weighted > 0.0 && plain > 0.0 {
                reg *= weighted / plain;
            }
        }
        for i in 0..n {
            g[i * n + i] += reg;
        }
        // P = G⁻¹ through faer's blocked, SIMD Cholesky (G is symmetric, so its row-major
        // buffer is also its column-major one). The hand-written blocked inverse it replaced
        // was slower than numpy; this is 0.41x numpy's CPU time (docs/benchmarks.md, "EASE
        // against numpy").
        let p = match MatRef::from_column_major_slice(&g, n, n).llt(Side::Lower) {
            Ok(llt) => llt.inverse(),
            Err(LltError::NonPositivePivot { index }) => {
                return Err(FitError::NotPositiveDefinite {
                    algorithm: "ease",
                    row: index,
                    hint: "increase reg",
                })
            }
        };
        drop(g);
        // B_ij = −P_ij / P_jj, B_ii = 0, then B + γB² for two-hop paths. P is symmetric, so
        // column i is row i.
        let diag: Vec<f64> = (0..n).map(|j| p[(j, j)]).collect();
        let plain = |i: usize, j: usize| if i == j { 0.0 } else { -p[(j, i)] / diag[j] };
        let two_hop = (self.two_hop != 0.0).then(|| {
            // Column-major with B's (i, j) at (j, i), so the product below is (B²)ᵀ and (j, i)
            // again holds (i, j).
            let bt = Mat::from_fn(n, n, |j, i| plain(i, j));
            let mut out = bt.clone();
            matmul(
                out.as_mut(),
                Accum::Add,
                bt.as_ref(),
                bt.as_ref(),
                f64::from(self.two_hop),
                Par::rayon(0),
            );
            out
        });
        // Row i carries the input weight w_i, so scores are x_u B without weights at serving.
        let mut b = vec![0f32; n * n];
        b.par_chunks_mut(n.max(1)).enumerate().for_each(|(i, row)| {
            let w = col_w(i);
            for (j, out) in row.iter_mut().enumerate() {
                let v = match &two_hop {
                    _ if i == j => 0.0,
                    Some(bt) => bt[(j, i)],
                    None => plain(i, j),
                };
                *out = (v * w) as f32;
            }
        });
        Ok(EaseModel {
            n_items: n,
            weights: b,
        })
    }
}

/// A trained EASE model: the dense item-item weight matrix `B` (row-major, `f32`).
#[derive(Debug, Clone, PartialEq)]
pub struct EaseModel {
    n_items: usize,
    weights: Vec<f32>,
}

impl EaseModel {
    /// A model over stored weights (`n_items²`, row-major), read back by a blend's parts.
    pub(crate) fn from_weights(n_items: usize, weights: Vec<f32>) -> Self {
        debug_assert_eq!(weights.len(), n_items * n_items);
        Self { n_items, weights }
    }

    /// `B_ij`: how much interacting with item `i` raises the score of item `j`.
    pub fn weight(&self, i: u32, j: u32) -> f32 {
        self.weights[i as usize * self.n_items + j as usize]
    }

    /// The full weight matrix, row-major.
    pub fn weights(&self) -> &[f32] {
        &self.weights
    }
}

impl Scorer for EaseModel {
    fn n_items(&self) -> usize {
        self.n_items
    }

    fn score_into(&self, user: &UserRepr, items: &[u32], out: &mut [f32]) {
        assert_eq!(items.len(), out.len(), "one output per candidate");
        out.fill(0.0);
        if let UserRepr::Sparse(h) = user {
            for (o, &j) in out.iter_mut().zip(items) {
                *o = h.iter().map(|&(i, w)| w * self.weight(i, j)).sum();
            }
        }
    }

    /// `x_u B` as a sum of rows of `B` (contiguous axpys), one per history item.
    fn score_all_into(&self, user: &UserRepr, out: &mut [f32]) {
        assert_eq!(out.len(), self.n_items, "one output per item");
        out.fill(0.0);
        if let UserRepr::Sparse(h) = user {
            for &(i, w) in h {
                let row = &self.weights[i as usize * self.n_items..(i as usize + 1) * self.n_items];
                axpy(w, row, out);
            }
        }
    }
}

impl FoldIn for EaseModel {
    /// The history itself (sorted, duplicates summed, unknown items dropped).
    fn fold_in(&self, interactions: &[(u32, f32)]) -> UserRepr {
        UserRepr::Sparse(normalize_history(interactions, self.n_items))
    }
}

impl super::ModelParts for EaseModel {
    const KIND: &'static str = "ease";

    fn to_parts(&self) -> super::Parts<'_> {
        super::Parts::new(Self::KIND).f32_matrix(
            "weights",
            self.n_items,
            self.n_items,
            &self.weights,
        )
    }

    /// The weight matrix must be square.
    fn from_parts(mut parts: super::Parts<'_>) -> Result<Self, super::PartsError> {
        parts.expect_kind(Self::KIND)?;
        let n = match parts.arrays.get("weights").map(|a| a.shape()) {
            Some([n, _]) => *n,
            _ => 0,
        };
        let (weights, n_items, _) =
            parts.take_f32_matrix(Self::KIND, "weights", Some(n), Some(n))?;
        Ok(Self { n_items, weights })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::linalg::tests::gauss_jordan_inverse;
    use crate::model::testdata::{random_matrix, taste_matrix};
    use crate::model::topk::top_k;
    use proptest::prelude::*;

    /// The paper's formula computed naively (dense XᵀX, Gauss–Jordan inverse, B) with the
    /// module docs' refinements written out: `R^½ X W` with `w_i = max(n_i, 1)^−a`,
    /// `r_u = max(m_u, 1)^−2b`, `λ` times the ratio of the weighted to the plain Gram trace,
    /// `B + γB²` with a zero diagonal, rows of B times `w`; with `ratings`, X's rated cells
    /// times `(r / r̄)^p` in the Gram matrix only.
    fn dense_reference(
        data: &Csr,
        reg: f64,
        (a, b, gamma): (f64, f64, f64),
        ratings: Option<(&Csr, f64)>,
    ) -> Vec<f64> {
        let (m, n) = (data.n_rows(), data.n_cols());
        let raw = data.to_dense();
        let factor = ratings.map(|(r, p)| {
            let dense = r.to_dense();
            let rated: Vec<f64> = (0..m * n)
                .filter(|&k| raw[k] != 0.0 && dense[k] != 0.0)
                .map(|k| f64::from(dense[k]))
                .collect();
            let mean = rated.iter().sum::<f64>() / rated.len().max(1) as f64;
            (0..m * n)
                .map(|k| match dense[k] {
                    _ if raw[k] == 0.0 => 1.0,
                    0.0 => 1.0,
                    v => (f64::from(v) / mean).powf(p),
                })
                .collect::<Vec<f64>>()
        });
        let nz = |u: usize, i: usize| raw[u * n + i] != 0.0;
        let w: Vec<f64> = (0..n)
            .map(|i| ((0..m).filter(|&u| nz(u, i)).count().max(1) as f64).powf(-a))
            .collect();
        let r: Vec<f64> = (0..m)
            .map(|u| ((0..n).filter(|&i| nz(u, i)).count().max(1) as f64).powf(-2.0 * b))
            .collect();
        let x = |u: usize, i: usize| {
            f64::from(raw[u * n + i]) * factor.as_ref().map_or(1.0, |f| f[u * n + i])
        };
        let mut g = vec![0f64; n * n];
        for i in 0..n {
            for j in 0..n {
                g[i * n + j] = (0..m).map(|u| r[u] * x(u, i) * x(u, j)).sum::<f64>() * w[i] * w[j];
            }
        }
        let plain: f64 = (0..m * n).map(|k| f64::from(raw[k]).powi(2)).sum();
        let weighted: f64 = (0..n).map(|i| g[i * n + i]).sum();
        let reg = if plain > 0.0 && weighted > 0.0 {
            reg * weighted / plain
        } else {
            reg
        };
        for i in 0..n {
            g[i * n + i] += reg;
        }
        let p = gauss_jordan_inverse(&g, n);
        let mut b1 = vec![0f64; n * n];
        for i in 0..n {
            for j in 0..n {
                if i != j {
                    b1[i * n + j] = -p[i * n + j] / p[j * n + j];
                }
            }
        }
        let mut out = vec![0f64; n * n];
        for i in 0..n {
            for j in 0..n {
                if i != j {
                    let hop2: f64 = (0..n).map(|k| b1[i * n + k] * b1[k * n + j]).sum();
                    out[i * n + j] = (b1[i * n + j] + gamma * hop2) * w[i];
                }
            }
        }
        out
    }

    /// Each user's top 10 scored from their own row (their items excluded).
    fn top10_per_user(model: &EaseModel, data: &Csr) -> Vec<Vec<u32>> {
        let mut scores = vec![0f32; model.n_items()];
        (0..data.n_rows())
            .map(|u| {
                let (cols, vals) = data.row(u);
                let h: Vec<(u32, f32)> = cols.iter().copied().zip(vals.iter().copied()).collect();
                model.score_all_into(&model.fold_in(&h), &mut scores);
                top_k(&scores, 10, cols)
                    .into_iter()
                    .map(|(i, _)| i)
                    .collect()
            })
            .collect()
    }

    #[test]
    fn reg_must_be_positive() {
        assert_eq!(
            EaseParams::default().reg(0.0).check().unwrap_err().field,
            "reg"
        );
        assert_eq!(
            EaseParams::default()
                .reg(f32::NAN)
                .check()
                .unwrap_err()
                .field,
            "reg"
        );
        assert_eq!(EaseParams::default().check().unwrap().reg(), 500.0);
        // The fuzzer's subnormal penalty (fuzz/artifacts/spec crash, stop 26).
        assert_eq!(
            EaseParams::default()
                .reg(7.665e-45)
                .check()
                .unwrap_err()
                .field,
            "reg"
        );
        assert!(EaseParams::default().reg(1e-3).check().is_ok());
        for v in [-0.1, 1.5, f32::NAN, f32::INFINITY] {
            let p = EaseParams::default();
            let field = |p: EaseParams| p.check().unwrap_err().field;
            assert_eq!(
                field(p.clone().popularity_exponent(v)),
                "popularity_exponent"
            );
            assert_eq!(field(p.clone().activity_exponent(v)), "activity_exponent");
            assert_eq!(field(p.clone().two_hop(v)), "two_hop", "{v}");
        }
        for v in [-0.5, 4.5, f32::NAN, f32::INFINITY] {
            let err = EaseParams::default()
                .rating_exponent(v)
                .check()
                .unwrap_err();
            assert_eq!(err.field, "rating_exponent", "{v}");
        }
        assert!(EaseParams::default().rating_exponent(4.0).check().is_ok());
        assert!(EaseParams::default()
            .popularity_exponent(1.0)
            .check()
            .is_ok());
    }

    #[test]
    fn popularity_weighting_moves_picks_away_from_the_most_popular_item() {
        // Items within each taste group are picked with power-law popularity; weighting the
        // popular columns down moves the picks toward the group's less popular items.
        let data = taste_matrix(400, 120, 4, 15, 9);
        let fit = |a: f32| {
            EaseParams::default()
                .reg(50.0)
                .popularity_exponent(a)
                .check()
                .unwrap()
                .fit(&data)
                .unwrap()
        };
        let (plain, weighted) = (fit(0.0), fit(0.5));
        let counts = data.transpose();
        let pop = |i: usize| counts.row(i).0.len() as f64;
        let mean_pop = |m: &EaseModel| {
            let picks = top10_per_user(m, &data).concat();
            picks.iter().map(|&i| pop(i as usize)).sum::<f64>() / picks.len() as f64
        };
        let (p0, p1) = (mean_pop(&plain), mean_pop(&weighted));
        assert!(
            p1 < p0,
            "mean popularity of picks: plain {p0}, weighted {p1}"
        );
    }

    #[test]
    fn loved_co_occurrences_weigh_more_with_a_rating_exponent() {
        // Item 0 co-occurs with item 1 for 20 users who rated both 5, and with item 2 for 20
        // who rated both 2; items 3.. fill the users' histories. Plain EASE sees two equal
        // co-occurrences; with ratings the loved one counts more.
        let (mut cells, mut rated) = (Vec::new(), Vec::new());
        for u in 0..40u32 {
            let (partner, stars) = if u < 20 { (1, 5.0) } else { (2, 2.0) };
            for (i, r) in [(0, stars), (partner, stars), (3 + u % 5, 4.0)] {
                cells.push((u, i, 1.0));
                rated.push((u, i, r));
            }
        }
        let data = Csr::from_triplets(40, 8, cells).unwrap();
        let ratings = Csr::from_triplets(40, 8, rated).unwrap();
        let fit = |p: f32| {
            EaseParams::default()
                .reg(5.0)
                .rating_exponent(p)
                .check()
                .unwrap()
                .fit_rated(&data, Some(&ratings))
                .unwrap()
        };
        let plain = fit(0.0);
        assert!((plain.weight(0, 1) - plain.weight(0, 2)).abs() < 1e-6);
        assert_eq!(
            plain,
            EaseParams::default()
                .reg(5.0)
                .check()
                .unwrap()
                .fit(&data)
                .unwrap()
        );
        let rated = fit(1.0);
        assert!(
            rated.weight(0, 1) > 1.2 * rated.weight(0, 2),
            "{} vs {}",
            rated.weight(0, 1),
            rated.weight(0, 2)
        );
        // Without ratings the exponent has nothing to weigh.
        let p = EaseParams::default()
            .reg(5.0)
            .rating_exponent(1.0)
            .check()
            .unwrap();
        assert_eq!(p.fit_rated(&data, None).unwrap(), plain);
    }

    #[test]
    fn a_non_positive_rating_is_an_error_when_ratings_weigh() {
        let data = Csr::from_triplets(2, 2, [(0, 0, 1.0), (0, 1, 1.0), (1, 1, 1.0)]).unwrap();
        let ratings = Csr::from_triplets(2, 2, [(0, 0, 4.0), (1, 1, -1.0)]).unwrap();
        let p = EaseParams::default().rating_exponent(1.0).check().unwrap();
        let err = p.fit_rated(&data, Some(&ratings)).unwrap_err();
        assert_eq!(
            err,
            FitError::NonPositiveRating {
                row: 1,
                col: 1,
                value: -1.0
            }
        );
        assert!(err.to_string().contains("rating_exponent"), "{err}");
        // At exponent 0 ratings are not read.
        let plain = EaseParams::default().check().unwrap();
        assert!(plain.fit_rated(&data, Some(&ratings)).is_ok());
        let wrong_shape = Csr::from_triplets(3, 2, [(0, 0, 4.0)]).unwrap();
        assert_eq!(
            p.fit_rated(&data, Some(&wrong_shape)).unwrap_err(),
            FitError::ShapeMismatch {
                what: "ratings matrix users",
                expected: 2,
                got: 3
            }
        );
    }

    #[test]
    fn numerically_indefinite_systems_are_reported_not_panicked() {
        // Two identical item columns with a penalty below the rounding of their Gram entries:
        // with w = 2⁶⁰ every step is exact and the second pivot is exactly 0.
        let w = 2f32.powi(60);
        let data = Csr::from_triplets(1, 2, [(0, 0, w), (0, 1, w)]).unwrap();
        let fit = |reg: f32| EaseParams::default().reg(reg).check().unwrap().fit(&data);
        let err = fit(1.0).unwrap_err();
        assert!(
            matches!(
                err,
                FitError::NotPositiveDefinite {
                    algorithm: "ease",
                    ..
                }
            ),
            "{err}"
        );
        assert!(fit(2f32.powi(70)).is_ok());
    }

    #[test]
    fn recommends_from_the_users_taste_group() {
        let data = taste_matrix(400, 120, 4, 15, 9);
        let model = EaseParams::default()
            .reg(50.0)
            .check()
            .unwrap()
            .fit(&data)
            .unwrap();
        let lists = top10_per_user(&model, &data);
        let total: usize = lists.iter().map(Vec::len).sum();
        let hits: usize = (lists.iter().enumerate())
            .map(|(u, list)| list.iter().filter(|&&i| i as usize % 4 == u % 4).count())
            .sum();
        assert!(hits as f64 / total as f64 > 0.85, "{hits}/{total}");
    }

    #[test]
    fn subset_scores_equal_full_scores() {
        let data = random_matrix(30, 12, 0.3, 2, 3);
        let model = EaseParams::default()
            .reg(5.0)
            .check()
            .unwrap()
            .fit(&data)
            .unwrap();
        let user = model.fold_in(&[(4, 1.0), (1, 2.0), (99, 1.0)]);
        let mut all = vec![0f32; 12];
        model.score_all_into(&user, &mut all);
        let mut some = vec![0f32; 3];
        model.score_into(&user, &[7, 1, 0], &mut some);
        assert_eq!(some, vec![all[7], all[1], all[0]]);
        assert_eq!(all[1], 2.0 * model.weight(1, 1) + model.weight(4, 1));
        model.score_all_into(&UserRepr::Anonymous, &mut all);
        assert!(all.iter().all(|&v| v == 0.0));
    }

    proptest! {
        // Each refinement is 0 in half the cases, so plain EASE is about one case in sixteen.
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn matches_dense_reference(
            n_users in 1usize..40,
            n_items in 1usize..25,
            density in 0.05f64..0.7,
            reg in 0.5f32..50.0,
            a in prop_oneof![Just(0.0f32), 0.0f32..=1.0],
            b in prop_oneof![Just(0.0f32), 0.0f32..=1.0],
            gamma in prop_oneof![Just(0.0f32), 0.0f32..=1.0],
            p in prop_oneof![Just(0.0f32), 0.0f32..=3.0],
            seed in 0u64..1000,
        ) {
            let data = random_matrix(n_users, n_items, density, 3, seed);
            // Ratings 1–5 on about two cells in three, plus some on cells `data` lacks
            // (ignored); the rest unrated.
            let ratings = Csr::from_triplets(
                n_users,
                n_items,
                (0..n_users * n_items)
                    .map(|k| (k, (k as u64).wrapping_mul(2_654_435_761).wrapping_add(seed) % 8))
                    .filter(|&(_, h)| h < 5 || h == 7)
                    .map(|(k, h)| ((k / n_items) as u32, (k % n_items) as u32, (h % 5 + 1) as f32)),
            )
            .unwrap();
            let model = EaseParams::default()
                .reg(reg)
                .popularity_exponent(a)
                .activity_exponent(b)
                .two_hop(gamma)
                .rating_exponent(p)
                .check()
                .unwrap()
                .fit_rated(&data, Some(&ratings))
                .unwrap();
            let want = dense_reference(
                &data,
                f64::from(reg),
                (f64::from(a), f64::from(b), f64::from(gamma)),
                (p != 0.0).then_some((&ratings, f64::from(p))),
            );
            for (got, want) in model.weights().iter().zip(&want) {
                prop_assert!((f64::from(*got) - want).abs() <= 1e-5 * want.abs().max(1e-2), "{} vs {}", got, want);
            }
            for i in 0..n_items as u32 {
                prop_assert_eq!(model.weight(i, i), 0.0);
            }
        }
    }
}
