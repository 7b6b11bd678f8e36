//! Training one model: read the app as training sees it, choose the spec (given, the best of
//! a grid, or `auto`) on a validation split, then fit it on all the data.
//!
//! The data goes through [`Dataset`], the path evaluation uses, so a model is trained exactly
//! on what `attune evaluate` measured. A fitted [`Model`] is not yet anything anyone serves:
//! [`crate::publish`] writes, verifies and registers it, and [`crate::promote`] decides
//! whether it becomes active.

pub mod auto;
pub mod grid;

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Instant;

use attune_core::model::spec::{Feedback, Fitted, Spec};
use attune_core::sparse::Csr;
use attune_store::Store;

use crate::config::PipelineConfig;
use crate::data::AppData;
use crate::dataset::Dataset;
use crate::error::{PipelineError, Result};
pub use auto::{AutoTune, Choice, Tuned, K};

/// What to train.
#[derive(Debug, Clone)]
pub enum Algorithm {
    /// One spec (`als:factors=64`).
    Spec(Spec),
    /// The best of several, chosen on validation (`ease:lambda=100|500`).
    Grid(Vec<Spec>),
    /// The best of the families the data profile suggests.
    Auto,
}

impl FromStr for Algorithm {
    type Err = PipelineError;

    /// `auto`, a spec, or a grid (see [`grid::expand`]); every spec is checked here, so a bad
    /// one fails before any data is read.
    fn from_str(text: &str) -> Result<Self> {
        if text.trim() == "auto" {
            return Ok(Algorithm::Auto);
        }
        let mut specs: Vec<Spec> = grid::expand(text)?.into_iter().map(|c| c.spec).collect();
        Ok(if specs.len() == 1 {
            Algorithm::Spec(specs.remove(0))
        } else {
            Algorithm::Grid(specs)
        })
    }
}

/// How to train.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// What.
    pub algorithm: Algorithm,
    /// Validate a single spec too, so the model carries `validation.*` metrics (promotion by
    /// metric needs them). `auto` and grids always validate.
    pub validate: bool,
    /// `auto` only: tune each candidate family's parameters within this budget first.
    pub tune: Option<AutoTune>,
}

/// A fitted model with the data it was fitted on, ready to publish.
pub struct Model {
    /// The app.
    pub app: String,
    /// The model and its spec.
    pub fitted: Fitted,
    /// The data (ids, snapshot, cleaning report).
    pub data: Dataset,
    /// The feedback the model reads, users x items (stored with it for fold-in).
    pub history: Csr,
    /// Validation metrics (`validation.ndcg@10`, ...); empty when not validated.
    pub metrics: BTreeMap<String, f64>,
    /// The candidates compared on validation, when there was a choice or a validation.
    pub choice: Option<Choice>,
    /// Seconds of the final fit.
    pub fit_secs: f64,
}

/// Load `app`, choose and fit. `progress` gets short steps (training jobs show them).
pub fn train(
    store: &dyn Store,
    config: &PipelineConfig,
    app: &str,
    options: &TrainOptions,
    progress: &dyn Fn(&str),
) -> Result<Model> {
    if let Some(tune) = &options.tune {
        if !matches!(options.algorithm, Algorithm::Auto) {
            return Err(PipelineError::Invalid {
                field: "tune_trials",
                rule:
                    "tuning applies to --algorithm auto only (tune one family with `attune tune`)"
                        .into(),
            });
        }
        if tune.trials == 0 {
            return Err(PipelineError::Invalid {
                field: "tune_trials",
                rule: "must be at least 1".into(),
            });
        }
    }
    progress("loading the app's events");
    let started = Instant::now();
    let app_data = AppData::for_training(store, app, config, None)?;
    let data = Dataset::build(
        &app_data,
        &config.train.weighting,
        config.train.rating_policy,
    )?;
    if data.n_users() == 0 || data.n_items() == 0 || data.cells.is_empty() {
        return Err(PipelineError::NoData(format!(
            "app {app:?} has no interactions to train on; import events first"
        )));
    }
    tracing::info!(
        app,
        users = data.n_users(),
        items = data.n_items(),
        pairs = data.cells.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "loaded training data"
    );
    progress(&format!(
        "loaded {} users, {} items, {} pairs",
        data.n_users(),
        data.n_items(),
        data.cells.len()
    ));

    let (fraction, seed) = (config.validation_fraction, config.seed);
    let choice = match &options.algorithm {
        Algorithm::Spec(_) if !options.validate => None,
        Algorithm::Spec(spec) => {
            progress(&format!("validating {spec}"));
            Some(auto::choose_among(
                &data,
                vec![spec.clone()],
                Vec::new(),
                fraction,
                seed,
            )?)
        }
        Algorithm::Grid(specs) => {
            progress(&format!("validating {} candidates", specs.len()));
            Some(auto::choose_among(
                &data,
                specs.clone(),
                Vec::new(),
                fraction,
                seed,
            )?)
        }
        Algorithm::Auto => match &options.tune {
            None => {
                progress("validating the recommended algorithms");
                Some(auto::choose(&data, &app_data.profile(), fraction, seed)?)
            }
            Some(tune) => {
                progress(&format!(
                    "tuning the recommended algorithms ({} trials each)",
                    tune.trials
                ));
                Some(auto::choose_tuned(
                    &data,
                    &app_data.profile(),
                    fraction,
                    seed,
                    tune,
                )?)
            }
        },
    };
    let (spec, metrics) = match (&options.algorithm, &choice) {
        (_, Some(c)) => (c.best_spec().clone(), c.metrics()),
        (Algorithm::Spec(s), None) => (s.clone(), BTreeMap::new()),
        _ => unreachable!("grids and auto always have a choice"),
    };

    let training = data.training_set(None)?;
    tracing::info!(app, spec = %spec, "fitting");
    progress(&format!("fitting {spec} on all the data"));
    let fit_started = Instant::now();
    let fitted = spec.fit(&training).map_err(|source| PipelineError::Fit {
        spec: spec.to_string(),
        app: app.to_string(),
        source,
    })?;
    let fit_secs = fit_started.elapsed().as_secs_f64();
    tracing::info!(app, seconds = fit_secs, "fitted");
    let history = match spec.algorithm().feedback() {
        // What serving folds users in from: decayed per user when a user recency is set,
        // rated cells weighed by their rating when a history rating factor is.
        Feedback::Implicit if data.history().differs() => data.history_set(None)?.interactions,
        Feedback::Implicit => training.interactions,
        Feedback::Explicit => training
            .ratings
            .unwrap_or_else(|| Csr::empty(data.n_users(), data.n_items())),
    };
    Ok(Model {
        app: app.to_string(),
        fitted,
        data,
        history,
        metrics,
        choice,
        fit_secs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithm_texts_parse_into_what_to_train() {
        assert!(matches!(
            "auto".parse::<Algorithm>().unwrap(),
            Algorithm::Auto
        ));
        let Algorithm::Spec(s) = "ease:lambda=10".parse().unwrap() else {
            panic!("one spec")
        };
        assert_eq!(s.to_string(), "ease:lambda=10");
        let Algorithm::Grid(g) = "ease:lambda=10|100".parse().unwrap() else {
            panic!("a grid")
        };
        assert_eq!(g.len(), 2);
        let e = "rm -rf /".parse::<Algorithm>().unwrap_err();
        assert!(e.is_user_error());
        assert!(e.to_string().contains("rm -rf /"), "{e}");
    }
}
