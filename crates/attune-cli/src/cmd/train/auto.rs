//! `--algorithm auto`: try the families the data profile suggests on a validation split and
//! keep the best.
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

use anyhow::Context as _;
use attune_core::eval::split::random_holdout;
use attune_core::eval::{evaluate_ranking, RankingReport};
use attune_core::model::spec::{Feedback, Spec};
use attune_core::profile::advice::advise;
use attune_core::profile::DataProfile;
use attune_core::sparse::CsrBuilder;

use crate::dataset::Dataset;

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
    pub candidates: Vec<Candidate>,
    pub best: usize,
    /// Families suggested by the profile but not trainable here.
    pub skipped: Vec<(String, String)>,
    /// Users with held-out pairs.
    pub validation_users: usize,
}

impl Choice {
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

    pub fn write_table(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        writeln!(
            out,
            "Candidates (validation: {} users, NDCG@{K} over all items):",
            self.validation_users
        )?;
        writeln!(
            out,
            "  {:<14}{:>10}{:>11}{:>10}{:>10}{:>9}  ",
            "algorithm", "ndcg@10", "recall@10", "prec@10", "hit@10", "fit s"
        )?;
        for (t, c) in self.candidates.iter().enumerate() {
            let mark = if t == self.best { "*" } else { " " };
            match &c.outcome {
                Ok(r) => writeln!(
                    out,
                    "{mark} {:<14}{:>10.4}{:>11.4}{:>10.4}{:>10.4}{:>9.2}",
                    c.spec.algorithm().name(),
                    r.ndcg,
                    r.recall,
                    r.precision,
                    r.hit_rate,
                    c.fit_secs
                )?,
                Err(e) => writeln!(out, "{mark} {:<14}failed: {e}", c.spec.algorithm().name())?,
            }
        }
        for (name, why) in &self.skipped {
            writeln!(out, "  {name:<14}skipped: {why}")?;
        }
        writeln!(
            out,
            "best: {} (the model is now trained on all the data)",
            self.best_spec()
        )
    }
}

/// Evaluate the suggested families on a validation split of `data`.
pub fn choose(
    data: &Dataset,
    profile: &DataProfile,
    validation_fraction: f64,
    seed: u64,
) -> anyhow::Result<Choice> {
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
) -> anyhow::Result<Choice> {
    let users: Vec<u32> = data.cells.iter().map(|c| c.user).collect();
    let split = random_holdout(&users, validation_fraction, seed)
        .context("invalid --validation-fraction")?;
    let mut keep = vec![true; data.cells.len()];
    let mut test = CsrBuilder::with_capacity(split.test.len());
    for &p in &split.test {
        keep[p] = false;
        let c = data.cells[p];
        if c.weight > 0.0 {
            test.push(c.user, c.item, 1.0)?;
        }
    }
    let test = test.build(data.n_users(), data.n_items())?;
    anyhow::ensure!(
        test.nnz() > 0,
        "too little data to validate candidates (no user has two interactions); name an algorithm instead of auto"
    );
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
        anyhow::bail!(
            "no candidate could be trained: {}",
            candidates
                .iter()
                .filter_map(|c| c.outcome.as_ref().err())
                .cloned()
                .collect::<Vec<_>>()
                .join("; ")
        );
    };
    Ok(Choice {
        candidates,
        best,
        skipped,
        validation_users: (0..test.n_rows()).filter(|&u| test.row_nnz(u) > 0).count(),
    })
}
