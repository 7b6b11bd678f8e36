//! Recommender algorithms: popularity and trending, item- and user-kNN, implicit ALS, EASE, BPR
//! and biased matrix factorization.
//!
//! # Shape of every algorithm
//! Parameters are a consuming builder (`AlsParams::new(64).alpha(40.0).seed(7)`) that must be
//! `check`ed into a `*ValidParams` before it can `fit`: a bad value is reported once, naming the
//! field and the rule ([`ParamError`]), and a model can never be trained from unchecked
//! parameters. `fit` takes the interaction matrix ([`Csr`], users x items) and returns a trained
//! model.
//!
//! Trained models implement two small traits, and the caller owns every buffer:
//! - [`FoldIn`]: turn a user's `(item, weight)` history into a [`UserRepr`] (factors for
//!   factor models, the history itself for item-item models). This is how users unseen at
//!   training time, and users whose history changed since, are served in real time.
//! - [`Scorer`]: score a [`UserRepr`] against all items or a candidate list into `out`.
//!
//! Ranking is then [`topk::top_k_into`] over the scores, excluding the user's seen items.
//!
//! ```
//! use attune_core::model::{topk, AlsParams, FoldIn, Scorer};
//! use attune_core::sparse::Csr;
//!
//! // Two taste groups: even users like items 0-4, odd users like items 5-9.
//! let mut t = Vec::new();
//! for u in 0..40u32 {
//!     for j in 0..5u32 {
//!         if (u + j) % 4 != 0 {
//!             t.push((u, (u % 2) * 5 + j, 1.0));
//!         }
//!     }
//! }
//! let data = Csr::from_triplets(40, 10, t).unwrap();
//! let params = AlsParams::new(2).alpha(10.0).reg(0.1).iterations(10).seed(1);
//! let model = params.check().unwrap().fit(&data).unwrap();
//! let user = model.fold_in(&[(0, 1.0)]);
//! let mut scores = vec![0.0; model.n_items()];
//! model.score_all_into(&user, &mut scores);
//! let best = topk::top_k(&scores, 3, &[0]);
//! assert!(best.iter().all(|&(item, _)| item < 5));
//! ```
//!
//! # Determinism
//! Every randomized step draws from a `ChaCha8Rng` seeded by the parameters. Parallel loops
//! either write disjoint outputs (one user per task) or reduce fixed-size chunks in a fixed
//! order, so the same data and seed give bit-identical models for any number of threads.
//! Hot `f32` kernels have a portable copy and an AVX2+FMA copy chosen at run time
//! ([`linalg::has_avx2_fma`]); fused multiply-adds round differently, so machines with and
//! without AVX2 agree to rounding, not to the bit.

pub mod als;
pub mod ann;
pub mod batch;
pub mod blend_base;
pub mod bpr;
pub mod coldstart;
pub mod content;
pub mod ease;
pub mod fresh;
pub mod half_scan;
pub mod hybrid;
pub mod knn;
pub mod linalg;
pub mod mf;
pub mod parts;
pub mod popularity;
pub mod scan;
pub mod segment_popularity;
pub mod seqknn;
pub mod similar;
mod sparse_sums;
pub mod spec;
pub mod topk;
pub mod transition;
pub mod transition_blend;
pub mod userknn;

pub use als::{AlsModel, AlsParams, AlsSolver, AlsTrainer, AlsValidParams, Confidence};
pub use bpr::{BprModel, BprParams, BprValidParams};
pub use coldstart::{ColdStartChain, ColdStartUser, Pick, Reason, Stage};
pub use content::{ContentModel, ContentParams, ContentValidParams};
pub use ease::{EaseModel, EaseParams, EaseValidParams};
pub use hybrid::{
    HybridLoss, HybridModel, HybridParams, HybridValidParams, UserColumn, UserFeatureEncoding,
};
pub use knn::{ItemKnnModel, ItemKnnParams, ItemKnnValidParams, Weighting};
pub use mf::{BiasedMfModel, BiasedMfParams, BiasedMfValidParams, MfSolver};
pub use parts::{ModelParts, Param, Parts, PartsError};
pub use popularity::{CategoryPopularity, Popularity, TrendingParams, TrendingValidParams};
pub use segment_popularity::SegmentPopularity;
pub use seqknn::{SeqKnnModel, SeqKnnParams, SeqKnnValidParams};
pub use spec::{
    Algorithm, Fitted, FittedModel, Spec, SpecError, SpecFitError, TrainedModel, TrainingSet,
    UserFeatureRows,
};
pub use transition::{TransitionParams, TransitionValidParams};
pub use transition_blend::{AlsTransitionModel, BlendTerms, EaseTransitionModel, TransitionBlend};
pub use userknn::{UserKnnModel, UserKnnParams, UserKnnValidParams};

use crate::sparse::Csr;

/// How a model sees one user at scoring time.
///
/// One enum rather than a per-model associated type so serving can hold any model behind
/// `dyn Recommender` and cache representations without knowing the algorithm.
#[derive(Debug, Clone, PartialEq)]
pub enum UserRepr {
    /// Nothing personal: the popularity family, or a user with no history.
    Anonymous,
    /// A dense vector in the model's own space: latent factors (ALS, BPR, MF) or category
    /// affinities ([`CategoryPopularity`]).
    Dense(Vec<f32>),
    /// A weighted item history, sorted by item without duplicates (item-item models score from
    /// it directly).
    Sparse(Vec<(u32, f32)>),
}

/// Scores users against items.
///
/// A representation a model cannot use (for example [`UserRepr::Anonymous`] for ALS) scores 0
/// for every item rather than failing, so a serving chain can fall back on ties.
pub trait Scorer: Send + Sync {
    /// Number of items the model knows (valid item indices are `0..n_items`).
    fn n_items(&self) -> usize;

    /// `out[t]` = score of `items[t]` for `user`.
    ///
    /// # Panics
    /// If `out.len() != items.len()` or an item index is `>= n_items`.
    fn score_into(&self, user: &UserRepr, items: &[u32], out: &mut [f32]);

    /// `out[i]` = score of item `i` for `user`, for every item.
    ///
    /// # Panics
    /// If `out.len() != n_items`.
    fn score_all_into(&self, user: &UserRepr, out: &mut [f32]);

    /// The row-major item factors `Y` (`n_items x dim`) and `dim`, when this model scores a
    /// [`UserRepr::Dense`] `x` of length `dim` exactly as [`scan::gemv`]`(Y, x)`: then many
    /// users can be ranked at once by [`batch::top_k_dot_batch`], with identical lists.
    /// `None` (the default) for every other model.
    fn dense_item_factors(&self) -> Option<(&[f32], usize)> {
        None
    }
}

/// Builds a user representation from an interaction history.
pub trait FoldIn {
    /// The representation of a user with these `(item, weight)` interactions (any order;
    /// repeated items are summed; items `>= n_items` are ignored, since they are unknown to
    /// the model).
    fn fold_in(&self, interactions: &[(u32, f32)]) -> UserRepr;
}

/// A trained model that can serve: fold users in, score items.
pub trait Recommender: Scorer + FoldIn {}
impl<T: Scorer + FoldIn> Recommender for T {}

/// Sort a history by item, sum duplicates, drop unknown items and non-finite weights.
pub(crate) fn normalize_history(interactions: &[(u32, f32)], n_items: usize) -> Vec<(u32, f32)> {
    let mut h: Vec<(u32, f32)> = interactions
        .iter()
        .copied()
        .filter(|&(i, w)| (i as usize) < n_items && w.is_finite())
        .collect();
    h.sort_by_key(|e| e.0);
    h.dedup_by(|next, kept| {
        if next.0 == kept.0 {
            kept.1 += next.1;
            true
        } else {
            false
        }
    });
    h
}

/// A parameter broke a validation rule. User error: names the algorithm, the field, the value
/// and the allowed values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{algorithm}: `{field}` = {value} is invalid: {rule}")]
pub struct ParamError {
    /// Algorithm whose parameters were checked, e.g. `als`.
    pub algorithm: &'static str,
    /// The offending field, e.g. `alpha`.
    pub field: &'static str,
    /// The rejected value, as written.
    pub value: String,
    /// The rule, with the allowed range.
    pub rule: &'static str,
}

impl ParamError {
    pub(crate) fn new(
        algorithm: &'static str,
        field: &'static str,
        value: impl ToString,
        rule: &'static str,
    ) -> Self {
        Self {
            algorithm,
            field,
            value: value.to_string(),
            rule,
        }
    }
}

/// Check helpers shared by the `check` methods.
pub(crate) fn check_positive_finite(
    algorithm: &'static str,
    field: &'static str,
    v: f32,
) -> Result<(), ParamError> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(ParamError::new(
            algorithm,
            field,
            v,
            "must be a finite number > 0",
        ))
    }
}

/// `v` when it lies in `[0, 1]` (NaN does not), else the `rule` the caller words for it.
pub(crate) fn check_unit_interval(
    algorithm: &'static str,
    field: &'static str,
    v: f32,
    rule: &'static str,
) -> Result<f32, ParamError> {
    check_in_range(algorithm, field, v, 0.0..=1.0, rule)
}

/// `v` when it lies in `range` (NaN does not), else the `rule` the caller words for it.
pub(crate) fn check_in_range(
    algorithm: &'static str,
    field: &'static str,
    v: f32,
    range: std::ops::RangeInclusive<f32>,
    rule: &'static str,
) -> Result<f32, ParamError> {
    if range.contains(&v) {
        Ok(v)
    } else {
        Err(ParamError::new(algorithm, field, v, rule))
    }
}

pub(crate) fn check_non_negative_finite(
    algorithm: &'static str,
    field: &'static str,
    v: f32,
) -> Result<(), ParamError> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(ParamError::new(
            algorithm,
            field,
            v,
            "must be a finite number >= 0",
        ))
    }
}

/// The training data cannot be used by this algorithm. User error.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FitError {
    /// Implicit-feedback models read values as confidence weights, which cannot be negative.
    #[error(
        "entry (user {row}, item {col}) has weight {value}; implicit-feedback weights must be >= 0"
    )]
    NegativeWeight {
        /// Row (user) of the entry.
        row: u32,
        /// Column (item) of the entry.
        col: u32,
        /// The weight.
        value: f32,
    },
    /// A model that weights cells by `(rating / mean rating)^p` needs positive ratings.
    #[error(
        "entry (user {row}, item {col}) has rating {value}; weighting by ratings \
         (rating_exponent) needs ratings > 0"
    )]
    NonPositiveRating {
        /// Row (user) of the entry.
        row: u32,
        /// Column (item) of the entry.
        col: u32,
        /// The rating.
        value: f32,
    },
    /// A linear system that is positive definite in exact arithmetic was not in floating point:
    /// the regularization is too small for the scale of the data.
    #[error("{algorithm}: the system is numerically not positive definite at row {row}; {hint}")]
    NotPositiveDefinite {
        /// Algorithm that factorized the system.
        algorithm: &'static str,
        /// Row whose pivot failed.
        row: usize,
        /// What to change.
        hint: &'static str,
    },
    /// Two inputs disagree on a dimension (for example items in the interaction matrix and in
    /// the item-category matrix).
    #[error("{what}: expected {expected}, got {got}")]
    ShapeMismatch {
        /// Which dimension.
        what: &'static str,
        /// The size implied by the interaction matrix.
        expected: usize,
        /// The size given.
        got: usize,
    },
}

/// `ratings` has the users x items shape of the interactions `data`; otherwise the dimension
/// that differs (users first).
pub(crate) fn check_ratings_shape(data: &Csr, ratings: &Csr) -> Result<(), FitError> {
    for (what, expected, got) in [
        ("ratings matrix users", data.n_rows(), ratings.n_rows()),
        ("ratings matrix items", data.n_cols(), ratings.n_cols()),
    ] {
        if got != expected {
            return Err(FitError::ShapeMismatch {
                what,
                expected,
                got,
            });
        }
    }
    Ok(())
}

pub(crate) fn check_non_negative(data: &Csr) -> Result<(), FitError> {
    for r in 0..data.n_rows() {
        let (cols, vals) = data.row(r);
        if let Some(k) = vals.iter().position(|&v| v < 0.0) {
            return Err(FitError::NegativeWeight {
                row: r as u32,
                col: cols[k],
                value: vals[k],
            });
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod testdata;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_history_sorts_sums_and_filters() {
        let h = normalize_history(&[(3, 1.0), (1, 2.0), (3, 0.5), (9, 1.0), (0, f32::NAN)], 5);
        assert_eq!(h, vec![(1, 2.0), (3, 1.5)]);
    }

    #[test]
    fn models_are_send_and_sync() {
        fn is<T: Send + Sync>() {}
        is::<AlsModel>();
        is::<EaseModel>();
        is::<ItemKnnModel>();
        is::<UserKnnModel>();
        is::<Popularity>();
        is::<CategoryPopularity>();
        is::<BprModel>();
        is::<BiasedMfModel>();
        is::<AlsValidParams>();
    }
}
