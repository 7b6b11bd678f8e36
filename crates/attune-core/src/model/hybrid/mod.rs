//! A hybrid of collaborative filtering and content: LightFM-style factorization (Kula 2015)
//! where an item's vector is the sum of the embeddings of its features (its identity plus its
//! text, category and attribute features) and a user's vector is the sum of the embeddings of
//! the user's identity and optional user features.
//!
//! Items with many interactions are described mostly by their identity embedding, as in plain
//! matrix factorization; items with few or none lean on the embeddings their features learned
//! from every other item that shares them. That is what lets the hybrid rank cold items (which
//! pure collaborative filtering cannot) while still learning quality and popularity from
//! interactions (which pure content cannot).
//!
//! # Model
//! `score(u, i) = p_u · q_i + b_i` with `q_i = Σ_f x_if e_f`, `b_i = Σ_f x_if β_f` over the
//! item's composite feature row, and `p_u = Σ_g y_ug e'_g` over the user's. Composite rows
//! follow LightFM's normalization: the identity feature weighs `identity_weight`, the external
//! features (L1-normalized) share `1 − identity_weight`. Items (users) without training
//! interactions get no identity feature, only their external features at the same scale (an
//! identity embedding that never received a gradient would only add noise). There is no user
//! bias: it cannot change a ranking.
//!
//! # Training
//! Each epoch visits every positive `(u, i)` (stored weight > 0; the weight's size is not used)
//! in a seeded random order, samples a negative, and takes one Adagrad step (LightFM's default
//! schedule, accumulators started at 1) on every feature involved:
//! - [`HybridLoss::Bpr`]: one uniform negative the user has not interacted with; ascend
//!   `ln σ(s_ui − s_uj)`.
//! - [`HybridLoss::Warp`]: draw negatives until one violates the margin (`s_uj > s_ui − 1`)
//!   or `max_sampled` draws are spent; with a violation after `n` draws, descend the hinge
//!   `1 − s_ui + s_uj` weighted by `ln ⌊(n_items − 1) / n⌋` (capped at 10). Few draws means
//!   the positive is ranked badly, so the step is larger: WARP optimizes the top of the list.
//!
//! **Determinism:** training is single-threaded on purpose. The usual parallel form (Hogwild,
//! as in LightFM with `num_threads > 1`) races on shared feature embeddings, and attune
//! promises the same model for the same data and seed on any machine load. Representations are
//! then computed in parallel into disjoint rows.
//!
//! [`HybridModel::epoch_losses`] records, per epoch, the mean BPR log-loss
//! `ln(1 + e^−(s_ui − s_uj))` against the first valid sampled negative (before the step), for
//! both losses, so runs can be compared and convergence watched.
//!
//! # Serving
//! [`FoldIn`] learns a new user's vector against the fixed item representations with the
//! training loss (a few Adagrad epochs, seeded from the history, so the same history gives the
//! same vector); [`HybridModel::fold_in_with_features`] starts from the user's feature
//! embeddings instead of zero, and [`HybridModel::fold_in_profile`] does so from a profile
//! through the [`UserFeatureEncoding`] the model was trained with (profile attributes, see
//! `user_encoding`). [`HybridModel::item_representation`] turns the feature row of an
//! item added after training into a vector to score.

mod parts;
mod train;
mod user_encoding;

pub use self::user_encoding::{UserColumn, UserFeatureEncoding};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use self::train::{compose, draw_negative, score, softplus_neg, Embeddings, Scratch};
use super::linalg::dot;
use super::{
    check_non_negative, check_non_negative_finite, check_positive_finite, check_unit_interval,
    normalize_history, FitError, FoldIn, ParamError, Scorer, UserRepr,
};
use crate::sparse::Csr;

/// The ranking loss of [`HybridParams`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HybridLoss {
    /// Bayesian personalized ranking: one uniform negative per positive.
    Bpr,
    /// Weighted approximate-rank pairwise: sampled negatives until a margin violation,
    /// weighted by the estimated rank (better precision at the top of the list).
    Warp,
}

/// Hybrid hyperparameters (unchecked).
#[derive(Debug, Clone, PartialEq)]
pub struct HybridParams {
    factors: usize,
    loss: HybridLoss,
    learning_rate: f32,
    item_reg: f32,
    user_reg: f32,
    epochs: usize,
    max_sampled: usize,
    identity_weight: f32,
    fold_in_epochs: usize,
    seed: u64,
}

/// Checked hybrid hyperparameters.
#[derive(Debug, Clone, PartialEq)]
pub struct HybridValidParams(HybridParams);

impl HybridParams {
    /// `factors` latent dimensions; defaults: WARP loss, Adagrad learning rate 0.05, no
    /// regularization, 30 epochs, 10 WARP draws (the LightFM defaults), identity weight 0.5,
    /// 20 fold-in epochs, seed 0.
    pub fn new(factors: usize) -> Self {
        Self {
            factors,
            loss: HybridLoss::Warp,
            learning_rate: 0.05,
            item_reg: 0.0,
            user_reg: 0.0,
            epochs: 30,
            max_sampled: 10,
            identity_weight: 0.5,
            fold_in_epochs: 20,
            seed: 0,
        }
    }

    /// The ranking loss.
    pub fn loss(mut self, loss: HybridLoss) -> Self {
        self.loss = loss;
        self
    }

    /// Adagrad base step.
    pub fn learning_rate(mut self, learning_rate: f32) -> Self {
        self.learning_rate = learning_rate;
        self
    }

    /// L2 regularization of item feature embeddings and biases, per step.
    pub fn item_reg(mut self, reg: f32) -> Self {
        self.item_reg = reg;
        self
    }

    /// L2 regularization of user feature embeddings, per step.
    pub fn user_reg(mut self, reg: f32) -> Self {
        self.user_reg = reg;
        self
    }

    /// Passes over the positives.
    pub fn epochs(mut self, epochs: usize) -> Self {
        self.epochs = epochs;
        self
    }

    /// Most negatives drawn per positive by WARP.
    pub fn max_sampled(mut self, max_sampled: usize) -> Self {
        self.max_sampled = max_sampled;
        self
    }

    /// Share of a row's weight on its identity feature, in `[0, 1]`: 1 ignores the features
    /// (plain factorization, cold items score 0), 0 ignores identities (a pure feature
    /// model).
    pub fn identity_weight(mut self, w: f32) -> Self {
        self.identity_weight = w;
        self
    }

    /// Adagrad epochs over a folded-in history.
    pub fn fold_in_epochs(mut self, epochs: usize) -> Self {
        self.fold_in_epochs = epochs;
        self
    }

    /// Seed of the initialization, the visiting order and the negative sampling.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Validate every field.
    pub fn check(self) -> Result<HybridValidParams, ParamError> {
        const A: &str = "hybrid";
        if self.factors == 0 || self.factors > super::als::MAX_FACTORS {
            return Err(ParamError::new(
                A,
                "factors",
                self.factors,
                "must be between 1 and 1024",
            ));
        }
        check_positive_finite(A, "learning_rate", self.learning_rate)?;
        check_non_negative_finite(A, "item_reg", self.item_reg)?;
        check_non_negative_finite(A, "user_reg", self.user_reg)?;
        if self.epochs == 0 {
            return Err(ParamError::new(A, "epochs", 0, "must be at least 1"));
        }
        if self.max_sampled == 0 {
            return Err(ParamError::new(A, "max_sampled", 0, "must be at least 1"));
        }
        check_unit_interval(
            A,
            "identity_weight",
            self.identity_weight,
            "must be between 0 and 1",
        )?;
        if self.fold_in_epochs == 0 {
            return Err(ParamError::new(
                A,
                "fold_in_epochs",
                0,
                "must be at least 1",
            ));
        }
        Ok(HybridValidParams(self))
    }
}

fn check_rows(what: &'static str, m: &Csr, expected: usize) -> Result<(), FitError> {
    if m.n_rows() == expected {
        Ok(())
    } else {
        Err(FitError::ShapeMismatch {
            what,
            expected,
            got: m.n_rows(),
        })
    }
}

fn shuffle<T>(rng: &mut ChaCha8Rng, v: &mut [T]) {
    use rand::Rng;
    for i in (1..v.len()).rev() {
        let j = rng.random_range(0..=i);
        v.swap(i, j);
    }
}

impl HybridValidParams {
    /// Train on `data` (users x items, weights >= 0), `item_features` (items x item features,
    /// for example [`crate::features::ItemFeatures::matrix`]) and optional `user_features`
    /// (users x user features). Feature values may be any finite numbers; each row is
    /// L1-normalized (see the module docs).
    pub fn fit(
        &self,
        data: &Csr,
        item_features: &Csr,
        user_features: Option<&Csr>,
    ) -> Result<HybridModel, FitError> {
        check_non_negative(data)?;
        check_rows("item_features rows", item_features, data.n_cols())?;
        if let Some(uf) = user_features {
            check_rows("user_features rows", uf, data.n_rows())?;
        }
        let p = &self.0;
        let (n_users, n_items, k) = (data.n_rows(), data.n_cols(), p.factors);
        let mut positives: Vec<(u32, u32)> = Vec::with_capacity(data.nnz());
        let mut user_warm = vec![false; n_users];
        let mut item_warm = vec![false; n_items];
        for (u, warm) in user_warm.iter_mut().enumerate() {
            let (cols, vals) = data.row(u);
            for (&i, &v) in cols.iter().zip(vals) {
                if v > 0.0 {
                    positives.push((u as u32, i));
                    *warm = true;
                    item_warm[i as usize] = true;
                }
            }
        }
        let items = compose(n_items, Some(item_features), &item_warm, p.identity_weight);
        let users = compose(n_users, user_features, &user_warm, p.identity_weight);
        let used = |warm: &[bool], n_ext: usize| {
            let mut u = warm.to_vec();
            u.resize(warm.len() + n_ext, true);
            u
        };
        let mut rng = ChaCha8Rng::seed_from_u64(p.seed);
        let mut item_emb = Embeddings::new(k, &used(&item_warm, item_features.n_cols()), &mut rng);
        let mut user_emb = Embeddings::new(
            k,
            &used(&user_warm, user_features.map_or(0, Csr::n_cols)),
            &mut rng,
        );
        let mut epoch_losses = Vec::new();
        if n_items >= 2 && !positives.is_empty() {
            let mut s = Scratch::new(k);
            for _ in 0..p.epochs {
                shuffle(&mut rng, &mut positives);
                let (mut loss_sum, mut loss_n) = (0f64, 0usize);
                for &(u, i) in &positives {
                    let (urow, irow) = (users.row(u as usize), items.row(i as usize));
                    user_emb.repr(urow, &mut s.p);
                    let b_i = item_emb.repr(irow, &mut s.qi);
                    let s_i = score(&s.p, &s.qi, b_i);
                    let (pv, qj) = (&s.p, &mut s.qj);
                    let draw = draw_negative(
                        p.loss,
                        p.max_sampled,
                        n_items,
                        data.row(u as usize).0,
                        i,
                        s_i,
                        &mut rng,
                        |j| {
                            let b = item_emb.repr(items.row(j), qj);
                            score(pv, qj, b)
                        },
                    );
                    let Some(draw) = draw else { continue };
                    if let Some(x) = draw.first_margin {
                        loss_sum += softplus_neg(x);
                        loss_n += 1;
                    }
                    if draw.coef == 0.0 {
                        continue;
                    }
                    let c = draw.coef;
                    // ∂loss/∂p = −c (q_i − q_j); ∂loss/∂q_i = −c p; ∂loss/∂q_j = c p.
                    for ((g, &a), &b) in s.grad.iter_mut().zip(&s.qi).zip(&s.qj) {
                        *g = -c * (a - b);
                    }
                    user_emb.step(urow, &s.grad, 0.0, false, p.learning_rate, p.user_reg);
                    for (g, &x) in s.grad.iter_mut().zip(&s.p) {
                        *g = -c * x;
                    }
                    item_emb.step(irow, &s.grad, -c, true, p.learning_rate, p.item_reg);
                    s.grad.iter_mut().for_each(|g| *g = -*g);
                    let jrow = items.row(draw.j);
                    item_emb.step(jrow, &s.grad, c, true, p.learning_rate, p.item_reg);
                }
                epoch_losses.push(if loss_n == 0 {
                    0.0
                } else {
                    loss_sum / loss_n as f64
                });
            }
        }
        let reprs = |emb: &Embeddings, rows: &Csr| {
            let mut out = vec![0f32; rows.n_rows() * k];
            let mut bias = vec![0f32; rows.n_rows()];
            out.par_chunks_mut(k)
                .zip(bias.par_iter_mut())
                .enumerate()
                .for_each(|(r, (o, b))| *b = emb.repr(rows.row(r), o));
            (out, bias)
        };
        let (item_vecs, item_bias) = reprs(&item_emb, &items);
        let (user_vecs, _) = reprs(&user_emb, &users);
        let ext = |e: &Embeddings, n_rows: usize| {
            (e.emb[n_rows * k..].to_vec(), e.bias[n_rows..].to_vec())
        };
        let (item_feature_emb, item_feature_bias) = ext(&item_emb, n_items);
        let (user_feature_emb, _) = ext(&user_emb, n_users);
        Ok(HybridModel {
            params: self.clone(),
            item_vecs,
            item_bias,
            user_vecs,
            item_feature_emb,
            item_feature_bias,
            user_feature_emb,
            user_encoding: UserFeatureEncoding::default(),
            epoch_losses,
        })
    }
}

/// A trained hybrid model: item and training-user representations, plus the external feature
/// embeddings for items and users that arrive after training.
#[derive(Debug, Clone, PartialEq)]
pub struct HybridModel {
    params: HybridValidParams,
    item_vecs: Vec<f32>,
    item_bias: Vec<f32>,
    user_vecs: Vec<f32>,
    item_feature_emb: Vec<f32>,
    item_feature_bias: Vec<f32>,
    user_feature_emb: Vec<f32>,
    /// How a profile becomes the row `user_feature_emb` is indexed by (empty when training had
    /// no user features, or they were not profile attributes).
    user_encoding: UserFeatureEncoding,
    epoch_losses: Vec<f64>,
}

impl HybridModel {
    fn k(&self) -> usize {
        self.params.0.factors
    }

    /// Keep how profiles were encoded into the user features this model was trained with, so
    /// [`Self::fold_in_profile`] can encode new users the same way. The width must be the
    /// number of user feature embeddings.
    pub fn with_user_encoding(mut self, encoding: UserFeatureEncoding) -> Result<Self, FitError> {
        let got = self.user_feature_emb.len() / self.k();
        if encoding.width() != got {
            return Err(FitError::ShapeMismatch {
                what: "user feature encoding columns",
                expected: got,
                got: encoding.width(),
            });
        }
        self.user_encoding = encoding;
        Ok(self)
    }

    /// The profile encoding of the user features (empty without them).
    pub fn user_encoding(&self) -> &UserFeatureEncoding {
        &self.user_encoding
    }

    /// Whether a profile changes this model's scores: it was trained with profile features.
    pub fn uses_profiles(&self) -> bool {
        self.user_encoding.width() > 0
    }

    /// Fold a user in from a history, starting from the embeddings of their encoded profile
    /// ([`Self::fold_in_with_features`]); a user without history is scored from the profile
    /// alone. Without profile features this is [`FoldIn::fold_in`].
    pub fn fold_in_profile(
        &self,
        interactions: &[(u32, f32)],
        attributes: &std::collections::BTreeMap<String, crate::catalog::AttrValue>,
    ) -> UserRepr {
        let row = self.user_encoding.encode(attributes);
        self.fold_in_with_features(interactions, &row)
    }

    /// Mean monitoring loss of each epoch (see the module docs); empty when there was nothing
    /// to train on.
    pub fn epoch_losses(&self) -> &[f64] {
        &self.epoch_losses
    }

    /// The trained representation of training user `u` (zero for a user without training
    /// interactions or features).
    pub fn user(&self, u: u32) -> UserRepr {
        let k = self.k();
        UserRepr::Dense(self.user_vecs[u as usize * k..(u as usize + 1) * k].to_vec())
    }

    /// Vector of item `i`.
    pub fn item_factors(&self, i: u32) -> &[f32] {
        let k = self.k();
        &self.item_vecs[i as usize * k..(i as usize + 1) * k]
    }

    /// Bias of item `i` (also its score for an anonymous user).
    pub fn item_bias(&self, i: u32) -> f32 {
        self.item_bias[i as usize]
    }

    /// Σ of feature embeddings for a row of external features, at the cold-row scale (no
    /// identity: `1 − identity_weight`, L1-normalized). Features beyond the trained columns
    /// are ignored.
    fn feature_sum(
        &self,
        emb: &[f32],
        bias: Option<&[f32]>,
        row: &[(u32, f32)],
    ) -> (Vec<f32>, f32) {
        let k = self.k();
        let n_cols = emb.len() / k;
        let known = || {
            row.iter()
                .filter(|e| (e.0 as usize) < n_cols && e.1.is_finite())
        };
        let l1: f64 = known().map(|e| f64::from(e.1.abs())).sum();
        let mut v = vec![0f32; k];
        let mut b = 0f32;
        if l1 == 0.0 {
            return (v, b);
        }
        let s = f64::from(1.0 - self.params.0.identity_weight) / l1;
        for &(c, x) in known() {
            let x = (f64::from(x) * s) as f32;
            let c = c as usize;
            for (o, &e) in v.iter_mut().zip(&emb[c * k..(c + 1) * k]) {
                *o += x * e;
            }
            if let Some(bias) = bias {
                b += x * bias[c];
            }
        }
        (v, b)
    }

    /// Vector and bias of an item added after training, from its external feature row (the
    /// same columns as the training `item_features`, e.g.
    /// [`crate::features::ItemFeatures::transform`]). Score it for a user as
    /// `p · vector + bias`.
    pub fn item_representation(&self, features: &[(u32, f32)]) -> (Vec<f32>, f32) {
        self.feature_sum(
            &self.item_feature_emb,
            Some(&self.item_feature_bias),
            features,
        )
    }

    /// Fold a user in from a history, starting from the user's feature embeddings (a new user
    /// who filled in a profile); an empty history gives the feature vector itself.
    pub fn fold_in_with_features(
        &self,
        interactions: &[(u32, f32)],
        user_features: &[(u32, f32)],
    ) -> UserRepr {
        let (start, _) = self.feature_sum(&self.user_feature_emb, None, user_features);
        UserRepr::Dense(self.fold_in_from(start, interactions))
    }

    fn fold_in_from(&self, start: Vec<f32>, interactions: &[(u32, f32)]) -> Vec<f32> {
        let p = &self.params.0;
        let n = self.n_items();
        let pos: Vec<u32> = normalize_history(interactions, n)
            .into_iter()
            .filter(|e| e.1 > 0.0)
            .map(|e| e.0)
            .collect();
        if pos.is_empty() || n < 2 {
            return start;
        }
        let seed = pos.iter().fold(0xcbf2_9ce4_8422_2325u64 ^ p.seed, |s, &i| {
            (s ^ u64::from(i)).wrapping_mul(0x100_0000_01b3)
        });
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut x = start.clone();
        let mut acc = vec![1f32; x.len()];
        for _ in 0..p.fold_in_epochs {
            for &i in &pos {
                let qi = self.item_factors(i);
                let s_i = score(&x, qi, self.item_bias[i as usize]);
                let draw = draw_negative(p.loss, p.max_sampled, n, &pos, i, s_i, &mut rng, |j| {
                    score(&x, self.item_factors(j as u32), self.item_bias[j])
                });
                let Some(draw) = draw.filter(|d| d.coef > 0.0) else {
                    continue;
                };
                let qj = self.item_factors(draw.j as u32);
                for d in 0..x.len() {
                    let g = -draw.coef * (qi[d] - qj[d]) + p.user_reg * (x[d] - start[d]);
                    acc[d] += g * g;
                    x[d] -= p.learning_rate * g / acc[d].sqrt();
                }
            }
        }
        x
    }
}

impl Scorer for HybridModel {
    fn n_items(&self) -> usize {
        self.item_bias.len()
    }

    fn score_into(&self, user: &UserRepr, items: &[u32], out: &mut [f32]) {
        assert_eq!(items.len(), out.len(), "one output per candidate");
        match user {
            UserRepr::Dense(x) if x.len() == self.k() => {
                for (o, &i) in out.iter_mut().zip(items) {
                    *o = dot(x, self.item_factors(i)) + self.item_bias[i as usize];
                }
            }
            UserRepr::Sparse(h) => self.score_into(&self.fold_in(h), items, out),
            // Without a user, the item bias is the model's feature-aware popularity prior.
            UserRepr::Anonymous => {
                for (o, &i) in out.iter_mut().zip(items) {
                    *o = self.item_bias[i as usize];
                }
            }
            UserRepr::Dense(_) => out.fill(0.0),
        }
    }

    fn score_all_into(&self, user: &UserRepr, out: &mut [f32]) {
        assert_eq!(out.len(), self.n_items(), "one output per item");
        match user {
            UserRepr::Dense(x) if x.len() == self.k() => {
                for ((o, q), b) in out
                    .iter_mut()
                    .zip(self.item_vecs.chunks_exact(self.k()))
                    .zip(&self.item_bias)
                {
                    *o = dot(x, q) + b;
                }
            }
            UserRepr::Sparse(h) => self.score_all_into(&self.fold_in(h), out),
            UserRepr::Anonymous => out.copy_from_slice(&self.item_bias),
            UserRepr::Dense(_) => out.fill(0.0),
        }
    }
}

impl FoldIn for HybridModel {
    /// Adagrad epochs with the training loss on the user vector alone, from zero (see the
    /// module docs); deterministic in the history and the seed.
    fn fold_in(&self, interactions: &[(u32, f32)]) -> UserRepr {
        UserRepr::Dense(self.fold_in_from(vec![0.0; self.k()], interactions))
    }
}

#[cfg(test)]
mod tests;
