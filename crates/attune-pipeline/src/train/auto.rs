//! Choosing among candidates on a validation split: `auto` (the families the data profile
//! suggests), a parameter grid, or one spec validated so its model carries metrics.
//!
//! Candidates are the families of `attune_core::profile::advice` in its order (plus popularity,
//! the baseline), each with its default parameters; families the algorithm factory does not
//! know are skipped with a note. The split holds out a seeded random share of each user's
//! (user, item) pairs (`eval::split::random_holdout`, so a user's repeated events stay on one
//! side); every candidate is fitted on the rest and ranked by NDCG@10 over all items
//! (`eval::evaluate_ranking`, full sort, training items excluded). Ties keep the
//! family the profile ranked higher.

use std::collections::BTreeMap;
use std::time::Instant;

use attune_core::eval::split::random_holdout;
use attune_core::eval::{evaluate_ranking, RankingReport};
use attune_core::model::spec::{Feedback, Spec};
use attune_core::profile::advice::advise;
use attune_core::profile::DataProfile;
use attune_core::sparse::CsrBuilder;

use crate::dataset::Dataset;
use crate::error::{PipelineError, Result};

/// Ranking cutoff of the validation metrics.
pub const K: usize = 10;

/// One evaluated candidate.
pub struct Candidate {
    /// Its spec (defaults of the family).
    pub spec: Spec,
    /// Validation report, or why it could not be trained.
    pub outcome: Result<RankingReport, String>,
    /// Fit time.
    pub fit_secs: f64,
}

/// Every candidate and the index of the best.
pub struct Choice {
    /// Every candidate, in priority order.
    pub candidates: Vec<Candidate>,
    /// Index of the best in `candidates`.
    pub best: usize,
    /// Families suggested by the profile but not trainable here.
    pub skipped: Vec<(String, String)>,
    /// Users with held-out pairs.
    pub validation_users: usize,
}

impl Choice {
    /// The best candidate's spec.
    pub fn best_spec(&self) -> &Spec {
        &self.candidates[self.best].spec
    }

    /// The best candidate's validation metrics, for the artifact header.
    pub fn metrics(&self) -> BTreeMap<String, f64> {
        let mut m = BTreeMap::new();
        if let Ok(r) = &self.candidates[self.best].outcome {
            for (name, v) in r.metrics() {
                m.insert(format!("validation.{name}@{K}"), v);
            }
            m.insert("validation.users".into(), r.users as f64);
        }
        m
    }
}

/// Evaluate the suggested families on a validation split of `data`.
pub fn choose(
    data: &Dataset,
    profile: &DataProfile,
    validation_fraction: f64,
    seed: u64,
) -> Result<Choice> {
    let mut specs: Vec<Spec> = Vec::new();
    let mut skipped = Vec::new();
    for a in advise(profile) {
        let name = a.family.algorithm();
        match name.parse::<Spec>() {
            Ok(s) if !specs.iter().any(|x| x.algorithm() == s.algorithm()) => specs.push(s),
            Ok(_) => {}
            Err(e) => skipped.push((name.to_string(), e.to_string())),
        }
    }
    if !specs.iter().any(|s| s.algorithm().name() == "popularity") {
        specs.push(
            "popularity"
                .parse()
                .expect("popularity is a known algorithm"),
        );
    }

    choose_among(data, specs, skipped, validation_fraction, seed)
}

/// Evaluate `specs` (in priority order) on a validation split of `data` and pick the best;
/// `skipped` lists families that could not be tried, for the table.
pub fn choose_among(
    data: &Dataset,
    specs: Vec<Spec>,
    skipped: Vec<(String, String)>,
    validation_fraction: f64,
    seed: u64,
) -> Result<Choice> {
    let users: Vec<u32> = data.cells.iter().map(|c| c.user).collect();
    let split =
        random_holdout(&users, validation_fraction, seed).map_err(|e| PipelineError::Invalid {
            field: "validation_fraction",
            rule: e.to_string(),
        })?;
    let mut keep = vec![true; data.cells.len()];
    let mut test = CsrBuilder::with_capacity(split.test.len());
    for &p in &split.test {
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
    if test.nnz() == 0 {
        return Err(PipelineError::NoData(
            "too little data to validate candidates (no user has two interactions); name one \
             algorithm instead"
                .into(),
        ));
    }
    let train = data.training_set(Some(&keep))?;

    let mut candidates = Vec::new();
    for spec in specs {
        tracing::info!(spec = %spec, "validating candidate");
        let started = Instant::now();
        let fitted = spec.fit(&train);
        let fit_secs = started.elapsed().as_secs_f64();
        let outcome = match fitted {
            Err(e) => Err(e.to_string()),
            Ok(f) => {
                let history = match spec.algorithm().feedback() {
                    Feedback::Implicit => Some(&train.interactions),
                    Feedback::Explicit => train.ratings.as_ref(),
                };
                match history {
                    Some(h) => Ok(evaluate_ranking(f.model().as_recommender(), h, &test, K)),
                    None => Err("no ratings in the training part".into()),
                }
            }
        };
        candidates.push(Candidate {
            spec,
            outcome,
            fit_secs,
        });
    }
    // Best NDCG; strict `>` keeps the earlier (higher-priority) candidate on ties.
    let mut best: Option<(usize, f64)> = None;
    for (t, c) in candidates.iter().enumerate() {
        if let Ok(r) = &c.outcome {
            if best.is_none_or(|(_, b)| r.ndcg > b) {
                best = Some((t, r.ndcg));
            }
        }
    }
    let Some((best, _)) = best else {
        return Err(PipelineError::NoCandidate(
            candidates
                .iter()
                .filter_map(|c| c.outcome.as_ref().err())
                .cloned()
                .collect::<Vec<_>>()
                .join("; "),
        ));
    };
    Ok(Choice {
        candidates,
        best,
        skipped,
        validation_users: (0..test.n_rows()).filter(|&u| test.row_nnz(u) > 0).count(),
    })
}
