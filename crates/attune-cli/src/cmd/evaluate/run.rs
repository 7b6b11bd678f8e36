//! Fit one candidate on one fold and measure it: ranking metrics over all items (or the
//! protocol's candidates), beyond-accuracy metrics of the lists, and rating errors for models
//! that predict ratings.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::Context as _;
use attune_core::eval::beyond::{mean_intra_list_diversity, ItemCosine};
use attune_core::eval::cold::{evaluate_among, items_with_interactions};
use attune_core::eval::metrics::{mae, rmse};
use attune_core::eval::{
    evaluate_lists, rank_users, test_users, Candidates, RankInput, RankingReport,
};
use attune_core::model::spec::{Feedback, Fitted, Spec, TrainingSet};
use attune_core::model::TrainedModel;
use attune_core::sparse::{Csr, CsrBuilder};

use super::plan::Fold;
use super::source::EvalData;

/// Metric name → value, for one fold.
pub type Metrics = BTreeMap<String, f64>;

/// What to measure.
#[derive(Debug, Clone)]
pub struct Measure {
    /// List length.
    pub k: usize,
    /// Ranking metrics.
    pub ranking: bool,
    /// RMSE and MAE (models that predict ratings).
    pub rating: bool,
    /// Which items compete with the held-out ones.
    pub candidates: Candidates,
    /// A held-out pair is relevant only if its rating is at least this (pairs without a rating
    /// stay relevant).
    pub min_relevant_rating: Option<f32>,
    /// Intra-list diversity is averaged over at most this many users (evenly spaced).
    pub diversity_users: usize,
    /// Rank only the items with this many training users (inclusive): the long tail, where
    /// collaborative filtering has little to go on.
    pub long_tail: Option<(usize, usize)>,
}

/// The matrices of a fold shared by every candidate.
pub struct FoldData {
    pub training: TrainingSet,
    /// Users are folded in from this (implicit weights), when it differs from `training`
    /// (held-out users' fold-in part, a per-user recency decay, a history rating factor).
    history: Option<TrainingSet>,
    /// Seen items at validation time (history cells) and at test time (history ∪ validation).
    exclude_valid: Csr,
    exclude_test: Csr,
    /// Relevant validation and test pairs (value 1).
    valid: Csr,
    test: Csr,
    /// `(user, item, rating)` of the test pairs with a rating.
    test_ratings: Vec<(u32, u32, f32)>,
    candidates: Option<Vec<u32>>,
    cosine: ItemCosine,
}

fn pattern(data: &dyn EvalData, cells: impl Iterator<Item = usize>) -> anyhow::Result<Csr> {
    let mut b = CsrBuilder::new();
    for c in cells {
        let cell = data.cells()[c];
        b.push(cell.user, cell.item, 1.0)?;
    }
    Ok(b.build(data.n_users(), data.n_items())?)
}

impl FoldData {
    pub fn new(data: &dyn EvalData, fold: &Fold, m: &Measure) -> anyhow::Result<Self> {
        let training = data.training_set(&fold.train)?;
        let history = if fold.history == fold.train && !data.history_weights().differs() {
            None
        } else {
            Some(data.history_set(&fold.history)?)
        };
        let n = data.cells().len();
        let seen = |extra: &[usize]| {
            pattern(
                data,
                (0..n)
                    .filter(|&c| fold.history[c])
                    .chain(extra.iter().copied()),
            )
        };
        let relevant = |cells: &[usize]| {
            pattern(
                data,
                cells.iter().copied().filter(|&c| {
                    let cell = data.cells()[c];
                    let rated_ok = match (m.min_relevant_rating, cell.rating) {
                        (Some(min), Some(r)) => r >= min,
                        _ => true,
                    };
                    (cell.weight > 0.0 || cell.rating.is_some()) && rated_ok
                }),
            )
        };
        let test_ratings = fold
            .test
            .iter()
            .filter_map(|&c| {
                let cell = data.cells()[c];
                cell.rating.map(|r| (cell.user, cell.item, r))
            })
            .collect();
        Ok(Self {
            cosine: ItemCosine::new(&training.interactions),
            exclude_valid: seen(&[])?,
            exclude_test: seen(&fold.valid)?,
            valid: relevant(&fold.valid)?,
            test: relevant(&fold.test)?,
            test_ratings,
            candidates: match m.long_tail {
                Some((lo, hi)) => {
                    let tail = items_with_interactions(&training.interactions, lo, hi);
                    anyhow::ensure!(
                        !tail.is_empty(),
                        "no item has {lo} to {hi} training users (--long-tail)"
                    );
                    Some(tail)
                }
                None => fold.candidates.clone(),
            },
            history,
            training,
        })
    }

    /// The relevant test pairs and the training interactions (popularity for novelty).
    pub fn test_and_training(&self) -> (&Csr, &Csr) {
        (&self.test, &self.training.interactions)
    }

    /// Item similarity for intra-list diversity.
    pub fn cosine(&self) -> &ItemCosine {
        &self.cosine
    }

    /// Whether the fold has a validation part.
    pub fn has_validation(&self) -> bool {
        self.valid.nnz() > 0
    }

    /// What `model` ranks from in `phase`: the users' history (implicit weights or ratings,
    /// as the model learns), the items already seen, and the relevant held-out items.
    pub fn rank_input(&self, model: &Fitted, phase: Phase) -> anyhow::Result<RankInput<'_>> {
        let source = self.history.as_ref().unwrap_or(&self.training);
        let history = match model.feedback() {
            Feedback::Implicit => Some(&source.interactions),
            Feedback::Explicit => source.ratings.as_ref(),
        }
        .with_context(|| {
            format!(
                "{} ranks from explicit ratings and the training part has none",
                model.spec()
            )
        })?;
        let (relevant, exclude) = match phase {
            Phase::Validation => (&self.valid, &self.exclude_valid),
            Phase::Test => (&self.test, &self.exclude_test),
        };
        Ok(RankInput {
            history,
            exclude: Some(exclude),
            held_out: relevant,
        })
    }
}

/// A fitted candidate, ready to be measured on validation and test.
pub struct FittedCandidate {
    pub model: Fitted,
    pub fit_secs: f64,
}

/// Fit `spec` on the fold's training part.
pub fn fit(spec: &Spec, fd: &FoldData) -> anyhow::Result<FittedCandidate> {
    let started = Instant::now();
    let model = spec
        .fit(&fd.training)
        .with_context(|| format!("cannot train {spec}"))?;
    Ok(FittedCandidate {
        model,
        fit_secs: started.elapsed().as_secs_f64(),
    })
}

/// Which part of the fold is scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Validation,
    Test,
}

/// Measure a fitted candidate on `phase`.
pub fn measure(
    fc: &FittedCandidate,
    fd: &FoldData,
    m: &Measure,
    phase: Phase,
) -> anyhow::Result<Metrics> {
    measure_users(fc, fd, m, phase, None)
}

/// [`measure`] over the users where `only[user]` (every user for `None`): one segment's
/// metrics for `--by`.
pub fn measure_users(
    fc: &FittedCandidate,
    fd: &FoldData,
    m: &Measure,
    phase: Phase,
    only: Option<&[bool]>,
) -> anyhow::Result<Metrics> {
    let mut out = Metrics::new();
    let model = &fc.model;
    if m.ranking {
        let input = fd.rank_input(model, phase)?;
        let (history, relevant) = (input.history, input.held_out);
        let report = match &fd.candidates {
            Some(_) if only.is_some() => {
                anyhow::bail!(
                    "metrics by segment (--by) rank every item; this split ranks candidates"
                )
            }
            Some(items) => evaluate_among(model, history, relevant, items, m.k),
            None => {
                let mut users = test_users(relevant);
                if let Some(only) = only {
                    users.retain(|&u| only.get(u as usize).copied().unwrap_or(false));
                }
                let lists = rank_users(model, &input, &users, m.k, m.candidates);
                let report =
                    evaluate_lists(&fd.training.interactions, relevant, m.k, &users, &lists);
                out.insert(
                    format!("diversity@{}", m.k),
                    diversity(&lists, &fd.cosine, m.diversity_users),
                );
                report
            }
        };
        insert_ranking(&mut out, &report);
    }
    if m.rating && phase == Phase::Test {
        if let Some(errors) = rating_errors(model, fd) {
            out.extend(errors);
        }
    }
    out.insert("fit_secs".into(), fc.fit_secs);
    Ok(out)
}

/// Ranking metrics of a report under their `name@k` names.
pub fn insert_ranking(out: &mut Metrics, r: &RankingReport) {
    for (name, v) in r.metrics() {
        out.insert(format!("{name}@{}", r.k), v);
    }
    out.insert("users".into(), r.users as f64);
}

/// Mean intra-list diversity over at most `limit` evenly spaced lists.
pub fn diversity(lists: &[Vec<u32>], cosine: &ItemCosine, limit: usize) -> f64 {
    let step = lists.len().div_ceil(limit.max(1)).max(1);
    let sample: Vec<Vec<u32>> = lists.iter().step_by(step).cloned().collect();
    mean_intra_list_diversity(&sample, |a, b| cosine.sim(a, b))
}

/// RMSE and MAE over the test ratings, predictions clipped to the training rating range (as
/// Surprise clips to the rating scale); `None` for models that do not predict ratings.
fn rating_errors(model: &Fitted, fd: &FoldData) -> Option<Metrics> {
    if fd.test_ratings.is_empty() {
        return None;
    }
    let train = fd.training.ratings.as_ref()?;
    let (lo, hi) = train
        .data()
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &r| {
            (lo.min(r), hi.max(r))
        });
    let pairs: Vec<(f32, f32)> = fd
        .test_ratings
        .iter()
        .map(|&(u, i, r)| Some((model.predict_rating(u, i)?.clamp(lo, hi), r)))
        .collect::<Option<_>>()?;
    let mut out = Metrics::new();
    out.insert("rmse".into(), rmse(&pairs));
    out.insert("mae".into(), mae(&pairs));
    out.insert("ratings".into(), pairs.len() as f64);
    Some(out)
}
