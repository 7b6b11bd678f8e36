//! Bayesian personalized ranking (Rendle et al. 2009): matrix factorization trained by SGD on
//! sampled triples (user, liked item, other item) to rank liked items above the rest.
//!
//! Each epoch draws `nnz` triples: an observed `(u, i)` uniformly over the entries, and a
//! negative `j` uniformly over the catalog; a `j` the user has interacted with is skipped (the
//! `implicit` library's `verify_negative_samples`). The update ascends
//! `ln σ(x_uij) − λ(‖x_u‖² + ‖y_i‖² + ‖y_j‖² + b_i² + b_j²)` with
//! `x_uij = x_u·(y_i − y_j) + b_i − b_j`. Items have a bias, as in `implicit`.
//!
//! Training is single-threaded on purpose: the usual parallel form (Hogwild) races on the item
//! rows, and attune promises the same model for the same seed. BPR is the pairwise baseline,
//! not the workhorse (ALS is).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::linalg::dot;
use super::{
    check_non_negative_finite, check_positive_finite, normalize_history, FitError, FoldIn,
    ParamError, Scorer, UserRepr,
};
use crate::sparse::Csr;

/// BPR hyperparameters (unchecked).
#[derive(Debug, Clone, PartialEq)]
pub struct BprParams {
    factors: usize,
    learning_rate: f32,
    reg: f32,
    epochs: usize,
    seed: u64,
}

/// Checked BPR hyperparameters.
#[derive(Debug, Clone, PartialEq)]
pub struct BprValidParams(BprParams);

impl BprParams {
    /// `factors` latent dimensions; defaults `learning_rate = 0.01`, `reg = 0.01`, 100 epochs,
    /// seed 0 (the `implicit` defaults).
    pub fn new(factors: usize) -> Self {
        Self {
            factors,
            learning_rate: 0.01,
            reg: 0.01,
            epochs: 100,
            seed: 0,
        }
    }

    /// SGD step size.
    pub fn learning_rate(mut self, learning_rate: f32) -> Self {
        self.learning_rate = learning_rate;
        self
    }

    /// L2 regularization.
    pub fn reg(mut self, reg: f32) -> Self {
        self.reg = reg;
        self
    }

    /// Passes of `nnz` sampled triples.
    pub fn epochs(mut self, epochs: usize) -> Self {
        self.epochs = epochs;
        self
    }

    /// Seed of the initialization and the sampling.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Validate every field.
    pub fn check(self) -> Result<BprValidParams, ParamError> {
        if self.factors == 0 || self.factors > super::als::MAX_FACTORS {
            return Err(ParamError::new(
                "bpr",
                "factors",
                self.factors,
                "must be between 1 and 1024",
            ));
        }
        check_positive_finite("bpr", "learning_rate", self.learning_rate)?;
        check_non_negative_finite("bpr", "reg", self.reg)?;
        if self.epochs == 0 {
            return Err(ParamError::new("bpr", "epochs", 0, "must be at least 1"));
        }
        Ok(BprValidParams(self))
    }
}

/// One SGD step on a triple. Returns nothing; updates in place.
#[inline]
#[allow(clippy::too_many_arguments)]
fn sgd_step(
    x: &mut [f32],
    yi: &mut [f32],
    yj: &mut [f32],
    bi: &mut f32,
    bj: &mut f32,
    lr: f32,
    reg: f32,
    update_items: bool,
) {
    let mut diff = 0f32;
    for f in 0..x.len() {
        diff += x[f] * (yi[f] - yj[f]);
    }
    let xuij = diff + *bi - *bj;
    let z = 1.0 / (1.0 + xuij.exp()); // σ(−x_uij): the gradient weight
    for f in 0..x.len() {
        let (xu, a, b) = (x[f], yi[f], yj[f]);
        x[f] += lr * (z * (a - b) - reg * xu);
        if update_items {
            yi[f] += lr * (z * xu - reg * a);
            yj[f] += lr * (-z * xu - reg * b);
        }
    }
    if update_items {
        *bi += lr * (z - reg * *bi);
        *bj += lr * (-z - reg * *bj);
    }
}

fn two_rows(m: &mut [f32], k: usize, i: usize, j: usize) -> (&mut [f32], &mut [f32]) {
    debug_assert_ne!(i, j);
    if i < j {
        let (a, b) = m.split_at_mut(j * k);
        (&mut a[i * k..(i + 1) * k], &mut b[..k])
    } else {
        let (a, b) = m.split_at_mut(i * k);
        (&mut b[..k], &mut a[j * k..(j + 1) * k])
    }
}

impl BprValidParams {
    /// Train on `data` (users x items; any stored entry with weight > 0 is a positive).
    pub fn fit(&self, data: &Csr) -> Result<BprModel, FitError> {
        super::check_non_negative(data)?;
        let p = &self.0;
        let (k, n_users, n_items) = (p.factors, data.n_rows(), data.n_cols());
        let mut rng = ChaCha8Rng::seed_from_u64(p.seed);
        let mut init = |n: usize| {
            (0..n * k)
                .map(|_| (rng.random::<f32>() - 0.5) / k as f32)
                .collect::<Vec<f32>>()
        };
        let mut users = init(n_users);
        let mut items = init(n_items);
        let mut bias = vec![0f32; n_items];
        // Row of every entry, for sampling an observed pair uniformly.
        let positives: Vec<usize> = (0..data.nnz()).filter(|&e| data.data()[e] > 0.0).collect();
        let row_of: Vec<u32> = (0..n_users)
            .flat_map(|u| std::iter::repeat_n(u as u32, data.row_nnz(u)))
            .collect();
        if positives.is_empty() || n_items < 2 {
            return Ok(BprModel {
                k,
                users,
                items,
                bias,
            });
        }
        for _ in 0..p.epochs {
            for _ in 0..positives.len() {
                let e = positives[rng.random_range(0..positives.len())];
                let u = row_of[e] as usize;
                let i = data.indices()[e] as usize;
                let j = rng.random_range(0..n_items);
                if j == i || data.row(u).0.binary_search(&(j as u32)).is_ok() {
                    continue;
                }
                let x = &mut users[u * k..(u + 1) * k];
                let (yi, yj) = two_rows(&mut items, k, i, j);
                let (bi, bj) = if i < j {
                    let (a, b) = bias.split_at_mut(j);
                    (&mut a[i], &mut b[0])
                } else {
                    let (a, b) = bias.split_at_mut(i);
                    (&mut b[0], &mut a[j])
                };
                sgd_step(x, yi, yj, bi, bj, p.learning_rate, p.reg, true);
            }
        }
        Ok(BprModel {
            k,
            users,
            items,
            bias,
        })
    }
}

/// A trained BPR model: user and item factors plus item biases.
#[derive(Debug, Clone, PartialEq)]
pub struct BprModel {
    k: usize,
    users: Vec<f32>,
    items: Vec<f32>,
    bias: Vec<f32>,
}

/// SGD passes over a folded-in history (each pass samples one negative per history item).
const FOLD_IN_EPOCHS: usize = 50;

impl BprModel {
    /// The representation of training user `u`.
    pub fn user(&self, u: u32) -> UserRepr {
        UserRepr::Dense(self.users[u as usize * self.k..(u as usize + 1) * self.k].to_vec())
    }

    /// Factors of item `i`.
    pub fn item_factors(&self, i: u32) -> &[f32] {
        &self.items[i as usize * self.k..(i as usize + 1) * self.k]
    }

    /// Bias of item `i`.
    pub fn item_bias(&self, i: u32) -> f32 {
        self.bias[i as usize]
    }
}

impl Scorer for BprModel {
    fn n_items(&self) -> usize {
        self.bias.len()
    }

    fn score_into(&self, user: &UserRepr, items: &[u32], out: &mut [f32]) {
        assert_eq!(items.len(), out.len(), "one output per candidate");
        match user {
            UserRepr::Dense(x) if x.len() == self.k => {
                for (o, &i) in out.iter_mut().zip(items) {
                    *o = dot(x, self.item_factors(i)) + self.bias[i as usize];
                }
            }
            UserRepr::Sparse(h) => self.score_into(&self.fold_in(h), items, out),
            // Without a user, the item bias is BPR's popularity-like prior.
            UserRepr::Anonymous => {
                for (o, &i) in out.iter_mut().zip(items) {
                    *o = self.bias[i as usize];
                }
            }
            UserRepr::Dense(_) => out.fill(0.0),
        }
    }

    fn score_all_into(&self, user: &UserRepr, out: &mut [f32]) {
        assert_eq!(out.len(), self.n_items(), "one output per item");
        match user {
            UserRepr::Dense(x) if x.len() == self.k => {
                for ((o, y), b) in out
                    .iter_mut()
                    .zip(self.items.chunks_exact(self.k))
                    .zip(&self.bias)
                {
                    *o = dot(x, y) + b;
                }
            }
            UserRepr::Sparse(h) => self.score_all_into(&self.fold_in(h), out),
            UserRepr::Anonymous => out.copy_from_slice(&self.bias),
            UserRepr::Dense(_) => out.fill(0.0),
        }
    }
}

impl FoldIn for BprModel {
    /// A few SGD passes on the user vector alone (item factors fixed), from zero, with negatives
    /// drawn by an RNG seeded from the history itself: the same history always gives the same
    /// vector.
    fn fold_in(&self, interactions: &[(u32, f32)]) -> UserRepr {
        let h = normalize_history(interactions, self.n_items());
        let pos: Vec<u32> = h.iter().filter(|e| e.1 > 0.0).map(|e| e.0).collect();
        let mut x = vec![0f32; self.k];
        let n = self.n_items();
        if pos.is_empty() || n < 2 {
            return UserRepr::Dense(x);
        }
        let seed = pos.iter().fold(0xcbf2_9ce4_8422_2325u64, |s, &i| {
            (s ^ u64::from(i)).wrapping_mul(0x100_0000_01b3)
        });
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (mut yi, mut yj) = (vec![0f32; self.k], vec![0f32; self.k]);
        for _ in 0..FOLD_IN_EPOCHS {
            for &i in &pos {
                let j = rng.random_range(0..n) as u32;
                if pos.binary_search(&j).is_ok() {
                    continue;
                }
                yi.copy_from_slice(self.item_factors(i));
                yj.copy_from_slice(self.item_factors(j));
                let (mut bi, mut bj) = (self.bias[i as usize], self.bias[j as usize]);
                sgd_step(
                    &mut x, &mut yi, &mut yj, &mut bi, &mut bj, 0.05, 0.01, false,
                );
            }
        }
        UserRepr::Dense(x)
    }
}

impl super::ModelParts for BprModel {
    const KIND: &'static str = "bpr";

    fn to_parts(&self) -> super::Parts<'_> {
        let k = self.k;
        super::Parts::new(Self::KIND)
            .param("factors", super::parts::int(k))
            .f32_matrix("user_factors", self.users.len() / k, k, &self.users)
            .f32_matrix("item_factors", self.bias.len(), k, &self.items)
            .f32_vector("item_bias", &self.bias)
    }

    fn from_parts(mut parts: super::Parts<'_>) -> Result<Self, super::PartsError> {
        parts.expect_kind(Self::KIND)?;
        let k = parts.usize_param(Self::KIND, "factors", 1)?;
        let (users, _, _) = parts.take_f32_matrix(Self::KIND, "user_factors", None, Some(k))?;
        let (items, n, _) = parts.take_f32_matrix(Self::KIND, "item_factors", None, Some(k))?;
        let bias = parts.take_f32_vector(Self::KIND, "item_bias", Some(n))?;
        Ok(Self {
            k,
            users,
            items,
            bias,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::{evaluate_ranking, split::random_holdout};
    use crate::model::testdata::taste_matrix;
    use crate::model::Popularity;

    #[test]
    fn factors_must_be_between_1_and_1024() {
        assert_eq!(BprParams::new(0).check().unwrap_err().field, "factors");
        assert_eq!(BprParams::new(2000).check().unwrap_err().field, "factors");
    }

    #[test]
    fn learning_rate_must_be_positive() {
        assert_eq!(
            BprParams::new(8)
                .learning_rate(0.0)
                .check()
                .unwrap_err()
                .field,
            "learning_rate"
        );
    }

    #[test]
    fn reg_must_be_non_negative() {
        assert_eq!(
            BprParams::new(8).reg(-0.1).check().unwrap_err().field,
            "reg"
        );
    }

    #[test]
    fn epochs_must_be_at_least_one() {
        assert_eq!(
            BprParams::new(8).epochs(0).check().unwrap_err().field,
            "epochs"
        );
    }

    fn split_taste() -> (Csr, Csr) {
        let full = taste_matrix(500, 200, 5, 20, 23);
        let mut users = Vec::new();
        let mut t = Vec::new();
        for u in 0..full.n_rows() {
            let (cols, vals) = full.row(u);
            for (&i, &v) in cols.iter().zip(vals) {
                users.push(u as u32);
                t.push((u as u32, i, v));
            }
        }
        random_holdout(&users, 0.2, 2)
            .unwrap()
            .to_csr(&t, full.n_rows(), full.n_cols())
            .unwrap()
    }

    #[test]
    fn learns_to_rank_better_than_popularity_and_is_deterministic() {
        let (train, test) = split_taste();
        let params = BprParams::new(16)
            .learning_rate(0.05)
            .epochs(30)
            .seed(4)
            .check()
            .unwrap();
        let model = params.fit(&train).unwrap();
        assert_eq!(model, params.fit(&train).unwrap());
        // Trained user vectors rank held-out items far better than popularity...
        let pop = evaluate_ranking(&Popularity::most_popular(&train), &train, &test, 10);
        let mut hits = 0usize;
        let mut scores = vec![0f32; model.n_items()];
        for u in 0..train.n_rows() {
            model.score_all_into(&model.user(u as u32), &mut scores);
            let top = crate::model::topk::top_k(&scores, 10, train.row(u).0);
            hits += top
                .iter()
                .filter(|e| test.row(u).0.binary_search(&e.0).is_ok())
                .count();
        }
        let precision = hits as f64 / (10 * test.n_rows()) as f64;
        assert!(
            precision > 2.0 * pop.precision,
            "bpr precision {precision} vs popularity {}",
            pop.precision
        );
        // ...and so do folded-in users.
        let folded = evaluate_ranking(&model, &train, &test, 10);
        assert!(
            folded.ndcg > 2.0 * pop.ndcg,
            "folded ndcg {} vs popularity {}",
            folded.ndcg,
            pop.ndcg
        );
    }
}
