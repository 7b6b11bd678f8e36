//! The serving side of `attune serve`: the engine built from `[serving]` and `[train]`, the
//! trainer behind `POST /v1/models/train`, and the two background loops every replica runs —
//! polling the registry for activations made elsewhere, and scheduled retraining with
//! promotion by metric.

use std::sync::Arc;
use std::time::Duration;

use attune_server::{AppState, Promote, TrainOutcome, TrainRequest, Trainer};
use attune_serving::Serving;
use attune_store::Store;

use crate::cmd::train::{self, Options, Output};
use crate::config::Settings;
use crate::dataset::TrainOptions;

/// The engine for `store`, configured from `[serving]` and `[train]`.
pub fn engine(settings: &Settings, store: Arc<dyn Store>) -> anyhow::Result<Arc<Serving>> {
    let config = settings.serving.to_engine()?;
    let weigher = TrainOptions::from_settings(&settings.train)?.weigher()?;
    let mut engine = Serving::new(store, settings.data_dir.clone(), config, weigher);
    if !settings.serving.redis_url.is_empty() {
        let redis = attune_serving::RedisShared::open(attune_serving::RedisConfig {
            url: settings.serving.redis_url.clone(),
            ..attune_serving::RedisConfig::default()
        })
        .map_err(|e| anyhow::anyhow!("invalid configuration: serving.redis_url: {e}"))?;
        engine = engine.with_shared(Arc::new(redis));
    }
    Ok(Arc::new(engine))
}

/// Trains with the binary's own pipeline (`attune train`), then promotes per the request.
pub struct CliTrainer {
    pub store: Arc<dyn Store>,
    pub settings: Settings,
    /// Activates through the engine, which verifies the new file before the registry changes
    /// and swaps it in at once (`None`: the registry only).
    pub engine: Option<Arc<Serving>>,
}

impl Trainer for CliTrainer {
    fn train(
        &self,
        app: &str,
        request: &TrainRequest,
        progress: &dyn Fn(&str),
    ) -> anyhow::Result<TrainOutcome> {
        let options = Options {
            algorithm: request.algorithm.clone(),
            validation_fraction: 0.2,
            seed: 42,
            always_validate: matches!(request.promote, Promote::IfNotWorse { .. }),
        };
        let mut report = Vec::new();
        let trained = train::train(
            &*self.store,
            &self.settings,
            app,
            &options,
            Output::Register,
            &mut report,
            progress,
        )?;
        let version = trained.version.expect("registered");
        let (activate, promotion) = decide(&*self.store, app, &request.promote, &trained.metrics)?;
        let activated = if activate {
            match &self.engine {
                Some(engine) => {
                    engine.activate(app, version)?;
                }
                None => {
                    self.store.activate_model(app, version, None)?;
                }
            }
            progress(&format!("activated v{version:04}"));
            true
        } else {
            false
        };
        progress(&promotion);
        Ok(TrainOutcome {
            version,
            metrics: trained.metrics,
            activated,
            promotion,
        })
    }
}

/// Whether a new model with `metrics` should replace the active one, and why.
fn decide(
    store: &dyn Store,
    app: &str,
    promote: &Promote,
    metrics: &std::collections::BTreeMap<String, f64>,
) -> anyhow::Result<(bool, String)> {
    Ok(match promote {
        Promote::Never => (false, "not activated (promote: never)".into()),
        Promote::Always => (true, "activated (promote: always)".into()),
        Promote::IfNotWorse { metric, margin } => {
            let Some(active) = store.active_model(app)? else {
                return Ok((true, "activated: the app had no active model".into()));
            };
            let current = store
                .get_model(app, active.version)?
                .and_then(|r| r.info.metrics.get(metric).copied());
            let new = metrics.get(metric).copied();
            match (new, current) {
                (Some(n), Some(c)) if n >= c - margin => (
                    true,
                    format!("activated: {metric} {n:.4} vs {c:.4} active (margin {margin})"),
                ),
                (Some(n), Some(c)) => (
                    false,
                    format!(
                        "not activated: {metric} {n:.4} is more than {margin} below the active version's {c:.4}"
                    ),
                ),
                (Some(n), None) => (
                    true,
                    format!("activated: {metric} {n:.4}; the active version has no {metric}"),
                ),
                (None, _) => (false, format!("not activated: the new model has no {metric}")),
            }
        }
    })
}

/// Run the background loops until the runtime shuts down.
pub fn spawn_loops(state: &AppState, settings: &Settings) {
    let Some(engine) = state.serving.clone() else {
        return;
    };
    let every = Duration::from_secs(settings.serving.refresh_interval_secs);
    let store = state.store.clone();
    let poll_engine = engine.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let e = poll_engine.clone();
            let _ = tokio::task::spawn_blocking(move || {
                for a in e.apps() {
                    if let Err(err) = e.refresh(&a.app) {
                        tracing::warn!(app = a.app, error = %err, "cannot follow the registry's active version");
                    }
                }
            })
            .await;
        }
    });
    let retrain = settings.serving.retrain_interval_secs;
    if retrain == 0 {
        return;
    }
    let (jobs, trainer) = (state.jobs.clone(), state.trainer.clone());
    let request = TrainRequest {
        algorithm: settings.serving.retrain_algorithm.clone(),
        promote: Promote::IfNotWorse {
            metric: settings.serving.promote_metric.clone(),
            margin: settings.serving.promote_margin,
        },
    };
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(retrain));
        tick.tick().await; // the first tick is immediate: wait one interval first
        loop {
            tick.tick().await;
            let s = store.clone();
            let apps = match tokio::task::spawn_blocking(move || s.list_apps()).await {
                Ok(Ok(apps)) => apps,
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "scheduled retraining: cannot list apps");
                    continue;
                }
                Err(_) => continue,
            };
            for app in apps {
                let has_data = {
                    let s = store.clone();
                    let a = app.clone();
                    matches!(
                        tokio::task::spawn_blocking(move || s.counts(&a)).await,
                        Ok(Ok(c)) if c.events > 0
                    )
                };
                if !has_data {
                    continue;
                }
                let e = engine.clone();
                let done_app = app.clone();
                match jobs.start(trainer.clone(), &app, request.clone(), move |r| {
                    if let Ok(o) = r {
                        tracing::info!(app = done_app, version = o.version, promotion = o.promotion, "scheduled retraining finished");
                        if o.activated {
                            if let Err(err) = e.refresh(&done_app) {
                                tracing::warn!(app = done_app, error = %err, "cannot load the promoted model");
                            }
                        }
                    }
                }) {
                    Ok(id) => tracing::info!(app, job = id, "scheduled retraining started"),
                    Err(err) => tracing::info!(app, error = %err, "scheduled retraining skipped"),
                }
            }
        }
    });
}
