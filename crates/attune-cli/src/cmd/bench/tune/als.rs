//! The ALS objective of `attune bench tune --als DIR`: validation NDCG@10 of implicit ALS on
//! MovieLens-100K, as a function of its hyperparameters.
//!
//! The data and the split are `attune evaluate --protocol recbole`'s (docs/evaluation.md):
//! RecBole's `ml-100k.inter` read by the evaluate command's file reader (every rating an
//! implicit interaction of weight 1), ratings below 3 dropped, per user a random 8:1:1 split
//! with a fixed seed; a trial fits ALS on the training part and scores its top-10 on the
//! validation part with the evaluate command's code (all items ranked, training items
//! excluded). The file is read and split once; every trial of every sampler and seed reuses the
//! fold. Each trial's model seed is fixed too, so the objective is a deterministic function of
//! the parameters and samplers differ only in what they propose.

use std::path::Path;

use anyhow::Context as _;
use attune_core::model::spec::Spec;
use attune_core::tune::{Direction, Outcome, Param, ParamSet, Sampler, SearchSpace, Study, Value};

use crate::cmd::evaluate::plan::{self, SplitKind, SplitOptions};
use crate::cmd::evaluate::run::{self, FoldData, Measure, Phase};
use crate::cmd::evaluate::source::FileData;
use attune_core::eval::Candidates;

/// The file of `DIR` the objective reads.
pub const INTER_FILE: &str = "ml-100k.inter";
/// Seed of the 8:1:1 split (the one docs/evaluation.md reports the RecBole protocol with).
pub const SPLIT_SEED: u64 = 42;
/// Seed of every trial's factor initialization.
pub const MODEL_SEED: u64 = 0;
/// The metric maximized.
pub const METRIC: &str = "ndcg@10";

/// Validation NDCG@10 of ALS on one fixed fold.
pub struct AlsObjective {
    fold: FoldData,
    measure: Measure,
    /// Users, items and pairs of the data (after the rating filter), for the report.
    pub shape: (usize, usize, usize),
}

impl AlsObjective {
    /// Read `dir/ml-100k.inter` and split it; an error names the fetch script when the
    /// directory or the file is missing.
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        anyhow::ensure!(
            dir.is_dir(),
            "--als {}: no such directory (fetch MovieLens-100K with scripts/fetch-movielens.sh, \
             then pass its directory, e.g. testdata/ml-100k)",
            dir.display()
        );
        let path = dir.join(INTER_FILE);
        anyhow::ensure!(
            path.is_file(),
            "--als {}: no {INTER_FILE} in it (fetch MovieLens-100K with \
             scripts/fetch-movielens.sh, then pass its directory, e.g. testdata/ml-100k)",
            dir.display()
        );
        let data = FileData::read_one(&path)?;
        Self::new(&data).with_context(|| format!("cannot split {}", path.display()))
    }

    /// The objective over `data`, split as `attune evaluate --protocol recbole --seed 42`.
    pub fn new(data: &FileData) -> anyhow::Result<Self> {
        use crate::cmd::evaluate::source::EvalData as _;
        let eligible: Vec<bool> = data
            .cells()
            .iter()
            .map(|c| c.rating.is_none_or(|r| r >= 3.0))
            .collect();
        let split = SplitOptions {
            kind: SplitKind::Ratio,
            test_fraction: 0.2,
            folds: 5,
            last_n: 1,
            fold_in_fraction: 0.5,
            ratios: vec![0.8, 0.1, 0.1],
            seed: SPLIT_SEED,
        };
        let measure = Measure {
            k: 10,
            ranking: true,
            rating: false,
            candidates: Candidates::All,
            min_relevant_rating: None,
            // Diversity is computed with every ranking report; one list keeps it cheap.
            diversity_users: 1,
            long_tail: None,
        };
        let mut folds = plan::folds(data, &eligible, &split)?;
        anyhow::ensure!(folds.len() == 1, "a ratio split is one fold");
        let fold = FoldData::new(data, &folds.remove(0), &measure)?;
        anyhow::ensure!(
            fold.has_validation(),
            "the split left no validation pairs (too few interactions per user)"
        );
        Ok(Self {
            fold,
            measure,
            shape: (
                data.n_users(),
                data.n_items(),
                eligible.iter().filter(|&&e| e).count(),
            ),
        })
    }

    /// The search space: factors log-int [8, 128], reg log [1e-3, 100], alpha log [0.1, 100],
    /// iterations int [5, 30].
    pub fn space() -> SearchSpace {
        SearchSpace::new(vec![
            Param::log_int("factors", 8, 128),
            Param::log_float("reg", 1e-3, 100.0),
            Param::log_float("alpha", 0.1, 100.0),
            Param::int("iterations", 5, 30),
        ])
        .expect("a valid space")
    }

    /// The ALS spec of a trial's parameters (linear confidence, CG, the fixed model seed).
    pub fn spec(params: &ParamSet) -> anyhow::Result<Spec> {
        let get = |name: &str| -> anyhow::Result<String> {
            match params.get(name) {
                Some(Value::Int(v)) => Ok(v.to_string()),
                Some(Value::Float(v)) => Ok(v.to_string()),
                _ => anyhow::bail!("trial has no numeric {name}"),
            }
        };
        let text = format!(
            "als:factors={},reg={},alpha={},iterations={},seed={MODEL_SEED}",
            get("factors")?,
            get("reg")?,
            get("alpha")?,
            get("iterations")?
        );
        text.parse().with_context(|| format!("invalid spec {text}"))
    }

    /// Validation NDCG@10 of ALS with these parameters.
    pub fn evaluate(&self, params: &ParamSet) -> anyhow::Result<f64> {
        let spec = Self::spec(params)?;
        let fitted = run::fit(&spec, &self.fold)?;
        let metrics = run::measure(&fitted, &self.fold, &self.measure, Phase::Validation)?;
        metrics
            .get(METRIC)
            .copied()
            .with_context(|| format!("{spec}: no {METRIC} on validation"))
    }

    /// Run `budget` trials of `sampler` and return the best validation NDCG@10 after each.
    pub fn best_so_far(&self, sampler: &dyn Sampler, budget: usize) -> anyhow::Result<Vec<f64>> {
        let mut study = Study::new(Self::space(), Direction::Maximize);
        let mut best = f64::NEG_INFINITY;
        let mut curve = Vec::with_capacity(budget);
        for _ in 0..budget {
            let Ok((id, params)) = study.ask(sampler) else {
                break;
            };
            let v = self.evaluate(&params)?;
            study
                .tell(id, Outcome::Complete(v))
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            best = best.max(v);
            curve.push(best);
        }
        Ok(curve)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use attune_core::tune::{RandomSampler, TpeConfig, TpeSampler};

    /// A small RecBole-style `ml-100k.inter`: 40 users with 15 ratings each over 60 items,
    /// two taste groups so that factors have something to find.
    fn tiny_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let mut text =
            String::from("user_id:token\titem_id:token\trating:float\ttimestamp:float\n");
        for u in 0..40u32 {
            let group = u % 2;
            for j in 0..15u32 {
                let item = group * 30 + (u * 7 + j * 2) % 30;
                let rating = 1 + (u + j) % 5;
                text.push_str(&format!("u{u}\ti{item}\t{rating}\t{}\n", 1000 + j));
            }
        }
        std::fs::write(dir.path().join(INTER_FILE), text).unwrap();
        dir
    }

    #[test]
    fn objective_runs_on_a_tiny_data_set() {
        let dir = tiny_dir();
        let objective = AlsObjective::load(dir.path()).unwrap();
        assert_eq!(objective.shape.0, 40);
        let params: ParamSet = [
            ("factors".to_string(), Value::Int(8)),
            ("reg".to_string(), Value::Float(0.1)),
            ("alpha".to_string(), Value::Float(5.0)),
            ("iterations".to_string(), Value::Int(5)),
        ]
        .into_iter()
        .collect();
        let v = objective.evaluate(&params).unwrap();
        assert!((0.0..=1.0).contains(&v), "{v}");
        // Fixed split and model seed: the objective is a function of the parameters.
        assert_eq!(objective.evaluate(&params).unwrap(), v);

        let tpe = TpeSampler::new(
            1,
            TpeConfig {
                multivariate: true,
                n_startup_trials: 2,
                ..TpeConfig::default()
            },
        );
        for sampler in [&RandomSampler::new(1) as &dyn Sampler, &tpe] {
            let curve = objective.best_so_far(sampler, 4).unwrap();
            assert_eq!(curve.len(), 4);
            assert!(curve.windows(2).all(|w| w[0] <= w[1]), "{curve:?}");
            assert!(curve.iter().all(|v| (0.0..=1.0).contains(v)));
        }
    }

    #[test]
    fn missing_directory_or_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        let err = AlsObjective::load(&missing).err().unwrap().to_string();
        assert!(
            err.contains("no such directory") && err.contains("scripts/fetch-movielens.sh"),
            "{err}"
        );
        let err = AlsObjective::load(dir.path()).err().unwrap().to_string();
        assert!(
            err.contains("no ml-100k.inter") && err.contains("scripts/fetch-movielens.sh"),
            "{err}"
        );
    }

    #[test]
    fn spec_of_a_trial() {
        let params: ParamSet = [
            ("factors".to_string(), Value::Int(32)),
            ("reg".to_string(), Value::Float(0.5)),
            ("alpha".to_string(), Value::Float(10.0)),
            ("iterations".to_string(), Value::Int(12)),
        ]
        .into_iter()
        .collect();
        let spec = AlsObjective::spec(&params).unwrap().to_string();
        for part in ["factors=32", "reg=0.5", "alpha=10", "iterations=12"] {
            assert!(spec.contains(part), "{spec}");
        }
    }
}
