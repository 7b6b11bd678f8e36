//! The libraries as configured: the serving engine from `[serving]`, the pipeline over it from
//! `[train]`, `[clean]` and `[serving]`'s index settings, and the background schedule. Every
//! command that serves, trains or activates builds them here, so the CLI and the server run
//! the same code with the same settings.

use std::sync::Arc;
use std::time::Duration;

use attune_pipeline::resegment::{SaveAs, SegmentSchedule};
use attune_pipeline::schedule::Schedule;
use attune_pipeline::{Pipeline, PipelineConfig, Promote, TrainRequest};
use attune_serving::Serving;
use attune_store::Store;

use crate::config::Settings;

/// The engine for `store`, configured from `[serving]` and `[train]` (live events are weighed
/// by the training rules).
pub fn engine(settings: &Settings, store: Arc<dyn Store>) -> anyhow::Result<Arc<Serving>> {
    let config = settings.serving.to_engine()?;
    let weighting = settings.train.check()?.weighting;
    // Experiments are followed like the registry: re-read every refresh interval.
    let router = attune_experiment::Router::new(
        store.clone(),
        Duration::from_secs(settings.serving.refresh_interval_secs),
    );
    let mut engine = Serving::new(store, settings.data_dir.clone(), config, weighting)
        .with_experiments(Arc::new(router));
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

/// The pipeline's settings.
pub fn pipeline_config(settings: &Settings) -> anyhow::Result<PipelineConfig> {
    Ok(PipelineConfig {
        train: settings.train.check()?,
        clean: settings.clean.to_core()?,
        topk: settings.serving.to_topk()?,
        ..PipelineConfig::default()
    })
}

/// The engine and the pipeline publishing through it, its alerts sent to `[monitor.sinks]`.
pub fn pipeline(settings: &Settings, store: Arc<dyn Store>) -> anyhow::Result<Arc<Pipeline>> {
    let notifier = attune_monitor::alerts::Notifier::new(store.clone(), &settings.monitor.sinks)
        .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
    let engine = engine(settings, store)?;
    Ok(Arc::new(
        Pipeline::new(engine, pipeline_config(settings)?)
            .with_notifier(Arc::new(notifier))
            .with_retrain_request(retrain_request(settings)),
    ))
}

/// What a retraining trains, scheduled or started by drift (`monitor.drift.retrain_on_drift`):
/// `serving.retrain_algorithm`, promoted when not worse by `promote_metric`.
pub fn retrain_request(settings: &Settings) -> TrainRequest {
    let s = &settings.serving;
    TrainRequest {
        algorithm: s.retrain_algorithm.clone(),
        promote: Promote::IfNotWorse {
            metric: s.promote_metric.clone(),
            margin: s.promote_margin,
        },
    }
}

/// What every replica runs in the background: registry polling, scheduled retraining
/// promoted by metric when `serving.retrain_interval_secs` is set, and rule segments
/// recomputed when `serving.segments.recompute_every_secs` is.
pub fn schedule(settings: &Settings) -> anyhow::Result<Schedule> {
    let s = &settings.serving;
    let segments = match s.segments.recompute_every()? {
        None => None,
        Some(every) => Some((every, segment_schedule(settings)?)),
    };
    Ok(Schedule {
        refresh_every: Duration::from_secs(s.refresh_interval_secs),
        retrain_every: (s.retrain_interval_secs > 0)
            .then(|| Duration::from_secs(s.retrain_interval_secs)),
        retrain: retrain_request(settings),
        bandits_every: (s.bandit_update_secs > 0)
            .then(|| Duration::from_secs(s.bandit_update_secs)),
        monitor: (settings.monitor.interval_secs > 0).then(|| settings.monitor.clone()),
        retention: settings
            .retention
            .enabled()
            .then(|| settings.retention.clone()),
        segments,
    })
}

/// Rule segments (`[segments.rules]`) saved into `serving.segments.attribute` under
/// `[limits]`: what `attune serve` recomputes on its schedule.
pub fn segment_schedule(settings: &Settings) -> anyhow::Result<SegmentSchedule> {
    Ok(SegmentSchedule {
        rules: settings
            .segments
            .rules
            .clone()
            .check()
            .map_err(|e| anyhow::anyhow!("invalid configuration: segments.rules.{e}"))?,
        save: SaveAs {
            attribute: settings.serving.segments.attribute.clone(),
            limits: settings.limits.to_core(),
        },
    })
}
