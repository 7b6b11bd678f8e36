//! The objective of a trial: NDCG@k of a spec on held-out data of the app, measured by the
//! evaluation harness training uses (`attune_core::eval::evaluate_ranking`: every item ranked,
//! training items excluded).
//!
//! Two ways to hold data out, both over the dataset's (user, item) **cells**, so every event
//! of one pair is on one side:
//! - **temporal** (the default): per user, the latest `fraction` of their cells by first time
//!   (`eval::split::user_temporal_split`); a user with one cell keeps it for training. It asks
//!   what a model trained on the past says about each user's next interactions.
//! - **k-fold** (`folds >= 2`): the cells shuffled with the seed and cut into `k` folds
//!   (`eval::split::k_fold`); each fold is held out once and the objective is the mean over
//!   folds. Each fold's score is reported as an intermediate value, so the median pruner can
//!   stop a trial whose first folds trail the others.
//!
//! The training parts are built once and shared by every trial and every segment; a segment's
//! objective only restricts the held-out rows to its users (trained on all data).

use attune_core::eval::evaluate_ranking;
use attune_core::eval::split::{k_fold, user_temporal_split};
use attune_core::model::spec::{Feedback, Spec, TrainingSet};
use attune_core::sparse::{Csr, CsrBuilder};
use serde::{Deserialize, Serialize};

use super::TuneError;
use crate::dataset::Dataset;
use crate::error::PipelineError;

/// How data is held out.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Validation {
    /// Each user's latest `fraction` of cells.
    Temporal {
        /// Share of each user's cells held out, in (0, 1).
        fraction: f64,
    },
    /// `folds`-fold cross-validation over cells, shuffled with `seed`.
    KFold {
        /// Number of folds, at least 2.
        folds: usize,
        /// Shuffle seed.
        seed: u64,
    },
}

impl Validation {
    /// Check the parameters (folds < 2, a fraction outside (0, 1)).
    pub fn check(&self) -> Result<(), TuneError> {
        match *self {
            Validation::Temporal { fraction } if !(fraction > 0.0 && fraction < 1.0) => {
                Err(TuneError::Invalid {
                    field: "validation_fraction",
                    rule: format!("must be strictly between 0 and 1, got {fraction}"),
                })
            }
            Validation::KFold { folds, .. } if folds < 2 => Err(TuneError::Invalid {
                field: "folds",
                rule: format!(
                    "k-fold cross-validation needs at least 2 folds, got {folds} (leave --folds \
                     out for a temporal split)"
                ),
            }),
            _ => Ok(()),
        }
    }
}

/// One training part and what it holds out.
pub struct Split {
    train: TrainingSet,
    /// What users are folded in from: `train`'s interactions, decayed per user when
    /// `[train] user_recency_half_life` is set (as serving and `attune evaluate` do).
    history: Csr,
    /// Held-out cells with a positive signal (value 1), users x items.
    test: Csr,
}

/// Every split of the data, built once.
pub struct Splits {
    splits: Vec<Split>,
}

impl Splits {
    /// Hold out `data` as `validation` says.
    pub fn build(data: &Dataset, validation: &Validation) -> Result<Self, TuneError> {
        validation.check()?;
        let parts: Vec<Vec<usize>> = match *validation {
            Validation::Temporal { fraction } => {
                let users: Vec<u32> = data.cells.iter().map(|c| c.user).collect();
                let times: Vec<i64> = data.cells.iter().map(|c| c.first_micros).collect();
                let parts = user_temporal_split(&users, &times, &[1.0 - fraction, fraction])
                    .map_err(|e| TuneError::Invalid {
                        field: "validation_fraction",
                        rule: e.to_string(),
                    })?;
                vec![parts[1].clone()]
            }
            Validation::KFold { folds, seed } => k_fold(data.cells.len(), folds, seed)
                .map_err(|e| TuneError::Invalid {
                    field: "folds",
                    rule: format!("{e} ({} cells)", data.cells.len()),
                })?
                .into_iter()
                .map(|s| s.test)
                .collect(),
        };
        let mut splits = Vec::with_capacity(parts.len());
        for held_out in parts {
            let mut keep = vec![true; data.cells.len()];
            let mut test = CsrBuilder::with_capacity(held_out.len());
            for &p in &held_out {
                keep[p] = false;
                let c = data.cells[p];
                if c.weight > 0.0 {
                    test.push(c.user, c.item, 1.0)
                        .map_err(PipelineError::internal)?;
                }
            }
            let test = test
                .build(data.n_users(), data.n_items())
                .map_err(PipelineError::internal)?;
            let train = data.training_set(Some(&keep))?;
            let history = data.history_set(Some(&keep))?.interactions;
            splits.push(Split {
                train,
                history,
                test,
            });
        }
        if splits.iter().all(|s| s.test.nnz() == 0) {
            return Err(TuneError::NoValidation(
                "the split held out nothing to validate on (no user has two interactions)".into(),
            ));
        }
        Ok(Self { splits })
    }

    /// How many folds (1 for the temporal split).
    pub fn len(&self) -> usize {
        self.splits.len()
    }

    /// Whether there is no split (never, once built).
    pub fn is_empty(&self) -> bool {
        self.splits.is_empty()
    }

    /// The objective over the held-out rows of the users in `users` (a mask over the
    /// dataset's users; `None`: everyone). `what` names the users for the error when none of
    /// them has held-out data.
    pub fn objective(
        &self,
        users: Option<&[bool]>,
        k: usize,
        what: &str,
    ) -> Result<Objective<'_>, TuneError> {
        let tests: Vec<Csr> = self
            .splits
            .iter()
            .map(|s| match users {
                Some(mask) => s.test.retain_rows(mask),
                None => s.test.clone(),
            })
            .collect();
        let validation_users = tests
            .iter()
            .map(|t| (0..t.n_rows()).filter(|&u| t.row_nnz(u) > 0).count())
            .max()
            .unwrap_or(0);
        if validation_users == 0 {
            return Err(TuneError::NoValidation(format!(
                "{what} has no validation users"
            )));
        }
        Ok(Objective {
            splits: self,
            tests,
            k,
            validation_users,
        })
    }
}

/// NDCG@k of a spec over the splits, for one set of users.
pub struct Objective<'a> {
    splits: &'a Splits,
    tests: Vec<Csr>,
    k: usize,
    /// Users with held-out data (the largest count over folds).
    pub validation_users: usize,
}

/// How one evaluation ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Evaluation {
    /// The mean over folds.
    Complete(f64),
    /// `after_fold` asked to stop after this many folds.
    Stopped,
    /// The spec could not be fitted or scored on this data.
    Failed(String),
}

impl Objective<'_> {
    /// Evaluate `spec`: fit on each training part, score NDCG@k on its held-out rows (folds
    /// without held-out rows for these users are skipped). After each fold `after_fold(step,
    /// mean so far)` is called; returning `false` stops the evaluation.
    pub fn evaluate(
        &self,
        spec: &Spec,
        after_fold: &mut dyn FnMut(u64, f64) -> bool,
    ) -> Evaluation {
        let mut scores = Vec::with_capacity(self.tests.len());
        for (split, test) in self.splits.splits.iter().zip(&self.tests) {
            if test.nnz() == 0 {
                continue;
            }
            match score(spec, &split.train, &split.history, test, self.k) {
                Ok(v) => scores.push(v),
                Err(why) => return Evaluation::Failed(why),
            }
            let mean = scores.iter().sum::<f64>() / scores.len() as f64;
            if scores.len() < self.folds_with_data() && !after_fold(scores.len() as u64 - 1, mean) {
                return Evaluation::Stopped;
            }
        }
        Evaluation::Complete(scores.iter().sum::<f64>() / scores.len().max(1) as f64)
    }

    /// Folds with held-out rows for these users.
    pub fn folds_with_data(&self) -> usize {
        self.tests.iter().filter(|t| t.nnz() > 0).count()
    }
}

/// NDCG@k of `spec` fitted on `train`, users folded in from `history` (implicit models; the
/// training interactions, decayed per user when a user recency is set), on the held-out rows
/// of `test` (every item ranked, training items excluded); why not, when the spec cannot be
/// fitted or scored.
pub(crate) fn score(
    spec: &Spec,
    train: &TrainingSet,
    history: &Csr,
    test: &Csr,
    k: usize,
) -> Result<f64, String> {
    let fitted = spec.fit(train).map_err(|e| e.to_string())?;
    let history = match spec.algorithm().feedback() {
        Feedback::Implicit => history,
        Feedback::Explicit => train
            .ratings
            .as_ref()
            .ok_or_else(|| "no ratings in the training part".to_string())?,
    };
    let report = evaluate_ranking(fitted.model().as_recommender(), history, test, k);
    if report.ndcg.is_finite() {
        Ok(report.ndcg)
    } else {
        Err(format!("NDCG is {}", report.ndcg))
    }
}
