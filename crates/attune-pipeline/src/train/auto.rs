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
use std::time::{Duration, Instant};

use attune_core::eval::split::random_holdout;
use attune_core::eval::{evaluate_ranking, RankingReport};
use attune_core::model::spec::TrainingSet;
use attune_core::model::spec::{Feedback, Spec};
use attune_core::profile::advice::advise;
use attune_core::profile::DataProfile;
use attune_core::sparse::{Csr, CsrBuilder};

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
    /// With tuning (`auto` with a budget): how each family's parameters were chosen, in
    /// candidate order.
    pub tuned: Vec<Tuned>,
}

/// The budget of `auto` with tuning: TPE trials per family, and a time limit for all of them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AutoTune {
    /// Trials per family (each family with parameters; popularity has none).
    pub trials: usize,
    /// No trial starts after this much time from the first; `None`: trials only.
    pub timeout: Option<Duration>,
}

/// How one family was tuned.
#[derive(Debug, Clone, PartialEq)]
pub struct Tuned {
    /// The family.
    pub family: &'static str,
    /// Trials run (fewer than the budget when the time ran out).
    pub trials: usize,
    /// Validation NDCG of the family's defaults.
    pub default_ndcg: Option<f64>,
    /// The best trial's NDCG.
    pub best_ndcg: Option<f64>,
    /// What became the candidate: the best trial's spec, or the defaults when no trial beat
    /// them.
    pub chosen: Spec,
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
    let (specs, skipped) = suggested(profile);
    choose_among(data, specs, skipped, validation_fraction, seed)
}

/// [`choose`] with each suggested family's parameters tuned first: a TPE study per family
/// (seeded with `seed`, in memory) on the same validation split, its best trial (or the
/// defaults, when no trial beat them) becoming the family's candidate. The budget is
/// `tune.trials` per family; with `tune.timeout`, each family gets an equal share of what is
/// left when its turn comes, and at least its defaults are evaluated.
pub fn choose_tuned(
    data: &Dataset,
    profile: &DataProfile,
    validation_fraction: f64,
    seed: u64,
    tune: &AutoTune,
) -> Result<Choice> {
    use attune_core::tune::{Direction, Outcome, Study, TpeConfig, TpeSampler};

    let (specs, skipped) = suggested(profile);
    let (train, history, test) = holdout(data, validation_fraction, seed)?;
    let deadline = tune.timeout.and_then(|t| Instant::now().checked_add(t));
    let tunable: Vec<&Spec> = specs
        .iter()
        .filter(|s| !s.algorithm().params().is_empty())
        .collect();
    let mut tuned = Vec::with_capacity(tunable.len());
    let mut chosen = Vec::with_capacity(specs.len());
    let mut left = tunable.len();
    for spec in &specs {
        let family = spec.algorithm();
        if family.params().is_empty() {
            chosen.push(spec.clone());
            continue;
        }
        // An equal share of the time left.
        let family_deadline = deadline.map(|d| {
            let now = Instant::now();
            now + d.saturating_duration_since(now) / left as u32
        });
        left -= 1;
        tracing::info!(
            family = family.name(),
            trials = tune.trials,
            "tuning candidate"
        );
        let default_ndcg = crate::tune::objective::score(spec, &train, &history, &test, K).ok();
        let mut study = Study::new(
            crate::tune::space::default_space(family),
            Direction::Maximize,
        );
        let sampler = TpeSampler::new(
            seed,
            TpeConfig {
                multivariate: true,
                ..TpeConfig::default()
            },
        );
        for _ in 0..tune.trials {
            if family_deadline.is_some_and(|d| Instant::now() >= d) {
                break;
            }
            let (id, params) = study.ask(&sampler).map_err(PipelineError::internal)?;
            let outcome = crate::tune::space::spec_of(family, &params)
                .map_err(|e| e.to_string())
                .and_then(|s| crate::tune::objective::score(&s, &train, &history, &test, K));
            let outcome = match outcome {
                Ok(v) => Outcome::Complete(v),
                Err(_) => Outcome::Failed,
            };
            study.tell(id, outcome).map_err(PipelineError::internal)?;
        }
        let best = study
            .best()
            .and_then(|t| Some((t.value?, t.params.clone())));
        let best_spec = match &best {
            Some((v, params)) if default_ndcg.is_none_or(|d| *v > d) => {
                crate::tune::space::spec_of(family, params).map_err(PipelineError::internal)?
            }
            _ => spec.clone(),
        };
        tuned.push(Tuned {
            family: family.name(),
            trials: study.trials().len(),
            default_ndcg,
            best_ndcg: best.map(|b| b.0),
            chosen: best_spec.clone(),
        });
        chosen.push(best_spec);
    }
    let mut choice = compare(&train, &history, &test, chosen, skipped)?;
    choice.tuned = tuned;
    Ok(choice)
}

/// The families the profile suggests, as default specs in its order, plus popularity; and
/// those the factory does not know.
fn suggested(profile: &DataProfile) -> (Vec<Spec>, Vec<(String, String)>) {
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
    (specs, skipped)
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
    let (train, history, test) = holdout(data, validation_fraction, seed)?;
    compare(&train, &history, &test, specs, skipped)
}

/// The validation split: a seeded random share of each user's cells held out (positives only
/// in the test matrix), the rest as the training set.
fn holdout(data: &Dataset, validation_fraction: f64, seed: u64) -> Result<(TrainingSet, Csr, Csr)> {
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
    // Users are folded in as serving folds them in (decayed per user when configured).
    let history = data.history_set(Some(&keep))?.interactions;
    Ok((train, history, test))
}

/// Fit every spec on `train`, rank on `test`, pick the best.
fn compare(
    train: &TrainingSet,
    history: &Csr,
    test: &Csr,
    specs: Vec<Spec>,
    skipped: Vec<(String, String)>,
) -> Result<Choice> {
    let mut candidates = Vec::new();
    for spec in specs {
        tracing::info!(spec = %spec, "validating candidate");
        let started = Instant::now();
        let fitted = spec.fit(train);
        let fit_secs = started.elapsed().as_secs_f64();
        let outcome = match fitted {
            Err(e) => Err(e.to_string()),
            Ok(f) => {
                let history = match spec.algorithm().feedback() {
                    Feedback::Implicit => Some(history),
                    Feedback::Explicit => train.ratings.as_ref(),
                };
                match history {
                    Some(h) => Ok(evaluate_ranking(f.model().as_recommender(), h, test, K)),
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
        tuned: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::AppData;

    /// A seeded synthetic shop: 150 users, 200 items, 8,000 events.
    fn shop() -> (Dataset, DataProfile) {
        let d = attune_testkit::generate(&attune_testkit::SyntheticConfig {
            n_users: 150,
            n_items: 200,
            n_events: 8_000,
            seed: 9,
            ..Default::default()
        });
        let ids = d.users.iter().map(|u| u.user_id.clone()).collect();
        let data = AppData::from_parts("shop", d.events, d.items, ids);
        let set = Dataset::build(
            &data,
            &attune_core::event::EventWeighting::default(),
            attune_core::sparse::RatingPolicy::Latest,
        )
        .unwrap();
        (set, data.profile())
    }

    #[test]
    fn tuning_each_family_never_does_worse_than_its_defaults() {
        let (data, profile) = shop();
        let plain = choose(&data, &profile, 0.2, 3).unwrap();
        let tune = AutoTune {
            trials: 6,
            timeout: None,
        };
        let tuned = choose_tuned(&data, &profile, 0.2, 3, &tune).unwrap();
        assert!(!tuned.tuned.is_empty());
        assert_eq!(tuned.candidates.len(), plain.candidates.len());
        for t in &tuned.tuned {
            assert_eq!(t.trials, 6, "{t:?}");
            let default = t.default_ndcg.unwrap();
            // The candidate is the better of the defaults and the best trial, on one split.
            let c = tuned
                .candidates
                .iter()
                .find(|c| c.spec.algorithm().name() == t.family)
                .unwrap();
            let got = c.outcome.as_ref().unwrap().ndcg;
            assert!(got >= default, "{}: {got} < {default}", t.family);
            assert_eq!(c.spec, t.chosen);
        }
        let ndcg = |c: &Choice| c.candidates[c.best].outcome.as_ref().unwrap().ndcg;
        assert!(ndcg(&tuned) >= ndcg(&plain));
        // Same seed, same choice.
        let again = choose_tuned(&data, &profile, 0.2, 3, &tune).unwrap();
        assert_eq!(again.best_spec(), tuned.best_spec());
        assert_eq!(again.tuned, tuned.tuned);
    }

    #[test]
    fn a_spent_time_budget_keeps_the_defaults() {
        let (data, profile) = shop();
        let tune = AutoTune {
            trials: 6,
            timeout: Some(Duration::ZERO),
        };
        let tuned = choose_tuned(&data, &profile, 0.2, 3, &tune).unwrap();
        let plain = choose(&data, &profile, 0.2, 3).unwrap();
        assert!(tuned.tuned.iter().all(|t| t.trials == 0));
        assert_eq!(tuned.best_spec(), plain.best_spec());
    }
}
