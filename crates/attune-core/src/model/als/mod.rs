//! Alternating least squares for implicit feedback (Hu, Koren and Volinsky 2008).
//!
//! Every user-item cell has a preference `p = [w > 0]` and a confidence `c = 1 + alpha·w`
//! (unobserved cells: `p = 0`, `c = 1`). ALS alternates between solving all user factors with
//! the item factors fixed and the reverse; each half-step is a weighted ridge regression per
//! row (see [`solve`](self) for the kernel and its precision choices).
//!
//! Two row solvers:
//! - [`AlsSolver::Cg`] (default): a few conjugate-gradient steps warm-started from the previous
//!   factors (Takács, Pilászy and Tikk 2011), the method of the `implicit` library. Per row it
//!   costs O(steps·(k² + nnz_u·k)) instead of O(nnz_u·k² + k³).
//! - [`AlsSolver::Cholesky`]: the exact solve. Each half-step then exactly minimizes the loss
//!   over one side, so the loss never rises (a property test checks it); it is the reference
//!   for CG and the solver of [`FoldIn`].
//!
//! **Confidence convention:** attune uses the paper's `c = 1 + alpha·w` ([`Confidence::Linear`]),
//! or its log scaling `c = 1 + alpha·ln(1 + w/ε)` ([`Confidence::Log`]) for heavy repeat counts.
//! [`Confidence::Proportional`] (`c = alpha·w`) is the `implicit` library's convention, for
//! like-for-like comparisons. The `implicit` library
//! uses the stored value itself as `c` (`c = alpha·w` in its recent versions). On binary data
//! (`w = 1`) attune's `alpha = a − 1` reproduces implicit's `alpha = a`.

#[cfg(target_arch = "x86_64")]
mod cg512;
mod parts;
mod solve;

use std::borrow::Cow;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use self::solve::{gram, solve_side, Aligned, Conf, RowSolver, Scratch};
use super::linalg::dot;
use super::{
    check_non_negative, check_non_negative_finite, check_positive_finite, normalize_history, scan,
    FitError, FoldIn, ParamError, Scorer, UserRepr,
};
use crate::sparse::Csr;

/// Largest supported number of factors (the per-row scratch is `k²` doubles).
pub const MAX_FACTORS: usize = 1024;

/// How each row's least-squares system is solved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlsSolver {
    /// Conjugate gradient with this many steps per row per half-iteration, warm-started.
    Cg {
        /// Steps per row (the `implicit` default is 3).
        steps: usize,
    },
    /// Exact Cholesky solve (slower per iteration, monotone loss).
    Cholesky,
}

/// How an interaction weight `w` becomes a confidence `c` (Hu, Koren and Volinsky 2008, §4).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Confidence {
    /// `c = 1 + alpha·w`.
    Linear,
    /// `c = alpha·w`: the `implicit` library's convention (stored values are confidences up to
    /// the factor `alpha`). Use it to reproduce `implicit` runs exactly; it keeps every system
    /// positive definite for `w >= 0` because an observed item's `c·y yᵀ` replaces, not adds
    /// to, its term in `YᵀY`.
    Proportional,
    /// `c = 1 + alpha·ln(1 + w/ε)`: a hundred plays are not a hundred times one play.
    Log {
        /// Scale `ε > 0` of the weights.
        epsilon: f32,
    },
}

impl Confidence {
    /// The weight the linear formula needs to give this confidence: `w` or `ln(1 + w/ε)`.
    fn effective_weight(self, w: f32) -> f32 {
        match self {
            Confidence::Linear | Confidence::Proportional => w,
            Confidence::Log { epsilon } => (w / epsilon).ln_1p(),
        }
    }

    /// The kernel form `c = base + alpha·w'` of this mapping, `w'` the effective weight.
    fn kernel(self, alpha: f32) -> Conf {
        match self {
            Confidence::Linear | Confidence::Log { .. } => Conf { base: 1.0, alpha },
            Confidence::Proportional => Conf { base: 0.0, alpha },
        }
    }

    /// `data` with effective weights (borrowed unchanged for the linear form).
    fn apply<'a>(self, data: &'a Csr) -> Cow<'a, Csr> {
        match self {
            Confidence::Linear | Confidence::Proportional => Cow::Borrowed(data),
            Confidence::Log { .. } => {
                Cow::Owned(data.map_values(|_, _, w| self.effective_weight(w)))
            }
        }
    }
}

/// ALS hyperparameters (unchecked). Build with [`AlsParams::new`], then [`AlsParams::check`].
#[derive(Debug, Clone, PartialEq)]
pub struct AlsParams {
    factors: usize,
    alpha: f32,
    reg: f32,
    iterations: usize,
    seed: u64,
    solver: AlsSolver,
    confidence: Confidence,
}

/// Checked ALS hyperparameters: the only way to [`fit`](AlsValidParams::fit).
#[derive(Debug, Clone, PartialEq)]
pub struct AlsValidParams(AlsParams);

impl AlsParams {
    /// `factors` latent dimensions; defaults: `alpha = 40` (the paper's value), `reg = 0.01`,
    /// 15 iterations, seed 0, CG with 3 steps (the `implicit` defaults otherwise).
    pub fn new(factors: usize) -> Self {
        Self {
            factors,
            alpha: 40.0,
            reg: 0.01,
            iterations: 15,
            seed: 0,
            solver: AlsSolver::Cg { steps: 3 },
            confidence: Confidence::Linear,
        }
    }

    /// Confidence slope: `c = 1 + alpha·w`.
    pub fn alpha(mut self, alpha: f32) -> Self {
        self.alpha = alpha;
        self
    }

    /// L2 regularization `λ` on every factor row.
    pub fn reg(mut self, reg: f32) -> Self {
        self.reg = reg;
        self
    }

    /// Full iterations (one user half-step plus one item half-step each).
    pub fn iterations(mut self, iterations: usize) -> Self {
        self.iterations = iterations;
        self
    }

    /// Seed of the factor initialization.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Row solver.
    pub fn solver(mut self, solver: AlsSolver) -> Self {
        self.solver = solver;
        self
    }

    /// Weight-to-confidence mapping (default [`Confidence::Linear`]).
    pub fn confidence(mut self, confidence: Confidence) -> Self {
        self.confidence = confidence;
        self
    }

    /// Validate every field.
    pub fn check(self) -> Result<AlsValidParams, ParamError> {
        if self.factors == 0 || self.factors > MAX_FACTORS {
            return Err(ParamError::new(
                "als",
                "factors",
                self.factors,
                "must be between 1 and 1024",
            ));
        }
        check_non_negative_finite("als", "alpha", self.alpha)?;
        check_positive_finite("als", "reg", self.reg)?;
        if self.iterations == 0 {
            return Err(ParamError::new(
                "als",
                "iterations",
                0,
                "must be at least 1",
            ));
        }
        if let AlsSolver::Cg { steps: 0 } = self.solver {
            return Err(ParamError::new("als", "cg_steps", 0, "must be at least 1"));
        }
        if let Confidence::Log { epsilon } = self.confidence {
            check_positive_finite("als", "confidence.epsilon", epsilon)?;
        }
        Ok(AlsValidParams(self))
    }
}

impl AlsValidParams {
    /// Latent dimensions.
    pub fn factors(&self) -> usize {
        self.0.factors
    }

    /// Confidence slope.
    pub fn alpha(&self) -> f32 {
        self.0.alpha
    }

    /// Regularization.
    pub fn reg(&self) -> f32 {
        self.0.reg
    }

    /// Iterations `fit` runs.
    pub fn iterations(&self) -> usize {
        self.0.iterations
    }

    /// Initialization seed.
    pub fn seed(&self) -> u64 {
        self.0.seed
    }

    /// Row solver.
    pub fn solver(&self) -> AlsSolver {
        self.0.solver
    }

    /// Weight-to-confidence mapping.
    pub fn confidence(&self) -> Confidence {
        self.0.confidence
    }

    /// Train on `data` (users x items, weights >= 0) for the configured iterations.
    pub fn fit(&self, data: &Csr) -> Result<AlsModel, FitError> {
        let mut t = self.trainer(data)?;
        for _ in 0..self.iterations() {
            t.step();
        }
        Ok(t.into_model())
    }

    /// A trainer that runs one iteration per [`AlsTrainer::step`], for progress reporting, early
    /// stopping and the loss tests.
    pub fn trainer<'a>(&self, data: &'a Csr) -> Result<AlsTrainer<'a>, FitError> {
        check_non_negative(data)?;
        let data = self.confidence().apply(data);
        let k = self.factors();
        // Same initialization as `implicit`: uniform [0, 0.01), users then items.
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed());
        let mut init = |n: usize| {
            (0..n * k)
                .map(|_| rng.random::<f32>() * 0.01)
                .collect::<Vec<f32>>()
        };
        let user_factors = Aligned::from_slice(&init(data.n_rows()));
        let item_factors = Aligned::from_slice(&init(data.n_cols()));
        Ok(AlsTrainer {
            params: self.clone(),
            data_t: data.transpose(),
            data,
            user_factors,
            item_factors,
            iterations_done: 0,
        })
    }
}

/// ALS in progress: owns the factors, borrows the data.
#[derive(Debug)]
pub struct AlsTrainer<'a> {
    params: AlsValidParams,
    /// Training data with effective weights (see [`Confidence`]).
    data: Cow<'a, Csr>,
    data_t: Csr,
    /// Factors in cache-line aligned rows while training (see [`Aligned`]).
    user_factors: Aligned,
    item_factors: Aligned,
    iterations_done: usize,
}

impl AlsTrainer<'_> {
    fn row_solver(&self) -> RowSolver {
        match self.params.solver() {
            AlsSolver::Cg { steps } => RowSolver::Cg(steps),
            AlsSolver::Cholesky => RowSolver::Cholesky,
        }
    }

    /// One iteration: all users against the items, then all items against the users.
    pub fn step(&mut self) {
        let (k, conf, reg) = (
            self.params.factors(),
            self.params.confidence().kernel(self.params.alpha()),
            self.params.reg(),
        );
        let solver = self.row_solver();
        let gy = gram(self.item_factors.as_slice(), k, reg);
        solve_side(
            &self.data,
            self.item_factors.as_slice(),
            k,
            &gy,
            conf,
            solver,
            self.user_factors.as_mut_slice(),
        );
        let gx = gram(self.user_factors.as_slice(), k, reg);
        solve_side(
            &self.data_t,
            self.user_factors.as_slice(),
            k,
            &gx,
            conf,
            solver,
            self.item_factors.as_mut_slice(),
        );
        self.iterations_done += 1;
    }

    /// Iterations run so far.
    pub fn iterations_done(&self) -> usize {
        self.iterations_done
    }

    /// The current training loss (see [`AlsModel::loss`]).
    pub fn loss(&self) -> f64 {
        let p = &self.params;
        solve::loss(
            &self.data,
            self.user_factors.as_slice(),
            self.item_factors.as_slice(),
            p.factors(),
            p.confidence().kernel(p.alpha()),
            p.reg(),
        )
    }

    /// Stop training and keep the current factors.
    pub fn into_model(self) -> AlsModel {
        let Self {
            params,
            data,
            data_t,
            user_factors,
            item_factors,
            ..
        } = self;
        // Free the training data before copying the factors out of their aligned storage, so
        // the copies do not raise the peak memory.
        drop((data, data_t));
        let users = user_factors.as_slice().to_vec();
        drop(user_factors);
        let items = item_factors.as_slice().to_vec();
        drop(item_factors);
        AlsModel::new(params.factors(), params.alpha(), params.reg(), users, items)
            .with_confidence(params.confidence())
    }
}

/// A trained ALS model: user and item factors, row-major `f32`.
#[derive(Debug, Clone, PartialEq)]
pub struct AlsModel {
    k: usize,
    alpha: f32,
    reg: f32,
    confidence: Confidence,
    user_factors: Vec<f32>,
    item_factors: Vec<f32>,
    /// `YᵀY + λI` in `f64`, kept for fold-in (k² doubles).
    item_gram: Vec<f64>,
}

impl AlsModel {
    /// Adopt factors (for example read back from an artifact). `k` must divide both lengths.
    /// The confidence mapping is [`Confidence::Linear`] unless set with
    /// [`AlsModel::with_confidence`].
    ///
    /// # Panics
    /// If `k == 0` or a length is not a multiple of `k`.
    pub fn new(
        k: usize,
        alpha: f32,
        reg: f32,
        user_factors: Vec<f32>,
        item_factors: Vec<f32>,
    ) -> Self {
        assert!(
            k > 0 && user_factors.len().is_multiple_of(k) && item_factors.len().is_multiple_of(k),
            "factor lengths must be multiples of k"
        );
        let item_gram = gram(&item_factors, k, reg).g64;
        Self {
            k,
            alpha,
            reg,
            confidence: Confidence::Linear,
            user_factors,
            item_factors,
            item_gram,
        }
    }

    /// The same model with another weight-to-confidence mapping (used by fold-in and loss).
    pub fn with_confidence(mut self, confidence: Confidence) -> Self {
        self.confidence = confidence;
        self
    }

    /// Latent dimensions.
    pub fn factors(&self) -> usize {
        self.k
    }

    /// Top `k` most similar items to each of `items`, by cosine of item factors (the item
    /// itself excluded): "more like this" for `attune similar`.
    pub fn similar_items(&self, items: &[u32], k: usize) -> Vec<Vec<(u32, f32)>> {
        let unit: Vec<f32> = self
            .item_factors
            .chunks_exact(self.k)
            .flat_map(|y| {
                let n = dot(y, y).sqrt();
                y.iter().map(move |&v| if n > 0.0 { v / n } else { 0.0 })
            })
            .collect();
        let mut queries = Vec::with_capacity(items.len() * self.k);
        for &i in items {
            queries.extend_from_slice(&unit[i as usize * self.k..(i as usize + 1) * self.k]);
        }
        let own: Vec<[u32; 1]> = items.iter().map(|&i| [i]).collect();
        crate::model::batch::top_k_dot_batch(&queries, &unit, None, self.k, k, |r| &own[r][..])
    }

    /// Users seen in training.
    pub fn n_users(&self) -> usize {
        self.user_factors.len() / self.k
    }

    /// Factors of training user `u`.
    pub fn user_factors(&self, u: u32) -> &[f32] {
        &self.user_factors[u as usize * self.k..(u as usize + 1) * self.k]
    }

    /// Factors of item `i`.
    pub fn item_factors(&self, i: u32) -> &[f32] {
        &self.item_factors[i as usize * self.k..(i as usize + 1) * self.k]
    }

    /// All user factors, row-major.
    pub fn all_user_factors(&self) -> &[f32] {
        &self.user_factors
    }

    /// All item factors, row-major.
    pub fn all_item_factors(&self) -> &[f32] {
        &self.item_factors
    }

    /// The representation of training user `u` (its stored factors).
    pub fn user(&self, u: u32) -> UserRepr {
        UserRepr::Dense(self.user_factors(u).to_vec())
    }

    /// Top `k` items for each training user in `users`, excluding the items of that user's
    /// row in `exclude` (usually the training matrix), via the cache-blocked batch scorer
    /// ([`crate::model::batch`]). Lists come back in the order of `users`.
    ///
    /// # Panics
    /// If a user index is out of range or `exclude` has fewer rows than the largest index.
    pub fn recommend_batch(&self, users: &[u32], k: usize, exclude: &Csr) -> Vec<Vec<(u32, f32)>> {
        let mut xs = Vec::with_capacity(users.len() * self.k);
        for &u in users {
            xs.extend_from_slice(self.user_factors(u));
        }
        crate::model::batch::top_k_dot_batch(&xs, &self.item_factors, None, self.k, k, |r| {
            exclude.row(users[r] as usize).0
        })
    }

    /// Weighted squared loss plus regularization of these factors on `data` (the objective ALS
    /// minimizes; see the `solve` module docs for the formula), in `f64`.
    ///
    /// # Panics
    /// If `data`'s shape differs from the model's.
    pub fn loss(&self, data: &Csr) -> f64 {
        assert_eq!(
            (data.n_rows(), data.n_cols()),
            (self.n_users(), self.n_items()),
            "data shape must match the model"
        );
        solve::loss(
            &self.confidence.apply(data),
            &self.user_factors,
            &self.item_factors,
            self.k,
            self.confidence.kernel(self.alpha),
            self.reg,
        )
    }
}

impl Scorer for AlsModel {
    fn n_items(&self) -> usize {
        self.item_factors.len() / self.k
    }

    /// ALS scores a dense user by `scan::gemv` over its item factors ([`Self::score_all_into`]).
    fn dense_item_factors(&self) -> Option<(&[f32], usize)> {
        Some((&self.item_factors, self.k))
    }

    fn score_into(&self, user: &UserRepr, items: &[u32], out: &mut [f32]) {
        assert_eq!(items.len(), out.len(), "one output per candidate");
        match user {
            UserRepr::Dense(x) if x.len() == self.k => {
                for (o, &i) in out.iter_mut().zip(items) {
                    *o = dot(x, self.item_factors(i));
                }
            }
            UserRepr::Sparse(h) => self.score_into(&self.fold_in(h), items, out),
            UserRepr::Dense(_) | UserRepr::Anonymous => out.fill(0.0),
        }
    }

    fn score_all_into(&self, user: &UserRepr, out: &mut [f32]) {
        assert_eq!(out.len(), self.n_items(), "one output per item");
        match user {
            UserRepr::Dense(x) if x.len() == self.k => scan::gemv(&self.item_factors, x, out),
            UserRepr::Sparse(h) => self.score_all_into(&self.fold_in(h), out),
            UserRepr::Dense(_) | UserRepr::Anonymous => out.fill(0.0),
        }
    }
}

impl FoldIn for AlsModel {
    /// The exact least-squares factors for this history given the item factors: what one more
    /// user half-step would give this user. A user with no known items gets zero factors.
    fn fold_in(&self, interactions: &[(u32, f32)]) -> UserRepr {
        let h = normalize_history(interactions, self.n_items());
        let (cols, vals): (Vec<u32>, Vec<f32>) = h
            .into_iter()
            .map(|(i, w)| (i, self.confidence.effective_weight(w.max(0.0))))
            .unzip();
        let mut x = vec![0f32; self.k];
        let mut s = Scratch::new(self.k);
        solve::cholesky_row(
            &self.item_gram,
            &self.item_factors,
            self.k,
            &cols,
            &vals,
            self.confidence.kernel(self.alpha),
            &mut x,
            &mut s,
        );
        UserRepr::Dense(x)
    }
}

#[cfg(test)]
mod tests;
