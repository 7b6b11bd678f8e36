//! One monitoring tick over every app (the scheduler's `attune-monitor` thread): each step
//! of [`attune_monitor`] in turn, guarded rollouts ([`crate::rollout`]), then retention. A step that fails is logged and the others
//! still run: monitoring must never stop because one app's data is odd.

use attune_monitor::MonitorConfig;

use crate::Pipeline;

/// Run one tick for every app at the current time.
pub fn monitor_all(pipeline: &Pipeline, config: &MonitorConfig) {
    let store = pipeline.engine().store();
    let apps = match store.list_apps() {
        Ok(apps) => apps,
        Err(e) => {
            tracing::warn!(error = %e, "monitoring: cannot list apps");
            return;
        }
    };
    let now = chrono::Utc::now().timestamp_micros();
    for app in apps {
        monitor_app(pipeline, config, &app, now);
    }
}

/// One tick for `app` at `now_micros`.
pub fn monitor_app(pipeline: &Pipeline, config: &MonitorConfig, app: &str, now_micros: i64) {
    let store = pipeline.engine().store();
    match attune_monitor::quality::record(
        &**store,
        app,
        now_micros,
        config.window_micros(),
        &config.quality,
    ) {
        Ok(points) => pipeline.quality().set(app, points),
        Err(e) => tracing::warn!(app, error = %e, "monitoring: quality not recorded"),
    }
    match crate::rollout::evaluate(pipeline.engine(), app, now_micros) {
        Ok(decided) => {
            for r in decided {
                tracing::info!(app, canary = r.canary, verdict = ?r.verdict, reason = r.reason, "guarded rollout decided");
            }
        }
        Err(e) => tracing::warn!(app, error = %e, "monitoring: guarded rollouts not judged"),
    }
    match store.prune_points(app, now_micros.saturating_sub(config.retention_micros())) {
        Ok(0) => {}
        Ok(n) => tracing::debug!(app, points = n, "monitoring: old points pruned"),
        Err(e) => tracing::warn!(app, error = %e, "monitoring: pruning failed"),
    }
}
