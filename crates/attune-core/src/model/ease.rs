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

use rayon::prelude::*;

use faer::linalg::solvers::{DenseSolveCore, LltError};
use faer::{MatRef, Side};

use super::linalg::axpy;
use super::{
    check_positive_finite, normalize_history, FitError, FoldIn, ParamError, Scorer, UserRepr,
};
use crate::sparse::Csr;

/// EASE hyperparameters (unchecked).
#[derive(Debug, Clone, PartialEq)]
pub struct EaseParams {
    reg: f32,
}

/// Checked EASE hyperparameters.
#[derive(Debug, Clone, PartialEq)]
pub struct EaseValidParams {
    reg: f32,
}

impl Default for EaseParams {
    /// `λ = 500`, a typical value for MovieLens-sized data in the paper's experiments.
    fn default() -> Self {
        Self { reg: 500.0 }
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
        Ok(EaseValidParams { reg: self.reg })
    }
}

impl EaseValidParams {
    /// The penalty.
    pub fn reg(&self) -> f32 {
        self.reg
    }

    /// Fit on `data` (users x items; values used as given, binarize first for the paper's
    /// setting). Fails only when `λ` is so small next to the Gram entries that rounding makes
    /// the system numerically indefinite (for example duplicate item columns with `λ = 1e-9`).
    pub fn fit(&self, data: &Csr) -> Result<EaseModel, FitError> {
        let n = data.n_cols();
        let by_item = data.transpose();
        // G = XᵀX: row i is Σ_{u ∋ i} x_ui · x_u, one task per item row (disjoint writes).
        let mut g = vec![0f64; n * n];
        g.par_chunks_mut(n.max(1)).enumerate().for_each(|(i, row)| {
            let (users, w_i) = by_item.row(i);
            for (&u, &wui) in users.iter().zip(w_i) {
                let (items, w_u) = data.row(u as usize);
                for (&j, &wuj) in items.iter().zip(w_u) {
                    row[j as usize] += f64::from(wui) * f64::from(wuj);
                }
            }
            row[i] += f64::from(self.reg);
        });
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
        // P is symmetric too: column i is row i. B_ij = −P_ij / P_jj, B_ii = 0.
        let diag: Vec<f64> = (0..n).map(|j| p[(j, j)]).collect();
        let mut b = vec![0f32; n * n];
        b.par_chunks_mut(n.max(1)).enumerate().for_each(|(i, row)| {
            let p_i = p.col_as_slice(i);
            for j in 0..n {
                row[j] = if i == j {
                    0.0
                } else {
                    (-p_i[j] / diag[j]) as f32
                };
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

    /// The paper's formula computed naively: dense XᵀX, Gauss–Jordan inverse, B.
    fn dense_reference(data: &Csr, reg: f64) -> Vec<f64> {
        let (m, n) = (data.n_rows(), data.n_cols());
        let x = data.to_dense();
        let mut g = vec![0f64; n * n];
        for i in 0..n {
            for j in 0..n {
                g[i * n + j] = (0..m)
                    .map(|u| f64::from(x[u * n + i]) * f64::from(x[u * n + j]))
                    .sum();
            }
            g[i * n + i] += reg;
        }
        let p = gauss_jordan_inverse(&g, n);
        let mut b = vec![0f64; n * n];
        for i in 0..n {
            for j in 0..n {
                b[i * n + j] = if i == j {
                    0.0
                } else {
                    -p[i * n + j] / p[j * n + j]
                };
            }
        }
        b
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
        let mut scores = vec![0f32; model.n_items()];
        let (mut hits, mut total) = (0, 0);
        for u in 0..data.n_rows() {
            let (cols, vals) = data.row(u);
            let h: Vec<(u32, f32)> = cols.iter().copied().zip(vals.iter().copied()).collect();
            model.score_all_into(&model.fold_in(&h), &mut scores);
            for (i, _) in top_k(&scores, 10, cols) {
                total += 1;
                hits += usize::from(i as usize % 4 == u % 4);
            }
        }
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
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn matches_dense_reference(
            n_users in 1usize..40,
            n_items in 1usize..25,
            density in 0.05f64..0.7,
            reg in 0.5f32..50.0,
            seed in 0u64..1000,
        ) {
            let data = random_matrix(n_users, n_items, density, 3, seed);
            let model = EaseParams::default().reg(reg).check().unwrap().fit(&data).unwrap();
            let want = dense_reference(&data, f64::from(reg));
            for (got, want) in model.weights().iter().zip(&want) {
                prop_assert!((f64::from(*got) - want).abs() <= 1e-5 * want.abs().max(1e-2), "{} vs {}", got, want);
            }
            for i in 0..n_items as u32 {
                prop_assert_eq!(model.weight(i, i), 0.0);
            }
        }
    }
}
