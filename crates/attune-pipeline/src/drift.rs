//! Drift of an app's data against the active model's training data, as every front-end
//! sees it: `GET /v1/monitor/drift`, `attune monitor drift` and the monitoring tick all call
//! [`report`], so they give one answer.
//!
//! The comparison itself is `attune_monitor::drift`'s; what this module adds is what only
//! the pipeline has: which model is active, when its training data ended (its registry
//! record), the model itself for the `score` feature, and the job runner for retraining on
//! drift. The reference is built the first time it is asked for (for a version and window
//! length) and stored with the version, so later ticks, other replicas and restarts reuse it: in practice at
//! the first tick after a version becomes active, while its training events are all there.

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::sync::Arc;

use attune_monitor::drift::{self, DriftConfig, DriftReport, Reference};
use attune_monitor::MonitorError;
use attune_serving::RecRequest;
use attune_store::{MetricPoint, Store};

use crate::{JobError, Pipeline};

/// The series point that records a drift-triggered retraining (for the cooldown).
pub const RETRAIN_METRIC: &str = "drift_retrain";

/// `app`'s drift over `[now − window, now)` against its active model's reference.
///
/// `NoData` (409 over HTTP) when the app has no active model or its training data has no
/// events in the window before its cutoff; `Invalid` naming `window` for a window ≤ 0.
pub fn report(
    pipeline: &Pipeline,
    app: &str,
    now_micros: i64,
    window_micros: i64,
    config: &DriftConfig,
) -> Result<DriftReport, MonitorError> {
    drift::check_window(window_micros)?;
    let reference = reference(pipeline, app, window_micros, config)?;
    let store = pipeline.store();
    let (since, events) = drift::read_window(
        store,
        app,
        now_micros.saturating_sub(window_micros),
        now_micros,
        config.max_events,
    )?;
    let mut current = drift::sample_events(store, app, &events, &reference, config)?;
    current.score = scores(pipeline, app, reference.version, &users_of(&events), config);
    Ok(drift::compare(
        app, &reference, &current, since, now_micros, config,
    ))
}

/// The active model's reference for `window_micros`: stored, or built (with the model's
/// scores) and stored now.
pub fn reference(
    pipeline: &Pipeline,
    app: &str,
    window_micros: i64,
    config: &DriftConfig,
) -> Result<Reference, MonitorError> {
    let store = pipeline.store();
    let Some(active) = store.active_model(app)? else {
        return Err(MonitorError::NoData(format!(
            "app {app:?} has no active model, so there is no training data to compare with"
        )));
    };
    if let Some(r) = drift::reference::load(store, app, active.version, window_micros)? {
        return Ok(r);
    }
    let cutoff = cutoff(store, app, active.version)?;
    let mut r = drift::reference::build(store, app, active.version, cutoff, window_micros, config)?;
    let events = drift::read_events(store, app, r.since_micros, cutoff, config.max_events)?;
    r.sample.score = scores(pipeline, app, active.version, &users_of(&events), config);
    drift::reference::save(store, app, window_micros, &r)?;
    tracing::info!(app, version = active.version, "drift reference stored");
    Ok(r)
}

/// The end of `version`'s training data (exclusive): one micro after its last event.
fn cutoff(store: &dyn Store, app: &str, version: u32) -> Result<i64, MonitorError> {
    let no = |why: &str| MonitorError::NoData(format!("model v{version} of app {app:?} {why}"));
    let record = store
        .get_model(app, version)?
        .ok_or_else(|| no("is not registered"))?;
    let snapshot: attune_artifact::DataSnapshot = serde_json::from_str(&record.info.data_snapshot)
        .map_err(|_| no("has no readable data snapshot"))?;
    let last = snapshot
        .last_event
        .ok_or_else(|| no("records no last training event"))?;
    let at = chrono::DateTime::parse_from_rfc3339(&last)
        .map_err(|_| no("records an unreadable last training event"))?;
    Ok(at.timestamp_micros() + 1)
}

/// The known users of `events`, sorted.
fn users_of(events: &[attune_core::event::Event]) -> Vec<String> {
    let users: BTreeSet<&str> = events.iter().filter_map(|e| e.user_id.as_deref()).collect();
    users.into_iter().map(str::to_string).collect()
}

/// The scores `version` gives its top 10 items for at most `score_users` of `users`, evenly
/// spaced through them (deterministic, so replicas agree). Lists served by anything but that
/// version (cold start) are left out.
///
/// The lists come from a pinned copy of the version ([`Pipeline::drift_scorer`]), not from
/// the engine serving requests: through that one, sampling would assign the sampled users to
/// running experiments (recording exposures they never had), fill the list caches, and join
/// the serving batchers, where a request could wait on a pass led by this low-priority thread.
fn scores(
    pipeline: &Pipeline,
    app: &str,
    version: u32,
    users: &[String],
    config: &DriftConfig,
) -> Vec<f64> {
    let n = config.score_users.min(users.len());
    let request = RecRequest {
        n: 10,
        ..RecRequest::default()
    };
    let mut out = Vec::new();
    if n == 0 {
        return out;
    }
    let pinned = match pipeline.drift_scorer(app, version) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(app, version, error = %e, "drift: the model cannot be loaded for score samples");
            return out;
        }
    };
    for k in 0..n {
        let user = &users[k * users.len() / n];
        match pipeline.engine().recommend_on(&pinned, user, &request) {
            Ok(list) if list.model_version == Some(version) => {
                out.extend(
                    list.items
                        .iter()
                        .map(|i| f64::from(i.score))
                        .filter(|s| s.is_finite()),
                );
            }
            Ok(_) => {}
            Err(e) => {
                tracing::debug!(app, user, error = %e, "drift: no score sample");
            }
        }
    }
    out
}

/// The monitoring tick's part: compute, record the series, and retrain on drift when so
/// configured. Returns the report (`None` when there is nothing to compare with).
pub fn tick(
    pipeline: &Arc<Pipeline>,
    app: &str,
    now_micros: i64,
    window_micros: i64,
    config: &DriftConfig,
) -> Result<Option<DriftReport>, MonitorError> {
    let r = match report(pipeline, app, now_micros, window_micros, config) {
        Ok(r) => r,
        Err(MonitorError::NoData(why)) => {
            tracing::debug!(app, why = %why, "drift not computed");
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let store = pipeline.store();
    store.put_points(app, &drift::points(&r, now_micros))?;
    if r.drift_detected {
        tracing::info!(app, drifted = ?r.drifted(), "drift detected against the training data");
        if config.retrain_on_drift {
            retrain(pipeline, app, now_micros, &r, config)?;
        }
    }
    Ok(Some(r))
}

/// Start a retraining unless one was started for drift within the cooldown.
fn retrain(
    pipeline: &Arc<Pipeline>,
    app: &str,
    now_micros: i64,
    r: &DriftReport,
    config: &DriftConfig,
) -> Result<(), MonitorError> {
    let store = pipeline.store();
    let mut recent = false;
    store.scan_points(
        app,
        RETRAIN_METRIC,
        now_micros.saturating_sub(config.cooldown_micros()),
        now_micros + 1,
        &mut |_| {
            recent = true;
            false
        },
    )?;
    if recent {
        return Ok(());
    }
    let Some(request) = pipeline.retrain_request().cloned() else {
        tracing::warn!(
            app,
            "drift detected, but no retraining request is configured"
        );
        return Ok(());
    };
    match pipeline.start_job(app, request) {
        Ok(job) => {
            tracing::info!(app, job, drifted = ?r.drifted(), "retraining started by drift");
            store.put_points(
                app,
                &[MetricPoint {
                    metric: RETRAIN_METRIC.to_string(),
                    labels: BTreeMap::new(),
                    at_micros: now_micros,
                    value: 1.0,
                }],
            )?;
        }
        Err(JobError::Busy(e)) => tracing::info!(app, error = %e, "drift retraining skipped"),
        Err(JobError::Invalid(e)) => {
            tracing::warn!(app, error = %e, "drift retraining: the configured request is invalid")
        }
    }
    Ok(())
}
